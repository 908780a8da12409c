"""How far does fine-tuning carry a run's backbone from its ImageNet start, epoch by epoch?

Usage::

    python benchmarks/drift.py runs/loo_epochs/lite0_epochs_loo_stylegan_epochs \\
        runs/loo_lr/lite0_lr3e5_loo_stylegan_epochs

Each argument is a folder ``train --keep-epochs`` wrote; the run's model is the ``.keras`` file beside
it with the same name less ``_epochs``. For every kept epoch this prints the squared Euclidean
distance of the backbone's trainable weights (kernels, BatchNorm scales and offsets; not the moving
statistics, which are measured rather than learnt) from the ImageNet weights the run started from,
and that distance as a share of the start's own length. A distance that grows in proportion to
the steps taken is what a random walk does (a consistent pull grows with the square of the steps
until it settles), which is why ``train --anchor-decay`` pulls back toward the start
(:mod:`deepfake_core.anchor_decay`). Reads the installed ImageNet weights and the runs' files only;
no data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np

from deepfake_core.architecture import BACKBONE_LAYER
from deepfake_core.efficientnet_lite import build_efficientnet_lite
from deepfake_core.loading import load_detector
from deepfake_core.training import load_epoch_weights


def backbone_drift(epochs_dir: Path) -> tuple[str, dict[int, float], float]:
    """The run's name, each kept epoch's squared distance from the ImageNet start, and the start's squared length."""
    model_path = epochs_dir.with_name(epochs_dir.name.removesuffix("_epochs") + ".keras")
    if not model_path.is_file():
        raise SystemExit(f"{epochs_dir}: no {model_path.name} beside it, as train --keep-epochs leaves")
    detector = load_detector(str(model_path))
    model = detector.model
    backbone_ids = {id(variable) for variable in model.get_layer(BACKBONE_LAYER).trainable_weights}
    positions = [index for index, variable in enumerate(model.weights) if id(variable) in backbone_ids]
    imagenet = build_efficientnet_lite(detector.card.backbone, detector.card.input_size, None)
    start = [keras.ops.convert_to_numpy(variable) for variable in imagenet.trainable_weights]
    if len(start) != len(positions):
        raise SystemExit(f"{epochs_dir}: the run's backbone does not match {detector.card.backbone}'s ImageNet layout")
    distances = {}
    for path in sorted(epochs_dir.glob("epoch_*.npz")):
        weights = load_epoch_weights(path)
        moved = (weights[index] - origin for index, origin in zip(positions, start, strict=True))
        distances[int(path.stem.split("_")[1])] = float(sum(np.sum(np.square(delta)) for delta in moved))
    return detector.card.name, distances, float(sum(np.sum(np.square(origin)) for origin in start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("epochs_dirs", type=Path, nargs="+", help="folders train --keep-epochs wrote")
    args = parser.parse_args()
    for epochs_dir in args.epochs_dirs:
        name, distances, length = backbone_drift(epochs_dir)
        print(f"{name}: squared distance of the backbone from ImageNet (its own squared length {length:,.0f})")
        for epoch, distance in distances.items():
            print(f"  epoch {epoch:2d}  {distance:7.2f}  ({np.sqrt(distance / length):.2%} of its length)")


if __name__ == "__main__":
    main()
