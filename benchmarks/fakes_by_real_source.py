"""Which real faces are a leave-one-out run's unseen fakes told apart from? Per real source, from stored results.

Usage::

    python benchmarks/fakes_by_real_source.py RESULTS.json [RESULTS.json ...]
    python benchmarks/fakes_by_real_source.py --fakes stylegan1024,stylegan2_tpdne runs/loo_eval/*stylegan*_unseen.json

Reads stored evaluation results only (no model is loaded, no image is read). For each file it prints
the ROC AUC of the ``--fakes`` kinds (every scored image of them: a ``test+unseen`` evaluation scores
all of a left-out kind's images) against the test-split faces of each real source, against all of
them together and against the faces of the false-alarm people photos; the share of those fakes
caught at the stored threshold; and the threshold's verdicts on the test faces of CelebA and of the
grey-backdrop GAN faces and on the photos. Every kind but the ``--fakes`` is restricted to the
test split of ``--manifest``, so a run that left CelebA or gan256 out of training (and so scored all
of their images) is compared with one that saw them on the same faces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.data import load_manifest
from deepfake_core.evaluation.generalisation import fakes_against_each_real_source
from deepfake_core.evaluation.metrics import auc_fakes_against
from deepfake_core.evaluation.results import load_results

ROOT = Path(__file__).resolve().parent.parent
REAL_SOURCES = ("celeba", "utkface", "ffhq", "ciplab_real", "real_dfdc")


def by_real_source(path: Path, fake_kinds: set[str], test_ids: set[str]) -> dict[str, float | None]:
    """The unseen fakes' AUC per real source and overall, and the threshold's verdicts, for one results file."""
    results = load_results(path)
    scored = results.arrays
    fakes = scored.p_fake[np.isin(scored.kinds, sorted(fake_kinds))]
    in_test = np.isin(scored.ids, sorted(test_ids))

    def test_faces(kind: str) -> np.ndarray:
        return scored.p_fake[in_test & (scored.kinds == kind)]

    if results.false_alarm is None or results.false_alarm.p_fake is None:
        raise SystemExit(f"{path} has no false-alarm photo scores: evaluate with --false-alarm-data")
    photos = np.asarray(results.false_alarm.p_fake)
    reals = np.concatenate([test_faces(kind) for kind in REAL_SOURCES])
    threshold = results.threshold
    by_source = fakes_against_each_real_source(scored, fake_kinds, keep=in_test)
    return {
        "vs test reals": auc_fakes_against(fakes, reals),
        **{kind: by_source.get(kind) for kind in REAL_SOURCES},
        "vs photos": auc_fakes_against(fakes, photos),
        "caught": float(np.mean(fakes >= threshold)),
        "gan256 caught": float(np.mean(test_faces("gan256") >= threshold)),
        "celeba called Fake": float(np.mean(test_faces("celeba") >= threshold)),
        "photos called Fake": float(np.mean(photos >= threshold)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument(
        "--fakes",
        type=lambda text: text.split(","),
        default=["sd21", "sd1x_class_man"],
        help="the unseen fake kinds, comma-separated (default: sd21,sd1x_class_man)",
    )
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    args = parser.parse_args()
    test_ids = {record.id for record in load_manifest(args.manifest).splits["test"]}
    rows = {path.stem: by_real_source(path, set(args.fakes), test_ids) for path in args.results}
    widths = {column: max(len(column), 6) for column in next(iter(rows.values()))}
    width = max(len(name) for name in rows)
    print(f"fakes: {', '.join(args.fakes)} (AUC against each real source's test faces; shares at the threshold)")
    print(f"{'run':{width}s}  " + "  ".join(f"{column:>{size}s}" for column, size in widths.items()))
    for name, figures in rows.items():
        cells = {column: "—" if value is None else f"{value:.3f}" for column, value in figures.items()}
        print(f"{name:{width}s}  " + "  ".join(f"{cells[column]:>{size}s}" for column, size in widths.items()))


if __name__ == "__main__":
    main()
