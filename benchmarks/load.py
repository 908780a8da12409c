"""Many visitors at once on the real dashboard: no errors, the single-visitor answer for everyone, bounded memory.

Starts ``streamlit run streamlit_app.py`` on 127.0.0.1 (a free port unless ``--port`` is given)
against a model folder, then drives the system's headless Chromium with Playwright's async API:
one browser, one context per simulated visitor, all at the same time.

1. **baseline**: one visitor alone classifies every test image once and explains one with the
   attention mask. This also warms the server up (model loaded, functions traced).
2. **load**: ``--sessions`` visitors at once share ``--total-classifications`` classifications.
   Each one opens the Classify page, uploads ``--images-per-session`` images one by one (each
   upload is classified as it arrives), opens the page anew for the next batch (a new Streamlit
   session, as a returning visitor), and runs one attention explanation on the Explain page after
   its first batch. Neighbouring visitors share all but one of their images, so identical uploads
   arrive from different sessions at once.

The images are drawn here (seeded, half PNG, half JPEG); nothing is downloaded from outside. The
script fails (exit status 1) unless: no session saw an error or a timeout; for every image, the
verdict line each session read ("P(fake) ... · confidence ... · threshold ...") and the P(fake) in
the page's JSON download (full precision) equal the baseline's; and the server's resident memory
(``VmRSS`` of its process) grew by less than ``--max-growth-mb`` during the load.
Every wait is bounded by ``--timeout`` and the whole run by ``--time-limit``; the server is always
stopped.

Usage::

    python benchmarks/load.py                                   # model/ (needs default.keras + card)
    python benchmarks/load.py --model-dir /tmp/model --sessions 2 --total-classifications 12
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.data

# benchmarks/ is a folder of scripts: the dashboard harness is shared with benchmarks/app.py and the browser test.
from app import CHROMIUM, CHROMIUM_ARGS, DashboardServer, dashboard_server, log_tail
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1280, "height": 900}
VERDICT_LINE = re.compile(r"^P\(fake\) ")
"""The Classify page's line under each verdict: P(fake), calibrated confidence and threshold, as shown."""
ATTENTION_CAPTION = re.compile(r"^Attention mask \(")
SCRIPT_IDLE = "() => !document.querySelector('[data-testid=stStatusWidget], [data-stale=true]')"
"""True once the page's script run is over and nothing on the page is left over from an earlier run."""


# --------------------------------------------------------------------------- test images


@dataclass(frozen=True)
class Upload:
    """One test image as a browser uploads it."""

    name: str
    data: bytes
    mime: str

    @property
    def sha256(self) -> str:
        """The hash the Classify page prints under the verdict, used to find this image's result."""
        return hashlib.sha256(self.data).hexdigest()


def make_uploads(count: int) -> list[Upload]:
    """``count`` different pictures of a real face (scikit-image's astronaut), PNG and JPEG in turn.

    Each is a different seeded crop around the face with its own brightness, so every upload has
    its own hash and result; the shipped model judges faces, so the pictures must hold one.
    """
    photo = skimage.data.astronaut()
    uploads = []
    for index in range(count):
        rng = np.random.default_rng(index)
        top, left = (int(value) for value in rng.integers(0, 48, 2))
        side = 256 + 32 * (index % 3)
        crop = photo[top : top + side, 100 + left : 100 + left + side].astype(np.float32)
        crop = np.clip(crop * rng.uniform(0.85, 1.15), 0, 255).astype(np.uint8)
        picture = Image.fromarray(crop)
        buffer = io.BytesIO()
        if index % 2:
            picture.save(buffer, format="JPEG", quality=90)
            uploads.append(Upload(f"face-{index:02d}.jpg", buffer.getvalue(), "image/jpeg"))
        else:
            picture.save(buffer, format="PNG")
            uploads.append(Upload(f"face-{index:02d}.png", buffer.getvalue(), "image/png"))
    return uploads


# --------------------------------------------------------------------------- the server


def memory_mb(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of process ``pid`` in MB: resident memory now and its peak so far."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rss, peak = (int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))
    return rss, peak


# --------------------------------------------------------------------------- one visitor


@dataclass(frozen=True)
class Reading:
    """What a visitor read under one verdict, and how long the upload took to get there."""

    image: str
    line: str
    seconds: float


@dataclass
class Visitor:
    """One simulated visitor's plan (uploads per page visit) and what happened: verdict lines, explanations, errors."""

    name: str
    batches: list[list[Upload]]
    readings: list[Reading] = field(default_factory=list)
    downloaded: list[tuple[str, float]] = field(default_factory=list)
    """(image, P(fake)) from the page's JSON download, at full precision."""
    explanations: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def classify(page: Page, upload: Upload, timeout_ms: float) -> Reading:
    """Upload one image on the open Classify page and read the verdict line of its result."""
    started = time.perf_counter()
    await page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": upload.name, "mimeType": upload.mime, "buffer": upload.data}]
    )
    # The result for this image is the column that prints its sha256; the verdict line sits beside it.
    result = page.get_by_test_id("stColumn").filter(has=page.get_by_text(upload.sha256))
    line = result.get_by_text(VERDICT_LINE)
    await expect(line).to_be_visible(timeout=timeout_ms)
    seconds = time.perf_counter() - started
    return Reading(upload.name, (await line.inner_text()).strip(), seconds)


async def download_probabilities(page: Page, timeout_ms: float) -> list[tuple[str, float]]:
    """Every result's (file name, P(fake)) from the Classify page's "Download JSON" button, at full precision.

    The verdict line rounds to 0.1 % (and says ">99.9%" near certainty), so this is the exact comparison.
    The button is clicked only once the run is over: a button from an earlier run points to a file
    the server has already dropped.
    """
    await page.wait_for_function(SCRIPT_IDLE, timeout=timeout_ms)
    async with page.expect_download(timeout=timeout_ms) as waiting:
        await page.get_by_role("button", name="Download JSON").click(timeout=timeout_ms)
    download = await waiting.value
    rows = json.loads(Path(await download.path()).read_text(encoding="utf-8"))
    return [(row["file"], row["p_fake"]) for row in rows]


async def explain_attention(page: Page, timeout_ms: float) -> float:
    """Open Explain from the sidebar, keep only the attention mask for the first classified image and compute it."""
    started = time.perf_counter()
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Explain").click()
    heading = page.get_by_test_id("stMainBlockContainer").get_by_role("heading", level=1, name="Explain", exact=True)
    await expect(heading).to_be_visible(timeout=timeout_ms)
    await expect(page.get_by_text("An image from the Classify page")).to_be_visible(timeout=timeout_ms)
    for method in ("Grad-CAM", "LIME"):
        remove = page.get_by_role("button", name=f"Remove {method}")
        await remove.click(timeout=timeout_ms)
        await expect(remove).to_have_count(0, timeout=timeout_ms)
    await page.get_by_role("button", name=re.compile(r"Explain$")).click(timeout=timeout_ms)
    await expect(page.get_by_text(ATTENTION_CAPTION)).to_be_visible(timeout=timeout_ms)
    return time.perf_counter() - started


async def check_no_exception(page: Page) -> None:
    """An exception box on the page is an error even if the expected text appeared."""
    shown = await page.get_by_test_id("stException").count()
    if shown:
        raise RuntimeError(f"the page shows {shown} exception(s)")


async def visit(browser: Browser, url: str, visitor: Visitor, *, timeout_ms: float, deadline: float) -> None:
    """Run ``visitor``'s plan in its own browser context; the first error ends this visitor's run and is recorded."""
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        for number, batch in enumerate(visitor.batches):
            await page.goto(f"{url}/classify", timeout=timeout_ms)  # a new Streamlit session each time
            await expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached(timeout=timeout_ms)
            for upload in batch:
                if time.monotonic() > deadline:
                    raise TimeoutError("the run's --time-limit was reached")
                visitor.readings.append(await classify(page, upload, timeout_ms))
                await check_no_exception(page)
            visitor.downloaded += await download_probabilities(page, timeout_ms)
            if number == 0:
                visitor.explanations.append(await explain_attention(page, timeout_ms))
                await check_no_exception(page)
    except (AssertionError, PlaywrightError, TimeoutError, RuntimeError) as error:  # expect() raises AssertionError
        visitor.errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    finally:
        await context.close()


def plan(uploads: Sequence[Upload], count: int, per_batch: int) -> list[list[Upload]]:
    """``count`` uploads cycling through ``uploads``, cut into batches of ``per_batch`` (one page visit each)."""
    sequence = [uploads[index % len(uploads)] for index in range(count)]
    return [sequence[start : start + per_batch] for start in range(0, count, per_batch)]


# --------------------------------------------------------------------------- the run and its report


@dataclass
class Outcome:
    """Everything the summary reports."""

    baseline: Visitor
    visitors: list[Visitor]
    memory: dict[str, tuple[float, float]]
    planned: int


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def drive(server: DashboardServer, args: argparse.Namespace, uploads: list[Upload]) -> Outcome:
    """Baseline visitor first, then all visitors at once; server memory read before, between and after."""
    timeout_ms = args.timeout * 1000
    deadline = time.monotonic() + args.time_limit
    pid = server.process.pid
    memory = {"before (idle)": memory_mb(pid)}
    share, extra = divmod(args.total_classifications, args.sessions)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            baseline = Visitor("baseline", plan(uploads, len(uploads), args.images_per_session))
            await visit(browser, server.url, baseline, timeout_ms=timeout_ms, deadline=deadline)
            memory["after warm-up"] = memory_mb(pid)
            # Visitor i uploads images i .. i + images-per-session - 1: neighbours share all but one of them.
            own_images = (uploads[index : index + args.images_per_session] for index in range(args.sessions))
            visitors = [
                Visitor(f"session {index + 1}", plan(images, share + (index < extra), args.images_per_session))
                for index, images in enumerate(own_images)
            ]
            await asyncio.gather(
                *(visit(browser, server.url, visitor, timeout_ms=timeout_ms, deadline=deadline) for visitor in visitors)
            )
        finally:
            await browser.close()
    await asyncio.sleep(2)  # let the server drop the closed sessions before the last reading
    memory["after load"] = memory_mb(pid)
    return Outcome(baseline, visitors, memory, args.total_classifications)


def report(outcome: Outcome, args: argparse.Namespace, *, model_dir: Path, url: str) -> bool:
    """Print the summary table; True when every check passes."""
    expected = {reading.image: reading.line for reading in outcome.baseline.readings}
    readings = [reading for visitor in outcome.visitors for reading in visitor.readings]
    exact = dict(outcome.baseline.downloaded)
    downloaded = [pair for visitor in outcome.visitors for pair in visitor.downloaded]
    different = [(image, p_fake) for image, p_fake in downloaded if exact.get(image) != p_fake]
    errors = [
        f"{visitor.name}: {error}" for visitor in (outcome.baseline, *outcome.visitors) for error in visitor.errors
    ]
    mismatches = [reading for reading in readings if expected.get(reading.image) != reading.line]
    explanations = [seconds for visitor in outcome.visitors for seconds in visitor.explanations]
    growth = outcome.memory["after load"][0] - outcome.memory["after warm-up"][0]
    checks = {
        "errors": not errors,
        "classified": len(readings) == outcome.planned,
        "explained": len(explanations) == len(outcome.visitors),
        "same lines": bool(readings) and not mismatches,
        "same P(fake)": len(downloaded) == len(readings) > 0 and not different,
        "memory": growth < args.max_growth_mb,
    }

    def timing(values: Sequence[float]) -> str:
        if not values:
            return "-"
        return f"p50 {percentile(values, 0.5):.2f} s · p95 {percentile(values, 0.95):.2f} s · n={len(values)}"

    def verdict(passed: bool) -> str:
        return "PASS" if passed else "FAIL"

    rows = [
        ("server", url, ""),
        ("model folder", str(model_dir), ""),
        (
            "plan",
            f"{args.sessions} sessions at once, {args.total_classifications} classifications "
            f"({args.images_per_session} per page visit) + 1 attention explanation each",
            "",
        ),
        ("errors", str(len(errors)), f"{verdict(checks['errors'])} (must be 0)"),
        ("classifications done", f"{len(readings)} of {outcome.planned}", verdict(checks["classified"])),
        ("explanations done", f"{len(explanations)} of {len(outcome.visitors)}", verdict(checks["explained"])),
        (
            "same verdict line as baseline",
            f"{len(readings) - len(mismatches)} of {len(readings)} ({len(expected)} distinct images)",
            verdict(checks["same lines"]),
        ),
        (
            "same P(fake) as baseline, exactly",
            f"{len(downloaded) - len(different)} of {len(downloaded)} (from the JSON download)",
            verdict(checks["same P(fake)"]),
        ),
        ("time to verdict, alone", timing([reading.seconds for reading in outcome.baseline.readings]), ""),
        ("time to verdict, under load", timing([reading.seconds for reading in readings]), ""),
        ("attention explanation, alone", timing(outcome.baseline.explanations), ""),
        ("attention explanation, under load", timing(explanations), ""),
        *(
            (f"server RSS {moment}", f"{rss:.0f} MB (peak so far {peak:.0f} MB)", "")
            for moment, (rss, peak) in outcome.memory.items()
        ),
        (
            "RSS growth during the load",
            f"{growth:+.0f} MB",
            f"{verdict(checks['memory'])} (< {args.max_growth_mb:.0f} MB)",
        ),
    ]
    width = max(len(label) for label, _, _ in rows)
    print()
    for label, value, check in rows:
        print(f"{label:<{width}}  {value}" + (f"  [{check}]" if check else ""))
    for line in errors[:10]:
        print(f"  error: {line}")
    for reading in mismatches[:10]:
        print(f"  differs: {reading.image}: {reading.line!r} vs baseline {expected.get(reading.image)!r}")
    for image, p_fake in different[:10]:
        print(f"  differs: {image}: P(fake) {p_fake!r} vs baseline {exact.get(image)!r}")
    passed = all(checks.values())
    print(f"\nresult: {'PASS' if passed else 'FAIL'}")
    return passed


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="visitors at the same time")
    parser.add_argument("--images-per-session", type=int, default=5, help="uploads per page visit")
    parser.add_argument("--total-classifications", type=int, default=200, help="shared by all visitors")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model", help="folder with default.keras + card")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any one step")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--max-growth-mb", type=float, default=150.0, help="allowed RSS growth after warm-up")
    args = parser.parse_args(argv)
    if min(args.sessions, args.images_per_session, args.total_classifications) < 1:
        parser.error("--sessions, --images-per-session and --total-classifications must be at least 1")
    card = args.model_dir / "default.card.json"
    if not (args.model_dir / "default.keras").is_file() or not card.is_file():
        parser.error(
            f"no default.keras + default.card.json in {args.model_dir}: train the model, or pass --model-dir "
            "(e.g. a folder made with tests/conftest.py's save_tiny_model)"
        )
    if not json.loads(card.read_text(encoding="utf-8")).get("attention"):
        parser.error(f"the default model in {args.model_dir} has no attention mask to explain")
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing: install Debian's chromium package")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    model_dir = args.model_dir.resolve()
    uploads = make_uploads(args.images_per_session + args.sessions - 1)
    with tempfile.TemporaryDirectory(prefix="deepfake-lens-load-") as scratch:
        log = Path(scratch) / "streamlit.log"
        with dashboard_server(model_dir, port=args.port, log=log, startup_timeout=args.timeout) as server:
            outcome = asyncio.run(drive(server, args, uploads))
            passed = report(outcome, args, model_dir=model_dir, url=server.url)
            if not passed:
                print(f"\nlast lines of the server log:\n{log_tail(log)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
