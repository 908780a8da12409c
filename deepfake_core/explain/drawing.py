"""Drawing any :class:`~deepfake_core.explain.base.Explanation` on its image, and the legend that goes with it.

Signed maps (LIME) use a diverging colormap centred on 0 and scaled by the
largest ``|weight|``, so equal colours mean equal weights of either sign and
white is "no effect"; unsigned maps (``0..1``) use a sequential colormap over
``0..1``. :func:`overlay` can draw at display size (``max_side``): the image and
the map are shrunk first, so a redraw (an opacity step) costs little whatever
the map's size. LIME's superpixels can be numbered (:func:`number_superpixels`)
with the ids its weight table uses. Pure numpy, OpenCV, Pillow text and
matplotlib colormaps (no figures, no Streamlit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import mark_boundaries

from deepfake_core.explain.base import Explanation, working_shape

__all__ = [
    "SIGNED_COLORMAP",
    "UNSIGNED_COLORMAP",
    "Legend",
    "colorize",
    "font",
    "legend",
    "number_superpixels",
    "overlay",
    "resized",
    "superpixel_anchors",
]

SIGNED_COLORMAP = "RdBu_r"
"""Default for signed maps: red supports the class, blue speaks against it."""

UNSIGNED_COLORMAP = "jet"
"""Default for ``0..1`` maps: red is most important."""

_BOUNDARY_COLOUR = (1.0, 1.0, 0.0)


@dataclass(frozen=True)
class Legend:
    """What a page needs to draw a colour bar: the colormap, its value range and what both ends mean."""

    colormap: str
    vmin: float
    vmax: float
    low: str
    high: str

    def gradient(self, steps: int = 256) -> np.ndarray:
        """The colour bar as an RGB ``uint8 (1, steps, 3)`` strip from ``vmin`` (left) to ``vmax`` (right)."""
        return _to_uint8(matplotlib.colormaps[self.colormap](np.linspace(0.0, 1.0, steps))[np.newaxis, :, :3])


def legend(explanation: Explanation, *, colormap: str | None = None) -> Legend:
    """The :class:`Legend` of ``explanation`` drawn with ``colormap`` (default by sign)."""
    target = explanation.target_class
    if explanation.signed:
        extent = float(np.abs(explanation.heatmap).max()) or 1.0
        return Legend(colormap or SIGNED_COLORMAP, -extent, extent, f"against '{target}'", f"supports '{target}'")
    if explanation.method == "attention":
        return Legend(colormap or UNSIGNED_COLORMAP, 0.0, 1.0, "not attended", "fully attended")
    low, high = f"no evidence for '{target}'", f"most relevant for '{target}'"
    return Legend(colormap or UNSIGNED_COLORMAP, 0.0, 1.0, low, high)


def colorize(explanation: Explanation, *, colormap: str | None = None) -> np.ndarray:
    """The map alone, coloured as its :func:`legend` says: RGB ``uint8 (H, W, 3)``."""
    return _coloured(explanation.heatmap, legend(explanation, colormap=colormap))


def overlay(
    image: np.ndarray,
    explanation: Explanation,
    *,
    colormap: str | None = None,
    opacity: float = 0.5,
    boundaries: bool = False,
    max_side: int | None = None,
) -> np.ndarray:
    """Blend the coloured map over the RGB ``uint8 (H, W, 3)`` image; returns an RGB ``uint8`` picture.

    ``opacity=0`` returns the image, ``1`` the colormap alone. ``boundaries`` draws
    the superpixel edges of explanations that have ``segments`` (LIME) and is
    ignored for the others. With ``max_side`` the picture is drawn at display
    size: image and map are first shrunk so the long side is at most ``max_side``
    (the colour scale stays the full map's).
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must lie in [0, 1], got {opacity}")
    if image.shape[:2] != explanation.heatmap.shape:
        raise ValueError(
            f"the explanation is for an image of {explanation.heatmap.shape}, not {image.shape[:2]}: "
            "draw it on the image it was computed for"
        )
    scale = legend(explanation, colormap=colormap)  # of the full map, so shrinking keeps the colours' meaning
    shape = working_shape(image.shape, max_side)
    if shape != image.shape[:2]:
        image = cv2.resize(image, shape[::-1], interpolation=cv2.INTER_AREA)
        explanation = resized(explanation, shape)
    colours = _coloured(explanation.heatmap, scale).astype(np.float32)
    return _blend(image, colours, opacity, explanation.segments if boundaries else None)


def _blend(image: np.ndarray, colours: np.ndarray, opacity: float, segments: np.ndarray | None) -> np.ndarray:
    """``(1 - opacity) * image + opacity * colours``, with superpixel edges when ``segments`` are given."""
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * colours
    if segments is not None:
        return _to_uint8(mark_boundaries(blended / 255.0, segments, color=_BOUNDARY_COLOUR))
    return np.rint(blended).astype(np.uint8)


def resized(explanation: Explanation, shape: tuple[int, int]) -> Explanation:
    """A copy of ``explanation`` whose map (area-averaged) and superpixel ids (nearest) have ``shape = (H, W)``.

    For drawing only: the provenance is kept, so the copy still says what it explains.
    """
    if tuple(shape) == explanation.heatmap.shape:
        return explanation
    size = (int(shape[1]), int(shape[0]))
    heatmap = cv2.resize(np.asarray(explanation.heatmap, dtype=np.float32), size, interpolation=cv2.INTER_AREA)
    segments = explanation.segments
    if segments is not None:
        segments = cv2.resize(segments, size, interpolation=cv2.INTER_NEAREST)
    return replace(explanation, heatmap=heatmap.reshape(shape), segments=segments)


def superpixel_anchors(segments: np.ndarray, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """For each id in ``ids`` present in ``segments``, the ``(row, col)`` deepest inside that superpixel.

    The deepest point (largest distance to the superpixel's edge) lies inside
    even a curved or hollow superpixel, where its centroid may not.
    """
    anchors: dict[int, tuple[int, int]] = {}
    for segment_id in ids:
        inside = (segments == segment_id).astype(np.uint8)
        if not inside.any():
            continue
        padded = np.pad(inside, 1)  # the image border is an edge too
        depth = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
        row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
        anchors[int(segment_id)] = (int(row), int(col))
    return anchors


def number_superpixels(picture: np.ndarray, explanation: Explanation, ids: Sequence[int]) -> np.ndarray:
    """``picture`` (a drawing of ``explanation``, any size) with each of ``ids`` written on its superpixel.

    The numbers are the superpixel ids of LIME's weight table, white with a black
    outline so they read on any colour. An explanation without segments is
    returned unchanged.
    """
    if explanation.segments is None or not len(ids):
        return picture
    height, width = picture.shape[:2]
    rows, cols = explanation.segments.shape
    canvas = Image.fromarray(picture)
    draw = ImageDraw.Draw(canvas)
    size = max(8, round(min(height, width) / 24))
    text_font = font(size)
    for segment_id, (row, col) in superpixel_anchors(explanation.segments, ids).items():
        centre = ((col + 0.5) * width / cols, (row + 0.5) * height / rows)
        draw.text(
            centre,
            str(segment_id),
            fill=(255, 255, 255),
            font=text_font,
            anchor="mm",
            stroke_width=max(1, size // 8),
            stroke_fill=(0, 0, 0),
        )
    return np.asarray(canvas)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels (no font file needed on the machine)."""
    return ImageFont.load_default(size=size)


def _coloured(heatmap: np.ndarray, scale: Legend) -> np.ndarray:
    """``heatmap`` coloured with ``scale``'s colormap and value range: RGB ``uint8``."""
    position = np.clip((heatmap - scale.vmin) / (scale.vmax - scale.vmin), 0.0, 1.0)
    return _to_uint8(matplotlib.colormaps[scale.colormap](position)[..., :3])


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    """``0..1`` floats -> ``uint8`` (rounded)."""
    return np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)
