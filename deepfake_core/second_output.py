"""A training model that gives the detector a second, training-only output on its pooled features.

Why: the single-center loss and the kind head both ask something more of the features the verdict
reads, and both must leave the saved detector untouched. The training model built here shares every
layer (and so every weight) with the detector and adds one layer on the pooled features as a second
output; fitting it trains the detector, which stays the one to save, predict with and explain.
"""

from __future__ import annotations

import keras

from deepfake_core.detector import feature_layer_name
from deepfake_core.familiarity import FEATURE_LAYERS

__all__ = ["PREDICTIONS_OUTPUT", "compile_with_second_output", "pooled_features"]

PREDICTIONS_OUTPUT = "predictions"
"""The verdict's output name in a training model with a second output (and in its history's keys)."""


def pooled_features(model: keras.Model):
    """The symbolic output of ``model``'s pooled-feature layer (the one the familiarity flag reads)."""
    feature_layer = feature_layer_name(model)
    if feature_layer is None:
        raise ValueError(f"{model.name} has no pooled-feature layer ({', '.join(FEATURE_LAYERS)})")
    return model.get_layer(feature_layer).output


def compile_with_second_output(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    *,
    output: str,
    layer: keras.layers.Layer,
    loss,
    weight: float,
    what: str,
    metrics: list[str] | None = None,
) -> keras.Model:
    """``model``'s layers with ``layer`` on the pooled features as output ``output``, compiled.

    The verdict keeps its cross-entropy at weight 1 and ``loss`` is added at ``weight``; ``what``
    names the second output in error messages.
    """
    if weight <= 0:
        raise ValueError(f"the {what} weight must be above 0, got {weight}")
    trainer = keras.Model(
        model.inputs,
        {PREDICTIONS_OUTPUT: model.outputs[0], output: layer(pooled_features(model))},
        name=f"{model.name}_{layer.name}",
    )
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={PREDICTIONS_OUTPUT: "sparse_categorical_crossentropy", output: loss},
        loss_weights={PREDICTIONS_OUTPUT: 1.0, output: weight},
        metrics={PREDICTIONS_OUTPUT: ["accuracy"], **({output: metrics} if metrics else {})},
    )
    return trainer
