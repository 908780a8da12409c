"""Copy a trained model under another file name (and, if asked, another model name) with everything beside it.

A candidate is trained into ``runs/`` and, once its figures earn it, promoted to
``model/`` as a compared model or as the default. A plain file copy would leave
its card naming the old weights and familiarity files, and ``mirror`` (which
also writes a copy) refuses a model that already averages over the mirror image,
so promotion is this one step: the weights, the training history and the
familiarity statistics are copied unchanged, and the card is re-derived for the
new file. The weights stay byte for byte the same, so the verdicts do too; the
model id changes only with the name, and the card has no metrics until
``evaluate --update-card``.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from deepfake_core.card import ModelCard, card_path_for, derived_card, history_path_for, load_card, save_card
from deepfake_core.errors import DataSetError
from deepfake_core.familiarity import familiarity_path_for

__all__ = ["copy_model"]


def copy_model(model_path: str | Path, output: str | Path, *, name: str | None = None) -> ModelCard:
    """Write ``output`` (a ``.keras`` file), its card, history and familiarity statistics from ``model_path``'s.

    ``name`` defaults to the output file's stem. Returns the new card.
    """
    model_path, output = Path(model_path), Path(output)
    if output.suffix != ".keras":
        raise DataSetError(f"the copy must be a .keras file, got {output.name}")
    if output.resolve() == model_path.resolve():
        raise DataSetError(f"{output} is the model itself; choose another file name")
    card = load_card(card_path_for(model_path))
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, output)
    if history_path_for(model_path).is_file():
        shutil.copyfile(history_path_for(model_path), history_path_for(output))
    familiarity = card.familiarity
    if familiarity is not None:
        shutil.copyfile(model_path.parent / familiarity.file, familiarity_path_for(output))
        familiarity = replace(familiarity, file=familiarity_path_for(output).name)
    new_card = derived_card(card, output, name=name, familiarity=familiarity)
    save_card(new_card, card_path_for(output))
    return new_card
