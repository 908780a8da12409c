"""Promoting a trained model: ``copy_model`` and the ``copy`` command."""

from __future__ import annotations

import numpy as np

from deepfake_core.card import card_path_for, file_sha256, history_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.loading import load_detector
from deepfake_core.model_copy import copy_model


def test_a_copy_judges_alike_under_its_new_name_with_every_file_beside_it(trained, tmp_path):
    _, _, result = trained
    out = tmp_path / "promoted" / "candidate.keras"
    card = copy_model(result.model_path, out, name="default")
    assert file_sha256(out) == card.weights_sha256 == result.card.weights_sha256
    assert card.name == "default" and card.model_id == f"default-{card.weights_sha256[:12]}" != result.card.model_id
    assert card.weights_file == "candidate.keras" and card.metrics == {}
    assert card.familiarity.file == "candidate.familiarity.npz"
    assert card.familiarity.threshold == result.card.familiarity.threshold
    assert history_path_for(out).read_text() == history_path_for(result.model_path).read_text()
    copied, original = load_detector(out), load_detector(result.model_path)
    assert copied.card == card == load_card(card_path_for(out))  # the familiarity file matches its card
    images = np.random.default_rng(5).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(copied.probabilities(images), original.probabilities(images))


def test_the_name_defaults_to_the_file_and_the_command_refuses_to_copy_onto_the_model(trained, tmp_path, capsys):
    _, _, result = trained
    out = tmp_path / "lite0_past.keras"
    assert main(["copy", "--model", str(result.model_path), "--out", str(out)]) == 0
    assert load_card(card_path_for(out)).name == "lite0_past" and "lite0_past-" in capsys.readouterr().out
    assert main(["copy", "--model", str(out), "--out", str(out)]) != 0
    assert main(["copy", "--model", str(out), "--out", str(tmp_path / "weights.h5")]) != 0
    errors = capsys.readouterr().err
    assert "is the model itself" in errors and "must be a .keras file" in errors
