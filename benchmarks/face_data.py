"""The face step on the real data: how many faces it finds per kind, and how much of a crop it must invent.

Usage::

    python benchmarks/face_data.py [--data ../shared/data/faces] [--card model/default.card.json] [--per-kind 60]
        [--scales 2.0 2.5 3.0 3.6]

Part 1 runs the face step of the shipped default's card (``model/default.card.json``,
or ``--card``) over every image of ``--data`` — the same cached crops ``deepfake-core train --face-crop`` uses —
and prints, per kind, how many images have a usable face. Part 2 draws
``--per-kind`` images of each kind (seeded), finds the largest face, and prints
for each crop scale (crop side in eye-to-mouth distances) the mean share of the
crop that lies outside the image and the share of crops with more than 3 % outside:
pixels a crop would have to fill in, which differ by source and so let a model
tell sources apart. On the same faces it prints the side of the card's crop measured in the
stored image's own pixels (median and 10th-90th percentile): above the card's input size, the
crop is shrunk and detail is lost; at or below it, a larger input or native-resolution patches
would show no more than the file holds. Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from deepfake_core.card import load_card
from deepfake_core.data import scan_dataset
from deepfake_core.face_data import build_face_crops
from deepfake_core.faces import similarity_transform, template_points
from deepfake_core.intake import load_image

DEFAULT_CARD = Path(__file__).resolve().parents[1] / "model" / "default.card.json"


def outside_share(image: np.ndarray, landmarks: np.ndarray, crop_scale: float, size: int = 128) -> float:
    """Share of a ``size`` crop at ``crop_scale`` that falls outside ``image``."""
    matrix = similarity_transform(landmarks, template_points(size, crop_scale))
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.uint8), matrix, (size, size), flags=cv2.INTER_NEAREST)
    return 1.0 - float(inside.mean())


def native_side(landmarks: np.ndarray, crop_scale: float, size: int = 128) -> float:
    """Side, in the image's own pixels, of the square a ``size`` crop at ``crop_scale`` is cut from."""
    matrix = similarity_transform(landmarks, template_points(size, crop_scale))
    return size / float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--scales", type=float, nargs="+", default=[2.0, 2.5, 3.0, 3.6])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--card", type=Path, default=DEFAULT_CARD, help="the card whose face step is run")
    args = parser.parse_args()

    spec = load_card(args.card).face_crop
    if spec is None:
        parser.error(f"{args.card} has no face_crop section: its model judges whole images")
    records = scan_dataset(args.data)
    index = build_face_crops(records, args.data, spec, size=128, log=lambda line: None)
    print(f"faces found ({spec.describe()}):")
    print(f"{'kind':<20} {'images':>6} {'with face':>9} {'share':>7}")
    for kind, entry in index.coverage(records).items():
        print(f"{kind:<20} {entry['n']:>6} {entry['with_face']:>9} {entry['share']:>7.1%}")

    from deepfake_core.faces.finder import FaceFinder

    finder = FaceFinder(spec)
    by_kind = defaultdict(list)
    for record in records:
        by_kind[record.kind].append(record)
    print(f"\nshare of the crop outside the image (mean / crops with > 3 %), {args.per_kind} images per kind:")
    print(
        f"{'kind':<20} "
        + " ".join(f"{'scale ' + format(scale, 'g'):>16}" for scale in args.scales)
        + f"   crop side in image pixels at scale {spec.crop_scale:g} (median, 10th-90th)"
    )
    for kind, members in sorted(by_kind.items()):
        drawn = random.Random(f"{args.seed}:{kind}").sample(members, min(args.per_kind, len(members)))
        images = [load_image(record.path(args.data)) for record in drawn]
        shares, sides = defaultdict(list), []
        for image, faces in zip(images, finder.detect_batch(images), strict=True):
            for scale in args.scales if faces else ():
                shares[scale].append(outside_share(image, faces[0].landmarks, scale))
            if faces:
                sides.append(native_side(faces[0].landmarks, spec.crop_scale))
        cells = [f"{np.mean(shares[s]):>7.1%} / {np.mean(np.array(shares[s]) > 0.03):>5.0%}" for s in args.scales]
        low, median, high = np.percentile(sides, [10, 50, 90])
        print(
            f"{kind:<20} " + " ".join(f"{cell:>16}" for cell in cells) + f"   {median:5.0f} px ({low:.0f}-{high:.0f})"
        )


if __name__ == "__main__":
    main()
