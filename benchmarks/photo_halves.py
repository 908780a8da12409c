"""Unseen fakes against only the people photos a photo-trained manifest leaves out, for any stored run.

Usage::

    deepfake-core split --data ../shared/data/faces --out runs/pp/manifest_photos1.json --seed 0 \\
        --add-real ../shared/data/people_photos
    python benchmarks/photo_halves.py --manifest runs/pp/manifest_photos1.json \\
        model/evaluation/generalisation/*_loo_diffusion_mirror_all_unseen.json runs/pp_eval/*.json

A run trained with ``split --add-real`` is scored by ``evaluate`` on the photos its manifest does
not train on, and every earlier run on all of them, so their stored figures against the photos
do not compare. This finds which photo each stored photo face came from (the face step of the
card given by ``--card``, which the stored runs share: it must find as many faces as a run
scored) and keeps, for a run that scored every photo, only the faces of the photos the manifest
leaves out. Per run it prints the ROC AUC of the unseen fakes (a leave-one-out run's left-out
fake kinds; every test fake for a run that saw every fake kind) against those photo faces and
against the real test faces, the photo faces called Fake at the run's threshold, and the share
of those fakes caught where exactly ``--photos-fake`` held photo faces are called Fake (rankings
compared at an equal count of false alarms, not a threshold to ship). For a run that left out a
real source it adds how many of that source's faces are called Fake and how the fakes rank
against them. Reads stored results only; needs ``../shared/data``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.card import load_card
from deepfake_core.data import load_manifest, scan_dataset, unseen_by
from deepfake_core.evaluation.metrics import auc_fakes_against, threshold_calling_fake
from deepfake_core.evaluation.results import load_results
from deepfake_core.faces.finder import FaceFinder
from deepfake_core.intake import load_image

ROOT = Path(__file__).resolve().parent.parent


def photo_of_each_face(photos: Path, card: Path) -> list[Path]:
    """The photo each face came from, in the order ``evaluate`` scores the faces of ``photos``."""
    card = load_card(card)
    finder = FaceFinder(card.face_crop)
    owners = []
    for record in scan_dataset(photos):
        if record.label == "Real":
            faces = finder.faces(load_image(record.path(photos)), size=card.input_size, mode="all")
            owners += [record.path(photos).resolve()] * sum(face.crop is not None for face in faces)
    return owners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--manifest", type=Path, required=True, help="a manifest written with split --add-real")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "people_photos")
    parser.add_argument("--card", type=Path, default=ROOT / "model" / "default.card.json", help="its face step")
    parser.add_argument("--photos-fake", type=int, default=7, help="held photo faces called Fake for the last column")
    args = parser.parse_args()
    manifest = load_manifest(args.manifest)
    owners = photo_of_each_face(args.photos, args.card)
    left_out = unseen_by(scan_dataset(args.photos), args.photos, manifest, args.data)
    held = {record.path(args.photos).resolve() for record in left_out}
    keep = np.array([owner in held for owner in owners])
    print(f"{len(owners)} photo faces, {keep.sum()} of them in the {len(held)} photos {args.manifest.name} leaves out")
    caught = f"caught at {args.photos_fake} Fake"
    print(f"{'run':<58}{'AUC vs held photos':>20}{'AUC vs test reals':>19}{'held photos Fake':>18}{caught:>19}")
    for path in args.results:
        results = load_results(path)
        photos = np.asarray(results.false_alarm.p_fake, dtype=float)
        if len(photos) == len(owners):
            photos = photos[keep]
        elif len(photos) != keep.sum():
            print(f"{path.name:<58}  ({len(photos)} photo faces: neither every photo nor the held ones)")
            continue
        scored = results.arrays
        unseen = np.isin(scored.kinds, results.generalisation.unseen_kinds if results.generalisation else [])
        is_fake = scored.y_fake == 1
        fakes = scored.p_fake[unseen & is_fake] if np.any(unseen & is_fake) else scored.p_fake[is_fake]
        reals = scored.p_fake[~is_fake]
        print(
            f"{path.name.removesuffix('.json')[:57]:<58}{auc_fakes_against(fakes, photos):>20.3f}"
            f"{auc_fakes_against(fakes, reals):>19.3f}{int(np.sum(photos >= results.threshold)):>11} of {len(photos)}"
            f"{np.mean(fakes > threshold_calling_fake(photos, args.photos_fake)):>19.1%}"
        )
        if np.any(unseen & ~is_fake):  # a real source left out: the fakes against it, and its false alarms
            left_reals = scored.p_fake[unseen & ~is_fake]
            print(
                f"    its unseen real faces: {int(np.sum(left_reals >= results.threshold))} of {len(left_reals)} "
                f"called Fake, AUC of the fakes against them {auc_fakes_against(fakes, left_reals):.3f}"
            )


if __name__ == "__main__":
    main()
