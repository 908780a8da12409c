"""Seen vs unseen kinds and the familiarity flag in the stored evaluation, computed by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import synthetic_results

from deepfake_core.evaluation.generalisation import familiarity_block, generalisation_block, generalisation_table
from deepfake_core.evaluation.results import (
    build_evaluation_results,
    load_results,
    save_results,
    thesis_reported_results,
)
from deepfake_core.figures import generalisation_figure

#            real    real   seen fake    seen fake   unseen fake  unseen fake  unseen fake
KINDS = ["celeba", "celeba", "gan256", "gan256", "sd21", "sd21", "sd21"]
Y = np.array([0, 0, 1, 1, 1, 1, 1])
P = np.array([0.1, 0.3, 0.9, 0.8, 0.2, 0.6, 0.35])
DISTANCES = np.array([1.0, 5.0, 1.0, 1.0, 5.0, 1.0, 5.0])


def test_unseen_fakes_are_scored_against_every_real_face():
    block = generalisation_block(Y, P, KINDS, seen_kinds=["celeba", "gan256"], threshold=0.5, flags=DISTANCES > 2)
    assert block["unseen_kinds"] == ["sd21"] and block["seen_kinds"] == ["celeba", "gan256"]
    unseen = block["unseen_fakes"]
    assert (unseen["n_fake"], unseen["n_real"]) == (3, 2)
    assert unseen["recall"] == pytest.approx(1 / 3)
    # pairs (fake > real): 0.2 beats 0.1; 0.6 beats both; 0.35 beats both -> 5 of 6
    assert unseen["auc"] == pytest.approx(5 / 6)
    assert unseen["balanced_accuracy"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert block["seen_fakes"]["recall"] == 1.0 and block["seen_fakes"]["auc"] == 1.0
    # missed unseen fakes: 0.2 and 0.35, both far from the training faces
    assert block["missed_unseen_fakes"] == 2 and block["missed_unseen_fakes_flagged"] == 2
    assert block["unseen_reals"] is None


def test_no_block_when_every_kind_was_seen():
    assert generalisation_block(Y, P, KINDS, seen_kinds=["celeba", "gan256", "sd21"], threshold=0.5) is None


def test_familiarity_block_counts_flags_on_right_and_wrong_verdicts():
    block = familiarity_block(Y, P, KINDS, DISTANCES > 2.0, threshold=0.5, flag_threshold=2.0)
    assert block["all"] == {"n": 7, "flagged": 3, "wrong": 2, "wrong_flagged": 2}
    assert block["per_kind"]["celeba"] == {"n": 2, "flagged": 1, "wrong": 0, "wrong_flagged": 0}
    assert block["accuracy_unflagged"] == 1.0


def loo_results(p_fake, *, seen_kinds: list[str], **extra):
    """Stored results of a leave-one-out run on the seven images above, at threshold 0.5."""
    return build_evaluation_results(
        model_id="loo-test",
        model_name="loo",
        data={"root": "synthetic", "split": "test", "manifest_sha256": None},
        ids=[f"{index}.jpg" for index in range(len(KINDS))],
        labels=Y.tolist(),
        kinds=KINDS,
        p_fake=list(p_fake),
        threshold=0.5,
        seen_kinds=seen_kinds,
        n_boot=20,
        **extra,
    )


def test_results_store_flags_per_image_per_kind_ece_and_the_seen_unseen_block(tmp_path):
    results = loo_results(P, seen_kinds=["celeba", "gan256"], feature_distances=DISTANCES.tolist(), flag_threshold=2.0)
    assert results.predictions[1].unfamiliar is True and results.predictions[0].feature_distance == 1.0
    assert results.generalisation.unseen_kinds == ("sd21",)
    assert results.generalisation.missed_unseen_fakes_flagged == 2
    assert results.familiarity.all.flagged == 3
    # one-class kind: the ECE is the mean distance of P(fake) from the truth within bins
    assert results.per_kind["gan256"].ece == pytest.approx(0.15)
    assert load_results(save_results(results, tmp_path / "loo.json")) == results

    rows = generalisation_table([results, synthetic_results(), thesis_reported_results()])
    assert len(rows) == 1 and rows[0]["unseen_kinds"] == "sd21"
    assert rows[0]["missed_unseen_flagged"] == 1.0 and rows[0]["seen_auc"] == 1.0
    figure = generalisation_figure(rows)
    assert [trace.name for trace in figure.data] == ["seen fakes", "unseen fakes"]
    assert list(figure.data[1].x) == [pytest.approx(5 / 6)]


def test_a_run_that_left_out_real_faces_reports_their_false_alarms():
    # celeba left out: its two real faces are unseen, and one of them (0.6) is called Fake
    results = loo_results([0.6, 0.3, 0.9, 0.8, 0.2, 0.6, 0.35], seen_kinds=["gan256", "sd21"])
    assert results.generalisation.unseen_fakes is None
    (row,) = generalisation_table([results])
    assert row["unseen_kinds"] == "celeba" and row["unseen_real_false_alarm_rate"] == 0.5
    assert row["unseen_recall"] is None and row["unseen_auc"] is None


def test_unseen_fakes_are_also_scored_against_the_false_alarm_photos():
    from deepfake_core.evaluation.results import false_alarm_entry, metrics_at_threshold

    photos = false_alarm_entry([0.4, 0.7, 0.5], threshold=0.5, data_name="people_photos")
    assert photos.p_fake == (0.4, 0.7, 0.5) and photos.n_fake_verdicts == 2
    results = loo_results(P, seen_kinds=["celeba", "gan256"], false_alarm=photos)
    against = results.generalisation.unseen_fakes_vs_photos
    assert (against.n_fake, against.n_real) == (3, 3) and against.recall == pytest.approx(1 / 3)
    # fake 0.2 beats none; 0.6 beats 0.4 and 0.5; 0.35 beats none -> 2 of 9
    assert against.auc == pytest.approx(2 / 9)
    assert against.balanced_accuracy == pytest.approx((1 / 3 + 1 / 3) / 2)
    (row,) = generalisation_table([results])
    assert row["photos_auc"] == pytest.approx(2 / 9) and row["unseen_auc"] == pytest.approx(5 / 6)
    # the threshold slider moves the photos' verdicts too: at 0.3 two of three unseen fakes are caught
    moved = metrics_at_threshold(results, 0.3).generalisation
    assert moved.unseen_fakes_vs_photos.recall == pytest.approx(2 / 3)
    assert moved.unseen_fakes_vs_photos.balanced_accuracy == pytest.approx((2 / 3 + 0.0) / 2)
    # a file from before the photos' scores were stored has no such figure
    older = loo_results(P, seen_kinds=["celeba", "gan256"], false_alarm=replace(photos, p_fake=None))
    assert older.generalisation.unseen_fakes_vs_photos is None


def test_unseen_fakes_are_ranked_against_each_real_source_alone():
    from deepfake_core.evaluation.generalisation import fakes_against_each_real_source, real_source_table
    from deepfake_core.evaluation.results import false_alarm_entry

    # three real sources: celeba soft and low (0.1, 0.2, 0.3), ffhq high (0.7, 0.9), utkface in between (0.5)
    kinds = ["celeba", "celeba", "celeba", "ffhq", "ffhq", "utkface", "gan256", "sd21", "sd21"]
    labels = [0, 0, 0, 0, 0, 0, 1, 1, 1]
    p_fake = [0.1, 0.2, 0.3, 0.7, 0.9, 0.5, 0.95, 0.4, 0.6]
    results = build_evaluation_results(
        model_id="loo-test",
        model_name="loo",
        data={"root": "synthetic", "split": "test", "manifest_sha256": None},
        ids=[f"{index}.jpg" for index in range(len(kinds))],
        labels=labels,
        kinds=kinds,
        p_fake=p_fake,
        threshold=0.5,
        seen_kinds=["celeba", "ffhq", "utkface", "gan256"],
        n_boot=20,
        false_alarm=false_alarm_entry([0.45, 0.65], threshold=0.5, data_name="people_photos"),
    )
    by_source = fakes_against_each_real_source(results.arrays, ["sd21"])
    # the largest source first; sd21 (0.4, 0.6) beats every celeba face, no ffhq face, and utkface's once in two
    assert list(by_source) == ["celeba", "ffhq", "utkface"]
    assert by_source == {"celeba": 1.0, "ffhq": 0.0, "utkface": 0.5}
    # the mask keeps some real faces only: without the 0.9 ffhq face, 0.7 still beats both fakes
    keep = np.array([True] * 4 + [False] + [True] * 4)
    assert fakes_against_each_real_source(results.arrays, ["sd21"], keep=keep)["ffhq"] == 0.0
    # a real kind among the named kinds (as a run that left out celeba names it) stays a real source
    assert fakes_against_each_real_source(results.arrays, ["sd21", "celeba"]) == by_source

    (row,) = real_source_table([results, synthetic_results(), thesis_reported_results()])
    assert row["model_name"] == "loo" and row["unseen_kinds"] == "sd21"
    # against all six real faces: 0.4 beats 3, 0.6 beats 4 -> 7 of 12
    assert row["all reals"] == pytest.approx(7 / 12) == results.generalisation.unseen_fakes.auc
    assert (row["celeba"], row["ffhq"], row["utkface"]) == (1.0, 0.0, 0.5)
    # photos 0.45 and 0.65: 0.4 beats neither, 0.6 beats 0.45 -> 1 of 4
    assert row["people photos"] == pytest.approx(1 / 4)
    assert row["unseen_images"] == 2
    assert list(row)[:4] == ["model_name", "unseen_kinds", "unseen_images", "all reals"]
    assert list(row)[-1] == "people photos"
