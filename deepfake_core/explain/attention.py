"""The model's own attention mask, read from the layer ``attention_mask``.

The thesis architecture multiplies its features by a 1-channel sigmoid mask
(``(h, w)``, e.g. 8x8 at 128 px) before pooling, so the mask *is* where the
model looks: no gradients or sampling needed. The mask does not depend on the
explained class. It is read through a sub-model ``image -> attention_mask``
built and traced once per model (shared safely by all sessions), then upsampled
bicubically to the image's size and clipped to ``0..1``. For a card with
``mirror_average`` it is the mean of the image's mask and its mirror's mask
mirrored back, as the verdict is the mean of the two passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from deepfake_core.architecture import ATTENTION_MASK_LAYER
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

__all__ = ["attention_map", "attention_results"]

MaskFunction = Callable[[tf.Tensor], tf.Tensor]


def _build_mask_function(model: keras.Model) -> MaskFunction:
    """A traced ``prepared batch (N, S, S, 3) -> masks (N, h, w, 1)`` function for ``model``."""
    try:
        layer = model.get_layer(ATTENTION_MASK_LAYER)
    except ValueError:
        raise ExplanationError(
            f"Model '{model.name}' has no attention branch (no layer named '{ATTENTION_MASK_LAYER}'), "
            "so there is no attention mask to show; use Grad-CAM or LIME instead."
        ) from None
    masks = keras.Model(model.input, layer.output, name=f"{model.name}_attention")
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
    return tf.function(lambda batch: masks(batch, training=False), input_signature=[spec])


_MASK_FUNCTIONS: ModelCache[MaskFunction] = ModelCache(_build_mask_function)


def attention_results(
    detector: Detector, images: Sequence[np.ndarray], shapes: Sequence[tuple[int, int]] | None = None
) -> list[MapResult]:
    """Attention masks of many RGB ``uint8`` images, each ``float32 (H, W)`` in ``0..1`` at ``shapes[i]``.

    ``shapes`` defaults to the images' own sizes. The images go through the
    preprocessing contract and the model together, in batches of
    ``detector.batch_size``: what ``deepfake-core explain`` does for a folder.
    Raises :class:`ExplanationError` for a model without attention.
    """
    shapes = [image.shape[:2] for image in images] if shapes is None else list(shapes)
    if len(shapes) != len(images):
        raise ValueError(f"got {len(shapes)} map shapes for {len(images)} images")
    return [
        MapResult(
            heatmap=upsample_unit_map(mask, tuple(shape)),
            signed=False,
            meaning="0..1 sigmoid attention mask of the model (1 = fully attended); the same for every class",
            details={"layer": ATTENTION_MASK_LAYER, "mask_shape": list(mask.shape)},
        )
        for mask, shape in zip(_coarse_masks(detector, images), shapes, strict=True)
    ]


def attention_map(context: ExplainContext) -> MapResult:
    """The attention mask of ``context.image`` at ``context.map_shape`` (the same for every target class)."""
    return attention_results(context.detector, [context.image], [context.map_shape])[0]


def _coarse_masks(detector: Detector, images: Sequence[np.ndarray]) -> np.ndarray:
    """``float32 (N, h, w)`` masks at the layer's own resolution (mirror-averaged when the card says so)."""
    mask_function = _MASK_FUNCTIONS.get(detector.model)
    batch = prepared_views(detector, images)
    chunks = [
        mask_function(tf.constant(batch[start : start + detector.batch_size])).numpy()[..., 0]
        for start in range(0, len(batch), detector.batch_size)
    ]
    return mirror_folded(np.concatenate(chunks), detector) if chunks else np.empty((0, 1, 1), dtype=np.float32)
