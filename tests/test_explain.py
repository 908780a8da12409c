"""Every explainer on tiny random-weight models (32x32 input), plus the ``explain`` CLI command."""

from __future__ import annotations

import gc
import hashlib
import json
import threading
import weakref
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut, explain_cli, four_faces, no_face_pictures, sensitive_model
from PIL import Image
from scipy.special import softmax

from deepfake_core.card import ModelCard, architecture_card, file_sha256, save_card
from deepfake_core.detector import Detector
from deepfake_core.errors import ExplanationError
from deepfake_core.explain import (
    LIME_DEFAULTS,
    METHOD_NAMES,
    METHODS,
    attention_results,
    explain,
    explain_batch,
    overlay,
)
from deepfake_core.explain.gradcam import feature_gradients

SIZE = 32
LABELS = ("Real", "Fake")
FAST = {"lime": {"num_samples": 40, "segmentation": "slic", "batch_size": 16}}
"""Per-method parameters that keep the tests quick (LIME: 40 samples, ~30 SLIC superpixels at 32 px)."""


def _card(*, channel_order: str = "RGB", attention: bool = True, backbone: str = "small_cnn", **extra) -> ModelCard:
    return architecture_card(
        model_id=f"tiny-{backbone}-{channel_order}",
        name="tiny",
        backbone=backbone,
        input_size=SIZE,
        attention=attention,
        channel_order=channel_order,
        labels=LABELS,
        weights_file="tiny.keras",
        **extra,
    )


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(sensitive_model(), _card())


@pytest.fixture(scope="module")
def mirror_detector() -> Detector:
    """The same weights as ``detector``, under a card that averages each verdict over the mirror image."""
    return Detector(sensitive_model(), _card(mirror_average=True))


@pytest.fixture(scope="module")
def thesis_detector() -> Detector:
    """The thesis contract: the Flask app's head and BGR input."""
    return Detector(sensitive_model(head="flask"), _card(channel_order="BGR"))


@pytest.fixture(scope="module")
def mobilenet_detector() -> Detector:
    """A keras.applications backbone (MobileNetV2 needs at least 32 px; its feature map is 1x1 there)."""
    return Detector(sensitive_model(backbone="mobilenetv2"), _card(backbone="mobilenetv2"))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A non-square face-sized-ish test picture: smooth gradients plus a few flat blocks and some noise."""
    rows, cols = np.mgrid[0:40, 0:56]
    picture = np.stack([rows * 6, cols * 4, (rows + cols) * 2], axis=-1).astype(float)
    picture[5:20, 8:25] = (230, 40, 40)
    picture[22:36, 30:50] = (30, 200, 60)
    picture += np.random.default_rng(2).normal(0, 8, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def _explain(detector: Detector, image: np.ndarray, method: str, **params):
    return explain(detector, image, method=method, **{**FAST.get(method, {}), **params})


# --- every method -----------------------------------------------------------------------------------------------


def test_registry_lists_every_method_with_its_defaults():
    assert tuple(METHODS) == METHOD_NAMES
    assert METHODS["lime"].defaults == LIME_DEFAULTS and LIME_DEFAULTS["seed"] == 0
    assert set(METHODS["lime"].choices) == {"segmentation", "hide"}
    assert not METHODS["attention"].class_specific


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_map_has_the_image_shape_and_documented_range(detector, image, method):
    explanation = _explain(detector, image, method)
    assert explanation.heatmap.shape == image.shape[:2] and explanation.heatmap.dtype == np.float32
    assert np.isfinite(explanation.heatmap).all()
    if explanation.signed:
        weights = {weight for _, weight in explanation.superpixel_weights}
        assert set(np.unique(explanation.heatmap)) <= {np.float32(w) for w in weights} | {0.0}
    else:
        assert explanation.heatmap.min() >= 0.0 and explanation.heatmap.max() <= 1.0
    assert explanation.method == method and explanation.model_id == detector.model_id
    assert explanation.target_class == explanation.verdict["label"]  # default: the predicted class
    assert explanation.image_sha256_source == "pixels" and explanation.seconds > 0


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_same_seed_same_map(detector, image, method):
    first = _explain(detector, image, method, target_class="Fake")
    second = _explain(detector, image, method, target_class="Fake")
    np.testing.assert_array_equal(first.heatmap, second.heatmap)
    assert first.params == second.params


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_thesis_variant_flask_head_and_bgr_card(thesis_detector, image, method):
    explanation = _explain(thesis_detector, image, method, target_class="Real")
    assert explanation.heatmap.shape == image.shape[:2] and explanation.target_index == 0


@pytest.mark.parametrize("method", ["attention", "gradcam", "gradcam++"])
def test_maps_follow_the_cards_channel_order(image, method):
    """One model, two cards: BGR on the image must equal RGB on the channel-swapped image.

    (Not LIME: its superpixels are computed on the image itself, so swapping channels changes them.)
    """
    model = sensitive_model()
    bgr = _explain(Detector(model, _card(channel_order="BGR")), image, method, target_class="Fake")
    rgb = _explain(Detector(model, _card()), np.ascontiguousarray(image[:, :, ::-1]), method, target_class="Fake")
    np.testing.assert_allclose(bgr.heatmap, rgb.heatmap, atol=1e-5)


def test_upload_sha_is_recorded_when_given(detector, image):
    explanation = explain(detector, image, method="gradcam", image_sha256="f" * 64)
    assert (explanation.image_sha256, explanation.image_sha256_source) == ("f" * 64, "upload")


def test_explain_rejects_unknown_methods_params_and_images(detector, image):
    with pytest.raises(ExplanationError, match="Unknown explanation method"):
        explain(detector, image, method="shap")
    with pytest.raises(ExplanationError, match="does not take num_samples"):
        explain(detector, image, method="gradcam", num_samples=10)
    with pytest.raises(ExplanationError, match="Unknown target class"):
        explain(detector, image, method="gradcam", target_class="Cat")
    with pytest.raises(ValueError, match="RGB uint8"):
        explain(detector, image.astype(np.float32), method="gradcam")


# --- LIME -------------------------------------------------------------------------------------------------------


def test_lime_seeds_reproduce_and_differ(detector, image):
    first = _explain(detector, image, "lime", seed=1)
    assert first.superpixel_weights == _explain(detector, image, "lime", seed=1).superpixel_weights
    assert first.superpixel_weights != _explain(detector, image, "lime", seed=2).superpixel_weights


def test_lime_records_a_drawn_seed_that_reproduces_the_map(detector, image):
    drawn = _explain(detector, image, "lime", seed=None)
    assert isinstance(drawn.seed, int)
    np.testing.assert_array_equal(drawn.heatmap, _explain(detector, image, "lime", seed=drawn.seed).heatmap)


def test_lime_weights_flip_sign_between_the_two_classes(detector, image):
    real = _explain(detector, image, "lime", target_class="Real", num_features=None)
    fake = _explain(detector, image, "lime", target_class="Fake", num_features=None)
    np.testing.assert_allclose(real.heatmap, -fake.heatmap, atol=1e-6)
    assert (real.heatmap != 0).any()


def test_lime_segments_weights_and_options(detector, image):
    explanation = _explain(detector, image, "lime", num_features=3, positive_only=True, hide="blur")
    segments = explanation.segments
    assert segments.shape == image.shape[:2] and segments.min() == 0
    assert len(explanation.superpixel_weights) == segments.max() + 1 == explanation.details["num_superpixels"]
    shown = np.unique(segments[explanation.heatmap != 0])
    assert len(shown) <= 3 and (explanation.heatmap >= 0).all()
    assert explanation.params["segmentation_params"] == {"n_segments": 50, "compactness": 10.0, "sigma": 1.0}
    assert explanation.details["explained_size"] == [SIZE, SIZE]


@pytest.mark.parametrize("segmentation", ["quickshift", "slic", "felzenszwalb"])
@pytest.mark.parametrize("hide", ["mean", "black", "blur"])
def test_lime_every_segmentation_and_hide_mode(detector, image, segmentation, hide):
    explanation = _explain(detector, image, "lime", segmentation=segmentation, hide=hide, num_samples=20)
    assert explanation.heatmap.shape == image.shape[:2] and explanation.params["hide"] == hide


def test_lime_segmentation_parameters_are_checked(detector, image):
    explanation = _explain(detector, image, "lime", segmentation_params={"n_segments": 10})
    assert explanation.params["segmentation_params"]["n_segments"] == 10
    with pytest.raises(ExplanationError, match="slic has no parameter"):
        _explain(detector, image, "lime", segmentation_params={"kernel_size": 3})
    with pytest.raises(ExplanationError, match="at least 2 samples"):
        _explain(detector, image, "lime", num_samples=1)


def test_lime_reports_progress(detector, image):
    calls = []
    _explain(detector, image, "lime", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(16, 40), (32, 40), (40, 40)]


# --- attention --------------------------------------------------------------------------------------------------


def test_attention_is_class_independent_and_batchable(detector, image):
    real, fake = (_explain(detector, image, "attention", target_class=name) for name in LABELS)
    np.testing.assert_array_equal(real.heatmap, fake.heatmap)
    small = image[:20, :30].copy()
    results = attention_results(detector, [image, small])
    assert [result.heatmap.shape for result in results] == [image.shape[:2], small.shape[:2]]
    np.testing.assert_allclose(results[0].heatmap, real.heatmap, atol=1e-6)
    assert attention_results(detector, []) == []


@pytest.mark.parametrize("method", ["attention", "gradcam"])
def test_explain_batch_matches_explain_image_by_image(detector, image, method):
    images = [image, image[:20, :30].copy(), np.ascontiguousarray(image[::-1])]
    batch = explain_batch(detector, images, method=method, target_class="Fake", image_sha256s=["a" * 64, None, None])
    for explained, picture in zip(batch, images, strict=True):
        single = explain(detector, picture, method=method, target_class="Fake")
        np.testing.assert_allclose(explained.heatmap, single.heatmap, atol=1e-5)
        assert explained.verdict["p_fake"] == pytest.approx(single.verdict["p_fake"], abs=1e-6)
        assert (explained.target_class, explained.params, explained.details) == (
            single.target_class,
            single.params,
            single.details,
        )
    assert [e.image_sha256_source for e in batch] == ["upload", "pixels", "pixels"]
    assert (
        batch[0].image_sha256 == "a" * 64
        and batch[1].image_sha256 == explain(detector, images[1], method=method).image_sha256
    )
    assert explain_batch(detector, [], method=method) == []


def test_explain_batch_checks_its_arguments(detector, image):
    with pytest.raises(ValueError, match="2 image hashes for 1 images"):
        explain_batch(detector, [image], method="attention", image_sha256s=["a", "b"])
    with pytest.raises(ExplanationError, match="does not take num_samples"):
        explain_batch(detector, [image], method="attention", num_samples=10)
    with pytest.raises(ValueError, match="RGB uint8"):
        explain_batch(detector, [image, image[..., 0]], method="attention")


def test_attention_on_a_model_without_attention_says_what_to_do(image):
    plain = Detector(sensitive_model(attention=False), _card(attention=False))
    with pytest.raises(ExplanationError, match=r"no attention branch.*Grad-CAM or LIME"):
        explain(plain, image, method="attention")
    assert explain(plain, image, method="gradcam").heatmap.shape == image.shape[:2]


@pytest.mark.parametrize("method", ["attention", "gradcam", "gradcam++"])
def test_mirror_averaged_maps_mirror_with_the_image(detector, mirror_detector, image, method):
    """A card that gives a face and its mirror one verdict explains them with mirrored maps; without it, not so."""
    flipped = np.ascontiguousarray(image[:, ::-1])
    own, of_mirror = (_explain(mirror_detector, view, method, target_class="Fake") for view in (image, flipped))
    np.testing.assert_allclose(of_mirror.heatmap, own.heatmap[:, ::-1], atol=1e-4)
    plain, plain_of_mirror = (_explain(detector, view, method, target_class="Fake") for view in (image, flipped))
    assert not np.allclose(plain_of_mirror.heatmap, plain.heatmap[:, ::-1], atol=1e-3)


# --- Grad-CAM ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_gradcam_depends_on_the_target_class(detector, image, method):
    real = _explain(detector, image, method, target_class="Real")
    fake = _explain(detector, image, method, target_class="Fake")
    assert not np.allclose(real.heatmap, fake.heatmap)
    assert real.details["feature_map_shape"] == [2, 2, 384]


def test_gradcam_logits_reproduce_the_models_softmax(detector, image):
    _, _, logits = feature_gradients(detector, image, 0)
    expected = detector.raw_probabilities(detector.prepare([image]))[0]
    assert logits.shape == (1, 2)
    np.testing.assert_allclose(softmax(logits[0]), expected, rtol=1e-4, atol=1e-6)


def test_gradcam_of_a_mirror_averaged_card_explains_both_views(mirror_detector, image):
    features, gradients, logits = feature_gradients(mirror_detector, image, 0)
    assert features.shape[0] == gradients.shape[0] == logits.shape[0] == 2  # the image, then its mirror
    expected = mirror_detector.raw_probabilities(mirror_detector.prepare([image]))[0]
    np.testing.assert_allclose(softmax(logits, axis=1).mean(axis=0), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_gradcam_with_a_keras_application_backbone(mobilenet_detector, image, method):
    explanation = _explain(mobilenet_detector, image, method)
    assert explanation.heatmap.shape == image.shape[:2]
    assert explanation.heatmap.min() >= 0.0 and explanation.heatmap.max() <= 1.0
    assert explanation.details["feature_map_shape"] == [1, 1, 1280]


def test_gradcam_is_safe_from_several_threads(image):
    shared = Detector(sensitive_model(), _card())  # fresh model: the threads race to build its cached function
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(explain(shared, image, method="gradcam", target_class="Fake").heatmap)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(np.array_equal(results[0], other) for other in results[1:])


# --- drawing a real explanation ---------------------------------------------------------------------------------


def test_overlay_draws_lime_with_boundaries(detector, image):
    explanation = _explain(detector, image, "lime")
    drawn = overlay(image, explanation, boundaries=True, opacity=0.3)
    assert drawn.dtype == np.uint8 and drawn.shape == image.shape


# --- the CLI ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    path = folder / "m.keras"
    sensitive_model().save(path)
    save_card(
        replace(_card(), model_id="tiny-saved", weights_file=path.name, weights_sha256=file_sha256(path)),
        folder / "m.card.json",
    )
    return path


@pytest.fixture(scope="module")
def image_file(tmp_path_factory, image) -> Path:
    path = tmp_path_factory.mktemp("images") / "face.png"
    Image.fromarray(image).save(path)
    return path


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_cli_writes_overlay_png_and_json(detector, saved_model, image_file, tmp_path, method, capsys):
    extra = ["--samples", "20", "--segmentation", "slic", "--seed", "5"] if method == "lime" else []
    code = explain_cli(
        str(image_file), "--method", method, "--model", str(saved_model), "--out-dir", str(tmp_path), *extra
    )
    assert code == 0
    png, record_file = tmp_path / f"face_{method}.png", tmp_path / f"face_{method}.json"
    assert np.asarray(Image.open(png)).shape == (40, 56, 3)
    record = json.loads(record_file.read_text())
    assert record["model_id"] == "tiny-saved" and record["method"] == method
    assert record["image_sha256"] == hashlib.sha256(image_file.read_bytes()).hexdigest()
    assert record["image_sha256_source"] == "upload" and record["verdict"]["label"] in LABELS
    assert f"face_{method}.png" in capsys.readouterr().out
    direct = _explain(detector, np.asarray(Image.open(image_file)), method)
    assert record.keys() == direct.to_json_dict().keys()  # the dashboard's JSON has the same keys
    if method == "lime":
        assert record["seed"] == 5 and record["params"]["num_samples"] == 20


def test_cli_reruns_a_recorded_explanation(saved_model, image_file, tmp_path):
    def run(out: str, *flags: str) -> dict:
        assert explain_cli(str(image_file), "--model", str(saved_model), "--out-dir", str(tmp_path / out), *flags) == 0
        return json.loads((tmp_path / out / "face_lime.json").read_text())

    first = run("a", "--method", "lime", "--samples", "20", "--segmentation", "slic", "--seed", "9")
    recorded = str(tmp_path / "a" / "face_lime.json")
    second = run("b", "--from-json", recorded)
    assert second["params"] == first["params"] and second["target_class"] == first["target_class"]
    assert second["superpixel_weights"] == first["superpixel_weights"]
    changed = run("c", "--from-json", recorded, "--segmentation", "felzenszwalb", "--segmentation-param", "scale=50")
    assert changed["params"]["segmentation_params"] == {"scale": 50, "sigma": 0.5, "min_size": 50}
    assert changed["seed"] == 9 and changed["params"]["num_samples"] == 20


def test_cli_explains_a_folder_and_reports_a_bad_file(detector, saved_model, image, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    (inputs / "more").mkdir(parents=True)
    Image.fromarray(image).save(inputs / "first.png")
    Image.fromarray(np.ascontiguousarray(image[::-1])).save(inputs / "more" / "second.jpg", quality=95)
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    code = explain_cli(str(inputs), "--method", "attention", "--model", str(saved_model), "--out-dir", str(out))
    assert code == 1
    assert sorted(path.name for path in out.iterdir()) == [
        "first_attention.json",
        "first_attention.png",
        "second_attention.json",
        "second_attention.png",
    ]
    captured = capsys.readouterr()
    assert "error: broken.png:" in captured.err and "1 of 3 files could not be explained" in captured.err
    record = json.loads((out / "second_attention.json").read_text())
    assert record["image_sha256"] == hashlib.sha256((inputs / "more" / "second.jpg").read_bytes()).hexdigest()
    decoded = np.asarray(Image.open(inputs / "more" / "second.jpg").convert("RGB"))
    assert record["verdict"]["p_fake"] == pytest.approx(detector.predict(decoded).p_fake, abs=1e-5)


def test_cli_refuses_inputs_whose_outputs_would_clash(saved_model, image, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(image).save(tmp_path / folder / "face.png")
    with pytest.raises(ExplanationError, match=r"would both write face_<method>\.png"):
        explain_cli(str(tmp_path / "a" / "face.png"), str(tmp_path / "b" / "face.png"), "--model", str(saved_model))


def test_cli_refuses_lime_flags_for_other_methods(saved_model, image_file, tmp_path):
    with pytest.raises(ExplanationError, match="--samples only apply to --method lime"):
        explain_cli(str(image_file), "--method", "gradcam", "--samples", "10", "--model", str(saved_model))


def test_cached_functions_do_not_keep_a_model_alive(image):
    """The per-model caches hold models weakly, so a dashboard that swaps models does not leak them."""
    model = sensitive_model()
    explain(Detector(model, _card()), image, method="gradcam")
    explain(Detector(model, _card()), image, method="attention")
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


# --- the CLI with a model that judges faces ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_photos(tmp_path_factory) -> Path:
    """Four faces (1024 px), one astronaut, a too-small astronaut (face ~35 px) and a cat, as PNG files."""
    folder = tmp_path_factory.mktemp("face_photos")
    pictures = {
        "four": four_faces(),
        "astro": astronaut(),
        "small": cv2.resize(astronaut(), (200, 200), interpolation=cv2.INTER_AREA),
        "cat": no_face_pictures()["cat"],
    }
    for name, picture in pictures.items():
        Image.fromarray(picture).save(folder / f"{name}.png")
    return folder


def _face_model(folder: Path) -> str:
    return str(folder / "default.keras")


def test_cli_explains_each_face_of_a_face_model_and_fails_a_photo_without(
    tiny_face_model_dir, tiny_face_detector, face_photos, tmp_path, capsys
):
    from deepfake_core.faces.align import similarity_transform, template_points
    from deepfake_core.judge import judge_photos

    photos = [str(face_photos / "four.png"), str(face_photos / "cat.png")]
    code = explain_cli(
        *photos, "--method", "gradcam", "--model", _face_model(tiny_face_model_dir), "--out-dir", str(tmp_path)
    )
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"four_face{number}_gradcam.{suffix}" for number in range(1, 5) for suffix in ("json", "png")
    ]
    assert "error: cat.png: no face found" in captured.err and "--faces none" in captured.err
    assert "1 of 2 files could not be explained" in captured.err and "face 3: verdict" in captured.out
    (judged,) = judge_photos(tiny_face_detector, [np.asarray(Image.open(face_photos / "four.png"))])
    for verdict in judged.faces:
        record = json.loads((tmp_path / f"four_face{verdict.number}_gradcam.json").read_text())
        face = record["face"]
        assert face["number"] == verdict.number and face["faces_found"] == 4 and face["crop_size"] == SIZE
        assert face["box"] == verdict.face.detection.to_dict()["box"] and face["score"] > 0.9
        assert record["image_shape"] == [SIZE, SIZE] and record["image_sha256_source"] == "upload"
        assert record["image_sha256"] == hashlib.sha256((face_photos / "four.png").read_bytes()).hexdigest()
        assert record["verdict"]["p_fake"] == pytest.approx(verdict.prediction.p_fake, abs=1e-5)
        matrix, landmarks = np.array(face["photo_to_crop"]), np.array(face["landmarks"])
        fitted = similarity_transform(landmarks, template_points(SIZE, 2.0))  # the recorded landmarks' own fit
        np.testing.assert_allclose(
            landmarks @ matrix[:, :2].T + matrix[:, 2], landmarks @ fitted[:, :2].T + fitted[:, 2], atol=0.05
        )
        assert np.asarray(Image.open(tmp_path / f"four_face{verdict.number}_gradcam.png")).shape == (SIZE, SIZE, 3)


def test_cli_batched_method_and_largest_face(tiny_face_model_dir, face_photos, tmp_path):
    photos = [str(face_photos / name) for name in ("four.png", "astro.png")]
    model = _face_model(tiny_face_model_dir)
    assert (
        explain_cli(
            *photos, "--method", "attention", "--faces", "largest", "--model", model, "--out-dir", str(tmp_path)
        )
        == 0
    )
    assert sorted(path.name for path in tmp_path.glob("*.json")) == [
        "astro_face1_attention.json",
        "four_face1_attention.json",
    ]
    assert json.loads((tmp_path / "four_face1_attention.json").read_text())["face"]["faces_found"] == 4


def test_cli_faces_none_explains_the_whole_image(tiny_face_model_dir, face_photos, tmp_path):
    model = _face_model(tiny_face_model_dir)
    assert (
        explain_cli(str(face_photos / "cat.png"), "--faces", "none", "--model", model, "--out-dir", str(tmp_path)) == 0
    )
    record = json.loads((tmp_path / "cat_gradcam.json").read_text())
    assert "face" not in record and record["image_shape"] == [300, 451]


def test_cli_too_small_face_is_a_failed_file(tiny_face_model_dir, face_photos, tmp_path, capsys):
    code = explain_cli(
        str(face_photos / "small.png"), "--model", _face_model(tiny_face_model_dir), "--out-dir", str(tmp_path)
    )
    err = capsys.readouterr().err
    assert code == 1 and list(tmp_path.iterdir()) == []
    assert "small.png: no face here is big enough to judge: face 1 is" in err and "under the 40 px" in err


def test_cli_from_json_re_explains_the_recorded_face(tiny_face_model_dir, face_photos, tmp_path):
    model, four = _face_model(tiny_face_model_dir), str(face_photos / "four.png")
    lime = ["--method", "lime", "--samples", "20", "--segmentation", "slic", "--seed", "4"]
    assert explain_cli(four, *lime, "--model", model, "--out-dir", str(tmp_path / "a")) == 0
    recorded = tmp_path / "a" / "four_face3_lime.json"
    assert explain_cli(four, "--from-json", str(recorded), "--model", model, "--out-dir", str(tmp_path / "b")) == 0
    assert sorted(path.name for path in (tmp_path / "b").iterdir()) == ["four_face3_lime.json", "four_face3_lime.png"]
    first, again = (json.loads(path.read_text()) for path in (recorded, tmp_path / "b" / "four_face3_lime.json"))
    assert again["face"] == first["face"] and again["superpixel_weights"] == first["superpixel_weights"]
    assert again["params"] == first["params"] and again["verdict"] == first["verdict"]
    # --faces given as well wins over the record's face
    assert (
        explain_cli(
            four, "--from-json", str(recorded), "--faces", "largest", "--model", model, "--out-dir", str(tmp_path / "c")
        )
        == 0
    )
    assert [path.name for path in (tmp_path / "c").glob("*.json")] == ["four_face1_lime.json"]


def test_cli_from_json_naming_a_face_the_photo_lacks(tiny_face_model_dir, face_photos, tmp_path, capsys):
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"method": "gradcam", "face": {"number": 3}}))
    model = _face_model(tiny_face_model_dir)
    assert (
        explain_cli(
            str(face_photos / "astro.png"),
            "--from-json",
            str(record),
            "--model",
            model,
            "--out-dir",
            str(tmp_path / "out"),
        )
        == 1
    )
    assert "astro.png: the record names face 3, but 1 face(s) were found here" in capsys.readouterr().err
    record.write_text(json.dumps({"method": "gradcam", "face": {"number": 0}}))
    with pytest.raises(ExplanationError, match="face number must be a positive integer, got 0"):
        explain_cli(str(face_photos / "astro.png"), "--from-json", str(record), "--model", model)


def test_cli_old_model_ignores_a_recorded_face(tiny_model_dir, face_photos, tmp_path):
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"method": "attention", "face": {"number": 2}}))
    out = tmp_path / "out"
    model = str(tiny_model_dir / "default.keras")
    assert (
        explain_cli(str(face_photos / "cat.png"), "--from-json", str(record), "--model", model, "--out-dir", str(out))
        == 0
    )
    assert sorted(path.name for path in out.iterdir()) == ["cat_attention.json", "cat_attention.png"]
    assert "face" not in json.loads((out / "cat_attention.json").read_text())
