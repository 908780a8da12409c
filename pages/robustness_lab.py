"""Robustness lab: how fragile one verdict is when the photo is re-compressed, blurred, shrunk or made noisy.

A picture rarely reaches an analyst as it was made: messengers re-compress it, screenshots shrink
it. Here the visitor's own photo (or a sample) is changed at a range of strengths of each kind,
every copy is judged as on the Classify page, and one curve per kind shows where P(fake) goes and
whether the verdict flips. The curves are computed once per photo and model (``deepfake_core.
robustness_lab``); the sliders only pick which strength's copy to look at, and the threshold only
moves lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.figures import fragility_figure
from deepfake_core.intake import load_image
from deepfake_core.robustness_lab import Fragility, NoFaceToJudgeError, measure_fragility
from pages import inputs, messages, model_choice, shell
from pages.formatting import format_probability

if TYPE_CHECKING:
    from deepfake_core.detector import Detector

FROM_UPLOAD, FROM_SAMPLE = "Upload an image", "A built-in sample"


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Changing the photo at every strength and judging each copy...")
def fragility(_detector: Detector, _image: np.ndarray, *, sha256: str, model: tuple[str, str | None]) -> Fragility:
    """The photo's curves, once per image (``sha256``) and model (its card's id and weights sha256).

    A face model finds the face again on each of about thirty changed copies (seconds), so moving
    a slider or the threshold must not repeat it. Kept in memory for an hour, never on disk.
    """
    return measure_fragility(_detector, _image)


shell.page_setup()
st.title("Robustness lab")
detector = model_choice.require_detector()
st.markdown(
    "How fragile is a verdict? The photo is **re-compressed, blurred, shrunk and made noisy** at growing strengths, "
    "as pictures are on their way to you, and each copy is judged. A verdict that flips under a mild change says "
    "little on its own."
)

source = st.radio("Image", [FROM_UPLOAD, FROM_SAMPLE], horizontal=True, key="lab-source")
if source == FROM_UPLOAD:
    upload = st.file_uploader("Upload a face image", key="lab-upload")
    st.caption(inputs.upload_limits_note(max_images=None))
    chosen = inputs.upload_inputs([upload] if upload else [])
else:
    sample = st.selectbox("Sample", list(inputs.SAMPLES), format_func=inputs.sample_label, key="lab-sample")
    chosen = inputs.sample_inputs([sample])
if not chosen:
    messages.stop_with_info("Upload a face image, or pick a sample, to see how far its verdict holds.")
item = chosen[0]
threshold = model_choice.threshold_slider(detector.card.threshold, scope=detector.model_id)
try:
    image = load_image(item.data)
    result = fragility(detector, image, sha256=item.sha256, model=(detector.model_id, detector.card.weights_sha256))
except NoFaceToJudgeError as error:
    st.warning(f"**{item.name}**: {error}", icon=":material/person_off:")
    st.stop()
except DeepfakeLensError as error:
    st.error(f"**{item.name}**: {error}")
    st.stop()

clean_verdict, other_verdict = ("Fake", "Real") if result.clean_p_fake >= threshold else ("Real", "Fake")
view_column, summary_column = st.columns([1, 4], vertical_alignment="center")
view_column.image(result.clean_view, caption="Unchanged: what the model saw", width="stretch")
with summary_column:
    st.markdown(
        f"**{item.name}** unchanged: P(fake) **{format_probability(result.clean_p_fake)}**, verdict "
        f"**{clean_verdict}** at threshold {threshold:.2f}."
    )
    if result.face_step:
        found = "1 face found" if result.faces_found == 1 else f"{result.faces_found} faces found, the largest judged"
        st.caption(
            f"{found}. The face is found again on every changed copy, as the Classify page would (the largest if "
            "there are several); a cross on a curve marks a strength where no face was left to judge."
        )
    else:
        st.caption("This model has no face step: every changed copy is judged as a whole image.")
    st.caption(
        "Each change is made on the photo at its own resolution, before the model's preprocessing. Noise is drawn "
        "with a fixed seed, so the same photo always gives the same curves."
    )

for row in range(0, len(result.curves), 2):
    for column, curve in zip(st.columns(2), result.curves[row : row + 2], strict=False):
        sweep = curve.sweep
        with column.container(border=True):
            strength = st.select_slider(
                sweep.title,
                options=sweep.strengths,
                value=sweep.strengths[len(sweep.strengths) // 2],
                key=f"lab-{sweep.name}",
                help="Which changed copy to look at; the curve shows every strength.",
            )
            st.plotly_chart(
                fragility_figure(curve, clean_p_fake=result.clean_p_fake, threshold=threshold, selected=strength),
                key=f"lab-curve-{sweep.name}",
            )
            flip = curve.flip(threshold, clean_p_fake=result.clean_p_fake)
            flipped = f"turns {other_verdict} at {sweep.parameter} {flip:g}" if flip is not None else None
            st.caption(f"The verdict {flipped or 'holds over the whole range'} at threshold {threshold:.2f}.")
            index = sweep.strengths.index(strength)
            p_fake = curve.p_fake[index]
            if p_fake is None:
                st.info(f"At {sweep.parameter} {strength:g} no face was left to judge.", icon=":material/person_off:")
            else:
                st.image(
                    curve.views[index],
                    caption=f"At {sweep.parameter} {strength:g}: P(fake) {format_probability(p_fake)}",
                    width=160,
                )
