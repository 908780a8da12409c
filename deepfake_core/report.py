"""What a batch of verdicts tells a reader: one wording of probabilities, Fake first, and an HTML report.

The Classify page's table and cards, the Explain page and the downloadable report all write a
probability with :func:`format_probability` and list results with :func:`fake_first`, so an
analyst reads the same numbers in the same order wherever they look. :func:`build_report` writes
one HTML file to attach to a ticket: every picture is embedded as a ``data:`` URI, there is no
script and nothing is fetched (its Content-Security-Policy forbids both), and every string in it is
escaped, since file names come from users. Plain functions of their arguments; no Streamlit here.

The rows are the result rows of the command line and the Classify page's downloads: ``file``,
``sha256``, ``face``, ``verdict`` (a label or ``None``), ``p_fake``, ``confidence``, ``unfamiliar``,
``feature_distance``, ``threshold``, ``model_id`` and ``error``, one per face (or whole image, or
file without a verdict).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from PIL import Image

from deepfake_core.familiarity import UNFAMILIAR_NOTE
from deepfake_core.wording import format_probability

if TYPE_CHECKING:
    from deepfake_core.card import ModelCard
    from deepfake_core.explain import Explanation

__all__ = [
    "REPORT_CSP",
    "TERMS",
    "ExplainedFace",
    "build_report",
    "fake_first",
    "image_data_uri",
    "is_fake",
    "row_flags",
    "verdict_summary",
]

TERMS: Final[dict[str, str]] = {
    "P(fake)": "The model's probability that the face is fake, after calibration on the validation faces. "
    "The verdict is Fake when P(fake) is at least the threshold. No probability is shown as certain: "
    "below 0.001 it reads <0.1%, above 0.999 it reads >99.9%.",
    "Calibrated confidence": "The probability of the verdict shown: P(fake) for Fake, 1 − P(fake) for Real. "
    "Calibrated means that, on faces like the training faces, verdicts given with 80 % confidence are right "
    "about 80 % of the time. It is a probability, not proof, and it says nothing on a flagged face.",
    "Real": "The model found none of the traces of the fakes it was trained on. That is not proof that the face "
    "is authentic: in the leave-one-generator-out tests, most faces of a generator the model had never seen were "
    'called Real (Evaluation page, "Seen vs unseen generators").',
    "Unlike the training faces": "The face's features lie farther from the training faces' than the model "
    "card's limit, which few validation faces pass. The model has not learnt faces like it, so its verdict "
    "is unreliable whatever its confidence.",
    "sha256": "A fingerprint of the file's bytes: the same file always gives the same 64 characters and "
    "any change gives others, so a result can be matched to the exact file it was made from.",
    "Model id": "Names the model file and version that gave the verdict: the same model id and sha256 give "
    "the same P(fake) again, on the dashboard or with deepfake-core predict.",
}
"""The short help on the numbers a result shows, in the same words on the pages (tooltips) and in the report."""

REPORT_CSP: Final = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""The report's Content-Security-Policy: embedded pictures and its own styles, nothing fetched, no script."""

_THUMBNAIL_SIDE: Final = 128
"""Longest side of a face or photo thumbnail in the report's table (pixels)."""

_PICTURE_SIDE: Final = 384
"""Longest side of a photo with its numbered face boxes, and of an explanation's overlay, in the report."""

_JPEG_QUALITY: Final = 88


def is_fake(row: Mapping[str, Any]) -> bool | None:
    """Whether the row's verdict is Fake (``P(fake) ≥ threshold``), or ``None`` for a row without a verdict."""
    if row.get("verdict") is None or row.get("p_fake") is None:
        return None
    return bool(row["p_fake"] >= row["threshold"])


def fake_first(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows in triage order: Fake verdicts, then Real ones, then rows without a verdict.

    Within a verdict, the highest P(fake) comes first, so the most suspicious face leads and
    the Real faces closest to the threshold follow the Fakes. Ties keep their input order.
    """

    def order(row: Mapping[str, Any]) -> tuple[int, float]:
        fake = is_fake(row)
        group = 2 if fake is None else (0 if fake else 1)
        return group, -float(row["p_fake"]) if fake is not None else 0.0

    return sorted(rows, key=order)


def row_flags(row: Mapping[str, Any]) -> str:
    """What to be wary of in a row: the "unlike the training faces" flag, or why there is no verdict ("" if none)."""
    if row.get("error"):
        return str(row["error"])
    return UNFAMILIAR_NOTE if row.get("unfamiliar") else ""


def verdict_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """One image's outcome in a few words, e.g. ``4 faces: 1 Fake, 3 Real`` or ``no face found``.

    ``rows`` are the image's rows (one per face, or one for the whole image or the failure).
    """
    verdicts = [row for row in rows if is_fake(row) is not None]
    faces = sum(row.get("face") is not None for row in rows)
    fakes = sum(bool(is_fake(row)) for row in verdicts)
    counts = [(fakes, "Fake"), (len(verdicts) - fakes, "Real"), (len(rows) - len(verdicts), "not judged")]
    said = ", ".join(f"{count} {what}" for count, what in counts if count)
    if faces:
        return f"{faces} face{'' if faces == 1 else 's'}: {said}"
    if verdicts:  # the whole image was judged: its one verdict
        return str(verdicts[0]["verdict"])
    return str(rows[0].get("error") or "no verdict").split(":")[0] if rows else "no verdict"  # e.g. "no face found"


def image_data_uri(image: np.ndarray, *, max_side: int | None = None) -> str:
    """An RGB ``uint8 (H, W, 3)`` image as a JPEG ``data:`` URI, shrunk to ``max_side`` pixels on its long side.

    JPEG keeps a report of thirty photos to a few hundred kilobytes, and a ``data:`` URI shows in
    any browser and mail client without fetching anything.
    """
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if max_side is not None:
        picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class ExplainedFace:
    """An explanation made in the session, as the report shows it.

    ``file`` and ``face`` name what was explained (``face`` is ``None`` for a whole image),
    ``title`` the method as the pages name it, and ``overlay`` is the map drawn on the explained
    picture (``None`` when it was not kept).
    """

    file: str
    face: int | None
    title: str
    explanation: Explanation
    overlay: np.ndarray | None = None


def build_report(
    rows: Sequence[Mapping[str, Any]],
    *,
    card: ModelCard,
    created: datetime,
    thumbnails: Mapping[tuple[str, int | None], np.ndarray] | None = None,
    pictures: Mapping[str, np.ndarray] | None = None,
    explanations: Sequence[ExplainedFace] = (),
) -> str:
    """One self-contained HTML page with the verdicts, the explanations and a summary of the model card.

    ``thumbnails`` maps ``(sha256, face)`` to what the model saw (a face's crop; ``face`` is
    ``None`` for a whole image) and ``pictures`` maps a file's sha256 to its photo with numbered
    face boxes; both are optional and embedded as ``data:`` URIs. The verdicts are those of the
    rows (at their threshold), listed Fake first; ``created`` is the report's date.
    """
    thumbnails = thumbnails or {}
    pictures = pictures or {}
    threshold = next((row["threshold"] for row in rows if row.get("threshold") is not None), card.threshold)
    stamp = created.isoformat(timespec="seconds")
    body = [
        f"<h1>deepfake-lens report</h1><p class=meta>{_e(stamp)} · model <code>{_e(card.model_id)}</code> · "
        f"threshold {threshold:.2f} (the model card's: {card.threshold:.2f})</p>",
        _summary(rows),
        "<h2>Verdicts, Fake first</h2>",
        _verdict_table(fake_first(rows), thumbnails),
        _photos(rows, pictures),
        _explanations(explanations),
        _model_card(card),
        _terms(),
        "<p class=meta>A verdict is a calibrated probability, not proof. Made by deepfake-lens; the same file "
        "(sha256) and model id give the same P(fake) again.</p>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{_e(REPORT_CSP)}">'
        f"<title>deepfake-lens report {_e(stamp)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )


_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.3rem .5rem;"
    "text-align:left;vertical-align:middle}th{background:#f3f3f3}.meta{color:#555}"
    ".badge{display:inline-block;padding:.15rem .6rem;border-radius:.4rem;font-weight:bold;color:#fff}"
    ".fake{background:#c62828}.real{background:#1565c0}.unsure{background:#ef6c00}.none{background:#757575}"
    "figure{display:inline-block;margin:.5rem;vertical-align:top}figcaption{font-size:.85rem;color:#444}"
    "code{font-size:.85rem;word-break:break-all}dt{font-weight:bold;margin-top:.4rem}"
)


def _e(value: Any) -> str:
    """``value`` as text that cannot become markup (``<``, ``&`` and quotes escaped)."""
    return html.escape(str(value), quote=True)


def _image(image: np.ndarray | None, alt: str, *, max_side: int) -> str:
    """An ``<img>`` with ``image`` embedded, or "" when there is no image."""
    return "" if image is None else f'<img src="{image_data_uri(image, max_side=max_side)}" alt="{_e(alt)}">'


def _badge(row: Mapping[str, Any]) -> str:
    fake = is_fake(row)
    if fake is None:
        return '<span class="badge none">no verdict</span>'
    kind = "unsure" if row.get("unfamiliar") else ("fake" if fake else "real")
    return f'<span class="badge {kind}">{_e(row["verdict"])}</span>'


def _summary(rows: Sequence[Mapping[str, Any]]) -> str:
    judged = [row for row in rows if is_fake(row) is not None]
    files = len({(row.get("sha256"), row.get("file")) for row in rows})
    fakes = sum(bool(is_fake(row)) for row in judged)
    flagged = sum(bool(row.get("unfamiliar")) for row in judged)
    return (
        f"<p><b>{files}</b> file{'' if files == 1 else 's'}, <b>{len(judged)}</b> verdict"
        f"{'' if len(judged) == 1 else 's'}: <b>{fakes}</b> Fake, <b>{len(judged) - fakes}</b> Real; "
        f"<b>{flagged}</b> unlike the training faces; <b>{len(rows) - len(judged)}</b> without a verdict.</p>"
    )


def _verdict_table(rows: Sequence[Mapping[str, Any]], thumbnails: Mapping[tuple[str, int | None], np.ndarray]) -> str:
    header = "".join(
        f"<th>{_e(name)}</th>"
        for name in ("", "file", "face", "verdict", "P(fake)", "confidence", "flags", "sha256", "model id")
    )
    lines = []
    for row in rows:
        judged = is_fake(row) is not None
        p_fake = format_probability(row["p_fake"]) if judged else "—"
        confidence = format_probability(row["confidence"]) if judged and not row.get("unfamiliar") else "—"
        cells = (
            _image(thumbnails.get((row.get("sha256"), row.get("face"))), row["file"], max_side=_THUMBNAIL_SIDE),
            _e(row["file"]),
            _e("" if row.get("face") is None else row["face"]),
            _badge(row),
            _e(p_fake),
            _e(confidence),
            _e(row_flags(row)),
            f"<code>{_e(row.get('sha256') or '')}</code>",
            f"<code>{_e(row.get('model_id') or '')}</code>",
        )
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table><tr>{header}</tr>\n" + "\n".join(lines) + "</table>"


def _photos(rows: Sequence[Mapping[str, Any]], pictures: Mapping[str, np.ndarray]) -> str:
    by_file: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_file.setdefault((row.get("sha256"), row["file"]), []).append(row)
    figures = [
        f"<figure>{_image(pictures[sha256], name, max_side=_PICTURE_SIDE)}"
        f"<figcaption>{_e(name)}: {_e(verdict_summary(found))}</figcaption></figure>"
        for (sha256, name), found in by_file.items()
        if sha256 in pictures
    ]
    if not figures:
        return ""
    return "<h2>The photos</h2><p class=meta>Faces are numbered from the largest.</p>" + "".join(figures)


def _explanations(explained: Sequence[ExplainedFace]) -> str:
    if not explained:
        return ""
    parts = ["<h2>Explanations made in this session</h2>"]
    for item in explained:
        explanation = item.explanation
        verdict = explanation.verdict
        where = item.file + ("" if item.face is None else f", face {item.face}")
        settings = f"settings <code>{_e(json.dumps(dict(explanation.params), sort_keys=True))}</code> · "
        lines = [
            f"<b>{_e(item.title)}</b> of the class <b>{_e(explanation.target_class)}</b> on {_e(where)}",
            f"verdict {_e(verdict.get('label'))}, P(fake) {_e(format_probability(float(verdict['p_fake'])))}"
            if "p_fake" in verdict
            else "",
            _e(explanation.meaning),
            (settings if explanation.params else "") + f"computed in {explanation.seconds:.2f} s",
            f"<i>{_e(explanation.caveat)}</i>" if explanation.caveat else "",
        ]
        caption = "<br>".join(line for line in lines if line)
        parts.append(
            f"<figure>{_image(item.overlay, where, max_side=_PICTURE_SIDE)}<figcaption>{caption}</figcaption></figure>"
        )
    return "".join(parts)


def _model_card(card: ModelCard) -> str:
    seen = "; ".join(f"{label}: {', '.join(kinds)}" for label, kinds in card.seen_kinds.items()) or "not recorded"
    face_step = (
        f"yes: faces found by {card.face_crop.detector} and aligned; faces under {card.face_crop.min_face_size} px "
        "are not judged"
        if card.face_crop is not None
        else "no: the whole image is judged"
    )
    fields = [
        ("Name", card.name),
        ("Model id", card.model_id),
        ("Architecture", card.architecture),
        ("Input", f"{card.input_size} x {card.input_size} {card.channel_order}, values {card.value_scale}"),
        ("Face step", face_step),
        ("Threshold and temperature", f"{card.threshold:.2f}, {card.temperature:.2f}"),
        ("Mirror averaging", "yes: each verdict averages the face and its mirror" if card.mirror_average else "no"),
        (
            "Compression",
            f"every input re-encoded as a JPEG of quality {card.jpeg_quality}" if card.jpeg_quality else "none",
        ),
        ("Unlike-the-training-faces flag", "yes" if card.familiarity is not None else "no"),
        ("Kinds seen in training", seen),
        ("Description", card.description),
    ]
    listed = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in fields if value)
    limitations = "".join(f"<li>{_e(item)}</li>" for item in card.limitations)
    licences = "".join(f"<li>{_e(item)}</li>" for item in card.licences)
    return (
        f"<h2>The model card</h2><dl>{listed}</dl>"
        + (f"<h3>Limitations</h3><ul>{limitations}</ul>" if limitations else "")
        + (f"<h3>Data licences</h3><ul>{licences}</ul>" if licences else "")
    )


def _terms() -> str:
    listed = "".join(f"<dt>{_e(term)}</dt><dd>{_e(meaning)}</dd>" for term, meaning in TERMS.items())
    return f"<h2>What the numbers mean</h2><dl>{listed}</dl>"
