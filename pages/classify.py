"""Classify: upload images (or pick samples), get a verdict, P(fake) and confidence for each face (or image).

A model with a face step (``face_crop`` on its card) judges every face on its own. The results
come first as a compact table, Fake first, with an action to explain any row on the Explain page;
then one card per image (the photo with numbered boxes, and each face's crop and verdict), which
the visitor can fold away once the table has said enough. A picture without a face gets no
verdict. The results stay for the session (``pages/classify_state.py``): leaving the page and
coming back shows them again, and the HTML report takes them (and the session's explanations) away.
"""

from __future__ import annotations

import json

import streamlit as st

from deepfake_core.detector import Detector
from deepfake_core.export import rows_to_csv
from deepfake_core.faces.finder import FACE_MODES
from deepfake_core.report import TERMS, verdict_summary
from pages import classify_state, explain_view, inputs, messages, model_choice, shell
from pages.formatting import format_probability

FACE_CHOICES = {  # how the page names deepfake_core's face modes
    "all": "Every face",
    "largest": "The largest face",
    "none": "The whole image (no face step)",
}
# The table's visible columns; the others (box, scores, sha256, ...) stay in its data and the downloads.
TABLE_SHOWN = ("thumbnail", "file", "face", "verdict", "p_fake", "flags")


def explain(choice: classify_state.ExplainChoice) -> None:
    """Open the Explain page on ``choice``'s image and face."""
    classify_state.choose_for_explain(choice)
    st.switch_page("pages/explain.py")


@st.fragment
def show_results(classified: list[classify_state.Classified], detector: Detector) -> None:
    """The threshold, then the table, the downloads and the cards: a threshold step reruns only this part.

    Moving the slider re-judges the stored probabilities (no model call) and redraws the results;
    the uploader, the samples and the stored outcomes above are not run again. The slider is shown
    before anything is classified too, so a threshold can be chosen first.
    """
    threshold = model_choice.threshold_slider(detector.card.threshold, scope=detector.model_id)
    if not classified:
        st.info("Upload one or more face images, or pick a sample, to get a verdict.")
        return
    results = [outcome.at_threshold(detector, threshold) for outcome in classified]
    st.subheader("Results, Fake first")
    # ----------------------------------------------------------------------- the table, Fake first
    face_step = any(result.photo is not None and result.photo.face_step for result in results)
    table = classify_state.results_table(results)
    st.dataframe(
        table.style.format({"p_fake": format_probability, "confidence": format_probability}, na_rep="—"),
        hide_index=True,
        placeholder="—",
        column_order=[column for column in TABLE_SHOWN if face_step or column != "face"],
        column_config={
            "thumbnail": st.column_config.ImageColumn("", help="What the model saw: the face's aligned crop."),
            "file": st.column_config.TextColumn("File"),
            "face": st.column_config.NumberColumn(
                "Face", format="%d", help="Faces are numbered from the largest, as in the boxes."
            ),
            "verdict": st.column_config.TextColumn("Verdict"),
            "p_fake": st.column_config.NumberColumn("P(fake)", help=TERMS["P(fake)"]),
            "flags": st.column_config.TextColumn("Flags", help=TERMS["Unlike the training faces"]),
            "box": st.column_config.TextColumn("Box", help="x y width height, in the photo's pixels."),
            "face_score": st.column_config.NumberColumn("Face score", format="%.3f", help="The face detector's score."),
            "confidence": st.column_config.NumberColumn("Confidence", help=TERMS["Calibrated confidence"]),
            "feature_distance": st.column_config.NumberColumn(
                "Feature distance",
                format="%.3f",
                help="How far the face's features lie from the nearest training faces.",
            ),
            "threshold": st.column_config.NumberColumn("Threshold", format="%.2f"),
            "sha256": st.column_config.TextColumn("sha256", help=TERMS["sha256"]),
            "model_id": st.column_config.TextColumn("Model id", help=TERMS["Model id"]),
        },
    )
    choices = classify_state.explain_choices(table)
    if choices:
        choice_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
        chosen = choice_column.selectbox(
            "Explain a result", list(choices), format_func=choices.__getitem__, key="classify-explain-choice"
        )
        if button_column.button("Open in Explain", icon=":material/visibility:", key="classify-explain"):
            explain(chosen)

    rows = [row for result in results for row in result.rows()]
    csv_column, json_column, report_column, clear_column = st.columns(4)
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
    report_column.download_button(
        "Download report (HTML)",
        classify_state.deferred_report(
            results, detector.card, explain_view.session_explanations(detector, threshold=threshold)
        ),
        file_name="deepfake-lens-report.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/description:",
        help="One HTML file to attach to a ticket: thumbnails, verdicts, P(fake), flags, the explanations made "
        "in this session, a summary of the model card, the date and the model id. Nothing in it is fetched.",
    )
    if clear_column.button("Clear results", icon=":material/delete:"):
        classify_state.clear_results()
        st.rerun(scope="app")  # the uploader and samples above must start empty too
    st.caption(
        "The confidence is the temperature-calibrated probability of the verdict shown. It is a probability, "
        "not proof: see the limitations on the Home page. A face flagged as unlike the training faces gets a "
        "verdict that is unreliable whatever its confidence. The question marks say what each number means."
    )

    # ----------------------------------------------------------------------- one card per image
    for index, result in enumerate(results):
        name = result.source.name
        photo = result.photo
        if photo is None:  # refused above
            continue
        with st.expander(f"**{name}**: {verdict_summary(result.rows())}", expanded=True):  # folded by the visitor
            if not photo.face_step:  # the whole image was judged: one verdict, as for models without a face step
                picture, details = st.columns([1, 3], vertical_alignment="center")
                picture.image(result.picture, caption=name)
                with details:
                    messages.show_verdict(photo.faces[0].prediction, result.source)
                    if st.button("Explain", icon=":material/visibility:", key=f"explain-{index}"):
                        explain(classify_state.ExplainChoice(result.source.sha256, name, None))
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
                        messages.show_verdict(verdict.prediction, result.source, face=verdict.number)
                        face_key = f"explain-{index}-{verdict.number}"
                        if st.button("Explain this face", icon=":material/visibility:", key=face_key):
                            explain(classify_state.ExplainChoice(result.source.sha256, name, verdict.number))


shell.page_setup()
st.title("Classify")
detector = model_choice.require_detector()

# no type= filter: a file of another type reaches the page and is refused below with its name and reason
uploads = st.file_uploader("Upload face images", accept_multiple_files=True, key=classify_state.input_key("upload"))
st.caption(inputs.upload_limits_note())
samples = st.multiselect(
    "Or try built-in samples",
    list(inputs.SAMPLES),
    default=inputs.url_values(inputs.SAMPLE_PARAM, inputs.SAMPLES),
    format_func=inputs.sample_label,
    key=classify_state.input_key("samples"),
)
inputs.share_in_url(inputs.SAMPLE_PARAM, samples)
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
kept = not images
if kept:
    images = classify_state.kept_inputs()
if len(images) > inputs.MAX_IMAGES:
    skipped = ", ".join(f"**{item.name}**" for item in images[inputs.MAX_IMAGES :])
    st.error(
        f"Not classified: {skipped}. Only the first {inputs.MAX_IMAGES} of {len(images)} images are classified "
        "here; use `deepfake-core predict` for larger batches.",
        icon=":material/block:",
    )
    images = images[: inputs.MAX_IMAGES]

classified = classify_state.classify_images(images, detector, faces=faces) if images else []
if kept and images:
    st.info(
        f"The results of your last {len(images)} image{'' if len(images) == 1 else 's'}, kept for this session "
        "(the uploader forgets its files when you open another page). New uploads or samples replace them.",
        icon=":material/history:",
    )
messages.show_refusals(classified)


show_results(classified, detector)
