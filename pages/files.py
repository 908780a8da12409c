"""How the pages refer to files in the model folder: as a visitor would type the path, and by version.

Both the model picker (``pages/model_choice.py``) and the stored results (``pages/stored_results.py``)
name folders in messages and key Streamlit's caches on the files they read, so a retrained model,
an edited card or a new results file is picked up without restarting the server. Kept apart from
both so neither reaches into the other for these two helpers. No Streamlit here.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["display_folder", "file_stamp"]


def file_stamp(path: Path) -> tuple[int, int] | None:
    """``(mtime_ns, size)`` of a file, so a replaced file gets a new cache entry."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def display_folder(folder: Path) -> str:
    """The model folder as a user would type it: relative to the working directory when inside it."""
    try:
        return f"{folder.resolve().relative_to(Path.cwd().resolve())}/"
    except ValueError:
        return f"{folder}/"
