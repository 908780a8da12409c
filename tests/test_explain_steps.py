"""Pure pieces of deepfake_core.explain, on hand-computed arrays (no model needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import explanation_of

from deepfake_core.errors import ExplanationError
from deepfake_core.explain import agreement, colorize, iou, legend, overlay, top_fraction_mask
from deepfake_core.explain.base import pixels_sha256, resolve_target, upsample_unit_map
from deepfake_core.explain.gradcam import (
    channel_weights,
    class_activation_map,
    gradcam_plus_plus_weights,
    normalise,
    relu,
    weighted_sum,
)

# Two channels on a 2x2 map, as (h, w, k).
FEATURES = np.stack([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]], axis=-1)


# --- Grad-CAM steps ---------------------------------------------------------------------------------------------


def test_channel_weights_are_the_mean_gradient_per_channel():
    gradients = np.stack([[[1.0, 0.0], [0.0, 1.0]], [[-2.0, 0.0], [0.0, -2.0]]], axis=-1)
    np.testing.assert_allclose(channel_weights(gradients), [0.5, -1.0])


def test_weighted_sum_relu_and_normalise_by_hand():
    summed = weighted_sum(FEATURES, np.array([0.5, -1.0]))
    np.testing.assert_allclose(summed, [[0.5, 0.0], [0.5, 2.0]])
    np.testing.assert_allclose(relu(np.array([[-1.0, 2.0]])), [[0.0, 2.0]])
    np.testing.assert_allclose(normalise(summed), [[0.25, 0.0], [0.25, 1.0]])


def test_normalise_keeps_an_all_zero_map_zero():
    np.testing.assert_array_equal(normalise(np.zeros((2, 3))), np.zeros((2, 3)))


def test_gradcam_chain_by_hand():
    gradients = np.stack([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [0.0, 0.0]]], axis=-1)  # channel means 0.5, 0.5
    cam = class_activation_map(FEATURES, gradients)
    assert cam.dtype == np.float32
    np.testing.assert_allclose(cam, [[0.25, 0.75], [1.0, 1.0]])


def test_gradcam_plus_plus_weights_by_hand():
    # Channel 0 (sum 10): alpha = 1 / (2 + 10) where g = 1 -> weight 2/12. Channel 1 (sum 2): g = 2 once,
    # alpha = 4 / (8 + 2 * 8) = 1/6 -> weight 1/6 * 2.
    gradients = np.stack([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [0.0, 0.0]]], axis=-1)
    np.testing.assert_allclose(gradcam_plus_plus_weights(FEATURES, gradients), [1 / 6, 1 / 3])
    np.testing.assert_allclose(
        class_activation_map(FEATURES, gradients, plus_plus=True), [[0.2, 0.8], [1.0, 0.8]], rtol=1e-6
    )


def test_gradcam_plus_plus_ignores_negative_gradients_and_zero_denominators():
    features = np.array([[[-1.0], [-1.0]], [[0.0], [0.0]]])  # sum -2: 2 g² + (-2) g³ = 0 at g = 1
    gradients = np.array([[[1.0], [-3.0]], [[0.0], [0.0]]])
    weights = gradcam_plus_plus_weights(features, gradients)
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(weights, [0.0])


def test_upsample_unit_map_is_smooth_and_clipped():
    coarse = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    fine = upsample_unit_map(coarse, (7, 11))
    assert fine.shape == (7, 11) and fine.dtype == np.float32
    assert fine.min() >= 0.0 and fine.max() <= 1.0
    assert 0.0 < fine[3, 5] < 1.0  # in between, not nearest-neighbour blocks


# --- targets, hashes, masks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [(None, 1), ("real", 0), ("Fake", 1), (0, 0), ("1", 1)])
def test_resolve_target(target, expected):
    assert resolve_target(("Real", "Fake"), target, "Fake") == expected


@pytest.mark.parametrize("target", ["Cat", 2, -1, "7", True])
def test_resolve_target_rejects_unknown_classes(target):
    with pytest.raises(ExplanationError, match="Unknown target class"):
        resolve_target(("Real", "Fake"), target, "Fake")


def test_pixels_sha256_depends_on_pixels_and_shape():
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    assert pixels_sha256(image) == pixels_sha256(image.copy())
    assert pixels_sha256(image) != pixels_sha256(image.reshape(6, 4, 3))
    changed = image.copy()
    changed[0, 0, 0] = 1
    assert pixels_sha256(image) != pixels_sha256(changed)


def test_top_fraction_mask_counts_positive_values_and_keeps_ties():
    heatmap = np.arange(10, dtype=np.float32).reshape(2, 5)  # 0..9
    np.testing.assert_array_equal(top_fraction_mask(heatmap, 0.2).ravel(), [0] * 8 + [1, 1])
    signed = np.array([[-5.0, -4.0, 1.0, 1.0]])
    np.testing.assert_array_equal(top_fraction_mask(signed, 0.25), [[False, False, True, True]])  # tie kept
    assert not top_fraction_mask(np.array([[-1.0, 0.0]]), 0.5).any()
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_mask(heatmap, 0.0)


# --- agreement --------------------------------------------------------------------------------------------------


def _rows(first: int, last: int) -> np.ndarray:
    heatmap = np.zeros((10, 10), dtype=np.float32)
    heatmap[first:last] = 1.0
    return heatmap


def test_iou_identical_disjoint_and_partial():
    a, b = _rows(0, 2) > 0, _rows(1, 3) > 0
    assert iou(a, a) == 1.0
    assert iou(a, _rows(5, 7) > 0) == 0.0
    assert iou(a, b) == pytest.approx(10 / 30)
    assert np.isnan(iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)))


def test_agreement_table_on_constructed_maps():
    table = agreement(
        [
            explanation_of(_rows(0, 2), method="gradcam"),
            explanation_of(_rows(1, 3), method="gradcam++"),
            explanation_of(_rows(0, 2) - _rows(2, 10), signed=True, method="lime"),
        ]
    )
    assert table.names == ("gradcam", "gradcam++", "lime")
    np.testing.assert_allclose(table.matrix, [[1, 1 / 3, 1], [1 / 3, 1, 1 / 3], [1, 1 / 3, 1]])
    assert table.rows()[0] == {"first": "gradcam", "second": "gradcam++", "iou": pytest.approx(1 / 3)}
    json.dumps(table.to_dict())


def test_agreement_names_repeated_methods_by_class_and_reports_undefined_iou_as_none():
    empty = explanation_of(np.zeros((10, 10)), method="gradcam")
    table = agreement([empty, explanation_of(np.zeros((10, 10)), method="gradcam", target_class="Real")])
    assert table.names == ("gradcam (Fake)", "gradcam (Real)")
    assert table.rows() == [{"first": "gradcam (Fake)", "second": "gradcam (Real)", "iou": None}]


def test_agreement_refuses_explanations_of_different_images():
    with pytest.raises(ValueError, match="one image"):
        agreement([explanation_of(_rows(0, 2)), explanation_of(np.zeros((5, 5)))])


# --- drawing ----------------------------------------------------------------------------------------------------


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)


def test_overlay_dtype_shape_and_opacity_ends(image):
    explanation = explanation_of(np.linspace(0, 1, 120).reshape(10, 12))
    drawn = overlay(image, explanation)
    assert drawn.dtype == np.uint8 and drawn.shape == image.shape
    np.testing.assert_array_equal(overlay(image, explanation, opacity=0.0), image)
    np.testing.assert_array_equal(overlay(image, explanation, opacity=1.0), colorize(explanation))
    np.testing.assert_array_equal(overlay(255 - image, explanation, opacity=1.0), colorize(explanation))


def test_signed_maps_use_a_diverging_scale_centred_on_zero():
    heatmap = np.array([[-2.0, 0.0, 1.0]])
    explanation = explanation_of(heatmap, signed=True, method="lime")
    scale = legend(explanation)
    assert (scale.colormap, scale.vmin, scale.vmax) == ("RdBu_r", -2.0, 2.0)
    assert "supports 'Fake'" in scale.high and "against 'Fake'" in scale.low
    colours = colorize(explanation).astype(int)
    assert colours[0, 0, 2] > colours[0, 0, 0]  # negative: blue
    assert colours[0, 2, 0] > colours[0, 2, 2]  # positive: red
    assert colours[0, 1].min() > 200  # zero: near white
    assert legend(explanation_of(heatmap[:, 1:])).colormap == "jet"


def test_legend_gradient_strip():
    strip = legend(explanation_of(np.zeros((2, 2))), colormap="viridis").gradient(16)
    assert strip.shape == (1, 16, 3) and strip.dtype == np.uint8


def test_overlay_boundaries_only_for_segmented_explanations(image):
    segments = np.zeros((10, 12), dtype=np.int32)
    segments[:, 6:] = 1
    plain = explanation_of(np.zeros((10, 12)), signed=True, method="lime")
    segmented = explanation_of(np.zeros((10, 12)), signed=True, method="lime", segments=segments)
    np.testing.assert_array_equal(overlay(image, plain, boundaries=True), overlay(image, plain))
    with_edges = overlay(image, segmented, boundaries=True)
    assert with_edges.dtype == np.uint8
    changed = (with_edges != overlay(image, segmented)).any(axis=2)
    assert changed[:, 5].all()  # the edge between the halves
    assert not changed[:, :4].any() and not changed[:, 8:].any()


def test_overlay_rejects_another_images_map_and_bad_opacity(image):
    with pytest.raises(ValueError, match="draw it on the image"):
        overlay(image[:5], explanation_of(np.zeros((10, 12))))
    with pytest.raises(ValueError, match="opacity"):
        overlay(image, explanation_of(np.zeros((10, 12))), opacity=1.5)


# --- the record -------------------------------------------------------------------------------------------------


def test_to_json_dict_is_json_and_has_provenance():
    explanation = explanation_of(
        np.array([[0.5, -0.25]]), signed=True, method="lime", superpixel_weights=((1, 0.5), (0, -0.25))
    )
    record = json.loads(json.dumps(explanation.to_json_dict()))
    assert record["seed"] == 3 and explanation.seed == 3
    assert record["image_sha256"] == "ab" * 32 and record["model_id"] == "tiny-123"
    assert record["superpixel_weights"] == [[1, 0.5], [0, -0.25]]
    assert record["image_shape"] == [1, 2] and record["value_range"] == [-0.25, 0.5]
    assert "heatmap" not in record


def test_heatmap_is_read_only():
    explanation = explanation_of(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="read-only"):
        explanation.heatmap[0, 0] = 1.0


def test_command_module_loads_without_tensorflow():
    code = "import sys, deepfake_core.explain.command; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
