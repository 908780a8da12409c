"""Method names and default parameters: plain constants, importable without TensorFlow.

The CLI builds its parser (``deepfake-core --help`` must be instant) and the
Explain page its controls from these; the explainers read their defaults here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["HIDE_MODES", "LIME_DEFAULTS", "METHOD_NAMES", "SEGMENTATIONS"]

METHOD_NAMES: tuple[str, ...] = ("lime", "attention", "gradcam", "gradcam++")
"""Every explanation method, in the order a page should offer them."""

SEGMENTATIONS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # lime's quickshift defaults, but kernel_size 2 instead of 4: LIME runs at the model's input size
        # (128 px), where kernel 4 leaves ~17 superpixels on a face and kernel 2 ~40, as kernel 4 gives at 256 px.
        "quickshift": MappingProxyType({"kernel_size": 2, "max_dist": 200, "ratio": 0.2}),
        "slic": MappingProxyType({"n_segments": 50, "compactness": 10.0, "sigma": 1.0}),
        "felzenszwalb": MappingProxyType({"scale": 100.0, "sigma": 0.5, "min_size": 50}),
    }
)
"""LIME's segmentation algorithms and the defaults of their main parameters (the ones that may be set)."""

HIDE_MODES: tuple[str, ...] = ("mean", "black", "blur")
"""What a switched-off superpixel shows: its mean colour, black, or a Gaussian-blurred copy of the image."""

LIME_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "num_samples": 1000,
        "segmentation": "quickshift",
        "segmentation_params": None,
        "hide": "mean",
        "num_features": 10,
        "positive_only": False,
        "kernel_width": 0.25,
        "batch_size": None,
        "seed": 0,
    }
)
"""LIME's parameters. ``segmentation_params=None`` means the algorithm's :data:`SEGMENTATIONS` defaults;
``num_features=None`` shows every superpixel; ``seed=None`` draws a seed (and records it);
``batch_size=None`` takes the detector's own (``Detector.batch_size``, which a server lowers to bound its
memory), so one number sets how many images go through the model at once."""
