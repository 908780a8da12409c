"""How the pages write numbers for a visitor: probabilities, shares and confidence intervals.

Every page words the same kind of number the same way (a probability never reads as certain, an
undefined share is a dash, not "None"), so the wording lives in one place. The probability rule
itself is ``deepfake_core.wording.format_probability``, because the downloadable HTML report and
the explanation pictures (made in ``deepfake_core``, which never imports the pages) must word it as
the cards, tables and the Explain page do. Plain functions of their arguments: no Streamlit,
nothing to set up, nothing kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from deepfake_core.wording import format_probability

__all__ = ["format_interval", "format_probability", "format_share"]


def format_share(value: float | None) -> str:
    """A proportion as a percentage, or a dash when it is undefined (e.g. recall without fakes)."""
    return "—" if value is None else f"{value:.1%}"


def format_interval(interval: Sequence[float] | None) -> str:
    """A ``[low, high]`` interval as percentages, or a dash."""
    return "—" if not interval else f"{interval[0]:.1%} to {interval[1]:.1%}"
