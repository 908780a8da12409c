"""The analyst's workflow on Classify and Explain, driven with ``streamlit.testing.v1.AppTest``.

The results table comes first, Fake first; a row opens the Explain page on its image and face;
results stay for the session across pages; a threshold step calls no model; the HTML report is
offered and valid; a link keeps the chosen sample and methods. Tiny 32 px models built in the test
session (``conftest.py``); the face model's tests upload the astronaut tiled 2 x 2 (four faces).
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import encode, face_like_image, four_faces
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from test_app_pages import THRESHOLD_KEY, open_page, png, verdicts

from deepfake_core.detector import Detector
from deepfake_core.report import fake_first
from deepfake_core.wording import format_probability

SEEDS = (1, 2, 3, 4)
REPORT_FILE = "deepfake-lens-report.html"
FROM_CLASSIFY = "An image from the Classify page"


@pytest.fixture
def face_model(tiny_face_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny model with a face step as the dashboard's model."""
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tiny_face_model_dir))
    return tiny_face_model_dir


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the model's forward pass runs on while the test runs."""
    calls: list[int] = []
    original = Detector.forward

    def counting(self, batch, **kwargs):
        calls.append(len(batch))
        return original(self, batch, **kwargs)

    monkeypatch.setattr(Detector, "forward", counting)
    return calls


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], str | bytes]]:
    """The writers of the deferred downloads offered on the page, by file name, as a click would call them."""
    made: dict[str, Callable[[], str | bytes]] = {}
    original = MediaFileManager.add_deferred

    def keeping(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keeping)
    return made


def upload(app: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    app.file_uploader[0].set_value([(name, data, "image/png") for name, data in files]).run()
    assert not app.exception
    return app


def faces_of_seeds() -> list[tuple[str, bytes]]:
    return [(f"face-{seed}.png", png(seed)) for seed in SEEDS]


def shown_values(app: AppTest, index: int = 0):
    """What the page's ``index``-th table shows in its cells (the Styler's display values), as text."""
    styler = app.dataframe[index].proto.arrow_data.styler
    return pa.ipc.open_stream(styler.display_values).read_all().to_pandas()


def explain_from_classify(app: AppTest, button: str) -> AppTest:
    """Click the Classify page's button ``button`` (key) that opens the Explain page, and stay there.

    AppTest reruns the page it last switched to, not the one the script switched to, so the test
    switches too (as the browser's address would now say).
    """
    app.button(key=button).click().run()
    assert not app.exception and app.title[0].value == "Explain"
    return app.switch_page("pages/explain.py")


def choose(app: AppTest, key: str, shown: str) -> None:
    """Pick the option of the selectbox ``key`` whose label starts with ``shown``."""
    box = app.selectbox(key=key)
    box.select_index(next(index for index, label in enumerate(box.options) if label.startswith(shown)))


# --------------------------------------------------------------------------- table first, Fake first


def test_the_table_comes_first_fake_first_then_a_card_per_image(model_dir: Path, tiny_detector: Detector) -> None:
    p_fake = [tiny_detector.predict(face_like_image(seed=seed)).p_fake for seed in SEEDS]
    threshold = round(float(np.median(p_fake)), 2)
    assert 0 < sum(p >= threshold for p in p_fake) < len(SEEDS)  # some Fake, some Real
    app = open_page("pages/classify.py")
    app.slider(key=THRESHOLD_KEY).set_value(threshold).run()
    upload(app, faces_of_seeds())
    assert [node.type for node in app.main][1] == "title"  # nothing above it (no stray string shown by magic)
    shown = [node.type for node in app.main if node.type in ("dataframe", "expander")]
    assert shown[0] == "dataframe" and len(app.expander) == len(SEEDS)  # the table, then a card per image
    table = app.dataframe[0].value
    expected = fake_first(
        {"file": f"face-{seed}.png", "verdict": "v", "p_fake": p, "threshold": threshold}
        for seed, p in zip(SEEDS, p_fake, strict=True)
    )
    assert table["file"].tolist() == [row["file"] for row in expected]
    assert table["verdict"].tolist() == sorted(table["verdict"])  # "Fake" before "Real"
    assert list(app.dataframe[0].proto.column_order) == ["thumbnail", "file", "verdict", "p_fake", "flags"]
    thumbnail = table["thumbnail"][0]
    assert thumbnail.startswith("data:image/jpeg;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(thumbnail.split(",", 1)[1])))
    assert max(picture.size) <= 48
    labels = [re.fullmatch(r"\*\*(face-\d\.png)\*\*: (Fake|Real)", card.label) for card in app.expander]
    assert [label.group(1) for label in labels] == [f"face-{seed}.png" for seed in SEEDS]  # cards in upload order
    assert all(card.proto.expanded for card in app.expander)  # open, and folded away at will


def test_one_probability_wording_in_the_table_the_cards_and_explain(model_dir: Path, tiny_detector: Detector) -> None:
    app = upload(open_page("pages/classify.py"), faces_of_seeds()[:2])
    table = app.dataframe[0].value
    worded = [format_probability(p) for p in table["p_fake"]]
    assert shown_values(app)["p_fake"].tolist() == worded
    assert shown_values(app)["confidence"].tolist() == [format_probability(p) for p in table["confidence"]]
    details = [item.value for item in app.markdown if item.value.startswith("P(fake)")]
    assert sorted(detail.split("**")[1] for detail in details) == sorted(worded)
    choose(app, "classify-explain-choice", f"{table['file'][0]} · ")
    explain_from_classify(app, "classify-explain")
    explained = next(item.value for item in app.markdown if item.value.startswith("P(fake)"))
    assert explained.split("**")[1] == worded[0]


# --------------------------------------------------------------------------- the Explain action


def test_a_row_and_a_card_open_the_explain_page_on_their_image_and_face(face_model: Path) -> None:
    group, other = encode(four_faces()), png(5, height=64, width=64)
    app = upload(open_page("pages/classify.py"), [("other.png", other), ("group.png", group)])
    assert not app.error
    choose(app, "classify-explain-choice", "group.png · face 3 · P(fake) ")
    explain_from_classify(app, "classify-explain")
    assert app.radio(key="explain-source").value == FROM_CLASSIFY
    box = app.selectbox(key="explain-classified")
    assert box.format_func(box.value) == "group.png"
    assert app.selectbox(key="explain-face").value == 3
    assert "for face 3, on the aligned crop" in " ".join(item.value for item in app.markdown)
    app.selectbox(key="explain-face").set_value(2).run()  # the choice was taken once: the visitor moves on
    assert app.selectbox(key="explain-face").value == 2

    app.switch_page("pages/classify.py").run()
    card = next(index for index, card in enumerate(app.expander) if card.label.startswith("**group.png**"))
    explain_from_classify(app, f"explain-{card}-4")  # the card's own button, on face 4
    assert app.selectbox(key="explain-face").value == 4


# --------------------------------------------------------------------------- kept for the session


def test_results_stay_across_pages_without_a_model_call_until_cleared(model_dir: Path, model_calls: list[int]) -> None:
    app = upload(open_page("pages/classify.py"), faces_of_seeds()[:3])
    before = (verdicts(app), app.dataframe[0].value["file"].tolist())
    assert len(before[0]) == 3 and model_calls
    app.switch_page("pages/explain.py").run()
    assert app.radio(key="explain-source").value == FROM_CLASSIFY
    model_calls.clear()  # the Explain page judged its image; coming back must judge nothing
    app.switch_page("pages/classify.py").run()
    assert not app.exception
    assert not app.file_uploader[0].value  # the uploader forgot its files, as it does in a browser
    assert (verdicts(app), app.dataframe[0].value["file"].tolist()) == before
    assert any("kept for this session" in item.value for item in app.info)
    assert model_calls == []
    upload(app, faces_of_seeds()[3:])  # new files replace the kept batch
    assert app.dataframe[0].value["file"].tolist() == ["face-4.png"]
    assert not any("kept for this session" in item.value for item in app.info)
    next(button for button in app.button if button.label == "Clear results").click().run()
    assert not app.exception
    assert "Upload one or more face images" in app.info[0].value
    assert not app.dataframe and not app.file_uploader[0].value
    app.switch_page("pages/explain.py").run()
    assert FROM_CLASSIFY not in app.radio(key="explain-source").options


# --------------------------------------------------------------------------- threshold without the model


def test_a_threshold_step_rejudges_the_stored_probabilities_without_a_model_call(
    model_dir: Path, model_calls: list[int]
) -> None:
    app = upload(open_page("pages/classify.py"), faces_of_seeds())
    probabilities = sorted(app.dataframe[0].value["p_fake"])
    model_calls.clear()
    for threshold, expected in ((0.0, "Fake"), (1.0, "Real")):
        app.slider(key=THRESHOLD_KEY).set_value(threshold).run()
        assert not app.exception
        assert verdicts(app) == [expected] * len(SEEDS)
        table = app.dataframe[0].value
        assert table["verdict"].tolist() == [expected] * len(SEEDS)
        assert sorted(table["p_fake"]) == probabilities and (table["threshold"] == threshold).all()
    assert model_calls == []


# --------------------------------------------------------------------------- the report


class _Resources(HTMLParser):
    """Every tag and every address (``src``, ``href``, ``srcset``, ...) in an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.addresses: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data", "poster") and value is not None:
                self.addresses.append(value)
                if tag == "img":
                    self.images.append(value)


def parsed(page: str) -> _Resources:
    resources = _Resources()
    resources.feed(page)
    resources.close()
    return resources


def test_the_report_download_holds_the_session_in_one_self_contained_file(
    model_dir: Path, downloads: dict[str, Callable[[], str | bytes]]
) -> None:
    hostile = '<img src=x onerror="alert(1)">.png'
    app = upload(open_page("pages/classify.py"), [*faces_of_seeds()[:2], (hostile, png(9))])
    choose(app, "classify-explain-choice", "face-1.png · ")
    explain_from_classify(app, "classify-explain")
    app.multiselect(key="explain-methods").set_value(["attention"]).run()
    app.button[0].click().run()
    assert not app.exception and not app.error
    app.switch_page("pages/classify.py").run()
    assert "Download report (HTML)" in [button.label for button in app.get("download_button")]
    page = downloads[REPORT_FILE]()
    assert isinstance(page, str)
    resources = parsed(page)
    assert "script" not in resources.tags and "link" not in resources.tags
    assert all(address.startswith("data:image/") for address in resources.addresses)
    assert len(resources.images) == 3 + 1  # each row's thumbnail (the whole image here) and the overlay
    for address in resources.images:
        assert min(Image.open(io.BytesIO(base64.b64decode(address.split(",", 1)[1]))).size) > 0
    assert hostile not in page and html.escape(hostile) in page
    table = app.dataframe[0].value
    listed = re.findall(r"<tr><td><img [^>]*></td><td>([^<]*)</td>", page)  # the report's verdict table
    assert listed == [html.escape(name) for name in table["file"]]  # Fake first, as on the page
    for p in table["p_fake"]:
        assert f"<td>{format_probability(p)}</td>" in page
    assert "Explanations made in this session" in page and "Attention mask" in page
    assert "default-test" in page and re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", page)


# --------------------------------------------------------------------------- shareable links


def test_a_link_keeps_the_chosen_samples_on_classify(model_dir: Path) -> None:
    app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "streamlit_app.py"), default_timeout=120)
    app.query_params["sample"] = ["gan256_000536", "no-such-sample", "chelsea"]
    app.run()
    app.switch_page("pages/classify.py").run()
    assert not app.exception
    assert app.multiselect[0].value == ["gan256_000536", "chelsea"]  # an unknown name is dropped
    assert len(verdicts(app)) == 2
    app.multiselect[0].set_value(["coffee"]).run()
    assert app.query_params["sample"] == "coffee"
    next(button for button in app.button if button.label == "Clear results").click().run()
    assert "sample" not in app.query_params and app.multiselect[0].value == []


def test_a_link_keeps_the_sample_and_the_methods_on_explain(model_dir: Path) -> None:
    app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"sample": "chelsea", "methods": ["lime", "gradcam"]})
    app.run()
    app.switch_page("pages/explain.py").run()
    assert not app.exception
    assert app.radio(key="explain-source").value == "A built-in sample"
    assert app.selectbox(key="explain-sample").value == "chelsea"
    assert app.multiselect(key="explain-methods").value == ["lime", "gradcam"]
    app.multiselect(key="explain-methods").set_value(["attention"]).run()
    assert app.query_params["methods"] == "attention"
    app.selectbox(key="explain-sample").set_value("coffee").run()
    assert app.query_params["sample"] == "coffee"
    app.multiselect(key="explain-methods").set_value(["attention", "gradcam", "lime"]).run()  # the default
    assert "methods" not in app.query_params
    app.radio(key="explain-source").set_value("Upload an image").run()
    assert "sample" not in app.query_params
