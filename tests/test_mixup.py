"""Mixup blends each face with a partner from its batch, labels and sample weights by the same share."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from deepfake_core.mixup import mix_up, one_hot_labels


def _batches(weights: bool) -> tf.data.Dataset:
    """Two batches of 6 flat-coloured 4x4 faces whose colour is their index, labels alternating 0/1."""
    images = np.repeat(np.arange(12, dtype="float32"), 4 * 4 * 3).reshape(12, 4, 4, 3)
    labels = np.tile(np.array([0, 1], dtype="int32"), 6)
    parts = (images, labels, np.arange(1, 13, dtype="float32")) if weights else (images, labels)
    return tf.data.Dataset.from_tensor_slices(parts).batch(6)


def test_image_label_and_weight_share_one_blend_with_a_partner_from_the_batch():
    for batch_index, (images, targets, weights) in enumerate(mix_up(_batches(True), 0.4, 2, seed=3)):
        images, targets, weights = images.numpy(), targets.numpy(), weights.numpy()
        assert images.shape == (6, 4, 4, 3) and targets.shape == (6, 2) and weights.shape == (6,)
        np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
        assert np.all((targets >= 0) & (targets <= 1))
        colours = images[:, 0, 0, 0]
        np.testing.assert_allclose(images, colours[:, None, None, None] * np.ones((1, 4, 4, 3)), atol=1e-5)
        first = 6 * batch_index
        for colour, target, weight in zip(colours, targets, weights, strict=True):
            # colour = s*own + (1-s)*partner with own, partner indices of this batch; labels alternate
            # with the index's parity, weights are index + 1: find the (own, partner, s) that explain all three
            explained = False
            for own in range(first, first + 6):
                for partner in range(first, first + 6):
                    if own == partner:
                        share = 1.0 if np.isclose(colour, own, atol=1e-4) else None
                    else:
                        share = (colour - partner) / (own - partner)
                    if share is None or not -1e-5 <= share <= 1 + 1e-5:
                        continue
                    fake = share * (own % 2) + (1 - share) * (partner % 2)
                    if np.isclose(target[1], fake, atol=1e-4) and np.isclose(
                        weight, share * (own + 1) + (1 - share) * (partner + 1), atol=1e-3
                    ):
                        explained = True
            assert explained, (colour, target, weight)


def test_blends_are_seeded_and_really_blend():
    def shares(seed: int) -> np.ndarray:
        return np.concatenate([targets.numpy()[:, 1] for _, targets in mix_up(_batches(False), 1.0, 2, seed=seed)])

    np.testing.assert_array_equal(shares(0), shares(0))
    assert not np.array_equal(shares(0), shares(1))
    # with alpha 1 the shares are uniform: some labels end up strictly between the classes
    assert np.any((shares(0) > 0.05) & (shares(0) < 0.95))


def test_alpha_must_be_positive_and_validation_labels_become_one_hot():
    with pytest.raises(ValueError, match="above 0"):
        mix_up(_batches(False), 0.0, 2, seed=0)
    images, targets = next(iter(one_hot_labels(_batches(False), 2)))
    np.testing.assert_array_equal(targets.numpy(), np.tile([[1, 0], [0, 1]], (3, 1)))
    assert images.shape == (6, 4, 4, 3)
