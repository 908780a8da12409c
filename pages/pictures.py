"""How large a picture the pages keep or show, and the shrunk copies they keep or show instead.

A public demo serves many sessions from one small machine, so session state never holds
full-size decoded pixels: Classify keeps thumbnails, face crops and a photo with numbered face
boxes at the sizes below, and pictures drawn only for display are capped too. Copies are shrunk
straight from the decoded array (OpenCV, area interpolation), never through a full-size PIL image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from deepfake_core.faces.align import matrix_on_copy, paste_back, working_copy
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
    "paste_on_copy",
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
"""Longest side of pictures drawn for display only (e.g. an overlay pasted back onto the photo).

A page keeps the photo's display copy (``working_copy(photo, DISPLAY_SIDE)``, or the preview
:func:`deepfake_core.judge.judge_photo_source` makes) instead of the photo to draw on
(:func:`boxed_photo`, :func:`paste_on_copy`)."""


def thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """A copy of ``image`` shrunk to at most ``side`` pixels on its long side: session state keeps these, not photos.

    Shrunk with OpenCV straight from the array: ``Image.fromarray`` first would make a full-size
    PIL copy (a third more than the array itself for a 40 MP photo) only to throw it away.
    """
    shrunk, _ = working_copy(image, side)
    return image.copy() if shrunk is image else shrunk


def boxed_photo(image: np.ndarray, photo: PhotoVerdicts, *, scale: float = 1.0) -> np.ndarray:
    """A display copy of ``image`` with a numbered box per face of ``photo`` (see :func:`draw_face_boxes`).

    ``image`` may be a shrunk copy of the photo the faces were found in (``scale``: its pixels
    per photo pixel, as :func:`~deepfake_core.faces.align.working_copy` gives it).
    """
    return draw_face_boxes(image, photo, max_side=BOXED_PICTURE_SIDE, box_scale=scale)


def paste_on_copy(
    picture: np.ndarray, scale: float, crop_image: np.ndarray, matrix: np.ndarray, *, crop_size: int
) -> np.ndarray:
    """``crop_image`` (a drawing on a face's aligned crop) drawn onto ``picture``, the photo's display copy.

    ``matrix`` maps photo pixels to the pixels of a ``crop_size`` crop; it is carried over to
    ``picture``'s pixels (``scale`` per photo pixel) as :func:`deepfake_core.faces.align.paste_back`
    does when it shrinks the photo itself, so the result is the picture ``paste_back(photo, ...,
    max_side=DISPLAY_SIDE)`` draws, without the full-size photo.
    """
    return paste_back(picture, crop_image, matrix_on_copy(matrix, scale), crop_size=crop_size)
