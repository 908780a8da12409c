"""Does a file's compression decide the verdict? Faces judged with and without JPEG traces, at one size.

Usage::

    python benchmarks/compression.py [--models model/default.keras model/lite0_grey.keras] [--sample 240]

Every face in ``../shared/data`` was saved as a JPEG, but the real ones had mostly been JPEGs
before (CelebA, UTKFace, video frames) and the generated ones mostly had not, so a detector can
learn "compression traces mean Real". The photos it meets do not follow that rule: a studio
portrait or a PNG has no traces, a face re-posted on the web many.

Halving a photo's size (area interpolation) averages its earlier JPEG blocks away; this check
then saves the halved copy again at JPEG quality 95, 75 and 50. The halved columns differ in
compression only, so a model that ignores compression scores them alike. It prints, per model
and column, the share of faces called Fake among the real people photos' faces, among a seeded
sample of the test split's real faces, and among a sample of its fakes (caught). The columns
"as they are" and "half size" differ in size as well. Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from shortcuts import ROOT, every_change, print_table

from deepfake_core.data import load_manifest, scan_dataset
from deepfake_core.intake import load_image
from deepfake_core.loading import load_detector
from deepfake_core.perturb import downscale, jpeg_recompress

CHANGES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as they are": lambda image: image,
    "half size": lambda image: downscale(image, 0.5),
    **{
        f"half, JPEG {quality}": lambda image, quality=quality: jpeg_recompress(downscale(image, 0.5), quality)
        for quality in (95, 75, 50)
    },
}
"""Column name -> the photo as the model receives it; the four halved columns differ only in compression."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", type=Path, default=[ROOT / "model" / "default.keras"])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "people_photos")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    parser.add_argument("--sample", type=int, default=240, help="test-split faces to sample per label")
    args = parser.parse_args()
    models = [load_detector(path) for path in args.models]

    photos = [load_image(record.path(args.photos)) for record in scan_dataset(args.photos) if record.label == "Real"]
    print_table("Real people-photo faces called Fake", models, every_change(photos, CHANGES))
    test_split = load_manifest(args.manifest).splits["test"]
    rng = np.random.default_rng(0)
    for label, title in (("Real", "Test-split real faces called Fake"), ("Fake", "Test-split fakes caught")):
        records = [record for record in test_split if record.label == label]
        chosen = sorted(rng.choice(len(records), size=min(args.sample, len(records)), replace=False))
        images = [load_image(records[index].path(args.data)) for index in chosen]
        print_table(f"{title} ({len(images)} sampled, seed 0)", models, every_change(images, CHANGES))


if __name__ == "__main__":
    main()
