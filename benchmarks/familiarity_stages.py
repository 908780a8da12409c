"""Would the "unlike the training faces" flag mark more unseen fakes if it also read the backbone's earlier stages?

Usage::

    python benchmarks/familiarity_stages.py --model runs/loo/lite0_variety_loo_diffusion_mirror.keras \
        [--cache /tmp/stages_diffusion.npz]

The shipped flag reads only the pooled features the head reads, and those are trained to say
Real or Fake, not to describe a face. Earlier stages of the backbone hold texture and colour
statistics that training changes less, which is where an unfamiliar generator might stand out
(Lee et al. 2018 score every stage). For a leave-one-generator-out model (its card names the
left-out kinds), this extracts, over the face and its mirror as the flag does:

- the pooled features (the shipped flag's input);
- each stage's per-channel mean and standard deviation over the image (seven stages, 64x64 to 4x4);

and scores each face by the distance to the 3rd nearest of 2,000 training faces on each
(:func:`deepfake_core.familiarity.fit_familiarity`), plus three combinations: the largest and the
mean of the stages' distances as z-scores against the validation faces', and one neighbour
distance on all of them joined (each unit length). Every score's threshold is the 95th
percentile of the validation faces, as the shipped flag's.

Per score it prints the share flagged of the validation, seen test, unseen and people-photo faces;
the share of wrong seen verdicts and of missed unseen fakes flagged; how well the score alone tells
the unseen fakes from the seen test reals and from the people photos (ROC AUC; 0.5 is no better
than chance); and the unseen fakes' ROC AUC against those reals when every flagged verdict's
P(fake) is set to 0.5, i.e. presented as "unknown" rather than as a confident verdict. The people
photos are a real source no model trained on, so flags there are the price. Needs
``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from deepfake_core.architecture import BACKBONE_LAYER
from deepfake_core.data import ImageRecord, load_manifest, scan_dataset
from deepfake_core.detector import Detector, feature_layer_name, mirror_mean
from deepfake_core.efficientnet_lite import stage_output_names
from deepfake_core.evaluation.metrics import auc_fakes_against
from deepfake_core.face_data import FaceCropIndex, build_face_crops
from deepfake_core.familiarity import fit_familiarity, unit_rows
from deepfake_core.loading import load_detector
from deepfake_core.preprocess import prepare_batch

STAGES = stage_output_names("efficientnet_lite0")
"""The last block of each stage (64x64 down to 4x4 on a 128 px crop)."""
PARTS = ("train", "validation", "test", "unseen", "photos")
SCORED = PARTS[1:]


def stage_features(detector: Detector, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Pooled features, then each stage's channel means and standard deviations; mirror-averaged as the card says."""
    backbone = detector.model.get_layer(BACKBONE_LAYER)
    stages = keras.Model(backbone.inputs, [backbone.get_layer(name).output for name in STAGES])
    pooled = keras.Model(detector.model.inputs, [detector.model.get_layer(feature_layer_name(detector.model)).output])

    def outputs(batch: tf.Tensor) -> list[tf.Tensor]:
        maps = stages(batch, training=False)
        statistics = [tf.concat([tf.reduce_mean(m, axis=[1, 2]), tf.math.reduce_std(m, axis=[1, 2])], 1) for m in maps]
        return [pooled(batch, training=False), *statistics]

    store: list[list[np.ndarray]] = [[] for _ in range(len(STAGES) + 1)]
    for start in range(0, len(images), 128):
        batch = tf.constant(prepare_batch(images[start : start + 128], detector.card))
        values = mirror_mean(outputs, batch) if detector.card.mirror_average else outputs(batch)
        for bucket, value in zip(store, values, strict=True):
            bucket.append(np.asarray(value))
    return [np.concatenate(bucket) for bucket in store]


def collect(args: argparse.Namespace, detector: Detector) -> dict[str, np.ndarray]:
    """Features (``<part>_<i>``), calibrated P(fake) (``p_<part>``) and labels (``fake_<part>``) of every part."""
    card = detector.card
    left_out = set(card.training["config"]["exclude_kinds"])
    if not left_out:
        raise SystemExit(f"{args.model} left no kind out of training: give a leave-one-generator-out model.")
    manifest = load_manifest(args.manifest)
    train = [r for r in manifest.splits["train"] if r.kind not in left_out]
    keep = np.sort(np.random.default_rng(0).choice(len(train), size=min(args.train_sample, len(train)), replace=False))
    parts: dict[str, list[ImageRecord]] = {
        "train": [train[i] for i in keep],
        "validation": [r for r in manifest.splits["validation"] if r.kind not in left_out],
        "test": [r for r in manifest.splits["test"] if r.kind not in left_out],
        "unseen": [r for split in manifest.splits.values() for r in split if r.kind in left_out],
    }
    crops = build_face_crops([r for rs in parts.values() for r in rs], args.data, card.face_crop, size=card.input_size)
    photos = [r for r in scan_dataset(args.photos) if r.label == "Real"]
    photo_crops = build_face_crops(photos, args.photos, card.face_crop, size=card.input_size)
    sources: dict[str, tuple[list[ImageRecord], FaceCropIndex]] = {
        name: ([r for r in records if r.id in crops.crops], crops) for name, records in parts.items()
    }
    sources["photos"] = ([r for r in photos if r.id in photo_crops.crops], photo_crops)
    arrays: dict[str, np.ndarray] = {}
    for name, (records, index) in sources.items():
        images = [index.load(r.id) for r in records]
        for i, values in enumerate(stage_features(detector, images)):
            arrays[f"{name}_{i}"] = values
        if name != "train":
            arrays[f"p_{name}"] = np.array([p.p_fake for p in detector.predict_batch(images)])
            arrays[f"fake_{name}"] = np.array([r.is_fake for r in records], dtype=bool)
    return arrays


def neighbour_distances(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The shipped flag's score (3rd nearest of 2,000 training faces, unit length) for every scored part."""
    fitted = fit_familiarity(features["train"], features["validation"], layer="benchmark")
    return {part: fitted.distances(features[part]) for part in SCORED}


def z_scores(distances: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each part's distances against the validation faces' mean and spread, so stages can be compared."""
    validation = distances["validation"]
    return {part: (values - validation.mean()) / validation.std() for part, values in distances.items()}


def scores(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Every candidate score, per scored part."""
    names = ["pooled", *STAGES]
    result = {
        name: neighbour_distances({part: arrays[f"{part}_{i}"] for part in PARTS}) for i, name in enumerate(names)
    }
    z = {name: z_scores(result[name]) for name in names}
    result["largest z, all stages + pooled"] = {part: np.max([z[n][part] for n in names], axis=0) for part in SCORED}
    result["mean z, all stages + pooled"] = {part: np.mean([z[n][part] for n in names], axis=0) for part in SCORED}
    joined = {part: np.hstack([unit_rows(arrays[f"{part}_{i}"]) for i in range(len(names))]) for part in PARTS}
    result["one distance, all joined"] = neighbour_distances(joined)
    return result


def separation(unseen: np.ndarray, reals: np.ndarray) -> float:
    """ROC AUC of a score telling the unseen fakes (positive) from ``reals``."""
    return float(roc_auc_score(np.r_[np.ones(len(unseen)), np.zeros(len(reals))], np.r_[unseen, reals]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, default=Path("model/split_manifest.json"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/people_photos"))
    parser.add_argument("--train-sample", type=int, default=3000, help="training faces whose features are read")
    parser.add_argument("--cache", type=Path, help="an .npz to keep the features in (read if it exists)")
    args = parser.parse_args()

    detector = load_detector(args.model)
    if args.cache and args.cache.exists():
        with np.load(args.cache, allow_pickle=False) as saved:
            arrays = dict(saved)
    else:
        arrays = collect(args, detector)
        if args.cache:
            np.savez(args.cache, **arrays)
    p = {part: arrays[f"p_{part}"] for part in SCORED}
    fake = {part: arrays[f"fake_{part}"] for part in SCORED}
    threshold = detector.card.threshold
    wrong = (p["test"] >= threshold) != fake["test"]
    missed = p["unseen"] < threshold
    test_reals = ~fake["test"]
    print(
        f"{detector.card.model_id}: {len(p['unseen'])} unseen fakes ({missed.sum()} missed), "
        f"{len(p['test'])} seen test faces ({wrong.sum()} wrong), {len(p['photos'])} photo faces "
        f"({(p['photos'] >= threshold).sum()} called Fake)"
    )
    print(
        f"unseen fakes' ROC AUC as scored: {auc_fakes_against(p['unseen'], p['test'][test_reals]):.3f} against "
        f"the seen test reals, {auc_fakes_against(p['unseen'], p['photos']):.3f} against the photo faces"
    )
    print(
        f"{'score':<32} {'flagged: val':>12} {'test':>6} {'unseen':>6} {'photos':>6} {'wrong':>6} {'missed':>6} "
        f"{'alone: vs reals':>15} {'vs photos':>9} {'flagged at 0.5: vs reals':>24} {'vs photos':>9}"
    )
    for name, distance in scores(arrays).items():
        cut = np.quantile(distance["validation"], 0.95)
        flags = {part: distance[part] > cut for part in SCORED}
        shown = {part: np.where(flags[part], 0.5, p[part]) for part in ("test", "unseen", "photos")}
        print(
            f"{name:<32} {flags['validation'].mean():>12.1%} {flags['test'].mean():>6.1%} "
            f"{flags['unseen'].mean():>6.1%} {flags['photos'].mean():>6.1%} "
            f"{(flags['test'] & wrong).sum() / max(1, wrong.sum()):>6.1%} "
            f"{(flags['unseen'] & missed).sum() / max(1, missed.sum()):>6.1%} "
            f"{separation(distance['unseen'], distance['test'][test_reals]):>15.3f} "
            f"{separation(distance['unseen'], distance['photos']):>9.3f} "
            f"{auc_fakes_against(shown['unseen'], shown['test'][test_reals]):>24.3f} "
            f"{auc_fakes_against(shown['unseen'], shown['photos']):>9.3f}"
        )


if __name__ == "__main__":
    main()
