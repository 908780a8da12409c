"""Prediction through the detector, and loading models safely."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
from conftest import face_like_image, save_tiny_model, sensitive_model, tiny_card

from deepfake_core.architecture import build_model
from deepfake_core.card import card_path_for, load_card, save_card
from deepfake_core.detector import Detector
from deepfake_core.errors import LegacyModelRefusedError, ModelCardError, ModelLoadError, WeightsMismatchError
from deepfake_core.loading import find_models, load_detector

IMAGES = [face_like_image(48 + 8 * index, 40 + 4 * index, seed=index) for index in range(6)]


def test_batch_and_single_predictions_agree(tiny_detector):
    batch = tiny_detector.predict_batch(IMAGES)
    singles = [tiny_detector.predict(image) for image in IMAGES]
    for one, other in zip(batch, singles, strict=True):
        assert one.label == other.label
        assert one.p_fake == pytest.approx(other.p_fake, abs=1e-5)


def test_prediction_fields(tiny_detector):
    prediction = tiny_detector.predict(IMAGES[0])
    assert set(prediction.probabilities) == {"Fake", "Real"}
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.p_fake == pytest.approx(prediction.probabilities["Fake"])
    assert prediction.model_id == tiny_detector.card.model_id == "default-test"
    assert prediction.to_dict()["confidence"] == pytest.approx(max(prediction.p_fake, 1 - prediction.p_fake))


def test_threshold_decides_the_verdict(tiny_detector):
    assert all(p.label == "Fake" and p.is_fake for p in tiny_detector.predict_batch(IMAGES, threshold=0.0))
    p_fake = tiny_detector.predict(IMAGES[0]).p_fake
    assert tiny_detector.predict(IMAGES[0], threshold=min(1.0, p_fake + 1e-3)).label == "Real"
    with pytest.raises(ValueError, match="threshold"):
        tiny_detector.predict(IMAGES[0], threshold=1.2)
    assert tiny_detector.predict_batch([]) == []


def test_matches_plain_keras_and_applies_temperature(tiny_detector):
    batch = tiny_detector.prepare(IMAGES)
    expected = tiny_detector.model.predict(batch, verbose=0)
    np.testing.assert_allclose(tiny_detector.raw_probabilities(batch), expected, atol=1e-5)
    hot = Detector(tiny_detector.model, tiny_card(temperature=4.0))
    spread = np.abs(hot.probabilities(batch)[:, 0] - 0.5)
    assert np.all(spread <= np.abs(expected[:, 0] - 0.5) + 1e-6)


def test_mirror_average_is_the_mean_of_the_image_and_its_mirror():
    model = sensitive_model()
    detector, mirrored = Detector(model, tiny_card()), Detector(model, tiny_card(mirror_average=True), batch_size=4)
    batch = detector.prepare(IMAGES)
    plain, plain_features = detector.forward(batch)
    flipped, flipped_features = detector.forward(batch[:, :, ::-1])
    assert not np.allclose(plain, flipped, atol=1e-4)  # the tiny model is not symmetric on its own
    averaged, averaged_features = mirrored.forward(batch)  # 6 images in batches of 4: the split must not mix them
    np.testing.assert_allclose(averaged, (plain + flipped) / 2, atol=1e-5)
    np.testing.assert_allclose(averaged_features, (plain_features + flipped_features) / 2, atol=1e-4)
    for image in IMAGES[:3]:  # so a face and its mirror image get the same verdict
        assert mirrored.predict(image).p_fake == pytest.approx(mirrored.predict(image[:, ::-1]).p_fake, abs=1e-5)


def test_shared_detector_is_thread_safe(tiny_detector):
    expected = [p.p_fake for p in tiny_detector.predict_batch(IMAGES)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(lambda _: [p.p_fake for p in tiny_detector.predict_batch(IMAGES)], range(32)))
    for run in runs:
        np.testing.assert_allclose(run, expected, atol=1e-5)


def test_progress_callback(tiny_detector):
    calls = []
    tiny_detector.raw_probabilities(
        tiny_detector.prepare(IMAGES * 6), progress=lambda done, total: calls.append((done, total))
    )
    assert calls[-1] == (36, 36) and len(calls) == 2


def test_model_and_card_must_agree():
    model = build_model(backbone="small_cnn", input_size=32)
    with pytest.raises(ValueError, match="does not match the card"):
        Detector(model, tiny_card(input_size=64))
    with pytest.raises(ValueError, match="labels"):
        Detector(model, tiny_card(labels=("Fake", "Real", "Other")))


def test_weights_that_do_not_match_the_card_are_refused(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    keras.utils.set_random_seed(99)
    build_model(backbone="small_cnn", input_size=32).save(folder / "default.keras")
    with pytest.raises(WeightsMismatchError, match="does not match its model card"):
        load_detector(folder / "default.keras")


def test_missing_model_says_what_to_do(tmp_path):
    with pytest.raises(ModelLoadError, match=r"deepfake-core train"):
        load_detector(tmp_path / "default.keras")


def test_unreadable_model_file(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip file")
    save_card(tiny_card(name="broken", sha256=None), card_path_for(path))
    with pytest.raises(ModelLoadError, match="Could not load"):
        load_detector(path)


def test_default_path_and_env_override(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tiny_model_dir))
    assert load_detector().model_id == "default-test"


def test_find_models_lists_default_first_and_reports_broken_cards(tmp_path):
    save_tiny_model(tmp_path, name="another")
    save_tiny_model(tmp_path, name="default")
    (tmp_path / "orphan.keras").write_bytes(b"")
    (tmp_path / "best_model_effatt.h5").write_bytes(b"")
    entries = find_models(tmp_path)
    assert [entry.name for entry in entries] == ["default", "another", "orphan", "thesis (legacy H5)"]
    orphan = entries[2]
    assert orphan.card is None and "No model card" in orphan.problem
    assert entries[-1].legacy and entries[-1].card is None
    assert load_card(card_path_for(entries[0].path)).name == "default"
    assert find_models(tmp_path / "absent") == []


def test_legacy_h5_needs_opt_in(tmp_path):
    h5 = tmp_path / "best_model_effatt.h5"
    h5.write_bytes(b"")
    with pytest.raises(LegacyModelRefusedError):
        load_detector(h5, trusted_dir=tmp_path)


def test_card_errors_are_model_load_errors():
    assert issubclass(ModelCardError, ModelLoadError)
