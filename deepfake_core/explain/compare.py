"""Do the methods point at the same pixels? Pairwise IoU of their most important pixels.

Each explanation is reduced to :func:`~deepfake_core.explain.base.top_fraction_mask`
(its top 20 % by default, positive values only, so LIME contributes the
superpixels that support the target class) and every pair is compared by
intersection over union: 1 = the same pixels, 0 = disjoint.
:func:`comparison_record` puts the agreement and the deletion check of one image's
explanations into one JSON-ready record (the Explain page's "comparison" download).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfake_core.explain.base import Explanation, top_fraction_mask

if TYPE_CHECKING:
    from deepfake_core.explain.faithfulness import DeletionCheck

__all__ = ["COMPARISON_FORMAT", "AgreementTable", "agreement", "comparison_record", "explanation_names", "iou"]

COMPARISON_FORMAT = "deepfake-lens/explanation-comparison"


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape; ``nan`` when both are empty (nothing to compare)."""
    if first.shape != second.shape:
        raise ValueError(f"masks differ in shape: {first.shape} vs {second.shape}")
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else float("nan")


@dataclass(frozen=True, eq=False)
class AgreementTable:
    """Pairwise IoU of ``names``' top-``fraction`` masks; ``matrix[i, j]`` compares names ``i`` and ``j``."""

    names: tuple[str, ...]
    fraction: float
    matrix: np.ndarray

    def rows(self) -> list[dict[str, Any]]:
        """One row per pair, for a table: ``{"first", "second", "iou"}`` (``iou`` is ``None`` when undefined)."""
        return [
            {"first": self.names[i], "second": self.names[j], "iou": _finite_or_none(self.matrix[i, j])}
            for i, j in combinations(range(len(self.names)), 2)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``None`` for undefined IoUs)."""
        return {
            "fraction": self.fraction,
            "names": list(self.names),
            "matrix": [[_finite_or_none(value) for value in row] for row in self.matrix],
        }


def agreement(explanations: Sequence[Explanation], *, fraction: float = 0.2) -> AgreementTable:
    """Compare explanations of one image (one per method, or one per method and class).

    Names are the method names, with the target class appended when a method
    appears more than once. Explanations of different images raise ``ValueError``.
    """
    if len({(item.image_sha256, item.heatmap.shape) for item in explanations}) > 1:
        raise ValueError("agreement compares explanations of one image; these were computed for different images")
    names = explanation_names(explanations)
    masks = [top_fraction_mask(item.heatmap, fraction) for item in explanations]
    matrix = np.array([[iou(first, second) for second in masks] for first in masks], dtype=float)
    return AgreementTable(names=names, fraction=fraction, matrix=matrix.reshape(len(masks), len(masks)))


def comparison_record(
    explanations: Sequence[Explanation], checks: Sequence[DeletionCheck], table: AgreementTable | None
) -> dict[str, Any]:
    """One image's explanations compared: ``agreement(explanations)`` and their deletion checks, JSON-ready.

    ``table`` is the agreement the caller already computed and showed (``None`` for
    a single map), so the masks are not ranked again. Each explanation's own record
    (``Explanation.to_json_dict``) holds how it was made; this one names them by
    method and class, as the tables do.
    """
    if not explanations:
        raise ValueError("comparison_record needs at least one explanation")
    names = explanation_names(explanations)
    if table is not None and table.names != names:
        raise ValueError(f"the agreement table compares {table.names}, not these explanations {names}")
    first = explanations[0]
    return {
        "format": COMPARISON_FORMAT,
        "format_version": 1,
        "image_sha256": first.image_sha256,
        "model_id": first.model_id,
        "verdict": dict(first.verdict),
        "explanations": [
            {"name": name, "method": item.method, "target_class": item.target_class, "params": dict(item.params)}
            for name, item in zip(names, explanations, strict=True)
        ],
        "agreement": table.to_dict() if table is not None else None,
        "deletion_check": [check.to_dict() for check in checks],
    }


def explanation_names(explanations: Sequence[Explanation]) -> tuple[str, ...]:
    """Table names: the method, with the target class appended when a method appears more than once."""
    methods = [item.method for item in explanations]
    return tuple(
        f"{item.method} ({item.target_class})" if methods.count(item.method) > 1 else item.method
        for item in explanations
    )


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
