"""One real visit of the dashboard in headless Chromium: an analyst's batch, every page, an explanation.

The server runs ``streamlit run streamlit_app.py`` against the shipped ``model/`` folder, so the
verdicts are the ones a visitor gets (a generated sample is called Fake): a photo with four faces
gets four verdicts, a cat gets "No face found" and no verdict. The results table comes first;
the verdicts stay when the visitor opens the Explain page and comes back; the threshold slider
re-judges them; a link naming samples opens them. The server is started and always stopped by
the harness in ``benchmarks/app.py`` (the benchmark drives the app the same way). Screenshots of
every page go to a temporary folder, printed at the end (``pytest -s`` shows it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import encode, four_faces, no_face_pictures

from deepfake_core.card import load_card
from pages.inputs import SAMPLES

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "model"
TIMEOUT_MS = 180_000  # the first Classify visit loads TensorFlow and the model on a busy 2-core machine
VIEWPORT = {"width": 1400, "height": 1000}
PAGES = ("Home", "Classify", "Explain", "Evaluation", "Model")
HELPERS = ("shell", "messages", "inputs", "formatting", "pictures", "files")
"""Helper modules in ``pages/`` that must never be listed as pages."""
CAUGHT_SAMPLES = [name for name, sample in SAMPLES.items() if sample.description.endswith("calls it Fake")]


def _harness():
    """``benchmarks/app.py`` as a module (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("dashboard_harness", ROOT / "benchmarks" / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


harness = _harness()


def screenshot(page, path: Path) -> None:
    """Wait until the run is over and no placeholder is left, then capture the whole page.

    Streamlit scrolls inside its main element, so the viewport is made as tall as that content first.
    """
    harness.wait_idle(page, timeout_ms=TIMEOUT_MS)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(height, 8000)})
    page.wait_for_timeout(500)  # charts re-layout to the new size
    page.screenshot(path=path)
    page.set_viewport_size(VIEWPORT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not harness.CHROMIUM.exists():
        reason = f"{harness.CHROMIUM} is missing (install Debian's chromium package)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{reason}; the browser test must run in CI")
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with harness.dashboard_server(MODEL_DIR, log=log) as running:
        yield running


@pytest.mark.browser
def test_an_analysts_visit_in_chromium(server, tmp_path_factory: pytest.TempPathFactory) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # every step may wait on a busy machine, not only the first
    shots = tmp_path_factory.mktemp("screenshots")
    model_id = load_card(MODEL_DIR / "default.card.json").model_id
    generated = (SAMPLES[CAUGHT_SAMPLES[0]].path.name, SAMPLES[CAUGHT_SAMPLES[0]].path.read_bytes())
    with sync_playwright() as playwright:
        browser = harness.launch_chromium(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            # The server's first request is a deep link: the navigation must list only the real pages,
            # and the first upload must count (the page is re-run through the entry point first).
            page.goto(f"{server.url}/classify")
            navigation = page.locator('[data-testid="stSidebarNav"] a')
            expect(navigation.get_by_text("Home", exact=True)).to_have_count(1)  # the real navigation, registered
            titles = [text.split("\n")[-1].strip() for text in navigation.all_inner_texts()]
            assert [title for title in titles if title in PAGES] == list(PAGES), titles
            assert not {title.lower() for title in titles} & set(HELPERS), titles

            # Three files at once: four faces, a cat (no face), a generated face.
            files = [("group.png", encode(four_faces())), ("cat.png", encode(no_face_pictures()["cat"])), generated]
            outcomes = harness.upload_and_wait(page, files, timeout_ms=TIMEOUT_MS, outcomes=6)
            assert len(re.findall(harness.VERDICT, outcomes)) == 5 and "No face found" in outcomes
            expect(page.get_by_text(re.compile(rf"model {model_id}"))).to_have_count(5)
            expect(page.get_by_test_id("stProgress")).to_have_count(5)  # one P(fake) bar per face
            table, first_card = page.get_by_test_id("stDataFrame"), page.get_by_test_id("stExpander").first
            assert table.bounding_box()["y"] < first_card.bounding_box()["y"]  # the table comes first
            screenshot(page, shots / "2-classify.png")
            with page.expect_download(timeout=TIMEOUT_MS) as download:  # encoded only when clicked
                page.get_by_role("button", name="Download JSON").click()
            rows = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
            assert [(row["file"], row["face"]) for row in rows] == [("group.png", n) for n in (1, 2, 3, 4)] + [
                ("cat.png", None),
                (generated[0], 1),
            ]
            assert all(0.0 <= row["p_fake"] <= 1.0 for row in rows if row["verdict"])
            assert "no face found" in rows[4]["error"]

            harness.open_from_sidebar(page, "Home", heading="deepfake-lens", timeout_ms=TIMEOUT_MS)
            expect(page.get_by_text("Limitations — read before trusting a verdict.")).to_be_visible()
            screenshot(page, shots / "1-home.png")

            harness.open_from_sidebar(page, "Evaluation", timeout_ms=TIMEOUT_MS)
            charts = page.locator('[data-testid="stPlotlyChart"] .main-svg')
            expect(charts.nth(4)).to_be_visible()  # ROC, PR, confusion matrix, reliability, per kind, ...
            expect(page.get_by_text("ROC curve: default").first).to_be_visible()
            screenshot(page, shots / "3-evaluation.png")

            harness.open_from_sidebar(page, "Model", timeout_ms=TIMEOUT_MS)
            expect(page.get_by_text("Preprocessing contract", exact=True)).to_be_visible()
            screenshot(page, shots / "4-model.png")

            harness.open_from_sidebar(page, "Explain", timeout_ms=TIMEOUT_MS)
            # The uploaded image is offered from the Classify page; keep only the attention mask.
            expect(page.get_by_text("An image from the Classify page")).to_be_visible()
            for method in ("Grad-CAM", "LIME"):
                page.get_by_role("button", name=f"Remove {method}").click()
                expect(page.get_by_role("button", name=f"Remove {method}")).to_have_count(0)
            page.get_by_role("button", name=re.compile(r"Explain$")).click()
            expect(page.get_by_text(re.compile(r"^Attention mask \("))).to_be_visible()
            expect(page.get_by_text("--method attention --from-json group_face1_attention.json")).to_be_visible()
            screenshot(page, shots / "5-explain.png")

            # Back on Classify the uploader is empty, and the verdicts are still there.
            harness.open_from_sidebar(page, "Classify", timeout_ms=TIMEOUT_MS)
            kept = page.get_by_text(re.compile(harness.OUTCOME))
            expect(kept).to_have_count(6)
            assert sorted(re.findall(harness.VERDICT, "\n".join(kept.all_inner_texts()))) == sorted(
                re.findall(harness.VERDICT, outcomes)
            )
            expect(page.get_by_text(re.compile("kept for this session"))).to_be_visible()
            # The threshold slider re-judges them: at 1.00 every face is Real, at 0.00 every face is Fake.
            for key, verdict in (("End", "Real"), ("Home", "Fake")):
                harness.step_threshold(page, key, cards=5, timeout_ms=TIMEOUT_MS)
                expect(page.get_by_text(re.compile(rf"Verdict: {verdict}"))).to_have_count(5)
            screenshot(page, shots / "6-classify-kept.png")
            page.close()

            # A link naming samples opens them for a new visitor, at the model's threshold: the generated
            # faces the shipped model catches are called Fake.
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{server.url}/classify?" + "&".join(f"sample={name}" for name in CAUGHT_SAMPLES))
            shown = page.get_by_text(re.compile(harness.OUTCOME))
            expect(shown).to_have_count(len(CAUGHT_SAMPLES))
            assert "Verdict: Fake" in "\n".join(shown.all_inner_texts())
            screenshot(page, shots / "7-samples.png")
        finally:
            browser.close()
    print(f"\nscreenshots: {shots}")
