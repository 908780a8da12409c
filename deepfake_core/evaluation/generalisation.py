"""What the stored evaluation says about faces unlike the training data.

Two blocks of the results file come from here:

- ``generalisation``: the test images split into kinds the model saw in
  training and kinds it never saw (a leave-one-generator-out run leaves whole
  generators out). Unseen fakes are scored against every real test face, as a
  user meets them: their recall, ROC AUC and balanced accuracy. This is the
  project's estimate of how the model does on a generator that appears after
  it was trained. Those real test faces come from sources the model trained
  on, so the unseen fakes are also scored against the faces of the
  false-alarm photos, a real source no model trained on: unseen generators
  against unseen real faces, as the hidden test meets them.
  :func:`real_source_table` splits those real faces by source, read from the
  stored predictions.
- ``familiarity``: how often the "unlike the training faces" flag
  (:mod:`deepfake_core.familiarity`) fires, per kind, and above all how many
  of the wrong verdicts it flags.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from deepfake_core.evaluation.metrics import auc_fakes_against, auc_score
from deepfake_core.evaluation.schema import EvaluationResults, PredictionArrays, Results

__all__ = [
    "GENERALISATION_COLUMNS",
    "fakes_against_each_real_source",
    "familiarity_block",
    "generalisation_block",
    "generalisation_table",
    "real_source_table",
]


def _fake_group(y: np.ndarray, p: np.ndarray, fakes: np.ndarray, threshold: float) -> dict[str, Any] | None:
    """Fakes in ``fakes`` (a mask) scored against every real image: recall, AUC, balanced accuracy."""
    reals = y == 0
    if not fakes.any():
        return None
    recall = float(np.mean(p[fakes] >= threshold))
    specificity = float(np.mean(p[reals] < threshold)) if reals.any() else None
    keep = fakes | reals
    return {
        "n_fake": int(fakes.sum()),
        "n_real": int(reals.sum()),
        "recall": recall,
        "auc": auc_score(y[keep], p[keep]),
        "balanced_accuracy": None if specificity is None else (recall + specificity) / 2.0,
    }


def generalisation_block(
    y_fake: np.ndarray,
    p_fake: np.ndarray,
    kinds: Sequence[str],
    *,
    seen_kinds: Iterable[str],
    threshold: float,
    flags: np.ndarray | None = None,
    photos: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """Seen vs unseen kinds of one evaluation; ``None`` when every test kind was seen in training.

    ``seen_kinds`` are the kinds the model trained on; ``flags`` the familiarity
    flag per image, if the model has one (then the block counts how many missed
    unseen fakes were flagged); ``photos`` the P(fake) of the false-alarm photos'
    faces, if measured (then the unseen fakes are also scored against them).
    """
    y, p = np.asarray(y_fake, dtype=int), np.asarray(p_fake, dtype=float)
    names = np.asarray(kinds, dtype=str)
    seen = set(seen_kinds)
    unseen_mask = ~np.isin(names, sorted(seen))
    if not unseen_mask.any() or not seen:
        return None
    missed = unseen_mask & (y == 1) & (p < threshold)
    unseen_reals = unseen_mask & (y == 0)
    return {
        "seen_kinds": sorted(seen & set(names.tolist())),
        "unseen_kinds": sorted(set(names[unseen_mask].tolist())),
        "unseen_fakes": _fake_group(y, p, unseen_mask & (y == 1), threshold),
        "seen_fakes": _fake_group(y, p, ~unseen_mask & (y == 1), threshold),
        "unseen_reals": (
            {"n": int(unseen_reals.sum()), "false_alarm_rate": float(np.mean(p[unseen_reals] >= threshold))}
            if unseen_reals.any()
            else None
        ),
        "missed_unseen_fakes": int(missed.sum()),
        "missed_unseen_fakes_flagged": None if flags is None else int((missed & flags).sum()),
        "unseen_fakes_vs_photos": _against_photos(p[unseen_mask & (y == 1)], photos, threshold),
    }


def _against_photos(fakes: np.ndarray, photos: np.ndarray | None, threshold: float) -> dict[str, Any] | None:
    """Unseen fakes' P(fake) scored against the photos' faces (a real source no model trained on)."""
    if photos is None or not fakes.size or not np.size(photos):
        return None
    y = np.r_[np.ones(fakes.size, dtype=int), np.zeros(np.size(photos), dtype=int)]
    return _fake_group(y, np.r_[fakes, np.asarray(photos, dtype=float)], y == 1, threshold)


def familiarity_block(
    y_fake: np.ndarray,
    p_fake: np.ndarray,
    kinds: Sequence[str],
    flags: np.ndarray,
    *,
    threshold: float,
    flag_threshold: float,
) -> dict[str, Any]:
    """How often the familiarity flag fires, per kind, on right and on wrong verdicts.

    ``flags`` are the images' flags (:func:`deepfake_core.familiarity.unfamiliar` at
    ``flag_threshold``, which the block records).
    """
    y, p = np.asarray(y_fake, dtype=int), np.asarray(p_fake, dtype=float)
    names = np.asarray(kinds, dtype=str)
    flagged = np.asarray(flags, dtype=bool)
    wrong = (p >= threshold) != (y == 1)

    def counts(mask: np.ndarray) -> dict[str, Any]:
        return {
            "n": int(mask.sum()),
            "flagged": int((mask & flagged).sum()),
            "wrong": int((mask & wrong).sum()),
            "wrong_flagged": int((mask & wrong & flagged).sum()),
        }

    unflagged = ~flagged
    return {
        "flag_threshold": float(flag_threshold),
        "all": counts(np.ones_like(flagged)),
        "accuracy_unflagged": float(np.mean(~wrong[unflagged])) if unflagged.any() else None,
        "per_kind": {kind: counts(names == kind) for kind in sorted(set(names.tolist()))},
    }


GENERALISATION_COLUMNS = (
    "model_name",
    "unseen_kinds",
    "unseen_images",
    "unseen_recall",
    "unseen_auc",
    "unseen_balanced_accuracy",
    "photos_auc",
    "photos_balanced_accuracy",
    "seen_auc",
    "missed_unseen_flagged",
    "unseen_real_false_alarm_rate",
    "false_alarm_rate",
)
"""Keys (and display order) of each :func:`generalisation_table` row."""


def generalisation_table(results_list: Iterable[Results]) -> list[dict[str, Any]]:
    """One row per leave-one-generator-out evaluation: how its unseen kinds fared against its seen ones.

    Results with every test kind seen, and reported entries, are skipped. A run that left out
    fakes gets their recall, AUC and balanced accuracy; a run that left out real faces gets their
    false-alarm rate (``unseen_real_false_alarm_rate``). ``photos_auc`` and
    ``photos_balanced_accuracy`` score the unseen fakes against the false-alarm photos' faces
    instead of the real test faces. ``missed_unseen_flagged`` is the share of missed unseen fakes
    the familiarity flag caught. ``unseen_images`` counts the unseen images scored: their test
    images, or every image of the left-out kinds for an evaluation of the ``test+unseen`` split.
    """
    rows = []
    for results in results_list:
        block = results.generalisation if isinstance(results, EvaluationResults) else None
        if block is None:
            continue
        fakes, reals, photos = block.unseen_fakes, block.unseen_reals, block.unseen_fakes_vs_photos
        missed, flagged = block.missed_unseen_fakes, block.missed_unseen_fakes_flagged
        rows.append(
            {
                "model_name": results.model_name,
                "unseen_kinds": ", ".join(block.unseen_kinds),
                "unseen_images": fakes.n_fake if fakes is not None else None if reals is None else reals.n,
                "unseen_recall": None if fakes is None else fakes.recall,
                "unseen_auc": None if fakes is None else fakes.auc,
                "unseen_balanced_accuracy": None if fakes is None else fakes.balanced_accuracy,
                "photos_auc": None if photos is None else photos.auc,
                "photos_balanced_accuracy": None if photos is None else photos.balanced_accuracy,
                "seen_auc": None if block.seen_fakes is None else block.seen_fakes.auc,
                "missed_unseen_flagged": None if flagged is None or not missed else flagged / missed,
                "unseen_real_false_alarm_rate": None if reals is None else reals.false_alarm_rate,
                "false_alarm_rate": None if results.false_alarm is None else results.false_alarm.fake_rate,
            }
        )
    return rows


def fakes_against_each_real_source(
    arrays: PredictionArrays, fake_kinds: Iterable[str], *, keep: np.ndarray | None = None
) -> dict[str, float | None]:
    """ROC AUC of the fakes of ``fake_kinds`` against each real kind's images alone, the largest source first.

    Why: an AUC against all real faces is mostly an AUC against the largest real source (CelebA's
    faces are 449 of the 738 real test faces). Split by source it shows which real faces a model
    tells the fakes apart from and which it cannot. ``keep`` (a mask over ``arrays``) restricts the
    real faces, for example to one split.
    """
    fakes = arrays.p_fake[np.isin(arrays.kinds, sorted(set(fake_kinds))) & (arrays.y_fake == 1)]
    reals = arrays.y_fake == 0
    if keep is not None:
        reals &= keep
    sources = collections.Counter(arrays.kinds[reals].tolist())
    by_size = sorted(sources, key=lambda kind: (-sources[kind], kind))
    return {kind: auc_fakes_against(fakes, arrays.p_fake[reals & (arrays.kinds == kind)]) for kind in by_size}


def real_source_table(results_list: Iterable[Results]) -> list[dict[str, Any]]:
    """One row per leave-one-generator-out run with unseen fakes: their AUC against each real source.

    Keys: ``model_name``, ``unseen_kinds``, ``unseen_images`` (the unseen fakes scored: a ``test+unseen``
    evaluation scores every image of them), ``all reals`` (the unseen AUC of :func:`generalisation_table`),
    then one key per real kind of that run (largest first) and ``people photos`` (the false-alarm
    photos' faces, when measured).
    """
    rows = []
    for results in results_list:
        block = results.generalisation if isinstance(results, EvaluationResults) else None
        if block is None or block.unseen_fakes is None:
            continue
        photos = block.unseen_fakes_vs_photos
        rows.append(
            {
                "model_name": results.model_name,
                "unseen_kinds": ", ".join(block.unseen_kinds),
                "unseen_images": block.unseen_fakes.n_fake,
                "all reals": block.unseen_fakes.auc,
                **fakes_against_each_real_source(results.arrays, block.unseen_kinds),
                "people photos": None if photos is None else photos.auc,
            }
        )
    return rows
