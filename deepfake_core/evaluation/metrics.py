"""Binary Real/Fake metrics computed from labels and probabilities, JSON-safe.

Conventions used throughout (and by the stored results files):

* ``y_fake``: shape ``(N,)`` ints, ``1`` = Fake, ``0`` = Real (bools are accepted).
* ``p_fake``: shape ``(N,)`` floats in ``[0, 1]``, the model's P(Fake).
* The verdict is Fake iff ``p_fake >= threshold``.
* Fake is the positive class: precision, recall and F1 without a qualifier are Fake's.

Every function returns plain ``float``/``int``/``None``/``list``/``dict`` values so the
output can go straight into ``json.dumps``. A value that is mathematically undefined for
the given data (recall when no fakes are present, AUC with a single class, ...) is
``None`` rather than ``nan`` or an exception: small per-kind groups are often single-class,
and a dashboard must render them, not crash.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

__all__ = [
    "CLASS_LABELS",
    "CONFIDENCE_LEVEL",
    "MAX_CURVE_POINTS",
    "THRESHOLD_ABOVE_ALL",
    "auc_fakes_against",
    "auc_score",
    "bootstrap_intervals",
    "calibration_bins",
    "calibration_summary",
    "classification_report_dict",
    "equal_error_rate",
    "expected_calibration_error",
    "pair_key",
    "pair_metrics",
    "per_group_metrics",
    "pr_curve_data",
    "roc_curve_data",
    "threshold_calling_fake",
    "threshold_metrics",
    "to_jsonable",
    "wilson_interval",
]

CLASS_LABELS: tuple[str, str] = ("Real", "Fake")
"""Class names in index order: index 0 = Real, index 1 = Fake (rows/columns of confusion matrices)."""

CONFIDENCE_LEVEL = 0.95
MAX_CURVE_POINTS = 300
"""Stored ROC/PR curves are thinned to about this many points so results files stay small."""

THRESHOLD_ABOVE_ALL = float(np.nextafter(1.0, 2.0))
"""Finite stand-in for sklearn's ``inf`` first ROC threshold: no probability reaches it, so
every verdict is Real there, exactly like ``inf``, but it is valid JSON."""

_BOOTSTRAP_CHUNK_ELEMENTS = 2_000_000
"""Upper bound on resampled values held in memory at once by :func:`bootstrap_intervals`."""


# --------------------------------------------------------------------------- helpers


def to_jsonable(value: Any) -> Any:
    """Return ``value`` with numpy scalars/arrays, tuples and non-finite floats made JSON-safe.

    Mappings become ``dict`` with ``str`` keys, sequences and arrays become ``list``, numpy
    scalars become Python scalars and ``nan``/``inf`` become ``None`` (JSON has no NaN, and a
    NaN here always means "undefined").
    """
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _binary_inputs(y_fake: Any, p_fake: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert inputs to ``(int array (N,), float array (N,))``.

    Raises ``ValueError`` for wrong shapes, labels other than 0/1 or probabilities outside
    ``[0, 1]``: those are caller bugs, and silently coercing them would corrupt every metric.
    """
    y = np.asarray(y_fake)
    p = np.asarray(p_fake, dtype=float)
    if y.ndim != 1 or p.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"y_fake and p_fake must be 1-D arrays of equal length, got shapes {y.shape} and {p.shape}.")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("y_fake must contain only 0 (Real) and 1 (Fake).")
    if p.size and not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise ValueError("p_fake must contain finite probabilities in [0, 1].")
    return y.astype(int), p


def _fraction(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator`` as a float, or ``None`` when the denominator is zero."""
    return float(numerator / denominator) if denominator else None


def _mean_if_defined(values: Sequence[float | None]) -> float | None:
    """Mean of ``values``, or ``None`` if any of them is undefined (no silent partial averages)."""
    if any(value is None for value in values):
        return None
    return float(np.mean(values))


def _confusion_counts(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts of true/false negatives/positives with Fake as the positive class."""
    predicted_fake = p >= threshold
    actual_fake = y == 1
    return {
        "tn": int(np.sum(~actual_fake & ~predicted_fake)),
        "fp": int(np.sum(~actual_fake & predicted_fake)),
        "fn": int(np.sum(actual_fake & ~predicted_fake)),
        "tp": int(np.sum(actual_fake & predicted_fake)),
    }


def _class_scores(tp: int, fp: int, fn: int) -> dict[str, float | int | None]:
    """Precision, recall, F1 and support of one class given its own tp/fp/fn.

    F1 is ``2tp / (2tp + fp + fn)``: equal to the harmonic mean where both are defined, and
    still defined (0.0) when a present class is never predicted.
    """
    return {
        "precision": _fraction(tp, tp + fp),
        "recall": _fraction(tp, tp + fn),
        "f1-score": _fraction(2 * tp, 2 * tp + fp + fn),
        "support": tp + fn,
    }


def wilson_interval(successes: int, n: int, *, confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float] | None:
    """Wilson score interval for a proportion ``successes / n``; ``None`` when ``n == 0``.

    Used instead of the normal ("Wald") interval because per-kind groups hold only dozens of
    images and accuracies near 1.0, where Wald intervals collapse to zero width or leave [0, 1].
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}.")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    proportion = successes / n
    denominator = 1.0 + z * z / n
    centre = (proportion + z * z / (2.0 * n)) / denominator
    half_width = z / denominator * math.sqrt(proportion * (1.0 - proportion) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


# --------------------------------------------------------------------------- threshold metrics


def threshold_metrics(y_fake: Any, p_fake: Any, *, threshold: float = 0.5) -> dict[str, Any]:
    """Metrics of the verdicts at one threshold.

    Args:
        y_fake: ``(N,)`` true labels, 1 = Fake.
        p_fake: ``(N,)`` P(Fake).
        threshold: verdict Fake iff ``p_fake >= threshold``.

    Returns:
        ``threshold``, ``n``, ``support`` ({"Real", "Fake"}), ``counts`` ({tn, fp, fn, tp}),
        ``labels`` (``["Real", "Fake"]``), ``confusion_matrix`` (``[[tn, fp], [fn, tp]]``:
        rows = true class, columns = predicted class, both in ``labels`` order), the
        proportions ``accuracy``, ``precision``, ``recall``, ``specificity`` and
        ``false_positive_rate`` each with a Wilson ``<name>_ci`` ``[low, high]``, plus ``f1``
        and ``balanced_accuracy`` (mean of recall and specificity). Undefined values are ``None``.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    counts = _confusion_counts(y, p, threshold)
    tn, fp, fn, tp = counts["tn"], counts["fp"], counts["fn"], counts["tp"]
    proportions = {
        "accuracy": (tp + tn, y.size),
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "false_positive_rate": (fp, tn + fp),
    }
    result: dict[str, Any] = {
        "threshold": float(threshold),
        "n": int(y.size),
        "support": {"Real": tn + fp, "Fake": tp + fn},
        "counts": counts,
        "labels": list(CLASS_LABELS),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
    for name, (successes, total) in proportions.items():
        result[name] = _fraction(successes, total)
        result[f"{name}_ci"] = wilson_interval(successes, total)
    result["f1"] = _class_scores(tp, fp, fn)["f1-score"]
    result["balanced_accuracy"] = _mean_if_defined([result["recall"], result["specificity"]])
    return to_jsonable(result)


def classification_report_dict(y_fake: Any, p_fake: Any, *, threshold: float) -> dict[str, Any]:
    """Per-class report shaped like sklearn's ``classification_report(output_dict=True)``.

    Args:
        y_fake: ``(N,)`` true labels, 1 = Fake.
        p_fake: ``(N,)`` P(Fake).
        threshold: verdict Fake iff ``p_fake >= threshold``.

    Returns:
        ``{"Real": {...}, "Fake": {...}, "accuracy": float | None, "macro avg": {...},
        "weighted avg": {...}}`` where each inner dict has ``precision``, ``recall``,
        ``f1-score`` and ``support``. Unlike sklearn, an undefined value is ``None`` (not 0.0
        with a warning), and an average is ``None`` when one of its terms is undefined.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    counts = _confusion_counts(y, p, threshold)
    per_class = {
        "Real": _class_scores(counts["tn"], counts["fn"], counts["fp"]),
        "Fake": _class_scores(counts["tp"], counts["fp"], counts["fn"]),
    }
    supports = [per_class[label]["support"] for label in CLASS_LABELS]
    report: dict[str, Any] = dict(per_class)
    report["accuracy"] = _fraction(counts["tp"] + counts["tn"], y.size)
    report["macro avg"] = {"support": int(y.size)}
    report["weighted avg"] = {"support": int(y.size)}
    for metric in ("precision", "recall", "f1-score"):
        values = [per_class[label][metric] for label in CLASS_LABELS]
        report["macro avg"][metric] = _mean_if_defined(values)
        report["weighted avg"][metric] = _weighted_mean(values, supports)
    return to_jsonable(report)


def _weighted_mean(values: Sequence[float | None], weights: Sequence[int]) -> float | None:
    """Support-weighted mean; classes with zero support carry no weight and may be undefined."""
    weighted = [(value, weight) for value, weight in zip(values, weights, strict=True) if weight > 0]
    if not weighted or any(value is None for value, _ in weighted):
        return None
    return float(sum(value * weight for value, weight in weighted) / sum(weight for _, weight in weighted))


# --------------------------------------------------------------------------- curves


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(np.any(y == 1) and np.any(y == 0))


def _thinned(arrays: Sequence[np.ndarray], max_points: int) -> list[list[float]]:
    """Evenly thin parallel curve arrays to at most ``max_points``, always keeping both endpoints."""
    n = len(arrays[0])
    if n <= max_points:
        keep = np.arange(n)
    else:
        keep = np.unique(np.round(np.linspace(0, n - 1, max(max_points, 2))).astype(int))
    return [to_jsonable(array[keep]) for array in arrays]


def auc_score(y_fake: Any, p_fake: Any) -> float | None:
    """ROC AUC of P(Fake) for the Fake class, or ``None`` when only one class is present."""
    y, p = _binary_inputs(y_fake, p_fake)
    return float(roc_auc_score(y, p)) if _has_both_classes(y) else None


def auc_fakes_against(fakes: Any, reals: Any) -> float | None:
    """ROC AUC of two separate groups of P(Fake): ``fakes`` (label Fake) against ``reals`` (label Real).

    For comparisons the stored results do not pair up themselves: a fold's unseen fakes
    against one real source, or against the faces of the false-alarm photos.
    """
    fakes, reals = np.asarray(fakes, dtype=float), np.asarray(reals, dtype=float)
    return auc_score(np.r_[np.ones(fakes.size), np.zeros(reals.size)], np.r_[fakes, reals])


def threshold_calling_fake(reals: Any, n_fake: int) -> float:
    """The P(fake) above which exactly ``n_fake`` of ``reals`` lie.

    Set on the real faces themselves, it compares two models' rankings at an equal
    false-alarm count; it is not a threshold to ship.
    """
    return float(np.sort(np.asarray(reals, dtype=float))[::-1][n_fake])


def roc_curve_data(y_fake: Any, p_fake: Any, *, max_points: int = MAX_CURVE_POINTS) -> dict[str, Any] | None:
    """ROC curve (thinned for storage) and its AUC; ``None`` when only one class is present.

    Returns:
        ``{"fpr": [...], "tpr": [...], "thresholds": [...], "auc": float}``; the lists share
        one length (at most ``max_points``), run from (0, 0) to (1, 1), and thresholds decrease.
        The AUC is computed on the full, unthinned curve.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    if not _has_both_classes(y):
        return None
    fpr, tpr, thresholds = roc_curve(y, p)
    thresholds = np.where(np.isfinite(thresholds), thresholds, THRESHOLD_ABOVE_ALL)
    fpr_list, tpr_list, threshold_list = _thinned([fpr, tpr, thresholds], max_points)
    return {"fpr": fpr_list, "tpr": tpr_list, "thresholds": threshold_list, "auc": float(roc_auc_score(y, p))}


def pr_curve_data(y_fake: Any, p_fake: Any, *, max_points: int = MAX_CURVE_POINTS) -> dict[str, Any] | None:
    """Precision-recall curve for Fake (thinned), average precision and prevalence.

    Returns ``None`` when only one class is present (the curve is then trivial or undefined).
    Otherwise ``{"precision": [...], "recall": [...], "thresholds": [...],
    "average_precision": float, "prevalence": float}`` with thresholds decreasing and recall
    increasing from 0; the first point (recall 0, precision 1) gets the threshold
    :data:`THRESHOLD_ABOVE_ALL`, which sklearn leaves out. ``prevalence`` (fraction of fakes)
    is the precision of a no-skill classifier, the PR plot's baseline.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    if not _has_both_classes(y):
        return None
    precision, recall, thresholds = precision_recall_curve(y, p, drop_intermediate=True)
    thresholds = np.append(thresholds, THRESHOLD_ABOVE_ALL)
    # sklearn orders PR points by increasing threshold; store them like ROC, by decreasing threshold.
    curve = [precision[::-1], recall[::-1], thresholds[::-1]]
    precision_list, recall_list, threshold_list = _thinned(curve, max_points)
    return {
        "precision": precision_list,
        "recall": recall_list,
        "thresholds": threshold_list,
        "average_precision": float(average_precision_score(y, p)),
        "prevalence": float(y.mean()),
    }


def equal_error_rate(y_fake: Any, p_fake: Any) -> tuple[float | None, float | None]:
    """Equal error rate (where false-positive rate = false-negative rate) and its threshold.

    The EER is read off the full ROC curve at the crossing of FPR and FNR = 1 - TPR, linearly
    interpolated between the two ROC points that bracket it. The returned threshold is the one
    of the ROC point nearest the crossing (thresholds between ROC points are not attainable
    operating points). ``(None, None)`` when only one class is present.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    if not _has_both_classes(y):
        return None, None
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    thresholds = np.where(np.isfinite(thresholds), thresholds, THRESHOLD_ABOVE_ALL)
    gap = (1.0 - tpr) - fpr  # non-increasing along the curve: +1 at (0, 0), -1 at (1, 1)
    after = int(np.argmax(gap <= 0.0))  # >= 1: the first point, (0, 0), has gap +1
    if gap[after] == 0.0:
        return float(fpr[after]), float(thresholds[after])
    before = after - 1
    weight = gap[before] / (gap[before] - gap[after])
    eer = fpr[before] + weight * (fpr[after] - fpr[before])
    nearest = after if weight >= 0.5 else before
    return float(eer), float(thresholds[nearest])


# --------------------------------------------------------------------------- calibration


def calibration_bins(y_fake: Any, p_fake: Any, *, n_bins: int = 10) -> list[dict[str, Any]]:
    """Reliability-diagram bins of P(Fake) over ``n_bins`` equal-width bins of ``[0, 1]``.

    Bin ``i`` covers ``[i/n_bins, (i+1)/n_bins)``; the last bin also includes 1.0.

    Returns:
        ``n_bins`` dicts ``{"lower", "upper", "count", "mean_predicted", "fraction_fake"}``;
        the two means are ``None`` for an empty bin.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}.")
    y, p = _binary_inputs(y_fake, p_fake)
    index = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    bins = []
    for i in range(n_bins):
        members = index == i
        count = int(members.sum())
        bins.append(
            {
                "lower": i / n_bins,
                "upper": (i + 1) / n_bins,
                "count": count,
                "mean_predicted": float(p[members].mean()) if count else None,
                "fraction_fake": float(y[members].mean()) if count else None,
            }
        )
    return bins


def _ece_from_bins(bins: Sequence[Mapping[str, Any]]) -> float | None:
    total = sum(item["count"] for item in bins)
    if total == 0:
        return None
    gaps = (item["count"] * abs(item["fraction_fake"] - item["mean_predicted"]) for item in bins if item["count"])
    return float(sum(gaps) / total)


def expected_calibration_error(y_fake: Any, p_fake: Any, *, n_bins: int = 10) -> float | None:
    """Expected calibration error of P(Fake), ``None`` for empty input.

    Definition used here (binary, "P(Fake)" or class-wise ECE, not the top-label variant):
    ``ECE = sum_b (n_b / N) * |fraction_fake_b - mean_p_fake_b|`` over the equal-width bins of
    :func:`calibration_bins`. It measures whether "P(Fake) = 0.8" means "80 % of such images
    are fake", which is what the dashboard's probability bar claims.
    """
    return _ece_from_bins(calibration_bins(y_fake, p_fake, n_bins=n_bins))


def calibration_summary(y_fake: Any, p_fake: Any, *, n_bins: int = 10) -> dict[str, Any]:
    """``{"n_bins", "bins", "ece"}``: the stored calibration block (bins and ECE from one binning)."""
    bins = calibration_bins(y_fake, p_fake, n_bins=n_bins)
    return {"n_bins": n_bins, "bins": bins, "ece": _ece_from_bins(bins)}


# --------------------------------------------------------------------------- bootstrap


def _auc_rows(real_scores: np.ndarray, fake_scores: np.ndarray) -> np.ndarray:
    """Row-wise ROC AUC via the Mann-Whitney rank formula (ties count one half).

    ``real_scores``: ``(B, n_real)``; ``fake_scores``: ``(B, n_fake)``; returns ``(B,)``.
    """
    n_real, n_fake = real_scores.shape[1], fake_scores.shape[1]
    ranks = rankdata(np.concatenate([real_scores, fake_scores], axis=1), axis=1)
    fake_rank_sum = ranks[:, n_real:].sum(axis=1)
    return (fake_rank_sum - n_fake * (n_fake + 1) / 2.0) / (n_real * n_fake)


def _percentile_interval(samples: np.ndarray, confidence: float) -> list[float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return [float(low), float(high)]


def bootstrap_intervals(
    y_fake: Any,
    p_fake: Any,
    *,
    threshold: float,
    n_boot: int = 1000,
    seed: int | Sequence[int] = 0,
    confidence: float = CONFIDENCE_LEVEL,
) -> dict[str, list[float] | None]:
    """Percentile bootstrap intervals for AUC and balanced accuracy.

    The bootstrap is stratified: reals and fakes are resampled separately, so every resample
    keeps the original class counts. That keeps both statistics defined in every resample of
    a small group (an ordinary bootstrap of 5 fakes draws none of them ~0.6 % of the time)
    and matches how the test sets are built (a fixed number of images per class).

    Args:
        y_fake: ``(N,)`` true labels, 1 = Fake.
        p_fake: ``(N,)`` P(Fake).
        threshold: verdict threshold for balanced accuracy.
        n_boot: number of resamples.
        seed: seed (or seed sequence) of ``numpy.random.default_rng``; same seed, same interval.
        confidence: interval level.

    Returns:
        ``{"auc": [low, high] | None, "balanced_accuracy": [low, high] | None}``; ``None``
        when a class is missing.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    if not _has_both_classes(y):
        return {"auc": None, "balanced_accuracy": None}
    real, fake = p[y == 0], p[y == 1]
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // y.size)
    aucs, balanced = [], []
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        real_sample = real[rng.integers(0, real.size, size=(rows, real.size))]
        fake_sample = fake[rng.integers(0, fake.size, size=(rows, fake.size))]
        aucs.append(_auc_rows(real_sample, fake_sample))
        balanced.append(((fake_sample >= threshold).mean(axis=1) + (real_sample < threshold).mean(axis=1)) / 2.0)
    return {
        "auc": _percentile_interval(np.concatenate(aucs), confidence),
        "balanced_accuracy": _percentile_interval(np.concatenate(balanced), confidence),
    }


# --------------------------------------------------------------------------- groups


def _group_seed(seed: int, name: str) -> list[int]:
    """Per-group seed derived from the group's name, so adding a kind never shifts another's CI."""
    return [seed, zlib.crc32(name.encode("utf-8"))]


def _subset_summary(
    y: np.ndarray, p: np.ndarray, *, threshold: float, seed: Sequence[int], n_boot: int
) -> dict[str, Any]:
    """n, class counts, accuracy (+Wilson CI), AUC and balanced accuracy (+bootstrap CIs), confusion matrix."""
    metrics = threshold_metrics(y, p, threshold=threshold)
    intervals = bootstrap_intervals(y, p, threshold=threshold, n_boot=n_boot, seed=seed)
    return {
        "n": metrics["n"],
        "n_fake": metrics["support"]["Fake"],
        "n_real": metrics["support"]["Real"],
        "accuracy": metrics["accuracy"],
        "accuracy_ci": metrics["accuracy_ci"],
        "auc": auc_score(y, p),
        "auc_ci": intervals["auc"],
        "balanced_accuracy": metrics["balanced_accuracy"],
        "balanced_accuracy_ci": intervals["balanced_accuracy"],
        "confusion_matrix": metrics["confusion_matrix"],
        "ece": expected_calibration_error(y, p),
    }


def per_group_metrics(
    y_fake: Any,
    p_fake: Any,
    groups: Sequence[str],
    *,
    threshold: float,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, dict[str, Any]]:
    """Metrics for each group (image ``kind``: celeba, gan256, ffhq, ...), keyed and sorted by name.

    Args:
        y_fake: ``(N,)`` true labels, 1 = Fake.
        p_fake: ``(N,)`` P(Fake).
        groups: ``(N,)`` group name of each image.
        threshold: verdict threshold.
        seed: base seed of the bootstrap (each group derives its own from its name).
        n_boot: bootstrap resamples.

    Returns:
        ``{kind: {"n", "n_fake", "n_real", "accuracy", "accuracy_ci", "auc", "auc_ci",
        "balanced_accuracy", "balanced_accuracy_ci", "confusion_matrix", "ece"}}``. Most kinds hold a single class, so
        their AUC and balanced accuracy are ``None`` and accuracy is the recall (fake kinds) or
        specificity (real kinds) on that kind.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    names = np.asarray(groups, dtype=str)
    if names.shape != y.shape:
        raise ValueError(f"groups must have one entry per image: got {names.shape}, expected {y.shape}.")
    return {
        name: _subset_summary(
            y[names == name], p[names == name], threshold=threshold, seed=_group_seed(seed, name), n_boot=n_boot
        )
        for name in sorted(set(names.tolist()))
    }


def pair_key(real_kind: str, fake_kind: str) -> str:
    """Key of a pair in a results file's ``pairs`` block, e.g. ``"ffhq_vs_stylegan2_tpdne"``."""
    return f"{real_kind}_vs_{fake_kind}"


def pair_metrics(
    y_fake: Any,
    p_fake: Any,
    groups: Sequence[str],
    *,
    real_kind: str,
    fake_kind: str,
    threshold: float,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Metrics restricted to the real images of ``real_kind`` and the fake images of ``fake_kind``.

    Pairs like real FFHQ vs StyleGAN2 faces share resolution, cropping and style, so a
    classifier cannot score by telling data sets apart; this is the honest hard test.

    Returns:
        ``{"real_kind", "fake_kind", "labels"}`` plus the per-group fields of
        :func:`per_group_metrics` (confusion matrix rows = true, columns = predicted, in
        ``labels`` order). Metrics are ``None`` when either side has no images.
    """
    y, p = _binary_inputs(y_fake, p_fake)
    names = np.asarray(groups, dtype=str)
    if names.shape != y.shape:
        raise ValueError(f"groups must have one entry per image: got {names.shape}, expected {y.shape}.")
    selected = ((names == real_kind) & (y == 0)) | ((names == fake_kind) & (y == 1))
    key = pair_key(real_kind, fake_kind)
    summary = _subset_summary(y[selected], p[selected], threshold=threshold, seed=_group_seed(seed, key), n_boot=n_boot)
    return {"real_kind": real_kind, "fake_kind": fake_kind, "labels": list(CLASS_LABELS), **summary}
