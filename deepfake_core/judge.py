"""Photos in, one verdict per face out: the face step and the detector together.

A model whose card has a ``face_crop`` section judges aligned face crops: every
photo goes through :class:`~deepfake_core.faces.finder.FaceFinder` first, and
each face big enough to judge gets its own :class:`~deepfake_core.detector.Prediction`.
A photo with no face gets no Real/Fake verdict at all — a cat or a screenshot
is not "Real". Models without the section (the first models, the thesis H5)
judge the whole image as before, and so does ``faces="none"`` for users who
really want a verdict on the whole picture.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from deepfake_core.detector import Detector, Prediction
from deepfake_core.faces.align import working_copy
from deepfake_core.faces.finder import FACE_MODES, Face, FaceFinder, crop_faces, select_faces
from deepfake_core.faces.spec import FaceCropSpec

__all__ = [
    "FACE_MODES",
    "FaceVerdict",
    "PhotoVerdicts",
    "at_threshold",
    "face_finder",
    "judge_photo_source",
    "judge_photos",
    "warm_up_face_step",
]

ProgressCallback = Callable[[int, int], None]

_HELD_PHOTO_BYTES = 24 * 1024 * 1024
"""Above this many decoded bytes (8 MP of RGB), :func:`judge_photo_source` drops the photo while faces are searched."""

_FINDERS: dict[FaceCropSpec, FaceFinder] = {}
_FINDERS_LOCK = threading.Lock()


def face_finder(detector: Detector) -> FaceFinder | None:
    """The face finder for the detector's ``face_crop`` section, or ``None`` without a face step.

    One finder per setting for the whole process (made on first use), shared by
    every session and thread like the model itself.
    """
    spec = detector.card.face_crop
    if spec is None:
        return None
    with _FINDERS_LOCK:
        if spec not in _FINDERS:
            _FINDERS[spec] = FaceFinder(spec)
        return _FINDERS[spec]


def warm_up_face_step(detector: Detector) -> None:
    """Build the detector's face finder and run it once, so a server's first upload is not the slow one."""
    finder = face_finder(detector)
    if finder is not None:
        from skimage.data import astronaut  # a face that ships with scikit-image: every MTCNN stage runs

        finder.detect(astronaut()[::4, ::4].copy())


@dataclass(frozen=True)
class FaceVerdict:
    """The verdict on one face (``face`` is ``None`` when the whole image was judged).

    ``prediction`` is ``None`` for a face too small to judge; ``reason`` then says why.
    """

    face: Face | None
    prediction: Prediction | None
    reason: str | None = None

    @property
    def number(self) -> int | None:
        return self.face.number if self.face is not None else None

    def fields(self) -> dict:
        """One result row's fields, as the command line and the Classify page write them.

        ``face``; ``box`` and ``face_score`` when a face step ran; then ``label``,
        ``p_fake``, ``confidence``, ``unfamiliar``, ``feature_distance``, ``threshold``,
        ``model_id`` and ``error=None`` for a verdict, or only ``error`` (the reason)
        for a face too small to judge.
        """
        fields: dict = {"face": self.number}
        if self.face is not None:
            detection = self.face.detection.to_dict()
            fields.update(box=detection["box"], face_score=detection["score"])
        if self.prediction is None:
            return {**fields, "error": self.reason}
        prediction = self.prediction
        return {
            **fields,
            "label": prediction.label,
            "p_fake": prediction.p_fake,
            "confidence": prediction.confidence,
            "unfamiliar": prediction.unfamiliar,
            "feature_distance": prediction.feature_distance,
            "threshold": prediction.threshold,
            "model_id": prediction.model_id,
            "error": None,
        }

    @property
    def image(self) -> np.ndarray | None:
        """What the model saw: the aligned crop (``None`` for a whole-image verdict: see the photo)."""
        return self.face.crop if self.face is not None else None


@dataclass(frozen=True)
class PhotoVerdicts:
    """Everything said about one photo: the faces found and a verdict (or a reason) for each.

    ``face_step`` is false when the whole image was judged. With the face step,
    ``faces_found`` counts every face the detector found (before ``largest`` kept one).
    """

    face_step: bool
    faces: list[FaceVerdict] = field(default_factory=list)
    faces_found: int = 0

    @property
    def no_face(self) -> bool:
        return self.face_step and not self.faces

    @property
    def judged(self) -> list[FaceVerdict]:
        return [verdict for verdict in self.faces if verdict.prediction is not None]

    @property
    def failure(self) -> str | None:
        """Why this photo has no verdict at all, or ``None`` when at least one face (or the image) was judged."""
        if self.no_face:
            return "no face found: this model judges faces, and none was found in the picture."
        if not self.judged:
            return "; ".join(verdict.reason for verdict in self.faces if verdict.reason)
        return None


def _too_small_reason(face: Face, minimum: int) -> str:
    return (
        f"face {face.number} is {face.detection.size:.0f} px across, under the {minimum} px this model judges; "
        "use a larger picture of it."
    )


def judge_photos(
    detector: Detector,
    images: Sequence[np.ndarray],
    *,
    faces: str = "all",
    threshold: float | None = None,
    progress: ProgressCallback | None = None,
) -> list[PhotoVerdicts]:
    """Verdicts for RGB uint8 photos: per face (``faces="all"`` or ``"largest"``) or the whole image (``"none"``).

    Models without a face step always judge the whole image. All judged crops (or
    images) of the batch share the detector's model calls.
    """
    if faces not in FACE_MODES:
        raise ValueError(f"faces must be one of {FACE_MODES}, got {faces!r}")
    finder = face_finder(detector) if faces != "none" else None
    if finder is None:
        predictions = detector.predict_batch(list(images), threshold=threshold, progress=progress)
        return [PhotoVerdicts(face_step=False, faces=[FaceVerdict(None, p)]) for p in predictions]
    spec = finder.spec
    per_photo: list[tuple[list[Face], int]] = []
    for index, (image, detections) in enumerate(zip(images, finder.detect_batch(list(images)), strict=True)):
        kept = crop_faces(image, select_faces(detections, faces), spec, size=detector.card.input_size)
        per_photo.append((kept, len(detections)))
        if progress is not None:
            progress(index + 1, len(images))
    return _judge_faces(detector, per_photo, threshold=threshold)


def judge_photo_source(
    detector: Detector, decode: Callable[[], np.ndarray], *, faces: str = "all", preview_side: int
) -> tuple[PhotoVerdicts, np.ndarray, float]:
    """:func:`judge_photos` for one photo that ``decode`` gives, with a copy of at most ``preview_side`` px to show.

    Returns the verdicts, the preview (the photo itself when it is no larger) and its pixels per
    photo pixel. Why not decode and call :func:`judge_photos`: the face search on its 1,024 px
    working copy needs about 100 MB for a moment, and a 40 MP photo held beside it is another
    115 MB, which together were the public dashboard's memory peak. So a photo of more than
    8 MP is shrunk to the working copy and the preview and dropped before the search, and
    decoded again (about half a second for 40 MP) only to cut the aligned crops. The verdicts
    are those :func:`judge_photos` gives for the decoded photo; ``decode`` must give the same
    pixels every time (as :func:`deepfake_core.intake.load_image` does for the same bytes).
    """
    image = decode()
    preview, scale = working_copy(image, preview_side)
    finder = face_finder(detector) if faces != "none" else None
    if finder is None or image.nbytes <= _HELD_PHOTO_BYTES:
        [photo] = judge_photos(detector, [image], faces=faces)
        return photo, preview, scale
    copy, factor = working_copy(image, finder.spec.max_detect_side)
    del image
    detections = finder.detect_in_copy(copy, factor)
    del copy
    kept = crop_faces(decode(), select_faces(detections, faces), finder.spec, size=detector.card.input_size)
    [photo] = _judge_faces(detector, [(kept, len(detections))])
    return photo, preview, scale


def _judge_faces(
    detector: Detector, per_photo: Sequence[tuple[list[Face], int]], *, threshold: float | None = None
) -> list[PhotoVerdicts]:
    """Each photo's verdicts from its cut faces and how many were found; every crop in one batch of model calls."""
    crops = [face.crop for kept, _ in per_photo for face in kept if face.crop is not None]
    predictions = iter(detector.predict_batch(crops, threshold=threshold))
    min_face_size = detector.card.face_crop.min_face_size
    results = []
    for kept, found in per_photo:
        verdicts = [
            FaceVerdict(face, None, _too_small_reason(face, min_face_size))
            if face.crop is None
            else FaceVerdict(face, next(predictions))
            for face in kept
        ]
        results.append(PhotoVerdicts(face_step=True, faces=verdicts, faces_found=found))
    return results


def at_threshold(photo: PhotoVerdicts, detector: Detector, threshold: float) -> PhotoVerdicts:
    """``photo``'s verdicts at another threshold, from the stored probabilities (no detection, no model call)."""
    faces = [
        replace(verdict, prediction=detector.at_threshold(verdict.prediction, threshold))
        if verdict.prediction is not None
        else verdict
        for verdict in photo.faces
    ]
    return replace(photo, faces=faces)
