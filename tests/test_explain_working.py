"""Bounded working copies, thresholds and caveats in explanation records, and the CLI's ``--from-json`` checks.

A tiny 32 px model whose features are standardised (so verdicts depend on the image) and
pictures drawn with numpy; the "large" photo is 1300 x 1100, just over the 1024 px working side.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import explain_cli, explanation_of, face_like_image, sensitive_model, tiny_card
from PIL import Image

from deepfake_core.architecture import PREDICTIONS_LAYER
from deepfake_core.card import file_sha256, save_card
from deepfake_core.detector import Detector
from deepfake_core.errors import ExplanationError
from deepfake_core.explain import (
    WORKING_SIDE,
    at_threshold,
    deletion_check,
    explain,
    explain_batch,
    overlay,
    saturation_caveat,
    working_image,
    working_shape,
)
from deepfake_core.explain.base import EXPLANATION_FORMAT_VERSION
from deepfake_core.faces.align import working_copy

SIZE = 32
LARGE = (1100, 1300)  # (H, W): long side over WORKING_SIDE


def _sensitive_model(*, saturated: bool = False) -> keras.Model:
    """A random small_cnn whose ``bn_features`` standardises the backbone, so different images get different P.

    ``saturated`` zeroes the head and biases it so that P(Fake) is ~1 - 2e-9 for every image.
    """
    model = sensitive_model(input_size=SIZE)
    if saturated:
        head = model.get_layer(PREDICTIONS_LAYER)
        kernel, _ = head.get_weights()
        head.set_weights([np.zeros_like(kernel), np.array([10.0, -10.0], dtype=np.float32)])  # labels: Fake, Real
    return model


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(_sensitive_model(), tiny_card(name="sensitive"))


@pytest.fixture(scope="module")
def large() -> np.ndarray:
    return face_like_image(*LARGE, seed=4)


# --- the working copy -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "max_side", "expected"),
    [
        ((1100, 1300), 1024, (866, 1024)),
        ((1024, 50), 1024, (1024, 50)),
        ((3000, 10), 1024, (1024, 3)),
        ((5, 7), None, (5, 7)),
    ],
)
def test_working_shape_bounds_the_long_side_and_keeps_the_aspect(shape, max_side, expected):
    assert working_shape(shape, max_side) == expected


def test_working_image_matches_the_face_steps_working_copy(large):
    ours = working_image(large)
    theirs, _ = working_copy(large, WORKING_SIDE)
    assert ours.shape == theirs.shape == (*working_shape(large.shape), 3)
    np.testing.assert_array_equal(ours, theirs)
    small = large[:100, :90]
    assert working_image(small) is small


@pytest.mark.parametrize("method", ["attention", "gradcam", "lime"])
def test_a_large_image_is_explained_at_the_working_size_with_the_full_images_verdict(detector, large, method):
    params = {"num_samples": 20, "segmentation": "slic"} if method == "lime" else {}
    explanation = explain(detector, large, method=method, target_class="Fake", **params)
    assert explanation.heatmap.shape == working_shape(large.shape) == (866, 1024)
    assert explanation.source_shape == LARGE
    assert explanation.verdict["p_fake"] == detector.predict(large).p_fake  # the same model input, exactly
    record = explanation.to_json_dict()
    assert record["image_shape"] == [866, 1024] and record["source_shape"] == [1100, 1300]
    if method == "lime":
        assert explanation.segments.shape == (866, 1024)
    drawn = overlay(working_image(large), explanation, max_side=300)
    assert drawn.shape == (254, 300, 3)


def test_max_side_none_keeps_the_full_size_and_small_images_are_untouched(detector, large):
    full = explain(detector, large, method="gradcam", max_side=None)
    assert full.heatmap.shape == LARGE and full.source_shape is None
    small = face_like_image(48, 40)
    assert explain(detector, small, method="gradcam").heatmap.shape == (48, 40)


def test_explain_batch_uses_the_working_size_too(detector, large):
    small = face_like_image(48, 40)
    maps = explain_batch(detector, [large, small], method="attention")
    assert [item.heatmap.shape for item in maps] == [(866, 1024), (48, 40)]
    assert [item.source_shape for item in maps] == [LARGE, None]


def test_deletion_check_accepts_the_full_image_of_a_working_size_map(detector, large):
    explanation = explain(detector, large, method="gradcam", target_class="Fake")
    on_full, on_copy = (
        deletion_check(detector, picture, [explanation])[0] for picture in (large, working_image(large))
    )
    assert on_full.p_before == pytest.approx(explanation.verdict["probabilities"]["Fake"], abs=1e-6)
    assert on_copy.hidden_share == on_full.hidden_share
    with pytest.raises(ValueError, match="does not fit"):
        deletion_check(detector, large[:500], [explanation])


# --- thresholds -------------------------------------------------------------------------------------------------


def test_the_threshold_used_is_recorded_with_the_card_threshold(detector):
    picture = face_like_image(48, 40)
    p_fake = detector.predict(picture).p_fake
    explanation = explain(detector, picture, method="gradcam", threshold=0.0)
    record = json.loads(json.dumps(explanation.to_json_dict()))
    assert record["format_version"] == EXPLANATION_FORMAT_VERSION == 2
    assert record["threshold"] == 0.0 and record["card_threshold"] == 0.5
    assert record["verdict"]["threshold"] == 0.0 and record["verdict"]["label"] == "Fake"
    assert explanation.target_class == "Fake"  # the verdict at the threshold used
    rejudged = at_threshold(explanation, detector, 1.0)
    assert rejudged.threshold == 1.0 and rejudged.verdict["label"] == ("Fake" if p_fake >= 1.0 else "Real")
    assert rejudged.verdict["p_fake"] == explanation.verdict["p_fake"]
    assert rejudged.heatmap is explanation.heatmap  # the map is shared, not recomputed


# --- saturation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probability", "expected"),
    [
        (0.9995, "within 0.001 of 1"),
        (0.999, "within 0.001 of 1"),
        (0.0004, "within 0.001 of 0"),
        (0.5, None),
        (0.998, None),
    ],
)
def test_saturation_caveat_near_zero_and_one(probability, expected):
    caveat = saturation_caveat(probability, "Fake")
    if expected is None:
        assert caveat is None
    else:
        assert expected in caveat and "uninformative" in caveat
        assert "gradients vanish" in caveat and "LIME's weights are near zero" in caveat


def test_a_saturated_model_puts_the_caveat_in_the_record():
    saturated = Detector(_sensitive_model(saturated=True), tiny_card(name="saturated"))
    picture = face_like_image(48, 40)
    fake = explain(saturated, picture, method="gradcam", target_class="Fake")
    real = explain(saturated, picture, method="gradcam", target_class="Real")
    assert fake.target_probability > 0.999 and "within 0.001 of 1" in fake.to_json_dict()["caveat"]
    assert "within 0.001 of 0" in real.to_json_dict()["caveat"]
    normal = explanation_of(np.zeros((2, 2)), verdict={"label": "Fake", "probabilities": {"Fake": 0.7, "Real": 0.3}})
    assert normal.to_json_dict()["caveat"] is None


# --- the CLI ----------------------------------------------------------------------------------------------------


def _save(folder: Path, name: str, *, saturated: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.keras"
    _sensitive_model(saturated=saturated).save(path)
    save_card(tiny_card(name=name, sha256=file_sha256(path)), folder / f"{name}.card.json")
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {"first": _save(folder, "first"), "second": _save(folder, "second")}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory, large) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    paths = {"a": folder / "a.png", "b": folder / "b.png", "large": folder / "large.png"}
    Image.fromarray(face_like_image(48, 40, seed=1)).save(paths["a"])
    Image.fromarray(face_like_image(48, 40, seed=2)).save(paths["b"])
    Image.fromarray(large).save(paths["large"])
    return paths


def _record(folder: Path, stem: str, method: str = "gradcam") -> dict:
    return json.loads((folder / f"{stem}_{method}.json").read_text())


def test_cli_from_json_refuses_another_image_unless_forced(models, pictures, tmp_path):
    model = str(models["first"])
    assert explain_cli(str(pictures["a"]), "--model", model, "--out-dir", str(tmp_path / "made")) == 0
    recorded = str(tmp_path / "made" / "a_gradcam.json")
    with pytest.raises(ExplanationError, match=r"b\.png is not the image a_gradcam\.json explains.*--force"):
        explain_cli(
            str(pictures["b"]), "--from-json", recorded, "--model", model, "--out-dir", str(tmp_path / "refused")
        )
    assert not (tmp_path / "refused").exists()  # refused before anything was written
    forced = ["--from-json", recorded, "--force", "--model", model, "--out-dir", str(tmp_path / "forced")]
    assert explain_cli(str(pictures["b"]), *forced) == 0
    assert _record(tmp_path / "forced", "b")["image_sha256"] == file_sha256(pictures["b"])


def test_cli_from_json_refuses_another_model_unless_forced(models, pictures, tmp_path):
    assert explain_cli(str(pictures["a"]), "--model", str(models["first"]), "--out-dir", str(tmp_path / "made")) == 0
    recorded = str(tmp_path / "made" / "a_gradcam.json")
    other = ["--from-json", recorded, "--model", str(models["second"]), "--out-dir", str(tmp_path / "again")]
    with pytest.raises(ExplanationError, match=r"made with model 'first-test'.*'second-test'.*--force"):
        explain_cli(str(pictures["a"]), *other)
    assert explain_cli(str(pictures["a"]), *other, "--force") == 0
    assert _record(tmp_path / "again", "a")["model_id"] == "second-test"
    same = ["--from-json", recorded, "--model", str(models["first"]), "--out-dir", str(tmp_path / "same")]
    assert explain_cli(str(pictures["a"]), *same) == 0  # the record's own image and model: no refusal


def test_cli_records_and_reuses_the_threshold(models, pictures, tmp_path):
    model = str(models["first"])
    assert (
        explain_cli(str(pictures["a"]), "--model", model, "--threshold", "0", "--out-dir", str(tmp_path / "zero")) == 0
    )
    first = _record(tmp_path / "zero", "a")
    assert first["threshold"] == 0.0 and first["card_threshold"] == 0.5 and first["verdict"]["label"] == "Fake"
    recorded = str(tmp_path / "zero" / "a_gradcam.json")
    assert (
        explain_cli(str(pictures["a"]), "--from-json", recorded, "--model", model, "--out-dir", str(tmp_path / "re"))
        == 0
    )
    assert _record(tmp_path / "re", "a")["threshold"] == 0.0
    with pytest.raises(ExplanationError, match="between 0 and 1"):
        explain_cli(str(pictures["a"]), "--model", model, "--threshold", "1.5")


def test_cli_explains_and_draws_a_large_image_on_its_working_copy(models, pictures, tmp_path):
    assert (
        explain_cli(
            str(pictures["large"]), "--method", "attention", "--model", str(models["first"]), "--out-dir", str(tmp_path)
        )
        == 0
    )
    assert np.asarray(Image.open(tmp_path / "large_attention.png")).shape == (866, 1024, 3)
    record = _record(tmp_path, "large", "attention")
    assert record["image_shape"] == [866, 1024] and record["source_shape"] == [1100, 1300]


def test_cli_ignores_a_pixel_hash_it_cannot_check(models, pictures, tmp_path):
    record = tmp_path / "record.json"
    made = explanation_of(np.zeros((2, 2)), image_sha256_source="pixels", model_id="first-test")
    record.write_text(json.dumps(made.to_json_dict()))
    out = ["--model", str(models["first"]), "--out-dir", str(tmp_path / "out")]
    assert explain_cli(str(pictures["a"]), "--from-json", str(record), *out) == 0
