"""LIME on top of the ``lime`` package, made fast for this detector.

Why it is fast (``lime``'s defaults take minutes on a large photo):

* the image is explained at **the model's input resolution**: a copy is resized
  with the preprocessing contract's own :func:`~deepfake_core.preprocess.resize_square`
  (exactly what the model sees), so segmentation, masking and preprocessing work
  on ``S x S`` pixels instead of the upload's; the superpixel ids are then mapped
  to the map's ``(H, W)`` (the image's, or its working copy's) by nearest
  neighbour, so the map is piecewise-constant on superpixels;
* the perturbed images are built with one vectorised ``numpy.where`` per batch
  (``lime`` loops over superpixels per sample) and classified in batches of 32
  through ``detector.probabilities(detector.prepare(images))``: the one contract,
  and the Detector's traced forward pass instead of ``model.predict``. At the
  model's input size this step is cheap either way: given the same image, size,
  segments and seed, ``lime`` and this class return the same weights in about
  the same time, as the model calls dominate (``benchmarks/explain.py``).

Everything else is ``lime``'s: :class:`lime.lime_image.LimeImageExplainer` draws
the on/off samples, weighs them with its kernel and fits the ridge surrogate.
Its ``hide_color`` takes a constant, or (as ``fudged_image[:] = hide_color``
broadcasts) a whole replacement image, which is how "blur" is passed; ``None``
is ``lime``'s own per-superpixel mean.

One ``seed`` makes the result reproducible: it seeds the sampler and the
quickshift segmentation (SLIC and Felzenszwalb are deterministic). With
``seed=None`` a seed is drawn and recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from lime.lime_image import LimeImageExplainer
from skimage.segmentation import felzenszwalb, quickshift, slic

from deepfake_core.errors import ExplanationError
from deepfake_core.explain.base import ExplainContext, MapResult, ProgressCallback, blurred
from deepfake_core.explain.defaults import HIDE_MODES, SEGMENTATIONS
from deepfake_core.preprocess import resize_square

__all__ = ["lime_map", "segment"]

_SEGMENTERS: Mapping[str, Callable[..., np.ndarray]] = MappingProxyType(
    {
        "quickshift": lambda image, seed, **params: quickshift(image, rng=seed, **params),
        "slic": lambda image, seed, **params: slic(image, start_label=0, **params),
        "felzenszwalb": lambda image, seed, **params: felzenszwalb(image, **params),
    }
)


class _BatchedLimeImageExplainer(LimeImageExplainer):
    """``LimeImageExplainer`` whose neighbourhood is built batch-wise with numpy and reports progress.

    Draws the same on/off matrix as ``lime`` (same random calls, first row all on)
    and needs superpixel ids ``0..n-1``, as :func:`segment` returns.
    """

    def __init__(self, *, kernel_width: float, seed: int, progress: ProgressCallback | None) -> None:
        super().__init__(kernel_width=kernel_width, feature_selection="none", random_state=seed)
        self._progress = progress

    def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
        """``lime``'s contract: the on/off matrix ``(num_samples, n)`` and the probabilities ``(num_samples, C)``."""
        n_features = np.unique(segments).shape[0]
        data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
        data[0, :] = 1
        switched_on = data.astype(bool)
        labels = []
        for start in range(0, num_samples, batch_size):
            keep = switched_on[start : start + batch_size][:, segments][..., np.newaxis]
            labels.append(classifier_fn(np.where(keep, image, fudged_image)))
            if self._progress is not None:
                self._progress(start + len(keep), num_samples)
        return data, np.concatenate(labels)


def segment(image: np.ndarray, algorithm: str, params: Mapping[str, Any], seed: int) -> np.ndarray:
    """Superpixels of an RGB ``uint8 (S, S, 3)`` image as ``int32 (S, S)`` ids numbered ``0..n-1``."""
    labels = _SEGMENTERS[algorithm](image, seed, **params)
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape).astype(np.int32)


def lime_map(
    context: ExplainContext,
    *,
    num_samples: int,
    segmentation: str,
    segmentation_params: Mapping[str, Any] | None,
    hide: str,
    num_features: int | None,
    positive_only: bool,
    kernel_width: float,
    batch_size: int | None,
    seed: int | None,
) -> MapResult:
    """LIME weights of superpixels for ``context.target_index``, as a signed ``(H, W)`` map (see module docs).

    The surrogate explains the calibrated probability of the class
    (``detector.probabilities``), the number the dashboard shows.
    """
    detector = context.detector
    batch_size = detector.batch_size if batch_size is None else batch_size
    _check_counts(num_samples=num_samples, batch_size=batch_size, num_features=num_features)
    seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else int(seed)
    segmentation_params = _segmentation_params(segmentation, segmentation_params)
    small = resize_square(context.image, detector.card.input_size)
    segments = segment(small, segmentation, segmentation_params, seed)
    explainer = _BatchedLimeImageExplainer(kernel_width=kernel_width, seed=seed, progress=context.progress)
    surrogate = explainer.explain_instance(
        small,
        lambda images: detector.probabilities(detector.prepare(images)),
        labels=(context.target_index,),
        hide_color=_hide_color(small, hide),
        top_labels=None,
        num_samples=num_samples,
        batch_size=batch_size,
        segmentation_fn=lambda _: segments,
        random_seed=seed,
    )
    weights = tuple((int(index), float(weight)) for index, weight in surrogate.local_exp[context.target_index])
    full_segments = _nearest_resize(segments, context.map_shape)
    shown = _shown_weights(weights, int(segments.max()) + 1, num_features=num_features, positive_only=positive_only)
    return MapResult(
        heatmap=shown[full_segments],
        signed=True,
        meaning=(
            f"signed LIME weight of each superpixel: > 0 supports '{context.target_class}', < 0 speaks against it, "
            "0 = not among the superpixels shown"
        ),
        params={
            "num_samples": int(num_samples),
            "segmentation": segmentation,
            "segmentation_params": segmentation_params,
            "hide": hide,
            "num_features": num_features,
            "positive_only": bool(positive_only),
            "kernel_width": float(kernel_width),
            "batch_size": int(batch_size),
            "seed": seed,
        },
        details={
            "explained_size": list(small.shape[:2]),
            "num_superpixels": len(weights),
            "surrogate_r2": float(surrogate.score),
            "surrogate_intercept": float(surrogate.intercept[context.target_index]),
            "surrogate_prediction": float(np.ravel(surrogate.local_pred)[0]),
        },
        segments=full_segments,
        superpixel_weights=weights,
    )


def _check_counts(*, num_samples: int, batch_size: int, num_features: int | None) -> None:
    if num_samples < 2:
        raise ExplanationError(f"LIME needs at least 2 samples (num_samples), got {num_samples}.")
    if batch_size < 1:
        raise ExplanationError(f"batch_size must be at least 1, got {batch_size}.")
    if num_features is not None and num_features < 1:
        raise ExplanationError(f"num_features must be at least 1 (or None for all superpixels), got {num_features}.")


def _segmentation_params(algorithm: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The algorithm's defaults updated with ``overrides``; unknown algorithms or names raise ExplanationError."""
    if algorithm not in SEGMENTATIONS:
        raise ExplanationError(f"Unknown segmentation {algorithm!r}: choose one of {sorted(SEGMENTATIONS)}.")
    defaults = SEGMENTATIONS[algorithm]
    unknown = sorted(set(overrides or {}) - set(defaults))
    if unknown:
        raise ExplanationError(f"{algorithm} has no parameter(s) {', '.join(unknown)}; it takes {', '.join(defaults)}.")
    return {**defaults, **(overrides or {})}


def _hide_color(image: np.ndarray, hide: str) -> np.ndarray | int | None:
    """``lime``'s ``hide_color`` for a hide mode: ``None`` (lime's superpixel mean), ``0`` or a blurred image."""
    if hide == "mean":
        return None
    if hide == "black":
        return 0
    if hide == "blur":
        return blurred(image)
    raise ExplanationError(f"Unknown hide mode {hide!r}: choose one of {HIDE_MODES}.")


def _nearest_resize(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an id map to ``shape`` (pixel centres mapped to the source grid)."""
    rows, cols = (
        np.minimum(((np.arange(out) + 0.5) * size / out).astype(np.intp), size - 1)
        for out, size in zip(shape, labels.shape, strict=True)
    )
    return labels[rows[:, np.newaxis], cols[np.newaxis, :]]


def _shown_weights(
    weights: tuple[tuple[int, float], ...], count: int, *, num_features: int | None, positive_only: bool
) -> np.ndarray:
    """``float32 (count,)`` weight per superpixel id, zero for those not shown.

    ``weights`` come sorted by decreasing ``|weight|`` (``lime``'s order), so the
    first ``num_features`` kept are the strongest, as in ``get_image_and_mask``.
    """
    kept = [(index, weight) for index, weight in weights if weight > 0 or not positive_only]
    per_segment = np.zeros(count, dtype=np.float32)
    for index, weight in kept[:num_features]:
        per_segment[index] = weight
    return per_segment
