"""The face step over a data set: aligned crops of every image, cached on disk outside the repository.

Training and evaluation judge the same aligned crops that prediction makes
(:func:`deepfake_core.faces.finder.crop_faces`, largest face per image). Finding
faces in 13k images takes about 20 minutes on two cores, so two caches live
under one folder, both keyed by the image file's sha256: the detections (every
face's box, landmarks and score, keyed by the settings that shape detection)
and the crops as lossless PNG files (keyed by everything that shapes a crop: the
card's ``face_crop`` section and the crop size). A changed image or setting
simply misses; a new crop margin or size re-uses the detections and costs
seconds, not another detector pass. Images where no face is found
(or only one too small to judge) are recorded as misses, so evaluation can list
them and report coverage per kind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake_core.card import file_sha256
from deepfake_core.data import ImageRecord
from deepfake_core.faces.finder import FaceDetection
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.intake import load_image

__all__ = ["CACHE_ENV", "FaceCropIndex", "build_face_crops", "default_cache_dir"]

CACHE_ENV = "DEEPFAKE_LENS_CACHE"
"""Environment variable naming the cache folder (default ``~/.cache/deepfake-lens``)."""

LogFn = Callable[[str], None]


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "deepfake-lens")


CROP_CODE_VERSION = 3
"""Bump when the crop code changes what a crop looks like for the same settings.

2: pixel-centre fix; 3: every image detected on its own, never stacked with others (see
:meth:`deepfake_core.faces.finder.FaceFinder.detect_batch`).
"""


DETECT_CODE_VERSION = 2
"""Bump when the detection code changes what it finds for the same settings.

1: each photo on its own; 2: the equalised search's first-stage threshold is 0.8.
"""

_DETECTION_FIELDS = ("detector", "detector_version", "min_score", "max_detect_side", "retry_border", "retry_equalised")
"""The ``face_crop`` fields that change what the detector finds (the rest only shape the crop)."""


_SAVE_EVERY = 1280
"""Images between saves of the two indexes, so an interrupted pass keeps most of its work."""


def _key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _settings_key(spec: FaceCropSpec, size: int) -> str:
    return _key({**spec.to_dict(), "size": size, "code": CROP_CODE_VERSION, "detect_code": DETECT_CODE_VERSION})


def _detections_key(spec: FaceCropSpec) -> str:
    settings = spec.to_dict()
    return _key({**{name: settings[name] for name in _DETECTION_FIELDS}, "code": DETECT_CODE_VERSION})


def _detection_to_json(detection: FaceDetection) -> dict:
    """Full precision (not :meth:`FaceDetection.to_dict`'s rounding): a cached crop must equal prediction's."""
    return {
        "box": [float(value) for value in detection.box],
        "landmarks": detection.landmarks.astype(float).tolist(),
        "score": float(detection.score),
    }


def _detection_from_json(entry: dict) -> FaceDetection:
    return FaceDetection(
        box=tuple(entry["box"]), landmarks=np.asarray(entry["landmarks"], dtype=np.float64), score=entry["score"]
    )


@dataclass(frozen=True)
class FaceCropIndex:
    """Where each record's aligned crop is, or why it has none.

    ``crops`` maps a record id to its crop's PNG path; ``misses`` maps the ids
    without a crop to ``"no face"`` or ``"face too small"``; ``faces_found`` is
    how many faces the detector found in each image.
    """

    crops: dict[str, Path]
    misses: dict[str, str]
    faces_found: dict[str, int]

    def coverage(self, records: Sequence[ImageRecord]) -> dict[str, dict[str, float | int]]:
        """Per kind: images, images with a crop, their share, and misses."""
        totals = Counter(record.kind for record in records)
        found = Counter(record.kind for record in records if record.id in self.crops)
        return {
            kind: {
                "n": totals[kind],
                "with_face": found[kind],
                "no_face": totals[kind] - found[kind],
                "share": found[kind] / totals[kind],
            }
            for kind in sorted(totals)
        }

    def load(self, record_id: str) -> np.ndarray:
        """The crop of one record as an RGB uint8 array."""
        return load_image(self.crops[record_id])


def build_face_crops(
    records: Sequence[ImageRecord],
    root: str | Path,
    spec: FaceCropSpec,
    *,
    size: int,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
) -> FaceCropIndex:
    """Crop the largest face of every record's image (from the caches where possible) and index the crops."""
    cache = Path(cache_dir or default_cache_dir())
    folder = cache / "face_crops" / _settings_key(spec, size)
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / "index.json"
    known: dict[str, dict] = _read_index(index_path)
    detections_path = cache / "face_detections" / _detections_key(spec) / "index.json"
    detections_path.parent.mkdir(parents=True, exist_ok=True)
    detected: dict[str, list[dict]] = _read_index(detections_path)
    hashes = {record.id: file_sha256(record.path(root)) for record in records}
    todo = [record for record in records if hashes[record.id] not in known]
    if todo:
        undetected = sum(hashes[record.id] not in detected for record in todo)
        log(f"face step: cropping {len(todo)} of {len(records)} images, finding faces in {undetected} (cache {folder})")
        from deepfake_core.faces.finder import FaceFinder, crop_faces

        finder = FaceFinder(spec) if undetected else None
        for done, record in enumerate(todo, start=1):
            digest = hashes[record.id]
            image = load_image(record.path(root))
            if digest not in detected:
                detected[digest] = [_detection_to_json(face) for face in finder.detect(image)]
            faces_in_image = [_detection_from_json(entry) for entry in detected[digest]]
            entry: dict = {"faces": len(faces_in_image)}
            faces = crop_faces(image, faces_in_image[:1], spec, size=size)
            if faces and faces[0].crop is not None:
                name = digest + ".png"
                cv2.imwrite(str(folder / name), cv2.cvtColor(faces[0].crop, cv2.COLOR_RGB2BGR))
                entry.update(crop=name, score=faces[0].detection.score)
            else:
                entry["miss"] = "face too small" if faces else "no face"
            known[digest] = entry
            if done % _SAVE_EVERY == 0 or done == len(todo):
                _write_index(detections_path, detected)
                _write_index(index_path, known)
                log(f"face step: {done}/{len(todo)} images")
    crops, misses, found = {}, {}, {}
    for record in records:
        entry = known[hashes[record.id]]
        found[record.id] = entry["faces"]
        if "crop" in entry:
            crops[record.id] = folder / entry["crop"]
        else:
            misses[record.id] = entry["miss"]
    return FaceCropIndex(crops=crops, misses=misses, faces_found=found)


def _read_index(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_index(path: Path, entries: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entries, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
