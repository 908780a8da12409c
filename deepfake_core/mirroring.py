"""Turn on a trained model's mirror averaging: the same weights under a card that judges each face twice.

A face and its left-right mirror image are equally real or fake, and training
already shows the network mirrored faces, but a network never answers exactly
alike for the two. Averaging its probabilities over both (the card's
``mirror_average``, applied by :class:`deepfake_core.detector.Detector` and by
every explainer) removes that arbitrary part of each verdict, at the cost of a
batch twice the size. The averaged probabilities are a little less extreme and
the averaged pooled features a little less spread, so the temperature and the
"unlike the training faces" statistics are refitted on the model's own
validation and training faces, as training fits them. The weights do not
change; the model id gains :data:`~deepfake_core.card.MIRROR_ID_SUFFIX`, since
the verdicts do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from deepfake_core.card import ModelCard, history_path_for
from deepfake_core.data import SplitManifest
from deepfake_core.errors import DataSetError
from deepfake_core.training import LogFn, refitted_card, training_faces

__all__ = ["mirror_averaged"]


def mirror_averaged(
    model_path: str | Path,
    manifest: SplitManifest,
    data_root: str | Path,
    output: str | Path,
    *,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
) -> ModelCard:
    """Write ``output`` (a copy of the weights, or the same file) with a mirror-averaging card, refitted.

    The new card has no metrics until ``evaluate --update-card``; the training history is copied beside ``output``.
    """
    from deepfake_core.loading import load_detector

    model_path, output = Path(model_path), Path(output)
    detector = load_detector(model_path)
    card = detector.card
    if card.mirror_average:
        raise DataSetError(f"{model_path.name} already averages its verdicts over the mirror image.")
    faces = training_faces(card, manifest, data_root, cache_dir=cache_dir, log=log, name=model_path.name)
    if output.resolve() != model_path.resolve():
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_path, output)
        if history_path_for(model_path).is_file():
            shutil.copyfile(history_path_for(model_path), history_path_for(output))
    log(f"mirror averaging: refitting on {len(faces.validation)} validation and {len(faces.train)} training faces")
    return refitted_card(
        detector.model,
        card,
        faces,
        output,
        log,
        name=name,
        mirror_average=True,
        description=f"{card.description.rstrip('.')}; each verdict averaged over the face and its mirror image.",
        training={**card.training, "mirror_average": {"from_model": card.model_id, "temperature": card.temperature}},
    )
