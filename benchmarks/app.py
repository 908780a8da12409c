"""Cold-start and warm latency of the dashboard in a real browser, an analyst's batch, and the server's memory.

Starts ``streamlit run streamlit_app.py`` on a free port against a model folder, then drives the
system's Chromium with Playwright (nothing is downloaded):

1. **cold start**: server start -> health check -> Home page loaded -> Classify page loaded (the
   model is loaded here, once per server) -> upload -> verdict visible;
2. **warm**: ``--runs`` more classifications, each in a fresh browser session (page load, upload,
   verdict), as new visitors of the public demo would do;
3. **an analyst's batch**: ``--batch`` images (30, the page's limit) uploaded at once; one step of
   the threshold slider (re-judging the stored probabilities: the goal is 0.5 s at most, from the
   key press until every card shows the new threshold); the Explain page and back (the verdicts
   are kept) and the HTML report downloaded;
4. **memory**: the server process's resident memory (``VmHWM`` peak and ``VmRSS`` now in
   ``/proc``, children included) after the whole flow, against the Streamlit Community Cloud
   budget of 1 GB.

Usage::

    python benchmarks/app.py                         # the shipped model/ folder
    python benchmarks/app.py --model-dir /tmp/model  # any folder with NAME.keras + NAME.card.json

``tests/test_browser.py`` uses the same harness (:func:`dashboard_server`, :func:`launch_chromium`,
:func:`upload_and_wait`, :func:`step_threshold`), so the test and the benchmark exercise the app in
the same way.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MEMORY_BUDGET_MB = 1024
VERDICT = r"Verdict: (Real|Fake)"
OUTCOME = rf"{VERDICT}|No face found"
"""What the Classify page shows for an upload: a verdict per face (or whole image), or that no face was found."""
SAMPLE_FILES = ("astronaut.png", "chelsea.png", "coffee.png")
"""Real photos shipped with scikit-image, uploaded in turn (a face, a cat, a cup)."""
BATCH_FACES = (Path(skimage.data.data_dir) / "astronaut.png", *sorted((ROOT / "samples").glob("*.jpg")))
"""One face each: the astronaut and the shipped generated samples, the material of the analyst's batch."""
THRESHOLD_STEP_GOAL_S = 0.5
IDLE = "!document.querySelector('[data-testid=stSkeleton], [data-stale=true], [data-testid=stStatusWidget]')"
"""A JavaScript test, true once a script run is over: nothing stale, no placeholder, no "Running..." widget."""

_SLIDER = "[data-testid=stSlider] input[type=range]"
"""The page's first slider (the threshold on Classify), as the range input that holds its value."""

Files = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class DashboardServer:
    """A running ``streamlit run`` process and where to reach it."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(server: DashboardServer, timeout: float) -> None:
    """Poll ``/_stcore/health`` until it answers "ok"; fail early if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.process.returncode}:\n{log_tail(server.log)}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"streamlit did not become healthy within {timeout:.0f} s:\n{log_tail(server.log)}")


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a server log, for error messages."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def dashboard_server(
    model_dir: Path, *, log: Path, startup_timeout: float = 180.0, port: int | None = None
) -> Iterator[DashboardServer]:
    """Run the dashboard on 127.0.0.1 against ``model_dir`` until the block ends; the process is always terminated."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    # started as the README starts it (MALLOC_ARENA_MAX=2, unless the caller's environment says otherwise)
    env = {
        "MALLOC_ARENA_MAX": "2",
        **os.environ,
        "DEEPFAKE_LENS_MODEL_DIR": str(model_dir),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = DashboardServer(process=process, url=f"http://127.0.0.1:{port}", log=log)
    try:
        _wait_healthy(server, startup_timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_chromium(playwright: Playwright) -> Browser:
    """The system's Chromium, headless; Playwright never downloads a browser here."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_from_sidebar(page: Page, title: str, *, heading: str | None = None, timeout_ms: float) -> None:
    """Click a page in the sidebar navigation and wait until its heading (default: ``title``) is shown."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_role("heading", level=1, name=heading or title, exact=True)).to_be_visible(timeout=timeout_ms)


def upload_and_wait(page: Page, files: Files, *, timeout_ms: float, outcomes: int = 1) -> str:
    """Upload ``(name, bytes)`` images on the open Classify page; once ``outcomes`` results show, return their text.

    A result is a verdict (one per face for a model with a face step) or the "No face found" message;
    ``outcomes`` counts every result on the page, those of earlier uploads included.
    """
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": data} for name, data in files]
    )
    shown = page.get_by_text(re.compile(OUTCOME))
    expect(shown).to_have_count(outcomes, timeout=timeout_ms)
    return "\n".join(shown.all_inner_texts())


def step_threshold(page: Page, key: str, *, cards: int, timeout_ms: float) -> tuple[float, str]:
    """Press ``key`` (``ArrowRight``, ``Home``, ``End``...) on the page's threshold slider; wait for every card.

    Returns the seconds from the key press until all ``cards`` verdicts show the slider's new
    value and the run is over, and that value (e.g. ``"0.51"``). The cards are polled on every
    animation frame, so the time is not rounded up to a polling interval.
    """
    slider = page.locator(_SLIDER).first
    before = slider.get_attribute("aria-valuetext")
    slider.focus()
    started = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(
        f"before => document.querySelector('{_SLIDER}').getAttribute('aria-valuetext') !== before",
        arg=before,
        polling="raf",
        timeout=timeout_ms,
    )
    value = slider.get_attribute("aria-valuetext")
    page.wait_for_function(
        "([value, cards]) => [...document.querySelectorAll('[data-testid=stMarkdownContainer] p')]"
        f".filter(line => line.textContent.trim().endsWith(`· threshold ${{value}}`)).length >= cards && {IDLE}",
        arg=[value, cards],
        polling="raf",
        timeout=timeout_ms,
    )
    return time.perf_counter() - started, value


def wait_idle(page: Page, *, timeout_ms: float) -> None:
    """Wait until the page's script run is over (see :data:`IDLE`)."""
    page.wait_for_function(f"() => {IDLE}", timeout=timeout_ms)


def batch_files(count: int) -> list[tuple[str, bytes]]:
    """``count`` different one-face JPEGs: :data:`BATCH_FACES` in turn, every other round mirrored.

    Each file differs in its bytes (a mirrored copy, a corner pixel set to the file's number), so
    each is a new upload for the page, as an analyst's batch would be.
    """
    faces = [np.asarray(Image.open(path).convert("RGB")) for path in BATCH_FACES]
    files = []
    for index in range(count):
        image = faces[index % len(faces)].copy()
        if (index // len(faces)) % 2:
            image = image[:, ::-1].copy()
        image[0, 0] = index
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=92)
        files.append((f"batch-{index:02d}.jpg", buffer.getvalue()))
    return files


def memory_kib(pid: int) -> tuple[int, int]:
    """``(peak, current)`` resident memory in KiB of ``pid`` plus its children (``VmHWM``, ``VmRSS``)."""
    peak = current = 0
    for process in _with_children(pid):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{process}/status").read_text().splitlines())
        except (FileNotFoundError, ProcessLookupError):
            continue
        peak += int(fields["VmHWM"].split()[0])
        current += int(fields["VmRSS"].split()[0])
    return peak, current


def _with_children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in children:
            found.extend(_with_children(int(child)))
    return found


# --------------------------------------------------------------------------- the benchmark


def _seconds(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.2f} s, p90 {p90:.2f} s, max {ordered[-1]:.2f} s"


def run(model_dir: Path, *, runs: int, batch_size: int, timeout_s: float) -> int:
    """Measure and print; returns the exit status (1 when the peak memory is over budget)."""
    samples = [(name, (Path(skimage.data.data_dir) / name).read_bytes()) for name in SAMPLE_FILES]
    timeout_ms = timeout_s * 1000
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"deepfake-lens-benchmark-{os.getpid()}.log"
    started = time.perf_counter()
    with dashboard_server(model_dir, log=log) as server, sync_playwright() as playwright:
        healthy = time.perf_counter()
        browser = launch_chromium(playwright)
        page = browser.new_page()
        page.goto(server.url)
        expect(page.get_by_role("heading", name="deepfake-lens")).to_be_visible(timeout=timeout_ms)
        home = time.perf_counter()
        open_from_sidebar(page, "Classify", timeout_ms=timeout_ms)
        expect(page.locator('[data-testid="stFileUploaderDropzoneInput"]')).to_be_attached(timeout=timeout_ms)
        classify = time.perf_counter()
        first = upload_and_wait(page, samples[:1], timeout_ms=timeout_ms)
        verdict = time.perf_counter()
        page.close()

        warm_load, warm_upload, warm_total = [], [], []
        for index in range(runs):
            page = browser.new_page()
            begin = time.perf_counter()
            page.goto(f"{server.url}/classify")
            expect(page.locator('[data-testid="stFileUploaderDropzoneInput"]')).to_be_attached(timeout=timeout_ms)
            uploading = time.perf_counter()
            upload_and_wait(page, [samples[index % len(samples)]], timeout_ms=timeout_ms)
            done = time.perf_counter()
            warm_load.append(uploading - begin)
            warm_upload.append(done - uploading)
            warm_total.append(done - begin)
            page.close()
        before_batch = memory_kib(server.process.pid)[1]
        batch = analyst_batch(browser, server.url, count=batch_size, timeout_ms=timeout_ms)
        browser.close()
        peak, current = memory_kib(server.process.pid)

    print(f"model folder            {model_dir}")
    print("cold start (one server, first visitor)")
    print(f"  server start -> healthy        {healthy - started:6.2f} s")
    print(f"  -> Home page shown             {home - started:6.2f} s")
    print(f"  -> Classify page (model load)  {classify - started:6.2f} s")
    print(f"  -> first verdict visible       {verdict - started:6.2f} s   ({first.split('Verdict: ')[-1]})")
    print(f"warm: {runs} classifications, each a new browser session")
    print(f"  page load (new session)        {_seconds(warm_load)}")
    print(f"  upload -> verdict              {_seconds(warm_upload)}")
    print(f"  total                          {_seconds(warm_total)}")
    print(f"an analyst's batch: {batch.images} images uploaded at once, {batch.verdicts} verdicts")
    print(f"  server memory before it           {before_batch / 1024:6.0f} MB (VmRSS)")
    print(f"  upload -> every verdict visible    {batch.classify_s:6.2f} s")
    met = "met" if statistics.median(batch.steps) <= THRESHOLD_STEP_GOAL_S else "MISSED"
    print(f"  one threshold step (0.01), {len(batch.steps)} steps: {_seconds(batch.steps)}")
    print(f"      key press -> all {batch.verdicts} cards re-judged; goal <= {THRESHOLD_STEP_GOAL_S} s: {met} (median)")
    print(f"  Explain page and back             {batch.explain_and_back_s:6.2f} s, {batch.kept} verdicts kept")
    print(f"  HTML report                       {batch.report_kb:6.0f} KB, written in {batch.report_s:.2f} s")
    print(
        f"server memory after the whole flow: peak {peak / 1024:.0f} MB (VmHWM), now {current / 1024:.0f} MB (VmRSS); "
        f"budget {MEMORY_BUDGET_MB} MB"
    )
    return 0 if peak / 1024 < MEMORY_BUDGET_MB else 1


@dataclass(frozen=True)
class Batch:
    """What the analyst's batch measured (see :func:`analyst_batch`)."""

    images: int
    verdicts: int
    classify_s: float
    steps: list[float]
    explain_and_back_s: float
    kept: int
    report_kb: float
    report_s: float


def analyst_batch(browser: Browser, url: str, *, count: int, timeout_ms: float, steps: int = 5) -> Batch:
    """Upload ``count`` images at once, step the threshold ``steps`` times, visit Explain and back, get the report.

    The threshold goes up one step (0.01) from the card's value and back down, ``steps`` times in
    all; every step re-judges the stored probabilities of all the cards without a model call.
    """
    files = batch_files(count)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/classify")
    expect(page.locator('[data-testid="stFileUploaderDropzoneInput"]')).to_be_attached(timeout=timeout_ms)
    started = time.perf_counter()
    shown = upload_and_wait(page, files, timeout_ms=timeout_ms, outcomes=count)
    classified = time.perf_counter() - started
    verdicts = len(re.findall(VERDICT, shown))
    wait_idle(page, timeout_ms=timeout_ms)
    times = [
        step_threshold(page, "ArrowRight" if step % 2 == 0 else "ArrowLeft", cards=verdicts, timeout_ms=timeout_ms)[0]
        for step in range(steps)
    ]
    started = time.perf_counter()
    open_from_sidebar(page, "Explain", timeout_ms=timeout_ms)
    wait_idle(page, timeout_ms=timeout_ms)
    open_from_sidebar(page, "Classify", timeout_ms=timeout_ms)
    kept = page.get_by_text(re.compile(VERDICT))
    expect(kept).to_have_count(verdicts, timeout=timeout_ms)
    back = time.perf_counter() - started
    still_shown = kept.count()
    wait_idle(page, timeout_ms=timeout_ms)
    started = time.perf_counter()
    with page.expect_download(timeout=timeout_ms) as download:
        page.get_by_role("button", name="Download report (HTML)").click()
    report = Path(download.value.path()).stat().st_size
    written = time.perf_counter() - started
    page.close()
    return Batch(count, verdicts, classified, times, back, still_shown, report / 1024, written)


def check_prerequisites(parser: argparse.ArgumentParser, model_dir: Path) -> None:
    """Stop with a usage error unless ``model_dir`` holds a model and Debian's Chromium is installed."""
    if not any(model_dir.glob("*.keras")):
        parser.error(f"no .keras model in {model_dir}; train one or pass --model-dir")
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing: install Debian's chromium package")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model", help="folder with NAME.keras + card")
    parser.add_argument("--runs", type=int, default=20, help="warm classifications after the cold start")
    parser.add_argument("--batch", type=int, default=30, help="images in the analyst's batch (the page's limit)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for any one step")
    args = parser.parse_args(argv)
    check_prerequisites(parser, args.model_dir)
    return run(args.model_dir.resolve(), runs=args.runs, batch_size=args.batch, timeout_s=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
