"""What the Classify page keeps between reruns: each input's outcome, the results table, and what to explain.

Outcomes are kept in session state by (model, faces, file) at the card's threshold
(:func:`classify_images`), so adding a file classifies only that file, a threshold step re-judges
the stored probabilities without any model call (:meth:`Classified.at_threshold`), and the
Explain page can offer the judged images (:func:`last_classified`). They stay for the session:
the file uploader forgets its files when the visitor opens another page, so the page shows the
kept batch again (:func:`kept_inputs`) until new files replace it or the visitor clears it
(:func:`clear_results`). A face chosen for the Explain page waits here until that page takes it
(:func:`choose_for_explain`). Only shrunk copies of the pictures are kept (``pages/pictures.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import streamlit as st

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.faces.draw import draw_face_boxes
from deepfake_core.intake import load_image
from deepfake_core.report import ExplainedFace, build_report, fake_first, image_data_uri, row_flags
from pages.formatting import format_probability
from pages.inputs import SAMPLE_PARAM, ImageInput, share_in_url
from pages.pictures import BOXED_PICTURE_SIDE, FACE_THUMBNAIL_SIDE, TABLE_THUMBNAIL_SIDE, THUMBNAIL_SIDE, thumbnail

if TYPE_CHECKING:
    from deepfake_core.card import ModelCard
    from deepfake_core.detector import Detector
    from deepfake_core.judge import FaceVerdict, PhotoVerdicts

__all__ = [
    "ROW_COLUMNS",
    "TABLE_COLUMNS",
    "Classified",
    "ExplainChoice",
    "choose_for_explain",
    "classify_images",
    "clear_results",
    "deferred_report",
    "explain_choices",
    "input_key",
    "kept_inputs",
    "last_classified",
    "results_table",
    "take_explain_choice",
]

_CLASSIFIED_KEY: Final = "classified"
_CHOICE_KEY: Final = "classify:explain-choice"
_GENERATION_KEY: Final = "classify:inputs-generation"

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

TABLE_COLUMNS: Final = ("thumbnail", *ROW_COLUMNS, "flags")
"""The results table on the page: the rows' columns, with what the model saw and the flags to be wary of."""


@dataclass(frozen=True)
class ExplainChoice:
    """A judged face (or whole image) the visitor wants explained: which file, and which face (``None``: the image)."""

    sha256: str
    name: str
    face: int | None


@dataclass(frozen=True)
class Classified:
    """One input's outcome: the verdicts on its faces (or whole image) and a picture, or the error to show.

    ``picture`` is a display copy: a thumbnail of a whole-image verdict's image or, after the face
    step, the photo with a numbered box per face, drawn at the page's threshold by
    :meth:`at_threshold` (a stored outcome keeps only ``plain``, the copy without boxes, since the
    boxes' colours follow the threshold). The face crops in ``photo`` are thumbnails too, so a
    session never keeps full-size pixels.
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
    thumbnails: Mapping[int | None, str] = field(default_factory=dict)
    """Small ``data:`` URIs of :meth:`row_pictures` for the results table, made once, not on every rerun."""

    def at_threshold(self, detector: Detector, threshold: float) -> Classified:
        """This outcome judged at ``threshold`` from its stored probabilities: no detection, no model call."""
        if self.photo is None:
            return self
        from deepfake_core.judge import at_threshold

        photo = at_threshold(self.photo, detector, threshold)
        if self.plain is None:
            return replace(self, photo=photo)
        return replace(self, photo=photo, picture=draw_face_boxes(self.plain, photo, box_scale=self.plain_scale))

    @property
    def judged(self) -> bool:
        """True when at least one face (or the whole image) got a verdict."""
        return self.photo is not None and self.photo.failure is None

    def row_pictures(self) -> dict[int | None, np.ndarray]:
        """What each row shows beside it, by face number: the face's crop (what the model saw), or the picture.

        The picture stands for the row of a whole-image verdict and of a photo without a face
        (face ``None``); a face too small to judge has no crop and no picture.
        """
        if self.photo is None:
            return {}
        shown: dict[int | None, np.ndarray] = {
            verdict.number: verdict.image for verdict in self.photo.faces if verdict.image is not None
        }
        whole = self.picture if self.picture is not None else self.plain  # a photo without a face has no boxes
        if (not self.photo.face_step or self.photo.no_face) and whole is not None:
            shown[None] = whole
        return shown

    def rows(self) -> list[dict[str, Any]]:
        """Rows of the results table and downloads (:data:`ROW_COLUMNS`): one per face, or one with the error."""
        base = {"file": self.source.name, "sha256": self.source.sha256, "model_id": self.model_id}
        if self.photo is None or self.photo.no_face:
            error = self.error if self.photo is None else self.photo.failure
            return [_row(base, error=error)]
        return [_face_row(base, verdict) for verdict in self.photo.faces]


def results_table(results: Sequence[Classified]) -> pd.DataFrame:
    """The results as a table (:data:`TABLE_COLUMNS`), Fake first, then Real, then rows without a verdict.

    Boxes are ``x y w h`` text, as the command line and the CSV write them; ``thumbnail`` is a
    ``data:`` URI of what the model saw (or ``None``) and ``flags`` says what to be wary of.
    """
    rows = [
        {**row, "thumbnail": result.thumbnails.get(row["face"]), "flags": row_flags(row)}
        for result in results
        for row in result.rows()
    ]
    table = pd.DataFrame(fake_first(rows), columns=list(TABLE_COLUMNS))
    table["box"] = table["box"].map(lambda box: " ".join(f"{value:g}" for value in box) if box else None)
    return table


def explain_choices(table: pd.DataFrame) -> dict[ExplainChoice, str]:
    """The table's judged rows, in its order, as choices for the Explain page with a label each.

    A label names the file, the face and its P(fake), not the verdict: a threshold step changes
    the verdict, and a choice must keep its label for the selectbox to keep it.
    """
    judged = table[table["verdict"].notna()]
    return {
        ExplainChoice(row.sha256, row.file, None if pd.isna(row.face) else int(row.face)): (
            f"{row.file}"
            + ("" if pd.isna(row.face) else f" · face {int(row.face)}")
            + f" · P(fake) {format_probability(row.p_fake)}"
        )
        for row in judged.itertuples(index=False)
    }


def choose_for_explain(choice: ExplainChoice) -> None:
    """Remember the face the visitor asked to explain, for the Explain page to open on it."""
    st.session_state[_CHOICE_KEY] = choice


def take_explain_choice() -> ExplainChoice | None:
    """The face chosen on the Classify page since the Explain page last looked, or ``None``; taken only once.

    Taken once, so a later visit to the Explain page opens where the visitor left it, not on an
    old choice.
    """
    return st.session_state.pop(_CHOICE_KEY, None)


def input_key(name: str) -> str:
    """The key of one of the page's input widgets (``"upload"``, ``"samples"``): a new one after each clear.

    A file uploader cannot be emptied through session state, so clearing the results gives the
    input widgets new keys, and new widgets start empty.
    """
    return f"classify-{name}-{st.session_state.get(_GENERATION_KEY, 0)}"


def kept_inputs() -> list[ImageInput]:
    """The last classified batch (files and samples, in order), to show again while the inputs are empty."""
    return [outcome.source for outcome in st.session_state.get(_CLASSIFIED_KEY, {}).values()]


def clear_results() -> None:
    """Forget the classified batch, the face chosen for Explain, the inputs and the samples in the URL.

    A button's callback: it runs before the page, so the page then starts empty.
    """
    st.session_state.pop(_CLASSIFIED_KEY, None)
    st.session_state.pop(_CHOICE_KEY, None)
    st.session_state[_GENERATION_KEY] = st.session_state.get(_GENERATION_KEY, 0) + 1
    share_in_url(SAMPLE_PARAM, [])


def deferred_report(
    results: Sequence[Classified], card: ModelCard, explanations: Sequence[ExplainedFace]
) -> Callable[[], str]:
    """The HTML report of these results and explanations, for ``st.download_button`` to write when clicked.

    What it shows is taken now (the verdicts at the page's threshold); the HTML, with every
    picture encoded into it, is written only for a visitor who asks for it, and dated then.
    """
    rows = [row for result in results for row in result.rows()]
    thumbnails = {
        (result.source.sha256, face): picture for result in results for face, picture in result.row_pictures().items()
    }
    pictures = {  # the photos with numbered face boxes (a whole-image verdict's picture is its row's thumbnail)
        result.source.sha256: result.picture
        for result in results
        if result.photo is not None and result.photo.face_step and result.picture is not None
    }

    def write() -> str:
        return build_report(
            rows,
            card=card,
            created=datetime.now(timezone.utc),
            thumbnails=thumbnails,
            pictures=pictures,
            explanations=explanations,
        )

    return write


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
    from deepfake_core.judge import judge_photo_source  # imports TensorFlow: only pages that classify pay for it

    side = THUMBNAIL_SIDE if faces == "none" else BOXED_PICTURE_SIDE
    try:
        photo, picture, scale = judge_photo_source(
            detector, partial(load_image, item.data), faces=faces, preview_side=side
        )
    except DeepfakeLensError as error:
        return Classified(item, detector.model_id, None, None, str(error))
    if not photo.face_step:
        outcome = Classified(item, detector.model_id, _slim(photo), picture, None)
    else:
        outcome = Classified(item, detector.model_id, _slim(photo), None, None, plain=picture, plain_scale=scale)
    thumbnails = {
        face: image_data_uri(picture, max_side=TABLE_THUMBNAIL_SIDE) for face, picture in outcome.row_pictures().items()
    }
    return replace(outcome, thumbnails=thumbnails)


def classify_images(inputs: Sequence[ImageInput], detector: Detector, *, faces: str = "all") -> list[Classified]:
    """Classify ``inputs`` with a progress bar; a file that is not a usable image becomes an error entry.

    ``faces`` is ``"all"``, ``"largest"`` or ``"none"`` (the whole image; always so for a model
    without a face step). Images are decoded, judged and dropped one at a time, so memory holds
    one full-size image however many are uploaded. Outcomes are kept in session state by (model,
    faces, file) at the card's threshold and returned so: adding a file classifies only that file,
    :meth:`Classified.at_threshold` re-judges the stored probabilities at the page's threshold
    without any model call, and the Explain page can offer these images.
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
    return list(current.values())


def last_classified() -> list[ImageInput]:
    """Images the Classify page judged in this session (at least one verdict), for the Explain page."""
    outcomes = st.session_state.get(_CLASSIFIED_KEY, {})
    return [outcome.source for outcome in outcomes.values() if outcome.judged]
