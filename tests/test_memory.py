"""The malloc arena limit the dashboard sets for itself (see deepfake_core/memory.py)."""

from __future__ import annotations

import sys

import pytest

from deepfake_core.memory import limit_malloc_arenas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_glibc_accepts_the_arena_limit():
    assert limit_malloc_arenas(2) is True


def test_an_arena_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        limit_malloc_arenas(0)
