"""A training-only head that names each face's source kind beside the Real/Fake verdict.

Why: trained on Real vs Fake alone, a detector needs only the least that splits the seen fakes
from the seen real faces, and on this data that least is each generator's own traces: a face
whose generator left none of them (an unseen diffusion model) falls on the Real side. Asking the
same pooled features to also tell every source apart (CelebA from FFHQ from UTKFace, StyleGAN
from the 256 px GAN, ...) asks them to keep more of what an image's origin leaves in it, real
sources included, instead of the one shortcut per generator the verdict alone rewards. Fine-grained
labels are known to give richer, more transferable features than the coarse ones they refine;
whether that helps with an unseen generator here is what the leave-one-out folds measure
(docs/experiments.md).

Only training changes: the softmax over kinds lives on a second output of a training model that
shares every layer with the detector, and the model that is saved, predicts and is explained is
the plain one, with the same preprocessing contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import keras
import tensorflow as tf

from deepfake_core.second_output import PREDICTIONS_OUTPUT, compile_with_second_output

__all__ = ["KIND_HEAD_LAYER", "KIND_OUTPUT", "compile_with_kind_head", "kind_index", "with_kind_targets"]

KIND_OUTPUT = "kind"
KIND_HEAD_LAYER = "kind_head"


def kind_index(kinds: Iterable[str]) -> dict[str, int]:
    """Each kind's class index in the kind head: the kinds in sorted order, so a run's index is reproducible."""
    return {kind: index for index, kind in enumerate(sorted(set(kinds)))}


def with_kind_targets(label: tf.Tensor, kind: tf.Tensor) -> dict[str, tf.Tensor]:
    """The targets of one face for both outputs (its sample weight goes through the same mapping)."""
    return {PREDICTIONS_OUTPUT: label, KIND_OUTPUT: kind}


def compile_with_kind_head(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    weight: float,
    kinds: Mapping[str, int],
) -> keras.Model:
    """A compiled training model: ``model``'s layers with a second output, a softmax over ``kinds``.

    The head reads the pooled features (the layer the familiarity flag reads), so what it asks of
    them is asked of everything the verdict sees. It shares every layer (and so every weight) with
    ``model``; fitting it trains ``model``, which stays the one to save. Its data carry
    :func:`with_kind_targets`.
    """
    if len(kinds) < 2:
        raise ValueError(f"a kind head needs at least two kinds to tell apart, got {sorted(kinds)}")
    return compile_with_second_output(
        model,
        learning_rate,
        output=KIND_OUTPUT,
        layer=keras.layers.Dense(len(kinds), activation="softmax", name=KIND_HEAD_LAYER),
        loss="sparse_categorical_crossentropy",
        weight=weight,
        what="kind head's loss",
        metrics=["accuracy"],
    )
