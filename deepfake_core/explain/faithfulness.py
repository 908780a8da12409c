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
and all hidden copies go through the model in one batch. What is reported is what
was done: ``hidden_share`` is the share of the model's input actually blurred
(the nominal fraction only picks the pixels: ties, LIME's whole superpixels and
maps without enough positive values make it differ), and the random areas have
exactly that many pixels.

A map **passes** when hiding its pixels lowers the probability more than hiding
each one of the random areas does, and by at least :data:`MIN_DROP`; otherwise
it did no better than chance at finding what the model used on this image.
:func:`deletion_summary` says so in words built from the same numbers as the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

from deepfake_core.detector import Detector
from deepfake_core.explain.base import Explanation, blurred, top_fraction_mask, upsample_unit_map
from deepfake_core.explain.compare import explanation_names
from deepfake_core.preprocess import resize_square

__all__ = ["MIN_DROP", "DeletionCheck", "deletion_check", "deletion_summary"]

MIN_DROP = 0.01
"""A map must lower the probability by at least this much to pass: smaller changes are noise, not evidence."""

Outcome = Literal["pass", "fail", "nothing hidden"]

_RANDOM_BLOB_GRID = 8
"""Random masks are the top pixels of bicubically upsampled 8x8 noise: blobs as coarse as a Grad-CAM map."""


@dataclass(frozen=True)
class DeletionCheck:
    """P(``target_class``) before and after hiding one explanation's top ``fraction`` of pixels.

    ``fraction`` is the nominal share asked for; ``hidden_share`` is the share of
    the model's input actually hidden (LIME's mask holds only the superpixels that
    support the class, ties are kept whole, so it differs). ``p_random_draws``
    are the probabilities after hiding as many pixels in random areas, one per
    draw; ``p_random`` is their mean.
    """

    name: str
    target_class: str
    fraction: float
    hidden_share: float
    p_before: float
    p_after: float
    p_random: float
    p_random_draws: tuple[float, ...] = ()

    @property
    def random_beaten(self) -> int:
        """How many random areas of the same size lowered the probability less than the map's pixels did."""
        return sum(1 for p in self.p_random_draws if self.p_after < p)

    @property
    def outcome(self) -> Outcome:
        """``"pass"``: a larger drop than every random area and at least :data:`MIN_DROP`; ``"fail"`` otherwise.

        ``"nothing hidden"`` when the map marks no pixel (e.g. LIME with no
        superpixel supporting the class, or an all-zero Grad-CAM).
        """
        if self.hidden_share == 0.0:
            return "nothing hidden"
        beats_all = self.random_beaten == len(self.p_random_draws) > 0
        return "pass" if beats_all and self.drop >= MIN_DROP else "fail"

    @property
    def drop(self) -> float:
        """How much hiding the map's top pixels lowers the probability (positive = they carried evidence)."""
        return self.p_before - self.p_after

    @property
    def random_drop(self) -> float:
        """The same for random areas of the same size: the bar a faithful map should clear."""
        return self.p_before - self.p_random

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, with the derived drops and the outcome."""
        return {
            **asdict(self),
            "p_random_draws": list(self.p_random_draws),
            "drop": self.drop,
            "random_drop": self.random_drop,
            "random_beaten": self.random_beaten,
            "outcome": self.outcome,
        }


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

    ``image`` is the image explained: the one the maps were computed from (its
    full size, so the probabilities are the verdict's) or their working copy.
    Explanations of another image (by shape) raise ``ValueError``; so does a
    ``random_draws`` below 1.
    """
    if random_draws < 1:
        raise ValueError(f"random_draws must be at least 1, got {random_draws}")
    for explanation in explanations:
        if image.shape[:2] not in (explanation.heatmap.shape, explanation.source_shape):
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
                p_random_draws=tuple(float(p) for p in rows[1:]),
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


def deletion_summary(checks: Sequence[DeletionCheck]) -> str:
    """What the deletion-check table shows and how to read it, in words built from the checks themselves.

    The caption under a table must not promise "20 %" when LIME hid 7 %: the
    shares, the number of random draws and the pass rule quoted here are the
    table's own numbers.
    """
    if not checks:
        return "No map to check."
    fractions = sorted({check.fraction for check in checks})
    draws = sorted({len(check.p_random_draws) for check in checks})
    shares = [check.hidden_share for check in checks]
    nominal = " / ".join(f"{fraction:.0%}" for fraction in fractions)
    actual = f"{min(shares):.1%}" if min(shares) == max(shares) else f"{min(shares):.1%} to {max(shares):.1%}"
    passed = sum(check.outcome == "pass" for check in checks)
    draw_text = " / ".join(str(count) for count in draws)
    return (
        f"Each map's top-ranked pixels (nominally {nominal}; actually {actual} of the image, see 'hidden') are "
        "replaced by a blurred copy and the model is asked again; the same number of pixels is then blurred in "
        f"{draw_text} random areas. A map passes when hiding its pixels lowers P(class) more than every random area "
        f"does, and by at least {MIN_DROP:g}: it found pixels the model uses on this image. Fail means it did no "
        f"better than chance, so its picture should not be trusted here. {passed} of {len(checks)} passed."
    )
