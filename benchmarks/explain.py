"""How fast are the explainers? Our LIME vs the ``lime`` package on identical inputs, and the other methods.

Usage::

    python benchmarks/explain.py [--model model/default.keras] [--image face.png] [--samples 1000] [--repeats 5]

Like for like: both LIMEs explain **the same** ``S x S`` image (the model's input
size, made by the preprocessing contract's ``resize_square``), with **the same**
superpixels (one segmentation, passed to both as ``segmentation_fn``), the same
hide mode, kernel width, number of samples, batch size and seed, and the same
classifier function ``detector.probabilities(detector.prepare(images))``. So the
difference measured is only how the perturbed images are built and batched (our
vectorised ``numpy.where`` vs ``lime``'s per-sample loop), and the script checks
that both return the same weights. ``lime`` at its default ``batch_size=10`` is
shown as well, on the same inputs. "model alone" times the same number of already
prepared images through ``detector.probabilities``: the part no implementation can
avoid. Our LIME also runs at the dashboard's batch size (``SERVER_BATCH_SIZE``, chosen for
the server's memory) to show what the smaller batch costs in time. ``explain(method="lime")``
end to end (verdict, segmentation, map at the image's size) and the other methods are timed
for context.

The model is ``model/default.keras`` when it exists (its face step is not used:
LIME's cost does not depend on where the ``S x S`` input comes from), otherwise a
random-weight ``small_cnn`` at 128 px. The image defaults to scikit-image's
512x512 ``astronaut``. All figures and ratios come from this one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # lime draws a progress bar per call; keep the table readable

import numpy as np
import skimage.data
from lime.lime_image import LimeImageExplainer

from deepfake_core.architecture import build_model
from deepfake_core.card import architecture_card
from deepfake_core.detector import Detector
from deepfake_core.errors import ExplanationError
from deepfake_core.explain import LIME_DEFAULTS, SEGMENTATIONS, explain
from deepfake_core.explain.lime_explainer import _BatchedLimeImageExplainer, _hide_color, segment
from deepfake_core.intake import load_image
from deepfake_core.loading import default_model_dir, load_detector
from deepfake_core.memory import SERVER_BATCH_SIZE
from deepfake_core.preprocess import resize_square


def _detector(path: Path | None) -> tuple[Detector, str]:
    path = path or default_model_dir() / "default.keras"
    if path.is_file():
        return load_detector(path), f"{path} (trained)"
    model = build_model(backbone="small_cnn", input_size=128)
    card = architecture_card(name="benchmark-random", backbone="small_cnn", input_size=128)
    return Detector(model, card), f"random-weight small_cnn 128 px, {model.count_params():,} parameters ({path} absent)"


def _interleaved(functions: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each function, the functions taking turns ``repeats`` times.

    Taking turns spreads the changing load of a shared machine over all of them
    alike, so their ratios stay fair. CPU time (this process, all threads) is less
    sensitive to other processes than wall time.
    """
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in functions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (median reported)")
    args = parser.parse_args()

    detector, described = _detector(args.model)
    image = load_image(args.image) if args.image else skimage.data.astronaut()
    size = detector.card.input_size
    seed, hide, kernel_width, batch = (
        0,
        LIME_DEFAULTS["hide"],
        LIME_DEFAULTS["kernel_width"],
        detector.batch_size,  # what LIME_DEFAULTS' batch_size=None takes
    )
    small = resize_square(image, size)
    segments = segment(small, "quickshift", SEGMENTATIONS["quickshift"], seed)
    target = int(np.argmax(detector.probabilities(detector.prepare([small]))[0]))
    print(f"model: {described}")
    print(f"image: {args.image or 'skimage.data.astronaut()'} {image.shape[1]}x{image.shape[0]}")
    print(
        f"LIME inputs for both: {size}x{size} image, {int(segments.max()) + 1} quickshift superpixels, hide={hide}, "
        f"{args.samples} samples, kernel width {kernel_width}, seed {seed}, class {detector.card.labels[target]}"
    )

    def classify(images: np.ndarray) -> np.ndarray:
        return detector.probabilities(detector.prepare(list(images)))

    def run(explainer: LimeImageExplainer, batch_size: int):
        return explainer.explain_instance(
            small,
            classify,
            labels=(target,),
            hide_color=_hide_color(small, hide),
            top_labels=None,
            num_samples=args.samples,
            batch_size=batch_size,
            segmentation_fn=lambda _: segments,
            random_seed=seed,
        )

    def ours(batch_size: int = batch) -> object:
        return run(_BatchedLimeImageExplainer(kernel_width=kernel_width, seed=seed, progress=None), batch_size)

    def theirs(batch_size: int) -> Callable[[], object]:
        return lambda: run(
            LimeImageExplainer(kernel_width=kernel_width, feature_selection="none", random_state=seed), batch_size
        )

    mine, reference = dict(ours().local_exp[target]), dict(theirs(batch)().local_exp[target])
    difference = max(abs(mine[index] - reference[index]) for index in mine)
    largest = max(abs(weight) for weight in mine.values())

    prepared = np.repeat(detector.prepare([small]), args.samples, axis=0)
    names = {
        "floor": f"model alone: {args.samples} prepared images",
        "ours": f"LIME, ours (batch {batch})",
        "server": f"LIME, ours (batch {SERVER_BATCH_SIZE}, the dashboard's)",
        "lime": f"LIME, lime package (batch {batch}, same inputs)",
        "lime10": "LIME, lime package (its default batch 10, same inputs)",
        "e2e": f"explain(method='lime') end to end, {image.shape[1]}x{image.shape[0]} map",
    }
    functions: dict[str, Callable[[], object]] = {
        "floor": lambda: detector.probabilities(prepared),
        "ours": ours,
        "server": lambda: ours(SERVER_BATCH_SIZE),
        "lime": theirs(batch),
        "lime10": theirs(10),
        "e2e": lambda: explain(detector, image, method="lime", num_samples=args.samples, seed=seed),
    }
    for method in ("attention", "gradcam", "gradcam++"):
        try:
            explain(detector, image, method=method)  # build and trace once
        except ExplanationError as error:  # a model without attention: say so and go on
            print(f"{method}: skipped ({error})")
            continue
        names[method] = f"{method} (warm)"
        functions[method] = lambda m=method: explain(detector, image, method=m)
    timings = _interleaved(functions, args.repeats)

    width = max(len(name) for name in names.values())
    print(f"\n{'step (median of ' + str(args.repeats) + ', interleaved)':<{width}}  wall s   CPU s")
    for key, name in names.items():
        print(f"{name:<{width}}  {timings[key][0]:7.3f}  {timings[key][1]:7.3f}")
    ours_time, floor = timings["ours"], timings["floor"]
    print(f"\nsame weights: max |ours - lime| = {difference:.2e} (largest |weight| {largest:.2e})")
    for key, label in (("lime", f"lime at batch {batch} (same as ours)"), ("lime10", "lime at its batch 10")):
        wall, cpu = timings[key]
        print(f"{label}: {wall / ours_time[0]:.2f}x our wall time, {cpu / ours_time[1]:.2f}x our CPU time")
    print(f"model alone / our LIME: {floor[0] / ours_time[0]:.0%} wall, {floor[1] / ours_time[1]:.0%} CPU")
    server = timings["server"]
    print(
        f"the dashboard's batch {SERVER_BATCH_SIZE} / batch {batch}: {server[0] / ours_time[0]:.2f}x wall time, "
        f"{server[1] / ours_time[1]:.2f}x CPU time"
    )
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"cores available: {len(os.sched_getaffinity(0))}, load average (1, 5, 15 min): {load}")


if __name__ == "__main__":
    main()
