"""Mirror averaging turned on for a trained model (same weights, a refitted card) and the ``mirror`` command."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from deepfake_core.card import card_path_for, file_sha256, history_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.errors import DataSetError
from deepfake_core.evaluation.calibration import fit_temperature
from deepfake_core.loading import load_detector
from deepfake_core.mirroring import mirror_averaged
from deepfake_core.training import TrainConfig, train, training_faces


@pytest.fixture(scope="module")
def mirrored(trained, tmp_path_factory):
    root, manifest, result = trained
    out = tmp_path_factory.mktemp("mirror") / "mirrored.keras"
    return root, manifest, result, out, mirror_averaged(result.model_path, manifest, root, out, log=lambda line: None)


def test_the_mirrored_card_keeps_the_weights_and_gets_its_own_id(mirrored):
    _, _, result, out, card = mirrored
    assert card == load_card(card_path_for(out)) and card.mirror_average and not result.card.mirror_average
    assert file_sha256(out) == card.weights_sha256 == result.card.weights_sha256
    assert card.model_id == f"mirrored-{card.weights_sha256[:12]}-mirror" != result.card.model_id
    before = {"from_model": result.card.model_id, "temperature": result.card.temperature}
    assert card.training["mirror_average"] == before
    assert card.metrics == {} and card.seen_kinds == result.card.seen_kinds
    assert card.familiarity.file == "mirrored.familiarity.npz" and (out.parent / card.familiarity.file).is_file()
    assert history_path_for(out).read_text() == history_path_for(result.model_path).read_text()


def test_the_mirrored_model_averages_both_views_and_is_calibrated_on_them(mirrored):
    root, manifest, result, out, card = mirrored
    original, mirror = load_detector(result.model_path), load_detector(out)
    images = np.random.default_rng(3).uniform(0, 255, (6, 32, 32, 3)).astype("float32")
    both = (original.raw_probabilities(images) + original.raw_probabilities(images[:, :, ::-1])) / 2
    np.testing.assert_allclose(mirror.raw_probabilities(images), both, atol=1e-5)
    faces = training_faces(card, manifest, root, log=lambda line: None)
    validation = np.concatenate([batch for batch, _ in faces.dataset("validation")])
    targets = np.array([card.labels.index(record.label) for record in faces.validation])
    assert card.temperature == pytest.approx(fit_temperature(mirror.raw_probabilities(validation), targets), rel=1e-4)


def test_a_second_mirroring_is_refused(mirrored, tmp_path):
    root, manifest, _, out, _ = mirrored
    with pytest.raises(DataSetError, match="already averages"):
        mirror_averaged(out, manifest, root, tmp_path / "twice.keras", log=lambda line: None)


def test_the_mirror_command_can_rewrite_a_model_in_place(trained, tmp_path, capsys):
    root, _, result = trained
    model = tmp_path / "tiny.keras"
    for path in (result.model_path, card_path_for(result.model_path), history_path_for(result.model_path)):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(result.model_path.parent / result.card.familiarity.file, tmp_path)
    manifest = tmp_path / "manifest.json"
    shutil.copy(root.parent / "manifest.json", manifest)
    common = ["--data", str(root), "--manifest", str(manifest)]
    assert main(["mirror", "--model", str(model), *common, "--out", str(model)]) == 0
    card = load_card(card_path_for(model))
    assert card.mirror_average and card.model_id == f"tiny-{result.card.weights_sha256[:12]}-mirror"
    assert card.model_id in capsys.readouterr().out
    assert load_detector(model).card == card  # the refitted familiarity statistics match the card


def test_training_with_mirror_averaging_cards_and_calibrates_the_averaged_model(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, mirror_average=True)
    result = train(config, manifest, root, tmp_path / "both.keras", log=lambda line: None)
    card = result.card
    assert card.mirror_average and card.model_id == f"both-{card.weights_sha256[:12]}-mirror"
    assert card.training["config"]["mirror_average"] is True
    detector = load_detector(result.model_path)
    faces = training_faces(card, manifest, root, log=lambda line: None)
    validation = np.concatenate([batch for batch, _ in faces.dataset("validation")])
    targets = np.array([card.labels.index(record.label) for record in faces.validation])
    assert card.temperature == pytest.approx(fit_temperature(detector.raw_probabilities(validation), targets), rel=1e-4)
