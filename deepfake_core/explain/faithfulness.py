"""Does a map point at what the model uses? Blur its top pixels and ask the model again.

A map can look plausible and still have little to do with the decision. The
deletion check hides each explanation's most important pixels (its top 20 %, as
in :mod:`~deepfake_core.explain.compare`) behind a blurred copy of the image and
measures the probability of the explained class again. If the map is faithful,
those pixels carry the evidence, so the probability falls further than when an
area of the same size is hidden at random (smooth random blobs, averaged over a
few seeded draws).

Everything runs at the model's input resolution, as the model sees the image: the
image is resized by the preprocessing contract, the masks by nearest neighbour,
and all hidden copies go through the model in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from deepfake_core.detector import Detector
from deepfake_core.explain.base import Explanation, blurred, top_fraction_mask, upsample_unit_map
from deepfake_core.explain.compare import explanation_names
from deepfake_core.preprocess import resize_square

__all__ = ["DeletionCheck", "deletion_check"]

_RANDOM_BLOB_GRID = 8
"""Random masks are the top pixels of bicubically upsampled 8x8 noise: blobs as coarse as a Grad-CAM map."""


@dataclass(frozen=True)
class DeletionCheck:
    """P(``target_class``) before and after hiding one explanation's top ``fraction`` of pixels.

    ``p_random`` is the mean probability after hiding as many pixels at random;
    ``hidden_share`` is the share of the image actually hidden (LIME's mask holds
    only the superpixels that support the class, so it may be smaller).
    """

    name: str
    target_class: str
    fraction: float
    hidden_share: float
    p_before: float
    p_after: float
    p_random: float

    @property
    def drop(self) -> float:
        """How much hiding the map's top pixels lowers the probability (positive = they carried evidence)."""
        return self.p_before - self.p_after

    @property
    def random_drop(self) -> float:
        """The same for random areas of the same size: the bar a faithful map should clear."""
        return self.p_before - self.p_random

    def to_dict(self) -> dict[str, float | str]:
        return {**asdict(self), "drop": self.drop, "random_drop": self.random_drop}


def deletion_check(
    detector: Detector,
    image: np.ndarray,
    explanations: Sequence[Explanation],
    *,
    fraction: float = 0.2,
    random_draws: int = 8,
    seed: int = 0,
) -> list[DeletionCheck]:
    """One :class:`DeletionCheck` per explanation of ``image`` (an RGB ``uint8`` array).

    Explanations of another image (by shape) raise ``ValueError``; so does a
    ``random_draws`` below 1.
    """
    if random_draws < 1:
        raise ValueError(f"random_draws must be at least 1, got {random_draws}")
    for explanation in explanations:
        if explanation.heatmap.shape != image.shape[:2]:
            raise ValueError(
                f"an explanation of shape {explanation.heatmap.shape} does not fit the image {image.shape}"
            )
    if not explanations:
        return []
    size = detector.card.input_size
    small = resize_square(image, size)
    hidden = blurred(small)
    rng = np.random.default_rng(seed)
    masks, copies = [], [small]
    for explanation in explanations:
        mask = _model_sized(top_fraction_mask(explanation.heatmap, fraction), size)
        randoms = [_random_blobs(rng, size, int(mask.sum())) for _ in range(random_draws)]
        masks.append(mask)
        copies.extend(np.where(m[..., np.newaxis], hidden, small) for m in (mask, *randoms))
    probabilities = detector.probabilities(detector.prepare(copies))
    per_explanation = 1 + random_draws
    checks = []
    for index, (name, explanation, mask) in enumerate(
        zip(explanation_names(explanations), explanations, masks, strict=True)
    ):
        rows = probabilities[1 + index * per_explanation : 1 + (index + 1) * per_explanation, explanation.target_index]
        checks.append(
            DeletionCheck(
                name=name,
                target_class=explanation.target_class,
                fraction=fraction,
                hidden_share=float(mask.mean()),
                p_before=float(probabilities[0, explanation.target_index]),
                p_after=float(rows[0]),
                p_random=float(rows[1:].mean()),
            )
        )
    return checks


def _model_sized(mask: np.ndarray, size: int) -> np.ndarray:
    """A full-resolution boolean mask resized (nearest neighbour) to the model's ``size x size`` input."""
    return cv2.resize(mask.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)


def _random_blobs(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` pixels of a ``size x size`` mask chosen as the top of smooth random noise (contiguous blobs)."""
    noise = upsample_unit_map(rng.uniform(0.0, 1.0, (_RANDOM_BLOB_GRID, _RANDOM_BLOB_GRID)), (size, size))
    order = np.argsort(noise, axis=None, kind="stable")[::-1]
    mask = np.zeros(size * size, dtype=bool)
    mask[order[:count]] = True
    return mask.reshape(size, size)
