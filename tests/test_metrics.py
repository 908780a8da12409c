"""Metric values against hand-computed cases, degenerate inputs, curves and intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import classification_report, roc_auc_score

from deepfake_core.evaluation.metrics import (
    THRESHOLD_ABOVE_ALL,
    _auc_rows,
    auc_fakes_against,
    auc_score,
    bootstrap_intervals,
    calibration_bins,
    calibration_summary,
    classification_report_dict,
    equal_error_rate,
    expected_calibration_error,
    pair_metrics,
    per_group_metrics,
    pr_curve_data,
    roc_curve_data,
    threshold_calling_fake,
    threshold_metrics,
    to_jsonable,
    wilson_interval,
)

# 4 fakes, 6 reals. At threshold 0.5: fakes 0.9/0.8/0.7 caught, 0.3 missed -> TP 3, FN 1;
# reals 0.6 and 0.5 (a tie counts as Fake) are false alarms -> FP 2, TN 4.
HAND_Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
HAND_P = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.5, 0.2, 0.1, 0.05, 0.45])


@pytest.fixture(scope="module")
def large_scores() -> tuple[np.ndarray, np.ndarray]:
    """5000 images with overlapping score distributions, so curves have thousands of points."""
    rng = np.random.default_rng(7)
    y = (rng.random(5000) < 0.4).astype(int)
    return y, np.clip(rng.normal(0.35 + 0.3 * y, 0.18), 0.0, 1.0)


def test_threshold_metrics_match_hand_computed_example() -> None:
    metrics = threshold_metrics(HAND_Y, HAND_P, threshold=0.5)

    assert metrics["counts"] == {"tn": 4, "fp": 2, "fn": 1, "tp": 3}
    assert metrics["labels"] == ["Real", "Fake"]
    assert metrics["confusion_matrix"] == [[4, 2], [1, 3]]
    assert metrics["support"] == {"Real": 6, "Fake": 4}
    expected = {
        "accuracy": 7 / 10,
        "precision": 3 / 5,
        "recall": 3 / 4,
        "f1": 2 * 0.6 * 0.75 / (0.6 + 0.75),
        "specificity": 4 / 6,
        "false_positive_rate": 2 / 6,
        "balanced_accuracy": (3 / 4 + 4 / 6) / 2,
    }
    assert {key: metrics[key] for key in expected} == pytest.approx(expected)
    low, high = metrics["accuracy_ci"]
    assert low < 0.7 < high


def test_two_groups_of_scores_are_ranked_fakes_against_reals() -> None:
    fakes, reals = np.array([0.9, 0.4, 0.7]), np.array([0.1, 0.5, 0.3, 0.2])
    expected = roc_auc_score([1, 1, 1, 0, 0, 0, 0], np.r_[fakes, reals])
    assert auc_fakes_against(fakes, reals) == pytest.approx(expected)
    assert auc_fakes_against(reals, fakes) == pytest.approx(1 - expected)
    assert auc_fakes_against(fakes, []) is None


def test_the_equal_false_alarm_threshold_leaves_exactly_n_reals_above_it() -> None:
    reals = np.array([0.2, 0.9, 0.1, 0.6, 0.4])
    for n in range(len(reals)):
        assert int(np.sum(reals > threshold_calling_fake(reals, n))) == n


def test_probability_equal_to_threshold_is_a_fake_verdict() -> None:
    metrics = threshold_metrics([0, 1], [0.5, 0.5], threshold=0.5)
    assert metrics["counts"] == {"tn": 0, "fp": 1, "fn": 0, "tp": 1}


def test_classification_report_matches_sklearn_where_defined() -> None:
    ours = classification_report_dict(HAND_Y, HAND_P, threshold=0.5)
    theirs = classification_report(HAND_Y, (HAND_P >= 0.5).astype(int), output_dict=True)
    theirs["Real"], theirs["Fake"] = theirs.pop("0"), theirs.pop("1")

    assert ours.keys() == theirs.keys()
    for key in ("Real", "Fake", "macro avg", "weighted avg"):
        assert ours[key] == pytest.approx(theirs[key])
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    ("y", "p", "undefined", "defined"),
    [
        pytest.param([1, 1, 1], [0.9, 0.2, 0.7], ["specificity", "false_positive_rate", "balanced_accuracy"],
                     {"recall": 2 / 3, "precision": 1.0}, id="fakes-only"),
        pytest.param([0, 0, 0], [0.1, 0.2, 0.7], ["recall", "balanced_accuracy"],
                     {"specificity": 2 / 3, "precision": 0.0, "f1": 0.0}, id="reals-only"),
        pytest.param([0, 1, 0], [0.1, 0.2, 0.3], ["precision", "precision_ci"],
                     {"recall": 0.0, "f1": 0.0, "balanced_accuracy": 0.5}, id="no-fake-verdicts"),
        pytest.param([], [], ["accuracy", "f1", "balanced_accuracy", "accuracy_ci"], {"n": 0}, id="empty"),
    ],
)  # fmt: skip
def test_degenerate_cases_give_none_without_warnings(y, p, undefined, defined) -> None:
    metrics = threshold_metrics(y, p, threshold=0.5)
    report = classification_report_dict(y, p, threshold=0.5)

    assert all(metrics[key] is None for key in undefined)
    assert {key: metrics[key] for key in defined} == pytest.approx(defined)
    json.dumps([metrics, report], allow_nan=False)


def test_averages_are_none_when_a_term_is_undefined() -> None:
    report = classification_report_dict([0, 0, 0], [0.1, 0.2, 0.7], threshold=0.5)
    assert report["Fake"]["recall"] is None
    assert report["macro avg"]["recall"] is None
    assert report["weighted avg"]["recall"] == pytest.approx(2 / 3)  # Fake has no support, so no weight


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 2], [0.1, 0.2], "only 0"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
        ([0, 1], [0.1, np.nan], r"\[0, 1\]"),
        ([0, 1, 1], [0.1, 0.2], "equal length"),
    ],
)
def test_invalid_inputs_are_rejected(y, p, message) -> None:
    with pytest.raises(ValueError, match=message):
        threshold_metrics(y, p)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [(8, 10, (0.4902, 0.9433)), (0, 10, (0.0, 0.2775)), (10, 10, (0.7225, 1.0)), (50, 100, (0.4038, 0.5962))],
)
def test_wilson_interval_matches_published_values(successes, n, expected) -> None:
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=1e-4)


def test_wilson_interval_is_none_without_observations() -> None:
    assert wilson_interval(0, 0) is None


def test_calibration_bins_and_ece_on_hand_made_two_bin_case() -> None:
    # Bin [0, 0.5): mean P(Fake) 0.3, 3 of 4 fake -> gap 0.45. Bin [0.5, 1]: mean 0.8, 3 of 4 -> gap 0.05.
    y = [0, 1, 1, 1, 1, 1, 1, 0]
    p = [0.2, 0.2, 0.4, 0.4, 0.6, 0.8, 0.8, 1.0]

    bins = calibration_bins(y, p, n_bins=2)

    assert [(b["lower"], b["upper"], b["count"]) for b in bins] == [(0.0, 0.5, 4), (0.5, 1.0, 4)]
    assert [b["mean_predicted"] for b in bins] == pytest.approx([0.3, 0.8])
    assert [b["fraction_fake"] for b in bins] == pytest.approx([0.75, 0.75])
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)


def test_calibration_summary_marks_empty_bins_and_keeps_one_in_last_bin() -> None:
    summary = calibration_summary([1, 0], [1.0, 0.0], n_bins=4)

    assert [b["count"] for b in summary["bins"]] == [1, 0, 0, 1]
    assert summary["bins"][1]["mean_predicted"] is None
    assert summary["ece"] == 0.0


@pytest.mark.parametrize(
    ("y", "p", "expected"),
    [
        pytest.param([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], (0.5, 0.6), id="crossing-on-a-roc-point"),
        pytest.param([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], (0.0, 0.8), id="separable"),
        # FPR 1/3 at both bracketing points; FNR falls 0.5 -> 0, crossing at 1/3, nearest threshold 0.6.
        pytest.param([0, 0, 0, 1, 1], [0.1, 0.2, 0.6, 0.5, 0.9], (1 / 3, 0.6), id="interpolated"),
        pytest.param([1, 1], [0.3, 0.9], (None, None), id="one-class"),
    ],
)
def test_equal_error_rate(y, p, expected) -> None:
    assert equal_error_rate(y, p) == pytest.approx(expected)


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0]])
def test_curves_and_intervals_are_none_for_a_single_class(y) -> None:
    p = [0.2, 0.5, 0.9]
    assert roc_curve_data(y, p) is None
    assert pr_curve_data(y, p) is None
    assert auc_score(y, p) is None
    assert bootstrap_intervals(y, p, threshold=0.5, n_boot=10) == {"auc": None, "balanced_accuracy": None}


def test_roc_curve_is_thinned_keeps_endpoints_and_exact_auc(large_scores) -> None:
    y, p = large_scores

    roc = roc_curve_data(y, p, max_points=300)

    assert 2 < len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"]) <= 300
    assert (roc["fpr"][0], roc["tpr"][0], roc["thresholds"][0]) == (0.0, 0.0, THRESHOLD_ABOVE_ALL)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(roc["thresholds"]) < 0)
    assert roc["auc"] == pytest.approx(roc_auc_score(y, p))
    json.dumps(roc, allow_nan=False)


def test_pr_curve_is_thinned_and_runs_from_recall_zero_to_one(large_scores) -> None:
    y, p = large_scores

    pr = pr_curve_data(y, p, max_points=300)

    assert len(pr["precision"]) == len(pr["recall"]) == len(pr["thresholds"]) <= 300
    assert (pr["recall"][0], pr["precision"][0], pr["thresholds"][0]) == (0.0, 1.0, THRESHOLD_ABOVE_ALL)
    assert pr["recall"][-1] == 1.0
    assert pr["prevalence"] == pytest.approx(y.mean())
    assert 0.0 < pr["average_precision"] < 1.0
    json.dumps(pr, allow_nan=False)


def test_small_curves_are_not_thinned() -> None:
    roc = roc_curve_data(HAND_Y, HAND_P)
    assert roc["fpr"] == [0.0, 0.0, 0.0, 0.5, 0.5, 1.0]
    assert roc["auc"] == pytest.approx(roc_auc_score(HAND_Y, HAND_P))


def test_row_wise_auc_matches_sklearn_including_ties() -> None:
    rng = np.random.default_rng(3)
    real = rng.integers(0, 5, size=(4, 9)) / 4  # coarse scores force ties
    fake = rng.integers(1, 5, size=(4, 6)) / 4
    expected = [roc_auc_score([0] * 9 + [1] * 6, np.concatenate([r, f])) for r, f in zip(real, fake, strict=True)]
    assert _auc_rows(real, fake) == pytest.approx(expected)


def test_bootstrap_is_seeded_and_brackets_the_point_estimate(large_scores) -> None:
    y, p = large_scores[0][:300], large_scores[1][:300]

    first = bootstrap_intervals(y, p, threshold=0.5, n_boot=300, seed=1)

    assert first == bootstrap_intervals(y, p, threshold=0.5, n_boot=300, seed=1)
    assert first != bootstrap_intervals(y, p, threshold=0.5, n_boot=300, seed=2)
    assert first["auc"][0] < auc_score(y, p) < first["auc"][1]
    balanced = threshold_metrics(y, p, threshold=0.5)["balanced_accuracy"]
    assert first["balanced_accuracy"][0] < balanced < first["balanced_accuracy"][1]


GROUPS = ["ffhq", "ffhq", "ffhq", "celeba", "celeba", "style", "style", "style", "gan", "gan"]
GROUP_Y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
GROUP_P = [0.1, 0.7, 0.2, 0.3, 0.4, 0.9, 0.4, 0.8, 0.6, 0.95]


def test_per_group_metrics_for_single_class_groups() -> None:
    result = per_group_metrics(GROUP_Y, GROUP_P, GROUPS, threshold=0.5, n_boot=50)

    assert list(result) == ["celeba", "ffhq", "gan", "style"]
    ffhq = result["ffhq"]
    assert (ffhq["n"], ffhq["n_fake"], ffhq["n_real"]) == (3, 0, 3)
    assert ffhq["accuracy"] == pytest.approx(2 / 3)
    assert ffhq["accuracy_ci"] == pytest.approx(wilson_interval(2, 3))
    assert ffhq["auc"] is ffhq["auc_ci"] is ffhq["balanced_accuracy"] is ffhq["balanced_accuracy_ci"] is None


def test_per_group_intervals_do_not_depend_on_other_groups() -> None:
    groups = ["a"] * 6 + ["b"] * 4
    y, p = [0, 0, 0, 1, 1, 1, 0, 1, 0, 1], [0.1, 0.6, 0.3, 0.7, 0.4, 0.9, 0.2, 0.8, 0.3, 0.6]

    both = per_group_metrics(y, p, groups, threshold=0.5, n_boot=200, seed=4)
    alone = per_group_metrics(y[:6], p[:6], groups[:6], threshold=0.5, n_boot=200, seed=4)

    assert both["a"] == alone["a"]
    assert both["a"]["auc"] == pytest.approx(roc_auc_score(y[:6], p[:6]))
    assert both["a"]["auc_ci"] is not None


def test_pair_metrics_use_only_real_of_one_kind_and_fake_of_the_other() -> None:
    pair = pair_metrics(GROUP_Y, GROUP_P, GROUPS, real_kind="ffhq", fake_kind="style", threshold=0.5, n_boot=100)

    # ffhq reals 0.1/0.7/0.2 -> TN 2, FP 1; style fakes 0.9/0.4/0.8 -> TP 2, FN 1.
    assert (pair["real_kind"], pair["fake_kind"], pair["n"]) == ("ffhq", "style", 6)
    assert pair["confusion_matrix"] == [[2, 1], [1, 2]]
    assert pair["balanced_accuracy"] == pytest.approx(2 / 3)
    assert pair["auc"] == pytest.approx(roc_auc_score([0, 0, 0, 1, 1, 1], [0.1, 0.7, 0.2, 0.9, 0.4, 0.8]))
    assert pair["balanced_accuracy_ci"][0] <= pair["balanced_accuracy"] <= pair["balanced_accuracy_ci"][1]


def test_pair_metrics_with_a_missing_kind_are_none_not_an_error() -> None:
    pair = pair_metrics(GROUP_Y, GROUP_P, GROUPS, real_kind="ffhq", fake_kind="absent", threshold=0.5, n_boot=10)
    assert (pair["n"], pair["auc"], pair["balanced_accuracy"]) == (3, None, None)


def test_to_jsonable_converts_numpy_tuples_and_non_finite_values() -> None:
    value = {"a": np.float32(0.5), "b": (np.int64(2), np.nan), 3: np.array([[1, 2]]), "c": np.bool_(True)}
    assert to_jsonable(value) == {"a": 0.5, "b": [2, None], "3": [[1, 2]], "c": True}
    assert type(to_jsonable(np.int64(2))) is int
