"""Finding and loading models: our ``.keras`` + card files, and (opt-in) the thesis' H5.

A ``.keras`` file is loaded with Keras' safe mode on: it holds no Python code,
and its sha256 must equal the one its card records, so a swapped or corrupted
weights file is refused instead of silently giving different verdicts. The
thesis' legacy files (an H5 with a pickled Lambda layer plus a pickled label
encoder) can run code when loaded, so they load only from the local model
folder and only when the caller opts in (see :mod:`deepfake_core.legacy`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_core.card import ModelCard, card_path_for, file_sha256, load_card
from deepfake_core.errors import DeepfakeLensError, ModelLoadError, WeightsMismatchError

if TYPE_CHECKING:
    from deepfake_core.detector import Detector

__all__ = [
    "ALLOW_LEGACY_ENV",
    "DEFAULT_MODEL_NAME",
    "LEGACY_MODEL_FILE",
    "ModelEntry",
    "default_model_dir",
    "find_models",
    "legacy_allowed_by_env",
    "load_detector",
]

DEFAULT_MODEL_NAME = "default"
LEGACY_MODEL_FILE = "best_model_effatt.h5"
_MODEL_DIR_ENV = "DEEPFAKE_LENS_MODEL_DIR"
ALLOW_LEGACY_ENV = "DEEPFAKE_LENS_ALLOW_LEGACY"
"""Environment variable that opts in to the thesis' legacy files when set to 1 (or true/yes/on)."""
_TRUTHY = frozenset({"1", "true", "yes", "on"})


def legacy_allowed_by_env() -> bool:
    """True when ``$DEEPFAKE_LENS_ALLOW_LEGACY`` opts in (``1``, ``true``, ``yes`` or ``on``).

    The CLI and the dashboard read this so a deployment can opt in once instead of per call. It
    lives here, not in :mod:`deepfake_core.legacy`, because reading it must not import TensorFlow.
    """
    return os.environ.get(ALLOW_LEGACY_ENV, "").strip().lower() in _TRUTHY


def default_model_dir() -> Path:
    """The repository's ``model/`` folder, or ``$DEEPFAKE_LENS_MODEL_DIR`` when set."""
    override = os.environ.get(_MODEL_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "model"


@dataclass(frozen=True)
class ModelEntry:
    """A model file found in a folder; ``card`` is None for legacy files or when ``problem`` says why."""

    name: str
    path: Path
    card: ModelCard | None
    legacy: bool = False
    problem: str | None = None


def find_models(folder: str | os.PathLike[str] | None = None) -> list[ModelEntry]:
    """Every ``*.keras`` model (with its card) and the thesis' H5 in ``folder``, default first.

    Broken entries are listed with ``problem`` set rather than dropped, so the
    dashboard can say what is wrong with a file the user put there.
    """
    folder = Path(folder) if folder is not None else default_model_dir()
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.keras")):
        name = path.name.removesuffix(".keras")
        try:
            entries.append(ModelEntry(name=name, path=path, card=load_card(card_path_for(path))))
        except DeepfakeLensError as exc:
            entries.append(ModelEntry(name=name, path=path, card=None, problem=str(exc)))
    legacy = folder / LEGACY_MODEL_FILE
    if legacy.is_file():
        entries.append(ModelEntry(name="thesis (legacy H5)", path=legacy, card=None, legacy=True))
    entries.sort(key=lambda entry: (entry.name != DEFAULT_MODEL_NAME, entry.legacy, entry.name))
    return entries


def load_detector(
    path: str | os.PathLike[str] | None = None,
    *,
    allow_legacy: bool = False,
    trusted_dir: str | os.PathLike[str] | None = None,
) -> Detector:
    """Load a detector from a ``.keras`` file (+ card) or, opted in, the thesis' ``.h5``.

    ``path`` defaults to ``model/default.keras``. Legacy H5 files are accepted only
    with ``allow_legacy=True`` and only from ``trusted_dir`` (default: the model
    folder). Raises :class:`~deepfake_core.errors.ModelLoadError` subclasses with a
    message that says what to put where.
    """
    path = Path(path) if path is not None else default_model_dir() / f"{DEFAULT_MODEL_NAME}.keras"
    if path.suffix.lower() == ".h5":
        from deepfake_core.legacy import load_legacy_detector

        return load_legacy_detector(path, allow_legacy=allow_legacy, trusted_dir=trusted_dir or default_model_dir())
    if not path.is_file():
        raise ModelLoadError(
            f"No model file at {path}. Put a trained '.keras' model and its '.card.json' there "
            "(see README: 'The shipped model'), or train one with `deepfake-core train`."
        )
    card = load_card(card_path_for(path))
    if card.weights_sha256 is not None:
        actual = file_sha256(path)
        if actual != card.weights_sha256:
            raise WeightsMismatchError(
                f"The weights file {path.name} does not match its model card (sha256 {actual[:12]}... "
                f"instead of {card.weights_sha256[:12]}...). The file was changed or corrupted; "
                "restore it or re-create the card with the model that was trained with it."
            )
    import keras

    import deepfake_core.layers  # noqa: F401  (registers RescaleGAP for deserialisation)
    from deepfake_core.detector import Detector

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for unreadable files
        raise ModelLoadError(f"Could not load the model file {path.name}: {exc}") from exc
    familiarity = None
    if card.familiarity is not None:
        from deepfake_core.familiarity import load_familiarity

        familiarity = load_familiarity(path.with_name(card.familiarity.file), card.familiarity)
    try:
        return Detector(model, card, familiarity=familiarity)
    except ValueError as exc:
        raise ModelLoadError(f"Model {path.name} does not fit its card: {exc}.") from exc
