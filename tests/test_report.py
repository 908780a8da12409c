"""``deepfake_core.report``: the probability wording, the triage order, the flags and the HTML report.

Rows are written by hand as the Classify page and the command line make them; pictures are drawn
with numpy; the card is the tiny test model's (``conftest.tiny_card``).
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import explanation_of, tiny_card
from PIL import Image

from deepfake_core.familiarity import UNFAMILIAR_NOTE
from deepfake_core.report import (
    REPORT_CSP,
    TERMS,
    ExplainedFace,
    build_report,
    fake_first,
    image_data_uri,
    is_fake,
    row_flags,
    verdict_summary,
)
from deepfake_core.wording import format_probability

CREATED = datetime(2026, 5, 4, 12, 30, 0, tzinfo=timezone.utc)
HOSTILE = '<script>alert("x")</script>&.png'


def row(file: str, p_fake: float | None, *, face: int | None = None, threshold: float = 0.5, **extra) -> dict:
    """One result row as the Classify page makes it (``p_fake=None``: a row without a verdict)."""
    judged = p_fake is not None
    return {
        "file": file,
        "sha256": f"{abs(hash(file)) % 10**8:064d}",
        "face": face,
        "verdict": ("Fake" if p_fake >= threshold else "Real") if judged else None,
        "p_fake": p_fake,
        "confidence": (p_fake if p_fake >= threshold else 1 - p_fake) if judged else None,
        "unfamiliar": False if judged else None,
        "threshold": threshold if judged else None,
        "model_id": "default-test",
        "error": None if judged else "no face found: this model judges faces, and none was found in the picture.",
        **extra,
    }


def picture(height: int = 40, width: int = 30, *, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class Page(HTMLParser):
    """A parsed report: its tags, every address an attribute names, the images and the table cells."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.addresses: list[str] = []
        self.images: list[str] = []
        self.meta: list[dict[str, str | None]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "meta":
            self.meta.append(found)
        for name in ("src", "href", "srcset", "action", "data", "poster", "background"):
            if found.get(name) is not None:
                self.addresses.append(found[name])
        if tag == "img":
            self.images.append(found["src"])


def decoded(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


# --------------------------------------------------------------------------- wording and order


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "<0.1%"),
        (0.00099, "<0.1%"),
        (0.001, "0.1%"),
        (0.1234, "12.3%"),
        (0.5, "50.0%"),
        (0.999, "99.9%"),
        (0.99901, ">99.9%"),
        (1.0, ">99.9%"),
    ],
)
def test_a_probability_never_reads_as_certain(value: float, text: str) -> None:
    assert format_probability(value) == text


def test_the_pages_the_report_and_the_explanation_pictures_word_probabilities_with_one_function() -> None:
    from deepfake_core import report
    from deepfake_core.explain import base, sheet
    from pages import formatting

    assert formatting.format_probability is format_probability
    assert report.format_probability is base.format_probability is sheet.format_probability is format_probability


def test_fake_first_orders_fake_then_real_by_falling_p_then_rows_without_a_verdict() -> None:
    rows = [
        row("real-low", 0.1),
        row("no-face", None),
        row("fake-mid", 0.7),
        row("real-high", 0.45),
        row("fake-top", 0.95),
        row("fake-at-threshold", 0.5),
        row("unjudged", None),
    ]
    order = [item["file"] for item in fake_first(rows)]
    assert order == ["fake-top", "fake-mid", "fake-at-threshold", "real-high", "real-low", "no-face", "unjudged"]
    assert rows[0]["file"] == "real-low"  # the input is left as it was


def test_a_verdict_follows_the_rows_threshold_not_its_label() -> None:
    assert is_fake(row("a", 0.3, threshold=0.2)) is True
    assert is_fake(row("b", 0.3, threshold=0.4)) is False
    assert is_fake(row("c", None)) is None


def test_flags_name_the_unfamiliar_face_or_why_there_is_no_verdict() -> None:
    assert row_flags(row("plain", 0.7)) == ""
    assert row_flags(row("odd", 0.7, unfamiliar=True)) == UNFAMILIAR_NOTE
    assert row_flags(row("cat", None)).startswith("no face found")


def test_an_images_outcome_in_a_few_words() -> None:
    group = [row("g", 0.9, face=1), row("g", 0.2, face=2), row("g", 0.8, face=3)]
    assert verdict_summary(group) == "3 faces: 2 Fake, 1 Real"
    small = {**row("s", None, face=1), "error": "face 1 is 20 px across, under the 40 px this model judges."}
    assert verdict_summary([small]) == "1 face: 1 not judged"
    assert verdict_summary([row("whole", 0.3)]) == "Real"
    assert verdict_summary([row("cat", None)]) == "no face found"


def test_an_image_becomes_a_shrunk_jpeg_data_uri() -> None:
    uri = image_data_uri(picture(200, 100), max_side=50)
    assert decoded(uri).shape == (50, 25, 3)
    assert decoded(image_data_uri(picture(20, 10))).shape == (20, 10, 3)  # never enlarged


# --------------------------------------------------------------------------- the report


@pytest.fixture
def report() -> str:
    rows = [
        row("real.png", 0.2),
        row("group.png", 0.6, face=2),
        row("group.png", 0.999995, face=1, unfamiliar=True),
        row(HOSTILE, None),
    ]
    sha = {item["file"]: item["sha256"] for item in rows}
    explanation = explanation_of(
        np.ones((16, 16)), verdict={"label": "Fake", "p_fake": 0.999995, "probabilities": {"Fake": 0.999995}}
    )
    card = tiny_card(
        description="<b>tiny</b> & random",
        limitations=("It knows only <em>two</em> generators.",),
        licences=("CelebA: non-commercial",),
    )
    return build_report(
        rows,
        card=card,
        created=CREATED,
        thumbnails={(sha["real.png"], None): picture(seed=1), (sha["group.png"], 1): picture(seed=2)},
        pictures={sha["group.png"]: picture(300, 400, seed=3)},
        explanations=[ExplainedFace("group.png", 1, "Grad-CAM", explanation, picture(16, 16, seed=4))],
    )


def test_the_report_is_one_file_that_fetches_and_runs_nothing(report: str) -> None:
    page = Page(report)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert page.addresses and all(address.startswith("data:image/jpeg;base64,") for address in page.addresses)
    assert {"http-equiv": "Content-Security-Policy", "content": REPORT_CSP} in page.meta
    assert "http://" not in report and "https://" not in report and "url(" not in report


def test_every_user_string_in_the_report_is_escaped(report: str) -> None:
    assert HOSTILE not in report and "<script>" not in report
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.png" in report
    assert "&lt;b&gt;tiny&lt;/b&gt; &amp; random" in report  # the card's text too
    assert "It knows only &lt;em&gt;two&lt;/em&gt; generators." in report


def test_the_report_lists_fake_first_with_worded_probabilities_and_flags(report: str) -> None:
    cells = re.findall(
        r"<tr><td>(?:<img [^>]*>)?</td><td>([^<]*)</td><td>(\d*)</td><td><span class=\"badge (\w+)\"", report
    )
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.png"
    assert cells == [
        ("group.png", "1", "unsure"),
        ("group.png", "2", "fake"),
        ("real.png", "", "real"),
        (escaped, "", "none"),
    ]
    assert "<td>&gt;99.9%</td>" in report and "<td>60.0%</td>" in report and "<td>80.0%</td>" in report
    assert f"<td>{UNFAMILIAR_NOTE}</td>" in report and "<td>no face found: this model judges faces" in report
    assert "<b>3</b> files, <b>3</b> verdicts: <b>2</b> Fake, <b>1</b> Real; <b>1</b> unlike" in report


def test_the_report_embeds_thumbnails_photos_and_overlays(report: str) -> None:
    images = Page(report).images
    assert len(images) == 2 + 1 + 1  # two rows' thumbnails, the group photo, the overlay
    assert decoded(images[0]).shape == (40, 30, 3)  # a thumbnail keeps its size under the report's limit
    assert max(decoded(images[2]).shape[:2]) == 384  # the photo is shrunk to the report's side
    assert "group.png: 2 faces: 2 Fake" in report


def test_the_report_names_the_explanations_the_model_and_the_date(report: str) -> None:
    assert "<b>Grad-CAM</b> of the class <b>Fake</b> on group.png, face 1" in report
    assert "verdict Fake, P(fake) &gt;99.9%" in report
    assert "within 0.001 of 1" in report  # the saturation caveat travels with the map
    assert "default-test" in report and "2026-05-04T12:30:00+00:00" in report
    assert "threshold 0.50 (the model card's: 0.50)" in report
    assert "<dt>Mirror averaging</dt><dd>no</dd>" in report  # the card's contract, this card without it
    assert "<dt>Compression</dt><dd>none</dd>" in report
    assert all(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(meaning)}</dd>" in report for term, meaning in TERMS.items()
    )
