"""Do up-sampling traces (NPR, Tan et al. 2024) survive in our images? A check per kind and per leave-out fold.

Tan et al. find that a CNN generator's up-sampling leaves every 2x2 block of pixels more alike than
two neighbours across a block border, and read it from the "neighbouring pixel relationships":
each pixel minus the top-left pixel of its 2x2 block (nearest-neighbour down- and up-sampling).
Before training a network on that residual, this checks whether the trace is in our data at all:
every stored image was shrunk with INTER_AREA from its generator's 512-1024 px to at most 256 px
(``../shared/data/README.md``), which averages whole blocks of the generator's pixels into one.

For every training, validation and test image of the split manifest, at its stored resolution
(no face crop, no resize: the trace lives on the pixel grid), it measures the residual's mean
magnitude on the grid aligned with the image (where up-sampling would have put its blocks) and on
the grid shifted by one pixel, per colour channel and per position in the block. It prints, per
kind, the aligned-to-shifted ratio (below 1: pixels alike within blocks, the trace; 1: no
trace), then fits the same weighted logistic regression as ``imagenet_probe.py`` on these
statistics for each leave-out fold and reports unseen and seen AUC.

    python benchmarks/npr_probe.py [--data ../shared/data/faces] [--c 0.1]

Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from imagenet_probe import print_folds, probe_arguments

from deepfake_core.data import ImageRecord, load_manifest
from deepfake_core.intake import load_image

QUANTILES = (0.5, 0.9, 0.99)
POSITIONS = ((0, 1), (1, 0), (1, 1))  # the block's pixels other than its top-left one
LOG_RATIOS = slice(18, 27)  # npr_statistics' columns: 9 aligned means, 9 shifted means, then these 9


def block_residual(image: np.ndarray, offset: int) -> np.ndarray:
    """Each pixel minus the top-left one of its 2x2 block, blocks starting at ``offset``: (h/2, w/2, 2, 2, c)."""
    pixels = image[offset:, offset:].astype(np.float32)
    height, width = (pixels.shape[0] // 2) * 2, (pixels.shape[1] // 2) * 2
    blocks = pixels[:height, :width].reshape(height // 2, 2, width // 2, 2, -1).transpose(0, 2, 1, 3, 4)
    return blocks - blocks[:, :, :1, :1]


def npr_statistics(image: np.ndarray) -> np.ndarray:
    """Mean |residual| per channel and block position on both grids, their log ratios, and quantiles of |residual|."""
    aligned, shifted = (np.abs(block_residual(image, offset)) for offset in (0, 1))
    aligned_means = np.array([aligned[:, :, row, col].mean(axis=(0, 1)) for row, col in POSITIONS]).ravel()
    shifted_means = np.array([shifted[:, :, row, col].mean(axis=(0, 1)) for row, col in POSITIONS]).ravel()
    log_ratio = np.log((aligned_means + 1e-3) / (shifted_means + 1e-3))
    moved = np.concatenate([aligned[:, :, row, col].ravel() for row, col in POSITIONS])
    return np.concatenate([aligned_means, shifted_means, log_ratio, np.quantile(moved, QUANTILES)])


def statistics_of(data: Path, manifest_path: Path) -> tuple[np.ndarray, list[ImageRecord], np.ndarray]:
    """The statistics, record and split name of every image of the manifest."""
    manifest = load_manifest(manifest_path)
    records = [(record, part) for part in ("train", "validation", "test") for record in manifest.splits[part]]
    started = time.perf_counter()
    rows = [npr_statistics(load_image(record.path(data))) for record, _ in records]
    print(f"statistics of {len(records)} images in {time.perf_counter() - started:.0f} s")
    return np.stack(rows), [record for record, _ in records], np.array([part for _, part in records])


def print_ratios(x: np.ndarray, records: list[ImageRecord]) -> None:
    """Per kind: the mean aligned-to-shifted ratio of |residual| over channels and positions (the NPR premise)."""
    ratio = np.exp(x[:, LOG_RATIOS]).mean(axis=1)
    by_kind: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record, value in zip(records, ratio, strict=True):
        by_kind[(record.label, record.kind)].append(float(value))
    print("\naligned / shifted 2x2-block residual (1.00: no block trace; below 1: pixels alike within blocks)")
    for (label, kind), values in sorted(by_kind.items()):
        low, high = np.percentile(values, (10, 90))
        print(f"  {label:4s} {kind:20s} {len(values):5d}  mean {np.mean(values):.3f}  10-90 % {low:.3f}-{high:.3f}")


def main() -> None:
    args = probe_arguments(__doc__)
    x, records, parts = statistics_of(args.data, args.manifest)
    print_ratios(x, records)
    print(f"\nlogistic regression on the {x.shape[1]} NPR statistics")
    print_folds(x, records, parts, args.c)


if __name__ == "__main__":
    main()
