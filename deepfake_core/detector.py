"""The detector: a loaded model plus its card, predicting images fast and safely.

One instance is shared by every Streamlit session (``st.cache_resource``) and by
CLI batches, so it must be thread-safe and cheap per call. ``model.predict``
builds a data pipeline on every call (tens of milliseconds); here the forward
pass is a ``tf.function`` traced once for a fixed input signature, warmed up at
construction, and called directly on NumPy batches. Calls after the warm-up are
read-only on the model, so concurrent sessions need no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf

from deepfake_core.card import ModelCard
from deepfake_core.evaluation.calibration import apply_temperature
from deepfake_core.familiarity import FEATURE_LAYERS, FamiliarityModel
from deepfake_core.preprocess import prepare_batch

__all__ = ["Detector", "Prediction", "mirror_mean"]

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Prediction:
    """The verdict for one image.

    ``p_fake`` is the calibrated probability of the card's fake label;
    ``label`` is that label iff ``p_fake >= threshold``, else the most likely
    other label. ``probabilities`` maps every label to its calibrated probability.
    ``unfamiliar`` says the face is unlike the training faces (its
    ``feature_distance`` exceeds the card's familiarity threshold): the verdict
    is then unreliable whatever its confidence. Both are ``None`` for a model
    without familiarity statistics.
    """

    label: str
    p_fake: float
    probabilities: dict[str, float]
    threshold: float
    model_id: str
    unfamiliar: bool | None = None
    feature_distance: float | None = None

    @property
    def is_fake(self) -> bool:
        return self.p_fake >= self.threshold

    @property
    def confidence(self) -> float:
        """Calibrated probability of the verdict that was given."""
        return self.p_fake if self.is_fake else 1.0 - self.p_fake

    def to_dict(self) -> dict:
        return {**asdict(self), "is_fake": self.is_fake, "confidence": self.confidence}


def mirror_mean(function: Callable[[tf.Tensor], list[tf.Tensor]], batch: tf.Tensor) -> list[tf.Tensor]:
    """The mean of ``function``'s outputs for ``batch`` and for its left-right mirror (the card's ``mirror_average``).

    The two are run as one batch of twice the size, which costs far less than two calls on a CPU.
    Only for outputs without a spatial layout (probabilities, pooled features); a map must be
    mirrored back before it is averaged.
    """
    count = tf.shape(batch)[0]
    doubled = function(tf.concat([batch, tf.reverse(batch, axis=[2])], axis=0))
    return [(output[:count] + output[count:]) / 2 for output in doubled]


def feature_layer_name(model: keras.Model) -> str | None:
    """The pooled-feature layer the head reads (see :data:`~deepfake_core.familiarity.FEATURE_LAYERS`), if any."""
    names = {layer.name for layer in model.layers}
    return next((name for name in FEATURE_LAYERS if name in names), None)


class Detector:
    """Predicts with ``model`` under the preprocessing contract of ``card``.

    ``familiarity`` (the statistics the card's ``familiarity`` section names)
    adds the "unlike the training faces" flag to every verdict; the features it
    needs come out of the same forward pass as the probabilities.
    """

    def __init__(
        self,
        model: keras.Model,
        card: ModelCard,
        *,
        batch_size: int = 32,
        familiarity: FamiliarityModel | None = None,
    ) -> None:
        expected = (card.input_size, card.input_size, 3)
        if tuple(model.input_shape[1:]) != expected:
            raise ValueError(f"model input {model.input_shape[1:]} does not match the card's {expected}")
        if model.output_shape[-1] != len(card.labels):
            raise ValueError(f"model has {model.output_shape[-1]} outputs but the card names {len(card.labels)} labels")
        self.model = model
        self.card = card
        self.batch_size = batch_size
        self.familiarity = familiarity
        layer = feature_layer_name(model)
        if familiarity is not None and layer != familiarity.layer:
            raise ValueError(f"the familiarity statistics read layer {familiarity.layer!r}, the model has {layer!r}")
        self.feature_size = int(model.get_layer(layer).output.shape[-1]) if layer else 0
        both = keras.Model(model.inputs, [model.outputs[0], model.get_layer(layer).output]) if layer else model
        spec = tf.TensorSpec((None, *expected), tf.float32)

        def outputs(batch: tf.Tensor) -> list[tf.Tensor]:
            result = both(batch, training=False)
            return list(result) if layer else [result]

        run = (lambda batch: mirror_mean(outputs, batch)) if card.mirror_average else outputs
        self._forward = tf.function(run, input_signature=[spec])
        self._warm_lock = threading.Lock()
        self._warm = False
        self.warm_up()

    @property
    def model_id(self) -> str:
        return self.card.model_id

    def warm_up(self) -> None:
        """Trace the forward pass once, so the first user request is not the slow one."""
        with self._warm_lock:
            if not self._warm:
                self._forward(tf.zeros((1, self.card.input_size, self.card.input_size, 3)))
                self._warm = True

    def prepare(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> the model's input batch (see :mod:`deepfake_core.preprocess`)."""
        return prepare_batch(images, self.card)

    def forward(
        self, batch: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Uncalibrated softmax ``(N, C)`` and pooled features ``(N, D)`` (``None`` without a feature layer)."""
        batch = np.asarray(batch, dtype=np.float32)
        outputs = np.empty((len(batch), len(self.card.labels)), dtype=np.float32)
        features = np.empty((len(batch), self.feature_size), dtype=np.float32) if self.feature_size else None
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start : start + self.batch_size]
            result = self._forward(tf.constant(chunk))
            outputs[start : start + len(chunk)] = result[0].numpy()
            if features is not None:
                features[start : start + len(chunk)] = result[1].numpy()
            if progress is not None:
                progress(start + len(chunk), len(batch))
        return outputs, features

    def raw_probabilities(self, batch: np.ndarray, *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Uncalibrated softmax ``(N, C)`` for a prepared ``float32 (N, S, S, 3)`` batch."""
        return self.forward(batch, progress=progress)[0]

    def feature_distances(self, features: np.ndarray | None) -> np.ndarray | None:
        """Familiarity distances ``(N,)`` of pooled features, or ``None`` for a model without the statistics."""
        if self.familiarity is None or features is None:
            return None
        return self.familiarity.distances(features)

    def probabilities(self, batch: np.ndarray, *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Calibrated class probabilities ``(N, C)`` for a prepared batch (temperature from the card)."""
        return self.calibrate(self.raw_probabilities(batch, progress=progress))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax ``(N, C)`` -> calibrated probabilities, for callers that need both."""
        return apply_temperature(raw, self.card.temperature)

    def p_fake(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated P(fake) ``(N,)`` for RGB uint8 images."""
        return self.probabilities(self.prepare(images))[:, self.card.fake_index]

    def predict(self, image: np.ndarray, *, threshold: float | None = None) -> Prediction:
        """Verdict for one RGB uint8 image."""
        return self.predict_batch([image], threshold=threshold)[0]

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        threshold: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[Prediction]:
        """Verdicts for many RGB uint8 images, fed to the model in batches."""
        threshold = self.card.threshold if threshold is None else float(threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        if len(images) == 0:
            return []
        raw, features = self.forward(self.prepare(images), progress=progress)
        distances = self.feature_distances(features)
        return [
            self._verdict(row, threshold, None if distances is None else float(distances[index]))
            for index, row in enumerate(self.calibrate(raw))
        ]

    def at_threshold(self, prediction: Prediction, threshold: float) -> Prediction:
        """The same probabilities judged at another threshold: no model call (a threshold slider's step)."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        row = np.array([prediction.probabilities[name] for name in self.card.labels], dtype=np.float64)
        return self._verdict(row, float(threshold), prediction.feature_distance)

    def _verdict(self, row: np.ndarray, threshold: float, distance: float | None = None) -> Prediction:
        labels = self.card.labels
        fake_index = self.card.fake_index
        p_fake = float(row[fake_index])
        if p_fake >= threshold:
            label = labels[fake_index]
        else:
            others = [index for index in range(len(labels)) if index != fake_index]
            label = labels[max(others, key=lambda index: row[index])]
        return Prediction(
            label=label,
            p_fake=p_fake,
            probabilities={name: float(value) for name, value in zip(labels, row, strict=False)},
            threshold=threshold,
            model_id=self.model_id,
            unfamiliar=None if distance is None or self.familiarity is None else bool(self.familiarity.flags(distance)),
            feature_distance=distance,
        )
