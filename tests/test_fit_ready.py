"""Building a compiled model's training state before ``fit`` (``training.fit_ready``)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from deepfake_core.training import fit_ready


class _CountTraces(keras.layers.Layer):
    """The identity, counting how often Python runs it in training mode: once per trace of the training step."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.training_calls = 0

    def call(self, inputs, training=None):
        if training:
            self.training_calls += 1
        return inputs


def _fit_twice(*, ready: bool) -> tuple[int, dict[str, list[float]]]:
    """Two epochs of a small weighted classifier; how often its step was traced, and its history."""
    keras.utils.set_random_seed(0)
    counter = _CountTraces()
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), counter, keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (16, 8, 8, 3)).astype("float32")
    labels, weights = rng.integers(0, 2, 16), rng.uniform(0.5, 2.0, 16).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((images, labels, weights)).batch(8)
    if ready:
        fit_ready(model, data)
        assert model.optimizer.built and counter.training_calls == 0
    history = model.fit(data, epochs=2, verbose=0, shuffle=False).history
    return counter.training_calls, history


def test_a_ready_model_traces_its_training_step_once_and_trains_the_same():
    traces_unready, history_unready = _fit_twice(ready=False)
    traces_ready, history_ready = _fit_twice(ready=True)
    assert traces_unready == 2  # Keras creates the optimizer and metric variables in the first trace
    assert traces_ready == 1
    assert history_ready.keys() == history_unready.keys()
    for key, values in history_unready.items():
        np.testing.assert_allclose(history_ready[key], values, rtol=1e-6)
