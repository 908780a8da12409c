"""Fine-tuning with the backbone's BatchNorm layers held at their ImageNet values (``train --freeze-norms``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_core.architecture import BACKBONE_LAYER, batch_norms
from deepfake_core.card import card_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.efficientnet_lite import build_efficientnet_lite0
from deepfake_core.errors import DataSetError
from deepfake_core.loading import load_detector
from deepfake_core.training import TrainConfig, train


def _norms(model: keras.Model) -> dict[str, keras.layers.BatchNormalization]:
    return {layer.name: layer for layer in batch_norms(model)}


def test_frozen_norms_keep_their_imagenet_values_while_the_convolutions_learn(trained, tmp_path):
    root, _, _ = trained
    out = tmp_path / "frozen.keras"
    arguments = ["train", "--data", str(root), "--manifest", str(root.parent / "manifest.json"), "--out", str(out)]
    options = ["--backbone", "efficientnet_lite0", "--input-size", "32", "--epochs", "1", "--batch-size", "8"]
    assert main([*arguments, *options, "--learning-rate", "1e-3", "--augment", "standard", "--freeze-norms"]) == 0
    assert load_card(card_path_for(out)).training["config"]["freeze_norms"] is True
    start = build_efficientnet_lite0(32, None)
    backbone = load_detector(out).model.get_layer(BACKBONE_LAYER)
    trained_norms, start_norms = _norms(backbone), _norms(start)
    assert len(trained_norms) == len(start_norms) == 49
    for name, layer in trained_norms.items():
        for kept, pretrained in zip(layer.get_weights(), start_norms[name].get_weights(), strict=True):
            np.testing.assert_array_equal(kept, pretrained)  # statistics, scale and offset alike
    convolution = backbone.get_layer("stem_conv").get_weights()[0]
    assert not np.allclose(convolution, start.get_layer("stem_conv").get_weights()[0])  # the rest fine-tuned


def test_a_backbone_trained_from_scratch_has_no_pretrained_norms_to_keep(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(backbone="small_cnn", input_size=32, epochs=1, freeze_norms=True)
    with pytest.raises(DataSetError, match="the small_cnn backbone starts from random weights"):
        train(config, manifest, root, tmp_path / "scratch.keras", log=lambda line: None)
