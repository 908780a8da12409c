"""The malloc settings the dashboard makes for itself (see deepfake_core/memory.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deepfake_core.memory import fix_malloc_thresholds, limit_malloc_arenas, tensorflow_without_onednn


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_glibc_accepts_the_arena_limit():
    assert limit_malloc_arenas(2) is True


def test_an_arena_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        limit_malloc_arenas(0)


_HELD_AFTER_FREE = """
import sys
from deepfake_core.memory import fix_malloc_thresholds
if sys.argv[1] == "fixed":
    assert fix_malloc_thresholds()
def resident_kib():
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
def touched(size):
    block = bytearray(size)
    block[::4096] = b"x" * len(range(0, size, 4096))
    return block
block = touched(8 << 20); del block  # glibc's default now raises its mmap threshold to 8 MB
before = resident_kib()
block = touched(6 << 20); del block  # from the heap by default, and kept there after the free
print(resident_kib() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_fixed_thresholds_give_a_freed_large_block_back_where_glibcs_default_keeps_it():
    def held_kib(mode: str) -> int:
        command = [sys.executable, "-c", _HELD_AFTER_FREE, mode]
        return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    assert held_kib("default") > 5 * 1024  # the 6 MB block stays resident after it is freed
    assert held_kib("fixed") < 1024


def test_a_threshold_below_a_page_is_refused():
    with pytest.raises(ValueError, match="at least one page"):
        fix_malloc_thresholds(100)


def test_onednn_is_turned_off_only_before_tensorflow_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert tensorflow_without_onednn() is True and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # a value someone chose is kept
    assert tensorflow_without_onednn() is False and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setitem(sys.modules, "tensorflow", object())  # too late: TensorFlow read it already
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    assert tensorflow_without_onednn() is False and "TF_ENABLE_ONEDNN_OPTS" not in os.environ
