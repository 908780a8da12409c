"""Single-center loss (Li et al. 2021): gather the real faces' features around one point, push fakes off it.

Why: cross-entropy only asks the two classes to fall on either side of one boundary, and a
detector fine-tuned on a few generators draws it along those generators' own traces: a new
generator's faces, lacking them, land on the real side. Real faces have one thing in common,
whereas fakes of different generators share little, so this loss asks for something else of the
pooled features the head reads: real faces close to a learnt centre, and on average every fake of
a batch farther from it than the reals by a margin. A face that is not like the real ones then
sits off the centre whatever made it, which is what an unseen generator needs. Fakes are not asked
to gather anywhere.

For a batch with real-face distances ``d_real`` and fake distances ``d_fake`` to the centre ``c``
(Euclidean, on the ``D``-dimensional pooled features):

    loss = mean(d_real) + max(mean(d_real) - mean(d_fake) + m * sqrt(D), 0)

with ``m = 0.3``, the paper's value. It is added to the cross-entropy with a weight (the paper
uses 0.5). Only training changes: the centre lives in a training-only layer on a second output,
and the model that is saved, predicts and is explained is the plain one, with the same
preprocessing contract.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from deepfake_core.data import LABELS
from deepfake_core.second_output import PREDICTIONS_OUTPUT, compile_with_second_output, pooled_features

__all__ = [
    "CENTER_OUTPUT",
    "MARGIN_PER_ROOT_DIMENSION",
    "PREDICTIONS_OUTPUT",
    "CenterDistance",
    "center_targets",
    "compile_with_single_center",
    "single_center_loss",
]

CENTER_OUTPUT = "center"
MARGIN_PER_ROOT_DIMENSION = 0.3
"""``m`` of the margin ``m * sqrt(D)`` (Li et al. 2021)."""


class CenterDistance(keras.layers.Layer):
    """The Euclidean distance ``(N,)`` of each pooled feature row to a learnt centre (zeros at first)."""

    def build(self, input_shape):
        self.center = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=True, name="center")

    def call(self, features):
        return keras.ops.sqrt(keras.ops.sum(keras.ops.square(features - self.center), axis=-1) + 1e-12)


def single_center_loss(dimension: int, real_index: int = LABELS.index("Real")):
    """The batch's single-center loss for distances ``y_pred`` and label indices ``y_true``.

    Keras reduces a loss per face, so every face of the batch carries the batch's value. A batch
    without real faces (or without fakes) counts that side's mean as 0.
    """
    margin = MARGIN_PER_ROOT_DIMENSION * dimension**0.5

    def loss(y_true, y_pred):
        real = tf.cast(tf.equal(tf.reshape(tf.cast(y_true, tf.int32), [-1]), real_index), y_pred.dtype)
        fake = 1.0 - real
        mean_real = tf.math.divide_no_nan(tf.reduce_sum(real * y_pred), tf.reduce_sum(real))
        mean_fake = tf.math.divide_no_nan(tf.reduce_sum(fake * y_pred), tf.reduce_sum(fake))
        value = mean_real + tf.nn.relu(mean_real - mean_fake + margin)
        return tf.ones_like(y_pred) * value

    return loss


def compile_with_single_center(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    weight: float,
) -> keras.Model:
    """A compiled training model: ``model``'s layers with a second output, the distance to the centre.

    It shares every layer (and so every weight) with ``model``; fitting it trains ``model``, which
    stays the one to save. Its data need :func:`center_targets`.
    """
    return compile_with_second_output(
        model,
        learning_rate,
        output=CENTER_OUTPUT,
        layer=CenterDistance(name="single_center"),
        loss=single_center_loss(pooled_features(model).shape[-1]),
        weight=weight,
        what="single-center loss",
    )


def center_targets(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``(images, labels[, weights])`` batches with the labels (and weights) given to both outputs."""

    def both(images, labels, *weights):
        targets = {PREDICTIONS_OUTPUT: labels, CENTER_OUTPUT: labels}
        return (images, targets, *({PREDICTIONS_OUTPUT: weight, CENTER_OUTPUT: weight} for weight in weights))

    return dataset.map(both)
