"""Drawing the face step's result: a numbered box per face on (a display copy of) the photo.

Pure NumPy and OpenCV, like the rest of :mod:`deepfake_core.faces`; the pages only show the
picture. The colour says what happened to the face: red for a Fake verdict, blue for Real,
grey for a face that was not judged (too small). The numbers are the faces' numbers (1 =
largest), the same the verdict cards, the results table and the CLI use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from deepfake_core.faces.align import working_copy

if TYPE_CHECKING:  # type hints only: the drawing reads plain attributes and never imports the judge
    from deepfake_core.judge import FaceVerdict, PhotoVerdicts

__all__ = ["FAKE_COLOUR", "NOT_JUDGED_COLOUR", "REAL_COLOUR", "box_colour", "draw_face_boxes"]

FAKE_COLOUR = (214, 39, 40)
"""RGB of a face judged Fake (red, as the Fake badge)."""
REAL_COLOUR = (31, 119, 180)
"""RGB of a face judged Real (blue, as the Real badge)."""
NOT_JUDGED_COLOUR = (150, 150, 150)
"""RGB of a face found but not judged (too small)."""
_TEXT_COLOUR = (255, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def box_colour(verdict: FaceVerdict) -> tuple[int, int, int]:
    """The RGB colour of a face's box: Fake, Real or not judged."""
    if verdict.prediction is None:
        return NOT_JUDGED_COLOUR
    return FAKE_COLOUR if verdict.prediction.is_fake else REAL_COLOUR


def _line_width(long_side: int) -> int:
    """Box line width in pixels: about 0.4 % of the picture's long side, at least 1."""
    return max(1, round(long_side / 250))


def _font_scale(long_side: int) -> float:
    """OpenCV font scale for the face numbers: digits about 4 % of the long side tall (22 px at scale 1)."""
    return max(0.4, long_side / 550)


def draw_face_boxes(
    image: np.ndarray, photo_verdicts: PhotoVerdicts, *, max_side: int | None = None, box_scale: float = 1.0
) -> np.ndarray:
    """A copy of the RGB ``uint8 (H, W, 3)`` ``image`` with a numbered box around every face in ``photo_verdicts``.

    ``photo_verdicts`` is :func:`deepfake_core.judge.judge_photos`'s result for this image (boxes in its
    pixels). With ``max_side`` the picture is first shrunk (area interpolation) so its long side
    is at most that many pixels, and the boxes with it: a display copy that never holds the full
    photo. ``box_scale`` says how ``image`` relates to the photo the boxes were found in when
    it is already a shrunk copy (its pixels per photo pixel). Line width and label size follow
    the size of the picture drawn on. A whole-image
    verdict (no face step) has no box; the picture comes back unchanged (a copy). ``image`` is
    never modified.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    factor = box_scale
    if max_side is not None:
        image, shrink = working_copy(image, max_side)
        factor *= shrink
    canvas = np.ascontiguousarray(image).copy()
    height, width = canvas.shape[:2]
    long_side = max(height, width)
    thickness = _line_width(long_side)
    scale = _font_scale(long_side)
    text_thickness = max(1, round(scale * 2))
    for verdict in photo_verdicts.faces:
        if verdict.face is None:
            continue
        colour = box_colour(verdict)
        x, y, w, h = (value * factor for value in verdict.face.detection.box)
        x0, y0 = max(0, round(x)), max(0, round(y))
        x1, y1 = min(width - 1, round(x + w)), min(height - 1, round(y + h))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness, lineType=cv2.LINE_8)
        label = str(verdict.face.number)
        (text_w, text_h), baseline = cv2.getTextSize(label, _FONT, scale, text_thickness)
        pad = max(2, thickness)
        label_w, label_h = text_w + 2 * pad, text_h + baseline + 2 * pad
        # The label sits on the box's top-left corner, above it when there is room, inside it otherwise.
        lx0 = min(max(0, x0), max(0, width - label_w))
        ly0 = y0 - label_h if y0 - label_h >= 0 else min(y0, max(0, height - label_h))
        cv2.rectangle(canvas, (lx0, ly0), (lx0 + label_w - 1, ly0 + label_h - 1), colour, thickness=cv2.FILLED)
        cv2.putText(
            canvas,
            label,
            (lx0 + pad, ly0 + pad + text_h),
            _FONT,
            scale,
            _TEXT_COLOUR,
            text_thickness,
            lineType=cv2.LINE_AA,
        )
    return canvas
