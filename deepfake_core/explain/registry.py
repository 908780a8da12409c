"""One entry point for every method, and the registry the Explain page builds its controls from.

``explain(detector, image, method=..., **params)`` validates the image, computes
the verdict, resolves the class to explain (default: the predicted one), runs
the method and wraps its map in an :class:`~deepfake_core.explain.base.Explanation`
with the provenance (parameters actually used, seed, image hash, model id,
threshold, time). ``explain_batch`` does the same for many images, in batches
where the method allows.

Bounded work: the model only ever sees ``resize_square(image, S)``, so that
``S x S`` view is all a method is given, and the map is returned at the working
size (:func:`~deepfake_core.explain.base.working_shape`, long side at most
:data:`~deepfake_core.explain.base.WORKING_SIDE`). The verdict is the one
``detector.predict(image)`` gives, since the view is exactly what it feeds the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np

from deepfake_core.detector import Detector, Prediction
from deepfake_core.errors import ExplanationError
from deepfake_core.explain.attention import attention_map, attention_results
from deepfake_core.explain.base import (
    WORKING_SIDE,
    ExplainContext,
    Explanation,
    MapResult,
    ProgressCallback,
    pixels_sha256,
    resolve_target,
    working_shape,
)
from deepfake_core.explain.defaults import HIDE_MODES, LIME_DEFAULTS, SEGMENTATIONS
from deepfake_core.explain.gradcam import gradcam_map
from deepfake_core.explain.lime_explainer import lime_map
from deepfake_core.preprocess import resize_square

__all__ = ["METHODS", "MethodSpec", "explain", "explain_batch"]


@dataclass(frozen=True)
class MethodSpec:
    """An explanation method: how to present it and run it.

    ``defaults`` names every parameter ``compute`` takes, with its default;
    ``choices`` lists the allowed values of the categorical ones. ``compute_batch``
    (images, map shapes -> one result each) is set for methods that take no
    parameters and do not depend on the class, so many images can share each model call.
    """

    name: str
    title: str
    summary: str
    compute: Callable[..., MapResult]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    class_specific: bool = True
    compute_batch: Callable[[Detector, Sequence[np.ndarray], Sequence[tuple[int, int]]], list[MapResult]] | None = None


METHODS: Mapping[str, MethodSpec] = MappingProxyType(
    {
        "lime": MethodSpec(
            name="lime",
            title="LIME",
            summary="Switches superpixels off at random and fits a linear model of the class probability "
            "to them: which regions push the verdict towards or away from the class.",
            compute=lime_map,
            defaults=LIME_DEFAULTS,
            choices=MappingProxyType({"segmentation": tuple(SEGMENTATIONS), "hide": HIDE_MODES}),
        ),
        "attention": MethodSpec(
            name="attention",
            title="Attention mask",
            summary="The model's own attention layer: where it pools its features from (same for every class).",
            compute=attention_map,
            class_specific=False,
            compute_batch=attention_results,
        ),
        "gradcam": MethodSpec(
            name="gradcam",
            title="Grad-CAM",
            summary="Backbone feature maps weighted by the mean gradient of the class logit.",
            compute=partial(gradcam_map, plus_plus=False),
        ),
        "gradcam++": MethodSpec(
            name="gradcam++",
            title="Grad-CAM++",
            summary="Grad-CAM with per-pixel gradient weights: sharper when several regions carry evidence.",
            compute=partial(gradcam_map, plus_plus=True),
        ),
    }
)
"""The methods by name. Their parameters and defaults are ``METHODS[name].defaults``."""


def explain(
    detector: Detector,
    image: np.ndarray,
    *,
    method: str,
    target_class: str | int | None = None,
    image_sha256: str | None = None,
    progress: ProgressCallback | None = None,
    threshold: float | None = None,
    max_side: int | None = WORKING_SIDE,
    **params: Any,
) -> Explanation:
    """Explain ``detector``'s verdict on one RGB ``uint8 (H, W, 3)`` image with ``method``.

    ``target_class`` is a label name, an output index, or ``None`` for the predicted
    label (judged at ``threshold``, default the card's, which the record keeps).
    ``image_sha256`` should be the raw upload's hash
    (:func:`deepfake_core.intake.image_sha256`) when known; otherwise the pixels
    are hashed. The map has the image's size, or the working size when its long
    side exceeds ``max_side`` (``None``: always the image's size). ``params``
    override ``METHODS[method].defaults``. Unknown methods, parameters or classes
    and bad values raise :class:`ExplanationError`.
    """
    spec = _spec(method)
    _check_image(image)
    _check_params(spec, params)
    started = time.perf_counter()
    view = resize_square(image, detector.card.input_size)  # all the model sees of the image
    prediction = detector.predict(view, threshold=threshold)
    target_index = resolve_target(detector.card.labels, target_class, prediction.label)
    shape = working_shape(image.shape, max_side)
    context = ExplainContext(detector, view, target_index, detector.card.labels[target_index], progress, shape)
    result = spec.compute(context, **{**spec.defaults, **params})
    return _explanation(
        spec, detector, image, prediction, target_index, result, image_sha256, time.perf_counter() - started
    )


def explain_batch(
    detector: Detector,
    images: Sequence[np.ndarray],
    *,
    method: str,
    target_class: str | int | None = None,
    image_sha256s: Sequence[str | None] | None = None,
    progress: ProgressCallback | None = None,
    threshold: float | None = None,
    max_side: int | None = WORKING_SIDE,
    **params: Any,
) -> list[Explanation]:
    """:func:`explain` for each of ``images``, with the same method, class, threshold and parameters.

    Methods with ``compute_batch`` (the attention mask) classify and explain the
    images in shared model calls, and each explanation's ``seconds`` is its share
    of the batch's time; the others run :func:`explain` image by image.
    ``image_sha256s`` gives the raw files' hashes, in order.
    """
    spec = _spec(method)
    hashes = list(image_sha256s) if image_sha256s is not None else [None] * len(images)
    if len(hashes) != len(images):
        raise ValueError(f"got {len(hashes)} image hashes for {len(images)} images")
    if spec.compute_batch is None:
        return [
            explain(
                detector,
                image,
                method=method,
                target_class=target_class,
                image_sha256=sha,
                progress=progress,
                threshold=threshold,
                max_side=max_side,
                **params,
            )
            for image, sha in zip(images, hashes, strict=True)
        ]
    for image in images:
        _check_image(image)
    _check_params(spec, params)
    if not images:
        return []
    started = time.perf_counter()
    views = [resize_square(image, detector.card.input_size) for image in images]
    predictions = detector.predict_batch(views, threshold=threshold)
    targets = [resolve_target(detector.card.labels, target_class, prediction.label) for prediction in predictions]
    results = spec.compute_batch(detector, views, [working_shape(image.shape, max_side) for image in images])
    share = (time.perf_counter() - started) / len(images)
    return [
        _explanation(spec, detector, image, prediction, target, result, sha, share)
        for image, prediction, target, result, sha in zip(images, predictions, targets, results, hashes, strict=True)
    ]


def _explanation(
    spec: MethodSpec,
    detector: Detector,
    image: np.ndarray,
    prediction: Prediction,
    target_index: int,
    result: MapResult,
    image_sha256: str | None,
    seconds: float,
) -> Explanation:
    """Wrap a method's map with its provenance."""
    shape = tuple(int(side) for side in image.shape[:2])
    return Explanation(
        heatmap=np.asarray(result.heatmap, dtype=np.float32),
        method=spec.name,
        target_class=detector.card.labels[target_index],
        target_index=target_index,
        params=dict(result.params),
        image_sha256=image_sha256 or pixels_sha256(image),
        image_sha256_source="upload" if image_sha256 else "pixels",
        model_id=detector.model_id,
        verdict=prediction.to_dict(),
        seconds=seconds,
        signed=result.signed,
        meaning=result.meaning,
        details=dict(result.details),
        segments=result.segments,
        superpixel_weights=result.superpixel_weights,
        threshold=prediction.threshold,
        card_threshold=detector.card.threshold,
        source_shape=shape if shape != result.heatmap.shape else None,
    )


def _check_params(spec: MethodSpec, params: Mapping[str, Any]) -> None:
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        accepted = ", ".join(spec.defaults) or "no parameters"
        raise ExplanationError(f"{spec.title} does not take {', '.join(unknown)} (it takes {accepted}).")


def _spec(method: str) -> MethodSpec:
    try:
        return METHODS[method]
    except KeyError:
        raise ExplanationError(f"Unknown explanation method {method!r}: choose one of {list(METHODS)}.") from None


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        described = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3) as load_image returns, got {described}")
