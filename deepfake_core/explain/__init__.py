"""Why did the detector say Real or Fake? LIME, the attention mask, Grad-CAM and Grad-CAM++ behind one interface.

``explain(detector, image, method=...)`` returns an :class:`Explanation` (an
``(H, W)`` map at the image's resolution plus how it was made);
``overlay(image, explanation)`` draws any of them; ``agreement(explanations)``
compares them. ``METHODS`` lists the methods with their default parameters.

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
    "DeletionCheck": "faithfulness",
    "deletion_check": "faithfulness",
    "Explanation": "base",
    "top_fraction_mask": "base",
    "add_explain_parser": "command",
    "HIDE_MODES": "defaults",
    "LIME_DEFAULTS": "defaults",
    "METHOD_NAMES": "defaults",
    "SEGMENTATIONS": "defaults",
    "Legend": "drawing",
    "colorize": "drawing",
    "legend": "drawing",
    "overlay": "drawing",
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
