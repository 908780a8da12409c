"""Weight decay toward the pretrained start (``train --anchor-decay``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_core.anchor_decay import AnchorDecay
from deepfake_core.architecture import BACKBONE_LAYER
from deepfake_core.card import card_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.efficientnet_lite import build_efficientnet_lite0
from deepfake_core.errors import DataSetError
from deepfake_core.loading import load_detector
from deepfake_core.training import TrainConfig, train


def test_each_step_moves_the_weights_the_given_share_back_to_where_training_began():
    kernel = keras.Variable(np.array([[1.0, -2.0], [0.5, 4.0]], dtype="float32"))
    bias = keras.Variable(np.array([3.0, 0.0], dtype="float32"))
    decay = AnchorDecay([kernel, bias], rate=0.25)
    decay.on_train_begin()
    kernel.assign(np.array([[5.0, -2.0], [0.5, 0.0]], dtype="float32"))  # what an optimiser step did
    bias.assign(np.array([-1.0, 8.0], dtype="float32"))
    decay.on_train_batch_end(0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), [[4.0, -2.0], [0.5, 1.0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), [0.0, 6.0])
    decay.on_train_batch_end(1)  # a second pull with no step between keeps closing the gap
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), [0.75, 4.5])


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5])
def test_a_rate_outside_a_share_of_the_way_is_refused(rate):
    with pytest.raises(ValueError, match="share of the way back"):
        AnchorDecay([keras.Variable(np.zeros(2, dtype="float32"))], rate)


def _backbone_shift(root, out, *options: str) -> float:
    """Train a 32 px Lite0 for one epoch at a high rate; the largest change of any backbone weight from ImageNet."""
    arguments = ["train", "--data", str(root), "--manifest", str(root.parent / "manifest.json"), "--out", str(out)]
    sizes = ["--backbone", "efficientnet_lite0", "--input-size", "32", "--epochs", "1", "--batch-size", "8"]
    assert main([*arguments, *sizes, "--learning-rate", "1e-2", *options]) == 0
    backbone = load_detector(out).model.get_layer(BACKBONE_LAYER)
    start = build_efficientnet_lite0(32, None)
    return max(
        float(np.max(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b))))
        for a, b in zip(backbone.trainable_weights, start.trainable_weights, strict=True)
    )


def test_a_full_pull_keeps_the_backbone_at_imagenet_where_training_alone_moves_it(trained, tmp_path):
    root, _, _ = trained
    assert _backbone_shift(root, tmp_path / "free.keras") > 1e-3
    assert _backbone_shift(root, tmp_path / "anchored.keras", "--anchor-decay", "1") < 1e-5
    assert load_card(card_path_for(tmp_path / "anchored.keras")).training["config"]["anchor_decay"] == 1.0


def test_a_backbone_trained_from_scratch_has_no_start_to_pull_toward(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(backbone="small_cnn", input_size=32, epochs=1, anchor_decay=1e-3)
    with pytest.raises(DataSetError, match="the small_cnn backbone starts from random weights"):
        train(config, manifest, root, tmp_path / "scratch.keras", log=lambda line: None)
