"""The single-center loss (``train --single-center``): real features gather at a centre, fakes stay a margin off."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import plain_model_card, train_tiny_with_cli

from deepfake_core.architecture import build_model
from deepfake_core.data import LABELS
from deepfake_core.errors import DataSetError
from deepfake_core.single_center import (
    CENTER_OUTPUT,
    PREDICTIONS_OUTPUT,
    CenterDistance,
    center_targets,
    compile_with_single_center,
    single_center_loss,
)
from deepfake_core.training import TrainConfig, train

REAL, FAKE = LABELS.index("Real"), LABELS.index("Fake")


def _loss(labels: list[int], distances: list[float], dimension: int = 4) -> np.ndarray:
    return single_center_loss(dimension)(tf.constant(labels), tf.constant(distances, tf.float32)).numpy()


def test_the_loss_is_the_real_mean_plus_the_hinge_on_the_gap_every_face_carrying_the_batch_value():
    # margin 0.3 * sqrt(4) = 0.6; fakes far off: only the real faces' mean distance is left
    np.testing.assert_allclose(_loss([REAL, REAL, FAKE, FAKE], [1.0, 3.0, 10.0, 20.0]), [2.0] * 4, rtol=1e-6)
    # fakes as close as the reals: the hinge adds the margin
    np.testing.assert_allclose(_loss([REAL, FAKE, REAL, FAKE], [4.0, 5.0, 6.0, 5.0]), [5.6] * 4, rtol=1e-6)
    # no fakes in the batch: their mean counts as 0
    np.testing.assert_allclose(_loss([REAL, REAL], [1.0, 2.0], dimension=100), [1.5 + 1.5 + 3.0] * 2, rtol=1e-6)


def test_the_distance_is_euclidean_to_a_learnt_centre():
    layer = CenterDistance()
    features = np.array([[3.0, 4.0], [0.0, 1.0]], dtype="float32")
    np.testing.assert_allclose(layer(features).numpy(), [5.0, 1.0], rtol=1e-5)  # the centre starts at 0
    assert [weight.trainable for weight in layer.weights] == [True]
    layer.center.assign([3.0, 0.0])
    np.testing.assert_allclose(layer(features).numpy(), [4.0, np.sqrt(10.0)], rtol=1e-5)


def test_labels_and_weights_go_to_both_outputs():
    images, labels, weights = np.zeros((4, 2, 2, 3), "float32"), np.array([0, 1, 1, 0]), np.arange(4.0)
    (batch,) = center_targets(tf.data.Dataset.from_tensor_slices((images, labels, weights)).batch(4))
    _, targets, sample_weights = batch
    for output in (PREDICTIONS_OUTPUT, CENTER_OUTPUT):
        np.testing.assert_array_equal(targets[output].numpy(), labels)
        np.testing.assert_array_equal(sample_weights[output].numpy(), weights)


def _bright_real_dark_fake(count: int = 32) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    labels = np.tile([REAL, FAKE], count // 2).astype("int32")
    images = np.where(labels[:, None, None, None] == REAL, 200.0, 40.0) + rng.normal(0, 20, (count, 32, 32, 3))
    return tf.data.Dataset.from_tensor_slices((images.astype("float32"), labels)).batch(8)


def test_fitting_the_training_model_trains_the_plain_model_and_pulls_real_faces_in():
    keras.utils.set_random_seed(0)
    model = build_model(backbone="small_cnn", input_size=32, num_classes=len(LABELS), name="tiny")
    trainer = compile_with_single_center(model, 1e-3, 0.5)
    assert {layer.name for layer in model.layers} < {layer.name for layer in trainer.layers}  # the same layers
    data = _bright_real_dark_fake()
    before = [weight.copy() for weight in model.get_weights()]
    fit = trainer.fit(center_targets(data), epochs=8, verbose=0)
    assert fit.history["center_loss"][-1] < fit.history["center_loss"][0]
    assert any(not np.allclose(old, new) for old, new in zip(before, model.get_weights(), strict=True))
    images, labels = next(iter(data.unbatch().batch(32)))
    distances = trainer.predict(images, verbose=0)[CENTER_OUTPUT]
    labels = labels.numpy()
    assert distances[labels == REAL].mean() < distances[labels == FAKE].mean()
    # the plain model gives what the training model's first output gives: it is the one that is saved
    np.testing.assert_allclose(
        model.predict(images, verbose=0), trainer.predict(images, verbose=0)[PREDICTIONS_OUTPUT], atol=1e-6
    )


def test_a_model_without_pooled_features_or_a_weight_of_0_is_refused():
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="no pooled-feature layer"):
        compile_with_single_center(plain, 1e-3, 0.5)
    with pytest.raises(ValueError, match="above 0"):
        compile_with_single_center(build_model(backbone="small_cnn", input_size=32), 1e-3, 0.0)


def test_train_with_the_single_center_loss_writes_a_plain_model_and_records_the_weight(trained, tmp_path):
    root, _, _ = trained
    out = tmp_path / "center.keras"
    assert train_tiny_with_cli(root, out, "--single-center", "0.5") == 0
    history_keys = {"center_loss", "val_center_loss", "val_predictions_loss"}
    card = plain_model_card(out, training_layer="single_center", history_keys=history_keys)
    assert card.training["config"]["single_center"] == 0.5


def test_the_single_center_loss_is_refused_beside_mixup_or_weight_averaging(trained, tmp_path):
    root, manifest, _ = trained
    for extra in ({"mixup": 0.2}, {"average_from": 1}):
        config = TrainConfig(backbone="small_cnn", input_size=32, epochs=1, single_center=0.5, **extra)
        with pytest.raises(DataSetError, match="cannot be combined with mixup or weight averaging"):
            train(config, manifest, root, tmp_path / "refused.keras", log=lambda line: None)
