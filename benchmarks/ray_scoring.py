"""Scoring an archive: the plain ``deepfake-core predict`` against ``--engine ray`` with 1 and 2 workers.

For each scenario it writes JPEGs into a temporary folder: copies of the six built-in
samples (``samples/*.jpg``, 256 px generated faces), each with one pixel changed so every file has
its own sha256. Each scenario (``--runs COUNT:FACES``; default 5,000 images without the face step,
then 1,500 with it) scores the same files with

* **the plain CLI** (the baseline): ``deepfake-core predict FOLDER --json`` in one process;
* **Ray, 1 worker** and **Ray, 2 workers**: ``deepfake-core predict FOLDER --engine ray --workers N
  --out DIR``, each starting its own local Ray, as a user on a laptop would.

Every run is a fresh command (wall time includes start-up: Python, TensorFlow, the model, and for
Ray the local cluster and its actors), so the start-up is also measured on ``--small`` images, and
the steady rate is (images - small) / (time - small run's time). Ray's rows must agree with the
plain CLI's (files, faces, verdicts, errors, boxes within 0.5 px, P(fake) within 1e-3: a worker's
one TensorFlow thread moves P(fake) in the fifth decimal), or the run fails. Last, a rerun of the
2-worker command on the same output measures what resuming costs when every file is done. The
5,000-image scenario skips the face step (``--faces none``): with it, the three passes over 5,000
images would take well over 10 minutes on the 2-core machine, so the second scenario measures the
face step on 1,500 images.
Run: ``python benchmarks/ray_scoring.py`` (``--runs 5000:none 1500:all``, ``--small``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ENGINES = {"plain CLI": 0, "Ray, 1 worker": 1, "Ray, 2 workers": 2}
"""Each engine and its Ray workers (0: the plain CLI, the baseline)."""


def make_images(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` JPEGs: the samples in turn, each with one pixel's lowest bit flipped (its own file and hash)."""
    samples = [np.asarray(Image.open(path).convert("RGB")) for path in sorted((ROOT / "samples").glob("*.jpg"))]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for index in range(count):
        picture = samples[index % len(samples)].copy()
        row, column, channel = (int(rng.integers(0, side)) for side in picture.shape)
        picture[row, column, channel] ^= 1
        Image.fromarray(picture).save(folder / f"{index:06d}.jpg", quality=95)


def predict(folder: Path, faces: str, workers: int, out: Path, log: Path) -> tuple[float, list[dict]]:
    """Run one ``deepfake-core predict`` command (``workers`` 0: the plain CLI); its wall time and its rows."""
    command = [sys.executable, "-m", "deepfake_core.cli", "predict", str(folder), "--faces", faces]
    if workers:
        command += ["--engine", "ray", "--workers", str(workers), "--out", str(out)]
    else:
        command.append("--json")
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # always a local Ray
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    started = time.perf_counter()
    with log.open("ab") as errors:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):  # 1: some file got no verdict, which the row comparison reports
        raise RuntimeError(f"{' '.join(command)} failed with status {result.returncode}; see {log}")
    if not workers:
        return seconds, json.loads(result.stdout)
    from deepfake_core.batch_ray import read_output

    return seconds, read_output(out, "parquet").to_pylist()


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def ordered(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: (row["file"], str(row["face"])))


def largest_difference(rows: list[dict], reference: list[dict]) -> float | None:
    """The largest |P(fake) difference| from the reference rows, or ``None`` unless the rows agree on the rest.

    Agreeing means the same files, faces, verdicts and errors, and boxes within 0.5 px. P(fake) itself is
    compared apart: a Ray worker runs TensorFlow on one thread and the plain CLI on both cores, and a
    different thread count changes a float sum's order, so P(fake) moves in the fifth decimal.
    """
    if len(rows) != len(reference):
        return None
    largest = 0.0
    for row, expected in zip(ordered(rows), reference, strict=True):
        same = all(row[key] == expected[key] for key in ("file", "face", "label", "error"))
        boxes = (row["box"], expected["box"])
        if not same or (None in boxes and boxes[0] != boxes[1]):
            return None
        if boxes[0] is not None and max(abs(a - b) for a, b in zip(*boxes, strict=True)) > 0.5:
            return None
        if row["p_fake"] is not None:
            largest = max(largest, abs(row["p_fake"] - expected["p_fake"]))
    return largest


def scenario(scratch: Path, count: int, faces: str, small: int, log: Path) -> dict[str, dict]:
    """Every engine on ``count`` images and on ``small`` of them; times, rates and whether the rows agree."""
    folders = {size: scratch / f"images_{faces}_{size}" for size in (count, small)}
    for size, folder in folders.items():
        make_images(folder, size)
    figures: dict[str, dict] = {}
    reference: list[dict] = []
    for engine, workers in ENGINES.items():
        out = scratch / f"out_{faces}_{count}_{workers}"
        start_up, _ = predict(folders[small], faces, workers, scratch / f"out_{faces}_{small}_{workers}", log)
        seconds, rows = predict(folders[count], faces, workers, out, log)
        reference = reference or ordered(rows)
        figures[engine] = {
            "seconds": seconds,
            "start_up": start_up,
            "rate": count / seconds,
            "steady": (count - small) / (seconds - start_up),
            "difference": largest_difference(rows, reference),
            "rows": len(rows),
            "judged": sum(row["error"] is None for row in rows),
            "out": out,
        }
    return figures


P_TOLERANCE = 1e-3
"""Largest P(fake) difference from the plain CLI that still counts as the same result."""


def _agreement(difference: float | None) -> str:
    if difference is None:
        return "NO (rows differ)"
    return f"{'yes' if difference <= P_TOLERANCE else 'NO'} ({difference:.1e})"


def report(count: int, faces: str, figures: dict[str, dict], small: int) -> bool:
    baseline = figures["plain CLI"]
    print(f"\n{count} images, --faces {faces} (start-up measured on {small} images)")
    print(
        f"  {'engine':<15} {'wall s':>7} {'images/s':>9} {'vs CLI':>7} {'start-up s':>10} {'steady img/s':>12} "
        f"{'vs CLI':>7}  rows (judged)  same verdicts as the CLI (largest P(fake) difference)"
    )
    for engine, row in figures.items():
        print(
            f"  {engine:<15} {row['seconds']:7.1f} {row['rate']:9.1f} {row['rate'] / baseline['rate']:6.2f}x "
            f"{row['start_up']:10.1f} {row['steady']:12.1f} {row['steady'] / baseline['steady']:6.2f}x  "
            f"{row['rows']} ({row['judged']})  {_agreement(row['difference'])}"
        )
    one, two = figures["Ray, 1 worker"], figures["Ray, 2 workers"]
    print(
        f"  2 workers / 1 worker: {two['rate'] / one['rate']:.2f}x end to end, {two['steady'] / one['steady']:.2f}x "
        "steady"
    )
    return all(row["difference"] is not None and row["difference"] <= P_TOLERANCE for row in figures.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", nargs="+", default=["5000:none", "1500:all"], metavar="COUNT:FACES", help="scenarios, in order"
    )
    parser.add_argument("--small", type=int, default=24, help="images in the start-up measurement (default 24)")
    args = parser.parse_args(argv)
    runs = [(int(count), faces) for count, faces in (run.split(":") for run in args.runs)]
    print(
        f"CPU cores: {os.cpu_count()}; load average {load_average()} (other jobs on the machine skew the figures); "
        "model model/default.keras; samples/*.jpg copies, 256 px JPEG"
    )
    passed = True
    with tempfile.TemporaryDirectory(prefix="deepfake-lens-ray-") as folder:
        scratch = Path(folder)
        log = scratch / "commands.log"
        for count, faces in runs:
            figures = scenario(scratch, count, faces, args.small, log)
            passed &= report(count, faces, figures, args.small)
            two = figures["Ray, 2 workers"]
            again, rows = predict(scratch / f"images_{faces}_{count}", faces, 2, two["out"], log)
            print(f"  rerun of the 2-worker command, every file already done: {again:.1f} s ({len(rows)} rows kept)")
            print(f"  load average after the scenario: {load_average()}")
    print(f"\nresult: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
