"""What every explainer returns, and the small pieces all of them share.

An :class:`Explanation` is a map of the **image's** resolution ``(H, W)`` (or of
its working copy, long side at most :data:`WORKING_SIDE`, for larger images) plus
everything needed to reproduce it (method, target class, parameters, seed,
image hash, model id, threshold). Computing is kept apart from drawing
(:mod:`deepfake_core.explain.drawing`), as in ``lime``'s ``ImageExplanation``.

Value conventions of ``heatmap`` (``Explanation.signed`` tells which applies):

* unsigned maps (attention, Grad-CAM, Grad-CAM++): ``float32`` in ``0..1``,
  1 = most important;
* signed maps (LIME): the surrogate's weight of each superpixel for the target
  class, ``> 0`` supports the class, ``< 0`` speaks against it, ``0`` for
  superpixels that are not shown (see LIME's ``num_features``).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Generic, Literal, TypeVar

import cv2
import keras
import numpy as np

from deepfake_core.detector import Detector, Prediction, ProgressCallback
from deepfake_core.errors import ExplanationError
from deepfake_core.faces import align
from deepfake_core.wording import format_probability

__all__ = [
    "EXPLANATION_FORMAT",
    "EXPLANATION_FORMAT_VERSION",
    "SATURATION_TOLERANCE",
    "WORKING_SIDE",
    "ExplainContext",
    "Explanation",
    "MapResult",
    "ModelCache",
    "ProgressCallback",
    "at_threshold",
    "blurred",
    "mirror_folded",
    "pixels_sha256",
    "prepared_views",
    "resolve_target",
    "saturation_caveat",
    "top_fraction_mask",
    "upsample_unit_map",
    "working_image",
    "working_shape",
]

EXPLANATION_FORMAT = "deepfake-lens/explanation"
EXPLANATION_FORMAT_VERSION = 2
"""Version 2 added ``threshold``, ``card_threshold``, ``source_shape`` and ``caveat``."""

WORKING_SIDE = 1024
"""Longest side (pixels) of the maps of a whole image: larger photos are explained on a shrunk working copy.

The model sees an ``S x S`` input whatever the photo's size, so a map finer than
this shows no more of what the model used; it only costs memory (a float map and
LIME's ids of a 24 Mpx photo take ~200 MB).
"""

SATURATION_TOLERANCE = 1e-3
"""A probability this close to 0 or 1 is saturated: maps of that class say little (see :func:`saturation_caveat`)."""

ShaSource = Literal["upload", "pixels"]
_T = TypeVar("_T")


@dataclass(frozen=True, eq=False)
class Explanation:
    """One map explaining one image's verdict, and how it was made.

    ``heatmap`` is ``float32 (H, W)`` at the explained image's resolution (read-only;
    see the module docstring for ranges and signs). ``image_sha256`` is the raw
    upload's hash when the caller passed it (``image_sha256_source == "upload"``,
    the same value :func:`deepfake_core.intake.image_sha256` gives for the file),
    otherwise a hash of the decoded pixels and shape (``"pixels"``). ``verdict`` is
    :meth:`deepfake_core.detector.Prediction.to_dict` of the image. LIME also sets
    ``segments`` (``int32 (H, W)`` superpixel ids at image resolution) and
    ``superpixel_weights`` (``(segment id, weight)`` for every superpixel, by
    decreasing ``|weight|``).
    """

    heatmap: np.ndarray
    method: str
    target_class: str
    target_index: int
    params: Mapping[str, Any]
    image_sha256: str
    image_sha256_source: ShaSource
    model_id: str
    verdict: Mapping[str, Any]
    seconds: float
    signed: bool
    meaning: str
    details: Mapping[str, Any] = field(default_factory=dict)
    segments: np.ndarray | None = None
    superpixel_weights: tuple[tuple[int, float], ...] | None = None
    threshold: float | None = None
    card_threshold: float | None = None
    source_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # Shared between sessions and cached: nobody may change a map in place (the arrays are made read-only).
        self.heatmap.setflags(write=False)
        if self.segments is not None:
            self.segments.setflags(write=False)

    @property
    def seed(self) -> int | None:
        """The seed that reproduces this map (``None`` for deterministic methods)."""
        return self.params.get("seed")

    @property
    def target_probability(self) -> float | None:
        """The calibrated probability of the explained class on this image (``None`` if the verdict lacks it)."""
        value = dict(self.verdict.get("probabilities") or {}).get(self.target_class)
        return None if value is None else float(value)

    @property
    def caveat(self) -> str | None:
        """Why this map says little, when the explained class's probability is saturated (else ``None``)."""
        probability = self.target_probability
        return None if probability is None else saturation_caveat(probability, self.target_class)

    def top_fraction_mask(self, fraction: float = 0.2) -> np.ndarray:
        """Boolean ``(H, W)`` mask of the most important ``fraction`` of pixels (see :func:`top_fraction_mask`)."""
        return top_fraction_mask(self.heatmap, fraction)

    def to_json_dict(self) -> dict[str, Any]:
        """Everything but the big arrays, as JSON-ready values (the dashboard's download and the CLI's file)."""
        weights = self.superpixel_weights
        return {
            "format": EXPLANATION_FORMAT,
            "format_version": EXPLANATION_FORMAT_VERSION,
            "method": self.method,
            "target_class": self.target_class,
            "target_index": self.target_index,
            "seed": self.seed,
            "params": dict(self.params),
            "image_sha256": self.image_sha256,
            "image_sha256_source": self.image_sha256_source,
            "image_shape": list(self.heatmap.shape),
            "source_shape": None if self.source_shape is None else list(self.source_shape),
            "model_id": self.model_id,
            "threshold": self.threshold,
            "card_threshold": self.card_threshold,
            "verdict": dict(self.verdict),
            "caveat": self.caveat,
            "seconds": self.seconds,
            "signed": self.signed,
            "meaning": self.meaning,
            "value_range": [float(self.heatmap.min()), float(self.heatmap.max())],
            "details": dict(self.details),
            "superpixel_weights": None if weights is None else [[int(i), float(w)] for i, w in weights],
        }


@dataclass(frozen=True)
class ExplainContext:
    """What a method needs: the detector, the RGB ``uint8`` image, the class to explain and the map's size.

    ``image`` is what the model judges (any size; the model sees ``resize_square(image, S)``,
    and :func:`~deepfake_core.explain.registry.explain` passes exactly that ``S x S`` view).
    ``shape`` is the ``(H, W)`` the map must have: the image's own unless a working copy
    is smaller; ``None`` means ``image.shape[:2]``.
    """

    detector: Detector
    image: np.ndarray
    target_index: int
    target_class: str
    progress: ProgressCallback | None = None
    shape: tuple[int, int] | None = None

    @property
    def map_shape(self) -> tuple[int, int]:
        """The ``(H, W)`` of the map to return."""
        return self.shape if self.shape is not None else (int(self.image.shape[0]), int(self.image.shape[1]))


@dataclass(frozen=True, eq=False)
class MapResult:
    """A method's output before the dispatcher adds provenance; ``params`` are the values actually used."""

    heatmap: np.ndarray
    signed: bool
    meaning: str
    params: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    segments: np.ndarray | None = None
    superpixel_weights: tuple[tuple[int, float], ...] | None = None


class ModelCache(Generic[_T]):
    """One value (a sub-model, a traced function) per Keras model, built once even under concurrent calls.

    Keys are held weakly, so unloading a model frees its entry. The lock is held
    while building: two sessions asking at once trace the function only once.
    A build that raises stores nothing, so the error repeats for the next caller.
    """

    def __init__(self, build: Callable[[keras.Model], _T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._values: weakref.WeakKeyDictionary[keras.Model, _T] = weakref.WeakKeyDictionary()

    def get(self, model: keras.Model) -> _T:
        with self._lock:
            if model not in self._values:
                self._values[model] = self._build(model)
            return self._values[model]


def working_shape(shape: Sequence[int], max_side: int | None = WORKING_SIDE) -> tuple[int, int]:
    """The ``(H, W)`` of an explanation's working copy (:func:`deepfake_core.faces.align.working_shape`).

    ``max_side=None`` keeps the size.
    """
    return align.working_shape(shape, max_side)


def working_image(image: np.ndarray, max_side: int | None = WORKING_SIDE) -> np.ndarray:
    """``image`` shrunk (area interpolation) to :func:`working_shape`: what the maps of it are drawn on."""
    return align.working_copy(image, max_side)[0]


def saturation_caveat(probability: float, target_class: str, *, tolerance: float = SATURATION_TOLERANCE) -> str | None:
    """A plain warning when P(``target_class``) is within ``tolerance`` of 0 or 1, else ``None``.

    A saturated probability hardly moves when pixels change: gradients of it
    vanish, LIME's weights (fitted to it) come out near zero and are mostly
    sampling noise, and hiding pixels cannot lower it visibly. The maps still get
    drawn, scaled to their own largest value, so they look as confident as any
    other: hence the warning.
    """
    shown = f"P({target_class}) {format_probability(probability)}"
    if probability >= 1.0 - tolerance:
        situation = f"{shown} is within {tolerance:g} of 1: the model is saturated on '{target_class}'."
    elif probability <= tolerance:
        situation = f"{shown} is within {tolerance:g} of 0: you are explaining a class the model all but rules out."
    else:
        return None
    return (
        f"{situation} The probability then barely changes when pixels change, so gradients vanish, LIME's weights "
        "are near zero (mostly sampling noise) and the deletion check cannot show a drop. These maps are "
        "uninformative here, however clear they look."
    )


def at_threshold(explanation: Explanation, detector: Detector, threshold: float) -> Explanation:
    """``explanation`` with its verdict judged again at ``threshold`` (no model call; the map is shared).

    A page caches maps and lets the threshold move: the record must hold the
    threshold of the verdict it shows, not the one of the moment the map was computed.
    """
    names = [item.name for item in fields(Prediction)]
    verdict = Prediction(**{name: explanation.verdict[name] for name in names if name in explanation.verdict})
    prediction = detector.at_threshold(verdict, threshold)
    return replace(explanation, verdict=prediction.to_dict(), threshold=float(threshold))


def pixels_sha256(image: np.ndarray) -> str:
    """Hex sha256 of an image's shape and pixel bytes (used when the upload's own hash is not known)."""
    header = "x".join(str(side) for side in image.shape).encode("ascii") + b"|" + str(image.dtype).encode("ascii")
    return hashlib.sha256(header + np.ascontiguousarray(image).tobytes()).hexdigest()


def resolve_target(labels: Sequence[str], target: str | int | None, predicted: str) -> int:
    """The output index to explain: a label name (any case), an index, or ``None`` for the predicted label."""
    if target is None:
        return list(labels).index(predicted)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if 0 <= target < len(labels):
            return int(target)
    elif isinstance(target, str):
        folded = [label.casefold() for label in labels]
        if target.casefold() in folded:
            return folded.index(target.casefold())
        if target.isdigit() and int(target) < len(labels):
            return int(target)
    raise ExplanationError(f"Unknown target class {target!r}: choose one of {list(labels)} (or its index).")


def top_fraction_mask(heatmap: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """Boolean mask of the ``fraction`` of pixels with the highest values, counting only values ``> 0``.

    Pixels tied with the cut-off value are all included, so a piecewise-constant
    LIME map keeps whole superpixels (the mask may exceed ``fraction``). Only
    positive values count as evidence for the target class, so a signed map uses
    its positive weights and an all-zero map gives an empty mask.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    values = np.asarray(heatmap).ravel()
    count = max(1, round(fraction * values.size))
    cutoff = np.partition(values, values.size - count)[values.size - count]
    return (heatmap >= cutoff) & (heatmap > 0)


def prepared_views(detector: Detector, images: Sequence[np.ndarray]) -> np.ndarray:
    """The prepared batch of ``images`` ``(N, S, S, 3)``, followed by its left-right mirror
    when the card averages over the mirror (``(2N, S, S, 3)``): the views the verdict averages."""
    batch = detector.prepare(images)
    return np.concatenate([batch, batch[:, :, ::-1]]) if detector.card.mirror_average else batch


def mirror_folded(maps: np.ndarray, detector: Detector) -> np.ndarray:
    """Maps ``(V*N, h, w)`` of :func:`prepared_views` -> ``(N, h, w)``.

    With the card's ``mirror_average``, each image's map is the mean of its own map and
    its mirror's map mirrored back, as its verdict is the mean of the two passes.
    """
    maps = np.asarray(maps)
    if not detector.card.mirror_average:
        return maps
    count = len(maps) // 2
    return (maps[:count] + maps[count:, :, ::-1]) / 2


def upsample_unit_map(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a coarse ``(h, w)`` map in ``0..1`` smoothly to ``shape = (H, W)``: bicubic, clipped to ``0..1``.

    The coarse map covers the whole stretched model input, so resizing it straight
    to the image's size undoes the stretch of the preprocessing contract.
    """
    resized = cv2.resize(np.asarray(values, dtype=np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(resized, 0.0, 1.0).reshape(shape)


BLUR_SIGMA_FRACTION = 1 / 16
"""Gaussian sigma of the blur that hides pixels, as a fraction of the image side (8 px at 128 px)."""


def blurred(image: np.ndarray) -> np.ndarray:
    """A Gaussian-blurred copy of a square ``uint8`` image: what "hidden" pixels show.

    LIME's "blur" hide mode and the deletion check hide pixels the same way: the
    blur keeps colours and layout but removes the fine detail generator artefacts live in.
    """
    return cv2.GaussianBlur(image, (0, 0), sigmaX=max(1.0, image.shape[0] * BLUR_SIGMA_FRACTION))
