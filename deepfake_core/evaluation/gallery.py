"""The wrong verdicts behind the confusion matrix: which test images fall in a cell, and where they are.

The Evaluation page lets a visitor open a wrong cell of the confusion matrix ("Real called Fake",
"Fake called Real") and see those test images at the threshold chosen for the model. Which images
fall in a cell is read from the stored per-image predictions, so it follows the threshold without
running a model. The images themselves are not part of the repository: they are found under the
data folder (:func:`default_data_dir`) when it is there, and every stored id is resolved strictly
inside it, so a crafted results file cannot make the dashboard read a file elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Final, Literal

import numpy as np

from deepfake_core.errors import DataSetError
from deepfake_core.evaluation.schema import EvaluationResults, Prediction

__all__ = [
    "CELLS",
    "CELL_TITLES",
    "DATA_ENV",
    "Cell",
    "cell_predictions",
    "default_data_dir",
    "image_path",
    "images_folder",
]

Cell = Literal["real_called_fake", "fake_called_real"]
CELLS: Final[tuple[Cell, ...]] = ("real_called_fake", "fake_called_real")
CELL_TITLES: Final[dict[Cell, str]] = {"real_called_fake": "Real called Fake", "fake_called_real": "Fake called Real"}
"""How the pages name each wrong cell: the true class, then the verdict."""

DATA_ENV: Final = "DEEPFAKE_LENS_DATA"
"""Environment variable naming the data folder (the one holding ``faces/``, or ``faces/`` itself)."""


def default_data_dir() -> Path:
    """``$DEEPFAKE_LENS_DATA`` when set, else ``../shared/data`` beside the repository (where the README puts it)."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def cell_predictions(results: EvaluationResults, threshold: float, cell: Cell) -> list[Prediction]:
    """The test images in one wrong cell at ``threshold``, the most wrong first.

    A verdict is Fake iff ``p_fake >= threshold``, as everywhere else, so the number of images
    returned equals the cell of ``metrics_at_threshold(results, threshold)``'s confusion matrix.
    "Most wrong" is P(fake) furthest from the threshold: a false alarm at 0.99 is a stronger
    mistake than one at 0.51. Ties keep the stored order.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    arrays = results.arrays
    called_fake = arrays.p_fake >= threshold
    wrong = (arrays.y_fake == 0) & called_fake if cell == "real_called_fake" else (arrays.y_fake == 1) & ~called_fake
    indices = np.flatnonzero(wrong)
    order = indices[np.argsort(-np.abs(arrays.p_fake[indices] - threshold), kind="stable")]
    return [results.predictions[index] for index in order]


def _plain_relative(relative: str) -> PurePosixPath:
    """``relative`` as a path that can only point downwards: not empty, no root, no ``..``."""
    path = PurePosixPath(relative)
    if not path.parts or "\0" in relative or path.is_absolute() or ".." in path.parts:
        raise DataSetError(
            f"The stored image id '{relative}' is not a path inside the data folder (it must be relative, "
            "with no '..'); the results file may have been edited. Re-run `deepfake-core evaluate` to rewrite it."
        )
    return path


def image_path(folder: Path, image_id: str) -> Path:
    """The file of a stored image id (a path relative to the evaluated data folder), strictly inside ``folder``.

    The id comes from a results file, which anyone can edit: an absolute path, ``..`` or a
    symbolic link that leads out of ``folder`` is refused, so the dashboard never shows a file
    from elsewhere. The file itself need not exist.

    Raises:
        DataSetError: the id points outside ``folder``.
    """
    base = folder.resolve()
    path = (base / _plain_relative(image_id)).resolve()
    if not path.is_relative_to(base):
        raise DataSetError(
            f"The stored image id '{image_id}' leads outside the data folder '{folder}' (through a link): not shown."
        )
    return path


def images_folder(root_name: str, data_dir: Path | None = None) -> Path | None:
    """The folder the stored ids of a results file are relative to, or ``None`` when it is not here.

    ``root_name`` is the results' ``data.root`` (``faces``), a single folder name. ``data_dir``
    (default :func:`default_data_dir`, chosen by whoever runs the dashboard) may hold that folder,
    as ``../shared/data`` does, or be it, as the command line's ``--data ../shared/data/faces`` is.
    A ``root_name`` that is not a plain name finds nothing.
    """
    data_dir = default_data_dir() if data_dir is None else data_dir
    if "/" in root_name or "\0" in root_name or root_name in {"", ".", ".."}:
        return None
    for folder in (data_dir / root_name, data_dir):
        if folder.name == root_name and folder.is_dir():
            return folder
    return None
