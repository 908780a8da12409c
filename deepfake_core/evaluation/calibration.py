"""Temperature scaling: one scalar that makes softmax probabilities honest.

A network trained to high accuracy is usually over-confident: it says 0.99 where it is right
90 % of the time. Dividing its logits by a temperature ``T > 1`` softens the probabilities
without changing how images rank or which class is the argmax, so AUC and argmax accuracy stay
the same while the probabilities shown to users (and the ECE) improve. (A verdict threshold
other than 0.5 does move, so a card's threshold must be chosen on calibrated probabilities.)
``T`` is fitted on held-out data by minimising the negative log-likelihood (Guo et al., 2017,
"On Calibration of Modern Neural Networks").

The models store softmax outputs, not logits, so ``log(p)`` stands in for the logits: softmax
is invariant to adding a constant per row, so ``softmax(log(p) / T)`` equals
``softmax(logits / T)`` exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

__all__ = ["TEMPERATURE_BOUNDS", "apply_temperature", "fit_temperature", "negative_log_likelihood"]

TEMPERATURE_BOUNDS: tuple[float, float] = (0.05, 20.0)
"""Search range for ``T``; beyond it the model is either useless or the fit has degenerated."""

_PROBABILITY_FLOOR = 1e-12
"""Probabilities are clipped to this before ``log`` so an exact 0 (float32 underflow) stays finite."""


def _log_probabilities(probabilities: Any) -> np.ndarray:
    """Validate ``(N, C)`` probabilities and return their clipped logs, shape ``(N, C)``."""
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must have shape (N, C) with C >= 2, got {p.shape}.")
    if not np.isfinite(p).all() or p.min(initial=0.0) < 0.0:
        raise ValueError("probabilities must be finite and non-negative.")
    return np.log(np.clip(p, _PROBABILITY_FLOOR, 1.0))


def _check_temperature(temperature: float) -> float:
    value = float(temperature)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}.")
    return value


def _log_probabilities_and_labels(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(N, C)`` clipped log-probabilities and ``(N,)`` integer labels."""
    log_p = _log_probabilities(probabilities)
    y = np.asarray(labels)
    if y.shape != (log_p.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({log_p.shape[0]},), got {y.dtype} {y.shape}.")
    if y.size == 0:
        raise ValueError("At least one labelled example is needed.")
    if y.min() < 0 or y.max() >= log_p.shape[1]:
        raise ValueError(f"labels must be class indices in [0, {log_p.shape[1] - 1}].")
    return log_p, y


def negative_log_likelihood(probabilities: Any, labels: Any, *, temperature: float = 1.0) -> float:
    """Mean NLL of integer ``labels`` ``(N,)`` under ``(N, C)`` probabilities scaled by ``temperature``."""
    log_p, y = _log_probabilities_and_labels(probabilities, labels)
    return _nll(log_p, y, _check_temperature(temperature))


def _nll(log_p: np.ndarray, y: np.ndarray, temperature: float) -> float:
    scaled = log_softmax(log_p / temperature, axis=1)
    return float(-scaled[np.arange(y.size), y].mean())


def fit_temperature(probabilities: Any, labels: Any) -> float:
    """Temperature ``T`` that minimises the NLL of ``softmax(log(probabilities) / T)``.

    Args:
        probabilities: ``(N, C)`` softmax outputs on a held-out (validation) set.
        labels: ``(N,)`` integer class indices, in the same column order as ``probabilities``.

    Returns:
        ``T`` within :data:`TEMPERATURE_BOUNDS`; ``> 1`` means the model was over-confident,
        ``< 1`` under-confident. The search runs over ``log T`` so that halving and doubling
        confidence are treated symmetrically.
    """
    log_p, y = _log_probabilities_and_labels(probabilities, labels)
    low, high = (math.log(bound) for bound in TEMPERATURE_BOUNDS)
    result = minimize_scalar(
        lambda log_t: _nll(log_p, y, math.exp(log_t)), bounds=(low, high), method="bounded", options={"xatol": 1e-4}
    )
    return float(math.exp(result.x))


def apply_temperature(probabilities: Any, temperature: float) -> np.ndarray:
    """Rescale ``(N, C)`` softmax outputs by ``temperature``; returns ``(N, C)`` rows summing to 1.

    ``T = 1`` returns the (renormalised) input; the per-row ordering of classes never changes.
    """
    return softmax(_log_probabilities(probabilities) / _check_temperature(temperature), axis=1)
