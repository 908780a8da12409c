"""Self-blended pseudo-fakes: a real aligned face blended with a slightly altered copy of itself.

Face swaps and photoshop composites share one trace whatever tool made them: a
face (or a part of one) pasted into another picture leaves a blending boundary
and a small mismatch of colour, sharpness and position between the inside and
the outside of the pasted region. A detector trained only on the swaps it has
seen learns that tool's look instead (the leave-one-out study measured AUC 0.43
on unseen swaps and 0.60 on unseen composites). Following the idea of
self-blended images (Shiohara & Yamasaki, CVPR 2022), a real face is blended
with a copy of itself that has been colour-shifted, re-sharpened or blurred and
moved by a few pixels, through a soft mask over the face or one part of it, and
labelled Fake: the only thing that tells it from its real original is the
blending trace, so that is what the model must learn.

The crops are the face step's aligned crops, so the landmarks are the
template's (:func:`deepfake_core.faces.align.template_points`): no detector
runs here, and the mask lands on the eyes, nose and mouth of every crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepfake_core.faces.align import template_points

__all__ = ["FACE_PARTS", "SELF_BLENDED_KIND", "SelfBlendConfig", "blend_mask", "part_ellipse", "self_blend"]

SELF_BLENDED_KIND = "self_blended"
"""The kind training gives its pseudo-fake records (never a kind of the data set)."""


@dataclass(frozen=True)
class SelfBlendConfig:
    """How strongly the blended copy differs from the original, and how its mask is drawn."""

    part_probability: float = 0.3
    """Share of masks over one part only (both eyes, the nose or the mouth), as photoshop composites edit parts."""
    colour_shift: float = 12.0
    """Largest per-channel shift of the copy, in grey levels."""
    contrast: tuple[float, float] = (0.9, 1.1)
    scale: tuple[float, float] = (0.96, 1.04)
    shift_fraction: float = 0.03
    """Largest translation of the copy, as a fraction of the crop side."""
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    """The mask's peak opacity is drawn from these."""
    edge_sigma_fraction: tuple[float, float] = (0.01, 0.06)
    """Gaussian softening of the mask's edge, as a fraction of the crop side."""

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def _jittered_ellipse(
    centre: np.ndarray, radii: np.ndarray, rng: np.random.Generator, vertices: int = 16
) -> np.ndarray:
    """Polygon vertices ``(vertices, 2)`` of an ellipse whose radius wobbles by up to 15 % per vertex."""
    angles = np.linspace(0.0, 2.0 * np.pi, vertices, endpoint=False)
    wobble = rng.uniform(0.85, 1.15, size=vertices)
    return centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii * wobble[:, None]


FACE_PARTS = ("eyes", "nose", "mouth")
"""The parts a part mask covers, as photoshop composites edit them (and as :mod:`deepfake_core.cutout` hides them)."""


def _eye_gap(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[1] - points[0]))


def part_ellipse(points: np.ndarray, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii (x, y) of an ellipse over one of :data:`FACE_PARTS`, from the template's five ``points``.

    Both eyes share one ellipse, as do the two mouth corners; the sizes are in eye gaps, so
    they scale with the crop.
    """
    eye_gap = _eye_gap(points)
    if part == "eyes":
        return points[0:2].mean(axis=0), np.array([0.95, 0.35]) * eye_gap
    if part == "nose":
        return points[2], np.array([0.35, 0.45]) * eye_gap
    if part == "mouth":
        return points[3:5].mean(axis=0), np.array([0.7, 0.35]) * eye_gap
    raise ValueError(f"unknown face part {part!r}; choose from {', '.join(FACE_PARTS)}")


def blend_mask(size: int, crop_scale: float, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """A soft mask ``(size, size)`` in 0..1 over the whole inner face or one of its parts.

    The whole-face mask reaches from about the eyebrows to below the mouth and
    across the cheeks (its size varies per draw), well inside the crop; a part mask covers both eyes, the
    nose or the mouth. The outline wobbles so no fixed shape becomes the cue.
    """
    points = template_points(size, crop_scale)
    if rng.random() < config.part_probability:
        centre, radii = part_ellipse(points, FACE_PARTS[int(rng.integers(len(FACE_PARTS)))])
    else:
        centre = (points[0:2].mean(axis=0) + points[3:5].mean(axis=0)) / 2.0
        radii = np.array([0.8, 1.0]) * _eye_gap(points) * rng.uniform(0.85, 1.15)
    polygon = _jittered_ellipse(centre, radii, rng)
    mask = np.zeros((size, size), dtype=np.float32)
    cv2.fillPoly(mask, [np.rint(polygon).astype(np.int32)], 1.0)
    sigma = rng.uniform(*config.edge_sigma_fraction) * size
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=float(sigma))
    peak = float(mask.max())
    if peak <= 0.0:
        return mask
    return mask / peak * float(rng.choice(config.blend_ratios))


def _altered_copy(image: np.ndarray, rng: np.random.Generator, config: SelfBlendConfig) -> np.ndarray:
    """The copy to paste: colour-shifted, contrast-changed, blurred or sharpened, slightly moved and scaled."""
    copy = image.astype(np.float32)
    mean = copy.mean(axis=(0, 1), keepdims=True)
    copy = (copy - mean) * rng.uniform(*config.contrast) + mean
    copy += rng.uniform(-config.colour_shift, config.colour_shift, size=(1, 1, 3)).astype(np.float32)
    smoothing = rng.random()
    if smoothing < 1 / 3:
        copy = cv2.GaussianBlur(copy, (0, 0), sigmaX=float(rng.uniform(0.5, 1.2)))
    elif smoothing < 2 / 3:
        blurred = cv2.GaussianBlur(copy, (0, 0), sigmaX=1.0)
        copy = copy + float(rng.uniform(0.3, 1.0)) * (copy - blurred)
    height, width = image.shape[:2]
    side = float(max(height, width))
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), 0.0, float(rng.uniform(*config.scale)))
    matrix[:, 2] += rng.uniform(-config.shift_fraction, config.shift_fraction, size=2) * side
    return cv2.warpAffine(copy, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def self_blend(
    image: np.ndarray, rng: np.random.Generator, *, crop_scale: float, config: SelfBlendConfig | None = None
) -> np.ndarray:
    """A pseudo-fake from a real aligned square face crop (RGB uint8): the crop with an altered copy blended in."""
    config = config or SelfBlendConfig()
    height, width = image.shape[:2]
    if height != width:
        raise ValueError(f"self_blend needs a square aligned crop, got {width}x{height}")
    mask = blend_mask(height, crop_scale, rng, config)[:, :, None]
    blended = mask * _altered_copy(image, rng, config) + (1.0 - mask) * image.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
