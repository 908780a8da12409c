"""Finding faces in photos and turning them into the aligned crops a model judges.

The detector is MTCNN from the ``mtcnn`` package (MIT; its weights ship inside
the wheel, so nothing is downloaded). It runs on a working copy of at most
``spec.max_detect_side`` pixels on the long side; boxes and landmarks are mapped
back to the photo and the crop is cut from the photo itself, at full detail.
One :class:`FaceFinder` is shared by every session: detection is serialised by
a lock, which keeps memory bounded and the detector's state safe.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from deepfake_core.faces.align import align_face, working_copy
from deepfake_core.faces.spec import FaceCropSpec

__all__ = ["FACE_MODES", "Face", "FaceDetection", "FaceFinder", "FaceMode", "crop_faces", "select_faces"]

FaceMode = Literal["all", "largest"]
FACE_MODES: tuple[str, ...] = ("all", "largest", "none")
"""What ``--faces`` accepts: every face, the largest face, or no face step (the whole image)."""

_EQUALISED_PNET_THRESHOLD = 0.8
"""MTCNN's first-stage threshold in the equalised search (its default is 0.6).

Equalising a photo without a face (a cat, a cup) raises many weak first-stage candidates, and
the next stage's batch of them raised the memory high-water mark of three rounds over the cat, the
cup and the astronaut from +38 to +110 MB; at 0.8 it stays at +38 MB, and the search still finds
the same 7 of the 12 DFDC frames the plain searches miss (21 of the data set's 58 misses in all,
against 22 at 0.6; ``benchmarks/face_data.py``).
"""

_MTCNN_MIN_FACE = 20
"""Smallest face MTCNN looks for, in working-copy pixels (mtcnn 1.0.0 fails silently above about 24)."""


@dataclass(frozen=True)
class FaceDetection:
    """One face as the detector saw it, in photo pixels.

    ``box`` is ``(x, y, width, height)``; ``landmarks`` is ``(5, 2)``: eyes, nose
    tip, mouth corners, image-left first; ``score`` is the detector's confidence.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def size(self) -> float:
        """The box's shorter side: what ``min_face_size`` is compared with."""
        return min(self.box[2], self.box[3])

    def to_dict(self) -> dict:
        return {
            "box": [round(float(value), 1) for value in self.box],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "score": round(float(self.score), 4),
        }


@dataclass(frozen=True)
class Face:
    """A detected face, numbered from 1 (largest first), with its aligned crop unless it is too small to judge.

    ``matrix`` maps photo pixels to crop pixels (``None`` with the crop).
    """

    number: int
    detection: FaceDetection
    crop: np.ndarray | None
    matrix: np.ndarray | None
    too_small: bool

    def to_dict(self) -> dict:
        return {"face": self.number, **self.detection.to_dict(), "too_small": self.too_small}

    def record(self, *, faces_found: int, crop_size: int) -> dict:
        """Which face of the photo this is and where, as explanation records store it.

        Number, box ``[x, y, w, h]``, landmarks and detector score in photo pixels,
        how many faces the photo had, the crop's side, and the ``2 x 3`` photo -> crop
        matrix that :func:`deepfake_core.faces.align.paste_back` takes.
        """
        if self.matrix is None:
            raise ValueError(f"face {self.number} was too small to crop: it has no place in a crop to record")
        detection = self.detection.to_dict()
        return {
            "number": self.number,
            "box": detection["box"],
            "landmarks": detection["landmarks"],
            "score": detection["score"],
            "faces_found": faces_found,
            "crop_size": crop_size,
            "photo_to_crop": [[round(float(value), 6) for value in row] for row in self.matrix],
        }


class FaceFinder:
    """MTCNN behind a lock, for one :class:`FaceCropSpec`."""

    def __init__(self, spec: FaceCropSpec) -> None:
        from mtcnn import MTCNN  # imports TensorFlow: only when a face step is really needed

        self.spec = spec
        self._mtcnn = MTCNN()
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """Every face in an RGB uint8 photo with a score of at least ``spec.min_score``, largest first.

        A photo where nothing is found is searched again inside a plain border
        (``spec.retry_border``), which finds faces that fill the whole frame, and
        then, with ``spec.retry_equalised``, once more with its contrast equalised
        inside a border that repeats its edges (see :class:`FaceCropSpec`).
        """
        return self.detect_in_copy(*working_copy(image, self.spec.max_detect_side))

    def detect_in_copy(self, copy: np.ndarray, factor: float) -> list[FaceDetection]:
        """:meth:`detect` on the photo's working copy (``working_copy(photo, spec.max_detect_side)``), in photo pixels.

        For a caller that drops a large photo while its faces are searched
        (:func:`deepfake_core.judge.judge_photo_source`).
        """
        found = self._detect_copy(copy, 1.0 / factor, 0)
        border = round(max(copy.shape[:2]) * self.spec.retry_border)
        if not found and self.spec.retry_border > 0:
            padded = cv2.copyMakeBorder(copy, border, border, border, border, cv2.BORDER_CONSTANT)
            found = self._detect_copy(padded, 1.0 / factor, border)
        if not found and self.spec.retry_equalised:
            padded = cv2.copyMakeBorder(_equalised(copy), border, border, border, border, cv2.BORDER_REPLICATE)
            found = self._detect_copy(padded, 1.0 / factor, border, threshold_pnet=_EQUALISED_PNET_THRESHOLD)
        return sorted(found, key=lambda face: face.box[2] * face.box[3], reverse=True)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FaceDetection]]:
        """:meth:`detect` for many photos: each photo's faces are exactly what :meth:`detect` finds alone.

        MTCNN can stack same-sized photos into one call, but a stacked call computes in a
        different order and a box near a threshold then comes out a few pixels off: in a test
        over 64 data-set images, 4 got another box, enough to turn P(fake) 0.21 into 0.74 for
        one file. A verdict must not depend on which files share a batch (the CLI's
        ``--batch-size``, a resumed Ray run, a dashboard upload of one photo), so every photo is
        detected on its own; that costs about five times the stacked call's time.
        """
        return [self.detect(image) for image in images]

    def _detect_copy(self, copy: np.ndarray, to_photo: float, border: int, **stages: float) -> list[FaceDetection]:
        """Faces in one working copy (with a border of ``border`` px), mapped back to photo pixels.

        ``stages`` are MTCNN stage settings (e.g. ``threshold_pnet``) for this search only.
        """
        detections = (_detection(row, to_photo, border) for row in self._run(copy, **stages))
        return [detection for detection in detections if detection.score >= self.spec.min_score]

    def _run(self, copy: np.ndarray, **stages: float) -> np.ndarray:
        """MTCNN rows ``[image, x1, y1, x2, y2, score, five landmark x, five landmark y]`` for one copy."""
        with self._lock:
            rows = self._mtcnn.detect_faces(
                copy,
                min_face_size=_MTCNN_MIN_FACE,
                box_format="xyxy",
                output_type="numpy",
                fit_to_image=True,
                **stages,
            )
        return np.asarray(rows, dtype=np.float64).reshape(-1, 16)

    def faces(self, image: np.ndarray, *, size: int, mode: FaceMode = "all") -> list[Face]:
        """Detect, select (``mode``) and crop the faces of one photo; see :func:`crop_faces`."""
        return crop_faces(image, select_faces(self.detect(image), mode), self.spec, size=size)


def _equalised(image: np.ndarray) -> np.ndarray:
    """``image`` with its lightness equalised locally (CLAHE in Lab), for detection only."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _detection(row: np.ndarray, to_photo: float, border: int = 0) -> FaceDetection:
    """An MTCNN row on a working copy (with ``border`` px around it) -> a detection in photo pixels."""
    x1, y1, x2, y2 = ((float(value) - border) * to_photo for value in row[1:5])
    landmarks = (np.stack([row[6:11], row[11:16]], axis=1) - border) * to_photo  # mtcnn: five x, then five y
    return FaceDetection(box=(x1, y1, x2 - x1, y2 - y1), landmarks=landmarks, score=float(row[5]))


def select_faces(detections: Sequence[FaceDetection], mode: FaceMode) -> list[FaceDetection]:
    """``all`` keeps every face (largest first); ``largest`` keeps the largest one."""
    if mode == "largest":
        return list(detections[:1])
    if mode == "all":
        return list(detections)
    raise ValueError(f"face mode must be 'all' or 'largest', got {mode!r}")


def crop_faces(image: np.ndarray, detections: Sequence[FaceDetection], spec: FaceCropSpec, *, size: int) -> list[Face]:
    """Number the faces from 1 and cut the aligned ``size`` crop of each one big enough to judge."""
    faces = []
    for number, detection in enumerate(detections, start=1):
        if detection.size < spec.min_face_size:
            faces.append(Face(number, detection, crop=None, matrix=None, too_small=True))
            continue
        crop, matrix = align_face(image, detection.landmarks, size=size, crop_scale=spec.crop_scale)
        faces.append(Face(number, detection, crop=crop, matrix=matrix, too_small=False))
    return faces
