"""AppTests for the Evaluation gallery, the Model page's numbers, the robustness lab and shareable links.

Like ``test_app_pages``, every page is reached from the app's entry point, against tiny models and
synthetic results built in the test session. ``DEEPFAKE_LENS_DATA`` always points into the test's
own temporary folder, so no test sees ``../shared/data``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import astronaut, encode, face_like_image, no_face_pictures, save_tiny_model, synthetic_results
from streamlit.testing.v1 import AppTest
from test_app_pages import ROOT, THRESHOLD_KEY, TIMEOUT, open_page

from deepfake_core.card import card_path_for, load_card, save_card
from deepfake_core.detector import Detector
from deepfake_core.evaluation.gallery import DATA_ENV, cell_predictions
from deepfake_core.evaluation.results import build_evaluation_results, metrics_at_threshold, save_results
from deepfake_core.robustness_lab import SWEEPS
from pages.number_format import format_temperature, format_value

LONG_FLOAT = re.compile(r"\d\.\d{7,}")
"""A number printed with seven or more decimals: what a raw float from a card looks like on a page."""


@pytest.fixture(autouse=True)
def no_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data folder points at an empty place unless a test fills it, so ``../shared/data`` is never read."""
    folder = tmp_path / "data"
    monkeypatch.setenv(DATA_ENV, str(folder))
    return folder


@pytest.fixture
def two_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder with ``default`` and ``other``, each with its own stored results."""
    folder = tmp_path / "models"
    save_tiny_model(folder)
    save_tiny_model(folder, name="other", seed=1)
    (folder / "evaluation").mkdir()
    save_results(synthetic_results(), folder / "evaluation" / "default.json")
    save_results(synthetic_results(model_id="other-test", model_name="other", seed=3), folder / "evaluation" / "o.json")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(folder))
    monkeypatch.delenv("DEEPFAKE_LENS_ALLOW_LEGACY", raising=False)
    return folder


def start(**query: str) -> AppTest:
    """The app opened from a link with ``query`` parameters (``?model=other&threshold=0.3``)."""
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT)
    app.query_params.update(query)
    app.run()
    assert not app.exception
    return app


# --------------------------------------------------------------------------- evaluation: wrong-verdict gallery


def gallery_names(app: AppTest) -> list[str]:
    """The image ids listed by the gallery when the images themselves are not on this machine."""
    return next(frame.value for frame in app.dataframe if "image" in frame.value.columns)["image"].tolist()


def open_cell(app: AppTest, cell: str) -> AppTest:
    app.segmented_control(key="gallery-cell").set_value(cell).run()
    assert not app.exception
    return app


def test_the_gallery_lists_a_cells_images_at_the_threshold_and_follows_it(model_dir: Path) -> None:
    results = synthetic_results()
    app = open_cell(open_page("pages/evaluation.py"), "real_called_fake")
    assert "Real called Fake: 0 test images" in [item.value for item in app.subheader]  # none at 0.50
    assert any(item.value == "No test image falls in this cell at threshold 0.50." for item in app.caption)
    app.slider(key=THRESHOLD_KEY).set_value(0.3).run()
    expected = [item.id for item in cell_predictions(results, 0.3, "real_called_fake")]
    assert 0 < len(expected) < 24
    assert gallery_names(app) == expected
    assert f"Real called Fake: {metrics_at_threshold(results, 0.3).metrics.counts.fp} test images" in [
        item.value for item in app.subheader
    ]
    assert any(DATA_ENV in item.value and "names, kinds and scores" in item.value for item in app.caption)
    app.slider(key=THRESHOLD_KEY).set_value(0.2).run()
    lower = [item.id for item in cell_predictions(results, 0.2, "real_called_fake")]
    assert len(lower) > 24
    assert gallery_names(app) == lower[:24]
    assert any(item.value == f"24 of {len(lower)} shown." for item in app.caption)
    app.slider(key=THRESHOLD_KEY).set_value(0.8).run()
    open_cell(app, "fake_called_real")
    assert gallery_names(app) == [item.id for item in cell_predictions(results, 0.8, "fake_called_real")]


def test_the_gallery_shows_thumbnails_from_the_data_folder_a_page_at_a_time(model_dir: Path, no_data_folder) -> None:
    results = synthetic_results()
    images = no_data_folder / results.data.root
    images.mkdir(parents=True)
    for index, item in enumerate(results.predictions):
        (images / item.id).write_bytes(encode(face_like_image(24, 24, seed=index), "JPEG"))
    app = open_page("pages/evaluation.py")
    app.slider(key=THRESHOLD_KEY).set_value(0.0).run()  # every real face called Fake: 52 images
    open_cell(app, "real_called_fake")
    wrong = cell_predictions(results, 0.0, "real_called_fake")
    assert len(wrong) == 52
    shown = [caption for image in app.get("image") for caption in image.captions]
    assert [caption.split(" · ")[0] for caption in shown] == [item.id for item in wrong[:24]]
    assert all(image.proto.imgs[0].url for image in app.get("image"))
    for more, total in ((24, 48), (4, 52)):
        button = app.button(key="gallery-more")
        assert button.label == f"Show {more} more"
        button.click().run()
        assert not app.exception
        assert len(app.get("image")) == total
    assert not [button for button in app.button if button.key == "gallery-more"]


def test_the_gallery_never_reads_a_file_outside_the_data_folder(tmp_path: Path, monkeypatch, no_data_folder) -> None:
    folder = tmp_path / "models"
    save_tiny_model(folder)
    (folder / "evaluation").mkdir()
    results = build_evaluation_results(
        model_id="default-test",
        model_name="default",
        data={"root": "faces", "split": "test", "manifest_sha256": None},
        ids=["Real/inside.jpg", "../outside.jpg"],
        labels=["Real", "Real"],
        kinds=["celeba", "celeba"],
        p_fake=[0.9, 0.8],
        threshold=0.5,
        n_boot=10,
    )
    save_results(results, folder / "evaluation" / "default.json")
    (no_data_folder / "faces" / "Real").mkdir(parents=True)
    (no_data_folder / "faces" / "Real" / "inside.jpg").write_bytes(encode(face_like_image(24, 24), "JPEG"))
    (no_data_folder / "outside.jpg").write_bytes(encode(face_like_image(24, 24, seed=1), "JPEG"))
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(folder))
    app = open_cell(open_page("pages/evaluation.py"), "real_called_fake")
    assert [image.captions[0].split(" · ")[0] for image in app.get("image")] == ["inside.jpg"]
    assert any(item.value.startswith("outside.jpg") and "not a path inside" in item.value for item in app.caption)


def test_evaluation_shows_the_sidebars_model(two_models: Path) -> None:
    other = synthetic_results(model_id="other-test", model_name="other", seed=3)
    app = open_page("pages/evaluation.py")
    app.sidebar.selectbox[0].set_value("other").run()
    assert not app.exception
    choice = app.selectbox[0]
    assert choice.format_func(choice.value) == "other (other-test) · the sidebar's model"
    app.slider(key="threshold:other-test").set_value(0.85).run()
    open_cell(app, "fake_called_real")
    assert gallery_names(app) == [item.id for item in cell_predictions(other, 0.85, "fake_called_real")]


# --------------------------------------------------------------------------- model page


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.6890307312429037, "0.689"),
        (788.6, "789"),
        (566003.0, "566,003"),
        (0.00025, "0.00025"),
        (3598, "3,598"),
        (None, "—"),
        (float("nan"), "—"),
        (False, "no"),
        (True, "yes"),
        ([], "—"),
        ([0.88361231550993, None], "0.884, —"),
        ({"quality": 50, "sigma": 1.23456}, "quality: 50, sigma: 1.23"),
        ("small_cnn", "small_cnn"),
    ],
)
def test_a_card_value_reads_as_a_person_would_write_it(value: object, shown: str) -> None:
    assert format_value(value) == shown


def test_the_temperature_is_written_with_two_decimals_everywhere() -> None:
    assert format_temperature(1.23456) == "1.23" and format_temperature(1.0) == "1.00"


def string_cells(app: AppTest) -> list[str]:
    """Every text cell of every table on the page."""
    return [
        str(cell)
        for frame in app.dataframe
        for column in frame.value.columns
        if frame.value[column].dtype.kind not in "fiub"  # text, whatever pandas calls its string dtype
        for cell in frame.value[column].dropna()
    ]


def unformatted_float_columns(app: AppTest) -> list[str]:
    """Number columns shown without a format in their column config: they would print every digit."""
    columns = []
    for frame in app.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        for column in frame.value.columns:
            if frame.value[column].dtype.kind == "f" and not config.get(column, {}).get("type_config", {}).get(
                "format"
            ):
                columns.append(column)
    return columns


def test_the_model_page_shows_readable_numbers(tmp_path: Path, monkeypatch) -> None:
    path = save_tiny_model(tmp_path)
    training = {
        "learning_rate": 0.00025,
        "backbone_weights": None,
        "augment": False,
        "seconds": 788.6123456,
        "kind_weights": {"celeba": 0.6890307312429037, "gan256": 0.5157728373188764},
        "split_counts": {"train": {"celeba": 3598, "gan256": 3292}, "test": {"celeba": 450, "gan256": 411}},
        "face_coverage": {
            "train": {"celeba": {"n": 3598, "share": 0.9974986103390773, "note": None}, "gan256": {"n": 12}}
        },
        "exclude_kinds": [],
    }
    metrics = {"accuracy": 0.9006622516556292, "accuracy_ci": [0.88361231550993, 0.9154534840749631], "f1": None}
    card = replace(load_card(card_path_for(path)), training=training, metrics=metrics, temperature=1.23456)
    save_card(card, card_path_for(path))
    (tmp_path / "evaluation").mkdir()
    save_results(synthetic_results(), tmp_path / "evaluation" / "default.json")
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    app = open_page("pages/model.py")
    assert not app.exception
    cells = string_cells(app)
    assert {"0.689", "0.00025", "789", "0.901", "0.884, 0.915", "no", "—", "3,598", "0.997"} <= set(cells)
    assert not [cell for cell in cells if cell in {"None", "True", "False", "nan", "[]"} or LONG_FLOAT.search(cell)]
    assert not unformatted_float_columns(app)
    texts = [item.value for item in (*app.markdown, *app.caption)]
    assert not [text for text in texts if "None" in text or LONG_FLOAT.search(text)]
    contract = next(text for text in texts if text.startswith("1. **Input**"))
    assert "the logits are divided by the temperature **T = 1.23** before the softmax" in contract
    assert any("temperature 1.23 ·" in item.value for item in app.sidebar.caption)  # the same rounding


def test_the_model_page_says_when_verdicts_average_over_the_mirror_and_inputs_are_recompressed(
    tmp_path: Path, monkeypatch
) -> None:
    path = save_tiny_model(tmp_path)
    for mirror_average, jpeg_quality in ((False, None), (True, 75)):
        card = replace(load_card(card_path_for(path)), mirror_average=mirror_average, jpeg_quality=jpeg_quality)
        save_card(card, card_path_for(path))
        monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
        app = open_page("pages/model.py")
        assert not app.exception
        contract = next(item.value for item in app.markdown if item.value.startswith("1. **Input**"))
        assert ("left-right mirror image" in contract) is mirror_average
        assert ("re-encoded as a JPEG of quality **75**" in contract) is bool(jpeg_quality)
        assert any("and its mirror image" in item.value for item in app.sidebar.caption) is mirror_average
        assert any("JPEG quality 75" in item.value for item in app.sidebar.caption) is bool(jpeg_quality)


def test_the_model_page_marks_the_sidebars_model_in_the_comparison(two_models: Path) -> None:
    app = open_page("pages/model.py")
    app.sidebar.selectbox[0].set_value("other").run()
    assert not app.exception
    evaluated = next(frame.value for frame in app.dataframe if "sidebar" in frame.value.columns)
    assert evaluated[["sidebar", "model"]].values.tolist() == [["★", "other"], ["", "default"]]  # it comes first
    assert len(evaluated.columns) <= 9  # fits the page: no ids, flags or empty columns
    assert any("★ marks the sidebar's model, `other-test`" in item.value for item in app.caption)


# --------------------------------------------------------------------------- robustness lab


def lab_with_sample(sample: str = "astronaut") -> AppTest:
    app = open_page("pages/robustness_lab.py")
    app.radio(key="lab-source").set_value("A built-in sample").run()
    app.selectbox(key="lab-sample").set_value(sample).run()
    assert not app.exception
    return app


def chart_specs(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def test_the_lab_draws_a_curve_per_perturbation_for_a_sample(
    model_dir: Path, tiny_detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = lab_with_sample()
    assert not app.error
    specs = chart_specs(app)
    assert [spec["layout"]["title"]["text"] for spec in specs] == [sweep.title for sweep in SWEEPS]
    for spec, sweep in zip(specs, SWEEPS, strict=True):
        assert spec["data"][0]["x"] == list(sweep.strengths)
        assert len(spec["data"][0]["y"]) == len(sweep.strengths)
        assert spec["layout"]["shapes"][0]["y0"] == 0.5  # the threshold line
    clean = tiny_detector.predict(astronaut()).p_fake
    assert specs[0]["layout"]["shapes"][1]["y0"] == pytest.approx(clean, abs=1e-6)  # the unchanged photo's line
    assert any("no face step" in item.value for item in app.caption)
    calls: list[int] = []
    original = Detector.p_fake
    monkeypatch.setattr(Detector, "p_fake", lambda self, images: calls.append(len(images)) or original(self, images))
    app.slider(key=THRESHOLD_KEY).set_value(0.2).run()
    app.select_slider(key="lab-jpeg").set_value(20).run()
    assert not app.exception
    assert calls == []  # the curves are kept: a slider or the threshold only redraws
    jpeg = chart_specs(app)[0]
    assert jpeg["layout"]["shapes"][0]["y0"] == 0.2
    assert jpeg["data"][-1]["x"] == [20]
    assert any(caption.startswith("At quality 20: P(fake)") for image in app.get("image") for caption in image.captions)


def test_the_lab_says_when_a_face_model_finds_no_face(tiny_face_model_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tiny_face_model_dir))
    app = open_page("pages/robustness_lab.py")
    cat = encode(no_face_pictures()["cat"])
    app.file_uploader(key="lab-upload").set_value(("cat.png", cat, "image/png")).run()
    assert not app.exception and not app.error
    assert app.warning[0].value.startswith("**cat.png**: This model judges faces, and no face was found")
    assert not app.get("plotly_chart")


# --------------------------------------------------------------------------- shareable links


def test_every_page_has_a_stable_address(model_dir: Path) -> None:
    app = start()
    assert [link.proto.page for link in app.get("page_link")] == [
        "classify",
        "explain",
        "robustness",
        "evaluation",
        "model",
    ]


def test_a_link_opens_its_model_and_threshold(two_models: Path) -> None:
    app = start(model="other", threshold="0.3")
    assert not app.sidebar.warning
    assert app.sidebar.selectbox[0].value == "other"
    app.switch_page("pages/evaluation.py").run()
    assert app.slider(key="threshold:other-test").value == 0.3
    assert app.query_params == {"model": "other", "threshold": "0.30"}


def test_the_address_follows_the_sidebar(two_models: Path) -> None:
    app = open_page("pages/evaluation.py")
    assert app.query_params == {}  # defaults stay out of the address
    app.sidebar.selectbox[0].set_value("other").run()
    assert app.query_params == {"model": "other"}
    app.slider(key="threshold:other-test").set_value(0.42).run()
    assert app.query_params == {"model": "other", "threshold": "0.42"}
    app.sidebar.selectbox[0].set_value("default").run()
    assert app.query_params == {}
    app.slider(key=THRESHOLD_KEY).set_value(0.61).run()
    assert app.query_params == {"threshold": "0.61"}


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ({"model": "nope"}, "The link asks for the model 'nope', which is not in the model folder: showing `default`"),
        ({"threshold": "1.5"}, "The link's threshold '1.5' is not a number from 0 to 1: using the model's own (0.50)"),
        ({"threshold": "abc"}, "The link's threshold 'abc' is not a number from 0 to 1"),
        ({"threshold": "nan"}, "The link's threshold 'nan' is not a number from 0 to 1"),
        ({"model": "../other", "threshold": "-0.1"}, "The link asks for the model '../other'"),
    ],
)
def test_a_bad_link_warns_and_falls_back_to_the_defaults(two_models: Path, query: dict, warning: str) -> None:
    app = start(**query)
    assert warning in " ".join(item.value for item in app.sidebar.warning).replace("threshold (", "(")
    assert app.sidebar.selectbox[0].value == "default"
    app.switch_page("pages/evaluation.py").run()
    assert app.slider(key=THRESHOLD_KEY).value == 0.5
    assert app.query_params == {}  # the address is corrected to what is shown
    assert not app.sidebar.warning  # said once, when the link was opened
