"""Evaluation of Real/Fake classifiers from labels and probabilities (no model needed).

* :mod:`~deepfake_core.evaluation.metrics`: threshold metrics, curves, calibration bins,
  confidence intervals, per-kind and hard-pair metrics; all JSON-safe.
* :mod:`~deepfake_core.evaluation.calibration`: temperature scaling.
* :mod:`~deepfake_core.evaluation.results`: the versioned results files the dashboard renders,
  read into the typed records of :mod:`~deepfake_core.evaluation.schema`
  (built on :mod:`~deepfake_core.evaluation.record`).
"""

from __future__ import annotations

from deepfake_core.evaluation.calibration import (
    TEMPERATURE_BOUNDS,
    apply_temperature,
    fit_temperature,
    negative_log_likelihood,
)
from deepfake_core.evaluation.metrics import (
    CLASS_LABELS,
    CONFIDENCE_LEVEL,
    MAX_CURVE_POINTS,
    THRESHOLD_ABOVE_ALL,
    auc_score,
    bootstrap_intervals,
    calibration_bins,
    calibration_summary,
    classification_report_dict,
    equal_error_rate,
    expected_calibration_error,
    pair_key,
    pair_metrics,
    per_group_metrics,
    pr_curve_data,
    roc_curve_data,
    threshold_metrics,
    to_jsonable,
    wilson_interval,
)
from deepfake_core.evaluation.record import SchemaError
from deepfake_core.evaluation.results import (
    COMPARISON_COLUMNS,
    HARD_PAIR,
    RESULT_KINDS,
    SCHEMA_VERSION,
    ResultsListing,
    build_evaluation_results,
    comparison_table,
    false_alarm_entry,
    list_results,
    load_results,
    metrics_at_threshold,
    results_from_dict,
    robustness_entry,
    save_results,
    thesis_reported_results,
)
from deepfake_core.evaluation.schema import EvaluationResults, ReportedResults, Results, ThresholdView

__all__ = [
    "CLASS_LABELS",
    "COMPARISON_COLUMNS",
    "CONFIDENCE_LEVEL",
    "HARD_PAIR",
    "MAX_CURVE_POINTS",
    "RESULT_KINDS",
    "SCHEMA_VERSION",
    "TEMPERATURE_BOUNDS",
    "THRESHOLD_ABOVE_ALL",
    "EvaluationResults",
    "ReportedResults",
    "Results",
    "ResultsListing",
    "SchemaError",
    "ThresholdView",
    "apply_temperature",
    "auc_score",
    "bootstrap_intervals",
    "build_evaluation_results",
    "calibration_bins",
    "calibration_summary",
    "classification_report_dict",
    "comparison_table",
    "equal_error_rate",
    "expected_calibration_error",
    "false_alarm_entry",
    "fit_temperature",
    "list_results",
    "load_results",
    "metrics_at_threshold",
    "negative_log_likelihood",
    "pair_key",
    "pair_metrics",
    "per_group_metrics",
    "pr_curve_data",
    "results_from_dict",
    "robustness_entry",
    "roc_curve_data",
    "save_results",
    "thesis_reported_results",
    "threshold_metrics",
    "to_jsonable",
    "wilson_interval",
]
