"""How fast are the explainers? Our LIME vs ``lime``'s defaults, and attention / Grad-CAM / Grad-CAM++.

Usage::

    python benchmarks/explain.py [--model model/default.keras] [--image face.png] [--samples 1000] [--repeats 10]

The model is ``model/default.keras`` when it exists, otherwise a freshly built
random-weight ``small_cnn`` at 128 px (timings do not depend on the weights).
The image defaults to scikit-image's 512x512 ``astronaut``. ``lime``'s baseline
is ``LimeImageExplainer().explain_instance`` with its defaults (quickshift,
``batch_size=10``, ``top_labels=5``) on the full-size image with the same
classifier function and number of samples. "model alone" times the same number
of already prepared images through ``detector.probabilities``: the part of LIME
no implementation can avoid.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage.data
from lime.lime_image import LimeImageExplainer

from deepfake_core.architecture import build_model
from deepfake_core.card import architecture_card
from deepfake_core.detector import Detector
from deepfake_core.explain import explain
from deepfake_core.intake import load_image
from deepfake_core.loading import default_model_dir, load_detector


def _detector(path: Path | None) -> tuple[Detector, str]:
    path = path or default_model_dir() / "default.keras"
    if path.is_file():
        return load_detector(path), f"{path} (trained)"
    model = build_model(backbone="small_cnn", input_size=128)
    card = architecture_card(name="benchmark-random", backbone="small_cnn", input_size=128)
    return Detector(model, card), f"random-weight small_cnn 128 px, {model.count_params():,} parameters ({path} absent)"


def _seconds(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall time (``time.perf_counter``) and median CPU time of this process over ``repeats`` calls.

    On a shared machine the wall time depends on the other load; CPU time divided
    by the cores used estimates the wall time on an idle machine.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10, help="warm runs per fast method (median reported)")
    parser.add_argument("--lime-repeats", type=int, default=3, help="runs of our LIME (median reported)")
    args = parser.parse_args()

    detector, described = _detector(args.model)
    image = load_image(args.image) if args.image else skimage.data.astronaut()
    print(f"model: {described}")
    print(f"image: {args.image or 'skimage.data.astronaut()'} {image.shape[1]}x{image.shape[0]}")

    ours = _seconds(
        lambda: explain(detector, image, method="lime", num_samples=args.samples, seed=0), args.lime_repeats
    )
    explainer = LimeImageExplainer(random_state=0)
    baseline = _seconds(
        lambda: explainer.explain_instance(
            image,
            lambda images: detector.probabilities(detector.prepare(images)),
            num_samples=args.samples,
        ),
        1,
    )
    prepared = np.repeat(detector.prepare([image]), args.samples, axis=0)
    floor = _seconds(lambda: detector.probabilities(prepared), args.lime_repeats)
    rows = [
        (f"model alone: {args.samples} prepared images (LIME's floor)", floor),
        (f"LIME, ours ({args.samples} samples, median of {args.lime_repeats})", ours),
        (f"LIME, lime defaults (batch 10, full size, {args.samples} samples)", baseline),
    ]
    for method in ("attention", "gradcam", "gradcam++"):
        explain(detector, image, method=method)  # build and trace once
        rows.append(
            (
                f"{method} (median of {args.repeats} warm)",
                _seconds(lambda m=method: explain(detector, image, method=m), args.repeats),
            )
        )
    width = max(len(name) for name, _ in rows)
    print(f"\n{'step':<{width}}  wall s   CPU s")
    for name, (wall, cpu) in rows:
        print(f"{name:<{width}}  {wall:7.3f}  {cpu:7.3f}")
    print(f"\nLIME speed-up over lime's defaults: {baseline[0] / ours[0]:.1f}x wall, {baseline[1] / ours[1]:.1f}x CPU")
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"cores available: {len(os.sched_getaffinity(0))}, load average (1, 5, 15 min): {load}")


if __name__ == "__main__":
    main()
