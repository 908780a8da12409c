"""Which "unlike the training faces" score flags most wrong verdicts on a generator the model never saw?

Usage::

    python benchmarks/familiarity.py --model runs/loo_diffusion.keras [--manifest model/split_manifest.json]

Takes a leave-one-generator-out model (its card names the left-out kinds),
extracts its features for the training, validation and test faces (the cached
aligned crops), and compares flag scores, each with its threshold at the 95th
percentile of the validation faces (so about 5 % of them are flagged):

- Mahalanobis distance (Ledoit-Wolf) to the mean of all training faces, on the pooled features
  the head reads and on the head's dense layer (what the flag used first);
- the same distance to the nearest training kind's mean, under the pooled within-kind
  covariance (Lee et al. 2018 use class means; here each data source is a class);
- the distance to the k-th nearest training face on L2-normalised features
  (Sun et al. 2022), on both layers, over all training faces;
- the shipped flag (:func:`deepfake_core.familiarity.fit_familiarity`): the same distance to the
  3rd nearest of a seeded sample of 2,000 training faces.

Prints, per score, the share of test faces flagged, of wrong verdicts flagged,
and of the missed unseen fakes flagged; flags drawn at random at a score's rate
would flag that same share of any group (the baseline to beat). Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.covariance import LedoitWolf

from deepfake_core.data import load_manifest
from deepfake_core.detector import mirror_mean
from deepfake_core.face_data import build_face_crops
from deepfake_core.familiarity import fit_familiarity, unit_rows
from deepfake_core.loading import load_detector
from deepfake_core.preprocess import prepare_batch


def knn_scores(train: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Distance to the k-th nearest training row, on L2-normalised rows."""
    train, query = unit_rows(train), unit_rows(query)
    scores = np.empty(len(query))
    for start in range(0, len(query), 512):
        similarity = query[start : start + 512] @ train.T
        scores[start : start + 512] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.sort(similarity, axis=1)[:, -k]))
    return scores


def mahalanobis_scores(train: np.ndarray, val: np.ndarray, query: np.ndarray) -> tuple:
    """Mahalanobis distance to the training mean under a Ledoit-Wolf shrunk covariance."""
    estimate = LedoitWolf().fit(train)
    return np.sqrt(estimate.mahalanobis(val)), np.sqrt(estimate.mahalanobis(query))


def per_kind_scores(train: np.ndarray, kinds: np.ndarray, val: np.ndarray, query: np.ndarray) -> tuple:
    """Distance to the nearest training kind's mean under the pooled within-kind covariance (Lee et al. 2018)."""
    names = sorted(set(kinds.tolist()))
    means = np.stack([train[kinds == name].mean(axis=0) for name in names])
    pooled = LedoitWolf().fit(train - means[np.searchsorted(names, kinds)])

    def score(rows: np.ndarray) -> np.ndarray:
        return np.sqrt(np.min([pooled.mahalanobis(rows - mean + pooled.location_) for mean in means], axis=0))

    return score(val), score(query)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, default=Path("model/split_manifest.json"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    detector = load_detector(args.model)
    card = detector.card
    left_out = set(card.training["config"]["exclude_kinds"])
    manifest = load_manifest(args.manifest)
    parts = {
        name: [r for r in manifest.splits[name] if name == "test" or r.kind not in left_out]
        for name in ("train", "validation", "test")
    }
    crops = build_face_crops(
        [r for records in parts.values() for r in records], args.data, card.face_crop, size=card.input_size
    )
    parts = {name: [r for r in records if r.id in crops.crops] for name, records in parts.items()}
    layers = ("rescale_gap", "head_dense")
    extractor = keras.Model(detector.model.inputs, [detector.model.get_layer(n).output for n in layers])

    def outputs_of(batch: tf.Tensor) -> list[tf.Tensor]:
        return list(extractor(batch, training=False))

    def extract(batch: np.ndarray) -> list[tf.Tensor]:
        """Both layers' outputs; for a mirror-averaging card the mean over face and mirror, as the flag reads them."""
        return mirror_mean(outputs_of, tf.constant(batch)) if card.mirror_average else outputs_of(tf.constant(batch))

    features: dict[str, dict[str, np.ndarray]] = {}
    for name, records in parts.items():
        outputs = [[] for _ in layers]
        for start in range(0, len(records), 256):
            batch = prepare_batch([crops.load(r.id) for r in records[start : start + 256]], card)
            for store, value in zip(outputs, extract(batch), strict=True):
                store.append(np.asarray(value))
        features[name] = {layer: np.concatenate(store) for layer, store in zip(layers, outputs, strict=True)}
    test = parts["test"]
    p_fake = np.array([p.p_fake for p in detector.predict_batch([crops.load(r.id) for r in test])])
    fake = np.array([r.is_fake for r in test])
    wrong = (p_fake >= card.threshold) != fake
    missed_unseen = wrong & fake & np.array([r.kind in left_out for r in test])
    print(
        f"model {card.model_id}; unseen kinds {sorted(left_out)}; {len(test)} test faces, {wrong.sum()} wrong, "
        f"{missed_unseen.sum()} missed unseen fakes"
    )
    print(f"{'score':<36} {'flagged (= random baseline)':>27} {'wrong flagged':>14} {'missed unseen flagged':>22}")
    for layer in layers:
        train, val, query = (features[name][layer] for name in ("train", "validation", "test"))
        shipped = fit_familiarity(train, val, layer=layer)
        kinds = np.array([r.kind for r in parts["train"]])
        candidates = {
            f"mahalanobis {layer}": mahalanobis_scores(train, val, query),
            f"per-kind mahalanobis {layer}": per_kind_scores(train, kinds, val, query),
            f"knn{args.k} all {layer}": (knn_scores(train, val, args.k), knn_scores(train, query, args.k)),
            f"shipped knn{shipped.k} of {len(shipped.reference)} {layer}": (
                shipped.distances(val),
                shipped.distances(query),
            ),
        }
        for name, (val_scores, test_scores) in candidates.items():
            flags = test_scores > np.quantile(val_scores, 0.95)
            print(
                f"{name:<36} {flags.mean():>27.1%} {(flags & wrong).sum() / wrong.sum():>14.1%} "
                f"{(flags & missed_unseen).sum() / max(1, missed_unseen.sum()):>22.1%}"
            )


if __name__ == "__main__":
    main()
