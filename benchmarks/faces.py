"""Face-step speed and memory: finding and aligning faces vs classifying the crops they give.

In a fresh child process, for each photo (scikit-image's astronaut at 512 px,
the same upscaled to 1024 px, and a 1024 px photo with four faces):

* the warm face step, median of N calls after a warm-up:
  ``FaceFinder.detect`` (MTCNN on the working copy, boxes mapped back) and
  ``crop_faces`` (the aligned crops), and both together;
* the baseline, measured on the same photo in the same run: the shipped default
  model's (``--model``) ``Detector.predict_batch`` of those prepared crops
  (preprocessing included), and the ratio face step / classification;
* the whole ``judge_photos`` call (face step + classification) for reference;
* peak RSS of the process (VmHWM) once the finder is loaded and warm, and at the end.

The default face step is :class:`~deepfake_core.faces.spec.FaceCropSpec`'s
defaults at the model card's input size (the card's own ``face_crop`` when it
has one). Goal stated in the issue: face step <= 300 ms at 1024 px on 2 cores.

Run: ``python benchmarks/faces.py`` (``--repeats``, ``--model``, ``--max-detect-side``). Not a test: the figures
depend on the machine and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS_1024 = 300.0


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timings_ms(function, repeats: int) -> list[float]:
    function()  # warm-up: graph tracing, first allocations
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _median_ms(function, repeats: int) -> float:
    return statistics.median(_timings_ms(function, repeats))


def _photos() -> dict[str, object]:
    import cv2
    import numpy as np
    from skimage import data

    astronaut = data.astronaut()
    return {
        "astronaut 512 px, 1 face": astronaut,
        "astronaut 1024 px, 1 face": cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC),
        "2x2 astronauts 1024 px, 4 faces": np.vstack([np.hstack([astronaut, astronaut])] * 2),
    }


def _detector(path: Path):
    """The model at ``path`` (or, when there is none yet, a random-weight small_cnn) and where its weights came from.

    Classification time depends on the architecture, not on the weights.
    """
    from deepfake_core.architecture import build_model
    from deepfake_core.card import architecture_card
    from deepfake_core.detector import Detector
    from deepfake_core.loading import load_detector

    if path.is_file():
        return load_detector(path), f"trained model {path}"
    card = architecture_card(name="small_cnn", backbone="small_cnn", input_size=128, model_id="small_cnn-random")
    return Detector(build_model(backbone="small_cnn", input_size=128), card), "small_cnn + attention, random weights"


def measure(model_path: Path, repeats: int, max_detect_side: int | None) -> dict:
    from deepfake_core.card import card_path_for, load_card
    from deepfake_core.faces.finder import FaceFinder, crop_faces
    from deepfake_core.faces.spec import FaceCropSpec

    card_path = card_path_for(model_path)
    card = load_card(card_path) if card_path.is_file() else None
    spec = (card.face_crop if card is not None else None) or FaceCropSpec()
    if max_detect_side is not None:
        spec = replace(spec, max_detect_side=max_detect_side)
    size = card.input_size if card is not None else 128
    started = time.perf_counter()
    finder = FaceFinder(spec)
    finder_load_s = time.perf_counter() - started
    photos = _photos()

    rows = []
    for name, photo in photos.items():
        detections = finder.detect(photo)
        detect_ms = _median_ms(lambda photo=photo: finder.detect(photo), repeats)
        align_ms = _median_ms(lambda p=photo, d=detections: crop_faces(p, d, spec, size=size), repeats)
        step = _timings_ms(lambda p=photo: crop_faces(p, finder.detect(p), spec, size=size), repeats)
        rows.append(
            {
                "photo": name,
                "faces": len(detections),
                "detect_ms": detect_ms,
                "align_ms": align_ms,
                "step_ms": statistics.median(step),
                "step_best_ms": min(step),
            }
        )
    rss_finder = _peak_rss_mb()

    from deepfake_core.judge import judge_photos

    detector, source = _detector(model_path)
    face_detector = type(detector)(detector.model, replace(detector.card, face_crop=spec))
    for row, photo in zip(rows, photos.values(), strict=True):
        crops = [
            face.crop for face in crop_faces(photo, finder.detect(photo), spec, size=size) if face.crop is not None
        ]
        row["classify_ms"] = _median_ms(lambda crops=crops: detector.predict_batch(crops), repeats)
        row["judge_ms"] = _median_ms(lambda p=photo: judge_photos(face_detector, [p]), repeats)
    return {
        "source": source,
        "model_id": detector.model_id,
        "crop_size": size,
        "spec": spec.describe(),
        "finder_load_s": finder_load_s,
        "rows": rows,
        "peak_rss_mb_finder": rss_finder,
        "peak_rss_mb_end": _peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="warm calls per measurement (median)")
    parser.add_argument(
        "--model", type=Path, default=ROOT / "model" / "default.keras", help="baseline model (default: the shipped one)"
    )
    parser.add_argument("--max-detect-side", type=int, default=None, help="override the face step's working-copy side")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.model.resolve(), args.repeats, args.max_detect_side)))
        return

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"CPU cores: {os.cpu_count()}; load average {load}; {args.repeats} warm calls per figure (median)")
    command = [sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--model", str(args.model)]
    if args.max_detect_side is not None:
        command += ["--max-detect-side", str(args.max_detect_side)]
    output = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    print(
        f"face step: {result['spec']}; crops {result['crop_size']} px; finder loaded in {result['finder_load_s']:.1f} s"
    )
    print(f"baseline: {result['source']} ({result['model_id']}), predict_batch of the photo's crops\n")
    print(
        f"{'photo':<33} {'faces':>5} {'detect':>8} {'align':>7} {'face step':>10} {'(best)':>8} {'classify':>9} "
        f"{'ratio':>6} {'judge_photos':>13}"
    )
    for row in result["rows"]:
        print(
            f"{row['photo']:<33} {row['faces']:>5} {row['detect_ms']:>6.1f}ms {row['align_ms']:>5.1f}ms "
            f"{row['step_ms']:>8.1f}ms {row['step_best_ms']:>6.1f}ms {row['classify_ms']:>7.1f}ms "
            f"{row['step_ms'] / row['classify_ms']:>5.1f}x {row['judge_ms']:>11.1f}ms"
        )
    print(
        f"\npeak RSS: {result['peak_rss_mb_finder']:.0f} MB with the finder loaded and warm; "
        f"{result['peak_rss_mb_end']:.0f} MB at the end (the model and judge_photos' own finder loaded as well)"
    )
    worst = max(row["step_ms"] for row in result["rows"] if "1024" in row["photo"])
    verdict = "met" if worst <= GOAL_MS_1024 else "NOT met"
    print(
        f"goal: face step <= {GOAL_MS_1024:.0f} ms at 1024 px: {verdict} (slowest 1024 px photo {worst:.0f} ms median)"
    )
    print("figures are medians of warm calls; (best) is the fastest call, closest to an unloaded machine")


if __name__ == "__main__":
    main()
