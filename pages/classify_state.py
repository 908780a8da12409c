"""What the Classify page keeps between reruns: each input's outcome, and the rows of its results table.

Outcomes are kept in session state by (model, faces, file) at the card's threshold
(:func:`classify_images`), so adding a file classifies only that file, a threshold step re-judges
the stored probabilities without any model call, and the Explain page can offer the judged
images (:func:`last_classified`). Only shrunk copies of the pictures are kept (``pages/pictures.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import streamlit as st

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.faces.align import working_copy
from deepfake_core.faces.draw import draw_face_boxes
from deepfake_core.intake import load_image
from pages.inputs import ImageInput
from pages.pictures import BOXED_PICTURE_SIDE, FACE_THUMBNAIL_SIDE, thumbnail

if TYPE_CHECKING:
    from deepfake_core.detector import Detector
    from deepfake_core.judge import FaceVerdict, PhotoVerdicts

__all__ = ["ROW_COLUMNS", "Classified", "classify_images", "last_classified", "results_table"]

_CLASSIFIED_KEY: Final = "classified"

ROW_COLUMNS: Final = (
    "file",
    "face",
    "box",
    "face_score",
    "verdict",
    "p_fake",
    "confidence",
    "unfamiliar",
    "feature_distance",
    "threshold",
    "sha256",
    "model_id",
    "error",
)
"""The results table's and downloads' columns: one row per face (or per whole image, or per failed file)."""


@dataclass(frozen=True)
class Classified:
    """One input's outcome: the verdicts on its faces (or whole image) and a picture, or the error to show.

    ``picture`` is a display copy: a thumbnail, with a numbered box per face when the face step
    ran. The face crops in ``photo`` are thumbnails too, so a session never keeps full-size pixels.
    """

    source: ImageInput
    model_id: str
    photo: PhotoVerdicts | None
    picture: np.ndarray | None
    error: str | None
    plain: np.ndarray | None = None
    """The display copy without boxes (face step only), to draw the boxes again at another threshold."""
    plain_scale: float = 1.0
    """``plain``'s pixels per photo pixel."""

    def at_threshold(self, detector: Detector, threshold: float) -> Classified:
        """This outcome judged at ``threshold`` from its stored probabilities: no detection, no model call."""
        if self.photo is None:
            return self
        from deepfake_core.judge import at_threshold

        photo = at_threshold(self.photo, detector, threshold)
        picture = draw_face_boxes(self.plain, photo, box_scale=self.plain_scale) if self.plain is not None else None
        return replace(self, photo=photo, picture=self.picture if picture is None else picture)

    @property
    def judged(self) -> bool:
        """True when at least one face (or the whole image) got a verdict."""
        return self.photo is not None and self.photo.failure is None

    def rows(self) -> list[dict[str, Any]]:
        """Rows of the results table and downloads (:data:`ROW_COLUMNS`): one per face, or one with the error."""
        base = {"file": self.source.name, "sha256": self.source.sha256, "model_id": self.model_id}
        if self.photo is None or self.photo.no_face:
            error = self.error if self.photo is None else self.photo.failure
            return [_row(base, error=error)]
        return [_face_row(base, verdict) for verdict in self.photo.faces]


def results_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table: boxes as ``x y w h`` text, as the command line and the CSV write them."""
    table = pd.DataFrame(list(rows), columns=list(ROW_COLUMNS))
    table["box"] = table["box"].map(lambda box: " ".join(f"{value:g}" for value in box) if box else None)
    return table


def _row(base: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {column: values.get(column, base.get(column)) for column in ROW_COLUMNS}


def _face_row(base: dict[str, Any], verdict: FaceVerdict) -> dict[str, Any]:
    """One table row: the face's fields (as the command line writes them), its label under "verdict"."""
    fields = verdict.fields()
    if "label" in fields:
        fields["verdict"] = fields.pop("label")
    return _row(base, **fields)


def _slim(photo: PhotoVerdicts) -> PhotoVerdicts:
    """``photo`` with every face crop replaced by a thumbnail, for keeping in session state."""
    faces = [
        replace(verdict, face=replace(verdict.face, crop=thumbnail(verdict.face.crop, FACE_THUMBNAIL_SIDE)))
        if verdict.face is not None and verdict.face.crop is not None
        else verdict
        for verdict in photo.faces
    ]
    return replace(photo, faces=faces)


def _outcome(item: ImageInput, detector: Detector, *, faces: str) -> Classified:
    """Decode, judge (at the card's threshold) and shrink one input; an unusable file becomes an error entry."""
    from deepfake_core.judge import judge_photos  # imports TensorFlow: only pages that classify pay for it

    try:
        image = load_image(item.data)
        [photo] = judge_photos(detector, [image], faces=faces)
    except DeepfakeLensError as error:
        return Classified(item, detector.model_id, None, None, str(error))
    if not photo.face_step:
        return Classified(item, detector.model_id, _slim(photo), thumbnail(image), None)
    plain, scale = working_copy(image, BOXED_PICTURE_SIDE)
    picture = draw_face_boxes(plain, photo, box_scale=scale)
    return Classified(item, detector.model_id, _slim(photo), picture, None, plain=plain, plain_scale=scale)


def classify_images(
    inputs: Sequence[ImageInput], detector: Detector, *, threshold: float, faces: str = "all"
) -> list[Classified]:
    """Classify ``inputs`` with a progress bar; a file that is not a usable image becomes an error entry.

    ``faces`` is ``"all"``, ``"largest"`` or ``"none"`` (the whole image; always so for a model
    without a face step). Images are decoded, judged and dropped one at a time, so memory holds
    one full-size image however many are uploaded. Outcomes are kept in session state by (model,
    faces, file) at the card's threshold: adding a file classifies only that file, a threshold step
    re-judges the stored probabilities without any model call, and the Explain page can offer
    these images.
    """
    faces = faces if detector.card.face_crop is not None else "none"  # one cache entry, whatever was asked
    previous = st.session_state.get(_CLASSIFIED_KEY, {})
    keys = [(detector.model_id, faces, item.sha256, item.name) for item in inputs]
    missing = [(key, item) for key, item in zip(keys, inputs, strict=True) if key not in previous]
    bar = st.progress(0.0, text="Classifying...") if len(missing) > 1 else None
    fresh = {}
    for done, (key, item) in enumerate(missing, start=1):
        fresh[key] = _outcome(item, detector, faces=faces)
        if bar is not None:
            bar.progress(done / len(missing), text=f"Classified {done} of {len(missing)}")
    if bar is not None:
        bar.empty()
    current = {key: previous.get(key) or fresh[key] for key in keys}
    st.session_state[_CLASSIFIED_KEY] = current
    return [outcome.at_threshold(detector, threshold) for outcome in current.values()]


def last_classified() -> list[ImageInput]:
    """Images the Classify page judged in this session (at least one verdict), for the Explain page."""
    outcomes = st.session_state.get(_CLASSIFIED_KEY, {})
    return [outcome.source for outcome in outcomes.values() if outcome.judged]
