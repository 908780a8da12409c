"""How the pages write plain numbers and raw card values: rounded, and never "None", "False" or 16 digits.

Model cards and results files keep full precision (0.6890307312429037) and JSON's null/true/false,
which read as noise on a page. A visitor needs a few significant digits, a dash for "not recorded"
and yes/no. The temperature is written the same way in the sidebar, on the Model page and on the
Evaluation page, so one model never shows two different temperatures. Plain functions of their
arguments: no Streamlit, nothing kept. (Probabilities and shares are :mod:`pages.formatting`'s.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["NOT_RECORDED", "format_number", "format_temperature", "format_value"]

NOT_RECORDED: Final = "—"
"""What a value the card leaves empty (``null``, an empty list) reads as."""

_SIGNIFICANT_DIGITS: Final = 3


def format_number(value: float) -> str:
    """A float to three significant digits (0.6890307 -> ``0.689``, 788.6 -> ``789``); large ones in full.

    Numbers of a thousand and more are written whole with thousands separators (``566,003``), never
    in scientific notation; tiny ones keep theirs (``1e-05``).
    """
    if abs(value) >= 10**_SIGNIFICANT_DIGITS:
        return f"{value:,.0f}"
    return f"{value:.{_SIGNIFICANT_DIGITS}g}"


def format_value(value: Any) -> str:
    """Any JSON value of a card as a table cell: numbers rounded, ``None`` as a dash, booleans as yes/no.

    Lists are joined with commas and objects written ``key: value``, each item formatted the same way.
    NaN is a dash too: it is how pandas fills a grid cell that one row of a card does not have.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {format_value(item)}" for key, item in value.items()) or NOT_RECORDED
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(format_value(item) for item in value) or NOT_RECORDED
    return str(value)


def format_temperature(temperature: float) -> str:
    """The calibration temperature T as every page writes it (two decimals: ``1.27``)."""
    return f"{temperature:.2f}"
