"""Why did the detector say Real or Fake? LIME, the attention mask, Grad-CAM and Grad-CAM++ behind one interface.

``explain(detector, image, method=...)`` returns an :class:`Explanation` (an
``(H, W)`` map at the image's resolution, or its working copy's for images
larger than ``WORKING_SIDE``, plus how it was made); ``overlay(image,
explanation)`` draws any of them and ``composite`` makes a self-describing PNG;
``agreement(explanations)`` and ``deletion_check`` test them. ``METHODS`` lists
the methods with their default parameters.

Names are imported lazily (PEP 562), so ``deepfake_core.explain.command`` and
``deepfake_core.explain.defaults`` load without TensorFlow and the CLI's
``--help`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AgreementTable": "compare",
    "agreement": "compare",
    "comparison_record": "compare",
    "iou": "compare",
    "attention_results": "attention",
    "caption_lines": "sheet",
    "composite": "sheet",
    "composite_png": "sheet",
    "png_bytes": "sheet",
    "DeletionCheck": "faithfulness",
    "MIN_DROP": "faithfulness",
    "deletion_check": "faithfulness",
    "deletion_summary": "faithfulness",
    "Explanation": "base",
    "SATURATION_TOLERANCE": "base",
    "WORKING_SIDE": "base",
    "at_threshold": "base",
    "saturation_caveat": "base",
    "top_fraction_mask": "base",
    "working_image": "base",
    "working_shape": "base",
    "add_explain_parser": "command",
    "HIDE_MODES": "defaults",
    "LIME_DEFAULTS": "defaults",
    "METHOD_NAMES": "defaults",
    "SEGMENTATIONS": "defaults",
    "Legend": "drawing",
    "colorize": "drawing",
    "legend": "drawing",
    "number_superpixels": "drawing",
    "overlay": "drawing",
    "superpixel_anchors": "drawing",
    "METHODS": "registry",
    "MethodSpec": "registry",
    "explain": "registry",
    "explain_batch": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
