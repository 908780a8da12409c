"""The Explain page (``streamlit.testing.v1.AppTest``): bounded cached maps, the threshold in the record,
the saturation caveat, the deletion check's wording, LIME's fit and numbers, and the composite download.

Tiny 32 px models built in the test session; pictures are scikit-image samples or drawn with numpy.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import encode, explanation_of, face_like_image, tiny_card
from streamlit.testing.v1 import AppTest

from deepfake_core.architecture import PREDICTIONS_LAYER, build_model
from deepfake_core.card import card_path_for, file_sha256, save_card
from deepfake_core.explain import WORKING_SIDE

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds: the first run imports TensorFlow on a shared 2-core machine
THRESHOLD_KEY = "threshold:default-test"
CACHE_KEY = "explain-view:explanations"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every map computed and every deletion check run, by name, while the test runs."""
    from deepfake_core.explain import faithfulness, registry

    seen: list[str] = []
    explain, check = registry.explain, faithfulness.deletion_check

    def counting_explain(*args, **kwargs):
        seen.append(kwargs["method"])
        return explain(*args, **kwargs)

    def counting_check(*args, **kwargs):
        seen.append("deletion check")
        return check(*args, **kwargs)

    monkeypatch.setattr(registry, "explain", counting_explain)
    monkeypatch.setattr(faithfulness, "deletion_check", counting_check)
    return seen


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The JSON records the page offers for download, as it builds them."""
    from pages import explain_view

    made: list[dict] = []
    original = explain_view.explanation_record

    def keeping(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(explain_view, "explanation_record", keeping)
    return made


def open_explain() -> AppTest:
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    return app.switch_page("pages/explain.py").run()


def with_sample(name: str = "astronaut") -> AppTest:
    app = open_explain()
    app.radio[0].set_value("A built-in sample").run()
    if name != "astronaut":
        sample(app).set_value(name).run()
    return app


def sample(app: AppTest):
    return next(box for box in app.selectbox if box.label == "Sample")


def explain_class(app: AppTest):
    return next(box for box in app.selectbox if box.label == "Explain the class")


def press(app: AppTest) -> AppTest:
    app.button[0].click().run()
    assert not app.exception and not app.error
    return app


def waiting(app: AppTest) -> bool:
    return any("Press **Explain**" in item.value for item in app.info)


def test_going_to_another_image_and_back_computes_nothing_again(model_dir, calls):
    app = with_sample()
    app.multiselect(key="explain-methods").set_value(["gradcam"]).run()
    press(app)
    sample(app).set_value("chelsea").run()
    assert waiting(app)
    press(app)
    assert calls == ["gradcam", "deletion check", "gradcam", "deletion check"]
    sample(app).set_value("astronaut").run()
    assert not app.exception and not waiting(app)
    assert calls == ["gradcam", "deletion check", "gradcam", "deletion check"]  # both came from the cache
    assert len(app.session_state[CACHE_KEY]) == 2


def test_a_large_upload_keeps_only_working_size_maps(model_dir, calls, records):
    large = encode(face_like_image(1100, 1300, seed=2))
    app = open_explain()
    app.file_uploader(key="explain-upload").set_value(("large.png", large, "image/png")).run()
    app.multiselect(key="explain-methods").set_value(["gradcam", "lime"]).run()
    app.number_input(key="lime-samples").set_value(20).run()
    press(app)
    kept = app.session_state[CACHE_KEY].values()
    assert len(kept) == 2
    for explanation in kept:
        assert explanation.heatmap.shape == (866, 1024) and max(explanation.heatmap.shape) <= WORKING_SIDE
        assert explanation.source_shape == (1100, 1300)
    assert kept[1].segments.shape == (866, 1024)
    assert {tuple(record["image_shape"]) for record in records} == {(866, 1024)}
    assert {tuple(record["source_shape"]) for record in records} == {(1100, 1300)}


def test_the_record_holds_the_threshold_on_the_slider(model_dir, calls, records):
    app = with_sample()
    app.multiselect(key="explain-methods").set_value(["attention"]).run()
    explain_class(app).set_value("Fake").run()
    app.slider(key=THRESHOLD_KEY).set_value(0.0).run()
    press(app)
    assert records[-1]["threshold"] == 0.0 and records[-1]["card_threshold"] == 0.5
    assert records[-1]["verdict"]["label"] == "Fake"
    app.slider(key=THRESHOLD_KEY).set_value(1.0).run()
    assert not app.exception and not waiting(app)
    assert records[-1]["threshold"] == 1.0 and records[-1]["verdict"]["threshold"] == 1.0
    assert records[-1]["verdict"]["label"] == "Real"
    assert calls == ["attention", "deletion check"]  # the map was reused; only its verdict was judged again


@pytest.fixture
def saturated_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder whose default model says Fake with P ~ 1 - 2e-9 for every picture."""
    keras.utils.set_random_seed(0)
    model = build_model(backbone="small_cnn", input_size=32, name="default")
    head = model.get_layer(PREDICTIONS_LAYER)
    kernel, _ = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.array([10.0, -10.0], dtype=np.float32)])  # labels: Fake, Real
    path = tmp_path / "default.keras"
    model.save(path)
    save_card(tiny_card(sha256=file_sha256(path)), card_path_for(path))
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tmp_path))
    return tmp_path


def test_a_saturated_probability_is_flagged_on_the_page_and_in_the_record(saturated_dir, records):
    app = with_sample()
    assert any("within 0.001 of 1" in item.value and "uninformative" in item.value for item in app.warning)
    explain_class(app).set_value("Real").run()
    assert any("within 0.001 of 0" in item.value for item in app.warning)
    app.multiselect(key="explain-methods").set_value(["gradcam"]).run()
    press(app)
    assert "within 0.001 of 0" in records[-1]["caveat"]


def test_an_unsaturated_probability_has_no_caveat(model_dir):
    app = with_sample()
    assert not any("uninformative" in item.value for item in app.warning)


def test_lime_shows_its_fit_numbers_its_superpixels_and_offers_the_composite(model_dir, records):
    app = with_sample()
    app.multiselect(key="explain-methods").set_value(["lime"]).run()
    app.number_input(key="lime-samples").set_value(20).run()
    press(app)
    [lime] = app.session_state[CACHE_KEY].values()
    r2 = lime.details["surrogate_r2"]
    captions = " ".join(item.value for item in app.caption)
    assert f"Surrogate fit R² = {r2:.2f}" in captions
    assert f"R² = {r2:.2f}: the share of the variation" in captions
    assert records[-1]["details"]["surrogate_r2"] == r2
    labels = [button.label for button in app.get("download_button")]
    assert "LIME composite PNG" in labels and "LIME PNG" in labels
    numbered = app.get("image")[1].value
    app.checkbox(key="explain-numbers").uncheck().run()
    assert not app.exception and app.get("image")[1].value != numbered  # the numbers were drawn on it


def test_the_deletion_caption_matches_its_table(model_dir):
    app = with_sample()
    app.multiselect(key="explain-methods").set_value(["attention", "lime"]).run()
    app.number_input(key="lime-samples").set_value(20).run()
    press(app)
    table = next(frame.value for frame in app.dataframe if "result" in frame.value.columns)
    caption = next(item.value for item in app.caption if "A map passes when" in item.value)
    shares = sorted(table["hidden"])
    actual = f"{shares[0]:.1%}" if shares[0] == shares[-1] else f"{shares[0]:.1%} to {shares[-1]:.1%}"
    assert f"nominally 20%; actually {actual}" in caption
    assert f"{(table['result'] == 'pass').sum()} of {len(table)} passed" in caption
    assert set(table["result"]) <= {"pass", "fail", "nothing hidden"}
    assert all(value.endswith(" of 8") for value in table["beats random"])


# --- the cache itself -------------------------------------------------------------------------------------------


def test_lru_cache_is_bounded_by_entries_and_bytes_and_keeps_the_recent_ones():
    from pages.explain_view import LruCache

    cache = LruCache(max_entries=3, max_bytes=10, size=len)
    for key in "abc":
        cache.put(key, "xx")
    assert cache.get("a") == "xx"  # now the most recent
    cache.put("d", "xx")
    assert "b" not in cache and [key in cache for key in "acd"] == [True, True, True]
    cache.put("e", "x" * 7)  # 2 + 2 + 7 > 10 bytes: the oldest go until it fits
    assert "e" in cache and cache.bytes <= 10 and len(cache) == 2
    cache.put("f", "x" * 50)  # larger than the bound alone: kept, as the only entry
    assert cache.values() == ["x" * 50] and cache.get("a") is None


def test_explanations_are_sized_by_their_arrays():
    from pages.explain_view import explanation_bytes

    plain = explanation_of(np.zeros((10, 20)))
    segmented = explanation_of(np.zeros((10, 20)), segments=np.zeros((10, 20), dtype=np.int32))
    assert explanation_bytes(plain) == 800 and explanation_bytes(segmented) == 1600
