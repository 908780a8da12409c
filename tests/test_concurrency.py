"""Many visitors at once, at the core level: one shared ``Detector`` must give every thread the single-user answer.

The dashboard keeps one detector per model for all sessions (``st.cache_resource``) and Streamlit
runs each session's script in its own thread, so predictions and explanations of different
visitors overlap on the same Keras model, the same traced functions and the same sub-model caches.
Every thread here must get exactly what one thread alone gets: probabilities and unsigned maps
within 1e-5, and LIME with a fixed seed bit for bit. Threads start together on a barrier, so the
first calls on a fresh detector (building and tracing the explainers' functions) really race.

``tests/test_detector_and_loading.py`` checks concurrent ``predict_batch`` calls; this file adds the
explainers, the first-call races, model discovery and loading, and image decoding.
"""

from __future__ import annotations

import contextlib
import random
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from conftest import encode, face_like_image
from PIL import Image

from deepfake_core.detector import Detector
from deepfake_core.explain import attention, explain, gradcam
from deepfake_core.intake import load_image
from deepfake_core.loading import find_models, load_detector

THREADS = 8
ROUNDS = 3
IMAGES = [face_like_image(40 + 8 * index, 48 - 4 * index, seed=index) for index in range(4)]
"""Different sizes, so the maps are resized differently per image."""
KINDS = ("predict", "attention", "gradcam", "lime")
LIME = {"num_samples": 20, "num_features": None, "seed": 7}
"""Few samples keep the test fast; ``num_features=None`` puts every superpixel's weight in the map."""
EXACT_KINDS = frozenset({"lime"})
"""Seeded LIME must be reproducible bit for bit, not only within a tolerance."""
TOLERANCE = 1e-5

Task = tuple[int, str]
"""(index into ``IMAGES``, ``"predict"`` or an explanation method)."""
TASKS: list[Task] = [(index, kind) for index in range(len(IMAGES)) for kind in KINDS]
_T = TypeVar("_T")


def compute(detector: Detector, task: Task) -> np.ndarray:
    """The class probabilities (``predict``) or the explanation map for one task."""
    index, kind = task
    if kind == "predict":
        return np.array(list(detector.predict(IMAGES[index]).probabilities.values()))
    return explain(detector, IMAGES[index], method=kind, **(LIME if kind == "lime" else {})).heatmap


def assert_matches(results: list[tuple[Task, np.ndarray]], reference: dict[Task, np.ndarray]) -> None:
    """Every threaded result equals the single-threaded one (exactly for seeded LIME)."""
    for task, result in results:
        expected = reference[task]
        message = f"image {task[0]}, {task[1]}"
        if task[1] in EXACT_KINDS:
            np.testing.assert_array_equal(result, expected, err_msg=message)
        else:
            np.testing.assert_allclose(result, expected, rtol=0, atol=TOLERANCE, err_msg=message)


def run_together(work: Callable[[int], _T], threads: int = THREADS) -> list[_T]:
    """``work(0) ... work(threads - 1)`` in threads released at the same moment; a worker's error is re-raised."""
    barrier = threading.Barrier(threads)

    def start(index: int) -> _T:
        barrier.wait(timeout=60)
        return work(index)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(start, range(threads)))


@pytest.fixture(scope="module")
def reference(tiny_detector: Detector) -> dict[Task, np.ndarray]:
    """Every task computed once, in one thread: what each visitor must get."""
    return {task: compute(tiny_detector, task) for task in TASKS}


@pytest.fixture
def fresh_detector(tiny_model_dir: Path) -> Detector:
    """The fixture model loaded anew: a new Keras model, so no explainer function is built or traced for it yet."""
    return load_detector(tiny_model_dir / "default.keras")


def test_reference_tasks_differ(reference: dict[Task, np.ndarray]) -> None:
    """Guards the comparisons: the images give different answers, so a mixed-up result would be noticed."""
    for kind in KINDS:
        first, *others = (reference[index, kind] for index in range(len(IMAGES)))
        assert all(first.shape != other.shape or not np.allclose(first, other, atol=1e-3) for other in others), kind


def test_shared_detector_gives_every_thread_the_single_threaded_results(
    tiny_detector: Detector, reference: dict[Task, np.ndarray]
) -> None:
    def visitor(index: int) -> list[tuple[Task, np.ndarray]]:
        order = random.Random(index).sample(TASKS * ROUNDS, len(TASKS) * ROUNDS)  # each thread its own order
        return [(task, compute(tiny_detector, task)) for task in order]

    runs = run_together(visitor)
    assert sum(len(run) for run in runs) == THREADS * ROUNDS * len(TASKS)
    for run in runs:
        assert_matches(run, reference)


def test_first_calls_on_a_fresh_detector_race_safely(
    fresh_detector: Detector, reference: dict[Task, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """All threads make their first calls at once: each explainer's function is built once and every answer holds."""
    builds: list[str] = []
    for name, cache in (("attention", attention._MASK_FUNCTIONS), ("gradcam", gradcam._GRADIENT_FUNCTIONS)):

        def counting(model: Any, build: Callable[[Any], Any] = cache._build, name: str = name) -> Any:
            builds.append(name)
            return build(model)

        monkeypatch.setattr(cache, "_build", counting)

    def visitor(index: int) -> list[tuple[Task, np.ndarray]]:
        # Thread i starts with kind i (mod 4), so every kind has two threads calling it first at the same moment.
        kinds = KINDS[index % len(KINDS) :] + KINDS[: index % len(KINDS)]
        return [((index % len(IMAGES), kind), compute(fresh_detector, (index % len(IMAGES), kind))) for kind in kinds]

    runs = run_together(visitor)
    assert sorted(builds) == ["attention", "gradcam"]
    for run in runs:
        assert_matches(run, reference)


def test_models_are_found_and_loaded_from_several_threads(
    tiny_model_dir: Path, reference: dict[Task, np.ndarray]
) -> None:
    def visitor(_: int) -> tuple[list[str], np.ndarray]:
        entries = find_models(tiny_model_dir)
        detector = load_detector(entries[0].path)
        return [entry.name for entry in entries], compute(detector, (0, "predict"))

    for names, probabilities in run_together(visitor, threads=4):
        assert names == ["default"]
        np.testing.assert_allclose(probabilities, reference[0, "predict"], rtol=0, atol=TOLERANCE)


def test_concurrent_decoding_gives_every_thread_its_own_image() -> None:
    uploads = [encode(image, "PNG" if index % 2 else "JPEG") for index, image in enumerate(IMAGES)]
    expected = [load_image(data) for data in uploads]

    def visitor(index: int) -> list[tuple[int, np.ndarray]]:
        order = random.Random(index).sample(range(len(uploads)), len(uploads)) * ROUNDS
        return [(position, load_image(uploads[position])) for position in order]

    for run in run_together(visitor):
        for position, image in run:
            np.testing.assert_array_equal(image, expected[position])


def test_overlapping_decodes_leave_the_warning_filters_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two sessions decode at once and the one that started later finishes later (forced here, random in a server).

    The decodes are held inside Pillow's ``Image.open`` until both have started, then the second waits for the
    first to finish. A thread-safe intake leaves ``warnings.filters`` as it found them. If a fix serialises the
    decodes instead, the second never gets in while the first waits, the barrier times out and the order is free.
    """
    both_started = threading.Barrier(2)
    first_done = threading.Event()
    opening = Image.open

    def open_in_step(*args: Any, **kwargs: Any) -> Image.Image:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_started.wait(timeout=2)
        if threading.current_thread().name == "second":
            first_done.wait(timeout=10)
        return opening(*args, **kwargs)

    monkeypatch.setattr(Image, "open", open_in_step)
    data = encode(IMAGES[0])
    before = list(warnings.filters)

    def decode() -> None:
        load_image(data)
        if threading.current_thread().name == "first":
            first_done.set()

    threads = [threading.Thread(target=decode, name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert warnings.filters == before, [entry for entry in warnings.filters if entry not in before]
