"""How the pages write numbers for a visitor: probabilities, shares and confidence intervals.

Every page words the same kind of number the same way (a probability never reads as certain, an
undefined share is a dash, not "None"), so the wording lives in one place. Plain functions of
their arguments: no Streamlit, nothing to set up, nothing kept.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_interval", "format_probability", "format_share"]


def format_probability(value: float) -> str:
    """A probability as a percentage that never claims certainty: ``>99.9%`` instead of ``100.0%``."""
    if value > 0.999:
        return ">99.9%"
    if value < 0.001:
        return "<0.1%"
    return f"{value:.1%}"


def format_share(value: float | None) -> str:
    """A proportion as a percentage, or a dash when it is undefined (e.g. recall without fakes)."""
    return "—" if value is None else f"{value:.1%}"


def format_interval(interval: Sequence[float] | None) -> str:
    """A ``[low, high]`` interval as percentages, or a dash."""
    return "—" if not interval else f"{interval[0]:.1%} to {interval[1]:.1%}"
