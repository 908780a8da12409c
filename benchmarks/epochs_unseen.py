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
0.5). An early epoch may rank better and call more real faces Fake, so the last two figures compare
epochs at an equal false-alarm count: the share of unseen and of seen fakes above the score that
calls exactly ``--photos-fake`` photo faces Fake (set on the photos themselves: a comparison of
rankings, not a threshold to ship). Then, as a run would ship, a threshold fitted on the epoch's
validation faces (where their balanced accuracy is highest): the threshold, the unseen fakes caught,
the photo faces called Fake and the seen test faces' balanced accuracy there (the last beside its
value at the card's threshold). ``--mix FIRST LAST --alphas ...`` then scores, instead of every
epoch, the weights ``alpha x LAST + (1 - alpha) x FIRST`` (every weight, the moving statistics
too): between an epoch that carries over and one that fits the seen kinds, as WiSE-FT mixes
between the pretrained start and the end. Needs ``../shared/data``; a check, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deepfake_core.data import ImageRecord, SplitManifest, load_manifest, scan_dataset, unseen_by
from deepfake_core.detector import Detector
from deepfake_core.evaluation.metrics import auc_fakes_against, auc_score, threshold_calling_fake, threshold_metrics
from deepfake_core.evaluation.pipeline import UNSEEN_SPLIT, load_history, scored_records
from deepfake_core.face_data import build_face_crops
from deepfake_core.figures import CLASSIFIER_OUTPUT
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


def photo_crops(detector: Detector, photos: Path, manifest: SplitManifest, data: Path) -> list[np.ndarray]:
    """Every face the face step cuts from the real photos under ``photos`` that the run did not train on (found
    once, scored every epoch), as ``evaluate`` skips those of them a manifest trains or validates on."""
    finder = face_finder(detector)
    crops = []
    for record in unseen_by([r for r in scan_dataset(photos) if r.label == "Real"], photos, manifest, data):
        faces = finder.faces(load_image(record.path(photos)), size=detector.card.input_size, mode="all")
        crops.extend(face.crop for face in faces if face.crop is not None)
    return crops


def validation_threshold(p_fake: np.ndarray, y_fake: np.ndarray) -> float:
    """The P(fake) threshold at which the validation faces' balanced accuracy is highest (the lowest such)."""
    candidates = np.unique(p_fake)
    real, fake = p_fake[y_fake == 0], p_fake[y_fake == 1]
    balanced = [(np.mean(fake >= t) + np.mean(real < t)) / 2 for t in candidates]
    return float(candidates[int(np.argmax(balanced))])


def epoch_row(
    p_faces: np.ndarray,
    p_photos: np.ndarray,
    kinds: np.ndarray,
    fake: np.ndarray,
    unseen: frozenset[str],
    threshold: float,
    photos_fake: int,
    fitted: float,
) -> str:
    """One epoch's figures (see the module docstring) from the P(fake) of the scored faces and the photo faces.

    ``kinds`` and ``fake`` (bool) describe the scored faces, in the order of ``p_faces``.
    """
    is_unseen = np.isin(kinds, sorted(unseen))
    seen = ~is_unseen
    unseen_p = p_faces[is_unseen]
    equal = threshold_calling_fake(p_photos, photos_fake)

    def seen_balanced(at: float) -> float:
        return threshold_metrics(fake[seen].astype(int), p_faces[seen], threshold=at)["balanced_accuracy"]

    return (
        f"unseen AUC {auc_fakes_against(unseen_p, p_faces[~fake]):.3f}  "
        f"vs FFHQ {auc_fakes_against(unseen_p, p_faces[kinds == 'ffhq']):.3f}  "
        f"vs photos {auc_fakes_against(unseen_p, p_photos):.3f}  "
        f"seen AUC {auc_score(fake[seen].astype(int), p_faces[seen]):.3f}  "
        f"caught {np.mean(unseen_p >= threshold):.1%}  "
        f"photos Fake {int(np.sum(p_photos >= threshold))}/{len(p_photos)}  "
        f"where {photos_fake} photos are Fake: unseen caught {np.mean(unseen_p > equal):.1%}, "
        f"seen fakes caught {np.mean(p_faces[seen & fake] > equal):.1%}  "
        f"validation threshold {fitted:.3f}: unseen caught {np.mean(unseen_p >= fitted):.1%}, "
        f"photos Fake {int(np.sum(p_photos >= fitted))}, seen test bal. acc. {seen_balanced(fitted):.3f} "
        f"(at {threshold:g}: {seen_balanced(threshold):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the run's model (its card and architecture)")
    parser.add_argument("--epochs-dir", type=Path, required=True, help="the folder train --keep-epochs wrote")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "people_photos")
    parser.add_argument("--manifest", type=Path, default=ROOT / "model" / "split_manifest.json")
    parser.add_argument("--photos-fake", type=int, default=13, help="photo faces called Fake for the last figures")
    parser.add_argument("--mix", type=int, nargs=2, metavar=("FIRST", "LAST"), help="score mixes of two epochs")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.25, 0.5, 0.75], help="LAST's share in a mix")
    args = parser.parse_args()
    detector = load_detector(str(args.model))
    manifest = load_manifest(args.manifest)
    crops, records = record_crops(detector, scored_records(manifest, UNSEEN_SPLIT, detector.card), args.data)
    kinds = np.array([record.kind for record in records])
    fake = np.array([record.is_fake for record in records], dtype=bool)
    left_out = detector.card.left_out_kinds
    validation = [record for record in manifest.splits["validation"] if record.kind not in left_out]
    val_crops, validation = record_crops(detector, validation, args.data)
    val_fake = np.array([record.is_fake for record in validation])
    photos = photo_crops(detector, args.photos, manifest, args.data)
    history = load_history(args.model) or {}
    # the verdict's own loss: a run with a second, training-only output logs the sum of both as val_loss
    val_loss = history.get(f"val_{CLASSIFIER_OUTPUT}_loss", history.get("val_loss", []))
    print(f"{detector.card.name}: {len(crops)} faces ({UNSEEN_SPLIT}), {len(photos)} photo faces")
    epochs = {int(path.stem.split("_")[1]): load_epoch_weights(path) for path in args.epochs_dir.glob("epoch_*.npz")}
    if args.mix:
        first, last = (epochs[epoch] for epoch in args.mix)
        weight_sets = {
            f"{alpha:g} x epoch {args.mix[1]} + {1 - alpha:g} x epoch {args.mix[0]}": [
                (alpha * b + (1 - alpha) * a).astype(a.dtype) for a, b in zip(first, last, strict=True)
            ]
            for alpha in args.alphas
        }
    else:
        weight_sets = {
            f"epoch {epoch:2d}  val loss " + (f"{val_loss[epoch - 1]:.4f}" if epoch <= len(val_loss) else "?"): weights
            for epoch, weights in sorted(epochs.items())
        }
    for label, weights in weight_sets.items():
        detector.model.set_weights(weights)
        row = epoch_row(
            detector.p_fake(crops),
            detector.p_fake(photos),
            kinds,
            fake,
            left_out,
            detector.card.threshold,
            args.photos_fake,
            validation_threshold(detector.p_fake(val_crops), val_fake),
        )
        print(f"{label}  {row}")


if __name__ == "__main__":
    main()
