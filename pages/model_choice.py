"""The model a visitor works with: the sidebar's picker, the cached detector and the threshold slider.

The sidebar (:func:`render_sidebar`, drawn by the app shell on every page) chooses a model file
from the model folder and, only when the thesis' legacy H5 file is there, asks to opt in to
loading it. Pages then read that choice: :func:`require_detector` loads the model once per server
for all sessions, :func:`chosen_card` and :func:`require_card` read its card without the weights,
and :func:`threshold_slider` keeps one threshold per model for the session across pages.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import streamlit as st

from deepfake_core.card import ModelCard, card_path_for
from deepfake_core.errors import DeepfakeLensError
from deepfake_core.loading import (
    ALLOW_LEGACY_ENV,
    DEFAULT_MODEL_NAME,
    ModelEntry,
    default_model_dir,
    find_models,
    legacy_allowed_by_env,
    load_detector,
)
from pages.files import display_folder, file_stamp
from pages.messages import stop_with_info

if TYPE_CHECKING:
    from deepfake_core.detector import Detector

__all__ = [
    "chosen_card",
    "model_flags",
    "render_sidebar",
    "require_card",
    "require_detector",
    "threshold_slider",
]

_MODEL_KEY: Final = "model_name"
_LEGACY_KEY: Final = "allow_legacy"


@st.cache_resource(max_entries=2, show_spinner="Loading the model (once for all visitors)...")
def _load_detector(
    path: str, model_stamp: tuple[int, int] | None, card_stamp: tuple[int, int] | None, allow_legacy: bool
) -> Detector:
    """One detector per (file, version, opt-in), shared by all sessions; ``Detector`` is thread-safe.

    The stamps are unused in the body: they are part of the cache key, so a retrained model or
    an edited card is picked up and tests with different model folders never share an entry.
    ``max_entries=2`` lets a visitor compare two models without piling models up in memory.
    """
    from deepfake_core.judge import warm_up_face_step

    detector = load_detector(path, allow_legacy=allow_legacy)
    warm_up_face_step(detector)
    return detector


def _no_model_message(folder: Path) -> str:
    shown = display_folder(folder)
    return (
        f"No model found in `{shown}`. Put `{DEFAULT_MODEL_NAME}.keras` and `{DEFAULT_MODEL_NAME}.card.json` "
        f"there, or train one with `deepfake-core train --data DATA --manifest model/split_manifest.json "
        f"--out {shown}{DEFAULT_MODEL_NAME}.keras` (set `DEEPFAKE_LENS_MODEL_DIR` to use another folder)."
    )


def _selected_entry(entries: Sequence[ModelEntry]) -> ModelEntry:
    """The sidebar's choice, or the first entry (the default model) before the sidebar has run."""
    chosen = st.session_state.get(_MODEL_KEY)
    return next((entry for entry in entries if entry.name == chosen), entries[0])


def render_sidebar() -> None:
    """Model picker, a summary of the chosen model's card, and the legacy opt-in (only if such a file exists)."""
    entries = find_models()
    with st.sidebar:
        st.subheader("Model")
        if not entries:
            st.caption(f"No model in `{display_folder(default_model_dir())}` yet.")
            return
        st.selectbox("Model file", [entry.name for entry in entries], key=_MODEL_KEY, label_visibility="collapsed")
        if any(entry.legacy for entry in entries):
            st.checkbox(
                "Allow the thesis' legacy H5 model",
                value=legacy_allowed_by_env(),
                key=_LEGACY_KEY,
                help="The thesis' file holds pickled Python code that runs when it is loaded. Tick this only if "
                f"you trust the copy in the model folder (`{ALLOW_LEGACY_ENV}=1` ticks it for a deployment).",
            )
        entry = _selected_entry(entries)
        if entry.problem:
            st.error(entry.problem)
        elif entry.card is None:
            st.caption("Legacy H5 from the thesis: its card is read when it is loaded.")
        else:
            card = entry.card
            st.markdown(f"**{card.name}** · `{card.model_id}`  \n{card.architecture}")
            st.caption(
                f"Input {card.input_size}x{card.input_size} {card.channel_order}, float32 in {card.value_scale} · "
                f"threshold {card.threshold:.2f} · temperature {card.temperature:.2f} · "
                + ("judges each face" if card.face_crop is not None else "judges the whole image")
            )


def require_detector() -> Detector:
    """The chosen model, loaded once per server; otherwise say what to do and stop the page."""
    folder = default_model_dir()
    entries = find_models(folder)
    if not entries:
        stop_with_info(_no_model_message(folder))
    entry = _selected_entry(entries)
    if entry.problem:
        st.error(f"The model '{entry.name}' cannot be used: {entry.problem}")
        st.stop()
    allow_legacy = bool(st.session_state.get(_LEGACY_KEY, legacy_allowed_by_env()))
    if entry.legacy and not allow_legacy:
        stop_with_info(
            "The thesis' legacy model runs pickled code when it is loaded, so it loads only if you tick "
            "'Allow the thesis' legacy H5 model' in the sidebar. Or pick another model there."
        )
    try:
        return _load_detector(
            str(entry.path), file_stamp(entry.path), file_stamp(card_path_for(entry.path)), allow_legacy
        )
    except DeepfakeLensError as error:
        st.error(str(error))
        st.stop()


def _chosen_entry() -> ModelEntry | None:
    """The sidebar's model entry, or None when the model folder holds no model."""
    entries = find_models()
    return _selected_entry(entries) if entries else None


def chosen_card() -> ModelCard | None:
    """The sidebar's model card when it has one (no weights are loaded), else None."""
    entry = _chosen_entry()
    return entry.card if entry is not None else None


def require_card() -> ModelCard:
    """The chosen model's card, read without loading the weights when the card file exists."""
    entry = _chosen_entry()
    if entry is not None and entry.card is not None:
        return entry.card
    return require_detector().card


def model_flags() -> str:
    """The ``deepfake-core`` options that select the sidebar's model ("" for the default model)."""
    entry = _chosen_entry()
    if entry is None or entry.path == default_model_dir() / f"{DEFAULT_MODEL_NAME}.keras":
        return ""
    path = shlex.quote(f"{display_folder(entry.path.parent)}{entry.path.name}")
    return f" --model {path}" + (" --allow-legacy" * entry.legacy)


def threshold_slider(default: float, *, scope: str) -> float:
    """The verdict threshold, starting at ``default`` and kept for the session per ``scope`` (a model id).

    Widgets on different pages are different widgets even with the same key, so the value lives in
    its own session-state entry: Classify, Explain and Evaluation share a scope, and a threshold
    chosen on one page holds on the others.
    """
    stored = f"threshold-value:{scope}"
    widget = f"threshold:{scope}"
    st.session_state.setdefault(stored, float(default))

    def remember() -> None:
        st.session_state[stored] = st.session_state[widget]

    return st.slider(
        "Decision threshold: Fake when P(fake) ≥ threshold",
        min_value=0.0,
        max_value=1.0,
        value=st.session_state[stored],
        step=0.01,
        key=widget,
        on_change=remember,
        help=f"The model's threshold is {default:.2f}. Raising it means fewer Fake verdicts: fewer false alarms, "
        "more missed fakes.",
    )
