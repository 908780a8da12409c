"""The evaluation results stored in the model folder, read once per version of their files.

The Evaluation and Model pages only show results that ``deepfake-core evaluate`` (and the
leave-one-generator-out runs) wrote to ``<model dir>/evaluation/``; nothing is recomputed from
images. The files are read through ``st.cache_data``, keyed by their names and versions, so a new
or rewritten results file is picked up and an unchanged folder is not read again on every rerun.

The Evaluation page's gallery of wrong verdicts shows test images from the data folder: each
thumbnail is read only when it is first shown, kept small, and cached by file version; how many a
visitor has asked to see is kept per model and cell for the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import streamlit as st

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.evaluation.results import ResultsListing, list_results
from deepfake_core.intake import load_image
from deepfake_core.loading import default_model_dir
from pages.files import display_folder, file_stamp
from pages.pictures import thumbnail

__all__ = [
    "GALLERY_PAGE_SIZE",
    "GALLERY_THUMBNAIL_SIDE",
    "GENERALISATION_FOLDER",
    "gallery_limit",
    "gallery_thumbnail",
    "results_folder_hint",
    "show_more",
    "stored_results",
]

GENERALISATION_FOLDER: Final = "generalisation"
"""Subfolder of ``<model dir>/evaluation/`` with the leave-one-generator-out runs' results."""

GALLERY_PAGE_SIZE: Final = 24
"""Wrong verdicts shown at first, and added by each "show more": a cell can hold hundreds of images."""

GALLERY_THUMBNAIL_SIDE: Final = 128
"""Longest side of a gallery thumbnail (pixels): enough to see a face, small enough to cache hundreds."""

_GALLERY_SHOWN_KEY: Final = "gallery-shown:"


def _results_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    if not folder.is_dir():
        return ()
    return tuple((path.name, *(file_stamp(path) or (0, 0))) for path in sorted(folder.glob("*.json")))


@st.cache_data(show_spinner="Reading stored results...", max_entries=4)
def _listing(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> ResultsListing:
    """Stored results, read once per folder version (``stamp`` is the cache key, not used here)."""
    return list_results(folder)


def stored_results(subfolder: str | None = None) -> ResultsListing:
    """Every results file in ``<model dir>/evaluation/`` (or its ``subfolder``); unreadable ones become warnings."""
    folder = default_model_dir() / "evaluation"
    if subfolder is not None:
        folder = folder / subfolder
    try:
        listing = _listing(str(folder), _results_stamp(folder))
    except DeepfakeLensError as error:
        st.error(str(error))
        st.stop()
    for path, problem in listing.problems:
        st.warning(f"Skipped `{path.name}`: {problem}")
    return listing


def results_folder_hint() -> str:
    """Where results files go, for the "nothing stored yet" messages."""
    return display_folder(default_model_dir() / "evaluation")


@st.cache_data(show_spinner=False, max_entries=512)
def _thumbnail(path: str, stamp: tuple[int, int]) -> np.ndarray | None:
    """A small copy of one test image, read once per file version (``stamp`` is the cache key only)."""
    try:
        return thumbnail(load_image(path), GALLERY_THUMBNAIL_SIDE)
    except DeepfakeLensError:
        return None


def gallery_thumbnail(path: Path) -> np.ndarray | None:
    """A test image as a thumbnail, or ``None`` when the file is missing or cannot be read as an image."""
    stamp = file_stamp(path)
    return None if stamp is None else _thumbnail(str(path), stamp)


def gallery_limit(scope: str) -> int:
    """How many wrong verdicts of ``scope`` (a model and a cell) the visitor has asked to see."""
    return st.session_state.get(_GALLERY_SHOWN_KEY + scope, GALLERY_PAGE_SIZE)


def show_more(scope: str) -> None:
    """The "show more" button's callback: :data:`GALLERY_PAGE_SIZE` more wrong verdicts of ``scope``."""
    st.session_state[_GALLERY_SHOWN_KEY + scope] = gallery_limit(scope) + GALLERY_PAGE_SIZE
