"""How far does the hard pair's figure move between two equally sized samples? FFHQ vs StyleGAN on two splits.

Usage::

    python benchmarks/hard_pair.py [--models model/default.keras model/lite0_grey.keras]

The hard pair (FFHQ portraits against StyleGAN faces made to look like them) is the figure
furthest from its target, and the test split holds only 45 FFHQ and 15 StyleGAN2 faces. The
validation split holds as many, from the same sources, so scoring both shows how much of a
difference between models is the sample: a model whose hard pair moves from validation to test
by more than it differs from another model has not been shown to be better or worse.

For each model it prints ROC AUC and balanced accuracy (at the card's threshold) of FFHQ against
each StyleGAN kind, on the validation and test faces (the aligned crops of the face step, from the
cache ``deepfake-core evaluate`` uses) and on both pooled. Validation faces chose the epoch and
the temperature, so their figures lean a little in the model's favour. Needs ``../shared/data``;
a check, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.data import ImageRecord, load_manifest
from deepfake_core.detector import Detector
from deepfake_core.evaluation.metrics import pair_metrics
from deepfake_core.face_data import build_face_crops
from deepfake_core.loading import load_detector

ROOT = Path(__file__).resolve().parent.parent
REAL_KIND = "ffhq"
FAKE_KINDS = ("stylegan2_tpdne", "stylegan1024")


def crop_scores(detector: Detector, records: list[ImageRecord], data: Path) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated P(fake) of the records' cached face crops, and the kind of each (records without a face dropped)."""
    crops = build_face_crops(
        records, data, detector.card.face_crop, size=detector.card.input_size, log=lambda line: None
    )
    kept = [record for record in records if record.id in crops.crops]
    return detector.p_fake([crops.load(record.id) for record in kept]), np.array([record.kind for record in kept])


def pair_figures(scores: np.ndarray, kinds: np.ndarray, fake_kind: str, threshold: float) -> str:
    """AUC, balanced accuracy and counts of REAL_KIND against ``fake_kind``, as the stored evaluation's pairs."""
    figures = pair_metrics(
        kinds == fake_kind, scores, kinds, real_kind=REAL_KIND, fake_kind=fake_kind, threshold=threshold
    )
    n_fake = figures["n_fake"]
    return f"AUC {figures['auc']:.3f} / bal. {figures['balanced_accuracy']:.3f} ({figures['n'] - n_fake}+{n_fake})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[str(ROOT / "model" / "default.keras")])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    args = parser.parse_args()
    manifest = load_manifest(args.manifest)
    parts = {
        part: [record for record in manifest.splits[part] if record.kind in (REAL_KIND, *FAKE_KINDS)]
        for part in ("validation", "test")
    }
    for path in args.models:
        detector = load_detector(path)
        scored = {part: crop_scores(detector, records, args.data) for part, records in parts.items()}
        scored["both"] = tuple(np.concatenate(pair) for pair in zip(*scored.values(), strict=True))
        print(f"\n{detector.card.name}")
        for fake_kind in FAKE_KINDS:
            row = "  ".join(
                f"{part}: {pair_figures(scores, kinds, fake_kind, detector.card.threshold)}"
                for part, (scores, kinds) in scored.items()
            )
            print(f"  {REAL_KIND} vs {fake_kind:<16} {row}")


if __name__ == "__main__":
    main()
