"""What the pages tell a visitor in the same words everywhere: a verdict, a refused file, what to do next.

Classify and Explain show a verdict with the same badge, bar and caption, so a result reads the
same wherever it is seen; every page (and the model picker) ends a run it cannot go on with by
saying what to do. This module only draws: the verdicts and errors come from ``deepfake_core``.
It sits below the app shell and the sidebar so that both can use :func:`stop_with_info`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, NoReturn

import streamlit as st

from deepfake_core.familiarity import UNFAMILIAR_NOTE
from deepfake_core.report import TERMS
from pages.formatting import format_probability

if TYPE_CHECKING:
    from deepfake_core.detector import Prediction
    from pages.classify_state import Classified
    from pages.inputs import ImageInput

__all__ = ["show_refusals", "show_verdict", "stop_with_info"]

_BADGES: Final = {
    "fake": ("red", ":material/warning:"),
    "real": ("blue", ":material/check_circle:"),
    "unfamiliar": ("orange", ":material/help:"),
}
"""Colour and icon of the verdict badge: red Fake, blue Real, orange for a verdict that is unreliable."""


def stop_with_info(message: str) -> NoReturn:
    """Show what the user should do and end the page run (the app itself keeps working)."""
    st.info(message)
    st.stop()


def show_refusals(results: Sequence[Classified]) -> None:
    """One ``st.error`` per input that could not be decoded (empty, not an image, damaged, too large in pixels).

    Shown together above the results, so a refused file is not lost among many verdicts.
    """
    for result in results:
        if result.photo is None:
            st.error(f"**{result.source.name}** was not classified: {result.error}", icon=":material/broken_image:")


def show_verdict(prediction: Prediction, source: ImageInput, *, face: int | None = None) -> None:
    """One verdict, the same on Classify and Explain: a large coloured badge, P(fake) bar, confidence, threshold.

    The badge is red for Fake, blue for Real and orange for a face unlike the training faces (its
    verdict is unreliable), large enough to read at a glance. A Real verdict says under it that it is no
    proof: the leave-one-generator-out tests call most faces of an unseen generator Real. The caption names
    the image's sha256, the face (when a face was judged) and the model id, so a shown result can be traced
    and reproduced; tooltips say what each number means. The bar is Streamlit's own progress bar, not
    a chart: Classify shows up to thirty of these and redraws them all on every threshold step.
    """
    colour, icon = _BADGES["unfamiliar" if prediction.unfamiliar else "fake" if prediction.is_fake else "real"]
    note = f", {UNFAMILIAR_NOTE}" if prediction.unfamiliar else ""
    st.markdown(f"### :{colour}-background[:{colour}[{icon} Verdict: {prediction.label}{note}]]")
    if prediction.unfamiliar:
        st.warning(
            "This face is unlike the faces the model was trained on (feature distance "
            f"{prediction.feature_distance:.3f}, above the flag threshold the model card sets). Verdicts on such "
            "faces are often wrong whatever their confidence, for example on a generator the model never saw: "
            "treat this one as unknown.",
            icon=":material/help:",
        )
    st.progress(prediction.p_fake)
    confidence = "not meaningful here" if prediction.unfamiliar else f"**{format_probability(prediction.confidence)}**"
    st.markdown(
        f"P(fake) **{format_probability(prediction.p_fake)}** · calibrated confidence in this verdict "
        f"{confidence} · threshold {prediction.threshold:.2f}",
        help=f"**P(fake)**: {TERMS['P(fake)']}\n\n**Calibrated confidence**: {TERMS['Calibrated confidence']}",
    )
    if not prediction.unfamiliar and not prediction.is_fake:
        st.caption(
            "Real is not proof of authenticity: faces from generators the model never saw are mostly called Real.",
            help=f"**Real**: {TERMS['Real']}",
        )
    where = f"`{source.name}`" + (f" · face {face}" if face is not None else "")
    st.caption(
        f"{where} · sha256 `{source.sha256}` · model `{prediction.model_id}`",
        help=f"**sha256**: {TERMS['sha256']}\n\n**Model id**: {TERMS['Model id']}",
    )
