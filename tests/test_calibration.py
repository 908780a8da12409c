"""Temperature scaling on synthetic predictions whose miscalibration is known by construction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from deepfake_core.evaluation.calibration import (
    TEMPERATURE_BOUNDS,
    apply_temperature,
    fit_temperature,
    negative_log_likelihood,
)
from deepfake_core.evaluation.metrics import expected_calibration_error


@pytest.fixture(scope="module")
def honest() -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, 2) and labels drawn from softmax(logits): calibrated at temperature 1 exactly."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 2.0, size=(3000, 2))
    labels = (rng.random(3000) < softmax(logits, axis=1)[:, 1]).astype(int)
    return logits, labels


def test_temperature_one_is_the_identity(honest) -> None:
    probabilities = softmax(honest[0], axis=1)
    np.testing.assert_allclose(apply_temperature(probabilities, 1.0), probabilities, atol=1e-12)


@pytest.mark.parametrize("temperature", [0.05, 0.5, 2.0, 20.0])
def test_scaled_rows_are_distributions_with_unchanged_argmax(honest, temperature) -> None:
    probabilities = softmax(honest[0], axis=1)

    scaled = apply_temperature(probabilities, temperature)

    assert scaled.shape == probabilities.shape
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))


@pytest.mark.parametrize(
    ("sharpening", "expected_range"),
    [
        pytest.param(2.0, (1.7, 2.4), id="over-confident"),
        pytest.param(0.5, (0.4, 0.6), id="under-confident"),
        pytest.param(1.0, (0.9, 1.1), id="calibrated"),
    ],
)
def test_fitted_temperature_undoes_the_distortion_and_lowers_nll(honest, sharpening, expected_range) -> None:
    logits, labels = honest
    distorted = softmax(logits * sharpening, axis=1)  # softmax(logits / T) with T = 1 / sharpening

    temperature = fit_temperature(distorted, labels)

    assert expected_range[0] < temperature < expected_range[1]
    before = negative_log_likelihood(distorted, labels)
    assert negative_log_likelihood(distorted, labels, temperature=temperature) <= before


def test_ece_of_p_fake_drops_after_calibrating_an_over_confident_model(honest) -> None:
    logits, labels = honest
    over_confident = softmax(logits * 3.0, axis=1)

    calibrated = apply_temperature(over_confident, fit_temperature(over_confident, labels))

    before = expected_calibration_error(labels, over_confident[:, 1])
    after = expected_calibration_error(labels, calibrated[:, 1])
    assert after < before / 2


def test_exact_zero_and_one_probabilities_give_a_finite_temperature() -> None:
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 1, 1, 1])  # one confidently wrong prediction

    temperature = fit_temperature(probabilities, labels)

    assert TEMPERATURE_BOUNDS[0] <= temperature <= TEMPERATURE_BOUNDS[1]
    assert np.isfinite(apply_temperature(probabilities, temperature)).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: apply_temperature([[0.5, 0.5]], 0.0), "temperature must be"),
        (lambda: apply_temperature([[0.5, 0.5]], float("nan")), "temperature must be"),
        (lambda: apply_temperature([0.5, 0.5], 1.0), r"shape \(N, C\)"),
        (lambda: fit_temperature([[0.5, 0.5]], [2]), "class indices"),
        (lambda: fit_temperature([[0.5, 0.5]], [0.0]), "integer array"),
        (lambda: fit_temperature(np.zeros((0, 2)), np.zeros(0, dtype=int)), "At least one"),
    ],
)
def test_invalid_arguments_are_rejected(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()
