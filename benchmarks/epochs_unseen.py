"""Does a leave-one-out run rank its unseen generator better early or late in training? Every epoch, scored.

Usage::

    KEEP_EPOCHS=1 ONE_VIEW=0 NAME_PREFIX=lite0_epochs_ RUNS=runs/loo_epochs OUT=runs/loo_epochs_eval \\
        scripts/leave_one_out.sh loo_diffusion
    python benchmarks/epochs_unseen.py --model runs/loo_epochs/lite0_epochs_loo_diffusion_mirror.keras \\
        --epochs-dir runs/loo_epochs/lite0_epochs_loo_diffusion_epochs

A run keeps the epoch with the lowest validation loss, and validation holds only the kinds it
trained on. Fine-tuning from ImageNet may trade what carries over to an unseen generator for
what fits the seen ones as the epochs go by (mixing the weights back toward ImageNet, WiSE-FT,
ranked the unseen diffusion faces better). This loads the run's model (its card: preprocessing,
mirror averaging, temperature) and, for each epoch's weights that ``train --keep-epochs`` wrote,
scores the same faces the stored evaluation of the ``test+unseen`` split scores, plus the faces
of the people photos. Per epoch it prints the validation loss, the ROC AUC of the unseen fakes
against the real test faces, against FFHQ's test faces alone and against the photo faces, the
seen kinds' AUC, and at the card's threshold the share of unseen fakes caught and of photo faces
called Fake (the temperature is the kept epoch's; it does not move a verdict at a threshold of
0.5). Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.data import ImageRecord, load_manifest, scan_dataset
from deepfake_core.detector import Detector
from deepfake_core.evaluation.metrics import auc_score
from deepfake_core.evaluation.pipeline import UNSEEN_SPLIT, load_history, scored_records
from deepfake_core.face_data import build_face_crops
from deepfake_core.intake import load_image
from deepfake_core.judge import face_finder
from deepfake_core.loading import load_detector
from deepfake_core.training import load_epoch_weights

ROOT = Path(__file__).resolve().parent.parent


def record_crops(
    detector: Detector, records: list[ImageRecord], data: Path
) -> tuple[list[np.ndarray], list[ImageRecord]]:
    """The cached aligned crops of ``records`` (as ``evaluate`` has them) and the records they belong to."""
    index = build_face_crops(records, data, detector.card.face_crop, size=detector.card.input_size, log=lambda _: None)
    kept = [record for record in records if record.id in index.crops]
    return [index.load(record.id) for record in kept], kept


def photo_crops(detector: Detector, photos: Path) -> list[np.ndarray]:
    """Every face the face step cuts from the real photos under ``photos`` (found once, scored every epoch)."""
    finder = face_finder(detector)
    crops = []
    for record in scan_dataset(photos):
        if record.label == "Real":
            faces = finder.faces(load_image(record.path(photos)), size=detector.card.input_size, mode="all")
            crops.extend(face.crop for face in faces if face.crop is not None)
    return crops


def epoch_row(
    p_faces: np.ndarray, p_photos: np.ndarray, records: list[ImageRecord], unseen: frozenset[str], threshold: float
) -> str:
    """One epoch's figures (see the module docstring) from the P(fake) of the scored faces and the photo faces."""
    kinds = np.array([record.kind for record in records])
    fake = np.array([record.is_fake for record in records], dtype=bool)
    is_unseen = np.isin(kinds, sorted(unseen))
    unseen_p, real_p = p_faces[is_unseen], p_faces[~fake]

    def against(reals: np.ndarray) -> float:
        return auc_score(np.r_[np.zeros(len(reals)), np.ones(len(unseen_p))], np.r_[reals, unseen_p])

    seen = ~is_unseen
    return (
        f"unseen AUC {against(real_p):.3f}  vs FFHQ {against(p_faces[kinds == 'ffhq']):.3f}  "
        f"vs photos {against(p_photos):.3f}  seen AUC {auc_score(fake[seen].astype(int), p_faces[seen]):.3f}  "
        f"caught {np.mean(unseen_p >= threshold):.1%}  photos Fake {int(np.sum(p_photos >= threshold))}/{len(p_photos)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the run's model (its card and architecture)")
    parser.add_argument("--epochs-dir", type=Path, required=True, help="the folder train --keep-epochs wrote")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "people_photos")
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    args = parser.parse_args()
    detector = load_detector(str(args.model))
    records = scored_records(load_manifest(args.manifest), UNSEEN_SPLIT, detector.card)
    crops, records = record_crops(detector, records, args.data)
    photos = photo_crops(detector, args.photos)
    val_loss = (load_history(args.model) or {}).get("val_loss", [])
    print(f"{detector.card.name}: {len(crops)} faces ({UNSEEN_SPLIT}), {len(photos)} photo faces")
    for path in sorted(args.epochs_dir.glob("epoch_*.npz")):
        epoch = int(path.stem.split("_")[1])
        detector.model.set_weights(load_epoch_weights(path))
        loss = f"val loss {val_loss[epoch - 1]:.4f}" if epoch <= len(val_loss) else "val loss ?"
        row = epoch_row(
            detector.p_fake(crops),
            detector.p_fake(photos),
            records,
            detector.card.left_out_kinds,
            detector.card.threshold,
        )
        print(f"epoch {epoch:2d}  {loss}  {row}")


if __name__ == "__main__":
    main()
