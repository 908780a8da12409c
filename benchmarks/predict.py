"""Prediction speed and memory: the Detector vs calling the Keras model directly, like for like.

For each model (the shipped default — or a random-weight small CNN when none is
trained yet —, the small CNN the previous defaults used, EfficientNet-Lite0 and -Lite1, and
the thesis' EfficientNetB7 + attention; the shipped default at its card's size, the
others at ``--input-size`` (128 px unless told) with random or ImageNet weights, which
cost the same as trained ones; ``--mirror-average`` gives those a card that averages over the
mirror) a fresh child process measures, from the same RGB ``uint8`` images to class probabilities
(every path includes the preprocessing contract's ``detector.prepare``, so only the model call differs):

* warm single-image latency, median of N calls: ``Detector.predict(image)`` vs
  ``model(x, training=False)`` (eager call) vs ``model.predict(x)`` on a batch of one;
* batch throughput (images/s) over M images, all in batches of the detector's
  ``batch_size``: ``Detector.predict_batch`` vs ``model(x)`` per batch vs one
  batched ``model.predict(x, batch_size=...)`` (not per-image calls);
* peak RSS of the child process (VmHWM).

A card with ``mirror_average`` makes every path run the image and its mirror
(the Detector in one doubled batch, the baselines as two calls); ``default_one_view``
is the shipped default with its card's mirror averaging turned off, to price it.

The variants take turns (interleaved repeats), so a changing load on a shared
machine affects them alike. Run: ``python benchmarks/predict.py`` (``--repeats``,
``--images``, ``--models``). Not a test: the figures depend on the machine; the
ratios are measured in the same run, on the same inputs.
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


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _interleaved_ms(functions: dict[str, object], repeats: int) -> dict[str, float]:
    """Median milliseconds per function over ``repeats`` rounds in which every function runs once, in turn."""
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in timings.items()}


_RANDOM_WEIGHT_BACKBONES = {
    "small_cnn": "small_cnn",
    "lite0": "efficientnet_lite0",
    "lite1": "efficientnet_lite1",
    "thesis_b7": "efficientnetb7",
}
"""Networks measured with random (or ImageNet) weights: only the architecture decides the cost."""


def _detector(which: str, input_size: int, mirror_average: bool):
    """The detector to measure and a description of where its weights came from."""
    from deepfake_core.architecture import PRETRAINED_BACKBONES, build_model
    from deepfake_core.card import architecture_card
    from deepfake_core.detector import Detector
    from deepfake_core.loading import load_detector

    default = ROOT / "model" / "default.keras"
    if which in ("default", "default_one_view") and default.is_file():
        detector = load_detector(default)
        if which == "default":
            return detector, f"trained model {default.relative_to(ROOT)}"
        card = replace(detector.card, mirror_average=False)
        one_view = Detector(detector.model, card, batch_size=detector.batch_size, familiarity=detector.familiarity)
        return one_view, f"trained model {default.relative_to(ROOT)}, its card without mirror averaging"
    backbone = _RANDOM_WEIGHT_BACKBONES.get(which, "small_cnn")
    card = architecture_card(
        name=backbone,
        backbone=backbone,
        input_size=input_size,
        channel_order="BGR" if which == "thesis_b7" else "RGB",
        model_id=f"{backbone}-random",
        mirror_average=mirror_average,
    )
    weights = "ImageNet backbone, random head" if backbone in PRETRAINED_BACKBONES else "random weights"
    detector = Detector(build_model(backbone=backbone, input_size=input_size), card)
    mirror = ", mirror averaged" if mirror_average else ""
    return detector, f"{backbone} + attention at {input_size} px, {weights}{mirror}"


def measure(which: str, repeats: int, n_images: int, input_size: int, mirror_average: bool) -> dict:
    import numpy as np

    detector, source = _detector(which, input_size, mirror_average)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(n_images)]
    model, batch = detector.model, detector.batch_size

    def views(pictures: list) -> list[np.ndarray]:
        """The prepared batch, and its mirror when the card averages over it: the same work as the Detector."""
        prepared = detector.prepare(pictures)
        return [prepared, prepared[:, :, ::-1]] if detector.card.mirror_average else [prepared]

    def eager(pictures: list) -> np.ndarray:
        return np.mean(
            [
                np.concatenate(
                    [model(view[start : start + batch], training=False).numpy() for start in range(0, len(view), batch)]
                )
                for view in views(pictures)
            ],
            axis=0,
        )

    def predict(pictures: list) -> np.ndarray:
        return np.mean([model.predict(view, batch_size=batch, verbose=0) for view in views(pictures)], axis=0)

    # Same outputs first (uncalibrated softmax): otherwise the timings would compare different work.
    reference = detector.raw_probabilities(detector.prepare(images))
    agreement = max(float(np.abs(eager(images) - reference).max()), float(np.abs(predict(images) - reference).max()))

    single = {
        "detector": lambda: detector.predict(images[0]),
        "model_call": lambda: eager(images[:1]),
        "model_predict": lambda: predict(images[:1]),
    }
    for function in single.values():
        function()  # warm up: tracing, predict's data pipeline
    single_ms = _interleaved_ms(single, repeats)
    batches = {
        "detector": lambda: detector.predict_batch(images),
        "model_call": lambda: eager(images),
        "model_predict": lambda: predict(images),
    }
    batch_ms = _interleaved_ms(batches, max(3, repeats // 10))
    return {
        "model": which,
        "source": source,
        "parameters": int(model.count_params()),
        "batch_size": batch,
        "max_abs_difference": agreement,
        "single_ms": single_ms,
        "throughput": {name: n_images / (ms / 1000) for name, ms in batch_ms.items()},
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50, help="warm single-image calls per measurement")
    parser.add_argument("--images", type=int, default=64, help="images in the throughput measurement")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["default", "small_cnn", "thesis_b7"],
        choices=["default", "default_one_view", *_RANDOM_WEIGHT_BACKBONES],
    )
    parser.add_argument(
        "--input-size",
        type=int,
        default=128,
        help="input size of the random-weight networks (the default's is its card's)",
    )
    parser.add_argument(
        "--mirror-average",
        action="store_true",
        help="the random-weight networks average over the mirror image, as the shipped default does",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats, args.images, args.input_size, args.mirror_average)))
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
            "--input-size",
            str(args.input_size),
            *(["--mirror-average"] if args.mirror_average else []),
        ]
        output = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
        row = json.loads(output.strip().splitlines()[-1])
        print(f"\n{row['model']}: {row['source']} ({row['parameters']:,} parameters)")
        print(f"  same probabilities: max |difference| to the Detector {row['max_abs_difference']:.1e}")
        single, throughput = row["single_ms"], row["throughput"]
        print(
            f"  warm single image (ms, median)   Detector.predict {single['detector']:8.1f}   "
            f"model(x) {single['model_call']:8.1f}   model.predict(x) {single['model_predict']:8.1f}"
        )
        print(
            f"    Detector speed-up:  {single['model_call'] / single['detector']:.2f}x vs model(x), "
            f"{single['model_predict'] / single['detector']:.2f}x vs model.predict"
        )
        print(
            f"  throughput, {args.images} images in batches of {row['batch_size']} (img/s)   "
            f"predict_batch {throughput['detector']:7.1f}   model(x) {throughput['model_call']:7.1f}   "
            f"batched model.predict {throughput['model_predict']:7.1f}"
        )
        print(
            f"    Detector speed-up:  {throughput['detector'] / throughput['model_call']:.2f}x vs model(x), "
            f"{throughput['detector'] / throughput['model_predict']:.2f}x vs batched model.predict"
        )
        print(f"  peak RSS            {row['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
