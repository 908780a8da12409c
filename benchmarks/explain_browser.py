"""A 40 MP phone photo explained with every method in the real dashboard, and the server's memory around it.

Issue 12: a visitor of the public demo (1 GB for everything) must be able to explain a full-size
phone photo. Done when the server's peak resident memory stays at or under 1024 MB, and, once the
visitor has gone, at most 300 MB above the idle server. This script checks both end to end, in the
app a visitor uses:

1. a ~40 MP JPEG (``--megapixels``; 7296 x 5472 px, under the intake's 40 000 000 px limit) is
   drawn in a temporary folder: scikit-image's astronaut, upscaled, on a larger textured canvas,
   saved at quality 90 (a phone photo's few MB, under the uploader's ``server.maxUploadSize``);
   nothing is written into the repository. ``--turned`` stores it as a phone stores a photo taken
   upright: a quarter turn, with EXIF orientation 6, which the intake turns back;
2. ``streamlit run streamlit_app.py`` is started on the model folder (``--model-dir``) with the
   harness of ``benchmarks/app.py``; one headless Chromium session opens Home (**idle**), then
   Explain with nothing uploaded, which loads the model for every visitor to come
   (``st.cache_resource``): **idle with the model loaded**, the baseline of the 300 MB budget
   (TensorFlow alone is ~600 MB, which no visitor can give back);
3. on Explain it uploads the photo, adds every method the page offers to the "Methods" choice
   (attention mask, Grad-CAM and LIME are the defaults; Grad-CAM++ is added), presses Explain and
   waits until every method's overlay is shown; then it moves the opacity slider one step and
   ticks "Show on the photo" (the overlays drawn back onto the photo: the page's other view);
4. it closes the browser context, so the websocket disconnects, and then calls nothing in the
   server. Streamlit keeps a disconnected session for ``server.disconnectedSessionTTL`` seconds
   ("TTL in seconds for sessions whose websockets have been disconnected. The server may choose to
   clean up session state, uploaded files, etc for a given session with no active websocket
   connection at any point after this time has passed", default 120), so a reconnecting tab gets
   its session back; the server runs with ``--session-ttl`` (default 10 s) through the option's
   environment variable ``STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL``. In Streamlit 1.67 an
   expired session is dropped only at the next write to that store (another visitor's
   disconnect), so with nobody else around this measures what one departed visitor leaves behind.
   The memory is polled for ``--settle`` seconds and the last reading reported.

The server's ``VmRSS`` (its process plus children, from ``/proc``) is sampled every 0.2 s in a
background thread during the whole visit, and its ``VmHWM`` (peak) is read at the end. Figures
are printed against the idle server of the same run. Exit status 1 when a budget is missed.

Usage::

    python benchmarks/explain_browser.py                          # model/, 40 MP
    python benchmarks/explain_browser.py --turned                 # the same photo, stored turned (EXIF 6)
    python benchmarks/explain_browser.py --megapixels 12 --model-dir /tmp/model --timeout 300
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.data

# benchmarks/ is a folder of scripts: the dashboard harness is shared with benchmarks/app.py and the browser test.
from app import IDLE, MEMORY_BUDGET_MB, check_prerequisites, dashboard_server, launch_chromium, memory_kib, wait_idle
from PIL import Image
from playwright.sync_api import Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1400, "height": 1000}
RELEASE_BUDGET_MB = 300
"""How far above the idle server (model loaded) the memory may stay once the visitor has gone."""
MAX_PIXELS = 40_000_000
"""``deepfake_core.intake.DEFAULT_MAX_PIXELS``: a larger photo is refused before decoding."""
JPEG_QUALITY = 90
EXIF_ORIENTATION = 0x0112
"""The EXIF tag that says how a viewer must turn the stored pixels (6: a quarter turn clockwise)."""
SAMPLE_EVERY_S = 0.2
METHOD_TITLES = ("Attention mask", "Grad-CAM", "Grad-CAM++", "LIME")
"""Every method the Explain page offers for the shipped model (its multiselect's options)."""
TTL_ENV = "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"
_PICTURES = "[data-testid=stImage] img"
"""Every picture ``st.image`` shows on the page."""


# --------------------------------------------------------------------------- the photo


def photo_size(megapixels: float) -> tuple[int, int]:
    """``(width, height)`` of a 4:3 photo of at most ``megapixels`` MP, both multiples of 16 (JPEG blocks)."""
    pixels = megapixels * 1e6
    width = int(math.sqrt(pixels * 4 / 3)) // 16 * 16
    return width, int(pixels / width) // 16 * 16


def textured_canvas(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(height, width, 3)`` uint8 background: smooth colour patches plus a fine grain, as a photo has."""
    patches = rng.integers(60, 200, size=(height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    canvas = np.asarray(Image.fromarray(patches).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-6, 7, size=(height // 4 + 1, width // 4 + 1, 1), dtype=np.int16)
    canvas += np.repeat(np.repeat(grain, 4, axis=0), 4, axis=1)[:height, :width]
    return np.clip(canvas, 0, 255).astype(np.uint8)


def phone_photo(megapixels: float, folder: Path, *, seed: int = 0, turned: bool = False) -> Path:
    """A ~``megapixels`` MP JPEG in ``folder``: the astronaut's portrait, 47 % of the height, on a textured canvas.

    ``turned`` stores the pixels a quarter turn anticlockwise with EXIF orientation 6, as a phone
    saves a photo taken upright: the intake must turn it back (another full-size array).
    """
    width, height = photo_size(megapixels)
    canvas = textured_canvas(width, height, np.random.default_rng(seed))
    side = int(height * 0.47)
    face = Image.fromarray(skimage.data.astronaut()).resize((side, side), Image.Resampling.LANCZOS)
    top, left = (height - side) // 3, (width - side) // 2
    canvas[top : top + side, left : left + side] = np.asarray(face)
    path = folder / f"phone-photo-{width}x{height}{'-turned' if turned else ''}.jpg"
    buffer = io.BytesIO()
    exif = Image.Exif()
    if turned:
        canvas = np.ascontiguousarray(np.rot90(canvas))
        exif[EXIF_ORIENTATION] = 6
    Image.fromarray(canvas).save(buffer, format="JPEG", quality=JPEG_QUALITY, exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


def upload_limit_mb() -> float:
    """The dashboard's ``server.maxUploadSize`` (MB) from ``.streamlit/config.toml`` (Streamlit's default: 200)."""
    config = ROOT / ".streamlit" / "config.toml"
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    found = re.search(r"^maxUploadSize\s*=\s*(\d+)", text, flags=re.MULTILINE)  # no tomllib on Python 3.10
    return float(found.group(1)) if found else 200.0


# --------------------------------------------------------------------------- the server's memory


@dataclass
class MemorySampler:
    """Samples the server's ``VmRSS`` (process plus children) every ``every`` seconds in a daemon thread.

    ``marks`` names the moments of the visit (``(seconds since start, what)``), so the peak can be
    placed between two steps.
    """

    pid: int
    every: float = SAMPLE_EVERY_S
    samples: list[tuple[float, int]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = field(default_factory=time.perf_counter)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append((time.perf_counter() - self._started, memory_kib(self.pid)[1]))

    def mark(self, what: str) -> None:
        """Name the step starting now; it is also printed to stderr with the memory now, to follow a slow run."""
        now = time.perf_counter() - self._started
        self.marks.append((now, what))
        print(f"[{now:7.1f} s] {what} (server VmRSS {memory_kib(self.pid)[1] / 1024:.0f} MB)", file=sys.stderr)

    def peak(self) -> tuple[int, str]:
        """The highest sample (KiB) and the step it fell in (the last mark before it)."""
        at, kib = max(self.samples, key=lambda sample: sample[1])
        step = next((what for when, what in reversed(self.marks) if when <= at), "start")
        return kib, step

    def peak_between(self, first: str, last: str | None = None) -> int | None:
        """The highest sample (KiB) from mark ``first`` up to mark ``last`` (or the end); ``None``: no sample there."""
        marks = {what: when for when, what in self.marks}
        begin, end = marks[first], marks[last] if last else math.inf
        return max((kib for at, kib in self.samples if begin <= at <= end), default=None)


def settled_rss(
    pid: int, *, timeout: float = 60.0, window: float = 10.0, tolerance_kib: int = 5 * 1024
) -> tuple[int, float]:
    """Poll ``VmRSS`` once a second until it moved less than ``tolerance_kib`` over ``window`` seconds.

    Returns the last reading (KiB) and the seconds it took; at ``timeout`` the reading then.
    """
    started = time.perf_counter()
    readings: list[tuple[float, int]] = []
    while True:
        now = time.perf_counter() - started
        readings.append((now, memory_kib(pid)[1]))
        recent = [kib for at, kib in readings if at >= now - window]
        if (now >= window and max(recent) - min(recent) < tolerance_kib) or now >= timeout:
            return readings[-1][1], now
        time.sleep(1.0)


def released_rss(pid: int, *, seconds: float) -> list[tuple[float, int]]:
    """``VmRSS`` (KiB) once a second for ``seconds``: the server left alone after the visitor has gone."""
    started = time.perf_counter()
    readings = []
    while (now := time.perf_counter() - started) <= seconds:
        readings.append((now, memory_kib(pid)[1]))
        time.sleep(1.0)
    return readings


@contextmanager
def session_ttl(seconds: int) -> Iterator[None]:
    """Start servers in this block with ``server.disconnectedSessionTTL = seconds`` (through its environment variable).

    The harness passes this process's environment to ``streamlit run``, whose command line reads
    every ``server.*`` option from ``STREAMLIT_SERVER_*`` variables.
    """
    before = os.environ.get(TTL_ENV)
    os.environ[TTL_ENV] = str(seconds)
    try:
        yield
    finally:
        if before is None:
            del os.environ[TTL_ENV]
        else:
            os.environ[TTL_ENV] = before


# --------------------------------------------------------------------------- the visit


def caption(title: str) -> re.Pattern[str]:
    """The caption under a method's overlay: ``"Grad-CAM (Fake)"`` (never matching ``"Grad-CAM++ (Fake)"``)."""
    return re.compile(rf"^{re.escape(title)} \(")


def open_explain(page: Page, url: str, *, timeout_ms: float) -> None:
    """Go to the Explain page by its address and wait for its uploader (the model is loaded by then)."""
    page.goto(f"{url}/explain")
    expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached(timeout=timeout_ms)
    wait_idle(page, timeout_ms=timeout_ms)


def upload_photo(page: Page, photo: Path, *, timeout_ms: float) -> float:
    """Upload ``photo``; return the seconds until its face is found and the method choice is shown."""
    started = time.perf_counter()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": photo.name, "mimeType": "image/jpeg", "buffer": photo.read_bytes()}]
    )
    expect(page.get_by_text(re.compile(r"faces? found; explaining face"))).to_be_visible(timeout=timeout_ms)
    expect(methods_choice(page)).to_be_visible(timeout=timeout_ms)
    wait_idle(page, timeout_ms=timeout_ms)
    return time.perf_counter() - started


def methods_choice(page: Page) -> Locator:
    return page.get_by_test_id("stMultiSelect").filter(has_text="Methods")


def choose_every_method(page: Page, *, timeout_ms: float) -> list[str]:
    """Add every method the "Methods" drop-down still offers; returns the titles chosen, in the page's order."""
    choice = methods_choice(page)
    for _ in METHOD_TITLES:
        choice.get_by_role("combobox").click()
        offered = page.get_by_role("option")
        if not appears(offered.first, timeout_ms=3000):
            break
        title = offered.first.inner_text().strip()
        if title not in METHOD_TITLES:  # "No results" or the like: every method is chosen
            break
        offered.first.click()
        page.keyboard.press("Escape")  # while the drop-down is open the rest of the page is hidden from roles
        expect(tag(choice, title)).to_be_attached(timeout=timeout_ms)
        wait_idle(page, timeout_ms=timeout_ms)
    page.keyboard.press("Escape")
    return [chosen.get_attribute("aria-label") or "" for chosen in choice.locator("[data-tag]").all()]


def tag(choice: Locator, title: str) -> Locator:
    """The tag of the chosen option ``title`` in a multiselect."""
    return choice.locator(f'[data-tag][aria-label="{title}"]')


def appears(locator: Locator, *, timeout_ms: float) -> bool:
    """Whether ``locator`` is shown within ``timeout_ms``."""
    try:
        locator.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


@dataclass(frozen=True)
class MethodResult:
    """One method's result as the visitor sees it."""

    title: str
    shown_s: float
    """Seconds from pressing Explain until its overlay was visible in the browser."""
    computed_s: float | None
    """The seconds the page states under the overlay (the explainer's own time)."""


def explain_every_method(page: Page, titles: list[str], *, timeout_ms: float) -> list[MethodResult]:
    """Press Explain and poll each method's overlay caption until all are shown; read their stated times."""
    page.get_by_role("button", name=re.compile(r"Explain$")).click()
    started = time.perf_counter()
    shown: dict[str, float] = {}
    deadline = started + timeout_ms / 1000
    while len(shown) < len(titles):
        if time.perf_counter() > deadline:
            missing = sorted(set(titles) - set(shown))
            raise TimeoutError(f"no result for {missing} within {timeout_ms / 1000:.0f} s")
        for title in titles:
            if title not in shown and page.get_by_text(caption(title)).is_visible():
                shown[title] = time.perf_counter() - started
        page.wait_for_timeout(100)
    wait_idle(page, timeout_ms=timeout_ms)
    return [MethodResult(title, shown[title], stated_seconds(page, title)) for title in titles]


def stated_seconds(page: Page, title: str) -> float | None:
    """The time the page prints under ``title``'s overlay (``"... (0.12 s)"``), if it is there."""
    column = page.get_by_test_id("stColumn").filter(has=page.get_by_text(caption(title)))
    found = re.search(r"\((\d+(?:\.\d+)?) s\)", column.first.inner_text())
    return float(found.group(1)) if found else None


def step_opacity(page: Page, *, timeout_ms: float) -> float:
    """One step of the "Overlay opacity" slider (arrow key); seconds until the overlays are redrawn and the run over.

    The slider moves in the browser at once; the overlays are new pictures (new media addresses)
    only once the server's rerun drew them.
    """
    slider = page.get_by_test_id("stSlider").filter(has_text="Overlay opacity").locator("input[type=range]")
    before = page.locator(_PICTURES).evaluate_all("pictures => pictures.map(picture => picture.src)")
    slider.focus()
    started = time.perf_counter()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"before => [...document.querySelectorAll('{_PICTURES}')].map(picture => picture.src).join() !== before.join()"
        f" && {IDLE}",
        arg=before,
        polling="raf",
        timeout=timeout_ms,
    )
    return time.perf_counter() - started


def show_on_photo(page: Page, titles: list[str], *, timeout_ms: float) -> float:
    """Tick "Show on the photo"; seconds until every method's overlay is shown on the photo."""
    started = time.perf_counter()
    page.get_by_test_id("stCheckbox").filter(has_text="Show on the photo").locator("label").click()
    for title in titles:
        expect(page.get_by_text(f"{title} on the photo (face", exact=False).first).to_be_visible(timeout=timeout_ms)
    wait_idle(page, timeout_ms=timeout_ms)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- the run and its report


@dataclass
class Visit:
    """Everything the report prints (memory in KiB, times in seconds)."""

    idle_kib: int = 0
    idle_model_kib: int = 0
    face_s: float = 0.0
    titles: list[str] = field(default_factory=list)
    results: list[MethodResult] = field(default_factory=list)
    opacity_s: float = 0.0
    on_photo_s: float = 0.0
    shown_kib: int = 0
    hwm_kib: int = 0
    after: list[tuple[float, int]] = field(default_factory=list)


def check_no_exception(page: Page) -> None:
    """An exception box on the page is a failure even if every result appeared."""
    shown = page.get_by_test_id("stException").count()
    if shown:
        raise RuntimeError(f"the page shows {shown} exception(s)")


def measure_idle(page: Page, url: str, seen: Visit, sampler: MemorySampler, *, timeout_ms: float) -> None:
    """Home, then Explain with nothing uploaded (the model gets loaded): the settled memory after each."""
    sampler.mark("Home")
    page.goto(url)
    expect(page.get_by_role("heading", name="deepfake-lens")).to_be_visible(timeout=timeout_ms)
    wait_idle(page, timeout_ms=timeout_ms)
    seen.idle_kib = settled_rss(sampler.pid)[0]
    sampler.mark("Explain, nothing uploaded (model load)")
    open_explain(page, url, timeout_ms=timeout_ms)
    seen.idle_model_kib = settled_rss(sampler.pid)[0]


def explain_photo(page: Page, photo: Path, seen: Visit, sampler: MemorySampler, *, timeout_ms: float) -> None:
    """Upload, every method, Explain, one opacity step, "Show on the photo"; the settled memory at the end."""
    sampler.mark("upload -> face found")
    seen.face_s = upload_photo(page, photo, timeout_ms=timeout_ms)
    sampler.mark("choose every method")
    seen.titles = choose_every_method(page, timeout_ms=timeout_ms)
    sampler.mark("Explain pressed -> every result shown")
    seen.results = explain_every_method(page, seen.titles, timeout_ms=timeout_ms)
    sampler.mark("opacity step")
    seen.opacity_s = step_opacity(page, timeout_ms=timeout_ms)
    sampler.mark("show on the photo")
    seen.on_photo_s = show_on_photo(page, seen.titles, timeout_ms=timeout_ms)
    check_no_exception(page)
    seen.shown_kib = settled_rss(sampler.pid)[0]


def visit(url: str, photo: Path, sampler: MemorySampler, *, timeout_ms: float, settle: float) -> Visit:
    """One visitor's whole session (see the module's docstring), then the server left alone for ``settle`` s."""
    seen = Visit()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            measure_idle(page, url, seen, sampler, timeout_ms=timeout_ms)
            explain_photo(page, photo, seen, sampler, timeout_ms=timeout_ms)
            sampler.mark("session closed, server left alone")
            context.close()  # the websocket disconnects: Streamlit stores the session for its TTL
        finally:
            browser.close()
    seen.after = released_rss(sampler.pid, seconds=settle)
    seen.hwm_kib = memory_kib(sampler.pid)[0]
    return seen


def _mb(kib: float) -> str:
    return f"{kib / 1024:6.0f} MB"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISSED"


def report_visit(photo: Path, seen: Visit, *, model_dir: Path) -> None:
    """The photo and the visitor's waits."""
    with Image.open(photo) as image:
        width, height = image.size
    size = photo.stat().st_size
    print(f"model folder              {model_dir}")
    decoded_mib = width * height * 3 / 2**20
    print(
        f"photo                     {width} x {height} px = {width * height / 1e6:.1f} MP, JPEG q{JPEG_QUALITY}, "
        f"{size / 1e6:.1f} MB ({size / 2**20:.1f} MiB); decoded as RGB uint8: {decoded_mib:.0f} MiB"
    )
    print("one visitor on Explain (seconds in the browser; the page shows every result once the last is computed)")
    print(f"  upload -> face found and methods shown   {seen.face_s:7.2f} s")
    for result in seen.results:
        stated = "" if result.computed_s is None else f"(the page says {result.computed_s:.2f} s to compute it)"
        print(f"  Explain -> {result.title + ' shown':<28}  {result.shown_s:7.2f} s  {stated}")
    print(f"  one opacity step -> redrawn              {seen.opacity_s:7.2f} s")
    print(f"  'Show on the photo' -> all drawn         {seen.on_photo_s:7.2f} s")


def report_peak(seen: Visit, sampler: MemorySampler) -> bool:
    """The memory at rest and at peak, step by step; whether the peak is within the budget."""
    base = seen.idle_model_kib
    print(f"server memory (VmRSS of the process and its children, sampled every {sampler.every} s)")
    print(f"  idle, Home shown                     {_mb(seen.idle_kib)}")
    print(f"  idle, model loaded (the baseline)    {_mb(base)}  (+{(base - seen.idle_kib) / 1024:.0f} MB: the model)")
    steps = [what for _, what in sampler.marks]
    for first, last in zip(steps[2:], [*steps[3:], None], strict=True):
        top = sampler.peak_between(first, last)
        print(f"  peak during {first:<40} {'(no sample: too short)' if top is None else _mb(top)}")
    print(f"  every result shown, settled          {_mb(seen.shown_kib)}  ({seen.shown_kib / base:.2f}x baseline)")
    peak_kib, step = sampler.peak()
    print(f"  peak, sampled                        {_mb(peak_kib)}  ({peak_kib / base:.2f}x baseline; during '{step}')")
    print(f"  peak, VmHWM                          {_mb(seen.hwm_kib)}  ({seen.hwm_kib / base:.2f}x baseline)")
    peak_mb = max(peak_kib, seen.hwm_kib) / 1024
    ok = peak_mb <= MEMORY_BUDGET_MB
    print(f"{_verdict(ok)}: peak {peak_mb:.0f} MB (VmHWM) against the {MEMORY_BUDGET_MB} MB budget")
    return ok


def report_release(seen: Visit, *, ttl: int) -> bool:
    """The memory after the session ended; whether it came back to within the budget of the baseline."""
    base = seen.idle_model_kib
    print(f"after the session ended (browser closed; disconnectedSessionTTL {ttl} s; nothing called in the server)")
    last_at, last_kib = seen.after[-1]
    for at, kib in seen.after:
        if at < 1 or round(at) % 15 == 0 or at == last_at:
            print(f"  +{at:4.0f} s  {_mb(kib)}  ({(kib - base) / 1024:+5.0f} MB vs baseline)")
    above = (last_kib - base) / 1024
    print(
        f"  settled    {_mb(last_kib)}  ({above:+.0f} MB vs idle with the model loaded, "
        f"{(last_kib - seen.idle_kib) / 1024:+.0f} MB vs idle on Home, {last_kib / base:.2f}x baseline)"
    )
    ok = above <= RELEASE_BUDGET_MB
    print(f"{_verdict(ok)}: {above:+.0f} MB above idle (model loaded) after the session; budget {RELEASE_BUDGET_MB} MB")
    return ok


def run(model_dir: Path, *, megapixels: float, turned: bool, timeout_s: float, ttl: int, settle: float) -> int:
    """Draw the photo, run the visit against a fresh server, print; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="deepfake-lens-explain-") as folder:
        photo = phone_photo(megapixels, Path(folder), turned=turned)
        if photo.stat().st_size > upload_limit_mb() * 2**20:
            raise SystemExit(
                f"{photo.name} is over the uploader's {upload_limit_mb():.0f} MB: it would never be explained"
            )
        log = Path(folder) / "streamlit.log"
        with (
            session_ttl(ttl),
            dashboard_server(model_dir, log=log) as server,
            MemorySampler(server.process.pid) as sampler,
        ):
            seen = visit(server.url, photo, sampler, timeout_ms=timeout_s * 1000, settle=settle)
        report_visit(photo, seen, model_dir=model_dir)
        peak_ok = report_peak(seen, sampler)
        released_ok = report_release(seen, ttl=ttl)
        return 0 if peak_ok and released_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model", help="folder with NAME.keras + card")
    parser.add_argument("--megapixels", type=float, default=40.0, help="photo size, at most 40 (the intake limit)")
    parser.add_argument(
        "--turned", action="store_true", help="store the photo turned, with EXIF orientation 6 (a phone's portrait)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for any one step")
    parser.add_argument("--session-ttl", type=int, default=10, help="server.disconnectedSessionTTL, seconds")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds to watch the memory after the session")
    args = parser.parse_args(argv)
    check_prerequisites(parser, args.model_dir)
    if not 0 < args.megapixels * 1e6 <= MAX_PIXELS:
        parser.error(f"--megapixels must be in (0, {MAX_PIXELS / 1e6:.0f}]: the app refuses larger photos")
    return run(
        args.model_dir.resolve(),
        megapixels=args.megapixels,
        turned=args.turned,
        timeout_s=args.timeout,
        ttl=args.session_ttl,
        settle=args.settle,
    )


if __name__ == "__main__":
    sys.exit(main())
