"""Drawing any :class:`~deepfake_core.explain.base.Explanation` on its image, and the legend that goes with it.

Signed maps (LIME) use a diverging colormap centred on 0 and scaled by the
largest ``|weight|``, so equal colours mean equal weights of either sign and
white is "no effect"; unsigned maps (``0..1``) use a sequential colormap over
``0..1``. Pure numpy + matplotlib colormaps (no figures, no Streamlit).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import numpy as np
from skimage.segmentation import mark_boundaries

from deepfake_core.explain.base import Explanation

__all__ = ["SIGNED_COLORMAP", "UNSIGNED_COLORMAP", "Legend", "colorize", "legend", "overlay"]

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
    scale = legend(explanation, colormap=colormap)
    position = np.clip((explanation.heatmap - scale.vmin) / (scale.vmax - scale.vmin), 0.0, 1.0)
    return _to_uint8(matplotlib.colormaps[scale.colormap](position)[..., :3])


def overlay(
    image: np.ndarray,
    explanation: Explanation,
    *,
    colormap: str | None = None,
    opacity: float = 0.5,
    boundaries: bool = False,
) -> np.ndarray:
    """Blend the coloured map over the RGB ``uint8 (H, W, 3)`` image; returns the same shape and dtype.

    ``opacity=0`` returns the image, ``1`` the colormap alone. ``boundaries`` draws
    the superpixel edges of explanations that have ``segments`` (LIME) and is
    ignored for the others.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must lie in [0, 1], got {opacity}")
    if image.shape[:2] != explanation.heatmap.shape:
        raise ValueError(
            f"the explanation is for an image of {explanation.heatmap.shape}, not {image.shape[:2]}: "
            "draw it on the image it was computed for"
        )
    colours = colorize(explanation, colormap=colormap).astype(np.float32)
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * colours
    if boundaries and explanation.segments is not None:
        return _to_uint8(mark_boundaries(blended / 255.0, explanation.segments, color=_BOUNDARY_COLOUR))
    return np.rint(blended).astype(np.uint8)


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    """``0..1`` floats -> ``uint8`` (rounded)."""
    return np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)
