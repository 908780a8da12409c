"""The composite PNG, superpixel numbers and display-size drawing, on hand-made explanations (no model)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from conftest import explanation_of
from PIL import Image

from deepfake_core.explain import (
    caption_lines,
    colorize,
    composite,
    composite_png,
    number_superpixels,
    overlay,
    superpixel_anchors,
    working_image,
)
from deepfake_core.explain.drawing import resized

VERDICT = {
    "label": "Fake",
    "p_fake": 0.875,
    "probabilities": {"Fake": 0.875, "Real": 0.125},
    "threshold": 0.3,
    "model_id": "tiny-123",
}


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)


def _segments() -> np.ndarray:
    """Four quarters of a 60 x 80 picture, ids 0..3 in reading order."""
    segments = np.zeros((60, 80), dtype=np.int32)
    segments[:, 40:] = 1
    segments[30:, :40] = 2
    segments[30:, 40:] = 3
    return segments


def _lime(**extra) -> object:
    weights = np.array([0.5, -0.25, 0.0, 0.125], dtype=np.float32)
    fields = {
        "signed": True,
        "method": "lime",
        "segments": _segments(),
        "superpixel_weights": ((0, 0.5), (1, -0.25), (3, 0.125), (2, 0.0)),
        "verdict": VERDICT,
        "threshold": 0.3,
        "card_threshold": 0.5,
        "details": {"surrogate_r2": 0.42},
    }
    return explanation_of(weights[_segments()], **{**fields, **extra})


def _find(haystack: np.ndarray, needle: np.ndarray) -> tuple[int, int] | None:
    """Where ``needle`` appears pixel for pixel in ``haystack`` (row, col), else None."""
    scores = cv2.matchTemplate(haystack.astype(np.float32), needle.astype(np.float32), cv2.TM_SQDIFF)
    col, row = cv2.minMaxLoc(scores)[2]
    height, width = needle.shape[:2]
    return (row, col) if np.array_equal(haystack[row : row + height, col : col + width], needle) else None


def test_caption_lines_name_verdict_threshold_model_settings_and_fit():
    lines = caption_lines(_lime(), opacity=0.4, boundaries=True)
    text = "\n".join(lines)
    assert lines[0].startswith("Verdict: Fake") and "P(fake) 87.5%" in lines[0]
    assert "threshold 0.30 (model card: 0.50)" in lines[0]
    assert "Explains the class 'Fake', P(Fake) 87.5%" in text and "method: lime" in text
    assert "Model: tiny-123" in text and '"seed": 3' not in text and "seed=3" in text
    assert "opacity 0.40" in text and "superpixel edges" in text and "RdBu_r" in text
    assert "sha256 " + "ab" * 32 in text and "R^2 = 0.420" in text
    assert not any(line.startswith("Caveat:") for line in lines)
    saturated = _lime(verdict={**VERDICT, "p_fake": 0.99998, "probabilities": {"Fake": 0.99998, "Real": 0.00002}})
    lines = caption_lines(saturated, opacity=0.5)
    assert "P(fake) >99.9%" in lines[0]  # never printed as a certain 100.0%
    assert lines[-1].startswith("Caveat: P(Fake) >99.9% is within 0.001 of 1")
    plain = explanation_of(np.zeros((4, 4)), source_shape=(3000, 4000))
    assert "Settings: none (deterministic method)" in "\n".join(caption_lines(plain, opacity=0.5))
    assert "map 4x4 (working copy of 4000x3000)" in "\n".join(caption_lines(plain, opacity=0.5))


def test_composite_holds_the_original_and_the_overlay_and_text_for_each_record(image):
    explanation = _lime()
    picture = composite(image, explanation, opacity=0.5)
    assert picture.dtype == np.uint8 and picture.ndim == 3
    assert _find(picture, image) is not None
    assert _find(picture, overlay(image, explanation, opacity=0.5)) is not None
    other_model = composite(image, _lime(model_id="another-model"), opacity=0.5)
    assert other_model.shape == picture.shape and (other_model != picture).any()  # the text differs
    saturated = _lime(verdict={**VERDICT, "probabilities": {"Fake": 0.9999, "Real": 0.0001}})
    assert composite(image, saturated, opacity=0.5).shape[0] > picture.shape[0]  # the caveat's lines


def test_composite_shrinks_large_pictures_to_the_panel_side_and_encodes_png():
    big = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    explanation = explanation_of(np.linspace(0, 1, 300 * 400).reshape(300, 400), verdict=VERDICT)
    picture = composite(big, explanation, panel_side=100)
    assert _find(picture, working_image(big, 100)) is not None
    assert _find(picture, overlay(big, explanation, max_side=100)) is not None
    decoded = np.asarray(Image.open(io.BytesIO(composite_png(big, explanation, panel_side=100))))
    np.testing.assert_array_equal(decoded, picture)


def test_superpixel_anchors_lie_inside_their_superpixels():
    segments = _segments()
    ring = np.zeros((40, 40), dtype=np.int32)
    ring[5:35, 5:35] = 1
    ring[15:25, 15:25] = 0  # id 1 is a square ring: its centroid lies in the hole
    anchors = superpixel_anchors(segments, [0, 3, 9])
    assert set(anchors) == {0, 3}  # 9 does not exist
    for segment_id, (row, col) in anchors.items():
        assert segments[row, col] == segment_id
    (row, col) = superpixel_anchors(ring, [1])[1]
    assert ring[row, col] == 1  # the ring's centroid (its hole) is not in it; the anchor is


def test_number_superpixels_writes_only_on_the_listed_superpixels(image):
    explanation = _lime()
    drawn = overlay(image, explanation)
    numbered = number_superpixels(drawn, explanation, [0, 3])
    changed = (numbered != drawn).any(axis=2)
    segments = explanation.segments
    assert changed[segments == 0].any() and changed[segments == 3].any()
    assert not changed[segments == 1].any() and not changed[segments == 2].any()
    np.testing.assert_array_equal(number_superpixels(drawn, explanation, []), drawn)
    assert number_superpixels(drawn, explanation_of(np.zeros((60, 80))), [0]) is drawn  # no segments: unchanged
    bigger = cv2.resize(drawn, (160, 120), interpolation=cv2.INTER_NEAREST)  # drawn at another size
    changed = (number_superpixels(bigger, explanation, [3]) != bigger).any(axis=2)
    assert changed[60:, 80:].any() and not changed[:60, :].any()


def test_overlay_at_display_size_keeps_the_full_maps_colour_scale(image):
    explanation = _lime()
    small = overlay(image, explanation, opacity=1.0, max_side=40)
    assert small.shape == (30, 40, 3)
    np.testing.assert_array_equal(small, colorize(resized(explanation, (30, 40)), colormap="RdBu_r"))
    np.testing.assert_array_equal(overlay(image, explanation, max_side=500), overlay(image, explanation))
    assert resized(explanation, (30, 40)).segments.shape == (30, 40)
