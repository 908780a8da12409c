"""Evaluation: the stored test results of each model, explored at a threshold you choose.

Nothing is recomputed from images: the page renders the results files in
``<model dir>/evaluation/`` and only re-thresholds their stored per-image predictions.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from deepfake_core.evaluation import HARD_PAIR, metrics_at_threshold, pair_key
from deepfake_core.figures import (
    confusion_matrix_figure,
    per_kind_figure,
    pr_figure,
    reliability_figure,
    robustness_figure,
    roc_figure,
    training_curves_figure,
)
from pages import common

common.page_setup()
st.title("Evaluation")
listing = common.stored_results()
if not listing.results:
    common.stop_with_info(
        f"No stored evaluation results in `{common.results_folder_hint()}`. Run `deepfake-core evaluate` "
        "to write them there (one JSON file per model, see docs/evaluation_schema.md)."
    )

labels = [
    f"{entry['model_name']} ({entry['model_id']})"
    + (" · reported, not reproduced" if entry["kind"] == "reported" else "")
    for entry in listing.results
]
choice = st.selectbox("Stored results", range(len(labels)), format_func=labels.__getitem__)
results = listing.results[choice]

if results["kind"] == "reported":
    st.warning(f"**Reported, not reproduced.** {results['note']}", icon=":material/menu_book:")
    st.dataframe(
        pd.DataFrame(results["table"]),
        hide_index=True,
        column_config={
            "approximate": st.column_config.CheckboxColumn("approx. (~)"),
            "n_test": st.column_config.NumberColumn("test images"),
        },
    )
    st.caption(f"Source: {results['source']}. Shown as stated there; nothing here was derived from these figures.")
    st.download_button(
        "Download JSON",
        json.dumps(results, indent=2),
        file_name=f"{results['model_id']}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
    )
    st.stop()

data = results["data"]
st.caption(
    f"Test split '{data['split']}' of '{data['root']}', {data['n_images']} images · written {results['created']} · "
    f"temperature {results['temperature']:.2f}"
)
threshold = common.threshold_slider(results["threshold"], scope=f"evaluation:{results['model_id']}")
st.caption("Metrics, the confusion matrix and the markers on the curves follow the threshold.")
view = metrics_at_threshold(results, threshold)
metrics = view["metrics"]

metric_rows = (
    (("Accuracy", "accuracy"), ("Balanced accuracy", "balanced_accuracy"), ("F1 (Fake)", "f1")),
    (
        ("Recall (fakes caught)", "recall"),
        ("Precision (Fake)", "precision"),
        ("Specificity (reals passed)", "specificity"),
        ("False-positive rate", "false_positive_rate"),
    ),
)
for row in metric_rows:
    for column, (label, name) in zip(st.columns(4), row, strict=False):
        interval = metrics.get(f"{name}_ci")
        column.metric(
            label,
            common.format_share(metrics[name]),
            help=f"95 % CI {common.format_interval(interval)}" if interval else None,
        )

roc_column, pr_column = st.columns(2)
roc_column.plotly_chart(roc_figure(results, operating_point=view["operating_point"]))
pr_column.plotly_chart(pr_figure(results, operating_point=view["operating_point"]))
if results["eer"]:
    st.caption(f"Equal error rate {results['eer']['eer']:.1%} at threshold {results['eer']['threshold']:.3f}.")

matrix_column, calibration_column = st.columns(2)
with matrix_column:
    normalise = st.toggle("Normalise rows (share of each true class)", key="normalise-confusion")
    st.plotly_chart(confusion_matrix_figure(metrics["confusion_matrix"], labels=metrics["labels"], normalize=normalise))
with calibration_column:
    st.plotly_chart(reliability_figure(results["calibration"], uncalibrated=results["calibration_uncalibrated"]))
    st.caption(
        "ECE (expected calibration error): the average gap between the P(fake) shown and how often such "
        "images really are fake. Lower is better; 0 means the confidence can be taken at face value."
    )

st.subheader("Classification report")
report = view["classification_report"]
st.dataframe(
    pd.DataFrame({name: report[name] for name in ("Real", "Fake", "macro avg", "weighted avg")}).T,
    column_config={name: st.column_config.NumberColumn(format="%.3f") for name in ("precision", "recall", "f1-score")},
)
st.caption(f"At threshold {threshold:.2f}; accuracy {common.format_share(report['accuracy'])}.")

st.subheader("Per image kind")
st.caption(
    f"At the stored threshold {results['threshold']:.2f}. Most kinds hold one class, so their accuracy is the "
    "share of fakes caught (fake kinds) or of reals passed (real kinds); the intervals show how little a few "
    "dozen images can tell."
)
hard_kinds = set(HARD_PAIR)
st.dataframe(
    pd.DataFrame(
        [
            {
                "kind": kind,
                "hard pair": "★ hard pair" if kind in hard_kinds else "",
                "images": summary["n"],
                "real": summary["n_real"],
                "fake": summary["n_fake"],
                "accuracy": summary["accuracy"],
                "95 % CI": common.format_interval(summary["accuracy_ci"]),
                "AUC": summary["auc"],
            }
            for kind, summary in results["per_kind"].items()
        ]
    ),
    hide_index=True,
    column_config={
        "accuracy": st.column_config.NumberColumn(format="percent"),
        "AUC": st.column_config.NumberColumn(format="%.3f"),
    },
)
st.plotly_chart(per_kind_figure(results["per_kind"]))
pair = results["pairs"].get(pair_key(*HARD_PAIR))
if pair:
    with st.container(border=True):
        st.markdown(
            f"**★ Hard pair: {pair['real_kind']} (real) vs {pair['fake_kind']} (fake).** Same resolution, framing "
            "and style, so the model cannot score by telling data sets apart: this is the honest test."
        )
        pair_columns = st.columns(3)
        pair_columns[0].metric("Balanced accuracy", common.format_share(pair["balanced_accuracy"]))
        pair_columns[0].caption(f"95 % CI {common.format_interval(pair['balanced_accuracy_ci'])}")
        pair_columns[1].metric("AUC", "—" if pair["auc"] is None else f"{pair['auc']:.3f}")
        pair_columns[1].caption(f"95 % CI {common.format_interval(pair['auc_ci'])}")
        pair_columns[2].metric("Images", f"{pair['n_real']} real / {pair['n_fake']} fake")

st.subheader("Training curves")
st.plotly_chart(training_curves_figure(results["training_history"]))

st.subheader("Robustness")
if results["robustness"]:
    st.dataframe(pd.DataFrame(results["robustness"]), hide_index=True)
    st.plotly_chart(robustness_figure(results["robustness"], clean_accuracy=results["metrics"]["accuracy"]))
else:
    st.caption("No robustness results stored for this model (`deepfake-core evaluate` writes them).")

false_alarm = results["false_alarm"]
if false_alarm:
    st.subheader("False alarms on ordinary people photos")
    st.metric(
        f"Fake verdicts among {false_alarm['n']} judged ({false_alarm['data']})",
        common.format_share(false_alarm["fake_rate"]),
        help=f"{false_alarm['n_fake_verdicts']} of {false_alarm['n']}; "
        f"95 % CI {common.format_interval(false_alarm['ci'])}",
    )

faces = results.get("faces")
if faces:
    st.subheader("Face step: which test images had a face")
    st.caption(
        "This model judges aligned face crops. Test images where the face detector found no usable face get no "
        "verdict, as they would for a user, and are not in any figure above."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {"kind": kind, "images": entry["n"], "with a face": entry["with_face"], "share": entry["share"]}
                for kind, entry in faces["coverage"].items()
            ]
        ),
        hide_index=True,
        column_config={"share": st.column_config.NumberColumn(format="percent")},
    )
    with st.expander(f"Test images without a verdict ({len(faces['misses'])})"):
        st.dataframe(pd.DataFrame(faces["misses"], columns=["id", "kind", "reason"]), hide_index=True)

shown = {key: value for key, value in results.items() if key != "predictions"}
st.download_button(
    "Download what is shown (JSON)",
    json.dumps({**shown, "at_threshold": view}, indent=2),
    file_name=f"{results['model_id']}-evaluation-at-{threshold:.2f}.json",
    mime="application/json",
    on_click="ignore",
    icon=":material/download:",
)
