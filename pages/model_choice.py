"""The model a visitor works with: the sidebar's picker, the cached detector and the threshold slider.

The sidebar (:func:`render_sidebar`, drawn by the app shell on every page) chooses a model file
from the model folder and, only when the thesis' legacy H5 file is there, asks to opt in to
loading it. Pages then read that choice: :func:`require_detector` loads the model once per server
for all sessions, :func:`chosen_card` and :func:`require_card` read its card without the weights,
and :func:`threshold_slider` keeps one threshold per model for the session across pages.

The address bar carries the sidebar's model and that model's threshold (``?model=other&threshold=0.35``),
so a view can be shared: a link's values are read once when a session starts (a value that does not
fit is named in a warning and the default is used), and the address follows the sidebar from then on.
Default values are left out of the address. The thesis' legacy H5 has no card until it is loaded, so
its threshold is not carried.
"""

from __future__ import annotations

import gc
import math
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
from deepfake_core.memory import SERVER_BATCH_SIZE
from pages.files import display_folder, file_stamp
from pages.messages import stop_with_info
from pages.number_format import format_temperature

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
_LINK_READ_KEY: Final = "_link_read"

_MODEL_PARAM: Final = "model"
"""Query parameter naming the sidebar's model (its name in the picker, e.g. ``default``)."""
_THRESHOLD_PARAM: Final = "threshold"
"""Query parameter holding the sidebar model's decision threshold (two decimals, 0 to 1)."""


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
    detector.batch_size = SERVER_BATCH_SIZE  # a server's peak memory, not its speed, is the limit
    warm_up_face_step(detector)
    # TensorFlow and Keras leave ~half a million long-lived objects behind. Streamlit collects
    # garbage after every rerun (`runner.postScriptGC`), and each full collection walked them all:
    # 0.4-0.6 s per threshold step. Frozen objects are skipped by the collector (never freed anyway).
    gc.freeze()
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


def _threshold_key(scope: str) -> str:
    """Where the session keeps the threshold of the model with id ``scope`` (see :func:`threshold_slider`)."""
    return f"threshold-value:{scope}"


def _link_threshold(raw: str) -> float | None:
    """A link's threshold as the slider holds it (two decimals), or ``None`` when it is not a number in [0, 1]."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return round(value, 2) if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def _read_link(entries: Sequence[ModelEntry]) -> None:
    """Apply a shared link's model and threshold, once per session and before the picker exists.

    A model that is not in the folder or a threshold that is not a number from 0 to 1 is named in
    a warning, and the default is used instead; the address is then corrected by :func:`_write_link`.
    """
    if st.session_state.get(_LINK_READ_KEY):
        return
    st.session_state[_LINK_READ_KEY] = True
    name = st.query_params.get(_MODEL_PARAM)
    if name is not None:
        if any(entry.name == name for entry in entries):
            st.session_state[_MODEL_KEY] = name
        else:
            st.warning(
                f"The link asks for the model '{name}', which is not in the model folder: showing "
                f"`{entries[0].name}` instead.",
                icon=":material/link_off:",
            )
    raw = st.query_params.get(_THRESHOLD_PARAM)
    if raw is None:
        return
    card = _selected_entry(entries).card
    threshold = _link_threshold(raw)
    if threshold is None:
        own = f" ({card.threshold:.2f})" if card is not None else ""
        st.warning(
            f"The link's threshold '{raw}' is not a number from 0 to 1: using the model's own threshold{own}.",
            icon=":material/link_off:",
        )
    elif card is not None:
        st.session_state[_threshold_key(card.model_id)] = threshold


def _write_link(entries: Sequence[ModelEntry]) -> None:
    """Make the address show the sidebar's model and its threshold, so copying it shares this view.

    The default model and a model's own threshold are left out, so an untouched app keeps a plain
    address; a parameter is written only when it changes.
    """
    entry = _selected_entry(entries)
    wanted = {_MODEL_PARAM: None if entry is entries[0] else entry.name, _THRESHOLD_PARAM: None}
    if entry.card is not None:
        threshold = st.session_state.get(_threshold_key(entry.card.model_id))
        if threshold is not None and threshold != entry.card.threshold:
            wanted[_THRESHOLD_PARAM] = f"{threshold:.2f}"
    for param, value in wanted.items():
        if value is None:
            st.query_params.pop(param, None)
        elif st.query_params.get(param) != value:
            st.query_params[param] = value


def render_sidebar() -> None:
    """Model picker, a summary of the chosen model's card, and the legacy opt-in (only if such a file exists).

    It also keeps the address bar's model and threshold in step with the sidebar (see the module's notes).
    """
    entries = find_models()
    with st.sidebar:
        st.subheader("Model")
        if not entries:
            st.caption(f"No model in `{display_folder(default_model_dir())}` yet.")
            return
        _read_link(entries)
        st.selectbox("Model file", [entry.name for entry in entries], key=_MODEL_KEY, label_visibility="collapsed")
        _write_link(entries)
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
                f"threshold {card.threshold:.2f} · temperature {format_temperature(card.temperature)} · "
                + ("judges each face" if card.face_crop is not None else "judges the whole image")
                + (" and its mirror image" if card.mirror_average else "")
                + (f" · re-compressed as JPEG quality {card.jpeg_quality}" if card.jpeg_quality else "")
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
    stored = _threshold_key(scope)
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
