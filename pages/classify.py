"""Classify: upload images (or pick samples), get a verdict, P(fake) and confidence for each."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from pages import common

common.page_setup()
st.title("Classify")
detector = common.require_detector()

uploads = st.file_uploader(
    "Upload face images",
    type=common.IMAGE_TYPES,
    accept_multiple_files=True,
    help=f"PNG, JPEG or WebP, up to {st.get_option('server.maxUploadSize')} MB each; "
    f"at most {common.MAX_IMAGES} images per run.",
)
samples = st.multiselect(
    "Or try built-in samples",
    list(common.SAMPLES),
    format_func=lambda name: f"{name}: {common.SAMPLES[name][1]}",
)
threshold = common.threshold_slider(detector.card.threshold, scope=detector.model_id)

inputs = common.upload_inputs(uploads) + common.sample_inputs(samples)
if not inputs:
    common.stop_with_info("Upload one or more face images, or pick a sample, to get a verdict.")
if len(inputs) > common.MAX_IMAGES:
    st.warning(
        f"Only the first {common.MAX_IMAGES} of {len(inputs)} images are classified here; "
        "use `deepfake-core predict` for larger batches."
    )
    inputs = inputs[: common.MAX_IMAGES]

results = common.classify_images(inputs, detector, threshold=threshold)

for index, result in enumerate(results):
    if result.prediction is None:
        st.error(f"**{result.source.name}**: {result.error}", icon=":material/broken_image:")
        continue
    prediction = result.prediction
    with st.container(border=True):
        picture, details = st.columns([1, 3], vertical_alignment="center")
        picture.image(result.thumbnail, caption=result.source.name)
        with details:
            common.show_verdict(prediction, result.source, key=f"probability-bar-{index}")

rows = [result.row() for result in results]
st.subheader("All results")
table = pd.DataFrame(
    rows, columns=["file", "verdict", "p_fake", "confidence", "threshold", "sha256", "model_id", "error"]
)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "p_fake": st.column_config.ProgressColumn("P(fake)", min_value=0.0, max_value=1.0, format="percent"),
        "confidence": st.column_config.NumberColumn("Confidence", format="percent"),
        "threshold": st.column_config.NumberColumn("Threshold", format="%.2f"),
    },
)
csv_column, json_column = st.columns(2)
csv_column.download_button(
    "Download CSV",
    table.to_csv(index=False),
    file_name="deepfake-lens-results.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
json_column.download_button(
    "Download JSON",
    json.dumps(rows, indent=2),
    file_name="deepfake-lens-results.json",
    mime="application/json",
    on_click="ignore",
    icon=":material/download:",
)
st.caption(
    "The confidence is the temperature-calibrated probability of the verdict shown. It is a probability, "
    "not proof: see the limitations on the Home page."
)
