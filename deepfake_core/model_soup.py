"""Average the weights of several training runs into one model (a uniform "model soup").

Two runs of one recipe, or of two recipes, fine-tuned from the same ImageNet
start end up close enough in weight space that the mean of their weights is
itself a good network (Wortsman et al. 2022, "Model soups"). Such a soup judges
much as the ensemble of its runs would, at the cost of one network: the same
file size and the same time per face, where an ensemble multiplies both. Its
verdicts lose part of what is one run's chance (which faces near the threshold
go which way) and can mix two recipes' strengths, e.g. a run that learnt to
ignore compression with one that kept its low false-alarm rate on real photos.

The runs must share the preprocessing contract and the training faces (the same
split, the same kinds left out), since the soup's temperature and "unlike the
training faces" statistics are refitted on the first run's training and
validation faces, as ``mirror`` refits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_core.card import ModelCard, history_path_for
from deepfake_core.data import SplitManifest
from deepfake_core.errors import DataSetError
from deepfake_core.training import LogFn, TrainingFaces, refitted_card, training_faces, without_optimizer

__all__ = ["averaged_weights", "model_soup", "save_mixed"]

_SHARED_CARD_FIELDS = (
    "input_size",
    "channel_order",
    "value_scale",
    "labels",
    "fake_label",
    "backbone",
    "attention",
    "face_crop",
    "mirror_average",
    "jpeg_quality",
)
"""What every run in a soup must agree on: the preprocessing contract and how outputs are read."""

_SHARED_TRAINING = ("split_manifest_sha256", "seen_kinds")
"""What every run's training must agree on (with its config's kinds left out and per-kind cap), so that the
first run's training and validation faces, on which the soup is refitted, are every run's."""


def averaged_weights(runs: Sequence[Sequence[np.ndarray]], shares: Sequence[float] | None = None) -> list[np.ndarray]:
    """The element-wise mean of each weight over ``runs`` (lists of one network's weights), in its own dtype.

    ``shares`` weighs the runs (they must sum to 1); ``None`` is the plain mean.
    """
    if len(runs) < 2:
        raise DataSetError("a soup needs at least two models")
    shapes = [[weight.shape for weight in run] for run in runs]
    if any(other != shapes[0] for other in shapes[1:]):
        raise DataSetError("the models' networks differ (other layers or weight shapes); only runs of one network mix")
    if shares is not None and (len(shares) != len(runs) or not np.isclose(sum(shares), 1.0)):
        raise DataSetError(f"{len(runs)} models need as many shares summing to 1, got {list(shares)}")
    return [
        (
            np.mean([run[i] for run in runs], axis=0, dtype=np.float64)
            if shares is None
            else np.sum([share * run[i].astype(np.float64) for share, run in zip(shares, runs, strict=True)], axis=0)
        ).astype(runs[0][i].dtype)
        for i in range(len(runs[0]))
    ]


def _shared_facts(card: ModelCard) -> dict[str, object]:
    """What every run in a soup must agree on, by name: its contract and which faces it trained on."""
    config = card.training.get("config", {})
    return {
        **{name: getattr(card, name) for name in _SHARED_CARD_FIELDS},
        **{f"training {key}": card.training.get(key) for key in _SHARED_TRAINING},
        **{f"training {key}": config.get(key) for key in ("exclude_kinds", "max_per_kind")},
    }


def _disagreements(cards: Sequence[ModelCard]) -> list[str]:
    """Each shared fact on which a card differs from the first one, with both values."""
    reference = _shared_facts(cards[0])
    return [
        f"{name} ({reference[name]!r} in {cards[0].name}, {value!r} in {card.name})"
        for card in cards[1:]
        for name, value in _shared_facts(card).items()
        if value != reference[name]
    ]


def _description(cards: Sequence[ModelCard]) -> str:
    """The soup's card description: what it is made of (each run's card says how that run was trained)."""
    names = ", ".join(card.name for card in cards)
    mirror = "; each verdict averaged over the face and its mirror image" if cards[0].mirror_average else ""
    network = cards[0].architecture
    return f"The mean of the weights of {len(cards)} training runs ({names}) of one network, {network}{mirror}."


def model_soup(
    model_paths: Sequence[str | Path],
    manifest: SplitManifest,
    data_root: str | Path,
    output: str | Path,
    *,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    log: LogFn = print,
) -> ModelCard:
    """Write ``output``: the mean of the models' weights, with the first model's card refitted for it.

    The temperature and familiarity statistics are fitted again on the soup's own outputs; the card
    names every run it was made from and has no metrics until ``evaluate --update-card``. No
    training history is written: the soup was not trained.
    """
    from deepfake_core.loading import load_detector

    paths, output = [Path(path) for path in model_paths], Path(output)
    if output.suffix != ".keras":
        raise DataSetError(f"the soup must be a .keras file, got {output.name}")
    if output.resolve() in {path.resolve() for path in paths}:
        raise DataSetError(f"{output} is one of the models; choose another file name")
    detectors = [load_detector(path) for path in paths]
    cards = [detector.card for detector in detectors]
    problems = _disagreements(cards)
    if problems:
        raise DataSetError(
            f"only runs with the same contract and training faces mix; they differ in {'; '.join(problems)}"
        )
    model = detectors[0].model
    model.set_weights(averaged_weights([detector.model.get_weights() for detector in detectors]))
    log(f"soup of {len(paths)} models: {', '.join(card.model_id for card in cards)}")
    if len({card.training.get("config", {}).get("seed") for card in cards}) > 1:
        log(
            "warning: the runs were trained with different seeds, so their new layers started from different weights; "
            "such a soup usually judges worse than its runs (README: 'A soup of two recipes')"
        )
    faces = training_faces(cards[0], manifest, data_root, cache_dir=cache_dir, log=log, name=paths[0].name)
    ingredients = [{"model_id": card.model_id, "config": card.training.get("config", {})} for card in cards]
    return save_mixed(
        model,
        cards[0],
        faces,
        output,
        log,
        name=name,
        description=_description(cards),
        soup={"method": "uniform weight mean", "models": ingredients},
    )


def save_mixed(
    model: Any,
    card: ModelCard,
    faces: TrainingFaces,
    output: Path,
    log: LogFn,
    *,
    name: str | None,
    description: str,
    **how_mixed: Any,
) -> ModelCard:
    """Save weights mixed from trained ones as ``output``, with ``card`` refitted for them and no training history.

    ``how_mixed`` joins the card's training record (``soup=...``, ``wise_ft=...``): the mix was not trained,
    so the history of the run it came from is not its own.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    without_optimizer(model).save(output)
    history_path_for(output).unlink(missing_ok=True)  # a file of an earlier model there would be read as this one's
    training = {key: value for key, value in card.training.items() if key != "history_file"}
    return refitted_card(
        model, card, faces, output, log, name=name, description=description, training={**training, **how_mixed}
    )
