"""What the Explain page keeps between reruns, and the Streamlit calls that compute and record it.

A map to compute is an :class:`ExplanationRequest`. Explanations are kept in a small
least-recently-used cache in session state, keyed by (image sha256, model id, method, class,
parameters, face) (``ExplanationRequest.key``), so switching to another image and back, or moving
a slider, computes nothing again. Only maps of the bounded working copy are kept (long side at
most ``WORKING_SIDE``, or a face's crop), never the upload's full-resolution pixels, and the cache
is bounded by entries and by bytes: a public demo serves many sessions from one small machine.
Deletion checks are cached the same way, and a photo's faces are found once per (model, image)
(:func:`photo_faces`), which is also the only time that photo is decoded at full size: what is
kept to draw on is its display copy. The downloads are built here too: the JSON record of a map
(:func:`explanation_record`) and PNGs drawn only when asked for. Each kept map also keeps the
name of its file and a small overlay, so the Classify page's HTML report can show the
explanations made in the session (:func:`session_explanations`). The chosen methods are kept in
the page's URL (:data:`METHODS_PARAM`), so a link opens the same comparison.

Like the other helper modules in ``pages/`` this is not a page: only the files listed in
``shell.run_app`` are pages.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import numpy as np
import streamlit as st
from PIL import Image

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.report import ExplainedFace
from pages import pictures
from pages.inputs import ImageInput
from pages.pictures import REPORT_OVERLAY_SIDE

if TYPE_CHECKING:
    from deepfake_core.detector import Detector
    from deepfake_core.explain import DeletionCheck, Explanation, Legend
    from deepfake_core.faces.finder import Face
    from deepfake_core.judge import PhotoVerdicts

__all__ = [
    "DISPLAY_SIDE",
    "METHODS_PARAM",
    "ExplanationRequest",
    "LruCache",
    "PhotoFaces",
    "cached_explanation",
    "compute_explanations",
    "deferred_png",
    "deletion_checks",
    "explanation_bytes",
    "explanation_record",
    "face_label",
    "legend_strip",
    "method_title",
    "photo_faces",
    "session_explanations",
]

DISPLAY_SIDE: Final = 640
"""Longest side of the overlays drawn on the page: an opacity step redraws this, not the working copy."""

MAX_EXPLANATIONS: Final = 16
"""Explanations kept per session (any images): enough to go back to the last few images."""

MAX_EXPLANATION_BYTES: Final = 64 * 1024 * 1024
"""Bytes of maps (and LIME's superpixel ids) kept per session: ~8 LIME maps of a 1024 px working copy."""

MAX_CHECKS: Final = 16
"""Deletion-check results kept per session (small: a few numbers each)."""

METHODS_PARAM: Final = "methods"
"""The URL query parameter that names the chosen methods (repeated: ``?methods=attention&methods=lime``)."""

_EXPLANATIONS_KEY: Final = "explain-view:explanations"
_SHOWN_KEY: Final = "explain-view:for-the-report"
_CHECKS_KEY: Final = "explain-view:deletion-checks"
_FACES_KEY: Final = "explain_faces"

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


@dataclass(frozen=True)
class ExplanationRequest:
    """One map to compute: which image (and which of its faces), method and class, with which parameters.

    ``face`` is the face's number when the map explains that face's aligned crop (a model with a
    face step), ``None`` when it explains the whole image.
    """

    source: ImageInput
    method: str
    target: str
    params: dict[str, Any]
    face: int | None = None

    def key(self, detector: Detector) -> tuple[str, str, str, str, str, int | None]:
        """What an explanation depends on: (image sha256, model id, method, class, parameters, face)."""
        params = json.dumps(self.params, sort_keys=True)
        return self.source.sha256, detector.model_id, self.method, self.target, params, self.face


@dataclass(frozen=True, eq=False)
class PhotoFaces:
    """A photo's faces as the face step found them, and the photo's display copy to draw them on.

    ``verdicts`` hold every face's aligned crop (model-input sized) and its verdict;
    :meth:`at_threshold` judges them again at the page's threshold. ``picture`` is the photo
    shrunk to at most :data:`pages.pictures.DISPLAY_SIDE` pixels on its long side and ``scale``
    its pixels per photo pixel (the preview of :func:`deepfake_core.judge.judge_photo_source`):
    the numbered boxes and the overlays pasted back are drawn on it, so the full-size photo is
    not needed again.
    """

    verdicts: PhotoVerdicts
    picture: np.ndarray
    scale: float

    def at_threshold(self, detector: Detector, threshold: float) -> PhotoVerdicts:
        """The verdicts at ``threshold``, from the stored probabilities (no detection, no model call)."""
        from deepfake_core.judge import at_threshold

        return at_threshold(self.verdicts, detector, threshold)


def photo_faces(detector: Detector, source: ImageInput, decode: Callable[[], np.ndarray]) -> PhotoFaces:
    """Every face of ``source``'s photo with its aligned crop and verdict, found once per (model, image).

    For the Explain page of a model with a face step: moving the opacity or threshold slider or
    ticking a box re-runs the page but must not decode the photo, run the face detector or the
    model again. ``decode`` returns the full-size photo (and raises what
    :func:`deepfake_core.intake.load_image` raises); it is called only for an image not kept
    yet (twice for a photo over 8 MP, which is not held while its faces are searched: see
    :func:`deepfake_core.judge.judge_photo_source`), and its pixels (~115 MB for a 40 MP photo)
    are dropped once the faces and the display copy are made. Only the current image's faces
    are kept.
    """
    from deepfake_core.judge import judge_photo_source

    key = (detector.model_id, source.sha256)
    stored = st.session_state.get(_FACES_KEY)
    if stored is None or stored[0] != key:
        stored = (
            key,
            PhotoFaces(*judge_photo_source(detector, decode, faces="all", preview_side=pictures.DISPLAY_SIDE)),
        )
        st.session_state[_FACES_KEY] = stored
    return stored[1]


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

    def items(self) -> list[tuple[_K, _V]]:
        """The stored entries, oldest first (reading them all makes none more recent)."""
        return list(self._items.items())


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


def _shown() -> dict[tuple, tuple[str, np.ndarray]]:
    """Per kept map (by the cache's key): the explained file's name and a small overlay, for the report."""
    return st.session_state.setdefault(_SHOWN_KEY, {})


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
    from deepfake_core.explain import METHODS, explain, overlay, working_image  # LIME's imports: only here

    cache = _explanations()
    shown = _shown()
    for request in requests:
        key = request.key(detector)
        if key in cache:
            continue
        title = METHODS[request.method].title
        bar = st.progress(0.0, text=f"{title}...")

        def progress(done: int, total: int, bar: Any = bar, title: str = title) -> None:
            bar.progress(min(done / total, 1.0), text=f"{title}: {done} of {total} samples classified")

        try:
            explanation = explain(
                detector,
                image,
                method=request.method,
                target_class=request.target,
                image_sha256=request.source.sha256,  # for a face crop too, as the command line records it
                progress=progress,
                threshold=threshold,
                **request.params,
            )
        except DeepfakeLensError as error:
            st.error(f"{title}: {error}")
            continue
        finally:
            bar.empty()
        cache.put(key, explanation)
        shown[key] = request.source.name, overlay(working_image(image), explanation, max_side=REPORT_OVERLAY_SIDE)
        for dropped in [kept for kept in shown if kept not in cache]:  # the cache let it go: so does the report
            del shown[dropped]


def cached_explanation(request: ExplanationRequest, detector: Detector, *, threshold: float) -> Explanation | None:
    """The explanation computed earlier for ``request``, judged at ``threshold``; ``None`` if not computed yet.

    The map does not depend on the threshold, so a cached one is reused and only its verdict
    (and the threshold its record holds) follows the slider.
    """
    from deepfake_core.explain import at_threshold

    found = _explanations().get(request.key(detector))
    return None if found is None else at_threshold(found, detector, threshold)


def session_explanations(detector: Detector, *, threshold: float) -> list[ExplainedFace]:
    """The explanations kept in this session for ``detector``'s model, oldest first, judged at ``threshold``.

    For the HTML report: each comes with its file's name, its face and its overlay (drawn at
    the default opacity when it was computed).
    """
    shown = _shown()
    kept = [(key, explanation) for key, explanation in _explanations().items() if key[1] == detector.model_id]
    if not kept:  # nothing explained yet: the Classify page need not import the explainers
        return []
    from deepfake_core.explain import METHODS, at_threshold

    return [
        ExplainedFace(
            file=shown[key][0],
            face=key[5],
            title=METHODS[explanation.method].title,
            explanation=at_threshold(explanation, detector, threshold),
            overlay=shown[key][1],
        )
        for key, explanation in kept
        if key in shown
    ]


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


def explanation_record(explanation: Explanation, face: Face | None = None, *, faces_found: int = 0) -> dict[str, Any]:
    """An explanation's JSON record, as ``deepfake-core explain`` writes it.

    For a face's aligned crop the record also names the face (number, box, landmarks and score in
    photo pixels, the faces found, the crop size and the photo -> crop matrix), so ``--from-json``
    explains the same face of the photo again.
    """
    record = explanation.to_json_dict()
    if face is not None and face.crop is not None and face.matrix is not None:
        record["face"] = face.record(faces_found=faces_found, crop_size=int(explanation.heatmap.shape[0]))
    return record


def legend_strip(scale: Legend) -> np.ndarray:
    """The legend's colour bar as a 256 x 12 image (its 1-pixel strip would be a hairline when stretched)."""
    return np.asarray(Image.fromarray(scale.gradient()).resize((256, 12), Image.Resampling.NEAREST))


def deferred_png(draw: Callable[[], np.ndarray]) -> Callable[[], bytes]:
    """A PNG encoder for ``st.download_button`` that draws only when the button is clicked.

    The page's overlays are display-sized; the file is drawn at the map's own size, as the
    command line writes it, and only for the visitor who asks for it.
    """

    def write() -> bytes:
        from deepfake_core.explain import png_bytes

        return png_bytes(draw())

    return write


def method_title(name: str) -> str:
    """An explanation method's title, for the Methods picker (see :func:`pages.inputs.sample_label` on lambdas)."""
    from deepfake_core.explain import METHODS

    return METHODS[name].title


def face_label(number: int, *, largest: int) -> str:
    """A face's name in the Face picker; bind ``largest`` with ``functools.partial``, not a lambda in the page."""
    return f"Face {number}" + (" (the largest)" if number == largest else "")
