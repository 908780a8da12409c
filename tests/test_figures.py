"""Figure builders: type, trace count and the data each trace carries."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from deepfake_core.evaluation.metrics import calibration_summary, per_group_metrics, pr_curve_data, roc_curve_data
from deepfake_core.evaluation.results import comparison_table, thesis_reported_results
from deepfake_core.evaluation.schema import (
    Calibration,
    KindSummary,
    OperatingPoint,
    PrCurve,
    RobustnessEntry,
    RocCurve,
)
from deepfake_core.figures import (
    FAKE_COLOR,
    PALETTE,
    REAL_COLOR,
    TEMPLATE,
    comparison_figure,
    confusion_matrix_figure,
    fragility_figure,
    per_kind_figure,
    pr_figure,
    reliability_figure,
    robustness_figure,
    roc_figure,
    training_curves_figure,
)
from deepfake_core.robustness_lab import SWEEPS, Curve

Y = [0, 0, 0, 0, 1, 1, 1, 1]
P = [0.1, 0.4, 0.35, 0.8, 0.9, 0.3, 0.7, 0.65]
KINDS = ["ffhq", "ffhq", "celeba", "celeba", "gan256", "gan256", "stylegan2_tpdne", "stylegan2_tpdne"]
ROC = RocCurve.from_dict(roc_curve_data(Y, P))
PR = PrCurve.from_dict(pr_curve_data(Y, P))
CALIBRATION = Calibration.from_dict(calibration_summary(Y, P, n_bins=5))
UNCALIBRATED = Calibration.from_dict(calibration_summary(Y, [min(1.0, value * 1.2) for value in P], n_bins=5))
PER_KIND = {
    kind: KindSummary.from_dict(summary)
    for kind, summary in per_group_metrics(Y, P, KINDS, threshold=0.5, n_boot=20).items()
}
HISTORY = {
    "loss": [0.9, 0.5, 0.3],
    "val_loss": [1.0, 0.6, 0.5],
    "accuracy": [0.6, 0.8, 0.9],
    "val_accuracy": [0.5, 0.7, 0.8],
}
ROBUSTNESS = [
    RobustnessEntry(name="jpeg_q50", params={"quality": 50}, accuracy=0.8, auc=0.9, n=8),
    RobustnessEntry(name="gaussian_blur", params={"sigma": 1.0}, accuracy=0.7, auc=None, n=8),
]


def _point(**values: float | None) -> OperatingPoint:
    """An operating point with only ``values`` given (the rest undefined)."""
    return OperatingPoint(**{"fpr": None, "tpr": None, "precision": None, "recall": None, **values})


JPEG = next(sweep for sweep in SWEEPS if sweep.name == "jpeg")
JPEG_CURVE = Curve(JPEG, (0.8, 0.7, 0.6, 0.55, 0.45, None, 0.3, 0.2, None), (None,) * 9)
"""A made-up curve: P(fake) falls as the quality drops, and the face is lost at quality 40 and 10."""
BLUR = next(sweep for sweep in SWEEPS if sweep.name == "blur")
BLUR_CURVE = Curve(BLUR, (0.3,) * len(BLUR.strengths), (None,) * len(BLUR.strengths))

EVALUATED_ROW = {
    "model_name": "Tiny",
    "optimiser": None,
    "reported_not_reproduced": False,
    "approximate": False,
    "accuracy": 0.75,
    "accuracy_ci": [0.41, 0.93],
}
ROWS = [EVALUATED_ROW, *comparison_table([thesis_reported_results()])]

BUILDERS = {
    "confusion-counts": (lambda: confusion_matrix_figure([[3, 1], [1, 3]]), 1),
    "confusion-normalised": (lambda: confusion_matrix_figure([[3, 1], [0, 0]], normalize=True), 1),
    "roc": (lambda: roc_figure(ROC), 2),
    "roc-with-point": (lambda: roc_figure(ROC, operating_point=_point(fpr=0.25, tpr=0.75)), 3),
    "roc-undefined": (lambda: roc_figure(None), 0),
    "pr-with-point": (lambda: pr_figure(PR, operating_point=_point(precision=0.75, recall=0.75)), 3),
    "pr-undefined-point": (lambda: pr_figure(PR, operating_point=_point(precision=None, recall=0.0)), 2),
    "reliability": (lambda: reliability_figure(CALIBRATION), 2),
    "reliability-both": (lambda: reliability_figure(CALIBRATION, uncalibrated=UNCALIBRATED), 3),
    "per-kind": (lambda: per_kind_figure(PER_KIND), 2),
    "training": (lambda: training_curves_figure(HISTORY), 4),
    "training-without-validation": (lambda: training_curves_figure({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}), 2),
    "training-none": (lambda: training_curves_figure(None), 0),
    "robustness": (lambda: robustness_figure(ROBUSTNESS, clean_accuracy=0.75), 2),
    "robustness-no-reference": (lambda: robustness_figure(ROBUSTNESS), 2),
    "robustness-empty": (lambda: robustness_figure([]), 0),
    "comparison": (lambda: comparison_figure(ROWS), 2),
    "comparison-reported-only": (lambda: comparison_figure(ROWS[1:]), 1),
    "fragility": (lambda: fragility_figure(BLUR_CURVE, clean_p_fake=0.4, threshold=0.5), 1),
    "fragility-lost-and-selected": (
        lambda: fragility_figure(JPEG_CURVE, clean_p_fake=0.9, threshold=0.5, selected=50),
        3,
    ),
}


@pytest.mark.parametrize(("build", "n_traces"), BUILDERS.values(), ids=BUILDERS.keys())
def test_every_builder_returns_a_white_template_figure_with_expected_traces(build, n_traces) -> None:
    fig = build()

    assert isinstance(fig, go.Figure)
    assert len(fig.data) == n_traces
    assert fig.layout.template == pio.templates[TEMPLATE]


def test_confusion_matrix_heatmap_holds_counts_or_row_shares() -> None:
    counts = confusion_matrix_figure([[3, 1], [1, 3]]).data[0]
    assert [list(row) for row in counts.z] == [[3, 1], [1, 3]]
    assert (list(counts.x), list(counts.y)) == (["Real", "Fake"], ["Real", "Fake"])

    shares = confusion_matrix_figure([[3, 1], [0, 0]], normalize=True).data[0]
    assert [list(row) for row in shares.z] == [[0.75, 0.25], [None, None]]
    assert shares.text[0][0] == "75.0%<br>(3)"


def _trace(fig: go.Figure, name_start: str) -> Any:
    return next(trace for trace in fig.data if trace.name.startswith(name_start))


def test_roc_figure_draws_curve_auc_and_operating_point() -> None:
    fig = roc_figure(ROC, model_name="Tiny", operating_point=_point(fpr=0.25, tpr=0.75))

    curve = _trace(fig, "ROC")
    assert (tuple(curve.x), tuple(curve.y)) == (ROC.fpr, ROC.tpr)
    assert f"{ROC.auc:.3f}" in curve.name
    assert fig.layout.title.text == "ROC curve: Tiny"
    point = _trace(fig, "Current threshold")
    assert (point.x[0], point.y[0]) == (0.25, 0.75)


def test_pr_figure_marks_recall_precision_and_prevalence_baseline() -> None:
    fig = pr_figure(PR, operating_point=_point(precision=0.6, recall=0.75))

    assert list(_trace(fig, "No skill").y) == [0.5, 0.5]
    point = _trace(fig, "Current threshold")
    assert (point.x[0], point.y[0]) == (0.75, 0.6)


def test_undefined_curve_explains_itself() -> None:
    assert "only one class" in roc_figure(None).layout.annotations[0].text


def test_reliability_figure_plots_non_empty_bins_and_names_ece() -> None:
    fig = reliability_figure(CALIBRATION, uncalibrated=UNCALIBRATED)

    filled = [item for item in CALIBRATION.bins if item.count]
    after = _trace(fig, "After scaling")
    assert list(after.x) == [item.mean_predicted for item in filled]
    assert list(after.y) == [item.fraction_fake for item in filled]
    assert f"{UNCALIBRATED.ece:.3f} → {CALIBRATION.ece:.3f}" in fig.layout.title.text


def test_reliability_figure_writes_each_bins_image_count_beside_its_point() -> None:
    fig = reliability_figure(CALIBRATION, uncalibrated=UNCALIBRATED)

    counts = [item.count for item in CALIBRATION.bins if item.count]
    assert min(counts) <= 2  # a bin that rests on a couple of images must be seen as such
    after, before = _trace(fig, "After scaling"), _trace(fig, "Before scaling")
    assert list(after.text) == [f"n={count}" for count in counts] and "text" in after.mode
    assert before.text is None and "text" not in before.mode  # one curve labelled: no overlapping labels
    for trace, calibration in ((after, CALIBRATION), (before, UNCALIBRATED)):
        assert [row[0] for row in trace.customdata] == [item.count for item in calibration.bins if item.count]
        assert "%{customdata[0]} images" in trace.hovertemplate
    alone = _trace(reliability_figure(CALIBRATION), "Model")
    assert list(alone.text) == [f"n={count}" for count in counts]


def test_per_kind_figure_colours_by_class_with_wilson_error_bars() -> None:
    fig = per_kind_figure(PER_KIND)

    real, fake = _trace(fig, "Real"), _trace(fig, "Fake")
    assert (list(real.x), list(fake.x)) == (["celeba", "ffhq"], ["gan256", "stylegan2_tpdne"])
    assert (real.marker.color, fake.marker.color) == (REAL_COLOR, FAKE_COLOR)
    celeba = PER_KIND["celeba"]
    assert real.y[0] == celeba.accuracy
    assert real.error_y.array[0] == pytest.approx(celeba.accuracy_ci[1] - celeba.accuracy)
    assert real.error_y.arrayminus[0] == pytest.approx(celeba.accuracy - celeba.accuracy_ci[0])


def test_training_curves_put_loss_and_accuracy_in_separate_subplots() -> None:
    fig = training_curves_figure(HISTORY)

    assert [list(trace.y) for trace in fig.data] == [
        HISTORY[key] for key in ("loss", "val_loss", "accuracy", "val_accuracy")
    ]
    assert [trace.xaxis for trace in fig.data] == ["x", "x", "x2", "x2"]
    assert list(fig.data[0].x) == [1, 2, 3]
    assert [trace.showlegend for trace in fig.data] == [True, True, False, False]


def test_training_curves_of_a_run_with_the_single_center_loss_draw_the_classifier_s_own_figures() -> None:
    history = {
        "loss": [6.3, 4.2],
        "val_loss": [9.7, 7.0],
        "center_loss": [11.4, 7.3],
        "predictions_loss": [0.57, 0.52],
        "val_predictions_loss": [0.46, 0.30],
        "predictions_accuracy": [0.76, 0.79],
        "val_predictions_accuracy": [0.86, 0.91],
    }
    fig = training_curves_figure(history)
    assert [list(trace.y) for trace in fig.data] == [
        history[key]
        for key in ("predictions_loss", "val_predictions_loss", "predictions_accuracy", "val_predictions_accuracy")
    ]


def test_robustness_figure_groups_accuracy_and_auc_per_perturbation() -> None:
    fig = robustness_figure(ROBUSTNESS, clean_accuracy=0.75)

    accuracy, auc = fig.data
    assert list(accuracy.x) == ["jpeg_q50", "gaussian_blur"]
    assert (list(accuracy.y), list(auc.y)) == ([0.8, 0.7], [0.9, None])
    assert accuracy.customdata[0][0] == "quality=50"
    # an older file without a clean row: the line is the test accuracy, and says so
    assert fig.layout.shapes[0].y0 == 0.75
    assert fig.layout.annotations[0].text == "test accuracy 0.750"


def test_robustness_figure_reads_every_perturbation_against_the_clean_row() -> None:
    clean = RobustnessEntry(name="clean", params={}, accuracy=0.875, auc=0.95, n=7, n_no_face=1)
    fig = robustness_figure([*ROBUSTNESS, clean], clean_accuracy=0.75)

    accuracy, auc = fig.data
    assert list(accuracy.x) == ["clean (reference)", "jpeg_q50", "gaussian_blur"]
    assert (list(accuracy.y), list(auc.y)) == ([0.875, 0.8, 0.7], [0.95, 0.9, None])
    # the line is the clean row's accuracy (same path), not the accuracy passed for older files
    assert fig.layout.shapes[0].y0 == 0.875
    assert fig.layout.annotations[0].text == "clean accuracy 0.875"
    assert accuracy.customdata[0][2] == ", 1 lost their face" and accuracy.customdata[1][2] == ""


def test_comparison_figure_separates_reported_figures_from_reproduced_ones() -> None:
    fig = comparison_figure(ROWS)

    evaluated, reported = fig.data
    assert (list(evaluated.y), list(evaluated.x)) == (["Tiny"], [0.75])
    assert len(reported.y) == 7 and reported.marker.pattern.shape == "/"
    assert "EfficientNetB7 + attention · Adam" in reported.y
    assert reported.text[-1] == "~0.970"


def test_fragility_figure_draws_p_fake_per_strength_against_threshold_and_unchanged_photo() -> None:
    fig = fragility_figure(JPEG_CURVE, clean_p_fake=0.9, threshold=0.5, selected=50)

    line = _trace(fig, "P(fake)")
    assert list(line.x) == list(JPEG.strengths) and list(line.y) == list(JPEG_CURVE.p_fake)
    assert line.connectgaps is False  # a lost face is a gap, never a line drawn through it
    assert list(line.marker.color[:5]) == [FAKE_COLOR] * 4 + [REAL_COLOR]  # by verdict at the threshold
    assert line.marker.color[5] == PALETTE["reference"]
    lost = _trace(fig, "no face left")
    assert (list(lost.x), list(lost.y)) == ([40, 10], [0.0, 0.0])
    selected = _trace(fig, "quality 50")
    assert (list(selected.x), list(selected.y)) == ([50], [0.45])
    assert [shape.y0 for shape in fig.layout.shapes] == [0.5, 0.9]
    assert [note.text for note in fig.layout.annotations] == ["threshold 0.50", "unchanged 90.0%"]
    assert fig.layout.title.text == "JPEG quality"


def test_fragility_figure_grows_the_change_to_the_right_on_every_axis() -> None:
    assert fragility_figure(JPEG_CURVE, clean_p_fake=0.9, threshold=0.5).layout.xaxis.autorange == "reversed"
    blur = fragility_figure(BLUR_CURVE, clean_p_fake=0.4, threshold=0.5, selected=1.0)
    assert blur.layout.xaxis.autorange is True
    assert "larger is stronger" in blur.layout.xaxis.title.text
    assert len(blur.data) == 2  # no lost face: the line and the selected point only


def test_fragility_figure_marks_no_point_for_a_strength_without_a_verdict() -> None:
    assert len(fragility_figure(JPEG_CURVE, clean_p_fake=0.9, threshold=0.5, selected=40).data) == 2
