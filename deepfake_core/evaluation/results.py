"""Versioned evaluation-results files: build, save, load, compare.

Training (or ``deepfake-core evaluate``) writes one ``"kind": "evaluation"`` JSON file per
model; the dashboard only reads them, so nothing is recomputed on page load except what the
threshold slider needs (:func:`metrics_at_threshold`, from the stored per-image predictions).
A ``"kind": "reported"`` file holds figures reported elsewhere (the thesis) that were not
reproduced. Files load into the typed records of :mod:`deepfake_core.evaluation.schema`, which
check themselves; the layout is documented field by field in ``docs/evaluation_schema.md``.
Bump :data:`SCHEMA_VERSION` whenever a reader of the old layout would misread the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from deepfake_core.errors import ResultsFileError
from deepfake_core.evaluation.generalisation import familiarity_block, generalisation_block
from deepfake_core.evaluation.metrics import (
    CLASS_LABELS,
    CONFIDENCE_LEVEL,
    auc_score,
    bootstrap_intervals,
    calibration_summary,
    classification_report_dict,
    equal_error_rate,
    pair_key,
    pair_metrics,
    per_group_metrics,
    pr_curve_data,
    roc_curve_data,
    threshold_metrics,
    to_jsonable,
    wilson_interval,
)
from deepfake_core.evaluation.record import Record, SchemaError
from deepfake_core.evaluation.schema import (
    ClassificationReport,
    EvaluationResults,
    FalseAlarm,
    OperatingPoint,
    ReportedResults,
    Results,
    RobustnessEntry,
    TableRow,
    ThresholdMetrics,
    ThresholdView,
)
from deepfake_core.familiarity import unfamiliar
from deepfake_core.perturb import CLEAN

__all__ = [
    "COMPARISON_COLUMNS",
    "HARD_PAIR",
    "RESULT_KINDS",
    "ROBUSTNESS_COLUMNS",
    "SCHEMA_VERSION",
    "ResultsListing",
    "build_evaluation_results",
    "comparison_table",
    "false_alarm_entry",
    "list_results",
    "load_results",
    "metrics_at_threshold",
    "results_from_dict",
    "robustness_by_kind",
    "robustness_entry",
    "robustness_table",
    "save_results",
    "thesis_reported_results",
]

SCHEMA_VERSION = 1
_RECORD_TYPES: dict[str, type[Results]] = {"evaluation": EvaluationResults, "reported": ReportedResults}
RESULT_KINDS = tuple(_RECORD_TYPES)
HARD_PAIR: tuple[str, str] = ("ffhq", "stylegan2_tpdne")
"""Real FFHQ photos vs StyleGAN2 faces: same resolution and framing, so no data-set shortcut."""

COMPARISON_COLUMNS = (
    "model_id",
    "model_name",
    "optimiser",
    "reported_not_reproduced",
    "approximate",
    "accuracy",
    "accuracy_ci",
    "balanced_accuracy",
    "auc",
    "ece",
    "f1",
    "hard_pair_balanced_accuracy",
    "n",
    "source",
)
"""Keys (and display order) of each :func:`comparison_table` row."""

_R = TypeVar("_R", bound=Record)


# --------------------------------------------------------------------------- parsing


def _fail(source: str, problem: str) -> ResultsFileError:
    return ResultsFileError(f"Results file '{source}' is invalid: {problem}")


def _parsed(record_type: type[_R], document: Mapping[str, Any], source: str) -> _R:
    """``record_type`` read from ``document``; a schema problem is reported against ``source``."""
    try:
        return record_type.from_dict(document)
    except SchemaError as error:
        raise _fail(source, str(error)) from error


def results_from_dict(document: Any, *, source: str = "<in memory>") -> Results:
    """The typed record of a parsed results file.

    ``schema_version`` and ``kind`` are checked first, because they decide how the rest is read;
    then the record checks every field as it loads. Absent optional fields take their defaults
    (``None``, or ``()`` for ``robustness``, ``False`` for a table row's ``approximate``).

    Raises:
        ResultsFileError: not a JSON object, an unknown ``schema_version`` or ``kind``, a missing
            required key, or a value of the wrong type or range; the message names ``source`` and
            the offending path (e.g. ``predictions[3].p_fake``).
    """
    if not isinstance(document, dict):
        raise _fail(source, "the top level must be a JSON object.")
    if "schema_version" not in document:
        raise _fail(source, "it has no 'schema_version' field, so it is not a deepfake-lens results file.")
    version = document["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ResultsFileError(
            f"Results file '{source}' was written by schema version {version!r}; this version of deepfake-lens "
            f"reads version {SCHEMA_VERSION}. Re-run `deepfake-core evaluate` to regenerate it."
        )
    kind = document.get("kind")
    if kind not in RESULT_KINDS:
        expected = ", ".join(repr(name) for name in RESULT_KINDS)
        raise _fail(source, f"its kind is {kind!r}; expected one of {expected}.")
    return _parsed(_RECORD_TYPES[kind], document, source)


# --------------------------------------------------------------------------- file I/O


_FILE_MODE = 0o644
"""Results are meant to be read by the dashboard's user too; ``mkstemp`` alone would give 0o600."""


def save_results(results: Results, path: str | os.PathLike[str]) -> Path:
    """Write ``results`` as indented JSON, atomically; return the path.

    The record checked itself when it was built, so only valid results reach the disk. The file
    is written to a temporary sibling and moved into place with ``os.replace``, so a dashboard
    listing the folder never sees a half-written file. Keys come in the records' field order
    (the documented one), so the same results give the same bytes.
    """
    target = Path(path)
    text = json.dumps(results.to_dict(), indent=2, allow_nan=False)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text + "\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, _FILE_MODE)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ResultsFileError(f"Could not write results file '{target}': {error.strerror or error}.") from error
    return target


def load_results(path: str | os.PathLike[str]) -> Results:
    """Read one results file into its typed record.

    Raises:
        ResultsFileError: the file cannot be read, is not JSON, or does not match the schema
            (see :func:`results_from_dict`); the message names the file.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ResultsFileError(f"Could not read results file '{source}': {reason}.") from error
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsFileError(
            f"Results file '{source}' is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from error
    return results_from_dict(parsed, source=str(source))


@dataclass(frozen=True)
class ResultsListing:
    """What :func:`list_results` found: the valid files' records and why the others were skipped."""

    results: list[Results] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)
    """``(path, message)`` for each ``*.json`` file that failed to load, for the page to show."""


def list_results(folder: str | os.PathLike[str]) -> ResultsListing:
    """Load every ``*.json`` file directly in ``folder``, in file-name order.

    Invalid files do not stop the listing: each one is reported in ``problems`` so a single
    stale file cannot hide every other model. A missing folder is an empty listing (nothing
    evaluated yet); a path that exists but is not a folder raises ``ResultsFileError``.
    """
    root = Path(folder)
    if not root.exists():
        return ResultsListing()
    if not root.is_dir():
        raise ResultsFileError(f"Results folder '{root}' is not a folder.")
    results: list[Results] = []
    problems: list[tuple[Path, str]] = []
    for path in sorted(root.glob("*.json")):
        try:
            results.append(load_results(path))
        except ResultsFileError as error:
            problems.append((path, str(error)))
    return ResultsListing(results=results, problems=problems)


# --------------------------------------------------------------------------- building


def _label_indices(labels: Sequence[int | str]) -> np.ndarray:
    """``(N,)`` 1 = Fake / 0 = Real from either 0/1 integers or "Real"/"Fake" strings."""
    values = np.asarray(labels)
    if values.dtype.kind in "US":
        unknown = set(values.tolist()) - set(CLASS_LABELS)
        if unknown:
            raise ValueError(f"labels must be 'Real' or 'Fake', got {sorted(unknown)!r}.")
        return (values == "Fake").astype(int)
    return values.astype(int) if values.size else np.zeros(0, dtype=int)


def false_alarm_entry(
    p_fake: Sequence[float], *, threshold: float, data_name: str, flags: Sequence[bool] | None = None
) -> FalseAlarm:
    """The ``false_alarm`` block: how often real full-frame photos (no fakes) get a Fake verdict.

    Args:
        p_fake: ``(M,)`` P(Fake) for real photos only.
        threshold: the card's verdict threshold.
        data_name: name of the photo collection, shown on the dashboard.
        flags: ``(M,)`` the "unlike the training faces" flag of each, for a model that has one.
    """
    p = np.asarray(p_fake, dtype=float)
    alarms = p >= threshold
    flagged = None if flags is None else np.asarray(flags, dtype=bool)
    return FalseAlarm(
        data=data_name,
        n=int(p.size),
        n_fake_verdicts=int(alarms.sum()),
        fake_rate=float(alarms.mean()) if p.size else None,
        ci=wilson_interval(int(alarms.sum()), int(p.size)),
        n_flagged=None if flagged is None else int(flagged.sum()),
        n_fake_verdicts_flagged=None if flagged is None else int((alarms & flagged).sum()),
        p_fake=tuple(p.tolist()),
    )


def robustness_entry(
    *,
    name: str,
    params: Mapping[str, Any],
    y_fake: Sequence[int],
    p_fake: Sequence[float],
    threshold: float,
    kinds: Sequence[str] | None = None,
    lost_kinds: Sequence[str] | None = None,
) -> RobustnessEntry:
    """One ``robustness`` item: accuracy and AUC on the test set after one perturbation.

    ``name`` identifies the perturbation (e.g. ``"jpeg_q50"``), ``params`` its settings (e.g.
    ``{"quality": 50}``); ``y_fake``/``p_fake`` are ``(N,)`` labels and P(Fake) of the perturbed
    images that got a verdict. ``kinds`` (``(N,)``, their kinds) adds per-kind accuracy, because
    a perturbation can hurt one generator's fakes and leave the rest alone. ``lost_kinds`` holds
    the kind of each image whose face the face step no longer found after the perturbation (no
    verdict; ``None`` for a model without a face step), so losing faces is never mistaken for
    judging them well.
    """
    metrics = threshold_metrics(y_fake, p_fake, threshold=threshold)
    per_kind = None
    if kinds is not None:
        judged = np.asarray(kinds, dtype=str)
        correct = (np.asarray(p_fake, dtype=float) >= threshold) == np.asarray(y_fake, dtype=bool)
        if correct.shape != judged.shape:
            raise ValueError(f"kinds must have one entry per image, got {judged.shape} for {correct.shape}.")
        lost = None if lost_kinds is None else Counter(lost_kinds)
        per_kind = {}
        for kind in sorted({*judged.tolist(), *(lost or ())}):
            mine = judged == kind
            per_kind[kind] = {
                "n": int(mine.sum()),
                "accuracy": float(correct[mine].mean()) if mine.any() else None,
                "no_face": None if lost is None else lost[kind],
            }
    return RobustnessEntry(
        name=name,
        params=to_jsonable(params),
        accuracy=metrics["accuracy"],
        auc=auc_score(y_fake, p_fake),
        n=metrics["n"],
        n_no_face=None if lost_kinds is None else len(lost_kinds),
        per_kind=per_kind,
    )


ROBUSTNESS_COLUMNS = ("name", "params", "reference", "accuracy", "accuracy_change", "auc", "n", "n_no_face")
"""Keys (and display order) of each :func:`robustness_table` row."""


def _clean_first(robustness: Iterable[RobustnessEntry]) -> list[RobustnessEntry]:
    """The entries with the ``clean`` baseline (if stored) moved to the front, the rest in stored order."""
    return sorted(robustness, key=lambda entry: entry.name != CLEAN)


def robustness_table(robustness: Iterable[RobustnessEntry]) -> list[dict[str, Any]]:
    """One row per perturbation, keys :data:`ROBUSTNESS_COLUMNS`, the ``clean`` baseline first.

    ``reference`` marks the clean row; ``accuracy_change`` is each row's accuracy minus the clean
    row's (``None`` without a clean row, as in files written before it existed, or where an
    accuracy is undefined); ``params`` is the settings as ``key=value`` text.
    """
    entries = _clean_first(robustness)
    clean = entries[0].accuracy if entries and entries[0].name == CLEAN else None
    return [
        {
            "name": entry.name,
            "params": ", ".join(f"{key}={value}" for key, value in entry.params.items()),
            "reference": entry.name == CLEAN,
            "accuracy": entry.accuracy,
            "accuracy_change": None if clean is None or entry.accuracy is None else entry.accuracy - clean,
            "auc": entry.auc,
            "n": entry.n,
            "n_no_face": entry.n_no_face,
        }
        for entry in entries
    ]


def robustness_by_kind(
    robustness: Iterable[RobustnessEntry], *, value: Literal["accuracy", "n", "no_face"] = "accuracy"
) -> list[dict[str, Any]]:
    """Rows of a kinds x perturbations table: ``{"kind", <perturbation name>: <value>, ...}`` per kind.

    ``value`` names the :class:`~deepfake_core.evaluation.schema.RobustnessKind` field shown; the
    ``clean`` column comes first. Entries without per-kind results (older files) are left out;
    a kind missing from an entry is ``None`` there.
    """
    entries = [entry for entry in _clean_first(robustness) if entry.per_kind is not None]
    kinds = sorted({kind for entry in entries for kind in entry.per_kind})
    return [
        {
            "kind": kind,
            **{
                entry.name: None if kind not in entry.per_kind else getattr(entry.per_kind[kind], value)
                for entry in entries
            },
        }
        for kind in kinds
    ]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_evaluation_results(
    *,
    model_id: str,
    model_name: str,
    data: Mapping[str, Any],
    ids: Sequence[str],
    labels: Sequence[int | str],
    kinds: Sequence[str],
    p_fake: Sequence[float],
    threshold: float,
    temperature: float = 1.0,
    p_fake_uncalibrated: Sequence[float] | None = None,
    feature_distances: Sequence[float] | None = None,
    flag_threshold: float | None = None,
    seen_kinds: Sequence[str] | None = None,
    robustness: Iterable[RobustnessEntry] = (),
    false_alarm: FalseAlarm | None = None,
    training_history: Mapping[str, Sequence[float]] | None = None,
    faces: Mapping[str, Any] | None = None,
    pairs: Iterable[tuple[str, str]] = (HARD_PAIR,),
    seed: int = 0,
    n_boot: int = 1000,
    n_bins: int = 10,
    created: str | None = None,
) -> EvaluationResults:
    """Compute every stored metric from per-image predictions and assemble the results record.

    Args:
        model_id, model_name: the model card's id and display name.
        data: ``{"root", "split", "manifest_sha256"}`` describing the test split; ``n_images``
            is filled in from the predictions (if given, it must match them).
        ids, labels, kinds, p_fake: ``(N,)`` per image: id (e.g. path relative to the root),
            true label (0/1 with 1 = Fake, or "Real"/"Fake"), kind (source data set) and the
            calibrated P(Fake) that the dashboard shows.
        threshold: the card's verdict threshold (Fake iff ``p_fake >= threshold``).
        temperature: the temperature that turned ``p_fake_uncalibrated`` into ``p_fake``.
        p_fake_uncalibrated: ``(N,)`` P(Fake) before temperature scaling, if available.
        feature_distances, flag_threshold: ``(N,)`` familiarity distances and the card's flag
            threshold, for a model with the "unlike the training faces" flag.
        seen_kinds: the kinds the model trained on; test kinds outside them are scored as
            unseen in the ``generalisation`` block.
        robustness: items from :func:`robustness_entry`.
        false_alarm: block from :func:`false_alarm_entry`.
        training_history: Keras ``History.history``-style ``{"loss": [...], ...}``.
        faces: for a model with a face step, ``{"face_crop", "coverage", "misses"}``: the
            card's face step, per kind how many images had a face, and the images without one
            (which get no verdict and are not in the predictions).
        pairs: ``(real_kind, fake_kind)`` pairs to evaluate in isolation.
        seed, n_boot: bootstrap settings (same seed, same intervals).
        n_bins: calibration bins.
        created: ISO-8601 time stamp; defaults to now (UTC).

    Raises:
        ValueError: per-image sequences of different lengths, duplicate ids, bad labels or a
            ``data["n_images"]`` that disagrees with the predictions.
        ResultsFileError: a block given by the caller (``data``, ``faces``, ...) does not match the schema.
    """
    y = _label_indices(labels)
    p = np.asarray(p_fake, dtype=float)
    kind_names = [str(kind) for kind in kinds]
    id_names = [str(image_id) for image_id in ids]
    lengths = (len(id_names), y.size, len(kind_names), p.size)
    if len(set(lengths)) != 1:
        raise ValueError(f"ids, labels, kinds and p_fake must have equal lengths, got {lengths}.")
    if len(set(id_names)) != len(id_names):
        raise ValueError("ids must be unique: the dashboard looks images up by id.")
    if data.get("n_images", y.size) != y.size:
        raise ValueError(f"data['n_images'] is {data['n_images']} but {y.size} predictions were given.")
    distances = None if feature_distances is None or flag_threshold is None else np.asarray(feature_distances)
    if distances is not None and distances.shape != p.shape:
        raise ValueError(f"feature_distances must have one entry per image, got {distances.shape}.")
    flags = None if distances is None else unfamiliar(distances, flag_threshold)
    intervals = bootstrap_intervals(y, p, threshold=threshold, n_boot=n_boot, seed=seed)
    eer, eer_threshold = equal_error_rate(y, p)
    document = {
        "schema_version": SCHEMA_VERSION,
        "kind": "evaluation",
        "model_id": model_id,
        "model_name": model_name,
        "created": created or _now(),
        "data": {**data, "n_images": int(y.size)},
        "threshold": float(threshold),
        "temperature": float(temperature),
        "predictions": [
            {
                "id": image_id,
                "label": CLASS_LABELS[label],
                "kind": kind,
                "p_fake": probability,
                **({} if distances is None else {"feature_distance": distances[i], "unfamiliar": flags[i]}),
            }
            for i, (image_id, label, kind, probability) in enumerate(
                zip(id_names, y.tolist(), kind_names, p.tolist(), strict=True)
            )
        ],
        "metrics": threshold_metrics(y, p, threshold=threshold),
        "classification_report": classification_report_dict(y, p, threshold=threshold),
        "roc": roc_curve_data(y, p),
        "pr": pr_curve_data(y, p),
        "eer": None if eer is None else {"eer": eer, "threshold": eer_threshold},
        "calibration": calibration_summary(y, p, n_bins=n_bins),
        "calibration_uncalibrated": (
            None if p_fake_uncalibrated is None else calibration_summary(y, p_fake_uncalibrated, n_bins=n_bins)
        ),
        "per_kind": per_group_metrics(y, p, kind_names, threshold=threshold, seed=seed, n_boot=n_boot),
        "pairs": {
            pair_key(real, fake): pair_metrics(
                y, p, kind_names, real_kind=real, fake_kind=fake, threshold=threshold, seed=seed, n_boot=n_boot
            )
            for real, fake in pairs
        },
        "bootstrap": {
            "n_boot": n_boot,
            "seed": seed,
            "confidence": CONFIDENCE_LEVEL,
            "stratified": True,
            "auc_ci": intervals["auc"],
            "balanced_accuracy_ci": intervals["balanced_accuracy"],
        },
        "robustness": list(robustness),
        "false_alarm": false_alarm,
        "training_history": training_history,
        "faces": faces,
        "familiarity": (
            None
            if distances is None
            else familiarity_block(y, p, kind_names, flags, threshold=threshold, flag_threshold=flag_threshold)
        ),
        "generalisation": (
            None
            if seen_kinds is None
            else generalisation_block(
                y, p, kind_names, seen_kinds=seen_kinds, threshold=threshold, flags=flags, photos=_photos(false_alarm)
            )
        ),
    }
    return _parsed(EvaluationResults, to_jsonable(document), f"results for {model_id}")


_THESIS_NOTE = (
    "Copied from the thesis' own notebooks; not reproduced by deepfake-lens. Test set: 2000 images "
    "(1000 Real, 1000 Fake) from an OpenForensics-derived Kaggle data set, which is not the split "
    "deepfake-lens evaluates on, so these figures are not directly comparable with reproduced results."
)
_THESIS_ROWS = (
    ("Custom CNN", "SGD", 0.50, "Chance level on the balanced test set."),
    ("MobileNetV2 (ImageNet)", "SGD", 0.9615, None),
    ("VGG16 (ImageNet, frozen)", "SGD", 0.7555, None),
    ("Xception (ImageNet)", "SGD", 0.9355, None),
    ("EfficientNetB2 (ImageNet)", "SGD", 0.955, None),
    ("EfficientNetB7 + attention", "SGD", 0.934, None),
)


def thesis_reported_results(*, created: str | None = None) -> ReportedResults:
    """The ``"reported"`` entry with the thesis' test accuracies (N = 2000, 1000 per class).

    Only what the notebooks state is stored: the final model's accuracy was reported as "~0.97"
    (kept as 0.97 with ``approximate=True``) and its precision/recall only as a range
    (0.96-0.97), so those two are ``None`` with the range in the row's note.
    """
    final = TableRow(
        model="EfficientNetB7 + attention",
        optimiser="Adam",
        accuracy=0.97,
        f1=0.97,
        n_test=2000,
        approximate=True,
        note="Final model. Accuracy reported as ~0.97; precision and recall reported as 0.96-0.97.",
    )
    return ReportedResults(
        schema_version=SCHEMA_VERSION,
        kind="reported",
        model_id="thesis-reported",
        model_name="Thesis (reported)",
        created=created or _now(),
        source="Thesis notebooks",
        note=_THESIS_NOTE,
        table=(
            *(
                TableRow(model=model, optimiser=optimiser, accuracy=accuracy, n_test=2000, note=note)
                for model, optimiser, accuracy, note in _THESIS_ROWS
            ),
            final,
        ),
    )


# --------------------------------------------------------------------------- reading back


def metrics_at_threshold(results: EvaluationResults, threshold: float) -> ThresholdView:
    """Recompute every threshold-dependent block from the stored predictions (the threshold slider).

    Per-kind and pair intervals are drawn again with the file's own bootstrap seed and size, so at
    the stored threshold the view repeats the stored blocks exactly, and a moved slider changes
    only what the threshold changes. The familiarity and generalisation blocks are recomputed when
    the file has them. The operating point is where ``threshold`` sits on the stored ROC and PR
    curves. The blocks the view does not hold (``robustness``, ``false_alarm``) stay at the stored
    threshold; the generalisation block's unseen fakes against the false-alarm photos move with it.
    """
    arrays = results.arrays
    y, p, kinds = arrays.y_fake, arrays.p_fake, arrays.kinds.tolist()
    resampling = {"seed": results.bootstrap.seed, "n_boot": results.bootstrap.n_boot}
    metrics = ThresholdMetrics.from_dict(threshold_metrics(y, p, threshold=threshold))
    report = classification_report_dict(y, p, threshold=threshold)
    familiarity = flags = None
    if results.familiarity is not None and arrays.feature_distances is not None:
        flag_threshold = results.familiarity.flag_threshold
        flags = unfamiliar(arrays.feature_distances, flag_threshold)
        familiarity = familiarity_block(y, p, kinds, flags, threshold=threshold, flag_threshold=flag_threshold)
    generalisation = results.generalisation
    return ThresholdView(
        threshold=float(threshold),
        metrics=metrics,
        classification_report=ClassificationReport.from_dict(report),
        operating_point=OperatingPoint(
            fpr=metrics.false_positive_rate, tpr=metrics.recall, precision=metrics.precision, recall=metrics.recall
        ),
        per_kind=per_group_metrics(y, p, kinds, threshold=threshold, **resampling),
        pairs={
            key: pair_metrics(
                y, p, kinds, real_kind=pair.real_kind, fake_kind=pair.fake_kind, threshold=threshold, **resampling
            )
            for key, pair in results.pairs.items()
        },
        familiarity=familiarity,
        generalisation=(
            None
            if generalisation is None
            else generalisation_block(
                y,
                p,
                kinds,
                seen_kinds=generalisation.seen_kinds,
                threshold=threshold,
                flags=flags,
                photos=_photos(results.false_alarm),
            )
        ),
    )


def _photos(false_alarm: FalseAlarm | None) -> np.ndarray | None:
    """The false-alarm faces' P(fake), when the block stores them (files from before it did, not)."""
    return None if false_alarm is None or false_alarm.p_fake is None else np.asarray(false_alarm.p_fake)


def _comparison_row(**values: Any) -> dict[str, Any]:
    return {column: values.get(column) for column in COMPARISON_COLUMNS}


def _evaluation_row(results: EvaluationResults) -> dict[str, Any]:
    metrics = results.metrics
    hard_pair = results.pairs.get(pair_key(*HARD_PAIR))
    return _comparison_row(
        model_id=results.model_id,
        model_name=results.model_name,
        reported_not_reproduced=False,
        approximate=False,
        accuracy=metrics.accuracy,
        accuracy_ci=metrics.accuracy_ci,
        balanced_accuracy=metrics.balanced_accuracy,
        auc=None if results.roc is None else results.roc.auc,
        ece=results.calibration.ece,
        f1=metrics.f1,
        hard_pair_balanced_accuracy=None if hard_pair is None else hard_pair.balanced_accuracy,
        n=metrics.n,
        source=results.data.split,
    )


def _reported_rows(results: ReportedResults) -> list[dict[str, Any]]:
    return [
        _comparison_row(
            model_id=results.model_id,
            model_name=row.model,
            optimiser=row.optimiser,
            reported_not_reproduced=True,
            approximate=row.approximate,
            accuracy=row.accuracy,
            f1=row.f1,
            n=row.n_test,
            source=results.source,
        )
        for row in results.table
    ]


def comparison_table(results_list: Iterable[Results]) -> list[dict[str, Any]]:
    """One row per model, keys :data:`COMPARISON_COLUMNS`, evaluated models first.

    An evaluation file gives one row; a reported file gives one row per table entry, flagged
    ``reported_not_reproduced`` (and ``approximate`` where the source said "~"). Values a
    source does not provide are ``None``; nothing is derived from reported figures.
    ``source`` is the evaluated split name, or the reported entry's source.
    """
    evaluated: list[dict[str, Any]] = []
    reported: list[dict[str, Any]] = []
    for results in results_list:
        if isinstance(results, EvaluationResults):
            evaluated.append(_evaluation_row(results))
        else:
            reported.extend(_reported_rows(results))
    return evaluated + reported
