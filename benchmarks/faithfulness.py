"""Are the explanations faithful on real faces? The deletion check over a sample of the test split.

Usage::

    python benchmarks/faithfulness.py [--model model/default.keras] [--data ../shared/data/faces]
                                      [--manifest model/split_manifest.json] [--per-kind 10] [--seed 0]

Draws ``--per-kind`` images of every kind from the split (seeded), explains each
one's verdict with every method the model supports (LIME with its defaults) and
runs :func:`deepfake_core.explain.deletion_check`: blur a map's top 20 % of
pixels and ask the model again, against as many pixels blurred at random places.
Prints, per method and verdict, the mean drop in P(verdict) and the share of
images on which the map beats the random areas. Needs the face data beside the
repository (``../shared/data``); it is a check of the shipped model, not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path

from deepfake_core.data import load_manifest
from deepfake_core.explain import METHOD_NAMES, deletion_check, explain
from deepfake_core.intake import load_image
from deepfake_core.loading import default_model_dir, load_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_dir() / "default.keras")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    parser.add_argument("--manifest", type=Path, default=default_model_dir() / "split_manifest.json")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--per-kind", type=int, default=10, help="images drawn from each kind (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    detector = load_detector(args.model)
    methods = [name for name in METHOD_NAMES if detector.card.attention or name != "attention"]
    by_kind = defaultdict(list)
    for record in load_manifest(args.manifest).splits[args.split]:
        by_kind[record.kind].append(record)
    rng = random.Random(args.seed)
    records = [r for kind in sorted(by_kind) for r in rng.sample(by_kind[kind], min(args.per_kind, len(by_kind[kind])))]
    print(f"model {detector.model_id}; {len(records)} {args.split} images ({args.per_kind} per kind); {methods}")

    # (method, verdict) -> list of (drop, random drop)
    drops: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    started = time.perf_counter()
    for record in records:
        image = load_image(record.path(args.data))
        explanations = [explain(detector, image, method=method) for method in methods]
        for check in deletion_check(detector, image, explanations, seed=args.seed):
            drops[check.name, check.target_class].append((check.drop, check.random_drop))
    print(f"explained and checked in {time.perf_counter() - started:.0f} s\n")

    print(f"{'method':<10} {'verdict':<7} {'n':>3}  {'mean drop':>9}  {'random':>7}  map beats random")
    for (method, verdict), pairs in sorted(drops.items(), key=lambda item: (item[0][1], item[0][0])):
        mean_drop = statistics.fmean(drop for drop, _ in pairs)
        mean_random = statistics.fmean(random_drop for _, random_drop in pairs)
        beats = sum(drop > random_drop for drop, random_drop in pairs) / len(pairs)
        print(f"{method:<10} {verdict:<7} {len(pairs):>3}  {mean_drop:>9.3f}  {mean_random:>7.3f}  {beats:.0%}")
    print("\ndrop = P(verdict) before - after blurring the map's top 20 % of pixels; random: same area, random places")


if __name__ == "__main__":
    main()
