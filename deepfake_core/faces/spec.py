"""The face step's part of the preprocessing contract: the model card's ``face_crop`` section.

A model trained on aligned face crops must be fed aligned face crops made the
same way, so how they are made (detector and its version, landmark template,
margin, smallest face judged) is written in the card beside the input size and
channel order. Cards without the section (the first models, the thesis H5) judge
the whole image, exactly as before. Nothing here imports TensorFlow: reading a
card must stay cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from deepfake_core.errors import ModelCardError

__all__ = ["DETECTORS", "TEMPLATES", "FaceCropSpec"]

DETECTORS = ("mtcnn",)
"""Face detectors the face step can run (their weights ship inside their PyPI package)."""

TEMPLATES = ("arcface5",)
"""Canonical five-landmark templates an aligned crop can be made with (see :mod:`deepfake_core.faces.align`)."""


@dataclass(frozen=True)
class FaceCropSpec:
    """How a photo becomes the aligned face crops a model judges.

    Faces are detected on a working copy whose long side is at most
    ``max_detect_side`` pixels (boxes and landmarks are mapped back to the
    photo). Each face's five landmarks are mapped onto ``template`` by a
    similarity transform, and the crop is ``card.input_size`` pixels square with
    a side of ``crop_scale`` eye-to-mouth distances (the fixed margin around the
    face; see :func:`deepfake_core.faces.align.template_points`). Faces with a
    detector score under ``min_score`` are ignored; faces whose box's shorter
    side is under ``min_face_size`` photo pixels are reported but not judged.
    A photo where no face is found is searched once more with a plain border of
    ``retry_border`` times its long side around it: MTCNN misses faces that fill
    the whole frame (tight face crops) and finds them with room around them.
    With ``retry_equalised``, a photo still without a face is searched a third
    time after contrast equalisation (CLAHE on the lightness) inside a border that
    repeats the edge pixels: washed-out video frames and faces cut off by the
    frame, which the plain border misses. Detection only: the crop is always cut
    from the photo as it is. New models get it; a card without the field (written
    before it existed) keeps the two searches its model was evaluated with.
    """

    detector: str = "mtcnn"
    detector_version: str = "1.0.0"
    template: str = "arcface5"
    crop_scale: float = 2.0
    min_face_size: int = 40
    min_score: float = 0.9
    max_detect_side: int = 1024
    retry_border: float = 0.15
    retry_equalised: bool = True

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be a number, got {value!r}"
            for name, value in (
                ("crop_scale", self.crop_scale),
                ("min_score", self.min_score),
                ("retry_border", self.retry_border),
                ("min_face_size", self.min_face_size),
                ("max_detect_side", self.max_detect_side),
            )
            if isinstance(value, bool) or not isinstance(value, (int, float))
        ]
        if problems:
            raise ModelCardError("The card's face_crop section is invalid: " + "; ".join(problems) + ".")
        if self.detector not in DETECTORS:
            problems.append(f"detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.template not in TEMPLATES:
            problems.append(f"template must be one of {TEMPLATES}, got {self.template!r}")
        if not 1.0 <= float(self.crop_scale) <= 6.0:
            problems.append(f"crop_scale must lie in [1, 6], got {self.crop_scale!r}")
        if not isinstance(self.min_face_size, int) or self.min_face_size < 1:
            problems.append(f"min_face_size must be a positive integer, got {self.min_face_size!r}")
        if not 0.0 <= float(self.min_score) <= 1.0:
            problems.append(f"min_score must lie in [0, 1], got {self.min_score!r}")
        if not isinstance(self.max_detect_side, int) or not 64 <= self.max_detect_side <= 4096:
            problems.append(f"max_detect_side must be an integer between 64 and 4096, got {self.max_detect_side!r}")
        if not 0.0 <= float(self.retry_border) <= 1.0:
            problems.append(f"retry_border must lie in [0, 1], got {self.retry_border!r}")
        if not isinstance(self.retry_equalised, bool):
            problems.append(f"retry_equalised must be true or false, got {self.retry_equalised!r}")
        if problems:
            raise ModelCardError("The card's face_crop section is invalid: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> FaceCropSpec:
        """Parse the card's ``face_crop`` object, naming unknown fields instead of ignoring them."""
        if not isinstance(data, dict):
            raise ModelCardError(f"The card's face_crop section must be a JSON object, got {type(data).__name__}.")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ModelCardError(f"The card's face_crop section has unknown fields: {', '.join(unknown)}.")
        try:
            return cls(**{"retry_equalised": False, **data})  # older cards: the searches they were made with
        except TypeError as exc:
            raise ModelCardError(f"The card's face_crop section is malformed: {exc}.") from exc

    def describe(self) -> str:
        """One line for pages and notes: what a photo goes through before the model sees it."""
        equalised = ", searched again with contrast equalised when none is found" if self.retry_equalised else ""
        return (
            f"faces found by {self.detector} {self.detector_version} (long side <= {self.max_detect_side} px, "
            f"score >= {self.min_score:g}{equalised}), aligned on the {self.template} template, "
            f"crop side {self.crop_scale:g} eye-to-mouth distances; "
            f"faces under {self.min_face_size} px are not judged"
        )
