"""Keeping a long-running server's memory down: fewer glibc malloc arenas.

glibc gives threads their own malloc arenas, up to eight per core, and memory freed in one arena
is not reused by another. A Streamlit server runs every session's script in its own thread, and
TensorFlow adds thread pools, so the freed buffers of many classifications pile up in many arenas.
Measured with ``benchmarks/app.py`` (cold start, 20 visitors, a 30-image batch): peak 1088 MB with
glibc's default, 957 MB with two arenas, at the same speed. ``MALLOC_ARENA_MAX=2`` in the
environment does this, but a hosted dashboard (Streamlit Community Cloud) cannot set the server's
environment, so the app asks glibc itself, as early as it can.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["limit_malloc_arenas"]

_M_ARENA_MAX = -8
"""``mallopt`` parameter number of ``M_ARENA_MAX`` in glibc's ``malloc.h``."""


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
    if not sys.platform.startswith("linux"):
        return False
    try:
        # the process's own symbols, libc's among them: no library search (which would start ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(_M_ARENA_MAX, count) == 1
