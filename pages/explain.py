"""Explain: where the model looked, with its attention mask, Grad-CAM and LIME side by side.

Explanations are computed when the visitor presses "Explain" and kept in a small per-session cache
by (image sha256, model, method, class, parameters, face) (``pages/explain_view.py``), so moving
the opacity slider, or going to another image and back, only re-draws the overlays. A model that
judges whole images has them explained on a working copy (long side at most 1024 px) and drawn at
display size. A model with a face step judges aligned face crops, so it is a face's crop that is
explained (the largest face unless another is chosen); its overlays can also be drawn back onto the photo.

The photo is decoded at full size only when something needs it: on every run for a model that judges
whole images (its verdict and maps are of the whole photo), once per image for a model with a face step
(its faces and a display copy of the photo, long side at most 1024 px, are kept in the session, so a
slider step does not decode a 40 MP upload again).
"""

from __future__ import annotations

import json
import shlex
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.explain import (
    LIME_DEFAULTS,
    METHOD_NAMES,
    METHODS,
    agreement,
    comparison_record,
    composite_png,
    deletion_summary,
    legend,
    number_superpixels,
    overlay,
    saturation_caveat,
    working_image,
)
from deepfake_core.intake import load_image
from pages import classify_state, explain_view, inputs, messages, model_choice, pictures, shell
from pages.formatting import format_probability

FROM_UPLOAD, FROM_CLASSIFY, FROM_SAMPLE = "Upload an image", "An image from the Classify page", "A built-in sample"
DEFAULT_METHODS = ("attention", "gradcam", "lime")

shell.page_setup()
st.title("Explain")
detector = model_choice.require_detector()
card = detector.card

# --------------------------------------------------------------------------- which image
# Opened from a Classify result, the page starts on that image and face; opened from a link naming a
# sample (?sample=NAME), on that sample; otherwise on the images classified in this session, if any.
classified = classify_state.last_classified()
asked = classify_state.take_explain_choice()
offered_files = [(item.sha256, item.name) for item in classified]
asked_file = (asked.sha256, asked.name) if asked else None
asked_index = offered_files.index(asked_file) if asked_file in offered_files else None
linked = inputs.url_values(inputs.SAMPLE_PARAM, inputs.SAMPLES)
sources = [FROM_UPLOAD, FROM_CLASSIFY, FROM_SAMPLE] if classified else [FROM_UPLOAD, FROM_SAMPLE]
opening = FROM_SAMPLE if linked and asked_index is None else FROM_CLASSIFY if classified else FROM_UPLOAD
source = st.radio("Image", sources, index=sources.index(opening), horizontal=True, key="explain-source")
shared: list[str] = []  # the sample the address bar names: only while a sample is shown
if source == FROM_UPLOAD:
    upload = st.file_uploader("Upload a face image", key="explain-upload")
    st.caption(inputs.upload_limits_note(max_images=None))
    chosen = inputs.upload_inputs([upload] if upload else [])
elif source == FROM_CLASSIFY:
    names = [item.name for item in classified]
    index = st.selectbox(
        "Classified image",
        range(len(names)),
        index=asked_index or 0,
        format_func=names.__getitem__,
        key="explain-classified",
    )
    chosen = [classified[index]]
else:
    offered = list(inputs.SAMPLES)
    sample = st.selectbox(
        "Sample",
        offered,
        index=offered.index(linked[0]) if linked else 0,
        format_func=inputs.sample_label,
        key="explain-sample",
    )
    chosen, shared = inputs.sample_inputs([sample]), [sample]
inputs.share_in_url(inputs.SAMPLE_PARAM, shared)
if not chosen:
    messages.stop_with_info("Upload a face image, or pick a sample, to see why the model decides as it does.")
item = chosen[0]
try:
    if card.face_crop is None:
        explained = load_image(item.data)  # what the model sees and the maps explain: the whole photo
    else:
        faces = explain_view.photo_faces(detector, item, partial(load_image, item.data))
except DeepfakeLensError as error:
    st.error(f"**{item.name}**: {error}")
    st.stop()

# --------------------------------------------------------------------------- how to explain it
threshold = model_choice.threshold_slider(card.threshold, scope=detector.model_id)
face = None  # the face whose aligned crop is explained, for a model with a face step
faces_found = 0
if card.face_crop is None:
    prediction = detector.predict(explained, threshold=threshold)
else:
    photo = faces.at_threshold(detector, threshold)
    if photo.no_face:
        st.warning(
            f"No face found in **{item.name}**, so there is nothing to explain: this model judges faces only. "
            "Pick a photo where a face is clearly visible.",
            icon=":material/person_off:",
        )
        st.stop()
    if photo.failure:
        st.warning(f"**{item.name}**: {photo.failure}", icon=":material/person_off:")
        st.stop()
    judged = photo.judged
    number = judged[0].number
    if len(judged) > 1:
        numbers = [verdict.number for verdict in judged]
        number = st.selectbox(
            "Face",
            numbers,
            index=numbers.index(asked.face) if asked_index is not None and asked.face in numbers else 0,
            format_func=partial(explain_view.face_label, largest=judged[0].number),
            key="explain-face",
            help="Faces are numbered from the largest, as in the boxes on the photo. The model judged each face's "
            "aligned crop on its own, so each has its own explanation.",
        )
    chosen = next(verdict for verdict in judged if verdict.number == number)
    face, prediction, explained, faces_found = chosen.face, chosen.prediction, chosen.image, photo.faces_found
    found = f"{photo.faces_found} face{'' if photo.faces_found == 1 else 's'} found"
    st.image(
        pictures.boxed_photo(faces.picture, photo, scale=faces.scale),
        caption=f"{item.name}: {found}; explaining face {number}",
        width=360,
    )
available = [name for name in METHOD_NAMES if card.attention or name != "attention"]
standard = [name for name in DEFAULT_METHODS if name in available]
methods = st.multiselect(
    "Methods",
    available,
    default=inputs.url_values(explain_view.METHODS_PARAM, available) or standard,
    format_func=explain_view.method_title,
    key="explain-methods",
    help=" ".join(f"**{METHODS[name].title}**: {METHODS[name].summary}" for name in available),
)
inputs.share_in_url(explain_view.METHODS_PARAM, methods, default=standard)
target_choice = st.selectbox(
    "Explain the class",
    ["the verdict", *card.labels],
    help="Class-specific methods show the evidence for this class; the attention mask is the same for all.",
)
target = prediction.label if target_choice == "the verdict" else target_choice
caveat = saturation_caveat(prediction.probabilities[target], target)
with st.expander("LIME settings"):
    lime_choices = METHODS["lime"].choices
    lime_params = {
        "num_samples": st.number_input(
            "Perturbed samples",
            min_value=10,
            max_value=5000,
            value=LIME_DEFAULTS["num_samples"],
            step=50,
            key="lime-samples",
            help="More samples: a steadier map, proportionally slower.",
        ),
        "segmentation": st.selectbox("Superpixels", lime_choices["segmentation"]),
        "hide": st.selectbox("A switched-off superpixel shows", lime_choices["hide"]),
        "num_features": st.number_input(
            "Superpixels shown (0 = all)", min_value=0, max_value=200, value=LIME_DEFAULTS["num_features"]
        )
        or None,
        "positive_only": st.checkbox("Only superpixels that support the class", value=LIME_DEFAULTS["positive_only"]),
        "kernel_width": st.number_input(
            "Kernel width", min_value=0.01, max_value=5.0, value=LIME_DEFAULTS["kernel_width"], step=0.05
        ),
        "seed": st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=LIME_DEFAULTS["seed"]),
    }
face_number = face.number if face is not None else None
requests = [
    explain_view.ExplanationRequest(item, method, target, lime_params if method == "lime" else {}, face=face_number)
    for method in methods
]
if st.button("Explain", type="primary", icon=":material/visibility:", disabled=not methods):
    explain_view.compute_explanations(requests, detector, explained, threshold=threshold)
explanations = [explain_view.cached_explanation(request, detector, threshold=threshold) for request in requests]
ready_requests = [request for request, found in zip(requests, explanations, strict=True) if found is not None]
ready = [explanation for explanation in explanations if explanation is not None]

# --------------------------------------------------------------------------- what it shows
messages.show_verdict(prediction, item, face=face_number)
if face is None:
    st.markdown(f"Explaining the class **{target}**.")
else:
    st.markdown(f"Explaining the class **{target}** for face {face_number}, on the aligned crop the model judged.")
if caveat:
    st.warning(caveat, icon=":material/warning:")
if len(ready) < len(requests):
    st.info("Press **Explain** to compute the chosen methods with these settings (LIME takes longest).")
opacity = st.slider("Overlay opacity", min_value=0.0, max_value=1.0, value=0.5, step=0.05, key="explain-opacity")
boundaries = st.checkbox("Draw LIME's superpixel edges", value=False)
numbers = st.checkbox(
    "Number LIME's superpixels",
    value=True,
    key="explain-numbers",
    help="Write the id of each superpixel in LIME's table on the overlay, so the table's rows can be found.",
)
on_photo = face is not None and st.checkbox(
    "Show on the photo",
    value=False,
    key="explain-on-photo",
    help="Also draw each overlay back onto the photo, at the face's place and angle.",
)

working = working_image(explained)  # what the maps were computed at: the photo's working copy, or the face's crop
lime = next((explanation for explanation in ready if explanation.method == "lime"), None)
listed = [segment for segment, _ in (lime.superpixel_weights or ())[:10]] if lime is not None else []
columns = st.columns(1 + len(ready))
columns[0].image(
    working_image(working, explain_view.DISPLAY_SIDE),
    caption="Original" if face is None else f"Face {face_number}: what the model saw",
    width="stretch",
)
drawn = {}
for column, explanation in zip(columns[1:], ready, strict=True):
    picture = overlay(working, explanation, opacity=opacity, boundaries=boundaries, max_side=explain_view.DISPLAY_SIDE)
    drawn[explanation.method] = number_superpixels(picture, explanation, listed if numbers else [])
    scale = legend(explanation)
    r2 = explanation.details.get("surrogate_r2")
    with column:
        st.image(
            drawn[explanation.method],
            caption=f"{METHODS[explanation.method].title} ({explanation.target_class})",
            width="stretch",
        )
        st.image(explain_view.legend_strip(scale), width="stretch")
        st.caption(
            f"← {scale.low} · {scale.high} →  \n{explanation.meaning} ({explanation.seconds:.2f} s)"
            + ("" if r2 is None else f"  \nSurrogate fit R² = {r2:.2f}")
        )
if on_photo and ready:
    columns = st.columns(1 + len(ready))
    columns[0].image(faces.picture, caption=f"The photo ({item.name})", width="stretch")
    for column, explanation in zip(columns[1:], ready, strict=True):
        crop_drawing = overlay(working, explanation, opacity=opacity, boundaries=boundaries)  # at the crop's size
        pasted = pictures.paste_on_copy(
            faces.picture, faces.scale, crop_drawing, face.matrix, crop_size=card.input_size
        )
        column.image(
            pasted,
            caption=f"{METHODS[explanation.method].title} on the photo (face {face_number})",
            width="stretch",
        )

table = agreement(ready) if len(ready) > 1 else None
if table is not None:
    st.subheader("Do the methods agree?")
    st.dataframe(
        pd.DataFrame(table.rows()),
        hide_index=True,
        column_config={"iou": st.column_config.NumberColumn("IoU", format="%.2f")},
    )
    st.caption(
        f"Overlap (intersection over union) of each method's top {table.fraction:.0%} pixels: 1 = the same "
        "pixels, 0 = none in common. Low agreement means no single map should be trusted on its own."
    )

if ready:
    checks = explain_view.deletion_checks(ready_requests, ready, detector, explained)
    st.subheader("Do the maps point at the evidence?")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "method": check.name,
                    "class": check.target_class,
                    "hidden": check.hidden_share,
                    "P(class)": check.p_before,
                    "its pixels blurred": check.p_after,
                    "random areas blurred": check.p_random,
                    "beats random": f"{check.random_beaten} of {len(check.p_random_draws)}",
                    "result": check.outcome,
                }
                for check in checks
            ]
        ).style.format(
            {column: format_probability for column in ("P(class)", "its pixels blurred", "random areas blurred")}
        ),
        hide_index=True,
        column_config={"hidden": st.column_config.NumberColumn("share hidden", format="percent")},
    )
    st.caption(
        deletion_summary(checks)
        + " For a Real verdict the check says little: blurring removes detail but adds no generator artefacts."
    )

if listed:
    st.subheader("LIME's most influential superpixels")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "superpixel": segment,
                    "weight": weight,
                    "effect": f"supports '{lime.target_class}'" if weight > 0 else f"against '{lime.target_class}'",
                }
                for segment, weight in lime.superpixel_weights[:10]
            ]
        ),
        hide_index=True,
        column_config={"weight": st.column_config.NumberColumn(format="%+.2e")},
    )
    found = (
        "These numbers are written on the LIME overlay."
        if numbers
        else "Tick *Number LIME's superpixels* to see these numbers on the LIME overlay."
    )
    st.caption(
        f"{found} Surrogate fit R² = "
        f"{lime.details['surrogate_r2']:.2f}: the share of the variation of P({lime.target_class}) over the "
        f"{lime.params['num_samples']} perturbed samples that the linear model of these weights reproduces "
        "(weighted by closeness to the image). Near 0, the weights summarise the model's behaviour poorly."
    )

if ready:
    st.subheader("Downloads and the command line")
    stem = Path(item.name).stem  # the CLI names its files <image stem>_<method>.png/.json too
    if face is not None:
        stem += f"_face{face_number}"
    model_flag = model_choice.model_flags()
    for explanation in ready:
        name = f"{stem}_{explanation.method}"
        png_column, json_column, composite_column, _ = st.columns([1, 1, 1, 2])
        png_column.download_button(
            f"{METHODS[explanation.method].title} PNG",
            explain_view.deferred_png(partial(overlay, working, explanation, opacity=opacity, boundaries=boundaries)),
            file_name=f"{name}.png",
            mime="image/png",
            on_click="ignore",
            icon=":material/download:",
        )
        json_column.download_button(
            f"{METHODS[explanation.method].title} JSON",
            json.dumps(explain_view.explanation_record(explanation, face, faces_found=faces_found), indent=2),
            file_name=f"{name}.json",
            mime="application/json",
            on_click="ignore",
            icon=":material/download:",
        )
        composite_column.download_button(
            f"{METHODS[explanation.method].title} composite PNG",
            partial(
                composite_png,
                working,
                explanation,
                opacity=opacity,
                boundaries=boundaries,
                numbered=listed if numbers else [],
            ),
            file_name=f"{name}_composite.png",
            mime="image/png",
            on_click="ignore",
            icon=":material/download:",
            help="Original, overlay, colour bar, verdict, threshold, model id and settings in one picture.",
        )
        st.code(
            f"deepfake-core explain {shlex.quote(item.name)}{model_flag} --method {explanation.method} "
            f"--from-json {shlex.quote(name + '.json')} --opacity {opacity:.2f}"
            + (" --boundaries" if boundaries and explanation.segments is not None else ""),
            language="bash",
        )
    st.download_button(
        "Comparison JSON (agreement and deletion check)",
        json.dumps(comparison_record(ready, checks, table), indent=2),
        file_name=f"{stem}_comparison.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption(
        "Each method's JSON holds every parameter, the seed, the image's sha256, the model id and the threshold"
        + ("" if face is None else f", and which face it explains (face {face_number}, where it is on the photo)")
        + "; `--from-json` reruns exactly that explanation from the command line, and refuses another image or "
        "model (`--force` overrides)." + ("" if face is None else " The PNG is the overlay on the face's aligned crop.")
    )
