"""Knowing when the detector does not know: the "unlike the training faces" flag.

A detector trained on a handful of generators gives confident verdicts on
anything, including faces from generators it never saw, where a confidence of
99.9 % means nothing. The flag measures how far a face's own pooled features
(the layer that feeds the classification head) lie from the training faces':
the distance, on L2-normalised features, to the ``k``-th nearest of a seeded
sample of training faces (Sun et al. 2022, "Out-of-distribution detection with
deep nearest neighbors"). The flag threshold is a quantile of the validation
faces' distances, so by construction about 5 % of validation faces are flagged.

Why not the Mahalanobis distance to the training mean, which this module used
first: on the leave-one-generator-out models it flagged fewer wrong verdicts
than flags drawn at random (2.2 % at a 4.7 % flag rate) and none of the missed
unseen fakes, while the neighbour distance flags 15-17 % of wrong verdicts and
a quarter of the missed unseen fakes at the same rate
(``benchmarks/familiarity.py``). A sample of 2,000 training faces with k = 3
flags as well as all of them with k = 10, in a tenth of the memory.

The sample lives in ``NAME.familiarity.npz`` beside the model (plain float16
arrays, read with ``allow_pickle=False``) and the card's ``familiarity``
section names the file, its sha256, the layer, ``k`` and the threshold.
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
    "unit_rows",
]

FEATURE_LAYERS = ("rescale_gap", "gap_features")
"""The pooled-feature layer the head reads, by preference (attention model first, plain GAP second)."""
DEFAULT_QUANTILE = 0.95
DEFAULT_K = 3
DEFAULT_REFERENCE_SIZE = 2000
"""Training faces kept as neighbours: enough to flag as well as all ~10k (see the module docstring)."""
UNFAMILIAR_NOTE = "unreliable: unlike the training faces"
"""How every surface (CLI, pages, reports) words a flagged verdict."""
SUFFIX = ".familiarity.npz"
_CHUNK = 512


@dataclass(frozen=True)
class FamiliaritySpec:
    """The card's ``familiarity`` section: where the reference faces are and how the flag is set.

    ``threshold`` is the neighbour distance above which a face is flagged;
    ``quantile`` the share of validation faces below it; ``validation_flagged``
    the share actually flagged there (ties make it differ slightly); ``k`` which
    neighbour counts; ``n_reference`` how many of the ``n_train`` training faces are kept.
    """

    file: str
    sha256: str
    layer: str
    threshold: float
    quantile: float
    k: int
    n_reference: int
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
                "the card's familiarity section must have exactly the fields " + ", ".join(sorted(names)) + " "
                "(a card from before the neighbour distance: refit with `deepfake-core familiarity`)."
            )
        spec = cls(**data)
        if not (isinstance(spec.threshold, (int, float)) and spec.threshold > 0 and 0 < spec.quantile < 1):
            raise ModelCardError("the card's familiarity threshold must be positive and its quantile in (0, 1).")
        if not (isinstance(spec.k, int) and 1 <= spec.k <= spec.n_reference):
            raise ModelCardError("the card's familiarity k must be a whole number from 1 to n_reference.")
        return spec


@dataclass(frozen=True)
class FamiliarityModel:
    """L2-normalised reference features ``(M, D)`` of training faces, ``k`` and the flag threshold.

    ``reference`` is float32 holding float16 values: the file stores float16 (half the size), and
    a float32 copy in memory keeps each verdict's matrix product fast (converting 2,000 rows per
    call cost several milliseconds).
    """

    reference: np.ndarray
    k: int
    threshold: float
    layer: str

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Distance ``(N,)`` from each L2-normalised feature row ``(N, D)`` to its k-th nearest reference face."""
        query = unit_rows(np.asarray(features, dtype=np.float32))
        result = np.empty(len(query), dtype=np.float64)
        for start in range(0, len(query), _CHUNK):
            similarity = query[start : start + _CHUNK] @ self.reference.T
            kth = -np.partition(-similarity, self.k - 1, axis=1)[:, self.k - 1]
            result[start : start + _CHUNK] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * kth.astype(np.float64)))
        return result

    def flags(self, distances: np.ndarray) -> np.ndarray:
        """True where a face is unlike the training faces."""
        return unfamiliar(distances, self.threshold)


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero): the neighbour distance compares directions."""
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


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
    k: int = DEFAULT_K,
    reference_size: int = DEFAULT_REFERENCE_SIZE,
    seed: int = 0,
) -> FamiliarityModel:
    """Keep a seeded sample of the training features and set the flag threshold on the validation features."""
    train_features = np.asarray(train_features, dtype=np.float32)
    if train_features.ndim != 2 or len(train_features) < k or len(validation_features) < 1:
        raise ValueError(f"fitting needs at least k={k} training and one validation feature rows")
    if len(train_features) > reference_size:
        keep = np.sort(np.random.default_rng(seed).choice(len(train_features), size=reference_size, replace=False))
        train_features = train_features[keep]
    # stored as float16 (half the file); fitted on the stored values, so the threshold matches what loads
    reference = unit_rows(train_features).astype(np.float16).astype(np.float32)
    model = FamiliarityModel(reference=reference, k=k, threshold=1.0, layer=layer)
    threshold = float(np.quantile(model.distances(validation_features), quantile))
    return FamiliarityModel(reference=reference, k=k, threshold=threshold, layer=layer)


def save_familiarity(model: FamiliarityModel, path: str | os.PathLike[str]) -> str:
    """Write the reference faces as a pickle-free ``.npz``; returns the file's sha256 for the card."""
    buffer = io.BytesIO()
    np.savez(buffer, reference=model.reference.astype(np.float16))
    data = buffer.getvalue()
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_familiarity(path: str | os.PathLike[str], spec: FamiliaritySpec) -> FamiliarityModel:
    """Read the reference faces the card names, refusing a missing, changed or malformed file."""
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
            reference = arrays["reference"]
    except (ValueError, KeyError, OSError) as exc:
        raise ModelLoadError(f"{spec.file} is not a familiarity statistics file: {exc}.") from exc
    if reference.ndim != 2 or reference.dtype != np.float16 or len(reference) != spec.n_reference:
        raise ModelLoadError(
            f"{spec.file} holds a {reference.dtype} array of shape {reference.shape}; "
            f"the card expects {spec.n_reference} float16 rows."
        )
    return FamiliarityModel(
        reference=reference.astype(np.float32), k=spec.k, threshold=float(spec.threshold), layer=spec.layer
    )
