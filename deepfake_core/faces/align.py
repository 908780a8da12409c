"""Face alignment geometry: landmarks -> a similarity transform -> an aligned square crop.

Pure NumPy and OpenCV, no detector: these are the steps that must be exactly
the same in training, prediction and every explainer, so they are small and
tested against hand-computed geometry.

Landmarks are five ``(x, y)`` points in image pixels, in this order: the eye on
the image's left, the eye on the image's right, the nose tip, the mouth corner
on the left, the mouth corner on the right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = [
    "ARCFACE5_TEMPLATE",
    "align_face",
    "crop_to_photo",
    "matrix_on_copy",
    "paste_back",
    "similarity_transform",
    "template_points",
    "working_copy",
    "working_shape",
]

ARCFACE5_TEMPLATE = (
    np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
        dtype=np.float64,
    )
    / 112.0
)
"""The widely used 112 x 112 five-point face template (eyes, nose, mouth corners), in units of its side."""


def template_points(size: int, crop_scale: float) -> np.ndarray:
    """The template's five points ``(5, 2)`` in the pixels of a ``size`` square crop.

    The point halfway between the eyes' centre and the mouth's centre sits at the
    crop's centre, and the crop's side is ``crop_scale`` eye-to-mouth distances:
    2.0 spans about eyebrows to chin and cheek to cheek, so the crop stays inside
    even the tightest face crops of the training data (no border fill that would
    tell one source from another).
    """
    eyes = ARCFACE5_TEMPLATE[0:2].mean(axis=0)
    mouth = ARCFACE5_TEMPLATE[3:5].mean(axis=0)
    distance = float(np.linalg.norm(mouth - eyes))
    centre = (eyes + mouth) / 2.0
    return (ARCFACE5_TEMPLATE - centre) / distance * (size / crop_scale) + size / 2.0


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The ``2 x 3`` rotation + uniform scale + translation that maps ``source`` points closest to ``target``.

    Least squares over all points (Umeyama's closed form), never a reflection:
    a mirrored face would be a different face.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"need two matching (N >= 2, 2) point sets, got {source.shape} and {target.shape}")
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    source_variance = (source_centred**2).sum() / len(source)
    if source_variance <= 1e-12:
        raise ValueError("the source points coincide: no transform is defined")
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / source_variance)
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - matrix[:, :2] @ source_mean
    return matrix


def _invert(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix.astype(np.float64))


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def align_face(
    image: np.ndarray, landmarks: np.ndarray, *, size: int, crop_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face with ``landmarks`` onto the template: ``(uint8 (size, size, 3) crop, 2 x 3 photo->crop matrix)``.

    A face larger than the crop is first shrunk with area interpolation (only
    the region the crop covers), so the crop is not aliased; the remaining warp
    is bilinear. Parts of the crop outside the photo are filled by reflecting the
    photo at its border.
    """
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, C) image, got {image.dtype} {image.shape}")
    matrix = similarity_transform(landmarks, template_points(size, crop_scale))
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    corners = _apply(_invert(matrix), np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    height, width = image.shape[:2]
    x0 = max(math.floor(corners[:, 0].min()) - 2, 0)
    y0 = max(math.floor(corners[:, 1].min()) - 2, 0)
    x1 = min(math.ceil(corners[:, 0].max()) + 2, width)
    y1 = min(math.ceil(corners[:, 1].max()) + 2, height)
    if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the photo: landmarks far off the image
        x0, y0, x1, y1 = 0, 0, width, height
    region = image[y0:y1, x0:x1]
    # photo -> region: shift by the region's corner; region -> shrunk region: scale by (sx, sy)
    sx = sy = 1.0
    if scale < 1.0:
        new_width = max(1, round(region.shape[1] * scale))
        new_height = max(1, round(region.shape[0] * scale))
        sx, sy = new_width / region.shape[1], new_height / region.shape[0]
        region = cv2.resize(region, (new_width, new_height), interpolation=cv2.INTER_AREA)
    # pixel centres: region pixel u covers photo pixels around (u + 0.5) / sx - 0.5 + x0 under area resizing
    to_region = np.array([[sx, 0.0, sx * (0.5 - x0) - 0.5], [0.0, sy, sy * (0.5 - y0) - 0.5]])
    region_to_crop = matrix @ np.vstack([_invert(to_region), [0.0, 0.0, 1.0]])
    crop = cv2.warpAffine(
        region, region_to_crop, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return crop, matrix


def crop_to_photo(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a photo -> crop matrix: crop pixels back to photo pixels."""
    return _invert(matrix)


def paste_back(
    photo: np.ndarray,
    crop_image: np.ndarray,
    matrix: np.ndarray,
    *,
    crop_size: int | None = None,
    max_side: int | None = None,
) -> np.ndarray:
    """Draw ``crop_image`` (e.g. an explanation overlay of an aligned crop) onto ``photo`` at the face's place.

    ``matrix`` maps photo pixels to the pixels of a ``crop_size`` crop
    (``align_face``'s second result); ``crop_image`` may be any size, it is
    scaled to that crop first. With ``max_side`` the photo is first shrunk to a
    display copy of at most that long side, so a 40 MP photo never goes through
    the float blend at full size. Returns a new uint8 picture.
    """
    crop_size = crop_size or crop_image.shape[0]
    if crop_image.shape[:2] != (crop_size, crop_size):
        crop_image = cv2.resize(crop_image, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
    if max_side is not None:
        photo, factor = working_copy(photo, max_side)
        matrix = matrix_on_copy(matrix, factor)
    height, width = photo.shape[:2]
    back = crop_to_photo(matrix)
    warped = cv2.warpAffine(crop_image, back, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = (
        cv2.warpAffine(
            np.full((crop_size, crop_size), 255, np.uint8), back, (width, height), flags=cv2.INTER_LINEAR
        ).astype(np.float32)[..., None]
        / 255.0
    )
    blended = photo.astype(np.float32) * (1.0 - mask) + warped.astype(np.float32) * mask
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def matrix_on_copy(matrix: np.ndarray, factor: float) -> np.ndarray:
    """The photo -> crop ``matrix`` carried over to a working copy of the photo shrunk by ``factor``.

    Copy pixel ``u`` sits at photo pixel ``(u + 0.5) / factor - 0.5`` (pixel centres under area
    resizing), so a drawing pasted onto the copy lands where it would on the photo.
    """
    linear = matrix[:, :2] / factor
    offset = matrix[:, :2] @ np.full(2, 0.5 / factor - 0.5) + matrix[:, 2]
    return np.hstack([linear, offset[:, None]])


def working_shape(shape: Sequence[int], max_side: int | None) -> tuple[int, int]:
    """The ``(H, W)`` of the working copy of an image of ``shape``: long side at most ``max_side``, aspect kept.

    ``max_side=None`` keeps the size. The one rounding rule for every working copy (face
    detection, explanation maps), so copies of one photo made for different steps agree.
    """
    height, width = int(shape[0]), int(shape[1])
    if max_side is None or max(height, width) <= max_side:
        return height, width
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    factor = max_side / max(height, width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def working_copy(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """``image`` shrunk (area interpolation) to :func:`working_shape`, and the factor used.

    Multiply a working-copy coordinate by ``1 / factor`` to get photo pixels.
    """
    height, width = working_shape(image.shape, max_side)
    if (height, width) == image.shape[:2]:
        return image, 1.0
    factor = max_side / max(image.shape[:2])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), factor
