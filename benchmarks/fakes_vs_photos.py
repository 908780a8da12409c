"""Do a model's false alarms on the people photos come from a worse ranking or from its threshold?

Usage::

    python benchmarks/fakes_vs_photos.py [model/evaluation/default.json model/evaluation/lite0_past.json ...]
    python benchmarks/fakes_vs_photos.py --unseen model/evaluation/generalisation/*stylegan*_all_unseen.json

Reads stored evaluation results only (no model is loaded): the P(fake) of each test-split fake and
of each face in the false-alarm photos (a real source no model trained on). It prints, per results
file, the ROC AUC of the test fakes against those photo faces and against the test split's real
faces, the photo faces called Fake at the stored threshold, and their median and 90th-percentile
P(fake). Two models with the same AUC but different false alarms rank alike and differ in how far
their scores' tail reaches past the threshold. To compare two such models on what a user sees, it
also prints the share of fakes caught at the threshold that would call exactly ``--photos-fake``
of the photo faces Fake (set on the photos themselves, so a comparison of rankings, not a threshold
to ship). ``--unseen`` keeps only the fakes of the kinds a leave-one-out run never saw. ``--by-kind``
adds a line per model with the share of each fake kind caught at that same threshold: a step that
ranks unseen fakes above the photos can at once rank seen manipulations below them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.evaluation.metrics import auc_fakes_against, threshold_calling_fake
from deepfake_core.evaluation.results import load_results
from deepfake_core.evaluation.schema import EvaluationResults

ROOT = Path(__file__).resolve().parent.parent


def fake_ranking(
    results: EvaluationResults, photos: np.ndarray, *, photos_fake: int, unseen: bool = False
) -> dict[str, float]:
    """AUC of the fakes vs the photo faces and vs test reals, false-alarm share, photo P(fake) quantiles, and
    the share of fakes caught where ``photos_fake`` photo faces are called Fake."""
    scored = results.arrays
    reals = scored.p_fake[scored.y_fake == 0]
    picked = np.isin(scored.kinds, results.generalisation.unseen_kinds) if unseen else scored.y_fake == 1
    fakes = scored.p_fake[picked]

    return {
        "auc_vs_photos": auc_fakes_against(fakes, photos),
        "auc_vs_test_reals": auc_fakes_against(fakes, reals),
        "photos_called_fake": float(np.mean(photos >= results.threshold)),
        "photo_median": float(np.median(photos)),
        "photo_p90": float(np.quantile(photos, 0.9)),
        "n_photos": len(photos),
        "caught_at_photos_fake": float(np.mean(fakes > threshold_calling_fake(photos, photos_fake))),
    }


def caught_per_kind(results: EvaluationResults, photos: np.ndarray, *, photos_fake: int) -> dict[str, float]:
    """The share of each fake kind's faces above the threshold that calls ``photos_fake`` photo faces Fake."""
    scored = results.arrays
    threshold = threshold_calling_fake(photos, photos_fake)
    fake_kinds = sorted(set(scored.kinds[scored.y_fake == 1]))
    return {kind: float(np.mean(scored.p_fake[scored.kinds == kind] > threshold)) for kind in fake_kinds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results",
        nargs="*",
        type=Path,
        default=[ROOT / "model" / "evaluation" / "default.json", ROOT / "model" / "evaluation" / "lite0_past.json"],
    )
    parser.add_argument("--unseen", action="store_true", help="only the fakes of a leave-one-out run's unseen kinds")
    parser.add_argument("--photos-fake", type=int, default=13, help="photo faces called Fake for the last column")
    parser.add_argument("--by-kind", action="store_true", help="also the share of each fake kind caught there")
    args = parser.parse_args()
    columns = ("AUC vs photos", 15), ("AUC vs test reals", 19), ("photos called Fake", 20), ("photo median", 14)
    caught = f"caught at {args.photos_fake} Fake"
    print(f"{'model':<46}" + "".join(f"{name:>{width}}" for name, width in columns) + f"{'p90':>7}{caught:>20}")
    for path in args.results:
        results = load_results(path)
        false_alarm = getattr(results, "false_alarm", None)
        if false_alarm is None or not false_alarm.p_fake:
            print(f"{results.model_name:<46}  (no false-alarm photos' P(fake) in {path.name})")
            continue
        photos = np.asarray(false_alarm.p_fake, dtype=float)
        r = fake_ranking(results, photos, photos_fake=args.photos_fake, unseen=args.unseen)
        print(
            f"{results.model_name:<46}{r['auc_vs_photos']:>15.3f}{r['auc_vs_test_reals']:>19.3f}"
            f"{r['photos_called_fake']:>13.1%} of {r['n_photos']:<3}{r['photo_median']:>14.3f}{r['photo_p90']:>7.3f}"
            f"{r['caught_at_photos_fake']:>20.1%}"
        )
        if args.by_kind:
            shares = caught_per_kind(results, photos, photos_fake=args.photos_fake)
            print("    caught per kind: " + "  ".join(f"{kind} {share:.1%}" for kind, share in shares.items()))


if __name__ == "__main__":
    main()
