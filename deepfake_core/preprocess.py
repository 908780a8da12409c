"""The preprocessing contract: intake RGB uint8 arrays -> the model's input batch.

This is the only code that turns images into model input. Training, prediction,
LIME's classifier function, Grad-CAM and the attention overlay all call
:func:`prepare_batch` (or :func:`prepare_image`) with the model's card, so they
cannot disagree about size, channel order or value scale.

Contract (also written in every model card):

* face step, only for a card with a ``face_crop`` section: each face of the
  photo is found and aligned into an ``S x S`` crop by
  :func:`deepfake_core.faces.finder.crop_faces` as that section says, and the
  crops (never the whole photo) are what the steps below receive. Prediction
  (:func:`deepfake_core.judge.judge_photos`), training and evaluation
  (:mod:`deepfake_core.face_data`) and the explainers all take their crops from
  that one function;
* input: ``uint8`` array ``(H, W, 3)`` in RGB order, as returned by
  :func:`deepfake_core.intake.load_image` (or an aligned crop of one);
* resize to ``(S, S)`` with ``S = card.input_size`` (the whole image is
  stretched to a square, as in the thesis; no crop), OpenCV ``INTER_AREA`` when
  shrinking and ``INTER_LINEAR`` when enlarging;
* only for a card with ``jpeg_quality``: re-encode the resized image as a JPEG of
  that quality (:func:`deepfake_core.perturb.jpeg_recompress`) and decode it again. The data's real
  faces had been JPEG-compressed before, most generated ones had not, so a model
  learns "compression artefacts mean Real"; one fixed compression of every input,
  in training and at prediction, drowns what a file went through before;
* reorder channels to ``card.channel_order`` (``RGB`` or ``BGR``);
* ``float32`` in ``card.value_scale``: ``0..255`` (no division) or ``0..1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from deepfake_core.card import ModelCard
from deepfake_core.perturb import jpeg_recompress

__all__ = ["prepare_batch", "prepare_image", "resize_square"]


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an ``(H, W, C)`` image to ``(size, size, C)`` with the contract's interpolation."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    shrinking = height * width > size * size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def prepare_image(image: np.ndarray, card: ModelCard) -> np.ndarray:
    """One RGB ``uint8 (H, W, 3)`` image -> ``float32 (S, S, 3)`` model input."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image (as load_image returns), got dtype {image.dtype}")
    resized = resize_square(image, card.input_size)
    if card.jpeg_quality is not None:
        resized = jpeg_recompress(resized, card.jpeg_quality)
    if card.channel_order == "BGR":
        resized = resized[:, :, ::-1]
    array = resized.astype(np.float32)
    if card.value_scale == "0..1":
        array /= 255.0
    return np.ascontiguousarray(array)


def prepare_batch(images: Sequence[np.ndarray], card: ModelCard) -> np.ndarray:
    """RGB ``uint8`` images of any sizes -> ``float32 (N, S, S, 3)`` batch for ``card``'s model."""
    size = card.input_size
    batch = np.empty((len(images), size, size, 3), dtype=np.float32)
    for index, image in enumerate(images):
        batch[index] = prepare_image(image, card)
    return batch
