"""One real visit of the dashboard in headless Chromium: classify faces, see a chart, run an explanation.

The server runs ``streamlit run streamlit_app.py`` against the tiny fixture model with a face step
(like the shipped default): a photo with four faces gets four verdicts, a cat gets "No face found"
and no verdict. The server is started and
always stopped by the harness in ``benchmarks/app.py`` (the benchmark drives the app the same way).
Screenshots of every page go to a temporary folder, printed at the end (``pytest -s`` shows it).
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

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 180_000  # the first Classify visit loads TensorFlow and the model on a busy 2-core machine
VIEWPORT = {"width": 1400, "height": 1000}


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
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stSkeleton], [data-stale=true], [data-testid=stStatusWidget]')",
        timeout=TIMEOUT_MS,
    )
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(height, 8000)})
    page.wait_for_timeout(500)  # charts re-layout to the new size
    page.screenshot(path=path)
    page.set_viewport_size(VIEWPORT)


@pytest.fixture(scope="module")
def server(tiny_face_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not harness.CHROMIUM.exists():
        reason = f"{harness.CHROMIUM} is missing (install Debian's chromium package)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{reason}; the browser test must run in CI")
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with harness.dashboard_server(tiny_face_model_dir, log=log) as running:
        yield running


@pytest.mark.browser
def test_classify_evaluate_and_explain_in_chromium(server, tmp_path_factory: pytest.TempPathFactory) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # every step may wait on a busy machine, not only the first
    shots = tmp_path_factory.mktemp("screenshots")
    with sync_playwright() as playwright:
        browser = harness.launch_chromium(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            # The server's first request is a deep link: the navigation must list only the real pages,
            # and the first upload must count (the page is re-run through the entry point first).
            page.goto(f"{server.url}/classify")
            navigation = page.locator('[data-testid="stSidebarNav"] a')
            expect(navigation).to_have_count(5)
            assert [text.split()[-1] for text in navigation.all_inner_texts()] == [
                "Home",
                "Classify",
                "Explain",
                "Evaluation",
                "Model",
            ]
            group = harness.upload_and_wait(page, "group.png", encode(four_faces()), timeout_ms=TIMEOUT_MS, outcomes=4)
            assert len(re.findall(harness.VERDICT, group)) == 4
            expect(page.get_by_text(re.compile(r"model default-test"))).to_have_count(4)
            expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(4)  # one P(fake) bar per face
            cat = encode(no_face_pictures()["cat"])
            outcomes = harness.upload_and_wait(page, "cat.png", cat, timeout_ms=TIMEOUT_MS, outcomes=5)
            assert len(re.findall(harness.VERDICT, outcomes)) == 4 and "No face found" in outcomes
            screenshot(page, shots / "2-classify.png")
            with page.expect_download(timeout=TIMEOUT_MS) as download:  # encoded only when clicked
                page.get_by_role("button", name="Download JSON").click()
            rows = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
            assert [(row["file"], row["face"]) for row in rows] == [("group.png", n) for n in (1, 2, 3, 4)] + [
                ("cat.png", None)
            ]
            assert all(0.0 <= row["p_fake"] <= 1.0 for row in rows[:4]) and "no face found" in rows[4]["error"]

            harness.open_from_sidebar(page, "Home", heading="deepfake-lens", timeout_ms=TIMEOUT_MS)
            expect(page.get_by_text("Limitations — read before trusting a verdict.")).to_be_visible()
            screenshot(page, shots / "1-home.png")

            harness.open_from_sidebar(page, "Evaluation", timeout_ms=TIMEOUT_MS)
            charts = page.locator('[data-testid="stPlotlyChart"] .main-svg')
            expect(charts.nth(4)).to_be_visible()  # ROC, PR, confusion matrix, reliability, per kind, ...
            expect(page.get_by_text("ROC curve: default").first).to_be_visible()
            screenshot(page, shots / "3-evaluation.png")

            harness.open_from_sidebar(page, "Model", timeout_ms=TIMEOUT_MS)
            expect(page.get_by_text("Preprocessing contract")).to_be_visible()
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
        finally:
            browser.close()
    print(f"\nscreenshots: {shots}")
