"""A frozen ImageNet texture probe, blended into a fine-tuned detector's verdict.

Why: fine-tuning a detector on a handful of generators teaches it those
generators. Frozen ImageNet features carry more general traces: a logistic
regression on EfficientNet-Lite0's *shallow* ImageNet features (global average
pooled after blocks 0, 2 and 4: 80 channels of local texture, before the network
abstracts towards objects) caught unseen StyleGAN faces far better than any
fine-tuned model in the leave-one-generator-out folds
(``benchmarks/imagenet_probe.py``). Blended into the fine-tuned detectors of those
folds it kept the seen kinds' figures and lifted unseen StyleGAN (AUC 0.887 ->
0.977), but it also called up to 2.6 times as many real people photos Fake, so it
is not part of the shipped recipe: this module keeps the experiment repeatable.
The README gives the folds' figures and the commands behind them.

The probe lives inside the saved graph, so a blended model is one ``.keras``
file that the CLI, the pages and every explainer score as they score any model:

    input (0..255) --> the fine-tuned detector ---------------> softmax --\\
                  \\--> frozen ImageNet Lite0, blocks 0-4 --> GAP x3 --> Dense(1) --> LogitBlend --> softmax

The Dense unit holds the logistic regression with its feature standardisation
folded in. Each logit is divided by its spread on the validation faces before
the weighted sum, so ``weight`` is the probe's share of the verdict whatever the
two logits' scales; the card's temperature is then refitted on the blend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers
from scipy.special import logit

from deepfake_core.card import ModelCard
from deepfake_core.data import SplitManifest
from deepfake_core.efficientnet_lite import LITE_VARIANTS, build_efficientnet_lite0
from deepfake_core.errors import DataSetError
from deepfake_core.layers import LogitBlend
from deepfake_core.training import (
    kind_weights,
    refitted_card,
    training_faces,
    without_optimizer,
)

__all__ = [
    "DEFAULT_C",
    "DEFAULT_WEIGHT",
    "PROBE_TAPS",
    "ProbeFit",
    "add_texture_probe",
    "blend_with_probe",
    "fit_probe",
    "texture_features_model",
]

PROBE_TAPS = ("block0_project_bn", "block2_add", "block4_add")
"""Where the probe pools Lite0's ImageNet features: 16 + 24 + 40 channels at 1/2, 1/4 and 1/8 resolution."""
DEFAULT_WEIGHT = 0.5
"""The probe's share of the blended logit, chosen on the leave-one-generator-out folds."""
DEFAULT_C = 0.01
"""Inverse L2 strength of the logistic regression (on standardised features), chosen on the same folds."""
PROBE_LAYER = "texture_probe_logit"
BLEND_LAYER = "texture_blend"

LogFn = Callable[[str], None]


@dataclass(frozen=True)
class ProbeFit:
    """The fitted probe: ``logit = features @ kernel + bias`` on raw pooled features.

    ``main_scale`` and ``probe_scale`` are the standard deviations of the
    detector's and the probe's logits on the validation faces.
    """

    kernel: np.ndarray
    bias: float
    main_scale: float
    probe_scale: float


def texture_features_model(input_size: int) -> keras.Model:
    """Frozen ImageNet EfficientNet-Lite0 up to block 4: ``(N, S, S, 3)`` 0..255 -> pooled ``(N, 80)``."""
    backbone = build_efficientnet_lite0(input_size, None)
    pooled = [
        layers.GlobalAveragePooling2D(name=f"texture_gap{index}")(backbone.get_layer(tap).output)
        for index, tap in enumerate(PROBE_TAPS)
    ]
    model = keras.Model(backbone.input, layers.Concatenate(name="texture_features")(pooled), name="texture_probe")
    model.trainable = False
    return model


def fit_probe(
    features: np.ndarray, is_fake: np.ndarray, sample_weight: np.ndarray | None = None, *, c: float = DEFAULT_C
) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised features; returns ``(kernel, bias)`` on the raw features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features)
    regression = LogisticRegression(C=c, max_iter=3000)
    regression.fit(scaler.transform(features), np.asarray(is_fake, dtype=int), sample_weight=sample_weight)
    kernel = regression.coef_[0] / scaler.scale_
    return kernel, float(regression.intercept_[0] - kernel @ scaler.mean_)


def blend_with_probe(model: keras.Model, card: ModelCard, fit: ProbeFit, *, weight: float) -> keras.Model:
    """``model`` with the probe's logit blended into its softmax (same input, same output shape, same layers)."""
    if not 0.0 < weight < 1.0:
        raise ValueError(f"the probe's weight must lie in (0, 1), got {weight}")
    inputs = model.inputs[0]
    features = texture_features_model(card.input_size)(inputs)
    dense = layers.Dense(1, name=PROBE_LAYER)
    logit = dense(features)
    dense.set_weights([fit.kernel.reshape(-1, 1).astype("float32"), np.array([fit.bias], dtype="float32")])
    dense.trainable = False
    blend = LogitBlend(card.fake_index, (1.0 - weight) / fit.main_scale, weight / fit.probe_scale, name=BLEND_LAYER)(
        [model.outputs[0], logit]
    )
    return keras.Model(inputs, blend, name=model.name)


def add_texture_probe(
    model_path: str | Path,
    manifest: SplitManifest,
    data_root: str | Path,
    output: str | Path,
    *,
    weight: float = DEFAULT_WEIGHT,
    c: float = DEFAULT_C,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
) -> ModelCard:
    """Fit the probe on the model's own training faces, blend it in, write ``output`` + card + familiarity.

    The probe is weighted per kind as the model's training weighed them; the
    temperature is refitted on the validation faces; the familiarity statistics
    (on the detector's own pooled features, unchanged by the blend) are refitted
    beside ``output``. The new card has no metrics until ``evaluate --update-card``.
    """
    from deepfake_core.loading import load_detector

    model_path, output = Path(model_path), Path(output)
    detector = load_detector(model_path)
    card = detector.card
    if card.value_scale != "0..255" or len(card.labels) != 2:
        raise DataSetError(f"{model_path.name} does not take 0..255 input with two labels: the probe cannot join it.")
    if any(layer.name == BLEND_LAYER for layer in detector.model.layers):
        raise DataSetError(f"{model_path.name} already has a texture probe.")
    faces = training_faces(card, manifest, data_root, cache_dir=cache_dir, log=log, name=model_path.name)
    extractor = texture_features_model(card.input_size)
    log(f"texture probe: features of {len(faces.train)} training and {len(faces.validation)} validation faces")
    train_texture, val_texture = (_texture(extractor, faces.dataset(part)) for part in ("train", "validation"))
    val_softmax = detector.raw_probabilities(np.concatenate([batch for batch, _ in faces.dataset("validation")]))
    fake = np.array([record.label == card.fake_label for record in faces.train])
    power = float(card.training.get("config", {}).get("kind_balance", 0.0))
    per_kind = kind_weights(faces.train, power)
    kernel, bias = fit_probe(train_texture, fake, np.array([per_kind[r.kind] for r in faces.train]), c=c)
    main_logits = logit(np.clip(val_softmax[:, card.fake_index].astype(np.float64), 1e-7, 1 - 1e-7))
    probe_logits = val_texture @ kernel + bias
    fit = ProbeFit(kernel, bias, float(np.std(main_logits)), float(np.std(probe_logits)))

    blended = blend_with_probe(detector.model, card, fit, weight=weight)
    without_optimizer(blended).save(output)
    log(f"texture probe: weight {weight}, C {c}")
    # the familiarity statistics read the detector's own pooled features, which the blend leaves unchanged
    return refitted_card(
        blended,
        card,
        faces,
        output,
        log,
        name=name,
        architecture=f"{card.architecture} + texture probe",
        description=f"{card.description.rstrip('.')}, blended with a frozen ImageNet texture probe.",
        licences=tuple(dict.fromkeys((*card.licences, LITE_VARIANTS["efficientnet_lite0"].licence))),
        training={
            **card.training,
            "texture_probe": {
                "from_model": card.model_id,
                "weight": weight,
                "c": c,
                "taps": list(PROBE_TAPS),
                "main_scale": fit.main_scale,
                "probe_scale": fit.probe_scale,
                "n_train": len(faces.train),
            },
        },
    )


def _texture(extractor: keras.Model, dataset) -> np.ndarray:
    """The frozen texture features of ``dataset``'s images."""
    return np.concatenate([np.asarray(extractor(batch, training=False)) for batch, _ in dataset])
