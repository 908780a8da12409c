"""Fuzz :func:`deepfake_core.intake.load_image` with mutated images for a bounded time.

Valid PNG, JPEG, WebP and BMP files are generated here, then mutated (bit flips,
byte insertions and deletions, truncation, splicing, corrupted header fields such
as huge PNG IHDR / JPEG SOF / BMP / WebP dimensions) or replaced by random bytes.
Every case must either return a C-contiguous ``uint8 (H, W, 3)`` array within the
default size limits or raise ``ImageIntakeError``; anything else (another
exception, a bad array, an escaped ``DecompressionBombWarning``, a case slower
than ``--slow-seconds``, the process passing ``--max-rss-mb``) is a *finding*:
its input is saved under ``--findings-dir`` and the run goes on.

With ``--compare-jpeg-paths`` every JPEG case is decoded a second time the way a colour JPEG of
8 MP or more is (simplejpeg after Pillow's check, instead of Pillow alone); refusing, accepting or
decoding differently from the first is a finding.

A case that hangs cannot be interrupted from Python, so a watchdog thread saves
its input and ends the process (exit status 3) after ``--hang-seconds``;
:mod:`faulthandler` dumps the stack if even the watchdog cannot run.

Usage::

    python benchmarks/fuzz_intake.py --seconds 600 --seed 1
    python benchmarks/fuzz_intake.py --seconds 600 --seed 1 --compare-jpeg-paths
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import io
import os
import random
import resource
import struct
import sys
import tempfile
import threading
import time
import traceback
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, PngImagePlugin

from deepfake_core import intake
from deepfake_core.errors import ImageIntakeError
from deepfake_core.intake import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, load_image

REASONS = frozenset({"empty", "not_an_image", "truncated", "too_large", "too_small", "unsupported"})
INTERESTING_SIZES = (0, 1, 2, 15, 16, 17, 255, 256, 4096, 6324, 6325, 9459, 13377, 16383, 16384, 65535, 65536)
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
EXAMPLES_PER_SIGNATURE = 5

Mutator = Callable[[random.Random, bytes, list["Seed"]], bytes]


@dataclass(frozen=True)
class Seed:
    """A valid image file to mutate, named after its format and mode."""

    name: str
    data: bytes


@dataclass
class Stats:
    """Running totals for the final report."""

    cases: int = 0
    accepted: int = 0
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)
    warnings: collections.Counter[str] = field(default_factory=collections.Counter)
    findings: collections.Counter[str] = field(default_factory=collections.Counter)
    slowest_ms: float = 0.0
    slowest_label: str = ""
    rss_flagged: bool = False


# --------------------------------------------------------------------------- seeds


def _picture(rng: random.Random, mode: str) -> Image.Image:
    """A small gradient-plus-noise picture, so the encoders produce realistic streams."""
    width, height = rng.randint(16, 80), rng.randint(16, 80)
    noise = np.frombuffer(rng.randbytes(width * height * 3), dtype=np.uint8).reshape(height, width, 3)
    ramp = np.linspace(0, 200, width, dtype=np.uint16)[None, :, None]
    pixels = ((noise // 4).astype(np.uint16) + ramp).clip(0, 255).astype(np.uint8)
    return Image.fromarray(pixels).convert(mode)


def _encode(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def _exif(orientation: int) -> Image.Exif:
    """EXIF with sub-IFDs, so mutations reach the parser and the re-serialisation after rotating."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "fuzz camera"
    exif[ExifTags.Base.XResolution] = 72.0
    exif[ExifTags.Base.DateTime] = "2024:01:01 00:00:00"
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00a comment"
    exif_ifd[ExifTags.Base.ExposureTime] = 0.01
    gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps_ifd[ExifTags.GPS.GPSLatitude] = (52.0, 13.0, 0.5)
    return exif


def _png_metadata() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "fuzz")
    info.add_text("Comment", "compressed " * 20, zip=True)
    info.add_itxt("Description", "international", lang="en", tkey="Description")
    return info


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_rgb16(rng: random.Random) -> bytes:
    """A 16-bit RGB PNG, which Pillow cannot write itself."""
    width, height = rng.randint(16, 40), rng.randint(16, 40)
    row_bytes = width * 6
    raw = b"".join(b"\x00" + rng.randbytes(row_bytes) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    chunks = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _animation(rng: random.Random, image_format: str, mode: str) -> bytes:
    frames = [_picture(rng, mode) for _ in range(3)]
    frames = [frame.resize(frames[0].size) for frame in frames]
    return _encode(frames[0], image_format, save_all=True, append_images=frames[1:], duration=50, loop=0)


def make_seeds(rng: random.Random) -> list[Seed]:
    """Valid files in every mode and variant :func:`load_image` is meant to handle."""
    palette = _picture(rng, "RGB").quantize(16)
    palette.info["transparency"] = 0
    grey16 = Image.fromarray(np.asarray(_picture(rng, "L"), dtype=np.uint16) * 257)
    icc = rng.randbytes(300)  # not a valid profile: load_image must not care
    metadata = {"icc_profile": icc, "dpi": (300, 300)}
    return [
        Seed("png-rgb", _encode(_picture(rng, "RGB"), "PNG")),
        Seed("png-rgba", _encode(_picture(rng, "RGBA"), "PNG")),
        Seed("png-l", _encode(_picture(rng, "L"), "PNG")),
        Seed("png-la", _encode(_picture(rng, "LA"), "PNG")),
        Seed("png-p-transparent", _encode(palette, "PNG")),
        Seed("png-1", _encode(_picture(rng, "1"), "PNG")),
        Seed("png-i16", _encode(grey16, "PNG")),
        Seed("png-rgb16", _png_rgb16(rng)),
        Seed("png-exif", _encode(_picture(rng, "RGB"), "PNG", exif=_exif(6))),
        Seed("png-metadata", _encode(_picture(rng, "RGB"), "PNG", pnginfo=_png_metadata(), **metadata)),
        Seed("apng", _animation(rng, "PNG", "RGBA")),
        Seed("jpeg-rgb", _encode(_picture(rng, "RGB"), "JPEG", quality=90)),
        Seed("jpeg-progressive", _encode(_picture(rng, "RGB"), "JPEG", progressive=True)),
        Seed("jpeg-l", _encode(_picture(rng, "L"), "JPEG")),
        Seed("jpeg-cmyk", _encode(_picture(rng, "CMYK"), "JPEG")),
        Seed("jpeg-exif", _encode(_picture(rng, "RGB"), "JPEG", exif=_exif(8))),
        Seed("jpeg-metadata", _encode(_picture(rng, "RGB"), "JPEG", comment="fuzz", **metadata)),
        Seed("jpeg-restarts", _encode(_picture(rng, "RGB"), "JPEG", restart_marker_blocks=2, subsampling=0)),
        Seed("mpo", _animation(rng, "MPO", "RGB")),
        Seed("webp-lossy", _encode(_picture(rng, "RGB"), "WEBP", quality=80)),
        Seed("webp-lossless-rgba", _encode(_picture(rng, "RGBA"), "WEBP", lossless=True)),
        Seed("webp-exif", _encode(_picture(rng, "RGB"), "WEBP", exif=_exif(3), icc_profile=icc, xmp=b"<x/>")),
        Seed("webp-animated", _animation(rng, "WEBP", "RGB")),
        Seed("bmp-rgb", _encode(_picture(rng, "RGB"), "BMP")),
        Seed("bmp-rgba", _encode(_picture(rng, "RGBA"), "BMP")),
        Seed("bmp-p", _encode(_picture(rng, "P"), "BMP")),
        Seed("bmp-1", _encode(_picture(rng, "1"), "BMP")),
    ]


# --------------------------------------------------------------------------- mutators


def _position(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def flip_bits(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    mutable = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        index = rng.randrange(len(mutable))
        mutable[index] ^= 1 << rng.randrange(8)
    return bytes(mutable)


def set_bytes(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    mutable = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        mutable[rng.randrange(len(mutable))] = rng.choice((*INTERESTING_BYTES, rng.randrange(256)))
    return bytes(mutable)


def insert_bytes(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    at = _position(rng, data)
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


def delete_bytes(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    at = _position(rng, data)
    return data[:at] + data[at + rng.randint(1, 64) :]


def duplicate_range(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    start = _position(rng, data)
    piece = data[start : start + rng.randint(1, 256)]
    at = _position(rng, data)
    return data[:at] + piece * rng.randint(1, 4) + data[at:]


def truncate(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    return data[: rng.randrange(len(data))]


def splice(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    other = rng.choice(seeds).data
    return data[: _position(rng, data)] + other[_position(rng, other) :]


def random_bytes(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    return rng.randbytes(rng.randint(0, 2048))


def signature_then_random(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    return data[: rng.choice((2, 3, 8, 12, 16, 30))] + rng.randbytes(rng.randint(0, 512))


def repeat_jpeg_scan(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    """Repeat a JPEG's last scan: many scans make libjpeg re-walk the image ("scan bomb")."""
    start, end = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    if not 0 < start < end:
        return data
    return data[:end] + data[start:end] * rng.randint(1, 120) + data[end:]


PNG_CHUNK_TYPES = (b"tEXt", b"zTXt", b"iTXt", b"iCCP", b"eXIf", b"tRNS", b"PLTE", b"gAMA", b"sRGB", b"pHYs")
PNG_CHUNK_TYPES += (b"sBIT", b"bKGD", b"acTL", b"fcTL", b"fdAT", b"IHDR", b"IDAT", b"IEND", b"cICP", b"caBX")
JPEG_MARKERS = (0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xFE, 0xDB, 0xC4, 0xDD, 0xC0, 0xC2, 0xDA, 0xDC)
WEBP_CHUNK_TYPES = (b"ICCP", b"EXIF", b"XMP ", b"ANIM", b"ANMF", b"ALPH", b"VP8X", b"VP8 ", b"VP8L")


def _payload(rng: random.Random, seeds: list[Seed]) -> bytes:
    """Random bytes, zlib data, or part of a real file (EXIF blocks, headers) as a chunk payload."""
    choice = rng.randrange(4)
    if choice == 0:
        return rng.randbytes(rng.randint(0, 64))
    if choice == 1:
        return rng.randbytes(rng.randint(0, 12)) + b"\x00\x00" + zlib.compress(rng.randbytes(rng.randint(0, 200)))
    if choice == 2:
        return b"Exif\x00\x00" + flip_bits(rng, _exif(rng.randint(0, 9)).tobytes(), seeds)
    other = rng.choice(seeds).data
    start = _position(rng, other)
    return other[start : start + rng.randint(1, 300)]


def insert_chunk(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    """Insert a well-formed chunk or segment of a random kind, so the metadata parsers run on junk."""
    payload = _payload(rng, seeds)
    if data.startswith(b"\x89PNG"):
        at = 8 + 25 * (rng.random() < 0.8)  # after the signature or after IHDR
        return data[:at] + _png_chunk(rng.choice(PNG_CHUNK_TYPES), payload) + data[at:]
    if data.startswith(b"\xff\xd8"):
        segment = bytes((0xFF, rng.choice(JPEG_MARKERS))) + struct.pack(">H", len(payload[:65533]) + 2)
        at = rng.choice((2, _position(rng, data)))
        return data[:at] + segment + payload[:65533] + data[at:]
    if data.startswith(b"RIFF"):
        chunk = rng.choice(WEBP_CHUNK_TYPES) + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) % 2)
        at = rng.choice((12, 30, _position(rng, data)))
        return data[:at] + chunk + data[at:]
    return data


def _mutated_exif(rng: random.Random) -> bytes:
    """A TIFF-structured EXIF block (no ``Exif`` prefix) with retyped, recounted or moved entries."""
    tiff = bytearray(_exif(rng.randint(0, 9)).tobytes()[6:])
    byte_order = "<" if tiff.startswith(b"II") else ">"
    (ifd_offset,) = struct.unpack_from(byte_order + "I", tiff, 4)
    (entries,) = struct.unpack_from(byte_order + "H", tiff, ifd_offset)
    for entry in range(entries):
        at = ifd_offset + 2 + 12 * entry
        field = rng.choice(("type", "count", "value", None, None))
        if field == "type":
            struct.pack_into(byte_order + "H", tiff, at + 2, rng.randrange(15))
        elif field == "count":
            struct.pack_into(byte_order + "I", tiff, at + 4, rng.choice((0, 1, 2, 3, 255, 2**31, rng.getrandbits(32))))
        elif field == "value":
            struct.pack_into(byte_order + "I", tiff, at + 8, rng.choice((0, 8, len(tiff), rng.getrandbits(32))))
    return bytes(tiff)


def replace_exif(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    """Give a JPEG or PNG a structurally damaged EXIF block: ``getexif`` must survive it."""
    tiff = _mutated_exif(rng)
    if data.startswith(b"\xff\xd8"):
        payload = b"Exif\x00\x00" + tiff
        return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    if data.startswith(b"\x89PNG"):
        return data[:33] + _png_chunk(b"eXIf", tiff) + data[33:]
    return data


def _dimension(rng: random.Random, bits: int) -> int:
    value = rng.choice((*INTERESTING_SIZES, rng.getrandbits(bits)))
    return value & ((1 << bits) - 1)


def corrupt_header(rng: random.Random, data: bytes, seeds: list[Seed]) -> bytes:
    """Rewrite the dimension (and related) fields of whichever format ``data`` is."""
    mutable = bytearray(data)
    if data.startswith(b"\x89PNG") and len(data) >= 33:
        _corrupt_png_header(rng, mutable)
    elif data.startswith(b"\xff\xd8"):
        _corrupt_jpeg_header(rng, mutable)
    elif data.startswith(b"BM") and len(data) >= 54:
        _corrupt_bmp_header(rng, mutable)
    elif data.startswith(b"RIFF") and len(data) >= 30:
        _corrupt_webp_header(rng, mutable)
    return bytes(mutable)


def _corrupt_png_header(rng: random.Random, data: bytearray) -> None:
    struct.pack_into(">II", data, 16, _dimension(rng, 32), _dimension(rng, 32))
    if rng.random() < 0.3:
        data[24] = rng.choice((1, 2, 4, 8, 16, rng.randrange(256)))  # bit depth
        data[25] = rng.choice((0, 2, 3, 4, 6, rng.randrange(256)))  # colour type
    if rng.random() < 0.2:
        data[28] = rng.choice((0, 1))  # interlace
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))


def _corrupt_jpeg_header(rng: random.Random, data: bytearray) -> None:
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        at = data.find(marker)
        if 0 <= at <= len(data) - 10:
            struct.pack_into(">HH", data, at + 5, _dimension(rng, 16), _dimension(rng, 16))
            if rng.random() < 0.2:
                data[at + 9] = rng.choice((0, 1, 3, 4, 255))  # component count
            return


def _corrupt_bmp_header(rng: random.Random, data: bytearray) -> None:
    width = _dimension(rng, 31)
    height = _dimension(rng, 31) * rng.choice((1, -1))
    struct.pack_into("<ii", data, 18, width, height)
    if rng.random() < 0.3:
        struct.pack_into("<H", data, 28, rng.choice((0, 1, 4, 8, 16, 24, 32, 64)))  # bits per pixel
    if rng.random() < 0.3:
        struct.pack_into("<I", data, 30, rng.randrange(8))  # compression
    if rng.random() < 0.2:
        struct.pack_into("<I", data, 10, rng.choice((0, 14, 54, len(data), 2**31)))  # pixel offset


def _corrupt_webp_header(rng: random.Random, data: bytearray) -> None:
    kind = bytes(data[12:16])
    if kind == b"VP8X":
        data[24:27] = _dimension(rng, 24).to_bytes(3, "little")
        data[27:30] = _dimension(rng, 24).to_bytes(3, "little")
    elif kind == b"VP8 ":
        struct.pack_into("<HH", data, 26, _dimension(rng, 16), _dimension(rng, 16))
    elif kind == b"VP8L" and len(data) >= 25:
        bits = struct.unpack_from("<I", data, 21)[0] & ~0x0FFFFFFF
        struct.pack_into("<I", data, 21, bits | _dimension(rng, 14) | _dimension(rng, 14) << 14)
    if rng.random() < 0.2:
        struct.pack_into("<I", data, 4, rng.choice((0, 4, len(data), 2**32 - 1)))  # RIFF size


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every PNG chunk CRC, so mutations inside chunks reach the chunk parsers."""
    if not data.startswith(b"\x89PNG"):
        return data
    mutable = bytearray(data)
    at = 8
    while at + 12 <= len(mutable):
        length = struct.unpack_from(">I", mutable, at)[0]
        end = at + 8 + length
        if end + 4 > len(mutable):
            break
        struct.pack_into(">I", mutable, end, zlib.crc32(bytes(mutable[at + 4 : end])))
        at = end + 4
    return bytes(mutable)


MUTATOR_WEIGHTS: dict[Mutator, int] = {
    flip_bits: 20,
    set_bytes: 15,
    insert_bytes: 8,
    delete_bytes: 8,
    duplicate_range: 6,
    truncate: 10,
    splice: 6,
    corrupt_header: 15,
    insert_chunk: 10,
    replace_exif: 6,
    repeat_jpeg_scan: 3,
    random_bytes: 3,
    signature_then_random: 4,
}


def make_case(rng: random.Random, seeds: list[Seed]) -> tuple[bytes, str]:
    """One fuzz input and a label describing how it was made."""
    seed = rng.choice(seeds)
    data = seed.data
    names = []
    mutators = rng.choices(list(MUTATOR_WEIGHTS), list(MUTATOR_WEIGHTS.values()), k=rng.choice((1, 1, 1, 2, 3)))
    for mutator in mutators:
        data = mutator(rng, data, seeds) if data else data
        names.append(mutator.__name__)
    if rng.random() < 0.5:
        data = fix_png_crcs(data)
    return data, f"{seed.name} <- {'+'.join(names)}"


# --------------------------------------------------------------------------- running


class Watchdog:
    """Saves the running case and ends the process if one case runs for too long."""

    def __init__(self, findings_dir: Path, hang_seconds: float) -> None:
        self.findings_dir = findings_dir
        self.hang_seconds = hang_seconds
        self.data = b""
        self.label = ""
        self.started: float | None = None
        threading.Thread(target=self._watch, daemon=True).start()
        faulthandler.enable()

    def begin(self, data: bytes, label: str) -> None:
        self.data, self.label, self.started = data, label, time.monotonic()

    def end(self) -> None:
        self.started = None

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            started = self.started
            if started is not None and time.monotonic() - started > self.hang_seconds:
                path = self.findings_dir / "hang.bin"
                path.write_bytes(self.data)
                print(f"FINDING hang > {self.hang_seconds} s ({self.label}); input saved to {path}", flush=True)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(3)


def check_output(result: object) -> str | None:
    """Return why ``result`` breaks load_image's contract, or ``None`` if it is fine."""
    if not isinstance(result, np.ndarray):
        return f"returned {type(result).__name__}"
    if result.dtype != np.uint8 or result.ndim != 3 or result.shape[2] != 3:
        return f"returned dtype {result.dtype} shape {result.shape}"
    if not result.flags.c_contiguous:
        return "returned a non-contiguous array"
    height, width = result.shape[:2]
    if min(height, width) < DEFAULT_MIN_SIDE or height * width > DEFAULT_MAX_PIXELS:
        return f"returned {width}x{height} pixels, outside the limits"
    return None


def crash_signature(error: BaseException) -> str:
    """A finding's signature for an unexpected exception: its type and the line that raised it."""
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"crash {type(error).__name__} at {Path(where.filename).name}:{where.lineno}"


def large_jpeg_disagreement(data: bytes, result: np.ndarray | None) -> str | None:
    """How decoding ``data`` as a photo of 8 MP or more is decoded disagrees with ``result``, or ``None``.

    The generated images are small, so they take Pillow's path; large colour JPEGs take another
    decoder (see ``deepfake_core.intake._large_jpeg_to_rgb_array``), which must accept, refuse
    and decode exactly as Pillow's path does.
    """
    saved = intake._DIRECT_JPEG_PIXELS
    intake._DIRECT_JPEG_PIXELS = 1
    try:
        other = load_image(data)
    except ImageIntakeError:
        other = None
    finally:
        intake._DIRECT_JPEG_PIXELS = saved
    if (result is None) != (other is None):
        return f"large-JPEG path {'refuses' if other is None else 'accepts'} what Pillow's path does not"
    if result is not None and not np.array_equal(result, other):
        return "large-JPEG path gives other pixels"
    return None


def run_case(data: bytes, stats: Stats, *, compare_jpeg_paths: bool = False) -> str | None:
    """Run load_image on ``data``; return a finding signature, or ``None`` if it behaved.

    With ``compare_jpeg_paths``, a JPEG is also decoded as a large photo would be
    (:func:`large_jpeg_disagreement`).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = load_image(data)
        except ImageIntakeError as error:
            if error.reason not in REASONS or not str(error):
                return f"bad-error reason={error.reason!r}"
            stats.rejected[error.reason] += 1
            result = None
        except Exception as error:  # every other exception is what we are looking for
            return crash_signature(error)
        if compare_jpeg_paths and data.startswith(b"\xff\xd8\xff"):
            try:
                disagreement = large_jpeg_disagreement(data, result)
            except Exception as error:
                return f"{crash_signature(error)} (large-JPEG path)"
            if disagreement is not None:
                return disagreement
    for warning in caught:
        if issubclass(warning.category, Image.DecompressionBombWarning):
            return "escaped DecompressionBombWarning"
        stats.warnings[warning.category.__name__] += 1
    if result is None:
        return None
    stats.accepted += 1
    problem = check_output(result)
    return f"bad-output {problem}" if problem else None


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def save_finding(findings_dir: Path, stats: Stats, signature: str, data: bytes, label: str) -> None:
    """Count the finding; save (and print) only the first few inputs of each kind."""
    stats.findings[signature] += 1
    count = stats.findings[signature]
    if count > EXAMPLES_PER_SIGNATURE:
        return
    print(f"FINDING [{signature}] from {label}", flush=True)
    slug = "".join(char if char.isalnum() else "-" for char in signature)[:60]
    stem = findings_dir / f"{len(stats.findings):03d}-{slug}-{count}"
    stem.with_suffix(".bin").write_bytes(data)
    stem.with_suffix(".txt").write_text(f"{signature}\n{label}\n")


def fuzz(args: argparse.Namespace, findings_dir: Path) -> Stats:
    rng = random.Random(args.seed)
    seeds = make_seeds(rng)
    stats = Stats()
    watchdog = Watchdog(findings_dir, args.hang_seconds)
    deadline = time.monotonic() + args.seconds
    next_progress = time.monotonic() + 60
    while time.monotonic() < deadline:
        data, label = make_case(rng, seeds)
        watchdog.begin(data, label)
        started = time.perf_counter()
        signature = run_case(data, stats, compare_jpeg_paths=args.compare_jpeg_paths)
        elapsed_ms = (time.perf_counter() - started) * 1000
        watchdog.end()
        stats.cases += 1
        if elapsed_ms > stats.slowest_ms:
            stats.slowest_ms, stats.slowest_label = elapsed_ms, label
        if signature is None and elapsed_ms > args.slow_seconds * 1000:
            signature = f"slow case > {args.slow_seconds} s"
        if signature is None and not stats.rss_flagged and peak_rss_mb() > args.max_rss_mb:
            stats.rss_flagged = True
            signature = f"peak RSS above {args.max_rss_mb} MB"
        if signature is not None:
            save_finding(findings_dir, stats, signature, data, label)
        if time.monotonic() >= next_progress:
            next_progress += 60
            print(f"... {stats.cases} cases, {sum(stats.findings.values())} findings", flush=True)
    return stats


def report(stats: Stats, elapsed: float, args: argparse.Namespace, findings_dir: Path) -> None:
    rejected = ", ".join(f"{reason}={count}" for reason, count in sorted(stats.rejected.items()))
    warned = ", ".join(f"{name}={count}" for name, count in sorted(stats.warnings.items())) or "none"
    print(f"cases run:        {stats.cases}")
    print(f"cases/s:          {stats.cases / elapsed:.1f}")
    print(f"accepted:         {stats.accepted}")
    print(f"rejected:         {sum(stats.rejected.values())} ({rejected})")
    print(f"warnings (info):  {warned}")
    print(f"findings:         {sum(stats.findings.values())} ({len(stats.findings)} distinct) in {findings_dir}")
    for signature, count in stats.findings.most_common():
        print(f"    {count:6d}  {signature}")
    print(f"slowest case:     {stats.slowest_ms:.1f} ms ({stats.slowest_label})")
    print(f"peak RSS:         {peak_rss_mb():.1f} MB (bound {args.max_rss_mb} MB)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="how long to fuzz (default: 600)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    parser.add_argument("--max-rss-mb", type=float, default=1500, help="peak RSS that counts as a finding")
    parser.add_argument("--findings-dir", type=Path, default=None, help="where to save findings (default: temp dir)")
    parser.add_argument("--slow-seconds", type=float, default=10, help="a case slower than this is a finding")
    parser.add_argument("--hang-seconds", type=float, default=60, help="a case this slow ends the run as a hang")
    parser.add_argument(
        "--compare-jpeg-paths",
        action="store_true",
        help="decode every JPEG case again as a photo of 8 MP or more is decoded; any difference is a finding",
    )
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = time.time_ns() % 2**32
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    findings_dir = args.findings_dir or Path(tempfile.mkdtemp(prefix="fuzz-intake-"))
    findings_dir.mkdir(parents=True, exist_ok=True)
    print(f"fuzz_intake: seed={args.seed} seconds={args.seconds:g} findings-dir={findings_dir}", flush=True)
    started = time.monotonic()
    stats = fuzz(args, findings_dir)
    report(stats, time.monotonic() - started, args, findings_dir)
    return 1 if stats.findings else 0


if __name__ == "__main__":
    sys.exit(main())
