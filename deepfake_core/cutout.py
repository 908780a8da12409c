"""Face-part cutout: hide the eyes, the nose, the mouth or one side of an aligned face during training.

Why: a detector can settle on the one region where the generators it trained on
slip (teeth, irises, the hairline) and then has nothing to say about a generator
that gets that region right. Hiding one part of the face at a time, for real and
fake faces alike, makes it find evidence in the rest of the face as well; the
DFDC challenge's winning solution (Seferbekov, 2020) erased landmark-guided parts
and half faces this way, and Das et al. (2021, "Face-Cutout") report better
transfer to unseen manipulation methods from it.

The crops are the face step's aligned crops, so the parts sit at the template's
points (:func:`deepfake_core.faces.align.template_points`), as for the
self-blended pseudo-fakes; no detector runs here. The hidden region is filled
with the crop's own mean colour, so the fill says nothing about the label.
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_core.faces.align import template_points
from deepfake_core.pseudo_fakes import FACE_PARTS, part_ellipse

__all__ = ["CUTOUT_REGIONS", "cutout", "cutout_mask"]

CUTOUT_REGIONS = (*FACE_PARTS, "side")
"""What one cutout hides: a face part (its ellipse enlarged 1.0-1.3x), or the half of the crop left or right of
the nose."""


def cutout_mask(size: int, crop_scale: float, region: str, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask ``(size, size)`` over one of :data:`CUTOUT_REGIONS` of an aligned square crop."""
    points = template_points(size, crop_scale)
    mask = np.zeros((size, size), dtype=np.uint8)
    if region == "side":
        nose_x = int(np.rint(points[2][0]))
        if rng.random() < 0.5:
            mask[:, :nose_x] = 1
        else:
            mask[:, nose_x:] = 1
        return mask.astype(bool)
    centre, radii = part_ellipse(points, region)
    axes = tuple(int(v) for v in np.maximum(1, np.rint(radii * rng.uniform(1.0, 1.3))))
    cv2.ellipse(mask, tuple(int(v) for v in np.rint(centre)), axes, 0.0, 0.0, 360.0, 1, -1)
    return mask.astype(bool)


def cutout(image: np.ndarray, rng: np.random.Generator, *, crop_scale: float) -> np.ndarray:
    """The aligned square crop (RGB uint8) with one region, drawn from :data:`CUTOUT_REGIONS`, in its mean colour."""
    height, width = image.shape[:2]
    if height != width:
        raise ValueError(f"cutout needs a square aligned crop, got {width}x{height}")
    region = CUTOUT_REGIONS[int(rng.integers(len(CUTOUT_REGIONS)))]
    mask = cutout_mask(height, crop_scale, region, rng)
    out = image.copy()
    out[mask] = np.rint(image.reshape(-1, image.shape[2]).mean(axis=0)).astype(np.uint8)
    return out
