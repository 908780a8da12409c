"""The "unlike the training faces" flag: fitting, storing, loading, and its place in every verdict."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from conftest import TINY_SIZE, face_like_image, save_tiny_model

from deepfake_core.card import card_path_for, load_card, save_card
from deepfake_core.errors import ModelCardError, ModelLoadError
from deepfake_core.familiarity import (
    FamiliaritySpec,
    familiarity_path_for,
    fit_familiarity,
    load_familiarity,
    save_familiarity,
)
from deepfake_core.judge import FaceVerdict
from deepfake_core.loading import load_detector

RNG = np.random.default_rng(0)
TRAIN = RNG.normal(size=(400, 6)) * [1, 2, 3, 1, 1, 5]
VALIDATION = RNG.normal(size=(200, 6)) * [1, 2, 3, 1, 1, 5]


def spec_for(model, sha256: str, file: str = "m.familiarity.npz") -> FamiliaritySpec:
    return FamiliaritySpec(
        file=file,
        sha256=sha256,
        layer=model.layer,
        threshold=model.threshold,
        quantile=0.95,
        k=model.k,
        n_reference=len(model.reference),
        n_train=len(TRAIN),
        n_validation=len(VALIDATION),
        validation_flagged=0.05,
    )


def test_distance_is_the_kth_nearest_reference_distance_on_unit_features():
    model = fit_familiarity(TRAIN, VALIDATION, layer="rescale_gap", k=3)
    unit = lambda rows: rows / np.linalg.norm(rows, axis=1, keepdims=True)  # noqa: E731
    reference = unit(TRAIN)
    brute = np.sort(np.linalg.norm(unit(VALIDATION)[:, None, :] - reference[None], axis=2), axis=1)[:, 2]
    # float16 storage leaves the reference rows a few 1e-4 off unit length
    np.testing.assert_allclose(model.distances(VALIDATION), brute, atol=3e-3)
    # the scale of a feature row does not matter, only its direction
    np.testing.assert_allclose(model.distances(VALIDATION * 7.5), model.distances(VALIDATION), rtol=1e-5)


def test_a_large_training_set_is_sampled_with_its_seed():
    many = np.random.default_rng(1).normal(size=(500, 6))
    model = fit_familiarity(many, VALIDATION, layer="rescale_gap", reference_size=120, seed=4)
    again = fit_familiarity(many, VALIDATION, layer="rescale_gap", reference_size=120, seed=4)
    assert model.reference.shape == (120, 6)
    np.testing.assert_array_equal(model.reference, model.reference.astype(np.float16))  # what the file keeps
    np.testing.assert_array_equal(model.reference, again.reference)
    with pytest.raises(ValueError, match="k=3"):
        fit_familiarity(many[:2], VALIDATION, layer="rescale_gap")


def test_statistics_round_trip_and_a_changed_or_foreign_file_is_refused(tmp_path):
    model = fit_familiarity(TRAIN, VALIDATION, layer="rescale_gap")
    path = tmp_path / "m.familiarity.npz"
    spec = spec_for(model, save_familiarity(model, path))
    loaded = load_familiarity(path, spec)
    np.testing.assert_allclose(loaded.distances(VALIDATION), model.distances(VALIDATION), rtol=1e-4)
    assert loaded.threshold == model.threshold

    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ModelLoadError, match="sha256"):
        load_familiarity(path, spec)
    with pytest.raises(ModelLoadError, match="cannot be read"):
        load_familiarity(tmp_path / "absent.npz", spec)

    # a file that would need unpickling is refused even when its sha256 is the card's
    buffer = io.BytesIO()
    np.savez(buffer, reference=np.array([object()], dtype=object))
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(buffer.getvalue())
    import hashlib

    with pytest.raises(ModelLoadError, match="not a familiarity statistics file"):
        load_familiarity(pickled, replace(spec, sha256=hashlib.sha256(buffer.getvalue()).hexdigest()))


def test_the_cards_section_is_checked():
    model = fit_familiarity(TRAIN, VALIDATION, layer="rescale_gap")
    data = spec_for(model, "0" * 64).to_dict()
    assert FamiliaritySpec.from_dict(data).threshold == model.threshold
    with pytest.raises(ModelCardError, match="exactly the fields"):
        FamiliaritySpec.from_dict({**data, "extra": 1})
    with pytest.raises(ModelCardError, match="positive"):
        FamiliaritySpec.from_dict({**data, "threshold": -1.0})
    with pytest.raises(ModelCardError, match="k must be"):
        FamiliaritySpec.from_dict({**data, "k": data["n_reference"] + 1})
    old_card = {key: value for key, value in data.items() if key not in ("k", "n_reference")}
    with pytest.raises(ModelCardError, match="refit with `deepfake-core familiarity`"):
        FamiliaritySpec.from_dict(old_card)


@pytest.fixture(scope="module")
def familiar_model(tmp_path_factory):
    """A tiny model whose statistics were fitted on smooth face-like images."""
    folder = tmp_path_factory.mktemp("familiar")
    path = save_tiny_model(folder)
    detector = load_detector(path)
    images = [face_like_image(TINY_SIZE, TINY_SIZE, seed=seed) for seed in range(40)]
    features = detector.forward(detector.prepare(images))[1]
    fitted = fit_familiarity(features[:30], features[30:], layer="rescale_gap")
    statistics = familiarity_path_for(path)
    spec = replace(spec_for(fitted, save_familiarity(fitted, statistics), file=statistics.name), n_train=30)
    save_card(replace(load_card(card_path_for(path)), familiarity=spec), card_path_for(path))
    return path


def test_every_verdict_carries_the_flag_and_a_threshold_step_keeps_it(familiar_model):
    detector = load_detector(familiar_model)
    assert detector.familiarity is not None and detector.card.familiarity.file == "default.familiarity.npz"
    noise = np.random.default_rng(5).integers(0, 256, (TINY_SIZE, TINY_SIZE, 3), dtype=np.uint8)
    familiar, strange = detector.predict_batch([face_like_image(TINY_SIZE, TINY_SIZE, seed=3), noise])
    assert familiar.unfamiliar is False and strange.unfamiliar is True
    assert strange.feature_distance > detector.familiarity.threshold > familiar.feature_distance
    moved = detector.at_threshold(strange, 0.0)
    assert moved.label == "Fake" and moved.unfamiliar is True and moved.feature_distance == strange.feature_distance
    assert strange.to_dict()["unfamiliar"] is True
    fields = FaceVerdict(None, strange).fields()
    assert fields["unfamiliar"] is True and fields["feature_distance"] == strange.feature_distance


def test_a_model_without_statistics_gives_no_flag(tiny_detector):
    prediction = tiny_detector.predict(face_like_image(seed=1))
    assert prediction.unfamiliar is None and prediction.feature_distance is None


def test_a_card_naming_missing_statistics_is_refused(familiar_model, tmp_path):
    import shutil

    for file in (familiar_model, card_path_for(familiar_model)):
        shutil.copy(file, tmp_path / file.name)
    with pytest.raises(ModelLoadError, match=r"default\.familiarity\.npz"):
        load_detector(tmp_path / familiar_model.name)
