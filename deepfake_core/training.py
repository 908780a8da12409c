"""Training a detector from a split manifest, writing the model, its card and history.

The thesis recipe is the default (Adam, EarlyStopping with best weights
restored, ReduceLROnPlateau, batch 32); ``lr_schedule="cosine"`` instead lets
the learning rate fall along a cosine to zero over the planned epochs. Images stream from disk through
``tf.data``; each is decoded by :func:`deepfake_core.intake.load_image`,
optionally augmented, and fed through the card's
:func:`deepfake_core.preprocess.prepare_image` — the same path prediction uses.
With the face step on (``face_crop``), the images are the aligned crops of
:mod:`deepfake_core.face_data`, made by the same code as at prediction time;
images without a face are left out and counted per kind in the card.

Two additions serve generalisation on this data: per-kind sample weights (the
small, hard kinds such as ``ffhq`` and ``stylegan2_tpdne`` would otherwise be
swamped by the easy ``celeba`` / ``gan256`` shortcut), and temperature
calibration on the validation split, stored in the card.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from deepfake_core.anchor_decay import AnchorDecay
from deepfake_core.architecture import BACKBONE_LAYER, PRETRAINED_BACKBONES, batch_norms, build_model
from deepfake_core.card import (
    ModelCard,
    architecture_card,
    card_path_for,
    derived_card,
    file_sha256,
    history_path_for,
    load_card,
    save_card,
)
from deepfake_core.data import LABELS, ImageRecord, SplitManifest
from deepfake_core.detector import Detector, feature_layer_name
from deepfake_core.efficientnet_lite import LITE_VARIANTS
from deepfake_core.errors import DataSetError
from deepfake_core.evaluation.calibration import fit_temperature
from deepfake_core.face_data import FaceCropIndex, build_face_crops
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.familiarity import (
    DEFAULT_QUANTILE,
    FEATURE_LAYERS,
    FamiliaritySpec,
    familiarity_path_for,
    fit_familiarity,
    save_familiarity,
)
from deepfake_core.intake import load_image
from deepfake_core.kind_head import compile_with_kind_head, kind_index, with_kind_targets
from deepfake_core.mixup import mix_up, one_hot_labels
from deepfake_core.perturb import AugmentConfig, augment
from deepfake_core.preprocess import prepare_image
from deepfake_core.pseudo_fakes import SELF_BLENDED_KIND, self_blend
from deepfake_core.second_output import PREDICTIONS_OUTPUT
from deepfake_core.single_center import center_targets, compile_with_single_center

__all__ = [
    "BEST_EPOCH_SUFFIX",
    "TrainConfig",
    "TrainResult",
    "TrainingFaces",
    "WeightAverage",
    "cap_per_kind",
    "data_licences",
    "fit_familiarity_beside",
    "fit_familiarity_from_manifest",
    "kind_weights",
    "limitations",
    "make_dataset",
    "pseudo_fake_records",
    "seen_kinds",
    "train",
    "training_faces",
    "without_optimizer",
]

LogFn = Callable[[str], None]

_KIND_LICENCES = {
    "celeba": "CelebA: non-commercial research purposes only (CelebA dataset agreement).",
    "ffhq": "FFHQ: Creative Commons BY-NC-SA 4.0 (images under their own licences); non-commercial research.",
    "utkface": "UTKFace: non-commercial research purposes only.",
    "real_dfdc": "DFDC (Deepfake Detection Challenge) frames: research use only (DFDC terms).",
    "faceswap_dfdc": "DFDC (Deepfake Detection Challenge) frames: research use only (DFDC terms).",
    "sd21": "SDFD (Stable Diffusion 2.1 faces): a research data set published without a licence.",
}
_GENERATED_NOTE = "Other generated or manipulated faces: from public repositories named per file in SOURCES.tsv."


def data_licences(kinds: Sequence[str]) -> tuple[str, ...]:
    """The licence lines a model card needs for training data of these kinds (restrictive ones named)."""
    named = {_KIND_LICENCES[kind] for kind in kinds if kind in _KIND_LICENCES}
    others = [kind for kind in kinds if kind not in _KIND_LICENCES]
    return (*sorted(named), *([_GENERATED_NOTE] if others else []))


def cap_per_kind(records: Sequence[ImageRecord], limit: int, *, seed: int) -> list[ImageRecord]:
    """At most ``limit`` records of each kind, drawn with ``seed``; the order of the kept records is kept."""
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_kind.setdefault(record.kind, []).append(index)
    kept = {
        int(index)
        for indices in by_kind.values()
        for index in (indices if len(indices) <= limit else rng.choice(indices, size=limit, replace=False))
    }
    return [record for index, record in enumerate(records) if index in kept]


def pseudo_fake_records(records: Sequence[ImageRecord], share: float, *, seed: int) -> list[ImageRecord]:
    """``share`` x (real records) Fake records of kind ``self_blended``, each naming a real face to blend.

    Drawn without repeats while there are enough real faces (``share <= 1``);
    the blend itself is drawn afresh each time the record is read.
    """
    reals = [record for record in records if record.label == "Real"]
    count = round(share * len(reals))
    if count == 0:
        return []
    picks = np.random.default_rng(seed).choice(len(reals), size=count, replace=count > len(reals))
    return [ImageRecord(id=reals[i].id, label="Fake", kind=SELF_BLENDED_KIND, split="train") for i in sorted(picks)]


def seen_kinds(train_records: Sequence[ImageRecord]) -> dict[str, list[str]]:
    """The kinds training showed the model, by label (the card's ``training.seen_kinds``)."""
    return {label: sorted({r.kind for r in train_records if r.label == label}) for label in LABELS}


def limitations(train_records: Sequence[ImageRecord], *, face_crop: bool) -> tuple[str, ...]:
    """What a model trained on these records has and has not seen, in the card's words."""
    fakes = sorted({record.kind for record in train_records if record.label == "Fake"})
    reals = sorted({record.kind for record in train_records if record.label == "Real"})
    seen = (
        f"Fakes seen in training: {', '.join(fakes)}. Real faces seen: {', '.join(reals)}. Generators and "
        "manipulations outside these (newer diffusion models, other face-swap or reenactment tools) were never "
        "seen: verdicts on them are much less reliable than the test figures suggest."
    )
    framing = (
        "Judges aligned face crops (about eyebrows to chin): faces the detector misses (strong profile, heavy "
        "blur, extreme close-ups) get no verdict, and the rest of the picture is never judged."
        if face_crop
        else "Judges the whole image, trained on tight face crops: on full-frame photos of people it is outside "
        "its training distribution (see the false-alarm rate on people photos)."
    )
    return (
        seen,
        framing,
        "Per-kind metrics (above all ffhq vs stylegan2_tpdne, same real distribution the GAN imitates) are the "
        "honest ones: the easy kinds differ in more than realness (backdrop, framing, source resolution).",
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
    lr_schedule: str = "plateau"
    """``plateau`` halves the rate when validation loss stalls (thesis); ``cosine`` decays it to 0 by the last epoch."""
    patience: int = 5
    augment: bool = False
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    kind_balance: float = 0.0
    seed: int = 0
    backbone_weights: str | None = None
    channel_order: str = "RGB"
    face_crop: bool = False
    exclude_kinds: tuple[str, ...] = ()
    """Kinds left out of training and validation: a leave-one-generator-out run tests on them as unseen."""
    init_from: str | None = None
    """A model file (same architecture) whose weights this run starts from, to train a model further."""
    max_per_kind: int | None = None
    """At most this many training images per kind (seeded draw): a cheaper run for leave-one-out studies."""
    self_blend: float = 0.0
    """Self-blended pseudo-fakes (:mod:`deepfake_core.pseudo_fakes`) per real training face, redrawn every epoch."""
    mirror_average: bool = False
    """The card's ``mirror_average``: verdicts (and so the temperature and familiarity fits) average over the mirror."""
    average_from: int | None = None
    """Write the mean of the weights over every training step from this epoch (1-based) on (:class:`WeightAverage`)."""
    jpeg_quality: int | None = None
    """The card's ``jpeg_quality``: every input, after any augmentation, re-encoded as a JPEG of this quality."""
    probe_epochs: int = 0
    """Epochs of training the new head alone on the frozen backbone before fine-tuning all (:func:`probe_head`)."""
    mixup: float = 0.0
    """Beta(alpha, alpha) of :func:`deepfake_core.mixup.mix_up` on the training batches; 0 trains on whole faces."""
    freeze_norms: bool = False
    """The backbone's BatchNorm layers keep their pretrained statistics and scales while the rest fine-tunes
    (:func:`freeze_backbone_norms`)."""
    single_center: float = 0.0
    """Weight of :mod:`deepfake_core.single_center`'s loss beside the cross-entropy; 0 trains on cross-entropy alone."""
    kind_head: float = 0.0
    """Weight of a training-only head naming each face's kind (:mod:`deepfake_core.kind_head`); 0 trains without it."""
    anchor_decay: float = 0.0
    """Share of the way back to the pretrained start each backbone weight moves after every step
    (:class:`deepfake_core.anchor_decay.AnchorDecay`); 0 lets fine-tuning drift freely."""
    keep_epochs: str | None = None
    """A folder that gets every epoch's weights (:class:`EpochWeights`), for studying a run epoch by epoch."""

    @property
    def from_scratch(self) -> bool:
        """No pretrained weights anywhere: not a model trained further, not supplied or ImageNet backbone weights."""
        return not (self.init_from or self.backbone_weights or self.backbone in PRETRAINED_BACKBONES)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment_config"] = self.augment_config.to_dict() if self.augment else None
        data["exclude_kinds"] = list(self.exclude_kinds)
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
    crops: FaceCropIndex | None = None,
    kinds: Mapping[str, int] | None = None,
) -> tf.data.Dataset:
    """Stream ``(image batch, label index[, sample weight])`` from disk under ``card``'s contract.

    With ``crops`` (required when the card has a ``face_crop`` section) each
    record's aligned face crop is read instead of its image; every record must have one.
    Records of kind ``self_blended`` (:func:`pseudo_fake_records`) become a
    freshly drawn self-blend of their real crop, before any augmentation.
    With ``kinds`` (a class index per kind, :func:`deepfake_core.kind_head.kind_index`) the
    labels and weights are dicts for a training model with a kind head: the verdict's and the kind's.
    """
    if card.face_crop is not None and crops is None:
        raise ValueError("this card judges aligned face crops: pass the crops of build_face_crops")
    paths = [str(crops.crops[record.id] if crops is not None else record.path(root)) for record in records]
    crop_scale = card.face_crop.crop_scale if card.face_crop is not None else None
    blends = np.array([record.kind == SELF_BLENDED_KIND for record in records])
    if blends.any() and crop_scale is None:
        raise ValueError("self-blended pseudo-fakes need aligned face crops (a card with a face_crop section)")
    if augment_config is not None and augment_config.cutout > 0 and crop_scale is None:
        raise ValueError("face-part cutout needs aligned face crops (a card with a face_crop section)")
    targets = np.array([card.labels.index(record.label) for record in records], dtype=np.int32)
    if kinds is not None and (missing := {record.kind for record in records} - set(kinds)):
        raise ValueError(f"the kind head has no class for {', '.join(sorted(missing))}")
    kind_targets = np.array([kinds[record.kind] if kinds else 0 for record in records], dtype=np.int32)
    sample_weights = np.array([(weights or {}).get(record.kind, 1.0) for record in records], dtype=np.float32)
    rng = np.random.default_rng(seed)
    size = card.input_size

    def load(path: bytes, blend: bool) -> np.ndarray:
        image = load_image(path.decode("utf-8"))
        if blend:
            image = self_blend(image, rng, crop_scale=crop_scale)
        if augment_config is not None:
            image = augment(image, augment_config, rng, crop_scale=crop_scale)
        return prepare_image(image, card)

    def load_tf(path, blend, target, kind, weight):
        image = tf.numpy_function(load, [path, blend], tf.float32, stateful=augment_config is not None or blends.any())
        image.set_shape((size, size, 3))
        if kinds is not None:
            target, weight = with_kind_targets(target, kind), with_kind_targets(weight, weight)
        return (image, target, weight) if weights else (image, target)

    dataset = tf.data.Dataset.from_tensor_slices((paths, blends, targets, kind_targets, sample_weights))
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    return dataset.map(load_tf, num_parallel_calls=2, deterministic=not shuffle).batch(batch_size).prefetch(2)


LR_SCHEDULES = ("plateau", "cosine")


def learning_rate_for(
    config: TrainConfig, steps_per_epoch: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Adam's learning rate: a constant (that ReduceLROnPlateau may lower) or a cosine decay over every planned step.

    A cosine run spends its last epochs at a small rate, where a fine-tuned network
    settles into a minimum instead of hopping around it at the full rate.
    """
    if config.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {config.lr_schedule!r}")
    if config.lr_schedule == "plateau":
        return config.learning_rate
    return keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * steps_per_epoch)


class _EpochLog(keras.callbacks.Callback):
    """One line per epoch: the progress report for long CPU runs."""

    def __init__(self, log: LogFn, epochs: int, phase: str = "epoch") -> None:
        super().__init__()
        self._log, self._epochs, self._phase, self._start = log, epochs, phase, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "learning_rate" not in logs:
            # a schedule's rate is not logged by Keras: record the rate the next step will use
            optimizer = self.model.optimizer
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        figures = "  ".join(
            f"{key} {value:.3g}" if key == "learning_rate" else f"{key} {value:.4f}"
            for key, value in sorted((logs or {}).items())
        )
        self._log(f"{self._phase} {epoch + 1}/{self._epochs}  {time.perf_counter() - self._start:.0f}s  {figures}")


class EpochWeights(keras.callbacks.Callback):
    """Writes ``model``'s weights after every epoch to ``folder/epoch_NN.npz`` (plain arrays, in ``get_weights`` order).

    Why: the run keeps only its best epoch by validation loss, which measures the seen
    generators; how a run's ranking of unseen ones moves from epoch to epoch needs every
    epoch (``benchmarks/epochs_unseen.py`` scores them). ``model`` is the detector itself,
    not a training wrapper around it (the single-center loss trains one).
    """

    def __init__(self, model: keras.Model, folder: str | Path) -> None:
        super().__init__()
        self._detector_model, self.folder = model, Path(folder)

    def on_train_begin(self, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        weights = {f"w{index:04d}": value for index, value in enumerate(self._detector_model.get_weights())}
        np.savez(self.folder / f"epoch_{epoch + 1:02d}.npz", **weights)


def load_epoch_weights(path: str | Path) -> list[np.ndarray]:
    """The weights :class:`EpochWeights` wrote, in ``set_weights`` order (no pickles are read)."""
    with np.load(path, allow_pickle=False) as stored:
        return [stored[key] for key in sorted(stored.files)]


class WeightAverage(keras.callbacks.Callback):
    """The running mean of a model's weights over every training step from epoch ``start_epoch`` (1-based) on.

    Why: the weights of any one epoch sit somewhere on the walls of a minimum shaped by the
    training generators; their mean along the end of the run lies in a flatter region, which
    carries over better to data unlike the training data (Izmailov et al. 2018, SWA; Cha et al.
    2021, SWAD, for unseen domains). BatchNorm's moving statistics are averaged with the rest:
    at a fine-tuning rate the weights move little, so their statistics stay valid for the mean.
    """

    def __init__(self, start_epoch: int) -> None:
        super().__init__()
        if start_epoch < 1:
            raise ValueError(f"weight averaging starts at epoch 1 or later, got {start_epoch}")
        self.start_epoch = start_epoch
        self.steps = 0
        self.mean: list[np.ndarray] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch < self.start_epoch:
            return
        weights = self.model.get_weights()
        self.steps += 1
        if self.mean is None:
            self.mean = [np.array(weight, dtype=np.float64) for weight in weights]
            return
        for mean, weight in zip(self.mean, weights, strict=True):
            mean += (weight - mean) / self.steps

    def averaged_weights(self, like: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The mean weights in the dtypes of ``like`` (the model's own weights); counters keep their last value."""
        if self.mean is None:
            raise ValueError("no training step was averaged")
        return [
            mean.astype(weight.dtype) if np.issubdtype(weight.dtype, np.floating) else weight
            for mean, weight in zip(self.mean, like, strict=True)
        ]


PROBE_LEARNING_RATE = 1e-3
"""Adam's rate while the head alone trains (:func:`probe_head`): a new head's rate, as the from-scratch recipe's."""


def _compile(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    train_data: tf.data.Dataset,
) -> None:
    """Adam on the cross-entropy that fits ``train_data``'s labels: class indices, or one-hot rows (mixup's blends)."""
    one_hot = train_data.element_spec[1].shape.rank == 2
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def fit_ready(trainer: keras.Model, train_data: tf.data.Dataset) -> None:
    """Create the compiled ``trainer``'s optimizer, loss and metric variables now, before ``fit``.

    Why: Keras 3 on TensorFlow, without a distribution strategy, creates them inside the first
    trace of the training step, and a ``tf.function`` that creates variables is traced a second
    time. Tracing EfficientNet-Lite0's step takes about ten seconds on a 2-core CPU, once per
    ``fit``; built here from a batch of zeros shaped like ``train_data``'s, it is traced once.
    No data is drawn (the seeded pipeline's order is unchanged) and ``fit`` resets the metrics.
    """
    batch = tf.nest.map_structure(lambda spec: tf.zeros([1, *spec.shape[1:]], spec.dtype), train_data.element_spec)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    y_pred = trainer(x, training=False)
    trainer.compute_loss(x, y, y_pred, sample_weight)
    trainer.compute_metrics(x, y, y_pred, sample_weight)
    trainer.reset_metrics()
    trainer.optimizer.build(trainer.trainable_variables)


def probe_head(
    model: keras.Model, train_data: tf.data.Dataset, val_data: tf.data.Dataset, epochs: int, log: LogFn
) -> dict[str, list[float]]:
    """Train everything but the backbone for ``epochs``, then make the backbone trainable again.

    Why: fine-tuning a pretrained network under a randomly started head sends the head's large
    early errors back into the backbone, which bends the pretrained features to fit the training
    generators and loses what they knew of images unlike them; training the head first on the
    frozen features and only then fine-tuning everything (LP-FT, Kumar et al. 2022) keeps more of
    them and carries over better to data unlike the training data. A frozen backbone's BatchNorm
    layers keep their ImageNet statistics (Keras runs a non-trainable BatchNorm in inference mode).
    Returns the probe's history; the caller compiles the model again for fine-tuning.
    """
    backbone = model.get_layer(BACKBONE_LAYER)
    backbone.trainable = False
    try:
        _compile(model, PROBE_LEARNING_RATE, train_data)
        fit_ready(model, train_data)
        fit = model.fit(
            train_data,
            validation_data=val_data,
            epochs=epochs,
            callbacks=[_EpochLog(log, epochs, "head-only epoch")],
            verbose=0,
            shuffle=False,
        )
    finally:
        backbone.trainable = True
    return {key: [float(v) for v in values] for key, values in fit.history.items()}


def freeze_backbone_norms(model: keras.Model) -> int:
    """Make every BatchNorm layer of the backbone non-trainable; return how many there are.

    Why: the moving statistics a fine-tuned BatchNorm ends with are a running mean over about the
    last hundred augmented training batches (momentum 0.99), not the statistics of the final weights.
    Measured again on 1024 training faces (``deepfake-core wise --alpha 1 --refresh-norms``), mean
    shifts of mostly 1-3 % of a standard deviation moved the logits of unseen StyleGAN2 faces by up to 6
    toward Fake and the StyleGAN fold's unseen ROC AUC from 0.83 to 0.90, whether the faces were
    augmented as in training or not: verdicts on faces unlike the training faces hang on small
    differences in those statistics. Keras runs a non-trainable BatchNorm in inference mode, so with
    its pretrained (ImageNet) statistics and scales fixed the network fine-tunes on the same
    normalisation it is used with. On the leave-one-out folds it lost more than it gained (the
    hard seen kinds on the StyleGAN fold, the unseen generator on the diffusion fold;
    docs/experiments.md), so the shipped recipe does not use it.
    """
    norms = batch_norms(model.get_layer(BACKBONE_LAYER))
    for layer in norms:
        layer.trainable = False
    return len(norms)


def train(
    config: TrainConfig,
    manifest: SplitManifest,
    data_root: str | Path,
    output: str | Path,
    *,
    name: str | None = None,
    log: LogFn = print,
    cache_dir: str | Path | None = None,
) -> TrainResult:
    """Train on ``manifest``'s train split, calibrate on validation, write ``output`` (.keras) + card + history.

    ``cache_dir`` holds the aligned face crops when ``config.face_crop`` is on
    (default: :func:`deepfake_core.face_data.default_cache_dir`).
    """
    if config.freeze_norms and config.from_scratch:
        raise DataSetError(
            f"Only pretrained norms can be kept: the {config.backbone} backbone starts from random weights."
        )
    if config.anchor_decay and config.from_scratch:
        raise DataSetError(
            f"Anchor decay pulls toward pretrained weights: the {config.backbone} backbone starts from random weights."
        )
    if config.single_center and (config.mixup or config.average_from):
        raise DataSetError(
            "The single-center loss needs whole faces with one label each and trains a second output: "
            "it cannot be combined with mixup or weight averaging."
        )
    if config.kind_head and (config.mixup or config.average_from or config.single_center or config.probe_epochs):
        raise DataSetError(
            "The kind head needs whole faces with one kind each and trains a second output from the start: "
            "it cannot be combined with mixup, weight averaging, the single-center loss or a head-only probe."
        )
    keras.utils.set_random_seed(config.seed)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    name = name or output.name.removesuffix(".keras")
    left_out = set(config.exclude_kinds)
    unknown = left_out - {record.kind for part in manifest.splits.values() for record in part}
    if unknown:
        raise DataSetError(f"Cannot leave out {', '.join(sorted(unknown))}: no such kind in the split manifest.")
    train_records, val_records = _records_without(manifest, left_out)
    if left_out:
        log(f"left out of training and validation (unseen): {', '.join(sorted(left_out))}")
    if config.max_per_kind is not None:
        train_records = cap_per_kind(train_records, config.max_per_kind, seed=config.seed)
    draft = _card(config, train_records, name=name, weights_file=output.name, sha256=None)
    crops = _face_crops(draft, [*train_records, *val_records], data_root, cache_dir, log)
    face_coverage = None
    if crops is not None:
        face_coverage = {
            "train": crops.coverage(train_records),
            "validation": crops.coverage(val_records),
        }
        train_records = [record for record in train_records if record.id in crops.crops]
        val_records = [record for record in val_records if record.id in crops.crops]
        log(f"face step: {len(crops.misses)} images without a usable face are left out")
    pseudo = pseudo_fake_records(train_records, config.self_blend, seed=config.seed)
    if pseudo:
        log(f"adding {len(pseudo)} self-blended pseudo-fakes (redrawn every epoch)")
    fitted_records = [*train_records, *pseudo]
    weights = kind_weights(fitted_records, config.kind_balance) if config.kind_balance > 0 else None
    log(f"training {name}: {len(fitted_records)} train / {len(val_records)} validation images; kind weights {weights}")
    kinds = kind_index(record.kind for record in fitted_records) if config.kind_head else None
    if kinds is not None and (unnamed := {record.kind for record in val_records} - set(kinds)):
        raise DataSetError(f"The kind head cannot name {', '.join(sorted(unnamed))}: no training face is of that kind.")
    train_data = make_dataset(
        fitted_records,
        data_root,
        draft,
        batch_size=config.batch_size,
        shuffle=True,
        augment_config=config.augment_config if config.augment else None,
        weights=weights,
        seed=config.seed,
        crops=crops,
        kinds=kinds,
    )
    # un-augmented, un-shuffled faces: validation during training, then the familiarity statistics
    plain = TrainingFaces(draft, Path(data_root), train_records, val_records, crops)
    val_data = plain.dataset("validation")
    if config.mixup:
        train_data = mix_up(train_data, config.mixup, len(LABELS), seed=config.seed)
        val_data = one_hot_labels(val_data, len(LABELS))

    model = build_model(
        backbone=config.backbone,
        input_size=config.input_size,
        attention=config.attention,
        head=config.head,
        backbone_weights=config.backbone_weights,
        num_classes=len(LABELS),
        name=name,
    )
    if config.init_from:
        _start_from(model, config.init_from, log)
    started = time.perf_counter()
    probe = probe_head(model, train_data, val_data, config.probe_epochs, log) if config.probe_epochs else None
    if config.freeze_norms:  # after the probe, which makes the whole backbone trainable again
        log(f"{freeze_backbone_norms(model)} BatchNorm layers of the backbone keep their pretrained statistics")
    steps_per_epoch = -(-len(fitted_records) // config.batch_size)
    learning_rate = learning_rate_for(config, steps_per_epoch)
    if config.single_center:  # a training model with a second output; fitting it trains ``model``
        trainer = compile_with_single_center(model, learning_rate, config.single_center)
        train_data, fit_val_data = center_targets(train_data), center_targets(val_data)
        monitor = f"val_{PREDICTIONS_OUTPUT}_loss"  # epochs are chosen by the cross-entropy, as without it
    elif kinds is not None:  # the same, with a softmax over the kinds as the second output
        trainer = compile_with_kind_head(model, learning_rate, config.kind_head, kinds)
        fit_val_data = plain.dataset("validation", kinds=kinds)
        monitor = f"val_{PREDICTIONS_OUTPUT}_loss"
    else:
        _compile(model, learning_rate, train_data)
        trainer, fit_val_data, monitor = model, val_data, "val_loss"
    averaging = WeightAverage(config.average_from) if config.average_from else None
    callbacks = [
        *([averaging] if averaging else []),
        *([EpochWeights(model, config.keep_epochs)] if config.keep_epochs else []),
        *(
            [AnchorDecay(model.get_layer(BACKBONE_LAYER).trainable_weights, config.anchor_decay)]
            if config.anchor_decay
            else []
        ),
        keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=config.patience, restore_best_weights=True),
        *(
            [keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="min", factor=0.5, patience=2, min_lr=1e-5)]
            if config.lr_schedule == "plateau"
            else []
        ),
        _EpochLog(log, config.epochs),
    ]
    fit_ready(trainer, train_data)
    # the tf.data pipeline shuffles itself (seeded); Keras must not try to
    fit = trainer.fit(
        train_data, validation_data=fit_val_data, epochs=config.epochs, callbacks=callbacks, verbose=0, shuffle=False
    )
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    seconds = time.perf_counter() - started

    training = {
        "data": manifest.root_name,
        "split_manifest_sha256": manifest.sha256,
        "split_seed": manifest.seed,
        "split_counts": manifest.counts(),
        "seen_kinds": seen_kinds(train_records),
        "config": config.to_dict(),
        "kind_weights": weights,
        **({"kind_head_classes": list(kinds)} if kinds else {}),
        "face_coverage": face_coverage,
        "epochs_run": len(history.get("loss", [])),
        **({"head_only": {"learning_rate": PROBE_LEARNING_RATE, "history": probe}} if probe else {}),
        "seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    save = _TrainedModelWriter(config, train_records, plain, history, training, log)
    if averaging is None:
        return save(model, output, name)
    # the best epoch (what the run would have written without averaging) goes beside, for comparison
    best_output = output.with_name(f"{output.name.removesuffix('.keras')}{BEST_EPOCH_SUFFIX}.keras")
    best_loss = min(history["val_loss"])  # EarlyStopping restored the weights of that epoch
    save(model, best_output, f"{name}{BEST_EPOCH_SUFFIX}", config=replace(config, average_from=None))
    if averaging.steps == 0:
        raise DataSetError(
            f"Training stopped after {training['epochs_run']} epochs, before weight averaging was to start "
            f"(epoch {config.average_from}); the best epoch is in {best_output}."
        )
    model.set_weights(averaging.averaged_weights(model.get_weights()))
    average_loss = model.evaluate(val_data, verbose=0)[0]
    log(
        f"weights averaged over {averaging.steps} steps: validation loss {average_loss:.4f}, best epoch {best_loss:.4f}"
    )
    averaged = {
        "from_epoch": config.average_from,
        "steps": averaging.steps,
        "val_loss": float(average_loss),
        "best_epoch_val_loss": float(best_loss),
    }
    return save(model, output, name, details={"weight_average": averaged})


BEST_EPOCH_SUFFIX = "_best_epoch"
"""A run that averages its weights also writes its best epoch's weights as ``NAME_best_epoch.keras``."""


@dataclass(frozen=True)
class _TrainedModelWriter:
    """Calibrate a trained network on its validation faces, fit its familiarity statistics, save it with its card."""

    config: TrainConfig
    train_records: list[ImageRecord]
    faces: TrainingFaces
    history: dict[str, list[float]]
    training: dict[str, Any]
    log: LogFn

    def __call__(
        self,
        model: keras.Model,
        output: Path,
        name: str,
        *,
        config: TrainConfig | None = None,
        details: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Write ``model`` as ``output``; ``details`` join the card's training section (beside the run's own)."""
        config = config or self.config
        draft = replace(self.faces.card, name=name, weights_file=output.name)
        temperature, familiarity = calibrate_beside(Detector(model, draft, batch_size=64), self.faces, output, self.log)
        without_optimizer(model).save(output)
        card = _card(
            config,
            self.train_records,
            name=name,
            weights_file=output.name,
            sha256=file_sha256(output),
            temperature=temperature,
            familiarity=familiarity,
            training={
                **self.training,
                **(details or {}),
                "config": config.to_dict(),
                "history_file": history_path_for(output).name,
            },
        )
        save_card(card, card_path_for(output))
        history_path_for(output).write_text(json.dumps(self.history, indent=1) + "\n", encoding="utf-8")
        return TrainResult(model_path=output, card=card, history=self.history)


def _records_without(manifest: SplitManifest, left_out: set[str]) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """The training and validation records of ``manifest`` without the kinds left out."""
    train_records, val_records = (
        [record for record in manifest.splits[part] if record.kind not in left_out] for part in ("train", "validation")
    )
    return train_records, val_records


def _face_crops(
    card: ModelCard, records: Sequence[ImageRecord], data_root: str | Path, cache_dir: str | Path | None, log: LogFn
) -> FaceCropIndex | None:
    """The cached aligned crops of ``records`` for a card with a face step, ``None`` without one."""
    if card.face_crop is None:
        return None
    return build_face_crops(records, data_root, card.face_crop, size=card.input_size, cache_dir=cache_dir, log=log)


def _pooled_features(detector: Detector, dataset: tf.data.Dataset) -> np.ndarray | None:
    """The pooled features ``(N, D)`` of every image of an un-shuffled dataset (``None`` without a feature layer)."""
    batches = [detector.forward(batch)[1] for batch, *_ in dataset.as_numpy_iterator()]
    return None if batches[0] is None else np.concatenate(batches)


def calibrate_beside(
    detector: Detector, faces: TrainingFaces, model_path: Path, log: LogFn, *, familiarity: bool = True
) -> tuple[float, FamiliaritySpec | None]:
    """Fit the temperature on ``faces``' validation faces and (``familiarity``) the statistics beside ``model_path``.

    Both come from ``detector``'s own outputs, so they follow everything its card says
    (mirror averaging included); one pass over the validation faces serves both.
    """
    val_probabilities, val_features = detector.forward(
        np.concatenate([batch for batch, _ in faces.dataset("validation").as_numpy_iterator()])
    )
    targets = np.array([detector.card.labels.index(record.label) for record in faces.validation])
    temperature = fit_temperature(val_probabilities, targets)
    log(f"fitted temperature {temperature:.3f} on {len(targets)} validation images")
    if not familiarity:
        return temperature, None
    train_features = _pooled_features(detector, faces.dataset("train"))
    return temperature, fit_familiarity_beside(detector, train_features, val_features, model_path, log)


def refitted_card(
    model: Any, card: ModelCard, faces: TrainingFaces, output: Path, log: LogFn, *, name: str | None, **changes: Any
) -> ModelCard:
    """Refit the temperature (and familiarity, when ``card`` had it) for ``model``, saved as ``output``; save its card.

    The shared last step of every command that makes a model from a trained one (mirror, soup, texture probe).
    ``changes`` apply to the refit's draft card too, so one that shapes the outputs (mirror averaging) is
    fitted on the outputs it will give.
    """
    draft = replace(card, **changes, temperature=1.0)
    temperature, familiarity = calibrate_beside(
        Detector(model, draft, batch_size=64), faces, output, log, familiarity=card.familiarity is not None
    )
    new_card = derived_card(card, output, name=name, temperature=temperature, familiarity=familiarity, **changes)
    save_card(new_card, card_path_for(output))
    return new_card


def fit_familiarity_beside(
    detector: Detector, train_features: np.ndarray | None, val_features: np.ndarray | None, model_path: Path, log: LogFn
) -> FamiliaritySpec:
    """Fit the "unlike the training faces" statistics on un-augmented training faces; write them beside the model."""
    layer = feature_layer_name(detector.model)
    if layer is None or train_features is None or val_features is None:
        raise DataSetError(f"{detector.card.name} has no pooled-feature layer ({', '.join(FEATURE_LAYERS)}).")
    fitted = fit_familiarity(train_features, val_features, layer=layer, quantile=DEFAULT_QUANTILE)
    path = familiarity_path_for(model_path)
    flagged = float(np.mean(fitted.flags(fitted.distances(val_features))))
    log(f"familiarity: {len(train_features)} training faces, threshold {fitted.threshold:.2f}, {flagged:.1%} flagged")
    return FamiliaritySpec(
        file=path.name,
        sha256=save_familiarity(fitted, path),
        layer=layer,
        threshold=fitted.threshold,
        quantile=DEFAULT_QUANTILE,
        k=fitted.k,
        n_reference=len(fitted.reference),
        n_train=len(train_features),
        n_validation=len(val_features),
        validation_flagged=flagged,
    )


def fit_familiarity_from_manifest(
    model_path: str | Path,
    manifest: SplitManifest,
    data_root: str | Path,
    *,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
) -> ModelCard:
    """Fit (or refit) the familiarity statistics of a trained model and store them in its card.

    Uses the same training and validation faces as the model's own training run
    (the card's ``exclude_kinds`` stay out, its ``max_per_kind`` draw is repeated); the
    weights, and so the model id, do not change.
    """
    from deepfake_core.loading import load_detector

    model_path = Path(model_path)
    # the old section may be unreadable (a card from before the neighbour distance): it is replaced anyway
    save_card(load_card(card_path_for(model_path), without_familiarity=True), card_path_for(model_path))
    detector = load_detector(model_path)
    card = detector.card
    faces = training_faces(card, manifest, data_root, cache_dir=cache_dir, log=log, name=model_path.name)
    train_features, val_features = (_pooled_features(detector, faces.dataset(part)) for part in ("train", "validation"))
    familiarity = fit_familiarity_beside(detector, train_features, val_features, model_path, log)
    training = {**card.training, "seen_kinds": card.training.get("seen_kinds") or seen_kinds(faces.train)}
    updated = replace(card, familiarity=familiarity, training=training)
    save_card(updated, card_path_for(model_path))
    return updated


@dataclass(frozen=True)
class TrainingFaces:
    """The training and validation faces a trained model saw, with their crops, for steps after training."""

    card: ModelCard
    data_root: Path
    train: list[ImageRecord]
    validation: list[ImageRecord]
    crops: FaceCropIndex | None

    def dataset(self, part: str, *, kinds: Mapping[str, int] | None = None) -> tf.data.Dataset:
        """Un-shuffled, un-augmented ``(image batch, label index)`` of ``part`` ("train" or "validation").

        With ``kinds`` the labels are those of a training model with a kind head (see :func:`make_dataset`).
        """
        records = self.train if part == "train" else self.validation
        return make_dataset(
            records, self.data_root, self.card, batch_size=64, shuffle=False, crops=self.crops, kinds=kinds
        )


def training_faces(
    card: ModelCard,
    manifest: SplitManifest,
    data_root: str | Path,
    *,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
    name: str = "the model",
) -> TrainingFaces:
    """The same training and validation faces as the model's own training run.

    The card's ``exclude_kinds`` stay out and its ``max_per_kind`` draw is repeated, so a step
    fitted after training (familiarity statistics, texture probe) sees what the network saw.
    """
    if card.training.get("split_manifest_sha256") not in (None, manifest.sha256):
        raise DataSetError(f"{name} was trained on another split manifest than the one given.")
    config = card.training.get("config", {})
    train_records, val_records = _records_without(manifest, set(card.left_out_kinds))
    if config.get("max_per_kind") is not None:
        train_records = cap_per_kind(train_records, config["max_per_kind"], seed=config.get("seed", 0))
    crops = _face_crops(card, [*train_records, *val_records], data_root, cache_dir, log)
    if crops is not None:
        train_records = [record for record in train_records if record.id in crops.crops]
        val_records = [record for record in val_records if record.id in crops.crops]
    return TrainingFaces(card, Path(data_root), train_records, val_records, crops)


def _start_from(model: keras.Model, path: str, log: LogFn) -> None:
    """Copy the weights of the model file ``path`` into ``model`` (its card must describe the same network)."""
    from deepfake_core.loading import load_detector  # checks the file against its card's sha256

    source = load_detector(path).model
    shapes = [tuple(weight.shape) for weight in source.weights]
    if shapes != [tuple(weight.shape) for weight in model.weights]:
        raise DataSetError(f"Cannot start from {path}: its network differs from the one this run trains.")
    model.set_weights(source.get_weights())
    log(f"starting from the weights of {path}")


def without_optimizer(model: keras.Model) -> keras.Model:
    """The same layers (and weights) as an uncompiled model, so its file holds no optimizer state.

    Adam keeps two moments per weight: saved with them, an EfficientNet-Lite0 detector's file
    is 50 MB instead of 17 MB, and nothing that loads a detector needs them.
    """
    return keras.Model(model.inputs, model.outputs, name=model.name)


def _start(config: TrainConfig) -> str:
    """How the card describes where training began."""
    if config.init_from:
        return f"trained further from {Path(config.init_from).name}"
    if config.backbone_weights:
        return "fine-tuned from supplied weights"
    return "trained from scratch" if config.from_scratch else "fine-tuned from ImageNet weights"


def _card(
    config: TrainConfig,
    train_records: Sequence[ImageRecord],
    *,
    name: str,
    weights_file: str,
    sha256: str | None,
    temperature: float = 1.0,
    familiarity: FamiliaritySpec | None = None,
    training: dict[str, Any] | None = None,
) -> ModelCard:
    attention = " + attention" if config.attention else ""
    faces = " aligned" if config.face_crop else ""
    averaged = (
        f"; weights averaged over the training steps from epoch {config.average_from} on" if config.average_from else ""
    )
    epochs = f"{config.probe_epochs} epoch{'s' if config.probe_epochs != 1 else ''}"
    probed = f" after {epochs} of training the head alone" if config.probe_epochs else ""
    mixed = f"; mixup (alpha {config.mixup:g}) of the training faces" if config.mixup else ""
    named = f"; a training-only head named each face's kind (weight {config.kind_head:g})" if config.kind_head else ""
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
        description=f"{config.backbone}{attention} {_start(config)}{probed} on{faces} face crops (real vs generated)"
        f"{mixed}{named}{averaged}.",
        face_crop=FaceCropSpec() if config.face_crop else None,
        familiarity=familiarity,
        mirror_average=config.mirror_average,
        jpeg_quality=config.jpeg_quality,
        training=training or {},
        limitations=limitations(train_records, face_crop=config.face_crop),
        licences=(
            *data_licences(sorted({record.kind for record in train_records})),
            *(
                (LITE_VARIANTS[config.backbone].licence,)
                if config.backbone in PRETRAINED_BACKBONES and not config.backbone_weights
                else ()
            ),
        ),
    )
