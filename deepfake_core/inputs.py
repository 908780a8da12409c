"""Image files named on the command line: expanded, then read and decoded one batch at a time.

``deepfake-core predict`` and ``deepfake-core explain`` take files, folders and
globs. Neither may stop a batch for one unreadable file, nor hold a whole folder
of decoded images in memory, so both read their inputs through this module.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_core.data import IMAGE_SUFFIXES
from deepfake_core.errors import ImageIntakeError
from deepfake_core.intake import image_sha256, load_image, read_source_bytes

__all__ = ["InputImage", "expand_inputs", "input_batches", "read_input"]


@dataclass(frozen=True)
class InputImage:
    """One input file: its decoded RGB ``uint8`` image and the file's sha256, or why it could not be read."""

    path: Path
    image: np.ndarray | None = None
    sha256: str | None = None
    error: str | None = None


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Files, folders (searched recursively for images) and globs -> sorted unique paths.

    A pattern that matches nothing is kept as-is, so it is reported as a failed
    file instead of silently vanishing from the batch.
    """
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            found.append(path)
        else:
            matches = sorted(Path(match) for match in glob.glob(pattern, recursive=True))
            found.extend(match for match in matches if match.is_file()) if matches else found.append(path)
    return list(dict.fromkeys(found))


def read_input(path: Path) -> InputImage:
    """Read and decode one file; intake and file-system errors become a message naming the file.

    The bytes come from intake's hardened reader, so a named pipe, a device or a
    file over the size limit is refused with a message instead of hanging the batch.
    """
    try:
        data = read_source_bytes(path)
        return InputImage(path, image=load_image(data), sha256=image_sha256(data))
    except ImageIntakeError as exc:
        return InputImage(path, error=f"{path.name}: {exc}")


def input_batches(paths: Sequence[Path], batch_size: int) -> Iterator[list[InputImage]]:
    """The inputs in order, ``batch_size`` files at a time (failed ones included, with their error)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(paths), batch_size):
        yield [read_input(path) for path in paths[start : start + batch_size]]
