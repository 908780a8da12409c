"""One picture that carries an explanation on its own: original, overlay, colour bar and what made them.

A screenshot of an overlay loses what gives it meaning (which class, which
model, which threshold, which settings, how confident). :func:`composite` draws
the original and the overlay side by side, the colour bar with what its ends
mean and its value range, and the lines of :func:`caption_lines` under them, so a
PNG passed around still says what it shows. Pure numpy + Pillow; the page only
offers the download.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from deepfake_core.explain.base import Explanation, working_image
from deepfake_core.explain.drawing import font, legend, number_superpixels, overlay
from deepfake_core.wording import format_probability

__all__ = ["PANEL_SIDE", "caption_lines", "composite", "composite_png", "png_bytes"]

PANEL_SIDE = 512
"""Longest side of each of the two pictures in the composite (pixels)."""

_MARGIN = 16
_GAP = 12
_BAR_HEIGHT = 16
_TEXT_SIZE = 15
_LINE_GAP = 5
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)
_WARNING_INK = (170, 40, 0)


def caption_lines(
    explanation: Explanation, *, opacity: float, colormap: str | None = None, boundaries: bool = False
) -> list[str]:
    """The text under the pictures: verdict, threshold, explained class, model, method settings, image, caveat.

    Kept apart from the drawing so its content can be read (and tested) as text.
    """
    verdict = explanation.verdict
    threshold = explanation.threshold if explanation.threshold is not None else verdict.get("threshold")
    card = "" if explanation.card_threshold is None else f" (model card: {explanation.card_threshold:.2f})"
    probability = explanation.target_probability
    explained = f"Explains the class '{explanation.target_class}'"
    if probability is not None:
        explained += f", P({explanation.target_class}) {format_probability(probability)}"
    scale = legend(explanation, colormap=colormap)
    size = "x".join(str(side) for side in explanation.heatmap.shape[::-1])
    if explanation.source_shape is not None:
        size += f" (working copy of {'x'.join(str(side) for side in explanation.source_shape[::-1])})"
    lines = [
        f"Verdict: {verdict.get('label')}   P(fake) {format_probability(float(verdict.get('p_fake', float('nan'))))}   "
        f"threshold {_number(threshold)}{card}",
        f"{explained}   method: {explanation.method}",
        f"Model: {explanation.model_id}",
        f"Settings: {_settings(explanation.params)}; drawn with {scale.colormap}, opacity {opacity:.2f}"
        + (", superpixel edges" if boundaries and explanation.segments is not None else ""),
        f"Image: sha256 {explanation.image_sha256} ({explanation.image_sha256_source}), map {size}",
        explanation.meaning,
    ]
    r2 = explanation.details.get("surrogate_r2")
    if r2 is not None:
        lines.append(f"LIME surrogate fit R^2 = {float(r2):.3f} (1 = the linear model reproduces the samples)")
    if explanation.caveat:
        lines.append(f"Caveat: {explanation.caveat}")
    return lines


def composite(
    image: np.ndarray,
    explanation: Explanation,
    *,
    opacity: float = 0.5,
    colormap: str | None = None,
    boundaries: bool = False,
    numbered: Sequence[int] = (),
    panel_side: int = PANEL_SIDE,
) -> np.ndarray:
    """Original | overlay, colour bar, and :func:`caption_lines`, as one RGB ``uint8`` picture.

    ``image`` is the picture the map was computed on (the map's ``(H, W)``);
    ``numbered`` are LIME superpixel ids to write on the overlay. Both pictures
    are shrunk to at most ``panel_side`` on their long side.
    """
    original = working_image(image, panel_side)
    drawn = overlay(image, explanation, colormap=colormap, opacity=opacity, boundaries=boundaries, max_side=panel_side)
    drawn = number_superpixels(drawn, explanation, numbered)
    height, width = original.shape[:2]
    text_font = font(_TEXT_SIZE)
    canvas_width = max(2 * width + _GAP + 2 * _MARGIN, 640)
    text_width = canvas_width - 2 * _MARGIN
    lines = caption_lines(explanation, opacity=opacity, colormap=colormap, boundaries=boundaries)
    wrapped = [(piece, line.startswith("Caveat:")) for line in lines for piece in _wrap(line, text_font, text_width)]
    line_height = _TEXT_SIZE + _LINE_GAP
    bar_top = _MARGIN + height + _GAP
    text_top = bar_top + _BAR_HEIGHT + line_height + _GAP
    canvas = Image.new("RGB", (canvas_width, text_top + line_height * len(wrapped) + _MARGIN), _BACKGROUND)
    canvas.paste(Image.fromarray(original), (_MARGIN, _MARGIN))
    canvas.paste(Image.fromarray(drawn), (_MARGIN + width + _GAP, _MARGIN))
    scale = legend(explanation, colormap=colormap)
    bar_width = canvas_width - 2 * _MARGIN
    canvas.paste(Image.fromarray(scale.gradient(bar_width)).resize((bar_width, _BAR_HEIGHT)), (_MARGIN, bar_top))
    draw = ImageDraw.Draw(canvas)
    below = bar_top + _BAR_HEIGHT + 2
    draw.text((_MARGIN, below), f"{_number(scale.vmin)}: {scale.low}", fill=_INK, font=text_font)
    draw.text(
        (canvas_width - _MARGIN, below), f"{scale.high}: {_number(scale.vmax)}", fill=_INK, font=text_font, anchor="ra"
    )
    for index, (text, warning) in enumerate(wrapped):
        draw.text(
            (_MARGIN, text_top + index * line_height), text, fill=_WARNING_INK if warning else _INK, font=text_font
        )
    return np.asarray(canvas)


def png_bytes(picture: np.ndarray) -> bytes:
    """An RGB ``uint8`` picture encoded as PNG bytes, for a download."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def composite_png(image: np.ndarray, explanation: Explanation, **options: Any) -> bytes:
    """:func:`composite` encoded as PNG bytes (what the page's download button serves)."""
    return png_bytes(composite(image, explanation, **options))


def _settings(params: dict[str, Any] | Any) -> str:
    """The method's parameters as ``name=value`` pairs ("none" for deterministic methods)."""
    items = dict(params)
    if not items:
        return "none (deterministic method)"
    return ", ".join(f"{name}={json.dumps(value, sort_keys=True)}" for name, value in items.items())


def _number(value: float | None) -> str:
    """A value for the picture: 3 significant digits, small weights in scientific notation."""
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value == 0 or 0.01 <= abs(value) < 1000 else f"{value:.2e}"


def _wrap(text: str, text_font: Any, width: int) -> list[str]:
    """``text`` broken into lines no wider than ``width`` pixels (a word longer than that gets its own line)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and text_font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current]
