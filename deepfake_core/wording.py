"""How deepfake-lens words a probability for people: one rule for pages, reports and picture captions.

The same P(fake) must read the same on a card, in the results table, on the Explain page, in the
downloadable report and on a composite PNG, and it must never read as certain: a model's 0.99995
is not proof. The pages, :mod:`deepfake_core.report` and :mod:`deepfake_core.explain` all use
:func:`format_probability`. (JSON records keep the full float.)
"""

from __future__ import annotations

__all__ = ["format_probability"]


def format_probability(value: float) -> str:
    """A probability as a percentage with one decimal that never claims certainty.

    ``<0.1%`` below 0.001 and ``>99.9%`` above 0.999, so no probability reads ``0.0%`` or
    ``100.0%``; in between, one decimal (``12.3%``).
    """
    if value > 0.999:
        return ">99.9%"
    if value < 0.001:
        return "<0.1%"
    return f"{value:.1%}"
