"""Do a model's false alarms on the people photos come from a worse ranking or from its threshold?

Usage::

    python benchmarks/fakes_vs_photos.py [model/evaluation/default.json model/evaluation/lite0_past.json ...]

Reads stored evaluation results only (no model is loaded): the P(fake) of each test-split fake and
of each face in the false-alarm photos (a real source no model trained on). It prints, per results
file, the ROC AUC of the test fakes against those photo faces and against the test split's real
faces, the photo faces called Fake at the stored threshold, and their median and 90th-percentile
P(fake). Two models with the same AUC but different false alarms rank alike and differ in how far
their scores' tail reaches past the threshold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.evaluation.metrics import auc_score
from deepfake_core.evaluation.results import load_results
from deepfake_core.evaluation.schema import EvaluationResults

ROOT = Path(__file__).resolve().parent.parent


def fake_ranking(results: EvaluationResults, photos: np.ndarray) -> dict[str, float]:
    """AUC of test fakes vs the photo faces and vs test reals, false-alarm share and photo P(fake) quantiles."""
    scored = results.arrays
    fakes, reals = scored.p_fake[scored.y_fake == 1], scored.p_fake[scored.y_fake == 0]

    def auc(negatives: np.ndarray) -> float | None:
        return auc_score(np.r_[np.ones(len(fakes)), np.zeros(len(negatives))], np.r_[fakes, negatives])

    return {
        "auc_vs_photos": auc(photos),
        "auc_vs_test_reals": auc(reals),
        "photos_called_fake": float(np.mean(photos >= results.threshold)),
        "photo_median": float(np.median(photos)),
        "photo_p90": float(np.quantile(photos, 0.9)),
        "n_photos": len(photos),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results",
        nargs="*",
        type=Path,
        default=[ROOT / "model" / "evaluation" / "default.json", ROOT / "model" / "evaluation" / "lite0_past.json"],
    )
    args = parser.parse_args()
    columns = ("AUC vs photos", 15), ("AUC vs test reals", 19), ("photos called Fake", 20), ("photo median", 14)
    print(f"{'model':<24}" + "".join(f"{name:>{width}}" for name, width in columns) + f"{'p90':>7}")
    for path in args.results:
        results = load_results(path)
        false_alarm = getattr(results, "false_alarm", None)
        if false_alarm is None or not false_alarm.p_fake:
            print(f"{results.model_name:<24}  (no false-alarm photos' P(fake) in {path.name})")
            continue
        r = fake_ranking(results, np.asarray(false_alarm.p_fake, dtype=float))
        print(
            f"{results.model_name:<24}{r['auc_vs_photos']:>15.3f}{r['auc_vs_test_reals']:>19.3f}"
            f"{r['photos_called_fake']:>13.1%} of {r['n_photos']:<3}{r['photo_median']:>14.3f}{r['photo_p90']:>7.3f}"
        )


if __name__ == "__main__":
    main()
