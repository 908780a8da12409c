"""Does one photographic property alone make a real face "Fake"? False alarms when only that property changes.

Usage::

    python benchmarks/shortcuts.py [--models model/default.keras model/small_cnn_faces.keras] [--fakes 240]
                                   [--real-kind ffhq]

A detector can learn properties that merely happen to differ between the sources in
``../shared/data``: half of the ``sd1x_class_man`` fakes are black and white and almost no real
face is; most real sources are soft, unretouched web photos. Stock and press photos are graded,
retouched and sharpened, so such a shortcut turns into false alarms on real photos.

This check judges every face in the real people photos (``../shared/data/people_photos``) as a
user would (face step, all faces): the photos already black and white, the colour ones as they
are, and the colour ones after each single change of :mod:`deepfake_core.perturb` (greyed, muted
or vivid colour, a beauty retouch, sharpened). It prints the share of faces called Fake for each.
A change that only moves a property should not move the verdict. The same changes applied to a
seeded sample of the test split's fakes (``--fakes``) show whether a change simply makes
everything look real: the share of those fakes still caught. ``--real-kind`` adds the same table
for the test split's faces of one real kind (FFHQ: the sharp portraits the hard pair is made of).
Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deepfake_core.data import load_manifest, scan_dataset
from deepfake_core.detector import Detector
from deepfake_core.evaluation.pipeline import face_p_fake
from deepfake_core.intake import load_image
from deepfake_core.loading import load_detector
from deepfake_core.perturb import greyscale, retouch, sharpen, tone

ROOT = Path(__file__).resolve().parent.parent

CHANGES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as they are": lambda image: image,
    "greyed": greyscale,
    "muted x0.6": lambda image: tone(image, saturation=0.6),
    "vivid x1.4": lambda image: tone(image, saturation=1.4),
    "retouched": lambda image: retouch(image, 0.6),
    "sharpened": lambda image: sharpen(image, 1.0),
}
"""Column name -> one change of one property; each keeps the face and everything else as it was."""


def is_grey(image: np.ndarray) -> bool:
    """True for a photo whose channels differ by less than 2 levels on average (stored black and white)."""
    pixels = image.astype(np.int16)
    return bool(
        np.abs(pixels[..., 0] - pixels[..., 1]).mean() < 2 and np.abs(pixels[..., 1] - pixels[..., 2]).mean() < 2
    )


def share_called_fake(detector: Detector, photos: list[np.ndarray]) -> str:
    """ "x % of n": the share of every face judged in ``photos`` that gets the Fake verdict."""
    scores, _, _ = face_p_fake(detector, photos, faces="all")
    return f"{np.mean(scores >= detector.card.threshold):.1%} of {len(scores)}"


def every_change(
    images: list[np.ndarray], changes: dict[str, Callable[[np.ndarray], np.ndarray]] = CHANGES
) -> dict[str, list[np.ndarray]]:
    """Column name -> ``images`` after that column's change."""
    return {name: [change(image) for image in images] for name, change in changes.items()}


def print_table(title: str, models: list[Detector], groups: dict[str, list[np.ndarray]]) -> None:
    print(f"\n{title}")
    print(f"{'model':<24}" + "".join(f"{name:>16}" for name in groups))
    for detector in models:  # named by file: a candidate trained as "default" sits beside the shipped one
        shares = "".join(f"{share_called_fake(detector, group):>16}" for group in groups.values())
        print(f"{Path(detector.card.weights_file).stem:<24}{shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        type=Path,
        default=[ROOT / "model" / "default.keras", ROOT / "model" / "small_cnn_faces.keras"],
    )
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "people_photos")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    parser.add_argument("--fakes", type=int, default=240, help="test-split fakes to sample (0: skip that table)")
    parser.add_argument("--real-kind", help="also judge the test split's faces of this real kind after each change")
    args = parser.parse_args()
    models = [load_detector(path) for path in args.models]

    photos = [load_image(record.path(args.photos)) for record in scan_dataset(args.photos) if record.label == "Real"]
    black_and_white = [photo for photo in photos if is_grey(photo)]
    colour = [photo for photo in photos if not is_grey(photo)]
    print(f"{len(photos)} people photos: {len(black_and_white)} black and white, {len(colour)} in colour")
    groups = {"black and white": black_and_white} | every_change(colour)
    print_table("Real people-photo faces called Fake (a change should not move it)", models, groups)

    test_split = load_manifest(args.manifest).splits["test"]
    if args.real_kind:
        faces = [load_image(record.path(args.data)) for record in test_split if record.kind == args.real_kind]
        title = f"Test-split {args.real_kind} faces called Fake (a change should not move it)"
        print_table(title, models, every_change(faces))
    if args.fakes:
        fakes = [record for record in test_split if record.label == "Fake"]
        chosen = np.random.default_rng(0).choice(len(fakes), size=min(args.fakes, len(fakes)), replace=False)
        images = [load_image(fakes[index].path(args.data)) for index in sorted(chosen)]
        title = "Test-split fakes caught (a change that lowers it makes everything look real)"
        print_table(title, models, every_change(images))


if __name__ == "__main__":
    main()
