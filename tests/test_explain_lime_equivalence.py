"""Our batched LIME gives the ``lime`` package's weights when both get the same image, size, segments and seed.

This is what makes ``benchmarks/explain.py``'s speed ratio a like-for-like one: the only
difference left is how the perturbed images are built and batched.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import face_like_image, tiny_card
from lime.lime_image import LimeImageExplainer

from deepfake_core.architecture import build_model
from deepfake_core.detector import Detector
from deepfake_core.explain import explain
from deepfake_core.explain.lime_explainer import _hide_color, segment
from deepfake_core.preprocess import resize_square

SIZE = 32


@pytest.fixture(scope="module")
def detector() -> Detector:
    """A tiny model whose probabilities vary with the image (its pooled features standardised)."""
    keras.utils.set_random_seed(0)
    model = build_model(backbone="small_cnn", input_size=SIZE)
    norm = model.get_layer("bn_features")
    probe = keras.Model(model.input, norm.input)
    features = probe(np.random.default_rng(1).uniform(0, 255, (16, SIZE, SIZE, 3)).astype("float32")).numpy()
    norm.gamma.assign(1.0 / (features.std(axis=(0, 1, 2)) + 1e-12))
    norm.beta.assign(-features.mean(axis=(0, 1, 2)) / (features.std(axis=(0, 1, 2)) + 1e-12))
    return Detector(model, tiny_card(name="lime-twin"))


@pytest.mark.parametrize("hide", ["mean", "black", "blur"])
def test_our_lime_matches_the_lime_package_on_the_same_inputs(detector, hide):
    image = face_like_image(48, 40, seed=3)
    seed, samples = 7, 60
    ours = explain(
        detector,
        image,
        method="lime",
        target_class="Fake",
        num_samples=samples,
        segmentation="slic",
        hide=hide,
        num_features=None,
        batch_size=16,
        seed=seed,
    )
    small = resize_square(image, SIZE)  # what our LIME explains: the model's input size
    segments = segment(small, "slic", ours.params["segmentation_params"], seed)
    reference = LimeImageExplainer(kernel_width=0.25, feature_selection="none", random_state=seed).explain_instance(
        small,
        lambda images: detector.probabilities(detector.prepare(list(images))),
        labels=(ours.target_index,),
        hide_color=_hide_color(small, hide),
        top_labels=None,
        num_samples=samples,
        batch_size=16,
        segmentation_fn=lambda _: segments,
        random_seed=seed,
    )
    theirs = dict(reference.local_exp[ours.target_index])
    mine = dict(ours.superpixel_weights)
    assert sorted(mine) == sorted(theirs) == list(range(int(segments.max()) + 1))
    assert max(abs(weight) for weight in mine.values()) > 1e-4  # not a trivially flat case
    np.testing.assert_allclose([mine[i] for i in sorted(mine)], [theirs[i] for i in sorted(mine)], atol=1e-6)
    assert ours.details["surrogate_r2"] == pytest.approx(reference.score, abs=1e-6)


def test_a_different_seed_gives_different_weights(detector):
    """The comparison above can fail: another sampling seed changes the weights."""
    image = face_like_image(48, 40, seed=3)
    common = {"method": "lime", "num_samples": 60, "segmentation": "slic", "num_features": None}
    first = dict(explain(detector, image, seed=1, **common).superpixel_weights)
    second = dict(explain(detector, image, seed=2, **common).superpixel_weights)
    assert not np.allclose([first[i] for i in sorted(first)], [second[i] for i in sorted(first)], atol=1e-6)
