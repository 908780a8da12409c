"""Every dashboard page driven through ``streamlit.testing.v1.AppTest`` against the tiny test model.

The app is started from its entry point and each page is opened with ``switch_page``, as a
visitor would reach it. ``DEEPFAKE_LENS_MODEL_DIR`` points at the fixture folder; the cached
detector and results are keyed by path and file time, so folders never leak between tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import (
    astronaut,
    encode,
    explanation_of,
    face_like_image,
    four_faces,
    no_face_pictures,
    save_tiny_model,
)
from PIL import Image
from streamlit.testing.v1 import AppTest

from deepfake_core.detector import Detector

ROOT = Path(__file__).resolve().parent.parent
ROW_COLUMNS = [
    *("file", "face", "box", "face_score", "verdict", "p_fake", "confidence", "unfamiliar", "feature_distance"),
    *("threshold", "sha256", "model_id", "error"),
]
PAGES = ("pages/home.py", "pages/classify.py", "pages/explain.py", "pages/evaluation.py", "pages/model.py")
THRESHOLD_KEY = "threshold:default-test"
TIMEOUT = 120  # seconds; the first run imports TensorFlow and loads the model on a shared 2-core machine


def open_page(page: str) -> AppTest:
    """Run the entry point, then switch to ``page`` (as clicking it in the navigation does)."""
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    return app.switch_page(page).run()


def png(seed: int, *, height: int = 48, width: int = 40) -> bytes:
    return encode(face_like_image(height, width, seed=seed), "PNG")


def verdicts(app: AppTest) -> list[str]:
    """The verdict badges on the page, e.g. ``["Real", "Fake"]``."""
    return [item.value.split("Verdict: ")[1].rstrip("]") for item in app.markdown if "Verdict: " in item.value]


def metric(app: AppTest, label: str) -> str:
    return next(item.value for item in app.metric if item.label == label)


@pytest.fixture
def classify(model_dir: Path) -> AppTest:
    return open_page("pages/classify.py")


# --------------------------------------------------------------------------- shell


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_sidebar(model_dir: Path, page: str) -> None:
    app = open_page(page)
    assert not app.exception
    assert not app.error
    assert app.title
    assert app.sidebar.selectbox[0].value == "default"
    assert any("`default-test`" in item.value for item in app.sidebar.markdown)
    assert any("32x32 RGB" in item.value and "threshold 0.50" in item.value for item in app.sidebar.caption)


def test_home_explains_pages_and_limitations(model_dir: Path) -> None:
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    limitations = app.warning[0].value
    assert "knows only the kinds of fakes it was trained on" in limitations
    assert "probability, not proof" in limitations


def test_home_names_what_the_selected_model_was_trained_on(tmp_path: Path, monkeypatch) -> None:
    from dataclasses import replace

    from deepfake_core.card import card_path_for, load_card, save_card

    path = save_tiny_model(tmp_path)
    seen = "Fakes seen in training: gan256, sd21. Real faces seen: celeba."
    save_card(replace(load_card(card_path_for(path)), limitations=(seen, "other")), card_path_for(path))
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    assert f"The selected model, `default`:** {seen}" in app.warning[0].value


@pytest.mark.parametrize("page", ("pages/classify.py", "pages/explain.py", "pages/model.py"))
def test_without_a_model_each_page_says_what_to_put_where(tmp_path: Path, monkeypatch, page: str) -> None:
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page(page)
    assert not app.exception
    message = app.info[0].value
    assert "No model found in" in message
    assert "default.keras" in message and "default.card.json" in message
    assert "deepfake-core train" in message


def test_home_and_sidebar_render_without_a_model(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    assert app.title[0].value == "deepfake-lens"
    assert "No model in" in app.sidebar.caption[0].value


def test_without_results_the_evaluation_page_says_how_to_make_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/evaluation.py")
    assert not app.exception
    assert "No stored evaluation results" in app.info[0].value
    assert "deepfake-core evaluate" in app.info[0].value


def test_a_model_without_card_is_reported_not_loaded(tmp_path: Path, monkeypatch) -> None:
    save_tiny_model(tmp_path)
    (tmp_path / "default.card.json").unlink()
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/classify.py")
    assert not app.exception
    assert "No model card" in app.error[0].value
    assert not app.file_uploader


def test_legacy_model_needs_the_sidebar_opt_in(tmp_path: Path, monkeypatch) -> None:
    save_tiny_model(tmp_path)
    (tmp_path / "best_model_effatt.h5").write_bytes(b"not loaded unless the user opts in")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    monkeypatch.delenv("DEEPFAKE_LENS_ALLOW_LEGACY", raising=False)
    app = open_page("pages/classify.py")
    opt_in = app.sidebar.checkbox[0]
    assert opt_in.label == "Allow the thesis' legacy H5 model"
    assert opt_in.value is False
    app.sidebar.selectbox[0].set_value("thesis (legacy H5)").run()
    assert not app.exception
    assert "loads only if you tick" in app.info[0].value


def test_no_legacy_checkbox_without_a_legacy_file(model_dir: Path) -> None:
    app = open_page("pages/classify.py")
    assert not app.sidebar.checkbox


@pytest.mark.parametrize("page", ["pages/home.py", "pages/evaluation.py", "pages/model.py"])
def test_pages_without_the_model_do_not_import_tensorflow(model_dir: Path, page: str) -> None:
    """TensorFlow is most of a cold start (~5 s, ~700 MB): only Classify and Explain may pay for it."""
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"app = AppTest.from_file({str(ROOT / 'streamlit_app.py')!r}, default_timeout={TIMEOUT}).run(); "
        f"app = app.switch_page({page!r}).run(); "
        "assert not app.exception, app.exception; print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------- classify


def test_classify_asks_for_images_first(classify: AppTest) -> None:
    assert not classify.exception
    assert "Upload one or more face images" in classify.info[0].value
    assert classify.file_uploader[0].accept_multiple_files
    # any file reaches the page, so a wrong type is refused with a message, not only marked in the uploader
    assert classify.file_uploader[0].allowed_type == []


def test_classify_uploads_show_verdict_probability_and_provenance(classify: AppTest, tiny_detector: Detector) -> None:
    files = [("face.png", png(1), "image/png"), ("face.jpg", encode(face_like_image(seed=2), "JPEG"), "image/jpeg")]
    classify.file_uploader[0].set_value(files).run()
    assert not classify.exception
    assert not classify.error
    assert len(verdicts(classify)) == 2
    bars = sorted(bar.value for bar in classify.get("progress"))  # one P(fake) bar per verdict, in percent
    expected = tiny_detector.predict(face_like_image(seed=1))
    details = [item.value for item in classify.markdown if item.value.startswith("P(fake)")]
    assert f"P(fake) **{expected.p_fake:.1%}**" in details[0]
    assert f"**{expected.confidence:.1%}**" in details[0]
    captions = " ".join(item.value for item in classify.caption)
    assert "sha256 `" in captions and "model `default-test`" in captions
    table = classify.dataframe[0].value
    assert sorted(table["file"]) == ["face.jpg", "face.png"]  # in triage order (tests/test_app_classify_workflow.py)
    assert bars == sorted(int(p * 100) for p in table["p_fake"])
    assert [button.label for button in classify.get("download_button")] == [
        "Download CSV",
        "Download JSON",
        "Download report (HTML)",
    ]


@pytest.mark.parametrize(("threshold", "expected"), [(0.0, "Fake"), (1.0, "Real")])
def test_threshold_slider_flips_every_verdict(
    classify: AppTest, tiny_detector: Detector, threshold: float, expected: str
) -> None:
    seeds = (1, 2, 3)
    assert all(0.0 < tiny_detector.predict(face_like_image(seed=seed)).p_fake < 1.0 for seed in seeds)
    classify.file_uploader[0].set_value([(f"{seed}.png", png(seed), "image/png") for seed in seeds]).run()
    classify.slider(key=THRESHOLD_KEY).set_value(threshold).run()
    assert not classify.exception
    assert verdicts(classify) == [expected] * len(seeds)
    assert list(classify.dataframe[0].value["verdict"]) == [expected] * len(seeds)
    no_proof = [item for item in classify.caption if item.value.startswith("Real is not proof of authenticity")]
    assert len(no_proof) == (len(seeds) if expected == "Real" else 0)  # under every Real verdict, under no Fake one


def test_threshold_starts_at_the_card_value(classify: AppTest) -> None:
    assert classify.slider(key=THRESHOLD_KEY).value == pytest.approx(0.5)


def test_a_bad_file_gets_its_own_error_and_the_others_are_classified(classify: AppTest) -> None:
    files = [
        ("good-1.png", png(1), "image/png"),
        ("notes.png", b"just some text, not an image", "image/png"),
        ("cut.png", png(2)[:60], "image/png"),
        ("good-2.png", png(3), "image/png"),
    ]
    classify.file_uploader[0].set_value(files).run()
    assert not classify.exception
    errors = [item.value for item in classify.error]
    assert len(errors) == 2
    assert errors[0].startswith("**notes.png**") and "text file" in errors[0]
    assert errors[1].startswith("**cut.png**") and "truncated or corrupt" in errors[1]
    assert len(verdicts(classify)) == 2
    table = classify.dataframe[0].value
    assert sorted(table["file"][:2]) == ["good-1.png", "good-2.png"]  # the verdicts first, the refused files last
    assert table["file"][2:].tolist() == ["notes.png", "cut.png"]
    assert table["error"].notna().tolist() == [False, False, True, True]


def test_every_refused_upload_is_an_error_naming_the_file_and_the_reason(classify: AppTest) -> None:
    import streamlit as st

    limit = st.get_option("server.maxUploadSize")
    assert f"at most {limit} MB per file" in classify.caption[0].value  # over the limit never reaches the page
    files = [
        ("good.png", png(1), "image/png"),
        ("empty.png", b"", "image/png"),
        ("report.pdf", b"%PDF-1.7 a document", "application/pdf"),
        ("notes.txt", b"just some text", "text/plain"),
        ("animation.gif", b"GIF89a" + b"\0" * 40, "image/gif"),
    ]
    classify.file_uploader[0].set_value(files).run()
    assert not classify.exception
    assert classify.file_uploader  # the uploader stays, so a refused file can be removed
    errors = [item.value for item in classify.error]
    assert [error.split("**")[1] for error in errors] == ["empty.png", "report.pdf", "notes.txt", "animation.gif"]
    reasons = ["empty (0 bytes)", "PDF", "text", "GIF"]
    assert all(reason in error for reason, error in zip(reasons, errors, strict=True)), errors
    assert all(" was not classified: " in error for error in errors)
    # shown together above the results, not among them
    shown = [
        node.type for node in classify.main if node.type == "error" or "Verdict: " in str(getattr(node, "value", ""))
    ]
    assert shown == ["error"] * len(errors) + ["markdown"]  # four errors, then the one verdict badge
    assert len(verdicts(classify)) == 1


def test_adding_a_file_classifies_only_that_file(classify: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    predicted: list[tuple[int, ...]] = []
    original = Detector.predict_batch

    def counting_predict(self, images, **kwargs):
        predicted.extend(image.shape for image in images)
        return original(self, images, **kwargs)

    monkeypatch.setattr(Detector, "predict_batch", counting_predict)
    first, second = ("first.png", png(1), "image/png"), ("second.png", png(2, height=64), "image/png")
    classify.file_uploader[0].set_value([first]).run()
    classify.file_uploader[0].set_value([first, second]).run()
    assert not classify.exception
    assert predicted == [(48, 40, 3), (64, 40, 3)]
    assert len(verdicts(classify)) == 2


def test_at_most_max_images_are_classified_per_run(classify: AppTest) -> None:
    from pages.inputs import MAX_IMAGES

    files = [(f"{index}.png", png(index, height=16, width=16), "image/png") for index in range(MAX_IMAGES + 2)]
    classify.file_uploader[0].set_value(files).run()
    assert not classify.exception
    [error] = classify.error
    assert f"Not classified: **{MAX_IMAGES}.png**, **{MAX_IMAGES + 1}.png**." in error.value
    assert f"Only the first {MAX_IMAGES} of {MAX_IMAGES + 2} images" in error.value
    assert len(classify.dataframe[0].value) == MAX_IMAGES


def test_built_in_samples_are_classified(classify: AppTest) -> None:
    from pages.inputs import SAMPLES

    offered = classify.multiselect[0].options
    assert len(offered) == len(SAMPLES) and any(option.startswith("sd21_000276: Generated: ") for option in offered)
    classify.multiselect[0].set_value(["astronaut", "stylegan2_tpdne_fake_89", "chelsea"]).run()
    assert not classify.exception
    assert not classify.error
    assert len(verdicts(classify)) == 3
    assert list(classify.dataframe[0].value["file"]) == ["astronaut.png", "stylegan2_tpdne_fake_89.jpg", "chelsea.png"]


# --------------------------------------------------------------------------- evaluation


def per_kind_table(app: AppTest) -> Any:
    """The Evaluation page's per-kind table, indexed by kind."""
    return next(frame.value for frame in app.dataframe if "hard pair" in frame.value.columns).set_index("kind")


def test_evaluation_threshold_slider_moves_every_threshold_dependent_section(model_dir: Path) -> None:
    app = open_page("pages/evaluation.py")
    assert not app.exception
    assert app.selectbox[0].value == 0  # the evaluated model comes before the reported entry
    at_card = metric(app, "Accuracy")
    app.slider(key=THRESHOLD_KEY).set_value(0.0).run()
    assert not app.exception
    # At threshold 0 everything is called Fake: recall is 100 % and specificity 0 %.
    assert metric(app, "Recall (fakes caught)") == "100.0%"
    assert metric(app, "Specificity (reals passed)") == "0.0%"
    assert metric(app, "Accuracy") != at_card
    captions = " ".join(item.value for item in app.caption)
    assert "At threshold 0.00" in captions
    per_kind = per_kind_table(app)
    assert per_kind.loc[["celeba", "ffhq"], "accuracy"].tolist() == [0.0, 0.0]  # every real face called Fake
    assert per_kind.loc[["gan256", "stylegan2_tpdne"], "accuracy"].tolist() == [1.0, 1.0]
    assert any("Hard pair" in item.value and "At threshold 0.00" in item.value for item in app.markdown)
    assert metric(app, "Balanced accuracy") == "50.0%"  # overall, and the hard pair's: all fakes caught, no real passed
    assert [item.value for item in app.metric if item.label == "Balanced accuracy"] == ["50.0%", "50.0%"]


def test_evaluation_opens_at_the_threshold_chosen_on_classify(classify: AppTest) -> None:
    classify.slider(key=THRESHOLD_KEY).set_value(1.0).run()
    classify.switch_page("pages/evaluation.py").run()
    assert not classify.exception
    assert classify.slider(key=THRESHOLD_KEY).value == 1.0
    assert metric(classify, "Specificity (reals passed)") == "100.0%"
    assert per_kind_table(classify).loc["celeba", "accuracy"] == 1.0
    classify.slider(key=THRESHOLD_KEY).set_value(0.3).run()
    classify.switch_page("pages/classify.py").run()
    assert classify.slider(key=THRESHOLD_KEY).value == 0.3  # and back: one threshold per model for the session


def test_evaluation_opens_on_the_results_of_the_sidebars_model(tmp_path: Path, monkeypatch) -> None:
    from conftest import synthetic_results

    from deepfake_core.evaluation.results import save_results

    save_tiny_model(tmp_path)
    save_tiny_model(tmp_path, name="other", seed=1)
    save_tiny_model(tmp_path, name="unmeasured", seed=2)
    (tmp_path / "evaluation").mkdir()
    save_results(synthetic_results(), tmp_path / "evaluation" / "default.json")
    other = synthetic_results(model_id="other-test", model_name="other", seed=3)
    save_results(other, tmp_path / "evaluation" / "other.json")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/evaluation.py")
    assert app.selectbox[0].value == 0 and "the sidebar's model" in app.selectbox[0].format_func(0)
    app.sidebar.selectbox[0].set_value("other").run()
    assert not app.exception
    assert app.selectbox[0].value == 1
    assert app.slider[0].key == "threshold:other-test"  # the Classify page's threshold for that model
    assert metric(app, "Accuracy") == f"{other.metrics.accuracy:.1%}"
    app.sidebar.selectbox[0].set_value("unmeasured").run()
    assert not app.exception
    assert "No stored results for the sidebar's model `unmeasured-test`" in app.info[0].value
    assert app.selectbox[0].value == 0


def test_evaluation_tables_show_a_dash_for_undefined_values_and_name_the_stored_threshold(
    tmp_path: Path, monkeypatch
) -> None:
    from dataclasses import replace

    from conftest import synthetic_results

    from deepfake_core.evaluation.results import false_alarm_entry, robustness_entry, save_results

    save_tiny_model(tmp_path)
    alarms = false_alarm_entry([0.2, 0.7, 0.4], threshold=0.5, data_name="people photos")
    jpeg = robustness_entry(name="jpeg_q50", params={"quality": 50}, y_fake=[0, 1], p_fake=[0.2, 0.9], threshold=0.5)
    (tmp_path / "evaluation").mkdir()
    save_results(
        replace(synthetic_results(), false_alarm=alarms, robustness=(jpeg,)), tmp_path / "evaluation" / "default.json"
    )
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/evaluation.py")
    app.slider(key=THRESHOLD_KEY).set_value(0.8).run()
    assert not app.exception
    assert per_kind_table(app)["AUC"].isna().all()  # one class per kind: undefined, shown as a dash
    assert app.dataframe and all(frame.proto.placeholder == "—" for frame in app.dataframe)
    captions = [item.value for item in app.caption]
    assert any(caption.startswith("At the stored threshold 0.50: this block keeps only counts") for caption in captions)
    assert any("judged at the stored threshold 0.50" in caption for caption in captions)  # robustness
    assert "At threshold 0.80" in " ".join(captions)


def test_evaluation_shows_every_section(model_dir: Path) -> None:
    app = open_page("pages/evaluation.py")
    subheaders = [item.value for item in app.subheader]
    assert subheaders[:5] == [
        "Classification report",
        "Per image kind",
        "Seen vs unseen generators",
        "Training curves",
        "Robustness",
    ]
    per_kind = app.dataframe[1].value
    assert set(per_kind.loc[per_kind["hard pair"] != "", "kind"]) == {"ffhq", "stylegan2_tpdne"}
    assert any("Hard pair: ffhq (real) vs stylegan2_tpdne (fake)" in item.value for item in app.markdown)
    app.toggle(key="normalise-confusion").set_value(True).run()
    assert not app.exception
    assert app.get("download_button")[0].label == "Download what is shown (JSON)"


def test_evaluation_lists_the_face_steps_coverage_and_misses(tmp_path: Path, monkeypatch) -> None:
    from dataclasses import replace

    from conftest import synthetic_results

    from deepfake_core.evaluation.results import save_results
    from deepfake_core.evaluation.schema import Faces

    save_tiny_model(tmp_path)
    faces = {
        "face_crop": {"detector": "mtcnn"},
        "coverage": {"celeba": {"n": 41, "with_face": 40, "no_face": 1, "share": 40 / 41}},
        "misses": [{"id": "Real/celeba_999.jpg", "kind": "celeba", "reason": "no face"}],
    }
    results = replace(synthetic_results(), faces=Faces.from_dict(faces))
    (tmp_path / "evaluation").mkdir()
    save_results(results, tmp_path / "evaluation" / "default.json")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/evaluation.py")
    assert not app.exception
    assert "Face step: which test images had a face" in [item.value for item in app.subheader]
    coverage = next(frame.value for frame in app.dataframe if "with a face" in frame.value.columns)
    assert coverage.to_dict("records") == [{"kind": "celeba", "images": 41, "with a face": 40, "share": 40 / 41}]
    misses = next(frame.value for frame in app.dataframe if "reason" in frame.value.columns)
    assert misses["id"].tolist() == ["Real/celeba_999.jpg"]


def _robustness_page(folder: Path, monkeypatch, entries: list[dict]) -> AppTest:
    """The Evaluation page of a tiny model whose stored results hold the robustness ``entries``."""
    from dataclasses import replace

    from conftest import synthetic_results

    from deepfake_core.evaluation.results import robustness_entry, save_results

    save_tiny_model(folder)
    results = replace(synthetic_results(), robustness=tuple(robustness_entry(threshold=0.5, **e) for e in entries))
    (folder / "evaluation").mkdir()
    save_results(results, folder / "evaluation" / "default.json")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(folder))
    app = open_page("pages/evaluation.py")
    assert not app.exception
    return app


def test_evaluation_robustness_reads_each_perturbation_against_the_clean_row_per_kind(tmp_path, monkeypatch) -> None:
    jpeg = {
        "name": "jpeg_q50",
        "params": {"quality": 50},
        "y_fake": [0, 1, 1],
        "p_fake": [0.2, 0.3, 0.9],
        "kinds": ["celeba", "gan256", "gan256"],
        "lost_kinds": ["celeba"],
    }
    clean = {
        "name": "clean",
        "params": {},
        "y_fake": [0, 0, 1, 1],
        "p_fake": [0.2, 0.1, 0.8, 0.9],
        "kinds": ["celeba", "celeba", "gan256", "gan256"],
        "lost_kinds": [],
    }
    app = _robustness_page(tmp_path, monkeypatch, [jpeg, clean])
    table = next(frame.value for frame in app.dataframe if "accuracy_change" in frame.value.columns)
    assert table[["name", "reference", "n", "n_no_face"]].values.tolist() == [
        ["clean", True, 4, 0],
        ["jpeg_q50", False, 3, 1],
    ]
    assert table["accuracy_change"].tolist() == pytest.approx([0.0, 2 / 3 - 1])
    by_kind = next(frame.value for frame in app.dataframe if list(frame.value.columns) == ["kind", "clean", "jpeg_q50"])
    assert by_kind.values.tolist() == [["celeba", 1.0, 1.0], ["gan256", 1.0, 0.5]]
    lost = next(
        frame.value for frame in app.dataframe if frame.value.values.tolist() == [["celeba", 0, 1], ["gan256", 0, 0]]
    )
    assert list(lost.columns) == ["kind", "clean", "jpeg_q50"]
    assert any("The **clean** row goes through exactly the same steps" in item.value for item in app.caption)


def test_evaluation_robustness_of_an_older_file_says_it_has_no_clean_reference(tmp_path, monkeypatch) -> None:
    app = _robustness_page(
        tmp_path, monkeypatch, [{"name": "jpeg_q50", "params": {"quality": 50}, "y_fake": [0, 1], "p_fake": [0.2, 0.9]}]
    )
    table = next(frame.value for frame in app.dataframe if "accuracy_change" in frame.value.columns)
    assert table["accuracy_change"].isna().all() and not table["reference"].any()
    assert any("no clean reference row" in item.value for item in app.caption)
    assert not any(list(frame.value.columns) == ["kind", "jpeg_q50"] for frame in app.dataframe)  # no per-kind data


def test_the_thesis_entry_is_labelled_reported_not_reproduced(model_dir: Path) -> None:
    app = open_page("pages/evaluation.py")
    app.selectbox[0].set_value(1).run()
    assert not app.exception
    assert app.warning[0].value.startswith("**Reported, not reproduced.**")
    assert "EfficientNetB7 + attention" in set(app.dataframe[0].value["model"])


# --------------------------------------------------------------------------- model


def test_model_page_renders_the_card_and_the_comparison(model_dir: Path) -> None:
    app = open_page("pages/model.py")
    assert not app.exception
    assert app.header[0].value == "default"
    architecture = app.dataframe[0].value
    assert "small_cnn + attention (thesis head)" in set(architecture["value"])
    assert architecture.loc[architecture["field"] == "face step", "value"].item() == "none: the whole image is judged"
    contract = next(item.value for item in app.markdown if item.value.startswith("1. **Input**"))
    assert "**32 x 32**" in contract and "RGB" in contract and "0..255" in contract
    evaluated, reported = app.dataframe[-2].value, app.dataframe[-1].value  # reported figures apart
    assert evaluated["model"].tolist() == ["default"]
    assert "EfficientNetB7 + attention" in set(reported["model"]) and "default" not in set(reported["model"])


# --------------------------------------------------------------------------- explain


@pytest.fixture
def explain_sample(model_dir: Path) -> AppTest:
    """The Explain page with the astronaut sample chosen."""
    app = open_page("pages/explain.py")
    app.radio[0].set_value("A built-in sample").run()
    return app


def image_captions(app: AppTest) -> list[str]:
    return [caption for image in app.get("image") for caption in image.captions]


def test_explain_waits_for_an_image_and_the_button(model_dir: Path) -> None:
    app = open_page("pages/explain.py")
    assert not app.exception
    assert "Upload a face image" in app.info[0].value
    app.radio[0].set_value("A built-in sample").run()
    assert "Press **Explain**" in app.info[0].value
    assert app.multiselect(key="explain-methods").value == ["attention", "gradcam", "lime"]


def test_explain_attention_overlay_with_downloads_and_command(explain_sample: AppTest) -> None:
    app = explain_sample
    app.multiselect(key="explain-methods").set_value(["attention"]).run()
    app.button[0].click().run()
    assert not app.exception
    assert not app.error
    assert not app.info
    original, attention = image_captions(app)[:2]
    assert original == "Original" and attention.startswith("Attention mask (")
    assert [button.label for button in app.get("download_button")] == [
        "Attention mask PNG",
        "Attention mask JSON",
        "Attention mask composite PNG",
        "Comparison JSON (agreement and deletion check)",
    ]
    assert app.code[0].value == (
        "deepfake-core explain astronaut.png --method attention --from-json astronaut_attention.json --opacity 0.50"
    )
    assert any("sha256 `" in item.value and "model `default-test`" in item.value for item in app.caption)


def test_explain_lime_and_agreement_and_opacity_redraws_without_recomputing(
    explain_sample: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepfake_core.explain import faithfulness, registry
    from deepfake_core.memory import SERVER_BATCH_SIZE

    calls: list[str] = []
    batches: dict[str, tuple[int, int | None]] = {}  # method: (the detector's batch size, the one it used)

    def counting_explain(detector, *args, **kwargs):
        calls.append(kwargs["method"])
        explanation = original(detector, *args, **kwargs)
        batches[kwargs["method"]] = (detector.batch_size, explanation.params.get("batch_size"))
        return explanation

    def counting_check(*args, **kwargs):
        calls.append("deletion check")
        return original_check(*args, **kwargs)

    original, original_check = registry.explain, faithfulness.deletion_check
    monkeypatch.setattr(registry, "explain", counting_explain)
    monkeypatch.setattr(faithfulness, "deletion_check", counting_check)
    app = explain_sample
    app.multiselect(key="explain-methods").set_value(["attention", "lime"]).run()
    app.number_input(key="lime-samples").set_value(20).run()
    app.button[0].click().run()
    assert not app.exception
    assert sorted(calls) == ["attention", "deletion check", "lime"]
    assert batches == {"attention": (SERVER_BATCH_SIZE, None), "lime": (SERVER_BATCH_SIZE, SERVER_BATCH_SIZE)}
    assert [item.value for item in app.subheader][:3] == [
        "Do the methods agree?",
        "Do the maps point at the evidence?",
        "LIME's most influential superpixels",
    ]
    assert list(app.dataframe[0].value.columns) == ["first", "second", "iou"]
    checks = app.dataframe[1].value
    assert checks["method"].tolist() == ["attention", "lime"] and checks["P(class)"].between(0, 1).all()
    superpixels = app.dataframe[2].value
    assert len(superpixels) >= 1 and set(superpixels.columns) == {"superpixel", "weight", "effect"}
    first_overlay = app.get("image")[1].value
    app.slider(key="explain-opacity").set_value(0.9).run()
    assert not app.exception
    assert sorted(calls) == ["attention", "deletion check", "lime"]  # cached: only the overlay was re-drawn
    assert app.get("image")[1].value != first_overlay
    assert "--opacity 0.90" in app.code[0].value


def test_display_copies_are_shrunk_from_the_array_without_a_full_size_pil_image(monkeypatch) -> None:
    from deepfake_core.faces.align import working_copy
    from pages import pictures

    def refused(*args, **kwargs):
        raise AssertionError("a full-size PIL copy was made")

    monkeypatch.setattr(Image, "fromarray", refused)
    photo = np.random.default_rng(0).integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
    picture, scale = working_copy(photo, pictures.DISPLAY_SIDE)
    assert picture.shape == (683, 1024, 3) and picture.dtype == np.uint8 and scale == 1024 / 3000
    assert pictures.thumbnail(photo).shape == (128, 192, 3)
    small = photo[:40, :30].copy()
    unchanged, scale = working_copy(small, pictures.DISPLAY_SIDE)
    assert unchanged is small and scale == 1.0  # small enough: kept as it is
    kept = pictures.thumbnail(small)
    assert np.array_equal(kept, small) and kept is not small  # a thumbnail is always a copy


def test_an_overlay_pasted_on_the_display_copy_is_the_one_pasted_on_the_photo() -> None:
    from deepfake_core.faces.align import paste_back, working_copy
    from pages import pictures

    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (1500, 2200, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    matrix = np.array([[0.08, 0.01, -90.0], [-0.01, 0.08, -60.0]])  # a ~400 px face at (1100, 750)
    picture, scale = working_copy(photo, pictures.DISPLAY_SIDE)
    pasted = pictures.paste_on_copy(picture, scale, crop, matrix, crop_size=32)
    expected = paste_back(photo, crop, matrix, crop_size=32, max_side=pictures.DISPLAY_SIDE)
    np.testing.assert_array_equal(pasted, expected)
    assert (pasted != picture).any()  # the crop landed on the picture


def test_explain_offers_the_classify_page_images(model_dir: Path) -> None:
    app = open_page("pages/classify.py")
    app.file_uploader[0].set_value([("mine.png", png(5), "image/png"), ("junk.png", b"junk", "image/png")]).run()
    app.switch_page("pages/explain.py").run()
    assert not app.exception
    assert app.radio[0].value == "An image from the Classify page"
    assert app.selectbox(key="explain-classified").options == ["mine.png"]  # the bad file is not offered


def test_explain_a_bad_upload_is_an_error_naming_the_file(model_dir: Path) -> None:
    app = open_page("pages/explain.py")
    app.file_uploader(key="explain-upload").set_value(("broken.jpg", b"\xff\xd8\xff" + b"\0" * 40, "image/jpeg")).run()
    assert not app.exception
    assert app.error[0].value.startswith("**broken.jpg**")


def test_explain_does_not_offer_attention_for_a_model_without_it(tmp_path: Path, monkeypatch) -> None:
    save_tiny_model(tmp_path, attention=False)
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/explain.py")
    app.radio[0].set_value("A built-in sample").run()
    assert not app.exception
    methods = app.multiselect(key="explain-methods")
    assert "Attention mask" not in methods.options
    assert methods.value == ["gradcam", "lime"]


def test_the_threshold_chosen_on_classify_holds_on_explain(classify: AppTest) -> None:
    classify.file_uploader[0].set_value([("mine.png", png(5), "image/png")]).run()
    classify.slider(key=THRESHOLD_KEY).set_value(0.0).run()
    classify.switch_page("pages/explain.py").run()
    assert not classify.exception
    assert classify.slider(key=THRESHOLD_KEY).value == 0.0
    assert verdicts(classify) == ["Fake"]


def test_the_model_chosen_in_the_sidebar_holds_on_every_page(tmp_path: Path, monkeypatch) -> None:
    save_tiny_model(tmp_path)
    save_tiny_model(tmp_path, name="other", seed=1)
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/classify.py")
    assert app.sidebar.selectbox[0].options == ["default", "other"]
    app.sidebar.selectbox[0].set_value("other").run()
    assert app.slider[0].key == "threshold:other-test"
    for page in ("pages/model.py", "pages/explain.py", "pages/home.py"):
        app.switch_page(page).run()
        assert not app.exception
        assert app.sidebar.selectbox[0].value == "other"
    app.switch_page("pages/model.py").run()
    assert app.header[0].value == "other"


# --------------------------------------------------------------------------- models with a face step
# The tiny face model's card has a face_crop section: every photo goes through MTCNN (~0.2-1 s per photo on
# this machine), so these tests upload few, real photos: the astronaut (one face), the astronaut tiled 2 x 2
# (four faces), a cat and a text screenshot (no face).


@pytest.fixture
def face_model_dir(tiny_face_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tiny_face_model_dir))
    monkeypatch.delenv("DEEPFAKE_LENS_ALLOW_LEGACY", raising=False)
    return tiny_face_model_dir


@pytest.fixture(scope="module")
def four_faces_png() -> bytes:
    return encode(four_faces(), "PNG")


def upload(app: AppTest, *files: tuple[str, bytes]) -> AppTest:
    app.file_uploader[0].set_value([(name, data, "image/png") for name, data in files]).run()
    assert not app.exception
    return app


def test_a_face_model_judges_every_face_with_a_card_and_a_row_each(face_model_dir: Path, four_faces_png) -> None:
    app = open_page("pages/classify.py")
    assert app.radio(key="classify-faces").value == "all"
    assert "aligned face crops" in app.radio(key="classify-faces").help
    upload(app, ("group.png", four_faces_png))
    assert not app.error and not app.warning
    assert len(verdicts(app)) == 4
    captions = image_captions(app)
    assert captions == ["group.png: 4 faces found", *(f"Face {number}: what the model saw" for number in range(1, 5))]
    assert all(f"`group.png` · face {number} · sha256" in " ".join(c.value for c in app.caption) for number in (1, 4))
    table = app.dataframe[0].value
    assert list(table.columns) == ["thumbnail", *ROW_COLUMNS, "flags"]
    assert sorted(table["face"]) == [1, 2, 3, 4]
    assert table["thumbnail"].str.startswith("data:image/jpeg;base64,").all()
    assert table["error"].isna().all() and table["verdict"].isin(["Real", "Fake"]).all()
    assert table["face_score"].between(0.9, 1.0).all()
    x, y, width, height = (float(value) for value in table["box"][0].split())
    assert 0 <= x < 1024 and 0 <= y < 1024 and 60 < width < 200 and 60 < height < 200


def test_a_picture_without_a_face_gets_a_message_and_no_verdict(face_model_dir: Path) -> None:
    pictures = no_face_pictures()
    app = upload(
        open_page("pages/classify.py"),
        ("cat.png", encode(pictures["cat"])),
        ("screenshot.png", encode(pictures["screenshot"])),
    )
    assert not app.error
    assert verdicts(app) == []
    messages = [item.value for item in app.warning]
    assert len(messages) == 2
    assert messages[0].startswith("No face found in **cat.png**") and "no Real/Fake verdict" in messages[0]
    assert messages[1].startswith("No face found in **screenshot.png**")
    table = app.dataframe[0].value
    assert table["file"].tolist() == ["cat.png", "screenshot.png"]
    assert table["verdict"].isna().all() and table["face"].isna().all()
    assert table["error"].str.startswith("no face found").all()
    assert table["model_id"].tolist() == ["default-test"] * 2


def test_faces_largest_judges_one_face_and_whole_image_judges_the_picture(face_model_dir: Path, four_faces_png) -> None:
    app = upload(open_page("pages/classify.py"), ("group.png", four_faces_png))
    app.radio(key="classify-faces").set_value("largest").run()
    assert not app.exception
    assert len(verdicts(app)) == 1
    assert image_captions(app) == ["group.png: 4 faces found, the largest judged", "Face 1: what the model saw"]
    assert app.dataframe[0].value["face"].tolist() == [1]
    app.radio(key="classify-faces").set_value("none").run()
    assert not app.exception
    assert len(verdicts(app)) == 1
    assert image_captions(app) == ["group.png"]
    table = app.dataframe[0].value
    assert len(table) == 1 and table["face"].isna().all() and table["verdict"].notna().all()


def test_a_face_too_small_to_judge_gets_its_reason_not_a_verdict(face_model_dir: Path) -> None:
    small = np.asarray(Image.fromarray(astronaut()).resize((128, 128), Image.Resampling.LANCZOS))
    app = upload(open_page("pages/classify.py"), ("small.png", encode(small)))
    assert verdicts(app) == []
    assert app.info[0].value.startswith("Face 1 was not judged: face 1 is") and "px this model judges" in (
        app.info[0].value
    )
    table = app.dataframe[0].value
    assert table["face"].tolist() == [1] and table["verdict"].isna().all()
    assert "under the 40 px" in table["error"][0]


def test_every_generated_sample_has_one_face_found_and_judged(face_model_dir: Path) -> None:
    from pages.inputs import SAMPLES, SAMPLES_DIR

    generated = [name for name, sample in SAMPLES.items() if sample.path.parent == SAMPLES_DIR]
    app = open_page("pages/classify.py")
    app.multiselect[0].set_value(generated).run()
    assert not app.exception
    assert not app.error and not app.warning  # no "No face found"
    assert len(verdicts(app)) == len(generated)
    table = app.dataframe[0].value
    assert table["face"].tolist() == [1] * len(generated) and table["verdict"].notna().all()


def test_a_model_without_a_face_step_has_no_faces_choice(classify: AppTest) -> None:
    assert not classify.radio
    assert any("no face step" in item.value for item in classify.caption)


def test_face_step_shows_on_the_sidebar_model_and_home_pages(face_model_dir: Path) -> None:
    app = open_page("pages/model.py")
    assert not app.exception
    assert any("judges each face" in item.value for item in app.sidebar.caption)
    architecture = app.dataframe[0].value
    face_step = architecture.loc[architecture["field"] == "face step", "value"].item()
    assert face_step.startswith("yes: each face is found, aligned and judged")
    contract = next(item.value for item in app.markdown if item.value.startswith("1. **Input**"))
    assert "**Face step**: faces found by mtcnn 1.0.0" in contract and "faces under 40 px are not judged" in contract
    assert "aligned **32 x 32** crop" in contract
    app.switch_page("pages/home.py").run()
    assert "judges **each face**" in app.warning[0].value


@pytest.fixture
def explain_face_sample(face_model_dir: Path) -> AppTest:
    """The Explain page of the face model with the astronaut sample (one face) chosen."""
    app = open_page("pages/explain.py")
    app.radio[0].set_value("A built-in sample").run()
    assert not app.exception
    return app


def test_explain_a_face_explains_its_crop_and_draws_it_on_the_photo(explain_face_sample: AppTest) -> None:
    app = explain_face_sample
    assert "explain-face" not in [widget.key for widget in app.selectbox]  # one face: nothing to choose
    app.multiselect(key="explain-methods").set_value(["attention"]).run()
    app.button[0].click().run()
    assert not app.exception and not app.error
    captions = [caption for caption in image_captions(app) if caption]  # the legend strip has none
    assert captions[:2] == ["astronaut.png: 1 face found; explaining face 1", "Face 1: what the model saw"]
    assert captions[2].startswith("Attention mask (") and len(captions) == 3
    assert "for face 1, on the aligned crop" in " ".join(item.value for item in app.markdown)
    assert any("`astronaut.png` · face 1 · sha256" in item.value for item in app.caption)
    assert app.code[0].value == (
        "deepfake-core explain astronaut.png --method attention --from-json astronaut_face1_attention.json "
        "--opacity 0.50"
    )
    assert app.get("download_button")[0].label == "Attention mask PNG"
    app.checkbox(key="explain-on-photo").check().run()
    assert not app.exception
    photo, on_photo = app.get("image")[-2:]
    assert photo.captions == ["The photo (astronaut.png)"]
    assert on_photo.captions == ["Attention mask on the photo (face 1)"]
    assert on_photo.value != photo.value  # the overlay is drawn on it


def test_explain_decodes_a_photo_once_and_keeps_only_its_display_copy(
    face_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slider step, a tick or the Explain button must not decode the upload again (~110 MB for 40 MP)."""
    from deepfake_core import intake

    decoded: list[int] = []
    original = intake.load_image

    def counting_load(source, **kwargs):
        decoded.append(len(source))
        return original(source, **kwargs)

    monkeypatch.setattr(intake, "load_image", counting_load)  # the page imports it on every run
    large = np.repeat(np.repeat(astronaut(), 4, axis=0), 4, axis=1)  # 2048 x 2048: one face
    app = open_page("pages/explain.py")
    app.file_uploader(key="explain-upload").set_value(("large.png", encode(large), "image/png")).run()
    assert not app.exception and not app.error
    assert len(decoded) == 1
    app.multiselect(key="explain-methods").set_value(["attention"]).run()
    app.button[0].click().run()
    app.checkbox(key="explain-on-photo").check().run()
    app.slider(key="explain-opacity").set_value(0.9).run()
    assert not app.exception and not app.error
    assert len(decoded) == 1
    photo, on_photo = app.get("image")[-2:]
    assert photo.captions == ["The photo (large.png)"] and on_photo.captions == ["Attention mask on the photo (face 1)"]
    from pages.explain_view import PhotoFaces

    stored = [value for value in app.session_state.values() if isinstance(value, tuple)]
    [kept] = [part for value in stored for part in value if isinstance(part, PhotoFaces)]
    assert kept.picture.shape == (1024, 1024, 3) and kept.scale == 0.5  # the display copy, not the photo


def test_explain_chooses_among_faces_and_keeps_each_faces_map(
    face_model_dir: Path, four_faces_png, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepfake_core.explain import registry

    explained: list[tuple[int, ...]] = []
    original = registry.explain

    def counting_explain(detector, image, **kwargs):
        explained.append(image.shape)
        return original(detector, image, **kwargs)

    monkeypatch.setattr(registry, "explain", counting_explain)
    app = open_page("pages/explain.py")
    app.file_uploader(key="explain-upload").set_value(("group.png", four_faces_png, "image/png")).run()
    choice = app.selectbox(key="explain-face")
    assert choice.options == ["Face 1 (the largest)", "Face 2", "Face 3", "Face 4"] and choice.value == 1
    app.multiselect(key="explain-methods").set_value(["gradcam"]).run()
    app.button[0].click().run()
    app.selectbox(key="explain-face").set_value(3).run()
    assert "Press **Explain**" in app.info[0].value  # face 3 has no map yet: the key names the face
    app.button[0].click().run()
    assert not app.exception
    assert image_captions(app)[1] == "Face 3: what the model saw"
    assert "--from-json group_face3_gradcam.json" in app.code[0].value
    app.selectbox(key="explain-face").set_value(1).run()
    assert not app.exception and not app.info  # face 1's map is still there
    assert explained == [(32, 32, 3), (32, 32, 3)]  # each face's aligned crop, explained once


def test_explain_a_picture_without_a_face_says_so(face_model_dir: Path) -> None:
    app = open_page("pages/explain.py")
    cat = encode(no_face_pictures()["cat"])
    app.file_uploader(key="explain-upload").set_value(("cat.png", cat, "image/png")).run()
    assert not app.exception and not app.error
    assert app.warning[0].value.startswith("No face found in **cat.png**, so there is nothing to explain")
    assert not app.button  # stopped before the methods


def test_a_face_explanation_record_names_the_face_as_the_command_line_does() -> None:
    from deepfake_core.faces.finder import Face, FaceDetection
    from pages.explain_view import explanation_record

    matrix = np.array([[0.5, 0.1, -20.0], [-0.1, 0.5, -30.0]])
    detection = FaceDetection(box=(40.0, 50.0, 64.0, 80.0), landmarks=np.arange(10.0).reshape(5, 2), score=0.987654)
    face = Face(2, detection, crop=np.zeros((32, 32, 3), np.uint8), matrix=matrix, too_small=False)
    explanation = explanation_of(np.zeros((32, 32)))
    assert "face" not in explanation_record(explanation)
    record = explanation_record(explanation, face, faces_found=3)
    assert record["face"] == {
        "number": 2,
        "box": [40.0, 50.0, 64.0, 80.0],
        "landmarks": [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0]],
        "score": 0.9877,
        "faces_found": 3,
        "crop_size": 32,
        "photo_to_crop": [[0.5, 0.1, -20.0], [-0.1, 0.5, -30.0]],
    }
    assert record["method"] == explanation.method and record["image_sha256"] == explanation.image_sha256


def test_a_threshold_step_rejudges_stored_faces_without_detection_or_model_calls(
    face_model_dir: Path, four_faces_png, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepfake_core.faces.finder import FaceFinder

    app = upload(open_page("pages/classify.py"), ("group.png", four_faces_png))
    assert len(verdicts(app)) == 4
    calls: list[str] = []
    original_predict, original_detect = Detector.predict_batch, FaceFinder.detect_batch

    def counting_predict(self, images, **kwargs):
        calls.append("model")
        return original_predict(self, images, **kwargs)

    def counting_detect(self, images):
        calls.append("detector")
        return original_detect(self, images)

    monkeypatch.setattr(Detector, "predict_batch", counting_predict)
    monkeypatch.setattr(FaceFinder, "detect_batch", counting_detect)
    for threshold, expected in ((0.0, "Fake"), (1.0, "Real")):
        app.slider(key=THRESHOLD_KEY).set_value(threshold).run()
        assert not app.exception
        assert verdicts(app) == [expected] * 4
        assert app.dataframe[0].value["verdict"].tolist() == [expected] * 4
    assert calls == []


def test_a_bmp_upload_is_accepted_and_classified(classify: AppTest) -> None:
    classify.file_uploader[0].set_value([("photo.bmp", encode(face_like_image(seed=4), "BMP"), "image/bmp")]).run()
    assert not classify.exception and not classify.error
    assert len(verdicts(classify)) == 1


# --------------------------------------------------------------------------- unseen generators, unfamiliar faces


@pytest.fixture
def flagging_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model whose card lists the kinds it saw and whose flag fires on every face (threshold ~0).

    Its evaluation folder holds one leave-one-generator-out run (sd21 left out).
    """
    from dataclasses import replace

    from conftest import synthetic_results

    from deepfake_core.card import card_path_for, load_card, save_card
    from deepfake_core.evaluation.results import build_evaluation_results, save_results
    from deepfake_core.familiarity import FamiliaritySpec, familiarity_path_for, fit_familiarity, save_familiarity
    from deepfake_core.loading import load_detector

    path = save_tiny_model(tmp_path)
    detector = load_detector(path)
    features = detector.forward(detector.prepare([face_like_image(seed=seed) for seed in range(12)]))[1]
    fitted = fit_familiarity(features[:8], features[8:], layer="rescale_gap")
    statistics = familiarity_path_for(path)
    spec = FamiliaritySpec(
        file=statistics.name,
        sha256=save_familiarity(fitted, statistics),
        layer="rescale_gap",
        threshold=1e-9,
        quantile=0.95,
        k=fitted.k,
        n_reference=8,
        n_train=8,
        n_validation=4,
        validation_flagged=0.05,
    )
    card = load_card(card_path_for(path))
    training = {"seen_kinds": {"Fake": ["gan256", "sd21"], "Real": ["celeba"]}}
    save_card(replace(card, familiarity=spec, training=training), card_path_for(path))
    (tmp_path / "evaluation" / "generalisation").mkdir(parents=True)
    save_results(synthetic_results(), tmp_path / "evaluation" / "default.json")
    kinds = ["celeba"] * 4 + ["gan256"] * 2 + ["sd21"] * 2
    loo = build_evaluation_results(
        model_id="loo_diffusion-test",
        model_name="loo_diffusion",
        data={"root": "synthetic", "split": "test", "manifest_sha256": None},
        ids=[f"{index}.jpg" for index in range(8)],
        labels=[0, 0, 0, 0, 1, 1, 1, 1],
        kinds=kinds,
        p_fake=[0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.35, 0.6],
        threshold=0.5,
        seen_kinds=["celeba", "gan256"],
        n_boot=20,
    )
    save_results(loo, tmp_path / "evaluation" / "generalisation" / "loo_diffusion.json")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    return tmp_path


def test_home_and_model_pages_name_the_generators_the_model_has_seen(flagging_model_dir: Path) -> None:
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    limitations = app.warning[0].value
    assert "has seen** fakes from GAN faces (256 px, plain backdrops) (gan256), Stable Diffusion 2.1 (sd21)" in (
        limitations
    )
    assert "unlike the training faces" in limitations
    app.switch_page("pages/model.py").run()
    assert not app.exception
    assert {"Seen in training", "Unlike the training faces"} <= {item.value for item in app.subheader}
    assert any(item.value.startswith("**Real:** CelebA celebrity photos (celeba)") for item in app.markdown)
    assert any("default.familiarity.npz" in item.value for item in app.markdown)


def test_a_flagged_verdict_is_shown_as_unreliable_in_the_card_and_the_table(flagging_model_dir: Path) -> None:
    app = open_page("pages/classify.py")
    app.file_uploader[0].set_value([("face.png", png(1), "image/png")]).run()
    assert not app.exception
    assert any("unreliable: unlike the training faces" in verdict for verdict in verdicts(app))
    assert any("unlike the faces the model was trained on" in item.value for item in app.warning)
    details = next(item.value for item in app.markdown if item.value.startswith("P(fake)"))
    assert "confidence in this verdict not meaningful here" in details
    assert not any(item.value.startswith("Real is not proof") for item in app.caption)  # unknown, not Real
    table = app.dataframe[0].value
    assert table["unfamiliar"].tolist() == [True] and table["feature_distance"].iloc[0] > 0


def test_evaluation_shows_the_leave_one_generator_out_runs(flagging_model_dir: Path) -> None:
    app = open_page("pages/evaluation.py")
    assert not app.exception
    study = next(frame.value for frame in app.dataframe if "unseen_auc" in frame.value.columns)
    assert study["unseen_kinds"].tolist() == ["sd21"]
    assert study["unseen_recall"].tolist() == [0.5]
    assert any("Seen vs unseen generators: ROC AUC" in chart.proto.spec for chart in app.get("plotly_chart"))
    by_source = next(frame.value for frame in app.dataframe if "all reals" in frame.value.columns)
    assert list(by_source.columns) == [
        *("model_name", "unseen_kinds", "unseen_images", "all reals", "celeba", "people photos")
    ]
    assert by_source["people photos"].isna().all()  # no photos measured for this run: a dash
    assert by_source["unseen_images"].tolist() == [2]
    # the sd21 fakes (0.35, 0.6) against the four celeba faces (0.1 to 0.4): 7 of 8 pairs ranked right
    assert by_source["celeba"].tolist() == [pytest.approx(7 / 8)]
