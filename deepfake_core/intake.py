"""The single way deepfake-lens turns untrusted bytes or a path into an RGB image.

Uploads come from strangers, so everything here assumes hostile input:

* the format is detected from the content, never from the file name, and only
  PNG, JPEG, WebP and BMP reach a decoder (fewer parsers, smaller attack surface);
* the declared width and height are checked right after :func:`PIL.Image.open`,
  which reads only the header, so a decompression bomb is refused before any
  pixel memory is allocated;
* the pixels are then fully decoded inside ``try`` with Pillow's
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` left at ``False``, so a truncated file is
  an error instead of a silently grey-filled picture;
* the decoded pixels are turned upright and converted to RGB a band of rows at a
  time, straight into the one array returned, so a 40 MP upload costs the decoded
  image and that array, not several full-size copies;
* every failure becomes an :class:`~deepfake_core.errors.ImageIntakeError`
  whose message tells the user what was found and what is accepted.

Bytes are decoded from memory: uploads are never written to disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeAlias

import numpy as np
import simplejpeg
from PIL import ExifTags, Image

from deepfake_core.errors import ImageIntakeError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MIN_SIDE",
    "SUPPORTED_FORMATS",
    "ImageSource",
    "image_sha256",
    "load_image",
    "read_source_bytes",
]

DEFAULT_MAX_PIXELS: Final = 40_000_000
"""Largest accepted ``width * height``: far above any face photo, far below a bomb."""

DEFAULT_MIN_SIDE: Final = 16
"""Smallest accepted width or height: below this there is no face left to classify."""

SUPPORTED_FORMATS: Final = ("PNG", "JPEG", "WEBP", "BMP")
"""Pillow format names that :func:`load_image` accepts (detected from content)."""

ImageSource: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str]
"""Raw file content (decoded from memory) or a path to a file."""

_ACCEPTED_WORDS: Final = "PNG, JPEG, WebP or BMP"
_MAX_JPEG_SCANS: Final = 64
"""Progressive JPEGs from real encoders have about 10 scans; libjpeg re-walks the whole
image for every scan, so a small file with thousands of scans would decode for minutes."""
_MAX_FILE_BYTES: Final = 512 * 1024 * 1024
"""Refuse to read bigger files from a path: no accepted 40 MP image needs that much."""
_BOMB_FILTER_LOCK: Final = threading.Lock()
"""Serialises the warning-filter swap in :func:`_open_header` (the filter list is process-wide)."""

_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
)

_OTHER_SIGNATURES: Final = (
    # (prefix, what it looks like, reason)
    (b"GIF87a", "a GIF image", "unsupported"),
    (b"GIF89a", "a GIF image", "unsupported"),
    (b"II*\x00", "a TIFF image", "unsupported"),
    (b"MM\x00*", "a TIFF image", "unsupported"),
    (b"\x00\x00\x01\x00", "an ICO icon", "unsupported"),
    (b"8BPS", "a Photoshop (PSD) document", "unsupported"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image", "unsupported"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image", "unsupported"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image", "unsupported"),
    (b"\xff\x0a", "a JPEG XL image", "unsupported"),
    (b"%PDF", "a PDF document", "not_an_image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)", "not_an_image"),
)

_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})

_SIXTEEN_BIT_GREY_MODES: Final = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
"""Pillow 13 opens 16-bit grey PNGs as ``I;16``; older releases used ``I``."""

_ALPHA_MODES: Final = frozenset({"RGBA", "LA", "PA"})

_ORIENTATION_TRANSPOSES: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation value -> the transpose that shows the image upright."""
_SWAPS_SIDES: Final = frozenset(
    {Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90}
)
"""Transposes after which the width is the source's height."""
_FROM_THE_RIGHT: Final = frozenset({Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90})
"""Side-swapping transposes whose first row is the source's last column."""
_FROM_THE_BOTTOM: Final = frozenset({Image.Transpose.ROTATE_180, Image.Transpose.FLIP_TOP_BOTTOM})
"""Transposes whose first row is the source's last row."""
_DIRECT_JPEG_PIXELS: Final = 8_000_000
"""Colour JPEGs of at least this many pixels are decoded by simplejpeg (see :func:`_large_jpeg_to_rgb_array`)."""
_TRANSPOSE_VIEWS: Final = {
    Image.Transpose.FLIP_LEFT_RIGHT: lambda a: a[:, ::-1],
    Image.Transpose.ROTATE_180: lambda a: a[::-1, ::-1],
    Image.Transpose.FLIP_TOP_BOTTOM: lambda a: a[::-1],
    Image.Transpose.TRANSPOSE: lambda a: a.transpose(1, 0, 2),
    Image.Transpose.ROTATE_270: lambda a: a[::-1].transpose(1, 0, 2),
    Image.Transpose.TRANSVERSE: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    Image.Transpose.ROTATE_90: lambda a: a[:, ::-1].transpose(1, 0, 2),
}
"""Each EXIF transpose as a NumPy view of an ``(H, W, 3)`` array (what Pillow's ``transpose`` does)."""
_BAND_BYTES: Final = 4 * 1024 * 1024
"""About how many bytes of RGB rows :func:`_to_rgb_array` converts at a time (~190 rows of a 40 MP photo)."""

_DECODE_ERRORS: Final = (
    OSError,
    ValueError,
    SyntaxError,
    struct.error,
    EOFError,
    ArithmeticError,
    TypeError,
    LookupError,
)
"""What Pillow's parsers and decoders raise on damaged or hostile data."""


def read_source_bytes(source: ImageSource) -> bytes:
    """Return the raw bytes of ``source``: the bytes themselves, or a regular file's content.

    A path that is missing, is a folder, is not a regular file (a pipe, ``/dev/zero``)
    or is larger than any accepted image raises :class:`ImageIntakeError` rather than
    an ``OSError`` or a read that never ends.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(os.fsdecode(os.fspath(source))))
    raise TypeError(f"expected bytes or a path, got {type(source).__name__}")


def image_sha256(source: ImageSource) -> str:
    """Hex SHA-256 of the raw bytes, so every result can be traced to the exact upload."""
    return hashlib.sha256(read_source_bytes(source)).hexdigest()


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
) -> np.ndarray:
    """Decode ``source`` into a C-contiguous ``uint8`` array ``(H, W, 3)`` in RGB order.

    EXIF orientation is applied, transparency is composited onto white, 16-bit
    samples are scaled (not clipped) to 8 bits, palette, 1-bit, grey and CMYK
    images are converted to RGB, and only the first frame of an animation is kept.

    Anything that cannot be turned into such an image raises
    :class:`ImageIntakeError` with a message for the user and a ``reason`` code.
    Pillow's own bomb limit (``Image.MAX_IMAGE_PIXELS``) still applies on top of
    ``max_pixels`` (its warning is raised as an error, see :func:`_open_header`).
    """
    if max_pixels < 1 or min_side < 1:
        raise ValueError(f"max_pixels and min_side must be positive, got {max_pixels} and {min_side}")
    name = _source_name(source)
    data = read_source_bytes(source)
    if not data:
        raise ImageIntakeError(f"{_subject('file', name)} is empty (0 bytes).", reason="empty")
    image_format = _detect_format(data, name)
    if image_format == "JPEG":
        _check_jpeg_scans(data, name)
    with _pillow_errors(image_format, name), _open_header(data, image_format) as image:
        _check_declared_size(image.size, name, max_pixels=max_pixels, min_side=min_side)
        if image_format == "JPEG" and image.mode == "RGB" and image.width * image.height >= _DIRECT_JPEG_PIXELS:
            return _large_jpeg_to_rgb_array(data, image)
        image.load()
        return _to_rgb_array(image, _exif_transpose(image))


def _open_header(data: bytes, image_format: str) -> Image.Image:
    """``Image.open`` (header only, lazy) with Pillow's ``DecompressionBombWarning`` raised as an error.

    :func:`warnings.catch_warnings` swaps the process-wide filter list, so two
    overlapping calls could leave each other's filter installed; intake calls take
    turns here. Only the header parse is inside the lock (milliseconds), never the
    pixel decoding, so one large upload does not hold up other sessions.
    """
    with _BOMB_FILTER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[image_format])


def _source_name(source: ImageSource) -> str | None:
    """The file name to quote in messages (never the full path, which may be private)."""
    if isinstance(source, (str, os.PathLike)):
        return Path(os.fsdecode(os.fspath(source))).name
    return None


def _subject(noun: str, name: str | None, *, article: str = "The") -> str:
    """``The file 'x.png'`` when the name is known, ``The file`` for uploaded bytes."""
    return f"{article} {noun} '{name}'" if name else f"{article} {noun}"


def _read_file(path: Path) -> bytes:
    # O_NONBLOCK: opening a named pipe must not wait for a writer (no effect on regular files).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        with os.fdopen(os.open(path, flags), "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                message = f"'{path.name}' is not a regular file, so it cannot be an image."
                raise ImageIntakeError(message, reason="not_an_image")
            # Bounded read: /proc files and growing files can be bigger than their reported size.
            data = file.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ImageIntakeError(f"The file '{path.name}' does not exist.", reason="not_an_image") from None
    except IsADirectoryError:
        raise ImageIntakeError(f"'{path.name}' is a folder, not an image file.", reason="not_an_image") from None
    except OSError as error:
        message = f"The file '{path.name}' could not be read ({error.strerror or type(error).__name__})."
        raise ImageIntakeError(message, reason="not_an_image") from error
    if len(data) > _MAX_FILE_BYTES:
        message = f"The file '{path.name}' is larger than {_MAX_FILE_BYTES >> 20} MB, too big for an image."
        raise ImageIntakeError(message, reason="too_large")
    return data


def _detect_format(data: bytes, name: str | None) -> str:
    """Return the Pillow format name for ``data``, or raise saying what it looks like instead."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for prefix, image_format in _SIGNATURES:
        if data.startswith(prefix):
            return image_format
    looks_like, reason = _identify_other(data)
    subject = _subject("file", name)
    if looks_like is None:
        message = f"{subject} is not a supported image ({_ACCEPTED_WORDS}) and its content is not recognised."
    else:
        message = f"{subject} is not a supported image ({_ACCEPTED_WORDS}); it looks like {looks_like}."
    raise ImageIntakeError(message, reason=reason)


def _identify_other(data: bytes) -> tuple[str | None, str]:
    """Best guess at what an unaccepted file is, and the matching reason code."""
    for prefix, looks_like, reason in _OTHER_SIGNATURES:
        if data.startswith(prefix):
            return looks_like, reason
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "a HEIC/HEIF image", "unsupported"
        if brand in _AVIF_BRANDS:
            return "an AVIF image", "unsupported"
        return "an MP4/MOV video", "not_an_image"
    if _looks_like_text(data):
        if b"<svg" in data[:4096].lower():
            return "an SVG (vector) image", "unsupported"
        return "a text file", "not_an_image"
    return None, "not_an_image"


def _looks_like_text(data: bytes) -> bool:
    """True if the start of ``data`` is UTF-8 text without control characters other than whitespace."""
    sample = data[:1024]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the sample boundary is still text.
        if error.start < len(sample) - 3:
            return False
        text = sample[: error.start].decode("utf-8")
    return all(char.isprintable() or char in "\t\n\r\f" for char in text)


@contextmanager
def _pillow_errors(image_format: str, name: str | None) -> Iterator[None]:
    """Turn whatever Pillow raises on hostile data into an :class:`ImageIntakeError`."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        message = f"{_subject('image', name)} is too large to decode safely ({_detail(error)})."
        raise ImageIntakeError(message, reason="too_large") from error
    except MemoryError as error:
        message = f"{_subject('image', name)} is too large: there is not enough memory to decode it."
        raise ImageIntakeError(message, reason="too_large") from error
    except _DECODE_ERRORS as error:
        message = (
            f"The image data is truncated or corrupt: {_subject('file', name, article='the')} starts like a "
            f"{image_format} image but cannot be decoded ({_detail(error)}). Re-export or re-upload the image."
        )
        raise ImageIntakeError(message, reason="truncated") from error


_OBJECT_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def _detail(error: BaseException) -> str:
    """A short technical detail to append to a user message.

    Pillow names the buffer it read (``<_io.BytesIO object at 0x7f...>``): the address is dropped,
    so the same file gets the same message in every process (the CLI, the service, a Ray worker).
    """
    text = _OBJECT_ADDRESS.sub(">", str(error)).strip() or "no details"
    return f"{type(error).__name__}: {text[:120]}"


def _check_declared_size(size: tuple[int, int], name: str | None, *, max_pixels: int, min_side: int) -> None:
    """Refuse bombs and crumbs from the header alone, before any pixel is decoded."""
    width, height = size
    if width * height > max_pixels:
        found, limit = _megapixels(width * height, max_pixels)
        message = f"{_subject('image', name)} is {width}x{height} pixels ({found} MP), above the {limit} MP limit."
        raise ImageIntakeError(message, reason="too_large")
    if min(width, height) < min_side:
        message = f"{_subject('image', name)} is {width}x{height} pixels; each side must be at least {min_side} pixels."
        raise ImageIntakeError(message, reason="too_small")


def _check_jpeg_scans(data: bytes, name: str | None) -> None:
    """Refuse "scan bombs" before decoding.

    Counting every start-of-scan marker (FF DA) is enough: entropy-coded data never
    contains it (an FF byte there is always followed by 00 or a restart marker), and
    an embedded EXIF thumbnail adds one or two at most.
    """
    scans = data.count(b"\xff\xda")
    if scans > _MAX_JPEG_SCANS:
        message = (
            f"{_subject('image', name)} is a JPEG with {scans} scans; at most {_MAX_JPEG_SCANS} are accepted "
            "(cameras and editors write about 10), so it is refused as a likely decoding bomb."
        )
        raise ImageIntakeError(message, reason="too_large")


def _megapixels(found: int, limit: int) -> tuple[str, str]:
    """Both pixel counts in MP, with just enough digits to show that they differ (not "40 above 40")."""
    for digits in range(3, 16):
        shown = f"{found / 1_000_000:.{digits}g}", f"{limit / 1_000_000:.{digits}g}"
        if shown[0] != shown[1]:
            break
    return shown


def _exif_transpose(image: Image.Image) -> Image.Transpose | None:
    """The transpose that turns ``image`` upright as its EXIF (or XMP) orientation tag says, if any.

    Not :func:`PIL.ImageOps.exif_transpose`: that also re-serialises the EXIF block,
    which crashes on mistyped tags (fuzz finding), and we never write EXIF back.
    """
    return _ORIENTATION_TRANSPOSES.get(image.getexif().get(ExifTags.Base.Orientation, 1))


def _to_rgb_array(image: Image.Image, transpose: Image.Transpose | None) -> np.ndarray:
    """The decoded ``image``, turned upright by ``transpose``, as a new C-contiguous ``uint8 (H, W, 3)`` RGB array.

    The array is allocated once and filled a band of rows at a time: each band is cropped from
    the source, transposed, converted to RGB and copied in, so the peak is the decoded image,
    the array and one band (~:data:`_BAND_BYTES`). Whole-image ``convert``, ``transpose`` and
    ``np.array`` would each hold another full-size copy at once: over 500 MB beside the
    decoded image for a 40 MP photo. Every conversion here acts pixel by pixel, so converting
    band by band gives the very pixels of converting the whole image.
    """
    width, height = image.size
    if transpose in _SWAPS_SIDES:
        width, height = height, width
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _BAND_BYTES // (3 * width))
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        band = image.crop(_source_box(image.size, transpose, top, bottom))
        if transpose is not None:
            band = band.transpose(transpose)
        pixels[top:bottom] = np.frombuffer(_band_to_rgb(band).tobytes(), dtype=np.uint8).reshape(bottom - top, width, 3)
    return pixels


def _large_jpeg_to_rgb_array(data: bytes, image: Image.Image) -> np.ndarray:
    """A large colour JPEG decoded by simplejpeg straight into the ``(H, W, 3)`` array, after Pillow has checked it.

    Pillow keeps colour pixels at 4 bytes each, so its decode of a 40 MP photo (160 MB) and the
    array it becomes (120 MB) were the Explain page's memory peak; OpenCV's ``imdecode`` holds a
    second full-size copy while it decodes (230 MB in all). simplejpeg decodes into the one array
    with libjpeg-turbo's default (accurate) DCT and smooth upsampling, Pillow's and OpenCV's
    settings, and gives the very same pixels (``tests/test_intake.py`` compares them). It is run
    lenient, so Pillow first decodes the whole stream at an eighth of the size (JPEG's DCT
    scaling: every coefficient is still read, for a few MB), which refuses exactly the files
    Pillow always refused, with its message; only then is the file decoded at full size. A file
    simplejpeg cannot decode although Pillow could (chroma sampling that the TurboJPEG API behind
    it cannot name, and some damage libjpeg reads past; ``benchmarks/fuzz_intake.py
    --compare-jpeg-paths`` looks for them) takes Pillow's own path, so both paths accept, refuse
    and decode alike.
    """
    transpose = _exif_transpose(image)
    width, height = image.size
    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    image.load()
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, strict=False)
    except ValueError:
        pixels = None
    if pixels is None or pixels.shape != (height, width, 3):
        # e.g. sampling factors the TurboJPEG API cannot name (luma 3x1), which libjpeg decodes: Pillow's own path
        with _open_header(data, "JPEG") as whole:
            whole.load()
            return _to_rgb_array(whole, transpose)
    if transpose is None:
        return pixels
    return np.ascontiguousarray(_TRANSPOSE_VIEWS[transpose](pixels))


def _source_box(
    size: tuple[int, int], transpose: Image.Transpose | None, top: int, bottom: int
) -> tuple[int, int, int, int]:
    """The box of the source image that becomes rows ``top:bottom`` of the image turned by ``transpose``.

    Rows of a flipped or half-turned image are source rows (counted from the bottom when
    upside down); rows of a quarter-turned or transposed image are source columns (counted
    from the right when the turn brings the right edge to the top).
    """
    width, height = size
    if transpose in _SWAPS_SIDES:
        if transpose in _FROM_THE_RIGHT:
            return width - bottom, 0, width - top, height
        return top, 0, bottom, height
    if transpose in _FROM_THE_BOTTOM:
        return 0, height - bottom, width, height - top
    return 0, top, width, bottom


def _band_to_rgb(band: Image.Image) -> Image.Image:
    """``band`` in mode RGB: 16-bit grey scaled, transparency flattened onto white, other modes converted."""
    if band.mode in _SIXTEEN_BIT_GREY_MODES:
        band = _sixteen_bit_grey_to_l(band)
    if band.mode in _ALPHA_MODES or "transparency" in band.info:
        return _composite_on_white(band)
    return band if band.mode == "RGB" else band.convert("RGB")


def _sixteen_bit_grey_to_l(image: Image.Image) -> Image.Image:
    """Scale 0..65535 to 0..255 with rounding (Pillow's own conversion clips at 255)."""
    values = np.clip(np.asarray(image), 0, 65535).astype(np.uint32)
    grey = ((values + 128) // 257).astype(np.uint8)
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):
        grey[values == transparent] = 255  # transparent key colour, composited onto white
    return Image.fromarray(grey)


def _composite_on_white(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white, the colour a user sees behind a transparent upload."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
