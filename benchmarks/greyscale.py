"""Does black and white alone make a real face "Fake"? False alarms on people photos, in colour and greyed.

Usage::

    python benchmarks/greyscale.py [--models model/default.keras model/small_cnn_faces.keras]

Half of the ``sd1x_class_man`` fakes in ``../shared/data`` are black and white and almost no
real face is, so a model can learn "grey means Fake". This check judges every face in the real
people photos (``../shared/data/people_photos``) as a user would (face step, all faces), splits
them into the photos that are already black and white and the colour ones, then judges the colour
photos again after :func:`deepfake_core.perturb.greyscale`: the same faces, only the colour gone.
Prints, per model, the share of faces called Fake in each group. Needs ``../shared/data``; a check,
not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.data import scan_dataset
from deepfake_core.detector import Detector
from deepfake_core.intake import load_image
from deepfake_core.judge import judge_photos
from deepfake_core.loading import load_detector
from deepfake_core.perturb import greyscale

ROOT = Path(__file__).resolve().parent.parent


def is_grey(image: np.ndarray) -> bool:
    """True for a photo whose channels differ by less than 2 levels on average (stored black and white)."""
    pixels = image.astype(np.int16)
    return bool(
        np.abs(pixels[..., 0] - pixels[..., 1]).mean() < 2 and np.abs(pixels[..., 1] - pixels[..., 2]).mean() < 2
    )


def p_fake_of_faces(detector: Detector, photos: list[np.ndarray]) -> np.ndarray:
    """Calibrated P(fake) of every face judged in ``photos``."""
    scores = []
    for start in range(0, len(photos), 32):
        for photo in judge_photos(detector, photos[start : start + 32], faces="all"):
            scores += [face.prediction.p_fake for face in photo.faces if face.prediction is not None]
    return np.array(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        type=Path,
        default=[ROOT / "model" / "default.keras", ROOT / "model" / "small_cnn_faces.keras"],
    )
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "people_photos")
    args = parser.parse_args()
    photos = [load_image(record.path(args.photos)) for record in scan_dataset(args.photos) if record.label == "Real"]
    grey = [photo for photo in photos if is_grey(photo)]
    colour = [photo for photo in photos if not is_grey(photo)]
    greyed = [greyscale(photo) for photo in colour]
    print(f"{len(photos)} people photos: {len(grey)} black and white, {len(colour)} in colour")
    print(f"{'model':<24} {'black-and-white photos':>24} {'colour photos':>16} {'the colour photos, greyed':>27}")
    for path in args.models:
        detector = load_detector(path)
        shares = []
        for group in (grey, colour, greyed):
            p = p_fake_of_faces(detector, group)
            shares.append(f"{np.mean(p >= detector.card.threshold):.1%} of {len(p)}")
        print(f"{detector.card.name:<24} {shares[0]:>24} {shares[1]:>16} {shares[2]:>27}")


if __name__ == "__main__":
    main()
