"""Run a detector over a split manifest's test images and build the stored results.

This is the one place where images meet metrics: it predicts the held-out
split (calibrated and raw P(fake)), repeats the prediction under each
perturbation of :data:`deepfake_core.perturb.ROBUSTNESS_SUITE` (the first, ``clean``,
changes nothing and is the baseline measured the same way), optionally
measures the false-alarm rate on a folder of real full-frame photos, and hands
the arrays to :func:`~deepfake_core.evaluation.results.build_evaluation_results`.

A model with a face step is evaluated as a user meets it: each test image's
largest face is found and aligned (the cached crops of
:mod:`deepfake_core.face_data`, made by the same code as prediction); images
without a face get no verdict, are counted per kind and listed. Perturbations
are applied to the whole image and the face step runs again on the result (the
images whose face is then lost are counted, per kind), and every face in the real
photos is judged for the false-alarm rate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from deepfake_core.card import ModelCard, history_path_for
from deepfake_core.data import ImageRecord, SplitManifest, scan_dataset, unseen_by
from deepfake_core.detector import Detector
from deepfake_core.errors import DataSetError
from deepfake_core.evaluation.results import build_evaluation_results, false_alarm_entry, robustness_entry
from deepfake_core.evaluation.schema import EvaluationResults, FalseAlarm
from deepfake_core.face_data import build_face_crops
from deepfake_core.intake import load_image
from deepfake_core.judge import judge_photos
from deepfake_core.perturb import ROBUSTNESS_SUITE

__all__ = ["UNSEEN_SPLIT", "evaluate_detector", "face_p_fake", "load_history", "scored_records"]

LogFn = Callable[[str], None]
_FACE_CHUNK = 64
"""Photos per face-detection call: same-sized photos share MTCNN's model calls, memory stays bounded."""


def _p_fake(detector: Detector, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Calibrated and raw P(fake) ``(N,)`` for RGB uint8 images, and their familiarity distances (or ``None``)."""
    raw, features = detector.forward(detector.prepare(images))
    index = detector.card.fake_index
    return detector.calibrate(raw)[:, index], raw[:, index], detector.feature_distances(features)


UNSEEN_SPLIT = "test+unseen"
"""The test split plus every train and validation image of the kinds the model's training left out.

Why: a leave-one-out run never saw any image of its left-out kinds, so all of them measure it on
an unseen generator, not only the tenth in the test split. The diffusion fold then scores 765
unseen fakes instead of 77, which shrinks the sampling error of its unseen AUC about threefold
and leaves the run-to-run differences of training to tell recipes apart.
"""


def scored_records(manifest: SplitManifest, split: str, card: ModelCard) -> list[ImageRecord]:
    """The images an evaluation of ``split`` scores (:data:`UNSEEN_SPLIT` adds the left-out kinds' other images)."""
    if split != UNSEEN_SPLIT:
        return list(manifest.splits[split])
    left_out = card.left_out_kinds
    if not left_out:
        raise DataSetError(
            f"{card.name} was trained without leaving any kind out, so it has no unseen images beyond the test "
            "split: evaluate it on the test split."
        )
    others = [record for part in ("train", "validation") for record in manifest.splits[part] if record.kind in left_out]
    return [*manifest.splits["test"], *others]


def seen_kind_names(card: ModelCard) -> list[str] | None:
    """The kinds a model trained on: the card's ``seen_kinds``, else its split counts less the left-out kinds."""
    seen = card.seen_kinds
    if seen:
        return sorted(kind for kinds in seen.values() for kind in kinds)
    trained = (card.training.get("split_counts") or {}).get("train")
    if not trained:
        return None
    return sorted(set(trained) - card.left_out_kinds)


def face_p_fake(
    detector: Detector, images: Sequence[np.ndarray], *, faces: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """P(fake) of the faces the face step finds in ``images`` (``largest``: one per image with a face).

    Returns the calibrated P(fake) of every judged face; per image, the index of its
    first face in that array or -1 when the image had none; and each face's
    familiarity flag (``None`` for a model without one).
    """
    judged = []
    first = []
    for start in range(0, len(images), _FACE_CHUNK):
        for photo in judge_photos(detector, list(images[start : start + _FACE_CHUNK]), faces=faces):
            first.append(len(judged) if photo.judged else -1)
            judged.extend(verdict.prediction for verdict in photo.judged)
    flags = None if detector.familiarity is None else np.array([p.unfamiliar for p in judged], dtype=bool)
    return np.array([p.p_fake for p in judged], dtype=float), np.array(first, dtype=int), flags


def load_history(model_path: str | Path) -> dict[str, list[float]] | None:
    """The training history JSON written beside a model, if there is one."""
    history = history_path_for(model_path)
    return json.loads(history.read_text(encoding="utf-8")) if history.is_file() else None


def photos_false_alarm(
    detector: Detector, photos_root: Path, manifest: SplitManifest, data_root: Path, *, log: LogFn = print
) -> FalseAlarm | None:
    """How often the real photos under ``photos_root`` that ``manifest`` never trained or validated on are called Fake.

    Photos a manifest trains on (``split --add-real``) are no unseen source, so they are left
    out and the entry's name says how many; ``None`` when none is left.
    """
    reals = [record for record in scan_dataset(photos_root) if record.label == "Real"]
    unseen = unseen_by(reals, photos_root, manifest, data_root)
    if not unseen:
        log(f"no false alarms measured: no real photo in {photos_root} is outside the manifest's train/validation")
        return None
    photos = [load_image(record.path(photos_root)) for record in unseen]
    trained_on = f", {len(reals) - len(unseen)} trained on left out" if len(unseen) < len(reals) else ""
    if detector.card.face_crop is None:
        p, _, distances = _p_fake(detector, photos)
        flags = None if distances is None else detector.familiarity.flags(distances)
        name, unit = f"{photos_root.name}{trained_on}", "photos"
    else:
        p, _, flags = face_p_fake(detector, photos, faces="all")
        name, unit = f"{photos_root.name} ({len(p)} faces in {len(photos)} photos{trained_on})", "faces"
    false_alarm = false_alarm_entry(p, threshold=detector.card.threshold, data_name=name, flags=flags)
    log(f"false alarms on {false_alarm.n} real {unit}: {false_alarm.n_fake_verdicts}")
    return false_alarm


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
    cache_dir: str | Path | None = None,
) -> EvaluationResults:
    """Evaluate ``detector`` on ``manifest``'s ``split`` (or :data:`UNSEEN_SPLIT`) and return its results record.

    ``cache_dir`` holds the aligned face crops of a model with a face step
    (default: :func:`deepfake_core.face_data.default_cache_dir`).
    """
    records = scored_records(manifest, split, detector.card)
    started = time.perf_counter()
    spec = detector.card.face_crop
    faces = None
    if spec is not None:
        crops = build_face_crops(records, data_root, spec, size=detector.card.input_size, cache_dir=cache_dir, log=log)
        faces = {
            "face_crop": spec.to_dict(),
            "coverage": crops.coverage(records),
            "misses": [
                {"id": record.id, "kind": record.kind, "reason": crops.misses[record.id]}
                for record in records
                if record.id in crops.misses
            ],
        }
        log(f"face step: {len(crops.misses)} of {len(records)} {split} images have no usable face (no verdict)")
        records = [record for record in records if record.id in crops.crops]
        model_views = [crops.load(record.id) for record in records]
    else:
        model_views = [load_image(record.path(data_root)) for record in records]
    labels = [record.label for record in records]
    y_fake = np.array([record.is_fake for record in records])
    p_fake, p_raw, distances = _p_fake(detector, model_views)
    log(f"predicted {len(model_views)} {split} images in {time.perf_counter() - started:.1f}s")

    perturbed = []
    if robustness:
        # a face step's perturbations apply to the whole image, then the face is found again, as for an upload
        originals = model_views if spec is None else [load_image(record.path(data_root)) for record in records]
        kinds = np.array([record.kind for record in records])
        for name, (perturb, params) in ROBUSTNESS_SUITE.items():
            rng = np.random.default_rng(seed)
            changed = [perturb(image, rng) for image in originals]
            if spec is None:
                p, kept, lost = _p_fake(detector, changed)[0], np.ones(len(records), dtype=bool), None
            else:
                p, first, _ = face_p_fake(detector, changed, faces="largest")
                kept = first >= 0
                lost = kinds[~kept].tolist()
            entry = robustness_entry(
                name=name,
                params=params,
                y_fake=y_fake[kept],
                p_fake=p,
                threshold=detector.card.threshold,
                kinds=kinds[kept].tolist(),
                lost_kinds=lost,
            )
            accuracy = "-" if entry.accuracy is None else f"{entry.accuracy:.4f}"
            no_face = "" if lost is None else f"  no face {entry.n_no_face}"
            log(f"robustness {name}: accuracy {accuracy}  auc {entry.auc}  n {entry.n}{no_face}")
            perturbed.append(entry)

    false_alarm = (
        None
        if false_alarm_root is None
        else photos_false_alarm(detector, Path(false_alarm_root), manifest, Path(data_root), log=log)
    )

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
        feature_distances=distances,
        flag_threshold=None if detector.familiarity is None else detector.familiarity.threshold,
        seen_kinds=seen_kind_names(detector.card),
        robustness=perturbed,
        false_alarm=false_alarm,
        training_history=training_history,
        faces=faces,
        seed=seed,
    )
