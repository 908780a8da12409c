"""Exceptions that carry a message a user can act on.

Pages and the CLI catch :class:`DeepfakeLensError` (and only that) and show its
message; anything else escaping ``deepfake_core`` is a bug.
"""

from __future__ import annotations

__all__ = [
    "DataSetError",
    "DeepfakeLensError",
    "ExplanationError",
    "ImageIntakeError",
    "LegacyModelRefusedError",
    "ModelCardError",
    "ModelLoadError",
    "ResultsFileError",
    "WeightsMismatchError",
]


class DeepfakeLensError(Exception):
    """Base class: ``str(error)`` is a complete sentence meant for the user."""


class ImageIntakeError(DeepfakeLensError):
    """An input could not be turned into an RGB image.

    ``reason`` is a short machine-readable code (``"empty"``, ``"not_an_image"``,
    ``"truncated"``, ``"too_large"``, ``"too_small"``, ``"unsupported"``) so callers
    and tests can tell cases apart without parsing the message.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ModelLoadError(DeepfakeLensError):
    """A model file (or its card) is missing, unreadable or inconsistent."""


class ModelCardError(ModelLoadError):
    """A model card is missing, malformed, or describes an unsupported contract."""


class LegacyModelRefusedError(ModelLoadError):
    """A legacy (pickle / Lambda-layer) model was not loaded because the user did not opt in."""


class WeightsMismatchError(ModelLoadError):
    """The weights file's sha256 differs from the one recorded in its model card."""


class ResultsFileError(DeepfakeLensError):
    """A stored evaluation-results file is malformed or of an unknown schema version."""


class DataSetError(DeepfakeLensError):
    """A data-set folder or split manifest is missing, empty or inconsistent."""


class ExplanationError(DeepfakeLensError):
    """An explanation could not be computed for this model or image."""
