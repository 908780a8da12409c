"""Run a detector over a split manifest's test images and build the stored results.

This is the one place where images meet metrics: it predicts the held-out
split (calibrated and raw P(fake)), repeats the prediction under each
perturbation of :data:`deepfake_core.perturb.ROBUSTNESS_SUITE`, optionally
measures the false-alarm rate on a folder of real full-frame photos, and hands
the arrays to :func:`~deepfake_core.evaluation.results.build_evaluation_results`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_core.data import SplitManifest, scan_dataset
from deepfake_core.detector import Detector
from deepfake_core.evaluation.results import build_evaluation_results, false_alarm_entry, robustness_entry
from deepfake_core.intake import load_image
from deepfake_core.perturb import ROBUSTNESS_SUITE

__all__ = ["evaluate_detector", "load_history"]

LogFn = Callable[[str], None]


def _p_fake(detector: Detector, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated and raw P(fake) ``(N,)`` for RGB uint8 images."""
    raw = detector.raw_probabilities(detector.prepare(images))
    index = detector.card.fake_index
    return detector.calibrate(raw)[:, index], raw[:, index]


def load_history(model_path: str | Path) -> dict[str, list[float]] | None:
    """The training history JSON written beside a model, if there is one."""
    path = Path(model_path)
    history = path.with_name(path.name.removesuffix(".keras") + ".history.json")
    return json.loads(history.read_text(encoding="utf-8")) if history.is_file() else None


def evaluate_detector(
    detector: Detector,
    manifest: SplitManifest,
    data_root: str | Path,
    *,
    split: str = "test",
    robustness: bool = True,
    false_alarm_root: str | Path | None = None,
    training_history: dict[str, list[float]] | None = None,
    seed: int = 0,
    log: LogFn = print,
) -> dict[str, Any]:
    """Evaluate ``detector`` on ``manifest``'s ``split`` and return a validated results dict."""
    records = manifest.splits[split]
    started = time.perf_counter()
    images = [load_image(record.path(data_root)) for record in records]
    labels = [record.label for record in records]
    y_fake = [record.is_fake for record in records]
    p_fake, p_raw = _p_fake(detector, images)
    log(f"predicted {len(images)} {split} images in {time.perf_counter() - started:.1f}s")

    perturbed = []
    if robustness:
        for name, (perturb, params) in ROBUSTNESS_SUITE.items():
            rng = np.random.default_rng(seed)
            p, _ = _p_fake(detector, [perturb(image, rng) for image in images])
            entry = robustness_entry(
                name=name, params=params, y_fake=y_fake, p_fake=p, threshold=detector.card.threshold
            )
            log(f"robustness {name}: accuracy {entry['accuracy']:.4f}  auc {entry['auc']}")
            perturbed.append(entry)

    false_alarm = None
    if false_alarm_root is not None:
        photos = [r for r in scan_dataset(false_alarm_root) if r.label == "Real"]
        p, _ = _p_fake(detector, [load_image(r.path(false_alarm_root)) for r in photos])
        false_alarm = false_alarm_entry(p, threshold=detector.card.threshold, data_name=Path(false_alarm_root).name)
        log(f"false alarms on {len(photos)} real photos: {false_alarm['n_fake_verdicts']}")

    return build_evaluation_results(
        model_id=detector.model_id,
        model_name=detector.card.name,
        data={"root": manifest.root_name, "split": split, "manifest_sha256": manifest.sha256},
        ids=[record.id for record in records],
        labels=labels,
        kinds=[record.kind for record in records],
        p_fake=p_fake,
        threshold=detector.card.threshold,
        temperature=detector.card.temperature,
        p_fake_uncalibrated=p_raw,
        robustness=perturbed,
        false_alarm=false_alarm,
        training_history=training_history,
        seed=seed,
    )
