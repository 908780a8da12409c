"""The face step over a data set: aligned crops of every image, cached on disk outside the repository.

Training and evaluation judge the same aligned crops that prediction makes
(:func:`deepfake_core.faces.finder.crop_faces`, largest face per image). Finding
faces in 13k images takes minutes, so the crops are written once as lossless PNG
files under a cache folder, keyed by the image file's sha256 and by everything
that shapes a crop (the card's ``face_crop`` section and the crop size); a
changed image or setting simply misses the cache. Images where no face is found
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


def _settings_key(spec: FaceCropSpec, size: int) -> str:
    text = json.dumps({**spec.to_dict(), "size": size, "code": CROP_CODE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
    batch_size: int = 64,
    log: LogFn = print,
) -> FaceCropIndex:
    """Crop the largest face of every record's image (from the cache where possible) and index the crops."""
    folder = Path(cache_dir or default_cache_dir()) / "face_crops" / _settings_key(spec, size)
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / "index.json"
    known: dict[str, dict] = json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {}
    hashes = {record.id: file_sha256(record.path(root)) for record in records}
    todo = [record for record in records if hashes[record.id] not in known]
    if todo:
        log(f"face step: finding faces in {len(todo)} of {len(records)} images (cache {folder})")
        from deepfake_core.faces.finder import FaceFinder, crop_faces

        finder = FaceFinder(spec)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            images = [load_image(record.path(root)) for record in chunk]
            for record, image, detections in zip(chunk, images, finder.detect_batch(images), strict=True):
                entry: dict = {"faces": len(detections)}
                faces = crop_faces(image, detections[:1], spec, size=size)
                if faces and faces[0].crop is not None:
                    name = hashes[record.id] + ".png"
                    cv2.imwrite(str(folder / name), cv2.cvtColor(faces[0].crop, cv2.COLOR_RGB2BGR))
                    entry.update(crop=name, score=faces[0].detection.score)
                else:
                    entry["miss"] = "face too small" if faces else "no face"
                known[hashes[record.id]] = entry
            if (start // batch_size) % 20 == 19 or start + batch_size >= len(todo):
                _write_index(index_path, known)
                log(f"face step: {min(start + batch_size, len(todo))}/{len(todo)} images")
    crops, misses, found = {}, {}, {}
    for record in records:
        entry = known[hashes[record.id]]
        found[record.id] = entry["faces"]
        if "crop" in entry:
            crops[record.id] = folder / entry["crop"]
        else:
            misses[record.id] = entry["miss"]
    return FaceCropIndex(crops=crops, misses=misses, faces_found=found)


def _write_index(path: Path, entries: dict[str, dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entries, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
