"""The ASGI app: one loaded detector behind the thesis endpoint, a batch endpoint, a health check and the card.

``POST /deepfake`` takes the thesis app's request unchanged (``curl -F file=@image.jpg
http://host:PORT/deepfake``) and answers JSON: the file, its sha256, the model id and a
verdict per face, with the same fields, rounding and messages as ``deepfake-core predict``
(both go through :func:`deepfake_core.scoring.score_inputs`). A file that cannot be read is
a 4xx JSON error naming the problem; a picture without a face is a 200 answer whose
``error`` says "no face found" and which has no verdict, as on the command line.
``POST /v1/predict`` takes several ``file`` parts and answers one entry per file; a bad
file is an entry with its error and status, and does not fail the others. Both take
``?faces=all|largest|none`` and ``?threshold=P``.

Memory stays bounded however many clients call at once:

* at most ``max_pending`` requests read their bodies at a time; the others wait before
  reading anything (their bytes stay in the network's buffers), and each body is capped
  (:mod:`deepfake_core.service.uploads`);
* decoding and judging run in a worker thread, one file at a time across the whole
  process (an ``anyio`` capacity limiter of one), so at most one decoded photo (up to
  40 MP) and its face crops are in memory, and the event loop keeps answering
  ``/healthz`` meanwhile. The model itself is thread-safe; the queue bounds memory and
  gives each request the machine's cores in turn.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deepfake_core.detector import Detector
from deepfake_core.errors import ImageIntakeError
from deepfake_core.faces.finder import FACE_MODES
from deepfake_core.inputs import InputImage
from deepfake_core.intake import image_sha256, load_image
from deepfake_core.scoring import COLUMNS, FileResult, score_inputs
from deepfake_core.service.uploads import RequestRefused, Upload, UploadLimits, read_uploads

__all__ = ["STATUS_FOR_REASON", "create_app"]

FIELD: Final = "file"
"""The multipart field the thesis app read the image from."""

STATUS_FOR_REASON: Final = {
    "empty": 400,
    "not_an_image": 415,
    "unsupported": 415,
    "too_large": 413,
    "truncated": 422,
    "too_small": 422,
}
"""HTTP status for each :class:`~deepfake_core.errors.ImageIntakeError` ``reason``."""

_FACE_KEYS: Final = tuple(key for key in COLUMNS if key not in ("file", "sha256"))
"""What the answer says per face: every column, so each face has the same keys whatever was judged."""


@dataclass(frozen=True)
class _Refusal:
    """An upload that image intake refused: the command line's message, intake's reason code, the HTTP status."""

    file: str
    error: str
    reason: str
    status: int

    def to_json(self) -> dict:
        return {"file": self.file, "error": self.error, "reason": self.reason}


def create_app(detector: Detector, *, limits: UploadLimits | None = None, max_pending: int = 4) -> Starlette:
    """The service around an already loaded ``detector`` (loaded once, shared by every request).

    ``limits`` caps each request's uploads (default :class:`UploadLimits`); ``max_pending``
    is how many requests may hold their uploads in memory at once.
    """
    if max_pending < 1:
        raise ValueError(f"max_pending must be at least 1, got {max_pending}")
    service = _Service(detector, limits or UploadLimits())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict]:
        # Made here, inside the server's event loop, which they belong to.
        yield {"turn": anyio.CapacityLimiter(1), "pending": anyio.Semaphore(max_pending)}

    routes = [
        Route("/deepfake", service.deepfake, methods=["POST"]),
        Route("/v1/predict", service.predict, methods=["POST"]),
        Route("/healthz", service.healthz, methods=["GET"]),
        Route("/v1/model", service.model, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={RequestRefused: _refused})


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    """A refused request as JSON (registered for :class:`RequestRefused` only)."""
    status = exc.status if isinstance(exc, RequestRefused) else 500
    return JSONResponse({"error": str(exc)}, status_code=status)


class _Service:
    """The endpoints, around one detector."""

    def __init__(self, detector: Detector, limits: UploadLimits) -> None:
        self.detector = detector
        self.limits = limits

    async def deepfake(self, request: Request) -> JSONResponse:
        """One image (the thesis' request): its verdicts, or a 4xx error when it cannot be read."""
        faces, threshold = _options(request)
        async with request.state.pending:
            (upload,) = await read_uploads(request, field=FIELD, max_files=1, limits=self.limits)
            outcome = await self._judge(request, upload, faces, threshold)
        if isinstance(outcome, _Refusal):
            return JSONResponse(outcome.to_json(), status_code=outcome.status)
        return JSONResponse(self._file_json(outcome))

    async def predict(self, request: Request) -> JSONResponse:
        """Several images: one entry per file, in order; ``failed`` counts the files without a verdict."""
        faces, threshold = _options(request)
        async with request.state.pending:
            uploads = await read_uploads(request, field=FIELD, max_files=self.limits.max_files, limits=self.limits)
            outcomes = [await self._judge(request, upload, faces, threshold) for upload in uploads]
        entries = [
            {**outcome.to_json(), "status": outcome.status}
            if isinstance(outcome, _Refusal)
            else self._file_json(outcome)
            for outcome in outcomes
        ]
        failed = sum(isinstance(outcome, _Refusal) or not outcome.judged for outcome in outcomes)
        return JSONResponse({"model_id": self.detector.model_id, "files": entries, "failed": failed})

    async def healthz(self, _: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model_id": self.detector.model_id})

    async def model(self, _: Request) -> JSONResponse:
        """The model card: what the model was trained on, its contract, threshold and limitations."""
        return JSONResponse(self.detector.card.to_dict())

    async def _judge(
        self, request: Request, upload: Upload, faces: str, threshold: float | None
    ) -> FileResult | _Refusal:
        """Decode and judge ``upload`` in a worker thread, when its turn comes (one file at a time)."""
        judge = partial(self._judge_now, upload, faces=faces, threshold=threshold)
        return await anyio.to_thread.run_sync(judge, limiter=request.state.turn)

    def _judge_now(self, upload: Upload, *, faces: str, threshold: float | None) -> FileResult | _Refusal:
        try:
            image = load_image(upload.data)
        except ImageIntakeError as exc:
            return _Refusal(upload.name, f"{upload.name}: {exc}", exc.reason, STATUS_FOR_REASON[exc.reason])
        item = InputImage(Path(upload.name), image=image, sha256=image_sha256(upload.data))
        (result,) = score_inputs(self.detector, [item], faces=faces, threshold=threshold)
        return result

    def _file_json(self, result: FileResult) -> dict:
        """A judged file: ``faces`` holds the command line's row per face, less ``file`` and ``sha256`` (said once)."""
        return {
            "file": result.file,
            "sha256": result.sha256,
            "model_id": self.detector.model_id,
            "faces": [{key: face.get(key) for key in _FACE_KEYS} for face in result.faces],
            "error": result.error,
        }


def _options(request: Request) -> tuple[str, float | None]:
    """``?faces=`` (default ``all``) and ``?threshold=`` (default: the card's), checked before the body is read."""
    faces = request.query_params.get("faces", "all")
    if faces not in FACE_MODES:
        raise RequestRefused(f"faces must be one of {', '.join(FACE_MODES)}, not {faces[:40]!r}.", status=400)
    text = request.query_params.get("threshold")
    if text is None:
        return faces, None
    try:
        threshold = float(text)
    except ValueError:
        threshold = math.nan
    if not 0.0 <= threshold <= 1.0:
        raise RequestRefused(f"threshold must be a number from 0 to 1, not {text[:40]!r}.", status=400)
    return faces, threshold
