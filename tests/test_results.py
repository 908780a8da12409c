"""Results files: build -> save -> load, schema rejection, listing, threshold slider, comparison."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deepfake_core.errors import ResultsFileError
from deepfake_core.evaluation.metrics import (
    classification_report_dict,
    pair_metrics,
    per_group_metrics,
    threshold_metrics,
)
from deepfake_core.evaluation.record import SchemaError
from deepfake_core.evaluation.results import (
    COMPARISON_COLUMNS,
    ROBUSTNESS_COLUMNS,
    SCHEMA_VERSION,
    ResultsListing,
    build_evaluation_results,
    comparison_table,
    false_alarm_entry,
    list_results,
    load_results,
    metrics_at_threshold,
    results_from_dict,
    robustness_by_kind,
    robustness_entry,
    robustness_table,
    save_results,
    thesis_reported_results,
)
from deepfake_core.evaluation.schema import (
    ConfusionCounts,
    EvaluationResults,
    Prediction,
    ReportedResults,
    RobustnessEntry,
    RobustnessKind,
)

KINDS = ["ffhq"] * 6 + ["celeba"] * 6 + ["stylegan2_tpdne"] * 6 + ["gan256"] * 6
LABELS = [0] * 12 + [1] * 12
# fmt: off
P_FAKE = [
    0.1, 0.6, 0.3, 0.2, 0.55, 0.05,   # ffhq (real)
    0.1, 0.2, 0.15, 0.3, 0.0, 0.4,    # celeba (real)
    0.7, 0.45, 0.9, 0.6, 0.35, 0.8,   # stylegan2_tpdne (fake)
    0.95, 0.99, 1.0, 0.85, 0.9, 0.7,  # gan256 (fake)
]
# fmt: on


def _build(**overrides: Any) -> EvaluationResults:
    arguments = {
        "model_id": "effnet-b0",
        "model_name": "EfficientNetB0",
        "data": {"root": "faces", "split": "test", "manifest_sha256": "ab" * 32},
        "ids": [f"img_{index:02d}.jpg" for index in range(len(LABELS))],
        "labels": LABELS,
        "kinds": KINDS,
        "p_fake": P_FAKE,
        "threshold": 0.5,
        "temperature": 1.4,
        "p_fake_uncalibrated": np.clip(np.asarray(P_FAKE) ** 0.5, 0, 1),
        "robustness": [
            robustness_entry(name="jpeg_q50", params={"quality": 50}, y_fake=LABELS, p_fake=P_FAKE, threshold=0.5)
        ],
        "false_alarm": false_alarm_entry([0.1, 0.7, 0.2, 0.3], threshold=0.5, data_name="street photos"),
        "training_history": {"loss": [0.7, 0.4], "val_loss": [0.72, 0.5], "accuracy": [0.6, 0.8]},
        "n_boot": 100,
        "created": "2025-01-01T00:00:00+00:00",
    }
    return build_evaluation_results(**{**arguments, **overrides})


@pytest.fixture(scope="module")
def results() -> EvaluationResults:
    return _build()


def _write(path: Path, payload: Any) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def test_built_results_hold_every_documented_block(results) -> None:
    assert list(results.to_dict())[:5] == ["schema_version", "kind", "model_id", "model_name", "created"]
    assert results.schema_version == SCHEMA_VERSION
    assert results.data.n_images == len(results.predictions) == 24
    assert results.predictions[0] == Prediction(id="img_00.jpg", label="Real", kind="ffhq", p_fake=0.1)
    assert results.predictions[0].feature_distance is results.predictions[0].unfamiliar is None
    assert results.metrics.to_dict() == threshold_metrics(LABELS, P_FAKE, threshold=0.5)
    assert set(results.per_kind) == {"celeba", "ffhq", "gan256", "stylegan2_tpdne"}
    pair = results.pairs["ffhq_vs_stylegan2_tpdne"]
    assert (pair.real_kind, pair.fake_kind, pair.n) == ("ffhq", "stylegan2_tpdne", 12)
    assert list(results.to_dict()["pairs"]["ffhq_vs_stylegan2_tpdne"])[:4] == ["real_kind", "fake_kind", "labels", "n"]
    assert results.calibration_uncalibrated.ece != results.calibration.ece
    assert results.eer.eer is not None
    assert results.bootstrap.n_boot == 100


def test_round_trip_is_lossless_atomic_and_readable(tmp_path, results) -> None:
    path = save_results(results, tmp_path / "sub" / "effnet.json")

    assert load_results(path) == results
    assert [item.name for item in path.parent.iterdir()] == ["effnet.json"]  # no temp file left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text(encoding="utf-8").startswith('{\n  "schema_version": 1,\n  "kind": "evaluation"')


def test_string_labels_build_the_same_results() -> None:
    as_strings = _build(labels=["Fake" if label else "Real" for label in LABELS])
    assert as_strings == _build()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ids": ["a"] * 24}, "unique"),
        ({"kinds": KINDS[:-1]}, "equal lengths"),
        ({"labels": ["Real"] * 23 + ["Maybe"]}, "'Real' or 'Fake'"),
        ({"data": {"root": "faces", "split": "test", "manifest_sha256": None, "n_images": 30}}, "is 30 but 24"),
    ],
)
def test_inconsistent_builder_inputs_are_rejected(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**overrides)


def test_builder_rejects_a_malformed_block_from_the_caller() -> None:
    faces = {"face_crop": {}, "coverage": {}, "misses": [{"id": "x.jpg", "kind": "celeba"}]}
    with pytest.raises(ResultsFileError, match=r"'results for effnet-b0' is invalid: 'faces\.misses\[0\]\.reason' is"):
        _build(faces=faces)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: RobustnessEntry(name="blur", params={}, accuracy=0.9, auc=None, n="ten"),
                     "'n' must be an integer, got a string", id="wrong-type"),
        pytest.param(lambda: Prediction(id="a.jpg", label="fake", kind="ffhq", p_fake=0.5),
                     "'label' must be 'Real' or 'Fake', got 'fake'", id="bad-label"),
        pytest.param(lambda: Prediction(id="a.jpg", label="Fake", kind="ffhq", p_fake=-0.1),
                     r"'p_fake' must lie in \[0, 1\], got -0.1", id="bad-probability"),
        pytest.param(lambda: replace(thesis_reported_results(), table=()),
                     "'table' must list at least one reported model", id="empty-table"),
    ],
)  # fmt: skip
def test_records_built_in_code_check_themselves(build, message) -> None:
    with pytest.raises(SchemaError, match=message):
        build()


def _without(key: str) -> Any:
    def edit(document: dict[str, Any]) -> None:
        del document[key]

    return edit


def _setting(*keys: Any, value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(_without("metrics"), r"'metrics' is required but missing", id="missing-key"),
        pytest.param(_without("schema_version"), "no 'schema_version'", id="missing-version"),
        pytest.param(_setting("predictions", 1, value=[]), r"'predictions\[1\]' must be an object, got a list",
                     id="item-not-object"),
        pytest.param(_setting("threshold", value="0.5"), "'threshold' must be a number, got a string",
                     id="wrong-type"),
        pytest.param(_setting("metrics", "n", value=True), r"'metrics\.n' must be an integer, got true/false",
                     id="bool-is-not-a-number"),
        pytest.param(_setting("roc", value=[]), "'roc' must be an object or null, got a list", id="block-not-object"),
        pytest.param(_setting("per_kind", "ffhq", "accuracy_ci", value=[0.1]),
                     r"'per_kind\.ffhq\.accuracy_ci' must be a list of 2 items or null, got a list of 1",
                     id="interval-length"),
        pytest.param(_setting("robustness", 0, "params", value="quality=50"),
                     r"'robustness\[0\]\.params' must be an object, got a string", id="robustness-item"),
        pytest.param(_setting("schema_version", value=True), "schema version True", id="bool-version"),
        pytest.param(_setting("predictions", 3, "p_fake", value=None),
                     r"'predictions\[3\]\.p_fake' must be a number, got null", id="nested-wrong-type"),
        pytest.param(_setting("predictions", 0, "label", value="fake"), "must be 'Real' or 'Fake'", id="bad-label"),
        pytest.param(_setting("predictions", 0, "p_fake", value=1.5), r"must lie in \[0, 1\]", id="bad-probability"),
        pytest.param(_setting("data", "n_images", value=25), "'data.n_images' is 25 but there are 24",
                     id="count-mismatch"),
        pytest.param(_setting("training_history", "loss", value="high"),
                     r"'training_history\.loss' must be a list, got a string", id="bad-history"),
        pytest.param(_setting("training_history", "loss", 1, value="high"),
                     r"'training_history\.loss\[1\]' must be a number or null, got a string", id="bad-history-item"),
        pytest.param(_setting("schema_version", value=7),
                     r"written by schema version 7; this version of deepfake-lens reads version 1\. Re-run",
                     id="unknown-version"),
        pytest.param(_setting("kind", value="benchmark"),
                     "kind is 'benchmark'; expected one of 'evaluation', 'reported'", id="unknown-kind"),
    ],
)  # fmt: skip
def test_invalid_files_are_rejected_with_a_message_naming_the_file(tmp_path, results, edit, message) -> None:
    document = results.to_dict()
    edit(document)
    path = _write(tmp_path / "broken.json", document)

    with pytest.raises(ResultsFileError, match=message) as raised:
        load_results(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"schema_version": 1,', r"not valid JSON \(line 1, column 22"),
        ("[1, 2]", "top level must be a JSON object"),
        ("", "not valid JSON"),
    ],
)
def test_non_json_and_non_object_files_are_rejected(tmp_path, payload, message) -> None:
    with pytest.raises(ResultsFileError, match=message):
        load_results(_write(tmp_path / "x.json", payload))


def test_unreadable_file_is_a_results_error(tmp_path) -> None:
    with pytest.raises(ResultsFileError, match=r"Could not read results file .*missing\.json"):
        load_results(tmp_path / "missing.json")


def test_absent_optional_blocks_load_with_defaults(tmp_path, results) -> None:
    document = {key: value for key, value in results.to_dict().items() if key not in {"robustness", "false_alarm"}}

    loaded = load_results(_write(tmp_path / "minimal.json", document))

    assert (loaded.robustness, loaded.false_alarm) == ((), None)
    assert loaded.to_dict() == document  # and they stay absent when the file is written again


def test_a_loaded_file_is_saved_back_as_the_same_json(tmp_path, results) -> None:
    """Absent optional keys stay absent and unknown keys (from a newer writer) are kept, nested ones too."""
    document = results.to_dict()
    del document["per_kind"]["ffhq"]["ece"]
    document["predictions"][0]["camera"] = "phone"
    document["future_block"] = {"added": "later"}
    path = _write(tmp_path / "older_and_newer.json", document)

    loaded = load_results(path)
    again = json.loads(save_results(loaded, tmp_path / "again.json").read_text(encoding="utf-8"))

    assert loaded.per_kind["ffhq"].ece is None and loaded.extra == {"future_block": {"added": "later"}}
    assert loaded.predictions[0].extra == {"camera": "phone"}
    assert again == document
    assert replace(loaded.per_kind["ffhq"], ece=0.25).to_dict()["ece"] == 0.25  # a value set later is written


def test_an_invalid_record_cannot_be_made_so_nothing_invalid_is_saved(tmp_path, results) -> None:
    with pytest.raises(SchemaError, match="'model_id' must be a string, got an integer"):
        replace(results, model_id=3)
    with pytest.raises(SchemaError, match=r"'data\.n_images' is 24 but there are 23 predictions"):
        replace(results, predictions=results.predictions[1:])


def test_list_results_loads_valid_files_and_reports_invalid_ones(tmp_path, results) -> None:
    save_results(results, tmp_path / "a_model.json")
    save_results(thesis_reported_results(created="2025-01-01T00:00:00+00:00"), tmp_path / "b_thesis.json")
    bad = _write(tmp_path / "c_stale.json", {**results.to_dict(), "schema_version": 7})
    _write(tmp_path / "notes.txt", "not a results file")

    listing = list_results(tmp_path)

    assert [type(entry) for entry in listing.results] == [EvaluationResults, ReportedResults]
    assert listing.results[0] == results
    assert [path for path, _ in listing.problems] == [bad]
    assert "schema version 7" in listing.problems[0][1]


def test_list_results_of_a_missing_folder_is_empty_and_of_a_file_is_an_error(tmp_path) -> None:
    assert list_results(tmp_path / "nothing_yet") == ResultsListing()
    with pytest.raises(ResultsFileError, match="is not a folder"):
        list_results(_write(tmp_path / "file.json", "{}"))


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0, 0.62])
def test_metrics_at_threshold_agree_with_direct_computation(results, threshold) -> None:
    recomputed = metrics_at_threshold(results, threshold)

    assert recomputed.metrics.to_dict() == threshold_metrics(LABELS, P_FAKE, threshold=threshold)
    report = classification_report_dict(LABELS, P_FAKE, threshold=threshold)
    assert recomputed.classification_report.to_dict() == report
    point = recomputed.operating_point
    assert (point.fpr, point.tpr) == (recomputed.metrics.false_positive_rate, recomputed.metrics.recall)


def test_threshold_extremes_call_everything_fake_or_nearly_nothing(results) -> None:
    everything = metrics_at_threshold(results, 0.0).operating_point
    assert (everything.fpr, everything.tpr, everything.precision) == (1.0, 1.0, 0.5)
    strictest = metrics_at_threshold(results, 1.0).metrics
    assert strictest.counts == ConfusionCounts(tn=12, fp=0, fn=11, tp=1)  # only p_fake == 1.0 reaches 1.0
    assert metrics_at_threshold(results, results.threshold).metrics == results.metrics


# Far from the training faces: the last two ffhq and all stylegan2_tpdne, the kind left out of training below.
DISTANCES = [1.0] * 4 + [5.0] * 2 + [1.0] * 6 + [5.0] * 6 + [1.0] * 6
SEEN = ["ffhq", "celeba", "gan256"]


@pytest.fixture(scope="module")
def flagged_results() -> EvaluationResults:
    """Results of a model with the familiarity flag that never saw stylegan2_tpdne, so every block exists."""
    return _build(feature_distances=DISTANCES, flag_threshold=3.0, seen_kinds=SEEN)


def test_the_view_at_the_stored_threshold_repeats_every_stored_block(flagged_results) -> None:
    view = metrics_at_threshold(flagged_results, flagged_results.threshold)

    assert view.per_kind == flagged_results.per_kind
    assert view.pairs == flagged_results.pairs
    assert view.familiarity == flagged_results.familiarity is not None
    assert view.generalisation == flagged_results.generalisation is not None


def test_the_view_recomputes_per_kind_pair_flag_and_unseen_blocks_at_another_threshold(flagged_results) -> None:
    view = metrics_at_threshold(flagged_results, 0.62)

    # stylegan2_tpdne scores 0.7 0.45 0.9 0.6 0.35 0.8: four reach 0.5, three reach 0.62
    assert flagged_results.per_kind["stylegan2_tpdne"].accuracy == pytest.approx(4 / 6)
    assert view.per_kind["stylegan2_tpdne"].accuracy == pytest.approx(3 / 6)
    assert view.generalisation.unseen_fakes.recall == pytest.approx(3 / 6)
    assert view.generalisation.missed_unseen_fakes == view.generalisation.missed_unseen_fakes_flagged == 3
    # ffhq scores 0.1 0.6 0.3 0.2 0.55 0.05 (the last two flagged): 0.55 is a wrong Fake at 0.5, right at 0.62
    assert (
        flagged_results.familiarity.per_kind["ffhq"].wrong_flagged,
        view.familiarity.per_kind["ffhq"].wrong_flagged,
    ) == (1, 0)
    resampling = {"seed": 0, "n_boot": 100}
    expected = per_group_metrics(LABELS, P_FAKE, KINDS, threshold=0.62, **resampling)
    assert {kind: summary.to_dict() for kind, summary in view.per_kind.items()} == expected
    pair = pair_metrics(
        LABELS, P_FAKE, KINDS, real_kind="ffhq", fake_kind="stylegan2_tpdne", threshold=0.62, **resampling
    )
    assert view.pairs["ffhq_vs_stylegan2_tpdne"].to_dict() == pair
    assert (
        view.pairs["ffhq_vs_stylegan2_tpdne"].balanced_accuracy
        != flagged_results.pairs["ffhq_vs_stylegan2_tpdne"].balanced_accuracy
    )


def test_a_model_without_the_flag_has_no_familiarity_or_generalisation_to_recompute(results) -> None:
    view = metrics_at_threshold(results, 0.3)

    assert results.arrays.feature_distances is None
    assert view.familiarity is None and view.generalisation is None
    assert set(view.per_kind) == set(KINDS)


def test_a_familiarity_block_needs_every_distance_to_be_recomputed(flagged_results) -> None:
    document = flagged_results.to_dict()
    del document["predictions"][5]["feature_distance"]

    with pytest.raises(
        ResultsFileError,
        match=r"'predictions\[5\]\.feature_distance' is required when the file has a familiarity block",
    ):
        results_from_dict(document)


def test_predictions_are_exposed_as_typed_arrays_computed_once(results) -> None:
    arrays = results.arrays
    assert arrays is results.arrays
    np.testing.assert_array_equal(arrays.y_fake, LABELS)
    np.testing.assert_array_equal(arrays.p_fake, P_FAKE)
    assert arrays.kinds.tolist() == KINDS and arrays.ids[0] == "img_00.jpg"
    assert (arrays.y_fake.dtype.kind, arrays.p_fake.dtype, arrays.ids.shape) == ("i", np.float64, (24,))


def test_thesis_reported_results_keep_approximate_figures_honest(tmp_path) -> None:
    reported = thesis_reported_results(created="2025-01-01T00:00:00+00:00")

    table = reported.table
    assert [row.accuracy for row in table] == [0.50, 0.9615, 0.7555, 0.9355, 0.955, 0.934, 0.97]
    assert {row.n_test for row in table} == {2000}
    final = table[-1]
    assert (final.optimiser, final.approximate, final.f1) == ("Adam", True, 0.97)
    assert final.precision is final.recall is None
    assert "0.96-0.97" in final.note
    assert not any(row.approximate for row in table[:-1])
    assert load_results(save_results(reported, tmp_path / "thesis.json")) == reported


def test_comparison_table_lists_evaluated_models_first_and_flags_reported_ones(results) -> None:
    rows = comparison_table([thesis_reported_results(), results])

    assert all(tuple(row) == COMPARISON_COLUMNS for row in rows)
    evaluated, *reported = rows
    assert (evaluated["model_name"], evaluated["reported_not_reproduced"]) == ("EfficientNetB0", False)
    assert evaluated["auc"] == results.roc.auc
    assert evaluated["ece"] == results.calibration.ece
    assert evaluated["hard_pair_balanced_accuracy"] == results.pairs["ffhq_vs_stylegan2_tpdne"].balanced_accuracy
    assert evaluated["n"] == 24
    assert len(reported) == 7 and all(row["reported_not_reproduced"] for row in reported)
    assert [row["approximate"] for row in reported].count(True) == 1
    assert reported[0]["auc"] is reported[0]["balanced_accuracy"] is None  # nothing derived from reported figures


def test_false_alarm_and_robustness_entries() -> None:
    alarm = false_alarm_entry([0.1, 0.7, 0.2, 0.5], threshold=0.5, data_name="street photos")
    assert (alarm.n, alarm.n_fake_verdicts, alarm.fake_rate, alarm.n_flagged) == (4, 2, 0.5, None)
    assert alarm.ci[0] < 0.5 < alarm.ci[1]

    entry = robustness_entry(name="blur", params={"sigma": 1.0}, y_fake=[0, 1], p_fake=[0.2, 0.4], threshold=0.5)
    assert entry == RobustnessEntry(name="blur", params={"sigma": 1.0}, accuracy=0.5, auc=1.0, n=2)


def test_a_robustness_entry_counts_accuracy_and_lost_faces_per_kind() -> None:
    # judged: ffhq real 0.2 (right), gan256 fakes 0.7 (right) and 0.3 (wrong); lost: one gan256, two ffhq
    entry = robustness_entry(
        name="downscale_x0.25",
        params={"factor": 0.25},
        y_fake=[0, 1, 1],
        p_fake=[0.2, 0.7, 0.3],
        threshold=0.5,
        kinds=["ffhq", "gan256", "gan256"],
        lost_kinds=["gan256", "ffhq", "ffhq", "celeba"],
    )
    assert (entry.n, entry.n_no_face, entry.accuracy) == (3, 4, pytest.approx(2 / 3))
    assert entry.per_kind == {
        "celeba": RobustnessKind(n=0, accuracy=None, no_face=1),
        "ffhq": RobustnessKind(n=1, accuracy=1.0, no_face=2),
        "gan256": RobustnessKind(n=2, accuracy=0.5, no_face=1),
    }
    whole_images = robustness_entry(
        name="clean", params={}, y_fake=[0, 1], p_fake=[0.6, 0.9], threshold=0.5, kinds=["ffhq", "gan256"]
    )
    assert whole_images.n_no_face is None  # no face step: nothing to lose
    assert whole_images.per_kind["ffhq"] == RobustnessKind(n=1, accuracy=0.0, no_face=None)
    with pytest.raises(ValueError, match="one entry per image"):
        robustness_entry(name="x", params={}, y_fake=[0, 1], p_fake=[0.1, 0.9], threshold=0.5, kinds=["ffhq"])


def test_robustness_per_kind_must_add_up() -> None:
    kinds = {"ffhq": {"n": 2, "accuracy": 1.0, "no_face": 1}, "gan256": {"n": 1, "accuracy": 0.0, "no_face": 0}}
    entry = {"name": "jpeg_q50", "params": {}, "accuracy": 0.5, "auc": None, "n": 3, "n_no_face": 1}
    assert RobustnessEntry.from_dict({**entry, "per_kind": kinds}).per_kind["ffhq"].no_face == 1
    with pytest.raises(SchemaError, match="'per_kind' counts 3 judged images but n is 4"):
        RobustnessEntry.from_dict({**entry, "n": 4, "per_kind": kinds})
    with pytest.raises(SchemaError, match="counts 1 images without a face but n_no_face is 2"):
        RobustnessEntry.from_dict({**entry, "n_no_face": 2, "per_kind": kinds})


def test_a_robustness_entry_from_an_older_file_loads_and_is_saved_back_unchanged(tmp_path, results) -> None:
    document = results.to_dict()
    document["robustness"] = [{"name": "jpeg_q50", "params": {"quality": 50}, "accuracy": 0.8, "auc": 0.9, "n": 24}]

    loaded = load_results(_write(tmp_path / "old.json", document))

    assert (loaded.robustness[0].n_no_face, loaded.robustness[0].per_kind) == (None, None)
    assert loaded.to_dict() == document  # the new keys are not invented on saving


def _entry(name: str, accuracy: float, **per_kind: float) -> RobustnessEntry:
    return RobustnessEntry(
        name=name,
        params={"quality": 50} if name == "jpeg_q50" else {},
        accuracy=accuracy,
        auc=None,
        n=len(per_kind),
        per_kind={kind: {"n": 1, "accuracy": value} for kind, value in per_kind.items()} if per_kind else None,
    )


def test_the_robustness_table_puts_the_clean_reference_first_and_measures_against_it() -> None:
    rows = robustness_table([_entry("jpeg_q50", 0.75), _entry("clean", 0.875), _entry("gaussian_blur", 0.5)])

    assert [(row["name"], row["reference"]) for row in rows] == [
        ("clean", True),
        ("jpeg_q50", False),
        ("gaussian_blur", False),
    ]
    assert [row["accuracy_change"] for row in rows] == [0.0, -0.125, -0.375]
    assert rows[1]["params"] == "quality=50" and rows[0]["params"] == ""
    assert all(list(row) == list(ROBUSTNESS_COLUMNS) for row in rows)
    # a file written before the clean row existed: no reference, so no change is claimed
    assert [row["accuracy_change"] for row in robustness_table([_entry("jpeg_q50", 0.75)])] == [None]
    assert robustness_table([]) == []


def test_robustness_by_kind_is_a_kinds_by_perturbations_table() -> None:
    entries = [
        _entry("jpeg_q50", 0.5, gan256=0.0, ffhq=1.0),
        _entry("clean", 1.0, gan256=1.0, ffhq=1.0, celeba=1.0),
        _entry("gaussian_noise", 0.5),  # an older entry without per-kind results is left out
    ]

    rows = robustness_by_kind(entries)

    assert [list(row) for row in rows] == [["kind", "clean", "jpeg_q50"]] * 3
    assert rows == [
        {"kind": "celeba", "clean": 1.0, "jpeg_q50": None},
        {"kind": "ffhq", "clean": 1.0, "jpeg_q50": 1.0},
        {"kind": "gan256", "clean": 1.0, "jpeg_q50": 0.0},
    ]
    assert robustness_by_kind(entries, value="n")[0] == {"kind": "celeba", "clean": 1, "jpeg_q50": None}
