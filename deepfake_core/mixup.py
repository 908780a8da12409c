"""Mixup (Zhang et al. 2018): train on blends of two faces, labelled with the same blend of their labels.

Why: a detector fine-tuned on a few generators learns those generators' own traces and then answers
all-or-nothing: 99.9 % Fake where it finds them, 99.9 % Real on a new generator's face where it does
not. Training on convex blends of two faces, whose target is the blend of their one-hot labels, asks
the network to answer in proportion to how much of a trace it sees instead of flipping at its first
hint; that regularises it (and its confidences) without naming any generator. The blend happens
after augmentation and the preprocessing contract, on the batch the network is fed, so prediction
and every explainer stay exactly as they were.

Labels become one-hot rows, so a run with mixup trains with categorical cross-entropy, and its
validation faces get one-hot labels too (:func:`one_hot_labels`), unblended.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["mix_up", "one_hot_labels"]


def one_hot_labels(dataset: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    """``(images, label index[, weight])`` batches with the labels as one-hot float rows."""

    def convert(images, labels, *weights):
        return (images, tf.one_hot(labels, num_classes), *weights)

    return dataset.map(convert)


def mix_up(dataset: tf.data.Dataset, alpha: float, num_classes: int, *, seed: int) -> tf.data.Dataset:
    """Blend every face of each ``(images, label index[, weight])`` batch with another face of that batch.

    Each face draws its own share ``s ~ Beta(alpha, alpha)`` and a partner (a seeded permutation of
    the batch); image, one-hot label and sample weight all become ``s * own + (1 - s) * partner``.
    A small ``alpha`` (0.2, the paper's ImageNet value) keeps most shares near 0 or 1: mostly one
    face with a faint second one. The draws are stateless, keyed by ``seed`` and the batch's index,
    so a run repeats exactly.
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be above 0, got {alpha}")

    def blend(step, batch):
        images, labels, *weights = batch
        keys = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), step]), num=3)
        count = tf.shape(images)[:1]
        # Beta(a, a) as G1 / (G1 + G2) with G ~ Gamma(a); float64 keeps a tiny alpha's draws from underflowing to 0 / 0
        first = tf.random.stateless_gamma(count, seed=keys[0], alpha=alpha, dtype=tf.float64)
        second = tf.random.stateless_gamma(count, seed=keys[1], alpha=alpha, dtype=tf.float64)
        share = tf.cast(tf.math.divide_no_nan(first, first + second), tf.float32)
        partner = tf.argsort(tf.random.stateless_uniform(count, seed=keys[2]))

        def mixed(values):
            weight = tf.reshape(share, [-1] + [1] * (len(values.shape) - 1))
            return weight * values + (1.0 - weight) * tf.gather(values, partner)

        targets = tf.one_hot(labels, num_classes)
        return (mixed(images), mixed(targets), *(mixed(weight) for weight in weights))

    return dataset.enumerate().map(blend)
