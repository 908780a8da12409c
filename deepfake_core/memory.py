"""Keeping a long-running server's memory down: fewer glibc malloc arenas, large blocks given back,
TensorFlow without its oneDNN kernels.

glibc gives threads their own malloc arenas, up to eight per core, and memory freed in one arena
is not reused by another. A Streamlit server runs every session's script in its own thread, and
TensorFlow adds thread pools, so the freed buffers of many classifications pile up in many arenas.
Measured with ``benchmarks/app.py`` (cold start, 20 visitors, a 30-image batch): peak 1088 MB with
glibc's default, 957 MB with two arenas, at the same speed. ``MALLOC_ARENA_MAX=2`` in the
environment does this, but a hosted dashboard (Streamlit Community Cloud) cannot set the server's
environment, so the app asks glibc itself, as early as it can.

glibc also raises its mmap threshold each time a large mmapped block is freed (up to 32 MB), so
after a visitor explains a 40 MP photo, later large buffers come from the heap, whose top is
rarely trimmed: that memory stays with the server after the session ends. Fixed thresholds keep
blocks of 128 KiB and more in their own mappings, returned to the system when freed
(``benchmarks/explain_browser.py``: held after the session +263 MB instead of +309 to +323 MB,
as ``MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072`` in the environment gives).

TensorFlow's oneDNN kernels keep memory for every batch shape they have run: one forward pass of
32 face crops left the process 141 MB larger, and the four explanations of one face 181 MB in all;
with ``TF_ENABLE_ONEDNN_OPTS=0`` that was 7 and 40 MB, and the idle server 36 MB smaller. They are
faster on large batches (32 crops: 97 against 157 ms; one crop 6 against 6-9 ms; face detection
the same), which matters to the command line's batch scoring, not to a dashboard that judges a
few faces at a time, so only the dashboard turns them off. Probabilities move by about 1e-9.

A model call's activations are freed when it returns, but they count towards the server's peak:
with mirror averaging a batch of 32 crops runs 64 images through EfficientNet-Lite0 at once, and
the dashboard does that on every LIME batch and in the deletion check. So the dashboard calls the
model with :data:`SERVER_BATCH_SIZE` images: in ``benchmarks/explain_browser.py`` (a 40 MP photo
explained with every method) the peak of the Explain step fell from 1012 MB (sampled; VmHWM 1031
MB) to 951-966 MB, and LIME takes about 1.1x as long (``benchmarks/explain.py``). The command line
keeps 32, for speed.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Final

__all__ = ["SERVER_BATCH_SIZE", "fix_malloc_thresholds", "limit_malloc_arenas", "tensorflow_without_onednn"]

SERVER_BATCH_SIZE: Final = 16
"""Images per model call in the dashboard (the detector's ``batch_size`` and LIME's), chosen for its peak memory."""

_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
_M_TRIM_THRESHOLD = -1
"""``mallopt`` parameter numbers in glibc's ``malloc.h``."""


def _mallopt(parameter: int, value: int) -> bool:
    """glibc's ``mallopt(parameter, value)``; ``False`` where there is no glibc (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # the process's own symbols, libc's among them: no library search (which would start ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(parameter, value) == 1


@functools.cache
def limit_malloc_arenas(count: int = 2) -> bool:
    """Ask glibc to create at most ``count`` malloc arenas from now on; ``True`` if it agreed.

    glibc fixes its arena limit only once a process has more arenas than its test threshold
    (eight on 64-bit), so a call early in the server's life still takes effect. Anywhere else
    (macOS, Windows, musl) this does nothing and returns ``False``. The answer is kept: the app's
    entry script runs on every rerun, and asking glibc again would change nothing.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    return _mallopt(_M_ARENA_MAX, count)


@functools.cache
def fix_malloc_thresholds(size: int = 128 * 1024) -> bool:
    """Serve blocks of ``size`` bytes and more from their own mappings, and trim the heap above ``size``.

    Fixing the thresholds also stops glibc from raising them as large blocks are freed (see the
    module's docstring). ``True`` if glibc took both; elsewhere nothing happens and it is ``False``.
    """
    if size < 4096:
        raise ValueError(f"size must be at least one page (4096 bytes), got {size}")
    return _mallopt(_M_MMAP_THRESHOLD, size) & _mallopt(_M_TRIM_THRESHOLD, size)


def tensorflow_without_onednn() -> bool:
    """Ask TensorFlow not to use its oneDNN kernels (see the module's docstring); ``True`` if in time.

    TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` when it is imported, so this must run first; once
    it is imported nothing changes and ``False`` is returned. A value already set is kept.
    """
    if "tensorflow" in sys.modules:
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0"
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
