"""Model: the chosen model's card in readable form, and how it compares with the other stored models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from deepfake_core.evaluation import comparison_table
from deepfake_core.figures import comparison_figure
from deepfake_core.kinds import describe_kinds
from pages import formatting, model_choice, shell, stored_results


def show_mapping(mapping: Mapping[str, Any]) -> None:
    """A card's free-form dict: plain values as a two-column table, nested dicts in expanders.

    A dict of dicts (e.g. image counts per split and kind) reads best as a grid, so it becomes one.
    """
    plain = {key: value for key, value in mapping.items() if not isinstance(value, Mapping)}
    if plain:
        rows = [
            {"field": key, "value": ", ".join(map(str, value)) if isinstance(value, list) else str(value)}
            for key, value in plain.items()
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            with st.expander(key):
                if value and all(isinstance(item, Mapping) for item in value.values()):
                    st.dataframe(pd.DataFrame(value))
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
    + f"3. **Channel order** {card.channel_order}, **values** `float32` in **{card.value_scale}**.\n"
    f"4. **Outputs**, in order: {', '.join(f'`{label}`' for label in card.labels)}; softmax divided by "
    f"temperature **{card.temperature:.3f}** (calibration).\n"
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
        f"Every verdict carries a flag when the face's features (layer `{spec.layer}`) lie further from the "
        f"{spec.n_train:,} training faces' than **{spec.threshold:.2f}** (Mahalanobis distance): the "
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
if rows:
    table = pd.DataFrame(rows)
    table["accuracy_ci"] = table["accuracy_ci"].map(formatting.format_interval)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "reported_not_reproduced": st.column_config.CheckboxColumn("reported, not reproduced"),
            "approximate": st.column_config.CheckboxColumn("approx. (~)"),
            "accuracy_ci": st.column_config.TextColumn("accuracy 95 % CI"),
            **{
                name: st.column_config.NumberColumn(format="%.3f")
                for name in ("accuracy", "balanced_accuracy", "auc", "ece", "f1", "hard_pair_balanced_accuracy")
            },
        },
    )
    st.plotly_chart(comparison_figure(rows))
    st.caption(
        "Reported figures come from elsewhere (the thesis) on a different test set: they were not reproduced "
        "here and are not directly comparable."
    )
else:
    st.caption(f"No stored results in `{stored_results.results_folder_hint()}` to compare.")
