"""How large a picture the pages keep or show, and the shrunk copies they keep or show instead.

A public demo serves many sessions from one small machine, so session state never holds
full-size decoded pixels: Classify keeps thumbnails, face crops and a photo with numbered face
boxes at the sizes below, and pictures drawn only for display are capped too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
from PIL import Image

from deepfake_core.faces.draw import draw_face_boxes

if TYPE_CHECKING:
    from deepfake_core.judge import PhotoVerdicts

__all__ = [
    "BOXED_PICTURE_SIDE",
    "DISPLAY_SIDE",
    "FACE_THUMBNAIL_SIDE",
    "REPORT_OVERLAY_SIDE",
    "TABLE_THUMBNAIL_SIDE",
    "THUMBNAIL_SIDE",
    "boxed_photo",
    "display_copy",
    "thumbnail",
]

THUMBNAIL_SIDE: Final = 192
"""Longest side of the stored thumbnails (pixels), so results never hold full-size images."""

BOXED_PICTURE_SIDE: Final = 512
"""Longest side of the stored photo with numbered face boxes: large enough to tell the faces apart."""

FACE_THUMBNAIL_SIDE: Final = 160
"""Longest side of the stored face crops (the crops a model sees may be larger)."""

TABLE_THUMBNAIL_SIDE: Final = 48
"""Longest side of the thumbnails in the Classify page's results table: a row's height, no more."""

REPORT_OVERLAY_SIDE: Final = 256
"""Longest side of an explanation's overlay kept for the HTML report (the Explain page draws larger ones)."""

DISPLAY_SIDE: Final = 1024
"""Longest side of pictures drawn for display only (e.g. an overlay pasted back onto the photo)."""


def thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """A small display copy, so session state never keeps full-size decoded pixels."""
    picture = Image.fromarray(image)
    picture.thumbnail((side, side))
    return np.asarray(picture)


def display_copy(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk to at most :data:`DISPLAY_SIDE` pixels on its long side, for showing only."""
    return thumbnail(image, DISPLAY_SIDE)


def boxed_photo(image: np.ndarray, photo: PhotoVerdicts) -> np.ndarray:
    """A display copy of ``image`` with a numbered box per face of ``photo`` (see :func:`draw_face_boxes`)."""
    return draw_face_boxes(image, photo, max_side=BOXED_PICTURE_SIDE)
