"""Evaluation: the stored test results of each model, explored at the threshold chosen for it.

Nothing is recomputed from images: the page renders the results files in
``<model dir>/evaluation/`` and only re-thresholds their stored per-image predictions. It opens on
the results of the model chosen in the sidebar, at the threshold the Classify and Explain pages use
for it, so the numbers shown describe the verdicts the visitor gets there. A wrong cell of the
confusion matrix opens the test images behind it, when the data folder is on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pandas as pd
import streamlit as st

from deepfake_core.errors import DataSetError
from deepfake_core.evaluation import HARD_PAIR, ReportedResults, metrics_at_threshold, pair_key
from deepfake_core.evaluation.gallery import (
    CELL_TITLES,
    CELLS,
    DATA_ENV,
    cell_predictions,
    default_data_dir,
    image_path,
    images_folder,
)
from deepfake_core.evaluation.generalisation import GENERALISATION_COLUMNS, generalisation_table, real_source_table
from deepfake_core.evaluation.results import ROBUSTNESS_COLUMNS, robustness_by_kind, robustness_table
from deepfake_core.evaluation.schema import Prediction
from deepfake_core.figures import (
    confusion_matrix_figure,
    generalisation_figure,
    per_kind_figure,
    pr_figure,
    reliability_figure,
    robustness_figure,
    roc_figure,
    training_curves_figure,
)
from deepfake_core.kinds import KIND_NAMES
from deepfake_core.perturb import CLEAN
from pages import formatting, messages, model_choice, shell, stored_results
from pages.files import display_folder
from pages.number_format import format_temperature

NOT_STATED = "—"
"""What a table cell shows where a value is undefined (e.g. AUC of a kind with one class), instead of "None"."""
GALLERY_COLUMNS = 6
"""Thumbnails per row of the wrong-verdict gallery."""


def show_test_image(prediction: Prediction, folder: Path) -> None:
    """One wrong verdict of the gallery: its thumbnail (read when first shown), name, kind and P(fake)."""
    p_fake = formatting.format_probability(prediction.p_fake)
    label = f"{PurePosixPath(prediction.id).name} · {prediction.kind} · P(fake) {p_fake}"
    try:
        picture = stored_results.gallery_thumbnail(image_path(folder, prediction.id))
    except DataSetError as error:
        st.caption(f"{label}: {error}")
        return
    if picture is None:
        st.caption(f"{label}: not found in `{display_folder(folder)}`.")
    else:
        st.image(picture, caption=label, width="stretch")


def show_real_sources(rows: list[dict]) -> None:
    """The leave-one-out runs' unseen fakes against each real source alone (a table under the seen/unseen one)."""
    if not rows:
        return
    st.markdown("**Which real faces the unseen fakes are told apart from**")
    st.caption(
        "The unseen AUC above ranks the unseen fakes against every real test face at once, and most of those "
        "come from one source (CelebA). Here the same fakes are ranked against each real source alone (its "
        "test faces), and against the people photos' faces, a source no run trained on. A run whose AUC is high "
        "against one source and near 0.5 against another has learnt what sets that source apart, not what the "
        "generators share; expect the figures against the sharper, more varied sources on new photos."
    )
    frame = pd.DataFrame(rows)
    scores = [column for column in frame.columns if column not in ("model_name", "unseen_kinds", "unseen_images")]
    st.dataframe(
        frame,
        hide_index=True,
        placeholder=NOT_STATED,
        column_config={
            "model_name": st.column_config.TextColumn("run", pinned=True),
            "unseen_kinds": "left out (unseen)",
            "unseen_images": st.column_config.NumberColumn("unseen fakes scored"),
            **{
                column: st.column_config.NumberColumn(column, format="%.3f", help=KIND_NAMES.get(column))
                for column in scores
            },
        },
    )


shell.page_setup()
st.title("Evaluation")
listing = stored_results.stored_results()
if not listing.results:
    messages.stop_with_info(
        f"No stored evaluation results in `{stored_results.results_folder_hint()}`. Run `deepfake-core evaluate` "
        "to write them there (one JSON file per model, see docs/evaluation_schema.md)."
    )

card = model_choice.chosen_card()
model_ids = [entry.model_id for entry in listing.results]
model_names = [entry.model_name for entry in listing.results]
if card is None:
    opened = None
elif card.model_id in model_ids:
    opened = model_ids.index(card.model_id)
else:  # results of another version of the same model, if any: shown, with a warning below
    opened = model_names.index(card.name) if card.name in model_names else None
labels = [
    f"{entry.model_name} ({entry.model_id})"
    + (" · reported, not reproduced" if entry.kind == "reported" else "")
    + (" · the sidebar's model" if index == opened else "")
    for index, entry in enumerate(listing.results)
]
choice = st.selectbox(
    "Stored results",
    range(len(labels)),
    index=opened or 0,
    format_func=labels.__getitem__,
    key=f"evaluation-results:{card.model_id if card else ''}",  # another sidebar model opens on its own results
)
results = listing.results[choice]
sidebar_card = card if choice == opened else None  # the shown results are the sidebar model's
if card is not None and opened is None:
    st.info(
        f"No stored results for the sidebar's model `{card.model_id}`: showing another model's. Run "
        f"`deepfake-core evaluate` to write them to `{stored_results.results_folder_hint()}`.",
        icon=":material/info:",
    )
elif sidebar_card is not None and results.model_id != sidebar_card.model_id:
    st.warning(
        f"These results were written for `{results.model_id}`, another version of the sidebar's model "
        f"`{sidebar_card.model_id}`: they may not describe its verdicts. Re-run `deepfake-core evaluate` to "
        "measure it.",
        icon=":material/history:",
    )

if isinstance(results, ReportedResults):
    st.warning(f"**Reported, not reproduced.** {results.note}", icon=":material/menu_book:")
    st.dataframe(
        pd.DataFrame([row.to_dict() for row in results.table]),
        hide_index=True,
        placeholder=NOT_STATED,
        column_config={
            "approximate": st.column_config.CheckboxColumn("approx. (~)"),
            "n_test": st.column_config.NumberColumn("test images"),
        },
    )
    st.caption(f"Source: {results.source}. Shown as stated there; nothing here was derived from these figures.")
    st.download_button(
        "Download JSON",
        json.dumps(results.to_dict(), indent=2),
        file_name=f"{results.model_id}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
    )
    st.stop()

data = results.data
st.caption(
    f"Test split '{data.split}' of '{data.root}', {data.n_images} images · written {results.created} · "
    f"temperature {format_temperature(results.temperature)}"
)
# the Classify and Explain pages' threshold for the sidebar's model (their scope is its model id)
threshold = (
    model_choice.threshold_slider(results.threshold, scope=results.model_id)
    if sidebar_card is None
    else model_choice.threshold_slider(sidebar_card.threshold, scope=sidebar_card.model_id)
)
st.caption(
    "The threshold the Classify and Explain pages use for this model: moving it here moves it there. Every section "
    "follows it, recomputed from the stored per-image predictions, except those marked *at the stored threshold* "
    f"({results.threshold:.2f}): robustness, false alarms and other runs, whose files keep no per-image scores."
)
view = metrics_at_threshold(results, threshold)
metrics = view.metrics

metric_rows = (
    (
        ("Accuracy", metrics.accuracy, metrics.accuracy_ci),
        ("Balanced accuracy", metrics.balanced_accuracy, None),
        ("F1 (Fake)", metrics.f1, None),
    ),
    (
        ("Recall (fakes caught)", metrics.recall, metrics.recall_ci),
        ("Precision (Fake)", metrics.precision, metrics.precision_ci),
        ("Specificity (reals passed)", metrics.specificity, metrics.specificity_ci),
        ("False-positive rate", metrics.false_positive_rate, metrics.false_positive_rate_ci),
    ),
)
for row in metric_rows:
    for column, (label, value, interval) in zip(st.columns(4), row, strict=False):
        column.metric(
            label,
            formatting.format_share(value),
            help=f"95 % CI {formatting.format_interval(interval)}" if interval else None,
        )

roc_column, pr_column = st.columns(2)
roc_column.plotly_chart(roc_figure(results.roc, model_name=results.model_name, operating_point=view.operating_point))
pr_column.plotly_chart(pr_figure(results.pr, model_name=results.model_name, operating_point=view.operating_point))
if results.eer:
    st.caption(f"Equal error rate {results.eer.eer:.1%} at threshold {results.eer.threshold:.3f}.")

matrix_column, calibration_column = st.columns(2)
with matrix_column:
    normalise = st.toggle("Normalise rows (share of each true class)", key="normalise-confusion")
    st.plotly_chart(confusion_matrix_figure(metrics.confusion_matrix, labels=metrics.labels, normalize=normalise))
    cell = st.segmented_control(
        "See the test images of a wrong cell",
        CELLS,
        format_func=CELL_TITLES.__getitem__,
        key="gallery-cell",
        help="The real faces called Fake (false alarms) or the fakes called Real (missed fakes) at this threshold.",
    )
with calibration_column:
    st.plotly_chart(reliability_figure(results.calibration, uncalibrated=results.calibration_uncalibrated))
    st.caption(
        "ECE (expected calibration error): the average gap between the P(fake) shown and how often such "
        "images really are fake. Lower is better; 0 means the confidence can be taken at face value. The n beside "
        "each point counts the test images in its bin: a point resting on a handful of images says little."
    )

if cell is not None:
    wrong = cell_predictions(results, threshold, cell)
    st.subheader(f"{CELL_TITLES[cell]}: {len(wrong)} test images")
    gallery_scope = f"{results.model_id}:{cell}"
    shown = wrong[: stored_results.gallery_limit(gallery_scope)]
    folder = images_folder(data.root)
    if not wrong:
        st.caption(f"No test image falls in this cell at threshold {threshold:.2f}.")
    elif folder is None:
        st.caption(
            f"At threshold {threshold:.2f}, the most wrong first (P(fake) furthest from the threshold). The test "
            f"images are not on this machine (`{display_folder(default_data_dir())}{data.root}`; set `{DATA_ENV}` to "
            f"the folder holding `{data.root}/`), so only their names, kinds and scores are listed."
        )
        st.dataframe(
            pd.DataFrame(
                [{"image": item.id, "kind": item.kind, "p_fake": item.p_fake} for item in shown],
                columns=["image", "kind", "p_fake"],
            ),
            hide_index=True,
            column_config={
                "p_fake": st.column_config.ProgressColumn("P(fake)", min_value=0.0, max_value=1.0, format="percent")
            },
        )
    else:
        st.caption(f"At threshold {threshold:.2f}, the most wrong first (P(fake) furthest from the threshold).")
        for start in range(0, len(shown), GALLERY_COLUMNS):
            for column, item in zip(st.columns(GALLERY_COLUMNS), shown[start : start + GALLERY_COLUMNS], strict=False):
                with column:
                    show_test_image(item, folder)
    if len(wrong) > len(shown):
        more = min(stored_results.GALLERY_PAGE_SIZE, len(wrong) - len(shown))
        st.caption(f"{len(shown)} of {len(wrong)} shown.")
        st.button(f"Show {more} more", on_click=stored_results.show_more, args=(gallery_scope,), key="gallery-more")

st.subheader("Classification report")
report = view.classification_report
st.dataframe(
    pd.DataFrame({name: scores.to_dict() for name, scores in report.rows().items()}).T,
    placeholder=NOT_STATED,
    column_config={name: st.column_config.NumberColumn(format="%.3f") for name in ("precision", "recall", "f1-score")},
)
st.caption(f"At threshold {threshold:.2f}; accuracy {formatting.format_share(report.accuracy)}.")

st.subheader("Per image kind")
st.caption(
    f"At threshold {threshold:.2f}. Most kinds hold one class, so their accuracy is the share of fakes caught "
    "(fake kinds) or of reals passed (real kinds), and AUC needs both classes (— where a kind has one); the "
    "intervals show how little a few dozen images can tell."
)
hard_kinds = set(HARD_PAIR)
familiarity = view.familiarity
generalisation = view.generalisation
unseen_kinds = set(generalisation.unseen_kinds) if generalisation else set()
flag_counts = familiarity.per_kind if familiarity else {}
st.dataframe(
    pd.DataFrame(
        [
            {
                "kind": kind,
                "hard pair": "★ hard pair" if kind in hard_kinds else "",
                "seen in training": kind not in unseen_kinds,
                "images": summary.n,
                "real": summary.n_real,
                "fake": summary.n_fake,
                "accuracy": summary.accuracy,
                "95 % CI": formatting.format_interval(summary.accuracy_ci),
                "AUC": summary.auc,
                "ECE": summary.ece,
                "flagged": flag_counts[kind].flagged / flag_counts[kind].n if kind in flag_counts else None,
            }
            for kind, summary in view.per_kind.items()
        ]
    ),
    hide_index=True,
    placeholder=NOT_STATED,
    column_config={
        "accuracy": st.column_config.NumberColumn(format="percent"),
        "AUC": st.column_config.NumberColumn(format="%.3f"),
        "ECE": st.column_config.NumberColumn(
            format="%.3f", help="Expected calibration error on this kind: how far confidence and accuracy part."
        ),
        "flagged": st.column_config.NumberColumn(
            "unlike training faces", format="percent", help="Share of this kind's faces the familiarity flag marks."
        ),
    },
)
st.plotly_chart(per_kind_figure(view.per_kind))
pair = view.pairs.get(pair_key(*HARD_PAIR))
if pair:
    with st.container(border=True):
        st.markdown(
            f"**★ Hard pair: {pair.real_kind} (real) vs {pair.fake_kind} (fake).** Same resolution, framing "
            "and style, so the model cannot score by telling data sets apart: this is the honest test. At "
            f"threshold {threshold:.2f}."
        )
        pair_columns = st.columns(3)
        pair_columns[0].metric("Balanced accuracy", formatting.format_share(pair.balanced_accuracy))
        pair_columns[0].caption(f"95 % CI {formatting.format_interval(pair.balanced_accuracy_ci)}")
        pair_columns[1].metric("AUC", "—" if pair.auc is None else f"{pair.auc:.3f}")
        pair_columns[1].caption(f"95 % CI {formatting.format_interval(pair.auc_ci)}")
        pair_columns[2].metric("Images", f"{pair.n_real} real / {pair.n_fake} fake")

if familiarity:
    st.subheader("Unlike the training faces")
    everything = familiarity.all
    flag_columns = st.columns(3)
    flag_columns[0].metric("Faces flagged", formatting.format_share(everything.flagged / everything.n))
    flag_columns[1].metric(
        "Wrong verdicts flagged",
        formatting.format_share(everything.wrong_flagged / everything.wrong if everything.wrong else None),
        help=f"{everything.wrong_flagged} of {everything.wrong} wrong verdicts at threshold {threshold:.2f}.",
    )
    flag_columns[2].metric("Accuracy on unflagged faces", formatting.format_share(familiarity.accuracy_unflagged))
    st.caption(
        "A face is flagged when its features lie further from the training faces' than the model card's "
        f"threshold ({familiarity.flag_threshold:.3f}, set so about 5 % of validation faces are flagged). A "
        "flag that catches wrong verdicts more often than its overall rate is telling you something."
    )

st.subheader("Seen vs unseen generators")
studies = stored_results.stored_results(stored_results.GENERALISATION_FOLDER)
rows = generalisation_table(studies.results)
if rows:
    st.caption(
        "Each run below trained a recipe with some kinds left out, then scored their test fakes against "
        "every real test face (or, for left-out real faces, how many are called Fake); runs evaluated on the "
        "test+unseen split score every image of the left-out kinds, about ten times as many (the 'unseen images "
        "scored' column), so their unseen figures are steadier: the best estimate here of "
        "what happens on a generator or a source of photos that appears after training. The real test faces "
        "come from sources every run trained on; the 'vs people photos' columns score the same unseen fakes "
        "against the faces of the false-alarm photos, a real source no run trained on. Runs named lite0_… "
        "trained the shipped default's recipe (EfficientNet-Lite0 from ImageNet weights) before greyscale "
        "augmentation joined it (lite0_grey_…: with it; lite0_variety_…: with colour grading, skin retouching and "
        "sharpening as well; lite0_swa_…, lite0_jpeg75_… and lite0_past_…: that recipe with weight averaging, with "
        "every input re-encoded at JPEG 75, and with a compressed past for 30 % of the training faces; lite0_soup2_… "
        "and lite0_soup3_…: the mean of the weights of two or three of those runs, as the shipped default is, README; "
        "lite0_96_…, lite0_112_… and lite0_160_…: the lite0_variety_… recipe on 96, 112 or 160 px crops, not 128; "
        "lite0_lpft_…: that recipe with the head trained alone for two epochs first; every other lite0_… and "
        "lite1_… prefix, such as lite0_kinds_…, lite0_kb1_… or lite0_cutout_…, is one variant of it, named with its "
        "command and figures in docs/experiments.md); probe_… runs are the "
        "lite0_… run of the same fold with a frozen ImageNet texture probe blended in (`deepfake-core add-probe`); "
        "runs without a prefix, the previous default's small CNN trained from scratch. "
        "Other runs, so at the stored threshold: recall, balanced accuracy and false alarms are at each run's own "
        "threshold, not the slider's."
    )
    st.dataframe(
        pd.DataFrame(rows, columns=list(GENERALISATION_COLUMNS)),
        hide_index=True,
        placeholder=NOT_STATED,
        column_config={
            "model_name": "run",
            "unseen_kinds": "left out (unseen)",
            "unseen_images": st.column_config.NumberColumn(
                "unseen images scored",
                help="Their test images, or every image of the left-out kinds for runs evaluated on test+unseen.",
            ),
            "unseen_recall": st.column_config.NumberColumn("unseen fakes caught", format="percent"),
            "unseen_auc": st.column_config.NumberColumn("unseen AUC", format="%.3f"),
            "unseen_balanced_accuracy": st.column_config.NumberColumn("unseen balanced acc.", format="percent"),
            "photos_auc": st.column_config.NumberColumn("unseen AUC vs people photos", format="%.3f"),
            "photos_balanced_accuracy": st.column_config.NumberColumn(
                "balanced acc. vs people photos", format="percent"
            ),
            "seen_auc": st.column_config.NumberColumn("seen AUC", format="%.3f"),
            "missed_unseen_flagged": st.column_config.NumberColumn("missed unseen flagged", format="percent"),
            "unseen_real_false_alarm_rate": st.column_config.NumberColumn(
                "unseen real faces called Fake", format="percent"
            ),
            "false_alarm_rate": st.column_config.NumberColumn("false alarms, people photos", format="percent"),
        },
    )
    st.plotly_chart(generalisation_figure(rows))
    show_real_sources(real_source_table(studies.results))
else:
    st.caption(
        "No leave-one-generator-out results in "
        f"`{stored_results.results_folder_hint()}/{stored_results.GENERALISATION_FOLDER}` "
        "(see the README: train with `--exclude-kinds`, then evaluate into that folder)."
    )
if generalisation and generalisation.unseen_fakes:
    seen_recall = generalisation.seen_fakes.recall if generalisation.seen_fakes else None
    st.info(
        f"This model never saw {', '.join(generalisation.unseen_kinds)}: it caught "
        f"{formatting.format_share(generalisation.unseen_fakes.recall)} of those test fakes, against "
        f"{formatting.format_share(seen_recall)} of the fakes it saw, at threshold {threshold:.2f}.",
        icon=":material/visibility_off:",
    )

st.subheader("Training curves")
st.plotly_chart(training_curves_figure(results.training_history))

st.subheader("Robustness")
robustness_rows = robustness_table(results.robustness)
if robustness_rows:
    changed = (
        "Each test image is changed as a photo may be on its way to you (re-compressed, shrunk, blurred, noisy), "
        f"then judged at the stored threshold {results.threshold:.2f}"
        + (", its face found again on the changed image." if results.faces else ".")
    )
    reference = (
        "The **clean** row goes through exactly the same steps with nothing changed: it is the reference each "
        "change is measured against."
        if robustness_rows[0]["reference"]
        else "This file has no clean reference row (it was written before that row existed), so the dashed line "
        "is the test accuracy at the top of the page, which for a face model was measured on the stored face crops, "
        "not on faces found again. Re-run `deepfake-core evaluate` for a like-for-like reference."
    )
    st.caption(f"{changed} {reference}")
    st.dataframe(
        pd.DataFrame(robustness_rows, columns=list(ROBUSTNESS_COLUMNS)),
        hide_index=True,
        placeholder=NOT_STATED,
        column_config={
            "name": "perturbation",
            "params": "settings",
            "reference": st.column_config.CheckboxColumn("reference (clean)"),
            "accuracy": st.column_config.NumberColumn(format="percent"),
            "accuracy_change": st.column_config.NumberColumn(
                "change vs clean", format="percent", help="Accuracy minus the clean row's accuracy."
            ),
            "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
            "n": st.column_config.NumberColumn("judged", help="Images that got a verdict."),
            "n_no_face": st.column_config.NumberColumn(
                "lost their face",
                help="Images whose face the face step no longer found after the change: no verdict, and not "
                "in the accuracy. Empty for a model without a face step.",
            ),
        },
    )
    st.plotly_chart(robustness_figure(results.robustness, clean_accuracy=results.metrics.accuracy))
    by_kind = robustness_by_kind(results.robustness)
    if by_kind:
        st.markdown("**Accuracy per image kind after each change**")
        st.caption(
            "One row per kind, one column per perturbation (clean first), at the stored threshold "
            f"{results.threshold:.2f}. Most kinds hold one class, so this is the share of fakes caught or of reals "
            "passed: a change can leave the average alone and still hurt one generator's fakes."
        )
        columns = [column for column in by_kind[0] if column != "kind"]
        st.dataframe(
            pd.DataFrame(by_kind),
            hide_index=True,
            placeholder=NOT_STATED,
            column_config={
                column: st.column_config.NumberColumn(
                    f"{column} (reference)" if column == CLEAN else column, format="percent"
                )
                for column in columns
            },
        )
        if any(row["n_no_face"] is not None for row in robustness_rows):
            with st.expander("Images that lost their face, per kind"):
                st.dataframe(
                    pd.DataFrame(robustness_by_kind(results.robustness, value="no_face")),
                    hide_index=True,
                    placeholder=NOT_STATED,
                )
else:
    st.caption("No robustness results stored for this model (`deepfake-core evaluate` writes them).")

false_alarm = results.false_alarm
if false_alarm:
    st.subheader("False alarms on ordinary people photos")
    st.caption(
        f"At the stored threshold {results.threshold:.2f}: this block keeps only counts, not each photo's P(fake), "
        "so it does not follow the slider."
    )
    st.metric(
        f"Fake verdicts among {false_alarm.n} judged ({false_alarm.data})",
        formatting.format_share(false_alarm.fake_rate),
        help=f"{false_alarm.n_fake_verdicts} of {false_alarm.n}; 95 % CI {formatting.format_interval(false_alarm.ci)}",
    )
    if false_alarm.n_flagged is not None:
        st.caption(
            f"{false_alarm.n_flagged} of these {false_alarm.n} real faces are flagged as unlike the training "
            f"faces, {false_alarm.n_fake_verdicts_flagged} of the {false_alarm.n_fake_verdicts} false alarms "
            "among them."
        )

faces = results.faces
if faces:
    st.subheader("Face step: which test images had a face")
    st.caption(
        "This model judges aligned face crops. Test images where the face detector found no usable face get no "
        "verdict, as they would for a user, and are not in any figure above."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {"kind": kind, "images": entry.n, "with a face": entry.with_face, "share": entry.share}
                for kind, entry in faces.coverage.items()
            ]
        ),
        hide_index=True,
        placeholder=NOT_STATED,
        column_config={"share": st.column_config.NumberColumn(format="percent")},
    )
    with st.expander(f"Test images without a verdict ({len(faces.misses)})"):
        misses = [miss.to_dict() for miss in faces.misses]
        st.dataframe(pd.DataFrame(misses, columns=["id", "kind", "reason"]), hide_index=True, placeholder=NOT_STATED)

shown = {key: value for key, value in results.to_dict().items() if key != "predictions"}
st.download_button(
    "Download what is shown (JSON)",
    json.dumps({**shown, "at_threshold": view.to_dict()}, indent=2),
    file_name=f"{results.model_id}-evaluation-at-{threshold:.2f}.json",
    mime="application/json",
    on_click="ignore",
    icon=":material/download:",
)
