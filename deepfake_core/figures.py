"""Plotly figures built from stored evaluation results (no Streamlit, no model, no recomputation).

Every builder takes a block of a results file, as the typed records of
:mod:`deepfake_core.evaluation.schema` hold it (or the display rows of ``comparison_table`` and
``generalisation_table``), and returns a ``plotly.graph_objects.Figure``, so pages stay thin and
the figures can be tested without a browser. Real is always blue and Fake always vermillion
(Okabe-Ito colours, distinguishable with the common colour-vision deficiencies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from deepfake_core.evaluation.schema import (
    Calibration,
    KindSummary,
    OperatingPoint,
    PrCurve,
    RobustnessEntry,
    RocCurve,
)
from deepfake_core.perturb import CLEAN

if TYPE_CHECKING:
    from deepfake_core.robustness_lab import Curve

__all__ = [
    "FAKE_COLOR",
    "PALETTE",
    "REAL_COLOR",
    "TEMPLATE",
    "comparison_figure",
    "confusion_matrix_figure",
    "fragility_figure",
    "generalisation_figure",
    "per_kind_figure",
    "pr_figure",
    "reliability_figure",
    "robustness_figure",
    "roc_figure",
    "training_curves_figure",
]

TEMPLATE = "plotly_white"
REAL_COLOR = "#0072B2"
FAKE_COLOR = "#D55E00"
PALETTE: dict[str, str] = {
    "Real": REAL_COLOR,
    "Fake": FAKE_COLOR,
    "Mixed": "#CC79A7",
    "primary": "#332288",
    "secondary": "#88CCEE",
    "reference": "#A0A0A0",
    "marker": "#000000",
    "calibrated": "#009E73",
    "uncalibrated": "#E69F00",
    "validation": "#009E73",
}
"""Colours by role; pages that draw their own elements should use these too."""

_UNIT_RANGE = [-0.02, 1.02]


def _styled(fig: go.Figure, *, title: str, x_title: str | None = None, y_title: str | None = None) -> go.Figure:
    """Apply the shared template, title, axis titles and margins."""
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.0, "xanchor": "left"},
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"bgcolor": "rgba(255,255,255,0.7)"},
    )
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


def _message_figure(message: str, *, title: str) -> go.Figure:
    """A figure without traces that explains why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _styled(fig, title=title)


def _error_bars(values: Sequence[float | None], intervals: Sequence[Sequence[float] | None]) -> dict[str, Any]:
    """Asymmetric ``error_y``/``error_x`` spec from point values and ``[low, high]`` intervals."""
    plus = [None if ci is None or v is None else ci[1] - v for v, ci in zip(values, intervals, strict=True)]
    minus = [None if ci is None or v is None else v - ci[0] for v, ci in zip(values, intervals, strict=True)]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "color": "#444444"}


# --------------------------------------------------------------------------- confusion matrix


def confusion_matrix_figure(
    matrix: Sequence[Sequence[int]],
    *,
    labels: Sequence[str] = ("Real", "Fake"),
    normalize: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Annotated heatmap of a confusion matrix (rows = true class, columns = predicted class).

    With ``normalize=True`` each row is divided by its total, so the diagonal shows the
    per-class recall; cells keep the raw count in brackets because a 100 % of 3 images and a
    100 % of 3000 are different claims. A row with no images stays blank.
    """
    counts = np.asarray(matrix, dtype=float)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(totals > 0, counts / totals, np.nan)
        z = [[None if np.isnan(share) else float(share) for share in row] for row in shares]
        text = [
            [
                ("" if share is None else f"{share:.1%}<br>({count:.0f})")
                for share, count in zip(z_row, c_row, strict=True)
            ]
            for z_row, c_row in zip(z, counts, strict=True)
        ]
    else:
        z = counts.astype(int).tolist()
        text = [[str(count) for count in row] for row in z]
    heatmap = go.Heatmap(
        z=z,
        x=list(labels),
        y=list(labels),
        text=text,
        texttemplate="%{text}",
        colorscale="Blues",
        zmin=0,
        zmax=1 if normalize else None,
        showscale=False,
        hovertemplate="True %{y}, predicted %{x}: %{text}<extra></extra>",
    )
    fig = go.Figure(heatmap)
    fig.update_yaxes(autorange="reversed")
    default_title = "Confusion matrix (row-normalised)" if normalize else "Confusion matrix (counts)"
    return _styled(fig, title=title or default_title, x_title="Predicted", y_title="True")


# --------------------------------------------------------------------------- ROC / PR


def _operating_point_trace(x: float | None, y: float | None) -> list[go.Scatter]:
    """The current threshold's marker, or nothing when the point is undefined."""
    if x is None or y is None:
        return []
    marker = {"color": PALETTE["marker"], "size": 12, "symbol": "diamond", "line": {"color": "white", "width": 1}}
    return [go.Scatter(x=[x], y=[y], mode="markers", name="Current threshold", marker=marker)]


def _curve_figure(
    *,
    curve: go.Scatter,
    reference: go.Scatter,
    point: tuple[float | None, float | None] | None,
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """A [0, 1] x [0, 1] curve with its no-skill reference and an optional operating point."""
    fig = go.Figure([reference, curve, *([] if point is None else _operating_point_trace(*point))])
    fig.update_xaxes(range=_UNIT_RANGE, constrain="domain")
    fig.update_yaxes(range=_UNIT_RANGE, scaleanchor="x", scaleratio=1)
    fig.update_layout(legend={"x": 0.98, "xanchor": "right", "y": 0.02, "yanchor": "bottom"})
    return _styled(fig, title=title, x_title=x_title, y_title=y_title)


def _curve_trace(x: Sequence[float], y: Sequence[float], thresholds: Sequence[float], name: str) -> go.Scatter:
    return go.Scatter(
        x=x,
        y=y,
        customdata=thresholds,
        mode="lines",
        name=name,
        line={"color": PALETTE["primary"], "width": 2},
        hovertemplate="x %{x:.3f}, y %{y:.3f}<br>threshold %{customdata:.3f}<extra></extra>",
    )


def _reference_trace(x: Sequence[float], y: Sequence[float], name: str) -> go.Scatter:
    line = {"color": PALETTE["reference"], "dash": "dash", "width": 1}
    return go.Scatter(x=x, y=y, mode="lines", name=name, line=line, hoverinfo="skip")


def roc_figure(
    roc: RocCurve | None, *, model_name: str = "", operating_point: OperatingPoint | None = None
) -> go.Figure:
    """ROC curve of an evaluation (``None``: only one class), with the chance diagonal and AUC in the legend.

    ``operating_point`` is ``metrics_at_threshold(...).operating_point``: its ``fpr``/``tpr``
    place a marker where the slider's threshold sits on the curve.
    """
    title = f"ROC curve: {model_name}".rstrip(": ")
    if roc is None:
        return _message_figure("ROC curve undefined: the test set holds only one class.", title=title)
    point = None if operating_point is None else (operating_point.fpr, operating_point.tpr)
    return _curve_figure(
        curve=_curve_trace(roc.fpr, roc.tpr, roc.thresholds, f"ROC (AUC = {roc.auc:.3f})"),
        reference=_reference_trace([0.0, 1.0], [0.0, 1.0], "Chance (AUC = 0.5)"),
        point=point,
        title=title,
        x_title="False-positive rate (real called Fake)",
        y_title="True-positive rate (fakes caught)",
    )


def pr_figure(pr: PrCurve | None, *, model_name: str = "", operating_point: OperatingPoint | None = None) -> go.Figure:
    """Precision-recall curve for Fake (``None``: only one class), with the no-skill line (share of fakes)."""
    title = f"Precision-recall curve: {model_name}".rstrip(": ")
    if pr is None:
        return _message_figure("Precision-recall curve undefined: the test set holds only one class.", title=title)
    point = None if operating_point is None else (operating_point.recall, operating_point.precision)
    prevalence = pr.prevalence
    return _curve_figure(
        curve=_curve_trace(pr.recall, pr.precision, pr.thresholds, f"PR (AP = {pr.average_precision:.3f})"),
        reference=_reference_trace([0.0, 1.0], [prevalence, prevalence], f"No skill ({prevalence:.2f} fakes)"),
        point=point,
        title=title,
        x_title="Recall (fakes caught)",
        y_title="Precision (Fake verdicts that are fake)",
    )


# --------------------------------------------------------------------------- calibration


def _reliability_trace(calibration: Calibration, *, name: str, color: str, counts_as_text: bool) -> go.Scatter:
    """One curve of non-empty bins; every bin's image count is in the hover, and beside its point if asked.

    A point resting on a handful of images says little, so the reader must see each count without
    hovering; labels go on one curve only, so two curves' labels never overlap.
    """
    bins = [item for item in calibration.bins if item.count]
    largest = max(item.count for item in bins)
    return go.Scatter(
        x=[item.mean_predicted for item in bins],
        y=[item.fraction_fake for item in bins],
        customdata=[[item.count, item.lower, item.upper] for item in bins],
        mode="lines+markers+text" if counts_as_text else "lines+markers",
        text=[f"n={item.count}" for item in bins] if counts_as_text else None,
        textposition="top left",
        textfont={"size": 10, "color": color},
        name=f"{name} (ECE = {calibration.ece:.3f})",
        line={"color": color},
        marker={"size": [6 + 10 * np.sqrt(item.count / largest) for item in bins]},
        hovertemplate=(
            "P(Fake) bin %{customdata[1]:.1f}-%{customdata[2]:.1f}: %{customdata[0]} images<br>"
            "mean P(Fake) %{x:.3f}, fraction fake %{y:.3f}<extra></extra>"
        ),
    )


def reliability_figure(calibration: Calibration, *, uncalibrated: Calibration | None = None) -> go.Figure:
    """Reliability diagram: observed fraction of fakes vs mean P(Fake) per bin, ECE in the title.

    Args:
        calibration: the stored calibration block of the probabilities the dashboard shows.
        uncalibrated: the block before temperature scaling, drawn too when given, so the
            effect of calibration is visible. Marker area grows with the bin's image count;
            the counts of ``calibration``'s bins are written beside its points (``n=3``), and
            every bin's count is in the hover.
    """
    if not any(item.count for item in calibration.bins):
        return _message_figure("No predictions to calibrate.", title="Reliability diagram")
    traces = [_reference_trace([0.0, 1.0], [0.0, 1.0], "Perfectly calibrated")]
    if uncalibrated is None:
        title = f"Reliability diagram (ECE = {calibration.ece:.3f})"
    else:
        before, after = uncalibrated.ece, calibration.ece
        title = f"Reliability diagram (ECE {before:.3f} → {after:.3f} after temperature scaling)"
        traces.append(
            _reliability_trace(uncalibrated, name="Before scaling", color=PALETTE["uncalibrated"], counts_as_text=False)
        )
    name = "Model" if uncalibrated is None else "After scaling"
    traces.append(_reliability_trace(calibration, name=name, color=PALETTE["calibrated"], counts_as_text=True))
    fig = go.Figure(traces)
    fig.update_xaxes(range=_UNIT_RANGE, constrain="domain")
    fig.update_yaxes(range=_UNIT_RANGE, scaleanchor="x", scaleratio=1)
    return _styled(fig, title=title, x_title="Mean predicted P(Fake)", y_title="Observed fraction of fakes")


# --------------------------------------------------------------------------- per kind / robustness / comparison


def _composition(summary: KindSummary) -> str:
    """ "Real", "Fake" or "Mixed": which classes a kind's images belong to (sets the bar colour)."""
    if summary.n_fake and summary.n_real:
        return "Mixed"
    return "Fake" if summary.n_fake else "Real"


def per_kind_figure(per_kind: Mapping[str, KindSummary]) -> go.Figure:
    """Accuracy per image kind with 95 % Wilson intervals, one bar colour per class.

    A single-class kind's accuracy is its recall (fake kinds) or specificity (real kinds);
    the interval width shows how little a kind with a few dozen images can tell.
    """
    title = "Accuracy per image kind (95 % CI)"
    if not per_kind:
        return _message_figure("No per-kind results stored.", title=title)
    traces = []
    for composition in ("Real", "Fake", "Mixed"):
        kinds = [kind for kind, summary in per_kind.items() if _composition(summary) == composition]
        if not kinds:
            continue
        accuracy = [per_kind[kind].accuracy for kind in kinds]
        traces.append(
            go.Bar(
                x=kinds,
                y=accuracy,
                name=f"{composition} images",
                marker_color=PALETTE[composition],
                error_y=_error_bars(accuracy, [per_kind[kind].accuracy_ci for kind in kinds]),
                text=[f"n={per_kind[kind].n}" for kind in kinds],
                textposition="inside",
                insidetextanchor="start",
                hovertemplate="%{x}: accuracy %{y:.3f} (%{text})<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    fig.update_xaxes(categoryorder="array", categoryarray=list(per_kind))
    fig.update_yaxes(range=[0.0, 1.05])
    return _styled(fig, title=title, x_title="Image kind", y_title="Accuracy (fraction correct)")


def robustness_figure(robustness: Sequence[RobustnessEntry], *, clean_accuracy: float | None = None) -> go.Figure:
    """Accuracy and AUC after each perturbation (grouped bars); parameters, images judged and faces lost in the hover.

    The ``clean`` entry (no perturbation, measured through the same path) is the reference: its
    bars come first, labelled as such, and a dashed line marks its accuracy, so the drop caused by
    each perturbation is read against a like-for-like baseline. Files written before the clean
    entry existed have none; ``clean_accuracy`` (the unperturbed test accuracy) then draws the
    line instead, labelled as the test accuracy.
    """
    title = "Robustness to image perturbations"
    if not robustness:
        return _message_figure("No robustness results stored.", title=title)
    clean = next((entry for entry in robustness if entry.name == CLEAN), None)
    entries = ([clean] if clean else []) + [entry for entry in robustness if entry is not clean]
    names = [f"{CLEAN} (reference)" if entry is clean else entry.name for entry in entries]
    params = [", ".join(f"{key}={value}" for key, value in entry.params.items()) or "-" for entry in entries]
    lost = ["" if entry.n_no_face is None else f", {entry.n_no_face} lost their face" for entry in entries]
    traces = [
        go.Bar(
            x=names,
            y=values,
            name=label,
            marker_color=PALETTE[color],
            customdata=[[text, entry.n, gone] for text, entry, gone in zip(params, entries, lost, strict=True)],
            hovertemplate=f"%{{x}} (%{{customdata[0]}}): {label} %{{y:.3f}}, "
            "n=%{customdata[1]}%{customdata[2]}<extra></extra>",
        )
        for values, label, color in (
            ([entry.accuracy for entry in entries], "Accuracy", "primary"),
            ([entry.auc for entry in entries], "AUC", "secondary"),
        )
    ]
    fig = go.Figure(traces)
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0.0, 1.05])
    line, label = (clean.accuracy, "clean accuracy") if clean else (clean_accuracy, "test accuracy")
    if line is not None:
        fig.add_hline(
            y=line,
            line={"color": PALETTE["reference"], "dash": "dash"},
            annotation_text=f"{label} {line:.3f}",
            annotation_position="bottom right",
        )
    return _styled(fig, title=title, x_title="Perturbation", y_title="Score")


def comparison_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Accuracy per model from :func:`~deepfake_core.evaluation.results.comparison_table` rows.

    Models evaluated here (with 95 % CI) and figures only reported elsewhere are separate,
    differently drawn traces, so a reported number is never mistaken for a reproduced one;
    "~" marks approximate reported values.
    """
    title = "Accuracy by model"
    if not rows:
        return _message_figure("No results to compare.", title=title)
    groups = (
        (False, "Evaluated here (95 % CI)", {"color": PALETTE["primary"]}),
        (True, "Reported, not reproduced", {"color": PALETTE["reference"], "pattern": {"shape": "/"}}),
    )
    traces = []
    for reported, name, marker in groups:
        members = [row for row in rows if row["reported_not_reproduced"] == reported]
        if not members:
            continue
        accuracy = [row["accuracy"] for row in members]
        traces.append(
            go.Bar(
                x=accuracy,
                y=[_model_label(row) for row in members],
                orientation="h",
                name=name,
                marker=marker,
                error_x=_error_bars(accuracy, [row.get("accuracy_ci") for row in members]),
                text=[("~" if row["approximate"] else "") + f"{row['accuracy']:.3f}" for row in members],
                textposition="inside",
                hovertemplate="%{y}: accuracy %{text}<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0.0, 1.0])
    fig.update_layout(height=120 + 32 * len(rows))
    return _styled(fig, title=title, x_title="Accuracy", y_title=None)


def generalisation_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """ROC AUC on seen vs unseen fakes per leave-one-generator-out run (``generalisation_table`` rows).

    Both bars score fakes against the same real test faces, so the gap between
    them is what leaving the generator out of training cost.
    """
    title = "Seen vs unseen generators: ROC AUC against the real test faces"
    if not rows:
        return _message_figure("No leave-one-generator-out results stored.", title=title)
    labels = [f"{row['model_name']}: {row['unseen_kinds']} left out" for row in rows]
    traces = [
        go.Bar(
            x=[row[key] for row in rows],
            y=labels,
            orientation="h",
            name=name,
            marker={"color": PALETTE[role]},
            text=[None if row[key] is None else f"{row[key]:.3f}" for row in rows],
            textposition="inside",
            hovertemplate=f"%{{y}}: {name} AUC %{{text}}<extra></extra>",
        )
        for key, name, role in (("seen_auc", "seen fakes", "primary"), ("unseen_auc", "unseen fakes", "Fake"))
    ]
    fig = go.Figure(traces)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0.0, 1.0])
    fig.update_layout(barmode="group", height=140 + 56 * len(rows))
    return _styled(fig, title=title, x_title="ROC AUC", y_title=None)


def _model_label(row: Mapping[str, Any]) -> str:
    optimiser = row.get("optimiser")
    return f"{row['model_name']} · {optimiser}" if optimiser else row["model_name"]


# --------------------------------------------------------------------------- training / single image


CLASSIFIER_OUTPUT = "predictions"
"""The classifier's output name in the history of a run with a second output (``second_output.PREDICTIONS_OUTPUT``)."""


def training_curves_figure(history: Mapping[str, Sequence[float]] | None) -> go.Figure:
    """Loss and accuracy per epoch, training (solid) vs validation (dashed), in two subplots.

    Takes a Keras ``History.history``-style dict; missing series are left out. A run with a second,
    training-only output (``train --single-center``) logs the classifier's own figures as
    ``predictions_loss`` / ``predictions_accuracy`` and the sum of both losses as ``loss``; the
    classifier's are the ones drawn, so its curves compare with every other run's.
    """
    title = "Training curves"
    if not history or not any(
        key.removeprefix("val_").removeprefix(f"{CLASSIFIER_OUTPUT}_") in ("loss", "accuracy") for key in history
    ):
        return _message_figure(
            "No training history recorded for this model (a soup of several runs has none of its own).", title=title
        )
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    series = (("", "Training", "primary", "solid"), ("val_", "Validation", "validation", "dash"))
    for column, metric in enumerate(("loss", "accuracy"), start=1):
        for prefix, name, color, dash in series:
            values = history.get(f"{prefix}{CLASSIFIER_OUTPUT}_{metric}", history.get(prefix + metric))
            if values is None:
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=list(values),
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=column == 1 or f"{prefix}loss" not in history,
                    line={"color": PALETTE[color], "dash": dash},
                ),
                row=1,
                col=column,
            )
    return _styled(fig, title=title, x_title="Epoch")


# --------------------------------------------------------------------------- robustness lab (one photo)


def fragility_figure(
    curve: Curve, *, clean_p_fake: float, threshold: float, selected: float | None = None
) -> go.Figure:
    """P(fake) of one photo against the strength of one perturbation (a robustness lab curve).

    Each point is coloured by its verdict at ``threshold``; the dashed line is the threshold and the
    dotted one the unchanged photo's P(fake), so a point crossing the dashed line is a flipped
    verdict and its distance from the dotted line is what the change did. Where no face was left
    to judge the line has a gap and a cross sits on the axis. Axes whose smaller numbers are the
    stronger change (JPEG quality, downscale factor) are reversed, so on every curve the change
    grows to the right. ``selected`` (a strength of the sweep) gets a diamond marker.
    """
    sweep = curve.sweep
    strengths = list(sweep.strengths)
    scores = list(curve.p_fake)
    colours = [PALETTE["reference"] if p is None else PALETTE["Fake" if p >= threshold else "Real"] for p in scores]
    traces = [
        go.Scatter(
            x=strengths,
            y=scores,
            mode="lines+markers",
            name="P(fake)",
            connectgaps=False,
            line={"color": PALETTE["primary"], "width": 2},
            marker={"color": colours, "size": 9},
            hovertemplate=f"{sweep.parameter} %{{x}}: P(fake) %{{y:.1%}}<extra></extra>",
        )
    ]
    lost = [strength for strength, p in zip(strengths, scores, strict=True) if p is None]
    if lost:
        traces.append(
            go.Scatter(
                x=lost,
                y=[0.0] * len(lost),
                mode="markers",
                name="no face left to judge",
                marker={"symbol": "x", "size": 10, "color": PALETTE["marker"]},
                hovertemplate=f"{sweep.parameter} %{{x}}: no face left to judge<extra></extra>",
            )
        )
    chosen = dict(zip(strengths, scores, strict=True)).get(selected)
    if chosen is not None:
        marker = {"color": PALETTE["marker"], "size": 14, "symbol": "diamond-open", "line": {"width": 2}}
        traces.append(
            go.Scatter(x=[selected], y=[chosen], mode="markers", name=f"{sweep.parameter} {selected:g}", marker=marker)
        )
    fig = go.Figure(traces)
    fig.add_hline(
        y=threshold,
        line={"color": PALETTE["marker"], "dash": "dash", "width": 1},
        annotation_text=f"threshold {threshold:.2f}",
        annotation_position="top left",
    )
    fig.add_hline(
        y=clean_p_fake,
        line={"color": PALETTE["reference"], "dash": "dot", "width": 2},
        annotation_text=f"unchanged {clean_p_fake:.1%}",
        annotation_position="bottom right",
    )
    fig.update_yaxes(range=_UNIT_RANGE, tickformat=".0%")
    fig.update_xaxes(autorange="reversed" if sweep.stronger_when_smaller else True)
    fig.update_layout(height=320, showlegend=bool(lost), legend={"x": 0.0, "y": 1.0, "yanchor": "top"})
    direction = "smaller is stronger" if sweep.stronger_when_smaller else "larger is stronger"
    return _styled(fig, title=sweep.title, x_title=f"{sweep.parameter} ({direction})", y_title="P(fake)")
