"""Grad-CAM and Grad-CAM++ on the backbone's last feature map.

The feature map is the output of the nested ``"backbone"`` sub-model. Building a
model from the backbone's *internal* tensors fails with "graph disconnected" for
nested Keras 3 models, so the forward pass is split at the outer graph instead:
``features = backbone(x)``, then ``head = keras.Model(<input of "bn_features">,
<input of "predictions">)`` (Keras 3 clones the outer graph from that
intermediate tensor) runs everything after the backbone, attention branch
included. This works for every backbone, ``keras.applications`` ones too.

The explained score is the class's **pre-softmax logit**, recomputed from the
Dense ``"predictions"`` layer's kernel and bias on the head's output (one small
matmul): softmax gradients vanish when the model is confident, logits' do not.
The card's temperature divides all logits by one constant, which the final
normalisation removes, so it is ignored. For a card with ``mirror_average`` the
image and its mirror are explained in one batch and the mirror's map is mirrored
back and averaged in, as the verdict averages the two passes.

The maths is a chain of small pure steps on ``(h, w, k)`` arrays (tested against
hand-computed cases): :func:`channel_weights` (Grad-CAM) or
:func:`gradcam_plus_plus_weights`, :func:`weighted_sum`, :func:`relu`,
:func:`normalise`; :func:`class_activation_map` chains them.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from deepfake_core.architecture import BACKBONE_LAYER, FEATURES_LAYER, PREDICTIONS_LAYER
from deepfake_core.detector import Detector
from deepfake_core.errors import ExplanationError
from deepfake_core.explain.base import (
    ExplainContext,
    MapResult,
    ModelCache,
    mirror_folded,
    prepared_views,
    upsample_unit_map,
)

__all__ = [
    "channel_weights",
    "class_activation_map",
    "feature_gradients",
    "gradcam_map",
    "gradcam_plus_plus_weights",
    "normalise",
    "relu",
    "weighted_sum",
]

GradientFunction = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


def channel_weights(gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM's weight of each channel: the mean gradient over the map, ``(h, w, k) -> (k,)``."""
    return gradients.mean(axis=(0, 1))


def gradcam_plus_plus_weights(features: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM++ channel weights ``(k,)`` from features and gradients ``(h, w, k)``.

    ``alpha = g² / (2 g² + sum_hw(A) g³)`` (0 where the denominator is 0) and
    ``weight = sum_hw(alpha * relu(g))``: the closed form for an exponential of
    the score, whose factor ``exp(S)`` cancels in ``alpha`` and is removed by
    :func:`normalise` (Chattopadhyay et al., 2018).
    """
    squared = gradients**2
    denominator = 2.0 * squared + features.sum(axis=(0, 1)) * gradients**3
    alpha = np.divide(squared, denominator, out=np.zeros_like(squared), where=denominator != 0)
    return (alpha * np.maximum(gradients, 0.0)).sum(axis=(0, 1))


def weighted_sum(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_k weights[k] * features[..., k]``: ``(h, w, k), (k,) -> (h, w)``."""
    return features @ weights


def relu(values: np.ndarray) -> np.ndarray:
    """Keep only evidence *for* the class."""
    return np.maximum(values, 0.0)


def normalise(values: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to ``0..1`` by its maximum (an all-zero map stays zero: no evidence)."""
    peak = float(values.max(initial=0.0))
    return values / peak if peak > 0 else np.zeros_like(values)


def class_activation_map(features: np.ndarray, gradients: np.ndarray, *, plus_plus: bool = False) -> np.ndarray:
    """Grad-CAM (or Grad-CAM++) ``float32 (h, w)`` in ``0..1`` from one image's features and gradients ``(h, w, k)``."""
    weights = gradcam_plus_plus_weights(features, gradients) if plus_plus else channel_weights(gradients)
    return normalise(relu(weighted_sum(features, weights))).astype(np.float32)


def _layer(model: keras.Model, name: str) -> keras.layers.Layer:
    try:
        return model.get_layer(name)
    except ValueError:
        raise ExplanationError(
            f"Grad-CAM needs a layer named '{name}', which model '{model.name}' lacks; "
            "models built by deepfake_core.architecture.build_model have it."
        ) from None


def _build_gradient_function(model: keras.Model) -> GradientFunction:
    """A traced ``(prepared batch, class index) -> (features, d logit / d features, logits)`` for ``model``."""
    backbone = _layer(model, BACKBONE_LAYER)
    predictions = _layer(model, PREDICTIONS_LAYER)
    head = keras.Model(_layer(model, FEATURES_LAYER).input, predictions.input, name=f"{model.name}_head")
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec((), tf.int32)])
    def features_and_gradients(batch: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            features = backbone(batch, training=False)
            tape.watch(features)
            logits = tf.matmul(head(features, training=False), predictions.kernel) + predictions.bias
            score = tf.reduce_sum(logits[:, target])
        return features, tape.gradient(score, features), logits

    return features_and_gradients


_GRADIENT_FUNCTIONS: ModelCache[GradientFunction] = ModelCache(_build_gradient_function)


def feature_gradients(
    detector: Detector, image: np.ndarray, target_index: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backbone features ``(V, h, w, k)``, the target logit's gradients w.r.t. them and all logits ``(V, C)``.

    One view (``V = 1``), or two when the card averages over the mirror: the image, then its mirror.
    """
    function = _GRADIENT_FUNCTIONS.get(detector.model)
    batch = tf.constant(prepared_views(detector, [image]))
    features, gradients, logits = function(batch, tf.constant(target_index, dtype=tf.int32))
    return features.numpy(), gradients.numpy(), logits.numpy()


def gradcam_map(context: ExplainContext, *, plus_plus: bool = False) -> MapResult:
    """Grad-CAM (``plus_plus=False``) or Grad-CAM++ map for ``context.target_index``, upsampled to ``map_shape``.

    With the card's ``mirror_average``, the mean of the image's map and its mirror's map mirrored back.
    """
    features, gradients, logits = feature_gradients(context.detector, context.image, context.target_index)
    pairs = zip(features, gradients, strict=True)
    views = np.stack([class_activation_map(view, gradient, plus_plus=plus_plus) for view, gradient in pairs])
    coarse = normalise(mirror_folded(views, context.detector)[0]).astype(np.float32)
    name = "Grad-CAM++" if plus_plus else "Grad-CAM"
    return MapResult(
        heatmap=upsample_unit_map(coarse, context.map_shape),
        signed=False,
        meaning=f"0..1 {name} relevance for '{context.target_class}' (1 = most relevant; 0 = no evidence for it)",
        details={
            "layer": BACKBONE_LAYER,
            "feature_map_shape": list(features.shape[1:]),
            "score": "logit",
            "target_logit": float(logits[:, context.target_index].mean()),
            "empty": bool(coarse.max() == 0),
        },
    )
