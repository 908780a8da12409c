"""Knowing when the detector does not know: the "unlike the training faces" flag.

A detector trained on a handful of generators gives confident verdicts on
anything, including faces from generators it never saw, where a confidence of
99.9 % means nothing. The flag measures how far a face's own pooled features
(the layer that feeds the classification head) lie from the features of the
training faces: the Mahalanobis distance to their mean under a Ledoit-Wolf
shrunk covariance (Lee et al. 2018 use the same distance on a network's
features; shrinkage keeps a few hundred dimensions from ten thousand faces well
conditioned). The flag threshold is a quantile of the validation faces'
distances, so by construction about 5 % of validation faces are flagged.

The fitted statistics live in ``NAME.familiarity.npz`` beside the model (plain
arrays, read with ``allow_pickle=False``) and the card's ``familiarity``
section names the file, its sha256, the layer and the threshold.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_core.errors import ModelCardError, ModelLoadError

__all__ = [
    "FEATURE_LAYERS",
    "UNFAMILIAR_NOTE",
    "FamiliarityModel",
    "FamiliaritySpec",
    "familiarity_path_for",
    "fit_familiarity",
    "load_familiarity",
    "save_familiarity",
    "unfamiliar",
]

FEATURE_LAYERS = ("rescale_gap", "gap_features")
"""The pooled-feature layer the head reads, by preference (attention model first, plain GAP second)."""
DEFAULT_QUANTILE = 0.95
UNFAMILIAR_NOTE = "unreliable: unlike the training faces"
"""How every surface (CLI, pages, reports) words a flagged verdict."""
SUFFIX = ".familiarity.npz"


@dataclass(frozen=True)
class FamiliaritySpec:
    """The card's ``familiarity`` section: where the statistics are and how the flag is set.

    ``threshold`` is the feature distance above which a face is flagged;
    ``quantile`` the share of validation faces below it; ``validation_flagged``
    the share actually flagged there (ties make it differ slightly).
    """

    file: str
    sha256: str
    layer: str
    threshold: float
    quantile: float
    n_train: int
    n_validation: int
    validation_flagged: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> FamiliaritySpec:
        if not isinstance(data, dict):
            raise ModelCardError("the card's familiarity section must be a JSON object.")
        names = {item.name for item in fields(cls)}
        if set(data) != names:
            raise ModelCardError(
                "the card's familiarity section must have exactly the fields " + ", ".join(sorted(names)) + "."
            )
        spec = cls(**data)
        if not (isinstance(spec.threshold, (int, float)) and spec.threshold > 0 and 0 < spec.quantile < 1):
            raise ModelCardError("the card's familiarity threshold must be positive and its quantile in (0, 1).")
        return spec


@dataclass(frozen=True)
class FamiliarityModel:
    """Mean and whitening matrix of the training features, and the flag threshold.

    ``whitener`` ``W`` satisfies ``W @ W.T = inverse covariance``, so the
    distance is ``|| (x - mean) @ W ||``.
    """

    mean: np.ndarray
    whitener: np.ndarray
    threshold: float
    layer: str

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance ``(N,)`` of each feature row ``(N, D)`` to the training faces."""
        centred = np.asarray(features, dtype=np.float64) - self.mean
        return np.sqrt(np.sum((centred @ self.whitener) ** 2, axis=1))

    def flags(self, distances: np.ndarray) -> np.ndarray:
        """True where a face is unlike the training faces."""
        return unfamiliar(distances, self.threshold)


def unfamiliar(distances: np.ndarray | float, threshold: float) -> np.ndarray:
    """The flag rule, for the model's statistics and for stored results alike: distance above the threshold."""
    return np.asarray(distances, dtype=float) > threshold


def familiarity_path_for(model_path: str | os.PathLike[str]) -> Path:
    """``model/default.keras`` -> ``model/default.familiarity.npz``."""
    path = Path(model_path)
    return path.with_name(path.name.split(".")[0] + SUFFIX)


def fit_familiarity(
    train_features: np.ndarray,
    validation_features: np.ndarray,
    *,
    layer: str,
    quantile: float = DEFAULT_QUANTILE,
) -> FamiliarityModel:
    """Fit the training-feature distribution and set the flag threshold on validation features."""
    from sklearn.covariance import LedoitWolf

    train_features = np.asarray(train_features, dtype=np.float64)
    if train_features.ndim != 2 or len(train_features) < 2 or len(validation_features) < 1:
        raise ValueError("fitting needs at least two training and one validation feature rows")
    estimate = LedoitWolf().fit(train_features)
    values, vectors = np.linalg.eigh(estimate.covariance_)
    whitener = vectors / np.sqrt(np.maximum(values, 1e-12))
    model = FamiliarityModel(mean=estimate.location_, whitener=whitener, threshold=1.0, layer=layer)
    threshold = float(np.quantile(model.distances(validation_features), quantile))
    return FamiliarityModel(mean=model.mean, whitener=whitener, threshold=threshold, layer=layer)


def save_familiarity(model: FamiliarityModel, path: str | os.PathLike[str]) -> str:
    """Write the statistics as a pickle-free ``.npz``; returns the file's sha256 for the card."""
    buffer = io.BytesIO()
    np.savez(buffer, mean=model.mean.astype(np.float32), whitener=model.whitener.astype(np.float32))
    data = buffer.getvalue()
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_familiarity(path: str | os.PathLike[str], spec: FamiliaritySpec) -> FamiliarityModel:
    """Read the statistics the card names, refusing a missing, changed or malformed file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(
            f"The model card names {spec.file} (the 'unlike the training faces' statistics) but it cannot be "
            f"read: {exc}. Restore it, or refit it with `deepfake-core familiarity`."
        ) from exc
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise ModelLoadError(f"{spec.file} does not match its model card (sha256 differs): changed or corrupted.")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            mean, whitener = arrays["mean"].astype(np.float64), arrays["whitener"].astype(np.float64)
    except (ValueError, KeyError, OSError) as exc:
        raise ModelLoadError(f"{spec.file} is not a familiarity statistics file: {exc}.") from exc
    if mean.ndim != 1 or whitener.shape != (mean.size, mean.size):
        raise ModelLoadError(f"{spec.file} holds arrays of the wrong shapes {mean.shape} and {whitener.shape}.")
    return FamiliarityModel(mean=mean, whitener=whitener, threshold=float(spec.threshold), layer=spec.layer)
