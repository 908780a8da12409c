"""Class-folder data sets, their image kinds, and reproducible split manifests.

Two layouts are read: flat ``ROOT/{Real,Fake}/*`` and the thesis'
``ROOT/{Train,Validation,Test}/{Real,Fake}/*``. Each image keeps its ``kind``
(its source, e.g. ``celeba`` or ``stylegan2_tpdne``) from a ``SOURCES.tsv`` in the
root or its parent, or else from the file-name prefix, because per-kind metrics
are the only honest ones on data with shortcuts. A split is stratified by
label *and* kind, seeded, and written to a manifest whose sha256 goes into the
model card, so evaluation can prove which images it never trained on. Images
that share a source (DFDC face swaps and the real frames of the same video, named
in a ``*_videos.tsv`` table) stay on one side of the split together.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deepfake_core.errors import DataSetError

__all__ = [
    "IMAGE_SUFFIXES",
    "LABELS",
    "ImageRecord",
    "SplitManifest",
    "add_real_source",
    "load_manifest",
    "make_split",
    "read_groups",
    "scan_dataset",
    "unseen_by",
    "write_manifest",
]

LABELS = ("Fake", "Real")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
SPLITS = ("train", "validation", "test")
_LAYOUT_SPLITS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ImageRecord:
    """One image: ``id`` is its path relative to the data root, with '/' separators."""

    id: str
    label: str
    kind: str
    split: str | None = None

    def path(self, root: str | os.PathLike[str]) -> Path:
        return Path(root, *self.id.split("/"))

    @property
    def is_fake(self) -> int:
        return int(self.label == "Fake")


def _label_of(folder: str) -> str | None:
    return {"real": "Real", "fake": "Fake"}.get(folder.lower())


def _read_kinds(root: Path) -> dict[str, str]:
    """Absolute-path -> kind from a ``SOURCES.tsv`` in ``root`` or its parent."""
    for folder in (root, root.parent):
        table = folder / "SOURCES.tsv"
        if table.is_file():
            with table.open(newline="", encoding="utf-8") as handle:
                rows = csv.DictReader(handle, delimiter="\t")
                return {str((folder / row["file"]).resolve()): row["kind"] for row in rows if row.get("kind")}
    return {}


def read_groups(root: str | os.PathLike[str]) -> dict[str, str]:
    """Image id -> source group (e.g. the DFDC video) from ``*_videos.tsv`` tables in ``root`` or its parent.

    Each table has the columns ``file`` (relative to the table's folder) and
    ``source_video``; a group is named ``TABLE:VIDEO`` so tables cannot collide.
    """
    root = Path(root).resolve()
    groups: dict[str, str] = {}
    for folder in (root, root.parent):
        for table in sorted(folder.glob("*_videos.tsv")):
            with table.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle, delimiter="\t"):
                    path = (folder / row["file"]).resolve()
                    if row.get("source_video") and path.is_relative_to(root):
                        groups[path.relative_to(root).as_posix()] = f"{table.stem}:{row['source_video']}"
    return groups


def _kind_from_name(name: str, label: str) -> str:
    """``celeba_000123.jpg`` -> ``celeba``; without a prefix, the label in lower case."""
    match = re.match(r"(.+?)_\d+$", Path(name).stem)
    return match.group(1) if match else label.lower()


def scan_dataset(root: str | os.PathLike[str]) -> list[ImageRecord]:
    """All images under ``root`` in either layout, sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise DataSetError(
            f"No data folder at {root}. Expected {root}/Real and {root}/Fake (or Train/Validation/Test)."
        )
    kinds = _read_kinds(root)
    class_dirs: list[tuple[Path, str, str | None]] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        label = _label_of(child.name)
        if label:
            class_dirs.append((child, label, None))
        elif child.name.lower() in _LAYOUT_SPLITS:
            split = _LAYOUT_SPLITS[child.name.lower()]
            for sub in sorted(p for p in child.iterdir() if p.is_dir()):
                if _label_of(sub.name):
                    class_dirs.append((sub, _label_of(sub.name), split))
    records = []
    for folder, label, split in class_dirs:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                kind = kinds.get(str(path.resolve())) or _kind_from_name(path.name, label)
                records.append(ImageRecord(path.relative_to(root).as_posix(), label, kind, split))
    if not records:
        raise DataSetError(
            f"No images found under {root}: expected Real/ and Fake/ folders of PNG/JPEG/WebP/BMP files."
        )
    return sorted(records, key=lambda record: record.id)


def make_split(
    records: Sequence[ImageRecord],
    *,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    groups: dict[str, str] | None = None,
) -> dict[str, list[ImageRecord]]:
    """Seeded split stratified by (label, kind); a layout's own Train/Validation/Test wins.

    Within each (label, kind) group the images are shuffled with ``seed`` and cut
    at the fractions, so every kind (even one with a few dozen images) appears in
    every split in proportion. Images named in ``groups`` (id -> source group) are
    split by group instead: the groups are shuffled and cut at the fractions, and
    every image of a group goes where its group went, whatever its label or kind.
    """
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    if all(record.split for record in records):
        return {name: [r for r in records if r.split == name] for name in SPLITS}
    groups = groups or {}
    strata: dict[tuple[str, str], list[ImageRecord]] = defaultdict(list)
    for record in records:
        if record.id not in groups:
            strata[(record.label, record.kind)].append(record)
    splits: dict[str, list[ImageRecord]] = {name: [] for name in SPLITS}
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda record: record.id)
        random.Random(f"{seed}:{key[0]}:{key[1]}").shuffle(members)
        for name, part in zip(SPLITS, _cut(members, fractions), strict=True):
            splits[name].extend(ImageRecord(r.id, r.label, r.kind, name) for r in part)
    grouped = sorted({groups[record.id] for record in records if record.id in groups})
    random.Random(f"{seed}:groups").shuffle(grouped)
    split_of_group = {
        group: name for name, part in zip(SPLITS, _cut(grouped, fractions), strict=True) for group in part
    }
    for record in records:
        if record.id in groups:
            name = split_of_group[groups[record.id]]
            splits[name].append(ImageRecord(record.id, record.label, record.kind, name))
    return {name: sorted(part, key=lambda record: record.id) for name, part in splits.items()}


def add_real_source(
    splits: dict[str, list[ImageRecord]],
    data_root: str | os.PathLike[str],
    source_root: str | os.PathLike[str],
    *,
    share: float,
    seed: int = 0,
    complement: bool = False,
) -> dict[str, list[ImageRecord]]:
    """``splits`` with a seeded ``share`` of another folder's real images added to the train part.

    Why: the real full-frame photos (``people_photos``) are the one real source that looks
    like what strangers upload (graded, retouched stock photos), and also the false-alarm set
    that evaluation scores as a source no model trained on. Training on a share of them keeps
    the rest as that measure, since evaluation skips the photos a manifest trains or validates
    on (:func:`unseen_by`). ``complement`` trains on the images that share leaves out instead,
    so two manifests cross-fit the folder. The ids are relative to ``data_root``
    (``../people_photos/Real/...``), so one root still resolves every image of the manifest.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    reals = [record for record in scan_dataset(source_root) if record.label == "Real"]
    random.Random(f"{seed}:{Path(source_root).name}").shuffle(reals)
    cut = round(len(reals) * share)
    chosen = reals[cut:] if complement else reals[:cut]
    prefix = Path(os.path.relpath(Path(source_root).resolve(), Path(data_root).resolve())).as_posix()
    added = [ImageRecord(f"{prefix}/{record.id}", record.label, record.kind, "train") for record in chosen]
    return {**splits, "train": sorted([*splits["train"], *added], key=lambda record: record.id)}


def unseen_by(
    records: Sequence[ImageRecord],
    root: str | os.PathLike[str],
    manifest: SplitManifest,
    data_root: str | os.PathLike[str],
) -> list[ImageRecord]:
    """The ``records`` under ``root`` that ``manifest`` neither trains nor validates on (same file on disk)."""
    seen = {record.path(data_root).resolve() for part in ("train", "validation") for record in manifest.splits[part]}
    return [record for record in records if record.path(root).resolve() not in seen]


def _cut(members: list, fractions: tuple[float, float, float]) -> tuple[list, list, list]:
    n_train = round(len(members) * fractions[0])
    n_val = round(len(members) * fractions[1])
    return members[:n_train], members[n_train : n_train + n_val], members[n_train + n_val :]


@dataclass(frozen=True)
class SplitManifest:
    """A written split: which image is in which part, and the hash that identifies it."""

    root_name: str
    seed: int
    fractions: tuple[float, float, float]
    splits: dict[str, list[ImageRecord]]
    sha256: str

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> kind -> number of images."""
        result: dict[str, dict[str, int]] = {}
        for name, records in self.splits.items():
            counts: dict[str, int] = defaultdict(int)
            for record in records:
                counts[record.kind] += 1
            result[name] = dict(sorted(counts.items()))
        return result


def _canonical(splits: dict[str, list[ImageRecord]]) -> dict[str, list[list[str]]]:
    return {name: [[r.id, r.label, r.kind] for r in splits[name]] for name in SPLITS}


def _digest(splits: dict[str, list[ImageRecord]]) -> str:
    text = json.dumps(_canonical(splits), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(
    splits: dict[str, list[ImageRecord]],
    path: str | os.PathLike[str],
    *,
    root_name: str,
    seed: int,
    fractions: tuple[float, float, float],
) -> SplitManifest:
    """Write the split as JSON (``[id, label, kind]`` rows) and return it with its sha256."""
    overlap = _overlap(splits)
    if overlap:
        raise DataSetError(f"Split is invalid: {len(overlap)} images are in more than one part, e.g. {overlap[0]}.")
    manifest = SplitManifest(root_name, seed, tuple(fractions), splits, _digest(splits))
    payload = {
        "manifest_version": MANIFEST_VERSION,
        "root_name": root_name,
        "seed": seed,
        "fractions": list(fractions),
        "sha256": manifest.sha256,
        "counts": manifest.counts(),
        "splits": _canonical(splits),
    }
    Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return manifest


def _overlap(splits: dict[str, list[ImageRecord]]) -> list[str]:
    seen: dict[str, str] = {}
    clashes = []
    for name, records in splits.items():
        for record in records:
            if seen.setdefault(record.id, name) != name:
                clashes.append(record.id)
    return clashes


def load_manifest(path: str | os.PathLike[str]) -> SplitManifest:
    """Read a manifest and check its hash, so an edited file is caught before it misleads."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        if payload.get("manifest_version") != MANIFEST_VERSION:
            raise DataSetError(f"Split manifest {path} has an unknown version {payload.get('manifest_version')!r}.")
        splits = {
            name: [ImageRecord(row[0], row[1], row[2], name) for row in payload["splits"][name]] for name in SPLITS
        }
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise DataSetError(f"Split manifest {path} is missing or malformed: {exc}.") from exc
    digest = _digest(splits)
    if digest != payload.get("sha256"):
        raise DataSetError(f"Split manifest {path} was edited: its content does not match its recorded sha256.")
    return SplitManifest(payload["root_name"], payload["seed"], tuple(payload["fractions"]), splits, digest)
