"""Prediction speed and memory: the Detector vs plain per-image ``model.predict``.

For each model (the shipped default — or a random-weight model of the same
architecture when none is trained yet — and the thesis' EfficientNetB7 +
attention at 128 px with random weights) a fresh child process measures:

* warm single-image latency, median of N calls: ``Detector.predict(image)``
  (intake array -> verdict, preprocessing included) vs ``model.predict(batch_of_1)``
  on an already-prepared input;
* batch throughput (images/s): ``Detector.predict_batch`` over M images vs
  calling ``model.predict`` once per image;
* peak RSS of the child process (VmHWM).

Run: ``python benchmarks/predict.py`` (``--repeats``, ``--images``). Not a test:
the figures depend on the machine; the ratios are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _median_ms(function, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _detector(which: str):
    """The detector to measure and a description of where its weights came from."""
    from deepfake_core.architecture import build_model
    from deepfake_core.card import architecture_card
    from deepfake_core.detector import Detector
    from deepfake_core.loading import load_detector

    default = ROOT / "model" / "default.keras"
    if which == "default" and default.is_file():
        return load_detector(default), f"trained model {default.relative_to(ROOT)}"
    backbone = "small_cnn" if which == "default" else "efficientnetb7"
    card = architecture_card(
        name=backbone,
        backbone=backbone,
        input_size=128,
        channel_order="RGB" if which == "default" else "BGR",
        model_id=f"{backbone}-random",
    )
    return Detector(build_model(backbone=backbone, input_size=128), card), f"{backbone} + attention, random weights"


def measure(which: str, repeats: int, n_images: int) -> dict:
    import numpy as np

    detector, source = _detector(which)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(n_images)]
    prepared = detector.prepare(images)
    model = detector.model

    detector.predict(images[0])
    model.predict(prepared[:1], verbose=0)
    ours_single = _median_ms(lambda: detector.predict(images[0]), repeats)
    keras_single = _median_ms(lambda: model.predict(prepared[:1], verbose=0), repeats)

    started = time.perf_counter()
    detector.predict_batch(images)
    ours_batch = n_images / (time.perf_counter() - started)
    started = time.perf_counter()
    for index in range(n_images):
        model.predict(prepared[index : index + 1], verbose=0)
    keras_batch = n_images / (time.perf_counter() - started)
    return {
        "model": which,
        "source": source,
        "parameters": int(model.count_params()),
        "single_ms_detector": ours_single,
        "single_ms_model_predict": keras_single,
        "throughput_detector": ours_batch,
        "throughput_predict_per_image": keras_batch,
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50, help="warm single-image calls per measurement")
    parser.add_argument("--images", type=int, default=64, help="images in the throughput measurement")
    parser.add_argument("--models", nargs="+", default=["default", "thesis_b7"], choices=["default", "thesis_b7"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats, args.images)))
        return

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(
        f"CPU cores: {os.cpu_count()}; {args.repeats} warm single calls (median), {args.images} images for throughput"
    )
    for which in args.models:
        command = [
            sys.executable,
            __file__,
            "--child",
            which,
            "--repeats",
            str(args.repeats),
            "--images",
            str(args.images),
        ]
        output = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
        row = json.loads(output.strip().splitlines()[-1])
        print(f"\n{row['model']}: {row['source']} ({row['parameters']:,} parameters)")
        print(
            f"  warm single image   Detector.predict {row['single_ms_detector']:8.1f} ms   "
            f"model.predict {row['single_ms_model_predict']:8.1f} ms   "
            f"ratio {row['single_ms_model_predict'] / row['single_ms_detector']:.1f}x"
        )
        print(
            f"  batch throughput    predict_batch    {row['throughput_detector']:8.1f} img/s "
            f"per-image predict {row['throughput_predict_per_image']:6.1f} img/s "
            f"ratio {row['throughput_detector'] / row['throughput_predict_per_image']:.1f}x"
        )
        print(f"  peak RSS            {row['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
