"""The evaluation results stored in the model folder, read once per version of their files.

The Evaluation and Model pages only show results that ``deepfake-core evaluate`` (and the
leave-one-generator-out runs) wrote to ``<model dir>/evaluation/``; nothing is recomputed from
images. The files are read through ``st.cache_data``, keyed by their names and versions, so a new
or rewritten results file is picked up and an unchanged folder is not read again on every rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import streamlit as st

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.evaluation.results import ResultsListing, list_results
from deepfake_core.loading import default_model_dir
from pages.files import display_folder, file_stamp

__all__ = ["GENERALISATION_FOLDER", "results_folder_hint", "stored_results"]

GENERALISATION_FOLDER: Final = "generalisation"
"""Subfolder of ``<model dir>/evaluation/`` with the leave-one-generator-out runs' results."""


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
