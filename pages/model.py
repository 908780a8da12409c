"""Model: the chosen model's card in readable form, and how it compares with the other stored models.

Cards keep full-precision numbers and JSON's null/true/false; every value shown here goes through
``pages.number_format``, so a visitor reads ``0.689``, "—" and "no", never a 16-digit float or "None".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from deepfake_core.evaluation import comparison_table
from deepfake_core.figures import comparison_figure
from deepfake_core.kinds import describe_kinds
from pages import formatting, model_choice, shell, stored_results
from pages.number_format import NOT_RECORDED, format_temperature, format_value

SIDEBAR_MARK = "★"
"""Marks the sidebar's model in the comparison table."""


def _is_grid(mapping: Mapping[str, Any]) -> bool:
    """A dict of flat dicts (e.g. image counts per split and kind), which reads best as one grid."""
    return bool(mapping) and all(
        isinstance(item, Mapping) and not any(isinstance(cell, Mapping) for cell in item.values())
        for item in mapping.values()
    )


def show_mapping(mapping: Mapping[str, Any]) -> None:
    """A card's free-form dict: plain values as a two-column table, nested dicts in expanders.

    A grid (see :func:`_is_grid`) is shown with its longer side down the page, so it fits the width.
    """
    plain = {key: value for key, value in mapping.items() if not isinstance(value, Mapping)}
    if plain:
        rows = [{"field": key, "value": format_value(value)} for key, value in plain.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            with st.expander(key):
                if _is_grid(value):
                    grid = pd.DataFrame(value)
                    st.dataframe((grid.T if grid.shape[1] > grid.shape[0] else grid).map(format_value))
                else:
                    show_mapping(value)


shell.page_setup()
st.title("Model")
card = model_choice.require_card()
st.header(card.name)
st.caption(f"Model id `{card.model_id}`")
if card.description:
    st.markdown(card.description)
if card.legacy:
    st.warning("A legacy model from the thesis: its card was reconstructed when it was loaded.")

st.subheader("Architecture")
st.dataframe(
    pd.DataFrame(
        [
            {"field": "architecture", "value": card.architecture},
            {"field": "backbone", "value": card.backbone},
            {
                "field": "attention branch",
                "value": "yes (its mask is shown on the Explain page)" if card.attention else "no",
            },
            {
                "field": "face step",
                "value": "yes: each face is found, aligned and judged on its own (see the preprocessing contract)"
                if card.face_crop is not None
                else "none: the whole image is judged",
            },
            {"field": "weights file", "value": card.weights_file},
            {"field": "weights sha256", "value": card.weights_sha256 or "not recorded"},
        ]
    ),
    hide_index=True,
)

st.subheader("Preprocessing contract")
if card.face_crop is None:
    resize = (
        f"2. **Resize** the whole image to **{card.input_size} x {card.input_size}** (stretched, no crop; OpenCV "
        "area interpolation when shrinking, bilinear when enlarging).\n"
    )
else:
    resize = (
        f"2. **Face step**: {card.face_crop.describe()}. Each face is judged on its own, as an aligned "
        f"**{card.input_size} x {card.input_size}** crop; a picture without a face gets no verdict.\n"
    )
st.markdown(
    "1. **Input**: an RGB `uint8` image `(H, W, 3)`, decoded from the file's content (EXIF rotation applied, "
    "transparency on white).\n"
    + resize
    + (
        f"3. **Compression**: the resized image is re-encoded as a JPEG of quality **{card.jpeg_quality}** and "
        "decoded again, in training as at prediction, so how compressed the file already was says little. "
        if card.jpeg_quality is not None
        else "3. "
    )
    + f"**Channel order** {card.channel_order}, **values** `float32` in **{card.value_scale}**.\n"
    f"4. **Outputs**, in order: {', '.join(f'`{label}`' for label in card.labels)}"
    + (
        ", each the mean of the model's outputs for the input and its left-right mirror image (so a face and "
        "its mirror get the same verdict)"
        if card.mirror_average
        else ""
    )
    + ", calibrated by temperature "
    f"scaling: the logits are divided by the temperature **T = {format_temperature(card.temperature)}** before "
    "the softmax (T above 1 softens over-confident probabilities; the ranking and the most likely class stay "
    "the same).\n"
    f"5. **Verdict** `{card.fake_label}` when P({card.fake_label}) ≥ **{card.threshold:.2f}**."
)
st.caption("Prediction, LIME, Grad-CAM and the attention overlay all read these values from this card.")

st.subheader("Seen in training")
if card.seen_kinds:
    for label, kinds in card.seen_kinds.items():
        st.markdown(f"**{label}:** {describe_kinds(kinds) or 'none'}")
    st.caption("Any other generator or source is unseen: the Evaluation page estimates what that costs.")
else:
    st.caption("The card does not list the kinds of faces the model was trained on.")

st.subheader("Unlike the training faces")
if card.familiarity:
    spec = card.familiarity
    st.markdown(
        f"Every verdict carries a flag when fewer than {spec.k} of {spec.n_reference:,} training faces (a sample "
        f"of {spec.n_train:,}) lie within **{spec.threshold:.3f}** of the face in the model's own features "
        f"(layer `{spec.layer}`, scaled to unit length). That distance is the "
        f"{spec.quantile:.0%} quantile of {spec.n_validation:,} validation faces, so "
        f"{spec.validation_flagged:.1%} of them are flagged. Statistics: `{spec.file}` (sha256 `{spec.sha256[:12]}…`)."
    )
else:
    st.caption("This model has no familiarity statistics: its verdicts carry no 'unlike the training faces' flag.")

st.subheader("Training")
if card.training:
    show_mapping(card.training)
else:
    st.caption("The card records no training details.")

licences_column, limitations_column = st.columns(2)
with licences_column:
    st.subheader("Training data licences")
    st.markdown("\n".join(f"- {licence}" for licence in card.licences) or "Not recorded on the card.")
with limitations_column:
    st.subheader("Limitations")
    st.markdown("\n".join(f"- {limitation}" for limitation in card.limitations) or "Not recorded on the card.")

st.subheader("Metrics on the card")
if card.metrics:
    show_mapping(card.metrics)
else:
    st.caption("The card stores no metrics; the Evaluation page shows the stored test results.")

st.subheader("Comparison with the other stored models")
rows = comparison_table(stored_results.stored_results().results)
evaluated = sorted(
    (row for row in rows if not row["reported_not_reproduced"]), key=lambda row: row["model_id"] != card.model_id
)
reported = [row for row in rows if row["reported_not_reproduced"]]
if evaluated:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "sidebar": SIDEBAR_MARK if row["model_id"] == card.model_id else "",
                    "model": row["model_name"],
                    "accuracy": row["accuracy"],
                    "accuracy_ci": formatting.format_interval(row["accuracy_ci"]),
                    "balanced_accuracy": row["balanced_accuracy"],
                    "hard_pair": row["hard_pair_balanced_accuracy"],
                    "auc": row["auc"],
                    "ece": row["ece"],
                    "n": row["n"],
                }
                for row in evaluated
            ]
        ),
        hide_index=True,
        placeholder=NOT_RECORDED,
        column_config={
            "sidebar": st.column_config.TextColumn(
                "", width="small", pinned=True, help=f"{SIDEBAR_MARK}: the model chosen in the sidebar."
            ),
            "model": st.column_config.TextColumn("model", pinned=True),
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "accuracy_ci": st.column_config.TextColumn("95 % CI"),
            "balanced_accuracy": st.column_config.NumberColumn("balanced acc.", format="percent"),
            "hard_pair": st.column_config.NumberColumn(
                "hard pair", format="percent", help="Balanced accuracy on FFHQ vs StyleGAN2, the honest test."
            ),
            "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
            "ece": st.column_config.NumberColumn("ECE", format="%.3f", help="Expected calibration error."),
            "n": st.column_config.NumberColumn("test images"),
        },
    )
    shown = any(row["model_id"] == card.model_id for row in evaluated)
    st.caption(
        f"Evaluated here on each model's test split. {SIDEBAR_MARK} marks the sidebar's model, `{card.model_id}`."
        if shown
        else f"The sidebar's model `{card.model_id}` has no stored results: run `deepfake-core evaluate` to add it."
    )
if reported:
    st.markdown("**Reported, not reproduced**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "model": row["model_name"],
                    "optimiser": row["optimiser"],
                    "accuracy": row["accuracy"],
                    "approximate": row["approximate"],
                    "f1": row["f1"],
                    "n": row["n"],
                }
                for row in reported
            ]
        ),
        hide_index=True,
        placeholder=NOT_RECORDED,
        column_config={
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "approximate": st.column_config.CheckboxColumn("approx. (~)"),
            "f1": st.column_config.NumberColumn("F1", format="%.3f"),
            "n": st.column_config.NumberColumn("test images"),
        },
    )
if rows:
    st.plotly_chart(comparison_figure(rows))
    st.caption(
        "Reported figures come from elsewhere (the thesis) on a different test set: they were not reproduced "
        "here and are not directly comparable."
    )
else:
    st.caption(f"No stored results in `{stored_results.results_folder_hint()}` to compare.")
