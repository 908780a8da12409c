"""Training a detector from a split manifest, writing the model, its card and history.

The thesis recipe is the default (Adam, EarlyStopping with best weights
restored, ReduceLROnPlateau, batch 32). Images stream from disk through
``tf.data``; each is decoded by :func:`deepfake_core.intake.load_image`,
optionally augmented, and fed through the card's
:func:`deepfake_core.preprocess.prepare_image` — the same path prediction uses.

Two additions serve generalisation on this data: per-kind sample weights (the
small, hard kinds such as ``ffhq`` and ``stylegan2_tpdne`` would otherwise be
swamped by the easy ``celeba`` / ``gan256`` shortcut), and temperature
calibration on the validation split, stored in the card.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from deepfake_core.architecture import build_model
from deepfake_core.card import ModelCard, architecture_card, card_path_for, file_sha256, save_card
from deepfake_core.data import LABELS, ImageRecord, SplitManifest
from deepfake_core.detector import Detector
from deepfake_core.evaluation.calibration import fit_temperature
from deepfake_core.intake import load_image
from deepfake_core.perturb import AugmentConfig, augment
from deepfake_core.preprocess import prepare_image

__all__ = ["TrainConfig", "TrainResult", "kind_weights", "make_dataset", "train"]

LogFn = Callable[[str], None]

DATA_LICENCES = (
    "CelebA: non-commercial research purposes only (CelebA dataset agreement).",
    "FFHQ: Creative Commons BY-NC-SA 4.0 (images under their own licences); non-commercial research.",
    "Generated faces (gan256, StyleGAN, StyleGAN2 / thispersondoesnotexist): synthetic images from public repos.",
)
LIMITATIONS = (
    "Trained only on fully generated (GAN) faces vs real face photos; it has never seen face-swap, "
    "face-reenactment or diffusion-model fakes (the thesis' OpenForensics data had face swaps).",
    "Trained on tight face crops; on full-frame photos of people it is outside its training distribution "
    "(see the false-alarm rate on people photos).",
    "Real faces come mostly from CelebA: background, framing and source resolution differ between the "
    "easy kinds (celeba vs gan256), so per-kind metrics (above all ffhq vs stylegan2_tpdne) are the honest ones.",
    "A probability, not proof: use it as one piece of evidence.",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (stored in the card)."""

    backbone: str = "small_cnn"
    attention: bool = True
    head: str = "thesis"
    input_size: int = 128
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 5
    augment: bool = False
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    kind_balance: float = 0.0
    seed: int = 0
    backbone_weights: str | None = None
    channel_order: str = "RGB"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment_config"] = self.augment_config.to_dict() if self.augment else None
        return data


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    card: ModelCard
    history: dict[str, list[float]]


def kind_weights(records: Sequence[ImageRecord], power: float) -> dict[str, float]:
    """Per-kind sample weight ``(share the kind would have if kinds were equal / its share) ** power``.

    ``power=0`` gives every image weight 1 (the thesis); ``power=1`` gives every
    kind of a label the same total weight. Weights are normalised to mean 1.
    """
    kinds = Counter(record.kind for record in records)
    labels = Counter(record.label for record in records)
    kinds_per_label = Counter(label for label, _ in {(r.label, r.kind) for r in records})
    label_of = {record.kind: record.label for record in records}
    raw = {
        kind: (labels[label_of[kind]] / kinds_per_label[label_of[kind]] / count) ** power
        for kind, count in kinds.items()
    }
    mean = sum(raw[record.kind] for record in records) / len(records)
    return {kind: value / mean for kind, value in sorted(raw.items())}


def make_dataset(
    records: Sequence[ImageRecord],
    root: str | Path,
    card: ModelCard,
    *,
    batch_size: int,
    shuffle: bool,
    augment_config: AugmentConfig | None = None,
    weights: dict[str, float] | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """Stream ``(image batch, label index[, sample weight])`` from disk under ``card``'s contract."""
    paths = [str(record.path(root)) for record in records]
    targets = np.array([card.labels.index(record.label) for record in records], dtype=np.int32)
    sample_weights = np.array([(weights or {}).get(record.kind, 1.0) for record in records], dtype=np.float32)
    rng = np.random.default_rng(seed)
    size = card.input_size

    def load(path: bytes) -> np.ndarray:
        image = load_image(path.decode("utf-8"))
        if augment_config is not None:
            image = augment(image, augment_config, rng)
        return prepare_image(image, card)

    def load_tf(path, target, weight):
        image = tf.numpy_function(load, [path], tf.float32, stateful=augment_config is not None)
        image.set_shape((size, size, 3))
        return (image, target, weight) if weights else (image, target)

    dataset = tf.data.Dataset.from_tensor_slices((paths, targets, sample_weights))
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    return dataset.map(load_tf, num_parallel_calls=2, deterministic=not shuffle).batch(batch_size).prefetch(2)


class _EpochLog(keras.callbacks.Callback):
    """One line per epoch: the progress report for long CPU runs."""

    def __init__(self, log: LogFn, epochs: int) -> None:
        super().__init__()
        self._log, self._epochs, self._start = log, epochs, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        figures = "  ".join(f"{key} {value:.4f}" for key, value in sorted((logs or {}).items()))
        self._log(f"epoch {epoch + 1}/{self._epochs}  {time.perf_counter() - self._start:.0f}s  {figures}")


def train(
    config: TrainConfig,
    manifest: SplitManifest,
    data_root: str | Path,
    output: str | Path,
    *,
    name: str | None = None,
    log: LogFn = print,
) -> TrainResult:
    """Train on ``manifest``'s train split, calibrate on validation, write ``output`` (.keras) + card + history."""
    keras.utils.set_random_seed(config.seed)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    name = name or output.name.removesuffix(".keras")
    draft = _card(config, name=name, weights_file=output.name, sha256=None)
    train_records, val_records = manifest.splits["train"], manifest.splits["validation"]
    weights = kind_weights(train_records, config.kind_balance) if config.kind_balance > 0 else None
    log(f"training {name}: {len(train_records)} train / {len(val_records)} validation images; kind weights {weights}")
    train_data = make_dataset(
        train_records,
        data_root,
        draft,
        batch_size=config.batch_size,
        shuffle=True,
        augment_config=config.augment_config if config.augment else None,
        weights=weights,
        seed=config.seed,
    )
    val_data = make_dataset(val_records, data_root, draft, batch_size=64, shuffle=False)

    model = build_model(
        backbone=config.backbone,
        input_size=config.input_size,
        attention=config.attention,
        head=config.head,
        backbone_weights=config.backbone_weights,
        num_classes=len(LABELS),
        name=name,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=1e-5),
        _EpochLog(log, config.epochs),
    ]
    started = time.perf_counter()
    # the tf.data pipeline shuffles itself (seeded); Keras must not try to
    fit = model.fit(
        train_data, validation_data=val_data, epochs=config.epochs, callbacks=callbacks, verbose=0, shuffle=False
    )
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    seconds = time.perf_counter() - started

    val_probabilities = Detector(model, draft, batch_size=64).raw_probabilities(
        np.concatenate([batch for batch, _ in val_data.as_numpy_iterator()])
    )
    val_targets = np.array([draft.labels.index(r.label) for r in val_records])
    temperature = fit_temperature(val_probabilities, val_targets)
    log(f"fitted temperature {temperature:.3f} on {len(val_records)} validation images")

    model.save(output)
    card = _card(
        config,
        name=name,
        weights_file=output.name,
        sha256=file_sha256(output),
        temperature=temperature,
        training={
            "data": manifest.root_name,
            "split_manifest_sha256": manifest.sha256,
            "split_seed": manifest.seed,
            "split_counts": manifest.counts(),
            "config": config.to_dict(),
            "kind_weights": weights,
            "epochs_run": len(history.get("loss", [])),
            "seconds": round(seconds, 1),
            "parameters": int(model.count_params()),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "history_file": output.name.removesuffix(".keras") + ".history.json",
        },
    )
    save_card(card, card_path_for(output))
    history_path = output.with_name(output.name.removesuffix(".keras") + ".history.json")
    history_path.write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    return TrainResult(model_path=output, card=card, history=history)


def _card(
    config: TrainConfig,
    *,
    name: str,
    weights_file: str,
    sha256: str | None,
    temperature: float = 1.0,
    training: dict[str, Any] | None = None,
) -> ModelCard:
    attention = " + attention" if config.attention else ""
    return architecture_card(
        name=name,
        backbone=config.backbone,
        input_size=config.input_size,
        attention=config.attention,
        head=config.head,
        channel_order=config.channel_order,
        labels=LABELS,
        weights_file=weights_file,
        weights_sha256=sha256,
        temperature=temperature,
        description=f"{config.backbone}{attention} trained from scratch on face crops (real vs GAN-generated).",
        training=training or {},
        limitations=LIMITATIONS,
        licences=DATA_LICENCES,
    )
