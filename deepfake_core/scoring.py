"""Decoded files in, one result per file out: what ``predict`` and ``serve`` say about an image.

``deepfake-core predict`` (on one machine or on Ray) and ``deepfake-core serve``
must give the same answer for the same file: the same face modes, the same
"no face found" result, the same rounding and the same row columns. They all
call :func:`score_inputs`, so there is one place where a photo's verdicts
become results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from deepfake_core.detector import Detector
    from deepfake_core.inputs import InputImage
    from deepfake_core.judge import FaceVerdict

__all__ = ["COLUMNS", "FileResult", "face_fields", "score_inputs"]

COLUMNS: Final = (
    "file",
    "face",
    "box",
    "face_score",
    "label",
    "p_fake",
    "confidence",
    "unfamiliar",
    "feature_distance",
    "threshold",
    "model_id",
    "sha256",
    "error",
)
"""The columns of a result row (one row per face, or per whole image), in output order."""


@dataclass(frozen=True)
class FileResult:
    """What was said about one file: a field dict per face (:func:`face_fields`), or why there is nothing to say.

    ``error`` is set when the file got no verdict at all: it could not be read, no face was
    found, or every face was too small to judge (those faces are still listed, each with its
    reason). It starts with the file's name, as the command line prints it.
    """

    file: str
    sha256: str | None = None
    faces: tuple[dict, ...] = ()
    error: str | None = None

    @property
    def judged(self) -> bool:
        return self.error is None

    def rows(self) -> list[dict]:
        """One row per face (:data:`COLUMNS`); a file without faces to list is one row with its ``error``."""
        if not self.faces:
            return [{"file": self.file, "sha256": self.sha256, "error": self.error}]
        return [{"file": self.file, **face, "sha256": self.sha256} for face in self.faces]


def face_fields(verdict: FaceVerdict) -> dict:
    """The row fields of one face (:meth:`FaceVerdict.fields`), probabilities rounded for printing."""
    fields = verdict.fields()
    if verdict.prediction is not None:
        fields.update(p_fake=round(fields["p_fake"], 6), confidence=round(fields["confidence"], 6))
        if fields["feature_distance"] is not None:
            fields["feature_distance"] = round(fields["feature_distance"], 3)
    return fields


def score_inputs(
    detector: Detector, items: Sequence[InputImage], *, faces: str = "all", threshold: float | None = None
) -> list[FileResult]:
    """Judge the readable ``items`` in shared model calls; one :class:`FileResult` per item, in order.

    An item that could not be read keeps its ``error``; ``faces`` is ``"all"``, ``"largest"``
    or ``"none"`` (see :func:`deepfake_core.judge.judge_photos`).
    """
    from deepfake_core.judge import judge_photos

    readable = [item for item in items if item.error is None]
    photos = iter(judge_photos(detector, [item.image for item in readable], faces=faces, threshold=threshold))
    results = []
    for item in items:
        if item.error is not None:
            results.append(FileResult(str(item.path), error=item.error))
            continue
        photo = next(photos)
        failure = None if photo.failure is None else f"{item.path.name}: {photo.failure}"
        fields = tuple(face_fields(verdict) for verdict in photo.faces)
        results.append(FileResult(str(item.path), sha256=item.sha256, faces=fields, error=failure))
    return results
