"""Would more runs of a leave-one-out fold, averaged, rank its unseen generator better? A ceiling from stored results.

Usage::

    python benchmarks/ensemble_ceiling.py [RESULTS.json ...]
    # default: one mirror-averaged result per independently trained run of the diffusion fold

Reads stored evaluation results only (no model is loaded, no image is read). Every file must be
an evaluation of the same fold on the ``test+unseen`` split with false-alarm photos, so that the
same faces were scored by every run. Each run's verdicts differ from another's in what that run
happened to learn (seed, recipe) and agree in what every run learns from this data. Averaging
the runs' log-odds removes the first; what is left is the most that more training runs, weight
soups, ensembles or their distillation into one network can reach on this data. For one run and
for ensembles of ``k`` runs (the mean over ``--draws`` seeded draws of ``k`` runs, and all of
them) it prints the ROC AUC of the unseen fakes against the real test faces and against the faces
of the people photos, and the seen kinds' AUC. Then, for the ensemble of all runs, the unseen
fakes' AUC against each real source alone: which real faces they are told apart from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.evaluation.metrics import auc_fakes_against, auc_score
from deepfake_core.evaluation.results import load_results
from deepfake_core.evaluation.schema import EvaluationResults

ROOT = Path(__file__).resolve().parent.parent
STORED = ROOT / "model" / "evaluation" / "generalisation"
DIFFUSION_RUNS = (
    "lite0_variety_run2",
    "lite0_epochs",
    "lite0_wise",
    "lite0_past",
    "lite0_mixup",
    "lite0_swa",
    "lite0_lpft",
    "lite0_frozen_bn",
    "lite0_scl",
    "lite0_scl01",
    "lite0_gap",
    "lite0_96",
    "lite0_112",
    "lite0_160",
    "lite1",
)
"""Independently trained runs of the diffusion fold (recipe variants; soups and re-mixes of a run left out)."""


def log_odds(p_fake: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p_fake, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def probability(log_odds_mean: np.ndarray) -> np.ndarray:
    """The ensemble's P(fake): the logistic of its runs' mean log-odds."""
    return 1.0 / (1.0 + np.exp(-log_odds_mean))


class Fold:
    """The faces every run of one fold scored, and each run's log-odds on them (same order in every run)."""

    def __init__(self, results: list[EvaluationResults]) -> None:
        first = results[0].arrays
        unseen_kinds = results[0].generalisation.unseen_kinds
        for other in results[1:]:
            if not np.array_equal(other.arrays.ids, first.ids) or other.generalisation.unseen_kinds != unseen_kinds:
                raise SystemExit(f"{other.model_name} scored other faces or another fold than {results[0].model_name}")
        self.names = [r.model_name for r in results]
        self.kinds, self.y_fake = first.kinds, first.y_fake
        self.unseen = np.isin(first.kinds, unseen_kinds)
        self.faces = np.array([log_odds(r.arrays.p_fake) for r in results])
        self.photos = np.array([log_odds(r.false_alarm.p_fake) for r in results])

    def figures(self, members: np.ndarray) -> tuple[float, float, float]:
        """Unseen AUC vs test reals, vs photo faces, and seen AUC of the mean log-odds of ``members``."""
        faces, photos = probability(self.faces[members].mean(axis=0)), probability(self.photos[members].mean(axis=0))
        seen = ~self.unseen
        return (
            auc_fakes_against(faces[self.unseen], faces[self.y_fake == 0]),
            auc_fakes_against(faces[self.unseen], photos),
            float(auc_score(self.y_fake[seen], faces[seen])),
        )


def row(label: str, figures: np.ndarray | tuple[float, float, float]) -> str:
    """One line of the table: unseen AUC, vs photos, seen AUC."""
    return f"{label:<42}" + "".join(f"{value:>{width}.3f}" for value, width in zip(figures, (12, 11, 10), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results",
        nargs="*",
        type=Path,
        default=[STORED / f"{run}_loo_diffusion_mirror_all_unseen.json" for run in DIFFUSION_RUNS],
    )
    parser.add_argument("--draws", type=int, default=30, help="seeded draws of k runs per ensemble size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fold = Fold([load_results(path) for path in args.results])
    runs = len(fold.names)
    print(f"{runs} runs, {int(fold.unseen.sum())} unseen fakes, {len(fold.photos[0])} photo faces")
    print(f"{'':<42}{'unseen AUC':>12}{'vs photos':>11}{'seen AUC':>10}")
    for index, name in enumerate(fold.names):
        print(row(name, fold.figures(np.array([index]))))
    rng = np.random.default_rng(args.seed)
    for k in range(1, runs + 1):
        if k == 1:
            rows, label = np.array([fold.figures(np.array([i])) for i in range(runs)]), "one run (mean of all)"
        else:
            draws = 1 if k == runs else args.draws
            rows = np.array([fold.figures(rng.choice(runs, size=k, replace=False)) for _ in range(draws)])
            label = f"ensemble of all {k}" if k == runs else f"ensemble of {k} (mean of {draws} draws)"
        print(row(label, rows.mean(axis=0)))
    everyone = probability(fold.faces.mean(axis=0))
    unseen = everyone[fold.unseen]
    print("ensemble of all runs, unseen fakes against each real source alone:")
    sources = {kind: everyone[fold.kinds == kind] for kind in sorted(set(fold.kinds[fold.y_fake == 0]))}
    sources["people photos"] = probability(fold.photos.mean(axis=0))
    for source, reals in sources.items():
        print(f"  {source:<16} {auc_fakes_against(unseen, reals):.3f}  ({len(reals)} faces)")


if __name__ == "__main__":
    main()
