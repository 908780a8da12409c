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

import pytest
from conftest import encode, face_like_image, save_tiny_model
from streamlit.testing.v1 import AppTest

from deepfake_core.detector import Detector

ROOT = Path(__file__).resolve().parent.parent
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
def model_dir(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.delenv("DEEPFAKE_LENS_ALLOW_LEGACY", raising=False)
    return tiny_model_dir


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
    assert "GAN-generated face crops" in limitations
    assert "face swaps" in limitations
    assert "probability, not proof" in limitations


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
    assert set(classify.file_uploader[0].allowed_type) >= {".png", ".jpg", ".jpeg", ".webp"}


def test_classify_uploads_show_verdict_probability_and_provenance(classify: AppTest, tiny_detector: Detector) -> None:
    files = [("face.png", png(1), "image/png"), ("face.jpg", encode(face_like_image(seed=2), "JPEG"), "image/jpeg")]
    classify.file_uploader[0].set_value(files).run()
    assert not classify.exception
    assert not classify.error
    assert len(verdicts(classify)) == 2
    assert len(classify.get("plotly_chart")) == 2
    expected = tiny_detector.predict(face_like_image(seed=1))
    details = [item.value for item in classify.markdown if item.value.startswith("P(fake)")]
    assert f"P(fake) **{expected.p_fake:.1%}**" in details[0]
    assert f"**{expected.confidence:.1%}**" in details[0]
    captions = " ".join(item.value for item in classify.caption)
    assert "sha256 `" in captions and "model `default-test`" in captions
    table = classify.dataframe[0].value
    assert list(table["file"]) == ["face.png", "face.jpg"]
    assert [button.label for button in classify.get("download_button")] == ["Download CSV", "Download JSON"]


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
    assert list(table["file"]) == ["good-1.png", "notes.png", "cut.png", "good-2.png"]
    assert table["error"].notna().tolist() == [False, True, True, False]


def test_adding_a_file_classifies_only_that_file(classify: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    predicted: list[tuple[int, ...]] = []
    original = Detector.predict

    def counting_predict(self, image, **kwargs):
        predicted.append(image.shape)
        return original(self, image, **kwargs)

    monkeypatch.setattr(Detector, "predict", counting_predict)
    first, second = ("first.png", png(1), "image/png"), ("second.png", png(2, height=64), "image/png")
    classify.file_uploader[0].set_value([first]).run()
    classify.file_uploader[0].set_value([first, second]).run()
    assert not classify.exception
    assert predicted == [(48, 40, 3), (64, 40, 3)]
    assert len(verdicts(classify)) == 2


def test_at_most_max_images_are_classified_per_run(classify: AppTest) -> None:
    from pages.common import MAX_IMAGES

    files = [(f"{index}.png", png(index, height=16, width=16), "image/png") for index in range(MAX_IMAGES + 2)]
    classify.file_uploader[0].set_value(files).run()
    assert not classify.exception
    assert f"Only the first {MAX_IMAGES} of {MAX_IMAGES + 2} images" in classify.warning[0].value
    assert len(classify.dataframe[0].value) == MAX_IMAGES


def test_built_in_samples_are_classified(classify: AppTest) -> None:
    classify.multiselect[0].set_value(["astronaut", "chelsea"]).run()
    assert not classify.exception
    assert len(verdicts(classify)) == 2
    assert list(classify.dataframe[0].value["file"]) == ["astronaut.png", "chelsea.png"]


# --------------------------------------------------------------------------- evaluation


def test_evaluation_threshold_slider_moves_the_metrics(model_dir: Path) -> None:
    app = open_page("pages/evaluation.py")
    assert not app.exception
    assert app.selectbox[0].value == 0  # the evaluated model comes before the reported entry
    at_card = metric(app, "Accuracy")
    app.slider(key="threshold:evaluation:default-test").set_value(0.0).run()
    assert not app.exception
    # At threshold 0 everything is called Fake: recall is 100 % and specificity 0 %.
    assert metric(app, "Recall (fakes caught)") == "100.0%"
    assert metric(app, "Specificity (reals passed)") == "0.0%"
    assert metric(app, "Accuracy") != at_card
    assert "At threshold 0.00" in " ".join(item.value for item in app.caption)


def test_evaluation_shows_every_section(model_dir: Path) -> None:
    app = open_page("pages/evaluation.py")
    subheaders = [item.value for item in app.subheader]
    assert subheaders[:4] == ["Classification report", "Per image kind", "Training curves", "Robustness"]
    per_kind = app.dataframe[1].value
    assert set(per_kind.loc[per_kind["hard pair"] != "", "kind"]) == {"ffhq", "stylegan2_tpdne"}
    assert any("Hard pair: ffhq (real) vs stylegan2_tpdne (fake)" in item.value for item in app.markdown)
    app.toggle(key="normalise-confusion").set_value(True).run()
    assert not app.exception
    assert app.get("download_button")[0].label == "Download what is shown (JSON)"


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
    contract = next(item.value for item in app.markdown if item.value.startswith("1. **Input**"))
    assert "**32 x 32**" in contract and "RGB" in contract and "0..255" in contract
    comparison = app.dataframe[-1].value
    assert comparison["reported_not_reproduced"].tolist().count(False) == 1
    assert comparison["reported_not_reproduced"].sum() >= 1


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

    calls: list[str] = []

    def counting_explain(*args, **kwargs):
        calls.append(kwargs["method"])
        return original(*args, **kwargs)

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
