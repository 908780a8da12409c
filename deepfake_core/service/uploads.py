"""Multipart uploads read into memory, within limits checked while the body streams in.

Why not Starlette's ``request.form()``: its parser spools every file part over 1 MB
to a temporary file on disk, and only checks the size of non-file fields. Uploads
come from strangers and must never touch the disk, and a body must be refused as
soon as it is too large, not after it has been stored. So this module drives
python-multipart's streaming parser itself:

* a declared ``Content-Length`` above the limit is refused (413) before one byte
  of the body is read;
* the bytes that do arrive are counted chunk by chunk, so a chunked body (no
  ``Content-Length``) or one that lies about its length is cut off at the limit too;
* only the parts named ``field`` are kept, each in a ``bytearray`` that may not
  grow past ``max_file_bytes``; other parts are parsed past and dropped;
* more than ``max_files`` such parts, a malformed or unfinished multipart body, or
  no file at all is refused with a message that says what to send instead.

A request therefore holds at most ``max_files * max_file_bytes`` bytes of uploads
in memory (plus a few kilobytes of part headers), and nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from deepfake_core.errors import DeepfakeLensError

__all__ = ["RequestRefused", "Upload", "UploadLimits", "read_uploads"]

_PART_OVERHEAD: Final = 16 * 1024
"""Bytes allowed per part on top of its content: boundary line and part headers (python-multipart caps
each header line at about 4 KB and a part at 8 header lines, so real clients stay far below)."""

_EXAMPLE: Final = "e.g. curl -F {0}=@image.jpg"


class RequestRefused(DeepfakeLensError):
    """The request cannot be served as sent; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the client sent it (without any folder part) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class UploadLimits:
    """How much one request may send: ``max_files`` images of at most ``max_file_bytes`` each.

    The default per-image limit is the dashboard's (10 MB, ``.streamlit/config.toml``); the
    pixel limits (40 MP, 16 px per side) are image intake's, the same as for the command line.
    """

    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 16

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1 or self.max_files < 1:
            raise ValueError(f"limits must be positive, got {self.max_file_bytes} bytes and {self.max_files} files")

    def body_bytes(self, files: int) -> int:
        """The largest request body accepted when ``files`` images may be sent."""
        return files * (self.max_file_bytes + _PART_OVERHEAD)


async def read_uploads(request: Request, *, field: str, max_files: int, limits: UploadLimits) -> list[Upload]:
    """The files sent in the multipart field ``field`` (1 to ``max_files`` of them), read into memory.

    Raises :class:`RequestRefused` (415 not multipart, 413 too large or too many files,
    400 malformed or no file) without reading more of the body than the limit allows.
    """
    boundary = _boundary(request, field)
    limit = limits.body_bytes(max_files)
    too_large = RequestRefused(
        f"The request body is larger than {_megabytes(limit)}: send at most {max_files} image(s) of up to "
        f"{_megabytes(limits.max_file_bytes)} each.",
        status=413,
    )
    if _declared_length(request) > limit:
        raise too_large
    parts = _KeptParts(field, max_files=max_files, max_file_bytes=limits.max_file_bytes)
    parser = MultipartParser(boundary, parts.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large
            parser.write(chunk)
    except MultipartParseError as exc:
        raise RequestRefused(f"The multipart body is malformed ({exc}).", status=400) from exc
    if not parts.ended:
        raise RequestRefused("The multipart body ended before its closing boundary (an incomplete upload).", status=400)
    if not parts.uploads:
        raise RequestRefused(
            f"No image: send it in the multipart field '{field}' ({_EXAMPLE.format(field)}).", status=400
        )
    return parts.uploads


def _boundary(request: Request, field: str) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise RequestRefused(
            f"Send the image as multipart/form-data in the field '{field}' ({_EXAMPLE.format(field)}).", status=415
        )
    return options[b"boundary"]


def _declared_length(request: Request) -> int:
    """The ``Content-Length`` header's value (0 when absent: a chunked body is counted as it arrives)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return 0
    if not declared.isdigit():
        raise RequestRefused(f"The Content-Length header is not a number ({declared[:40]!r}).", status=400)
    return int(declared)


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):.3g} MB"


class _KeptParts:
    """python-multipart callbacks that keep the parts named ``field`` in memory, within the limits."""

    def __init__(self, field: str, *, max_files: int, max_file_bytes: int) -> None:
        self._field = field.encode()
        self._max_files = max_files
        self._max_file_bytes = max_file_bytes
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._name = ""
        self._data: bytearray | None = None
        """The current part's content, or ``None`` while a part that is not kept goes past."""
        self.uploads: list[Upload] = []
        self.ended = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._disposition, self._data = b"", None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != self._field:
            return
        if len(self.uploads) == self._max_files:
            raise RequestRefused(f"Too many files: send at most {self._max_files} per request.", status=413)
        sent = options.get(b"filename", b"").decode("utf-8", errors="replace")
        self._name = PurePosixPath(sent.replace("\\", "/")).name or "upload"
        self._data = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._data is None:
            return
        if len(self._data) + (end - start) > self._max_file_bytes:
            raise RequestRefused(
                f"The file '{self._name}' is larger than {_megabytes(self._max_file_bytes)}, the limit per image.",
                status=413,
            )
        self._data += data[start:end]

    def _part_end(self) -> None:
        if self._data is not None:
            self.uploads.append(Upload(self._name, bytes(self._data)))
            self._data = None

    def _end(self) -> None:
        self.ended = True
