"""What the Explain page keeps between reruns, and the Streamlit calls that compute it.

Explanations are kept in a small least-recently-used cache in session state, keyed by
(image sha256, model id, method, class, parameters, face) (``ExplanationRequest.key``), so
switching to another image and back, or moving a slider, computes nothing again. Only maps of
the bounded working copy are kept (long side at most ``WORKING_SIDE``, or a face's crop), never
the upload's full-resolution pixels, and the cache is bounded by entries and by bytes: a public
demo serves many sessions from one small machine. Deletion checks are cached the same way.

Like ``pages/common.py`` this is a helper module, not a page: only the files listed in
``common.run_app`` are pages.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import streamlit as st

from deepfake_core.errors import DeepfakeLensError

if TYPE_CHECKING:
    import numpy as np

    from deepfake_core.detector import Detector
    from deepfake_core.explain import DeletionCheck, Explanation
    from pages.common import ExplanationRequest

__all__ = [
    "DISPLAY_SIDE",
    "LruCache",
    "cached_explanation",
    "compute_explanations",
    "deferred_png",
    "deletion_checks",
    "explanation_bytes",
]

DISPLAY_SIDE: Final = 640
"""Longest side of the overlays drawn on the page: an opacity step redraws this, not the working copy."""

MAX_EXPLANATIONS: Final = 16
"""Explanations kept per session (any images): enough to go back to the last few images."""

MAX_EXPLANATION_BYTES: Final = 64 * 1024 * 1024
"""Bytes of maps (and LIME's superpixel ids) kept per session: ~8 LIME maps of a 1024 px working copy."""

MAX_CHECKS: Final = 16
"""Deletion-check results kept per session (small: a few numbers each)."""

_EXPLANATIONS_KEY: Final = "explain-view:explanations"
_CHECKS_KEY: Final = "explain-view:deletion-checks"

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LruCache(Generic[_K, _V]):
    """Least-recently-used mapping bounded by entry count and by the summed ``size(value)``.

    Reading an entry makes it the most recent; adding one drops the oldest until both bounds
    hold (the newest entry is always kept, even if it alone exceeds ``max_bytes``).
    """

    def __init__(self, *, max_entries: int, max_bytes: int, size: Callable[[_V], int]) -> None:
        self._items: OrderedDict[_K, _V] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._size = size

    def get(self, key: _K) -> _V | None:
        """The value stored for ``key`` (now the most recent), or ``None``."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: _K, value: _V) -> None:
        """Store ``value`` as the most recent entry and drop the oldest ones beyond the bounds."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > 1 and (len(self._items) > self._max_entries or self.bytes > self._max_bytes):
            self._items.popitem(last=False)

    @property
    def bytes(self) -> int:
        """Summed size of the stored values."""
        return sum(self._size(value) for value in self._items.values())

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[_V]:
        """The stored values, oldest first."""
        return list(self._items.values())


def explanation_bytes(explanation: Explanation) -> int:
    """Memory an explanation holds in its arrays: the map plus LIME's superpixel ids."""
    segments = explanation.segments
    return explanation.heatmap.nbytes + (segments.nbytes if segments is not None else 0)


def _explanations() -> LruCache[tuple, Explanation]:
    if _EXPLANATIONS_KEY not in st.session_state:
        st.session_state[_EXPLANATIONS_KEY] = LruCache(
            max_entries=MAX_EXPLANATIONS, max_bytes=MAX_EXPLANATION_BYTES, size=explanation_bytes
        )
    return st.session_state[_EXPLANATIONS_KEY]


def _checks() -> LruCache[tuple, list[DeletionCheck]]:
    if _CHECKS_KEY not in st.session_state:
        st.session_state[_CHECKS_KEY] = LruCache(max_entries=MAX_CHECKS, max_bytes=2**62, size=lambda _: 0)
    return st.session_state[_CHECKS_KEY]


def compute_explanations(
    requests: Sequence[ExplanationRequest], detector: Detector, image: np.ndarray, *, threshold: float
) -> None:
    """Compute the requests not cached yet (with a progress bar each); errors are shown per method.

    ``image`` is what the requests explain: the decoded photo (its maps come at the working
    size) or the aligned crop of their face. ``threshold`` is the page's, recorded with each map.
    """
    from deepfake_core.explain import METHODS, explain  # here: LIME's imports cost memory other pages never need

    cache = _explanations()
    for request in requests:
        key = request.key(detector)
        if key in cache:
            continue
        title = METHODS[request.method].title
        bar = st.progress(0.0, text=f"{title}...")

        def progress(done: int, total: int, bar: Any = bar, title: str = title) -> None:
            bar.progress(min(done / total, 1.0), text=f"{title}: {done} of {total} samples classified")

        try:
            cache.put(
                key,
                explain(
                    detector,
                    image,
                    method=request.method,
                    target_class=request.target,
                    image_sha256=request.source.sha256,  # for a face crop too, as the command line records it
                    progress=progress,
                    threshold=threshold,
                    **request.params,
                ),
            )
        except DeepfakeLensError as error:
            st.error(f"{title}: {error}")
        finally:
            bar.empty()


def cached_explanation(request: ExplanationRequest, detector: Detector, *, threshold: float) -> Explanation | None:
    """The explanation computed earlier for ``request``, judged at ``threshold``; ``None`` if not computed yet.

    The map does not depend on the threshold, so a cached one is reused and only its verdict
    (and the threshold its record holds) follows the slider.
    """
    from deepfake_core.explain import at_threshold

    found = _explanations().get(request.key(detector))
    return None if found is None else at_threshold(found, detector, threshold)


def deletion_checks(
    requests: Sequence[ExplanationRequest], explanations: Sequence[Explanation], detector: Detector, image: np.ndarray
) -> list[DeletionCheck]:
    """The deletion check of the shown explanations (``requests[i]`` made ``explanations[i]``), cached.

    A slider step or a return to an earlier image must not send every hidden copy through the
    model again, so results are kept by the requests' keys.
    """
    from deepfake_core.explain import deletion_check

    key = tuple(request.key(detector) for request in requests)
    cache = _checks()
    found = cache.get(key)
    if found is None:
        found = deletion_check(detector, image, explanations)
        cache.put(key, found)
    return found


def deferred_png(draw: Callable[[], np.ndarray]) -> Callable[[], bytes]:
    """A PNG encoder for ``st.download_button`` that draws only when the button is clicked.

    The page's overlays are display-sized; the file is drawn at the map's own size, as the
    command line writes it, and only for the visitor who asks for it.
    """

    def write() -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(draw()).save(buffer, format="PNG")
        return buffer.getvalue()

    return write
