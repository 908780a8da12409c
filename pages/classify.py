"""Classify: upload images (or pick samples), get a verdict, P(fake) and confidence for each face (or image).

A model with a face step (``face_crop`` on its card) judges every face on its own: the photo is
shown with numbered boxes, then one card per face. A picture without a face gets no verdict.
"""

from __future__ import annotations

import json

import streamlit as st

from deepfake_core.export import rows_to_csv
from deepfake_core.faces.finder import FACE_MODES
from pages import classify_state, inputs, messages, model_choice, shell

FACE_CHOICES = {  # how the page names deepfake_core's face modes
    "all": "Every face",
    "largest": "The largest face",
    "none": "The whole image (no face step)",
}

shell.page_setup()
st.title("Classify")
detector = model_choice.require_detector()

# no type= filter: a file of another type reaches the page and is refused below with its name and reason
uploads = st.file_uploader("Upload face images", accept_multiple_files=True)
st.caption(inputs.upload_limits_note())
samples = st.multiselect(
    "Or try built-in samples",
    list(inputs.SAMPLES),
    format_func=lambda name: f"{name}: {inputs.SAMPLES[name][1]}",
)
threshold = model_choice.threshold_slider(detector.card.threshold, scope=detector.model_id)
if detector.card.face_crop is not None:
    faces = st.radio(
        "Faces",
        FACE_MODES,
        format_func=FACE_CHOICES.__getitem__,
        horizontal=True,
        key="classify-faces",
        help="This model was trained on aligned face crops: it finds every face, aligns it and judges each one "
        "on its own, and a picture without a face gets no verdict. 'The largest face' judges only the biggest "
        "face; 'The whole image' skips the face step and judges the whole picture, which the model was not "
        "trained on (its verdict is then much less reliable).",
    )
else:
    faces = "none"
    st.caption("This model has no face step: it judges each whole image, whatever it shows.")

images = inputs.upload_inputs(uploads) + inputs.sample_inputs(samples)
if not images:
    messages.stop_with_info("Upload one or more face images, or pick a sample, to get a verdict.")
if len(images) > inputs.MAX_IMAGES:
    skipped = ", ".join(f"**{item.name}**" for item in images[inputs.MAX_IMAGES :])
    st.error(
        f"Not classified: {skipped}. Only the first {inputs.MAX_IMAGES} of {len(images)} images are classified "
        "here; use `deepfake-core predict` for larger batches.",
        icon=":material/block:",
    )
    images = images[: inputs.MAX_IMAGES]

results = classify_state.classify_images(images, detector, threshold=threshold, faces=faces)
messages.show_refusals(results)

for index, result in enumerate(results):
    name = result.source.name
    photo = result.photo
    if photo is None:  # refused above
        continue
    with st.container(border=True):
        if not photo.face_step:  # the whole image was judged: one verdict, as for models without a face step
            picture, details = st.columns([1, 3], vertical_alignment="center")
            picture.image(result.picture, caption=name)
            with details:
                messages.show_verdict(photo.faces[0].prediction, result.source, key=f"probability-bar-{index}")
            continue
        found = f"{photo.faces_found} face{'' if photo.faces_found == 1 else 's'} found"
        if len(photo.faces) < photo.faces_found:
            found += ", the largest judged"
        st.image(result.picture, caption=f"{name}: {found}", width=480)
        if photo.no_face:
            st.warning(
                f"No face found in **{name}**, so there is no Real/Fake verdict: this model judges faces only. "
                "Try a photo where the face is clearly visible, or choose 'The whole image' under Faces.",
                icon=":material/person_off:",
            )
        for verdict in photo.faces:
            with st.container(border=True):
                if verdict.prediction is None:  # too small to judge: no crop was made
                    st.info(f"Face {verdict.number} was not judged: {verdict.reason}", icon=":material/info:")
                    continue
                crop, details = st.columns([1, 4], vertical_alignment="center")
                crop.image(verdict.image, caption=f"Face {verdict.number}: what the model saw", width="stretch")
                with details:
                    messages.show_verdict(
                        verdict.prediction,
                        result.source,
                        key=f"probability-bar-{index}-{verdict.number}",
                        face=verdict.number,
                    )

rows = [row for result in results for row in result.rows()]
face_step = any(result.photo is not None and result.photo.face_step for result in results)
st.subheader("All results")
table = classify_state.results_table(rows)
st.dataframe(
    table,
    hide_index=True,
    column_order=[
        column for column in classify_state.ROW_COLUMNS if face_step or column not in ("face", "box", "face_score")
    ],
    column_config={
        "face": st.column_config.NumberColumn("Face", help="Faces are numbered from the largest, as in the boxes."),
        "box": st.column_config.TextColumn("Box", help="x y width height, in the photo's pixels."),
        "face_score": st.column_config.NumberColumn("Face score", format="%.3f", help="The face detector's score."),
        "p_fake": st.column_config.ProgressColumn("P(fake)", min_value=0.0, max_value=1.0, format="percent"),
        "confidence": st.column_config.NumberColumn("Confidence", format="percent"),
        "unfamiliar": st.column_config.CheckboxColumn(
            "Unlike training faces", help="Flagged faces are unlike the training faces: their verdict is unreliable."
        ),
        "feature_distance": st.column_config.NumberColumn(
            "Feature distance", format="%.1f", help="Distance of the face's features to the training faces'."
        ),
        "threshold": st.column_config.NumberColumn("Threshold", format="%.2f"),
    },
)
csv_column, json_column = st.columns(2)
csv_column.download_button(
    "Download CSV",
    rows_to_csv(rows, classify_state.ROW_COLUMNS),
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
    "not proof: see the limitations on the Home page. A face flagged as unlike the training faces gets a "
    "verdict that is unreliable whatever its confidence."
)
