"""Averaging the weights of several runs: ``model_soup`` and the ``soup`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_core.card import card_path_for, file_sha256, history_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.errors import DataSetError
from deepfake_core.evaluation.calibration import fit_temperature
from deepfake_core.loading import load_detector
from deepfake_core.model_copy import copy_model
from deepfake_core.model_soup import averaged_weights, model_soup
from deepfake_core.training import TrainConfig, train, training_faces

QUIET = {"log": lambda line: None}


@pytest.fixture(scope="module")
def two_runs(trained, tmp_path_factory):
    """The shared tiny model and a second run of its recipe with another seed."""
    root, manifest, first = trained
    out = tmp_path_factory.mktemp("second") / "second.keras"
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, augment=True, kind_balance=0.5, seed=1)
    return root, manifest, first.model_path, train(config, manifest, root, out, **QUIET).model_path


@pytest.fixture(scope="module")
def soup(two_runs, tmp_path_factory):
    root, manifest, first, second = two_runs
    out = tmp_path_factory.mktemp("soup") / "soup.keras"
    return out, model_soup([first, second], manifest, root, out, **QUIET)


def test_the_soup_holds_the_mean_of_the_runs_weights(two_runs, soup):
    _, _, first, second = two_runs
    out, _ = soup
    runs = [load_detector(path).model.get_weights() for path in (first, second)]
    mixed = load_detector(out).model.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(*runs, strict=True))  # two different runs
    for weight, a, b in zip(mixed, *runs, strict=True):
        np.testing.assert_allclose(weight, (a.astype(np.float64) + b) / 2, rtol=1e-6, atol=1e-6)


def test_the_soup_card_names_its_runs_and_is_refitted_on_its_own_outputs(two_runs, soup):
    root, manifest, first, second = two_runs
    out, card = soup
    assert card == load_card(card_path_for(out)) and card.weights_sha256 == file_sha256(out)
    assert card.name == "soup" and card.metrics == {}
    runs = [load_card(card_path_for(path)) for path in (first, second)]
    assert card.description.startswith(f"The mean of the weights of 2 training runs ({runs[0].name}, {runs[1].name})")
    assert [entry["model_id"] for entry in card.training["soup"]["models"]] == [run.model_id for run in runs]
    assert [entry["config"]["seed"] for entry in card.training["soup"]["models"]] == [0, 1]
    assert "history_file" not in card.training and not history_path_for(out).exists()
    assert card.familiarity.file == "soup.familiarity.npz" and (out.parent / card.familiarity.file).is_file()
    detector = load_detector(out)
    faces = training_faces(card, manifest, root, **QUIET)
    validation = np.concatenate([batch for batch, _ in faces.dataset("validation")])
    targets = np.array([card.labels.index(record.label) for record in faces.validation])
    assert card.temperature == pytest.approx(fit_temperature(detector.raw_probabilities(validation), targets), rel=1e-4)


def test_weights_of_different_networks_or_a_single_run_do_not_mix():
    with pytest.raises(DataSetError, match="at least two"):
        averaged_weights([[np.zeros(3)]])
    with pytest.raises(DataSetError, match="networks differ"):
        averaged_weights([[np.zeros(3)], [np.zeros(4)]])
    np.testing.assert_array_equal(averaged_weights([[np.full(2, 1.0)], [np.full(2, 4.0)]])[0], [2.5, 2.5])
    weighted = averaged_weights([[np.full(2, 1.0, np.float32)], [np.full(2, 4.0, np.float32)]], shares=(0.75, 0.25))
    assert weighted[0].dtype == np.float32 and weighted[0].tolist() == [1.75, 1.75]
    with pytest.raises(DataSetError, match="as many shares summing to 1"):
        averaged_weights([[np.zeros(2)], [np.zeros(2)]], shares=(0.5, 0.6))


def test_runs_with_another_contract_are_refused_by_name(two_runs, tmp_path):
    root, manifest, first, second = two_runs
    other = tmp_path / "other.keras"
    copy_model(second, other)
    card_file = card_path_for(other)
    card_file.write_text(json.dumps({**json.loads(card_file.read_text()), "jpeg_quality": 75}))
    with pytest.raises(DataSetError, match="jpeg_quality"):
        model_soup([first, other], manifest, root, tmp_path / "mixed.keras", **QUIET)


def test_the_soup_command_writes_a_model_and_refuses_to_overwrite_a_run(two_runs, tmp_path, capsys):
    root, _, first, second = two_runs
    manifest_file = root.parent / "manifest.json"
    common = ["--data", str(root), "--manifest", str(manifest_file)]
    out = tmp_path / "mixed.keras"
    history_path_for(out).write_text("{}")  # an earlier model's history there is not the soup's
    assert main(["soup", "--models", str(first), str(second), *common, "--out", str(out), "--name", "default"]) == 0
    printed = capsys.readouterr().out
    assert load_card(card_path_for(out)).name == "default" and "default-" in printed
    assert "different seeds" in printed  # the two runs' seeds are 0 and 1
    assert not history_path_for(out).exists()
    assert main(["soup", "--models", str(first), str(second), *common, "--out", str(second)]) != 0
    assert main(["soup", "--models", str(first), *common, "--out", str(tmp_path / "one.keras")]) != 0
    errors = capsys.readouterr().err
    assert "is one of the models" in errors and "at least two" in errors
