"""Tests for deepfake_core.intake: every file is generated here with Pillow, numpy or struct/zlib."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from deepfake_core import intake
from deepfake_core.errors import ImageIntakeError
from deepfake_core.intake import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    SUPPORTED_FORMATS,
    image_sha256,
    load_image,
    read_source_bytes,
)

RED = (255, 0, 0)
WHITE = (255, 255, 255)
ORIENTATION_TAG = 0x0112


# --------------------------------------------------------------------------- helpers


def encode(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_file(width: int, height: int, *, bit_depth: int, colour_type: int, raw: bytes, extra: bytes = b"") -> bytes:
    """A PNG written chunk by chunk, for what Pillow will not write (16-bit RGB, lying headers)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def png_rows(pixels: np.ndarray) -> bytes:
    """Raw PNG scanlines (filter type 0) for a big-endian ``(H, W[, C])`` array."""
    return b"".join(b"\x00" + row.tobytes() for row in pixels)


def jpeg_with_scans(scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has ``scans`` scans (a "scan bomb")."""
    data = encode(solid(128, mode="L", size=(64, 64)), "JPEG", progressive=True)
    assert data.count(b"\xff\xda") == 6  # libjpeg's progression for one component
    last_scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + last_scan * (scans - 6) + b"\xff\xd9"


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def solid(colour: tuple[int, ...], mode: str = "RGB", size: tuple[int, int] = (32, 24)) -> Image.Image:
    return Image.new(mode, size, colour)


def assert_colour(pixel: np.ndarray, expected: tuple[int, int, int], tolerance: int = 0) -> None:
    difference = np.abs(pixel.astype(int) - np.array(expected))
    assert difference.max() <= tolerance, f"{pixel.tolist()} != {expected} (tolerance {tolerance})"


def corner(image: np.ndarray, where: str) -> np.ndarray:
    """A pixel 2 px inside the named corner (away from JPEG ringing at the very edge)."""
    row = 2 if where.startswith("top") else -3
    column = 2 if where.endswith("left") else -3
    return image[row, column]


# --------------------------------------------------------------------------- accepted images


@pytest.mark.parametrize(
    ("image_format", "params", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 95}, 4),
        ("JPEG", {"quality": 95}, 4),
        ("JPEG", {"quality": 95, "progressive": True}, 4),
    ],
)
@pytest.mark.parametrize("colour", [RED, (0, 255, 0), (0, 0, 255)])
def test_solid_colour_round_trip_in_rgb_order(image_format, params, tolerance, colour):
    image = load_image(encode(solid(colour), image_format, **params))

    assert image.shape == (24, 32, 3)
    assert image.dtype == np.uint8
    assert image.flags.c_contiguous
    assert_colour(image[12, 16], colour, tolerance)


@pytest.mark.parametrize(("image_format", "params"), [("PNG", {}), ("BMP", {}), ("WEBP", {"lossless": True})])
def test_lossless_formats_round_trip_exactly(image_format, params):
    pixels = noise(40, 50)

    image = load_image(encode(Image.fromarray(pixels), image_format, **params))

    np.testing.assert_array_equal(image, pixels)
    assert image.flags.writeable


@pytest.mark.parametrize(
    ("image_format", "params", "orientation", "marked_corner"),
    [
        ("JPEG", {"quality": 95}, 3, "bottom-right"),
        ("JPEG", {"quality": 95}, 6, "top-right"),
        ("JPEG", {"quality": 95}, 8, "bottom-left"),
        ("PNG", {}, 6, "top-right"),
        ("WEBP", {"lossless": True}, 8, "bottom-left"),
    ],
)
def test_exif_orientation_is_applied(image_format, params, orientation, marked_corner):
    stored = solid(WHITE, size=(40, 20))
    stored.paste(RED, (0, 0, 8, 8))  # mark the stored top-left corner
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation

    image = load_image(encode(stored, image_format, exif=exif, **params))

    assert image.shape == ((20, 40, 3) if orientation == 3 else (40, 20, 3))
    assert_colour(corner(image, marked_corner), RED, tolerance=40)
    if marked_corner != "top-left":
        assert_colour(corner(image, "top-left"), WHITE, tolerance=40)


@pytest.mark.parametrize("image_format", ["PNG", "BMP", "JPEG"])
def test_grayscale_becomes_three_equal_channels(image_format):
    image = load_image(encode(solid(77, mode="L"), image_format))

    assert_colour(image[5, 5], (77, 77, 77), tolerance=1 if image_format == "JPEG" else 0)


@pytest.mark.parametrize(("image_format", "params"), [("PNG", {}), ("WEBP", {"lossless": True})])
@pytest.mark.parametrize(
    ("rgba", "expected"),
    [
        ((0, 0, 0, 0), WHITE),  # fully transparent -> the white background
        ((10, 20, 30, 255), (10, 20, 30)),  # opaque -> unchanged
        ((0, 0, 0, 128), (127, 127, 127)),  # half transparent black -> mid grey
    ],
)
def test_alpha_is_composited_onto_white(image_format, params, rgba, expected):
    image = load_image(encode(solid(rgba, mode="RGBA"), image_format, **params))

    assert_colour(image[3, 3], expected, tolerance=1)


def test_grey_with_alpha_is_composited_onto_white():
    grey = solid((60, 255), mode="LA")
    grey.paste((60, 0), (0, 0, 16, 24))

    image = load_image(encode(grey, "PNG"))

    assert_colour(image[3, 3], WHITE)
    assert_colour(image[3, 20], (60, 60, 60))


def test_palette_transparency_is_composited_onto_white():
    palette = Image.new("P", (32, 24), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255])  # index 0 black (transparent), index 1 blue
    palette.paste(0, (0, 0, 8, 8))

    image = load_image(encode(palette, "PNG", transparency=0))

    assert_colour(image[3, 3], WHITE)
    assert_colour(image[20, 20], (0, 0, 255))


@pytest.mark.parametrize("image_format", ["PNG", "BMP"])
def test_one_bit_images_become_black_and_white(image_format):
    checkerboard = (np.indices((24, 32)).sum(axis=0) % 2).astype(bool)

    image = load_image(encode(Image.fromarray(checkerboard), image_format))

    np.testing.assert_array_equal(image[..., 0], checkerboard * 255)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_sixteen_bit_grey_png_is_scaled_not_clipped():
    values = np.repeat(np.array([[0, 257, 32768, 65535]], dtype=np.uint16), 16, axis=0).repeat(4, axis=1)

    image = load_image(encode(Image.fromarray(values), "PNG"))

    assert image[0, ::4, 0].tolist() == [0, 1, 128, 255]
    np.testing.assert_array_equal(image[..., 0], image[..., 1])


def test_sixteen_bit_grey_png_transparent_key_becomes_white():
    values = np.repeat(np.array([[1000, 1001, 0, 65535]], dtype=">u2"), 16, axis=0).repeat(4, axis=1)
    transparent_1000 = png_chunk(b"tRNS", struct.pack(">H", 1000))

    data = png_file(16, 16, bit_depth=16, colour_type=0, raw=png_rows(values), extra=transparent_1000)

    assert load_image(data)[0, ::4, 0].tolist() == [255, 4, 0, 255]


@pytest.mark.parametrize(
    ("colour_type", "sample", "expected"),
    [
        (2, (65535, 32768, 0), (255, 128, 0)),
        (2, (0x0101, 0x0202, 0x0303), (1, 2, 3)),
        (6, (65535, 0, 0, 65535), RED),
        (6, (0, 0, 0, 0), WHITE),
    ],
)
def test_sixteen_bit_colour_png_is_scaled(colour_type, sample, expected):
    pixels = np.broadcast_to(np.array(sample, dtype=">u2"), (16, 16, len(sample)))

    data = png_file(16, 16, bit_depth=16, colour_type=colour_type, raw=png_rows(pixels))

    assert_colour(load_image(data)[8, 8], expected)


def test_cmyk_jpeg_becomes_rgb():
    image = load_image(encode(solid((0, 255, 255, 0), mode="CMYK"), "JPEG", quality=95))

    assert image.shape == (24, 32, 3)
    assert_colour(image[12, 16], RED, tolerance=6)


@pytest.mark.parametrize(("image_format", "params"), [("PNG", {}), ("WEBP", {"lossless": True})])
def test_animation_keeps_the_first_frame(image_format, params):
    frames = [solid(RED), solid((0, 0, 255)), solid((0, 255, 0))]
    data = encode(frames[0], image_format, save_all=True, append_images=frames[1:], duration=100, **params)
    assert Image.open(io.BytesIO(data)).n_frames == 3

    assert_colour(load_image(data)[12, 16], RED)


def test_format_comes_from_content_not_extension(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(solid(RED), "PNG"))

    assert_colour(load_image(path)[0, 0], RED)
    assert_colour(load_image(str(path))[0, 0], RED)


def test_extreme_aspect_ratio_within_limits_is_accepted():
    assert load_image(encode(solid(0, mode="L", size=(16, 100_000)), "PNG")).shape == (100_000, 16, 3)


# --------------------------------------------------------------------------- one array, filled a band at a time
# A 40 MP upload must not cost several full-size copies: the array is allocated once and filled
# band by band (crop, turn upright, convert). These tests use bands of a few rows, so every
# image below spans many bands and ends on a partial one.

UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: lambda pixels: pixels,
    2: lambda pixels: pixels[:, ::-1],
    3: lambda pixels: pixels[::-1, ::-1],
    4: lambda pixels: pixels[::-1],
    5: lambda pixels: pixels.transpose(1, 0, 2),
    6: lambda pixels: np.rot90(pixels, -1),
    7: lambda pixels: pixels[::-1, ::-1].transpose(1, 0, 2),
    8: lambda pixels: np.rot90(pixels, 1),
}
"""EXIF orientation -> the stored pixels shown upright (EXIF 2.3, tag 0x0112), in NumPy terms."""


@pytest.fixture(params=[1, 700, 1 << 30], ids=["one-row", "a-few-rows", "one-band"])
def band_bytes(request, monkeypatch) -> int:
    """Bands of one row, of 5 or 10 rows of the 40 x 23 test images, or the whole image in one band."""
    monkeypatch.setattr(intake, "_BAND_BYTES", request.param)
    return request.param


def with_orientation(image: Image.Image, image_format: str, orientation: int, **params: object) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return encode(image, image_format, exif=exif, **params)


def assert_fresh_rgb_array(image: np.ndarray) -> None:
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.flags.c_contiguous and image.flags.writeable and image.flags.owndata


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_every_exif_orientation_turns_every_pixel_upright(orientation, band_bytes):
    pixels = noise(23, 40)

    image = load_image(with_orientation(Image.fromarray(pixels), "PNG", orientation))

    np.testing.assert_array_equal(image, UPRIGHT[orientation](pixels))
    assert_fresh_rgb_array(image)


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("subsampling", [0, 2])
@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_large_colour_jpegs_decoded_by_simplejpeg_give_pillows_pixels(
    monkeypatch, orientation, subsampling, progressive
):
    """The large-JPEG path (simplejpeg, 3 bytes a pixel) and Pillow's give the very same upright pixels."""
    photo = with_orientation(
        Image.fromarray(noise(61, 90)),
        "JPEG",
        orientation,
        quality=90,
        subsampling=subsampling,
        progressive=progressive,
    )
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 10**12)
    by_pillow = load_image(photo)
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 1)
    decoded_by = []
    original = intake.simplejpeg.decode_jpeg

    def spying(*args, **kwargs):
        decoded_by.append("simplejpeg")
        return original(*args, **kwargs)

    monkeypatch.setattr(intake.simplejpeg, "decode_jpeg", spying)
    by_simplejpeg = load_image(photo)
    assert decoded_by == ["simplejpeg"]
    np.testing.assert_array_equal(by_simplejpeg, by_pillow)
    assert_fresh_rgb_array(by_simplejpeg)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_large_jpeg_is_refused_before_simplejpeg_sees_it(monkeypatch, cut):
    """Pillow's eighth-size pass over the whole stream refuses a cut file, with the message of the usual path."""
    data = encode(Image.fromarray(noise(120, 160)), "JPEG", quality=90)
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 1)
    monkeypatch.setattr(
        intake.simplejpeg, "decode_jpeg", lambda *args, **kwargs: pytest.fail("a truncated file was decoded")
    )
    with pytest.raises(ImageIntakeError, match=r"truncated or corrupt.*cannot be decoded") as error:
        load_image(data[: int(len(data) * cut)])
    assert error.value.reason == "truncated"


def _with_luma_sampling(data: bytes, factors: int) -> bytes:
    """``data`` (a baseline JPEG) with the first component's sampling factors byte set to ``factors``."""
    start = data.index(b"\xff\xc0")
    return data[: start + 11] + bytes([factors]) + data[start + 12 :]


def test_a_large_jpeg_with_sampling_simplejpeg_refuses_takes_pillows_path(monkeypatch):
    """Luma sampled 3x1 is legal JPEG that libjpeg decodes but the TurboJPEG API cannot name: Pillow's pixels."""
    data = _with_luma_sampling(encode(Image.fromarray(noise(64, 96)), "JPEG", quality=90, subsampling=1), 0x31)
    with pytest.raises(ValueError, match="subsampling"):
        intake.simplejpeg.decode_jpeg(data, colorspace="RGB", strict=False)
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 10**12)
    by_pillow = load_image(data)
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 1)
    by_fallback = load_image(data)
    np.testing.assert_array_equal(by_fallback, by_pillow)
    assert_fresh_rgb_array(by_fallback)


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_a_large_jpeg_simplejpeg_decodes_to_another_size_takes_pillows_path(monkeypatch, orientation):
    """Whatever simplejpeg makes of a file, the pixels returned are Pillow's, turned upright."""
    photo = with_orientation(Image.fromarray(noise(61, 90)), "JPEG", orientation, quality=90)
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 10**12)
    by_pillow = load_image(photo)
    monkeypatch.setattr(intake, "_DIRECT_JPEG_PIXELS", 1)
    monkeypatch.setattr(intake.simplejpeg, "decode_jpeg", lambda *args, **kwargs: np.zeros((8, 8, 3), np.uint8))
    np.testing.assert_array_equal(load_image(photo), by_pillow)


def sixteen_bit_png(colour_type: int, channels: int, extra: bytes = b"") -> bytes:
    values = np.random.default_rng(3).integers(0, 65536, (23, 40, channels), dtype=np.uint16)
    return png_file(40, 23, bit_depth=16, colour_type=colour_type, raw=png_rows(values.astype(">u2")), extra=extra)


def random_image(mode: str) -> Image.Image:
    """A 40 x 23 image of random samples in ``mode`` ("RGB", "RGBA", "CMYK", "L", "LA", "I;16")."""
    size = (40, 23)
    samples = len(Image.new(mode, size).tobytes())
    return Image.frombytes(mode, size, np.random.default_rng(4).bytes(samples))


def oriented(mode: str, image_format: str, **params: object) -> Callable[[int], bytes]:
    """Bytes of a random ``mode`` image in ``image_format`` marked with the orientation it is called with."""
    return lambda orientation: with_orientation(random_image(mode), image_format, orientation, **params)


def palette(**params: object) -> Callable[[int], bytes]:
    paletted = random_image("RGB").quantize(50)
    return lambda orientation: with_orientation(paletted, "PNG", orientation, **params)


MODES: dict[str, Callable[[int], bytes]] = {
    "rgb-jpeg": oriented("RGB", "JPEG", quality=90),
    "grey-jpeg": oriented("L", "JPEG"),
    "cmyk-jpeg": oriented("CMYK", "JPEG"),
    "one-bit-png": lambda o: with_orientation(random_image("L").convert("1"), "PNG", o),
    "palette-png": palette(),
    "palette-transparency-png": palette(transparency=3),
    "grey-transparency-png": oriented("L", "PNG", transparency=9),
    "rgba-webp": oriented("RGBA", "WEBP", lossless=True),
    "rgba-png": oriented("RGBA", "PNG"),
    "la-png": oriented("LA", "PNG"),
    "16-bit-grey-png": oriented("I;16", "PNG"),
    "16-bit-grey-key-png": lambda _: sixteen_bit_png(0, 1, png_chunk(b"tRNS", struct.pack(">H", 1000))),
    "16-bit-rgb-png": lambda _: sixteen_bit_png(2, 3),
    "16-bit-rgba-png": lambda _: sixteen_bit_png(6, 4),
    "rgb-bmp": lambda _: encode(random_image("RGB"), "BMP"),
}
"""Every kind of image the conversion treats apart, as bytes with a given EXIF orientation (where it can carry one)."""


def converted_whole(data: bytes) -> np.ndarray:
    """The pixels when the image is turned upright and converted in whole-image Pillow calls."""
    with Image.open(io.BytesIO(data)) as image:
        transpose = intake._ORIENTATION_TRANSPOSES.get(image.getexif().get(ORIENTATION_TAG, 1))
        upright = image.transpose(transpose) if transpose is not None else image
        return np.array(intake._band_to_rgb(upright), dtype=np.uint8)


@pytest.mark.parametrize("orientation", [1, 3, 6, 7])
@pytest.mark.parametrize("kind", sorted(MODES))
def test_band_by_band_gives_the_pixels_of_whole_image_conversion(kind, orientation, band_bytes):
    data = MODES[kind](orientation)

    image = load_image(data)

    np.testing.assert_array_equal(image, converted_whole(data))
    assert_fresh_rgb_array(image)


@pytest.mark.parametrize("orientation", [1, 6])
def test_decoding_holds_one_array_and_a_band_not_full_size_copies(monkeypatch, orientation):
    # tracemalloc sees NumPy arrays and Python bytes (not Pillow's own image memory): converting the
    # whole image at once held a full-size bytes object (tobytes) beside the array, twice the array.
    monkeypatch.setattr(intake, "_BAND_BYTES", 3 * 400 * 16)
    data = with_orientation(Image.fromarray(noise(300, 400)), "JPEG", orientation, quality=90)

    tracemalloc.start()
    try:
        image = load_image(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 1.25 * image.nbytes


# --------------------------------------------------------------------------- rejected inputs

REJECTED: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("empty", lambda: b"", "empty", r"^The file is empty \(0 bytes\)\.$"),
    ("png-half", lambda: half(encode(Image.fromarray(noise(64, 64)), "PNG")), "truncated", "truncated or corrupt"),
    ("jpeg-half", lambda: half(encode(Image.fromarray(noise(64, 64)), "JPEG")), "truncated", "truncated or corrupt"),
    ("jpeg-no-eoi", lambda: encode(solid(RED), "JPEG")[:-2], "truncated", "starts like a JPEG"),
    ("webp-half", lambda: half(encode(Image.fromarray(noise(64, 64)), "WEBP")), "truncated", "like a WEBP"),
    ("bmp-half", lambda: half(encode(solid(RED), "BMP")), "truncated", "like a BMP"),
    ("png-signature-only", lambda: b"\x89PNG\r\n\x1a\n", "truncated", "like a PNG"),
    ("random", lambda: b"\x00" + np.random.default_rng(0).bytes(4096), "not_an_image", "content is not recognised"),
    ("text", lambda: b"name,label\nface_001.png,real\n", "not_an_image", "it looks like a text file"),
    ("text-cut-in-utf8", lambda: b"a" * 1023 + "é".encode() * 4, "not_an_image", "it looks like a text file"),
    ("pdf", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "not_an_image", "it looks like a PDF document"),
    ("zip", lambda: b"PK\x03\x04" + bytes(40), "not_an_image", "ZIP archive"),
    ("mp4", lambda: b"\x00\x00\x00\x18ftypisom" + bytes(20), "not_an_image", "MP4/MOV video"),
    ("gif", lambda: encode(solid(RED), "GIF"), "unsupported", r"\(PNG, JPEG, WebP or BMP\); it looks like a GIF"),
    ("tiff", lambda: encode(solid(RED), "TIFF"), "unsupported", "it looks like a TIFF image"),
    ("ico", lambda: encode(solid(RED), "ICO"), "unsupported", "it looks like an ICO icon"),
    ("heic", lambda: b"\x00\x00\x00\x18ftypheic" + bytes(20), "unsupported", "HEIC/HEIF"),
    ("avif", lambda: b"\x00\x00\x00\x1cftypavif" + bytes(20), "unsupported", "AVIF"),
    ("svg", lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported", "SVG"),
    ("one-pixel", lambda: encode(solid(RED, size=(1, 1)), "PNG"), "too_small", r"1x1 pixels; each side must"),
    ("one-row", lambda: encode(solid(0, mode="L", size=(100_000, 1)), "PNG"), "too_small", "100000x1 pixels"),
    ("15-wide", lambda: encode(solid(RED, size=(15, 400)), "BMP"), "too_small", "at least 16 pixels"),
]


@pytest.mark.parametrize(("make", "reason", "match"), [case[1:] for case in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_inputs_say_why(make, reason, match):
    with pytest.raises(ImageIntakeError, match=match) as caught:
        load_image(make())

    assert caught.value.reason == reason


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    ("width", "height", "match"),
    [
        (7_000, 7_000, r"7000x7000 pixels \(49 MP\), above the 40 MP limit"),  # our own header check
        (6_325, 6_325, r"6325x6325 pixels \(40\.01 MP\), above the 40 MP limit"),
        (10_000, 10_000, "too large to decode safely"),  # Pillow's DecompressionBombWarning
        (50_000, 50_000, "too large to decode safely"),  # Pillow's DecompressionBombError
        (1, 2**31 - 1, "too large to decode safely"),
    ],
)
def test_declared_huge_png_is_refused_before_decoding(width, height, match):
    # Tiny file, huge IHDR: decoding it would allocate gigabytes.
    data = png_file(width, height, bit_depth=8, colour_type=2, raw=b"\x00" * 64)
    started = time.perf_counter()

    with pytest.raises(ImageIntakeError, match=match) as caught:
        load_image(data)

    assert caught.value.reason == "too_large"
    assert time.perf_counter() - started < 1.0


def test_jpeg_scan_count_up_to_the_limit_is_accepted():
    assert load_image(jpeg_with_scans(64)).shape == (64, 64, 3)


def test_jpeg_scan_bomb_is_refused_before_decoding():
    # Each extra scan makes libjpeg walk the whole image again: 10 000 scans of a
    # 40 MP image would decode for minutes from a file of a few hundred kB.
    with pytest.raises(ImageIntakeError, match="JPEG with 65 scans; at most 64") as caught:
        load_image(jpeg_with_scans(65))

    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(("max_pixels", "accepted"), [(8_000, True), (7_999, False)])
def test_max_pixels_is_configurable(max_pixels, accepted):
    data = encode(solid(RED, size=(100, 80)), "PNG")
    if accepted:
        assert load_image(data, max_pixels=max_pixels).shape == (80, 100, 3)
        return
    with pytest.raises(ImageIntakeError, match=r"100x80 pixels \(0\.008 MP\), above the 0\.007999 MP limit") as caught:
        load_image(data, max_pixels=max_pixels)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(("min_side", "accepted"), [(20, True), (21, False)])
def test_min_side_is_configurable(min_side, accepted):
    data = encode(solid(RED, size=(20, 100)), "PNG")
    if accepted:
        assert load_image(data, min_side=min_side).shape == (100, 20, 3)
        return
    with pytest.raises(ImageIntakeError, match="each side must be at least 21 pixels") as caught:
        load_image(data, min_side=min_side)
    assert caught.value.reason == "too_small"


def test_defaults_are_documented_values():
    assert (DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE) == (40_000_000, 16)
    assert SUPPORTED_FORMATS == ("PNG", "JPEG", "WEBP", "BMP")


@pytest.mark.parametrize(("max_pixels", "min_side"), [(0, 16), (100, 0)])
def test_nonsense_limits_are_a_programming_error(max_pixels, min_side):
    with pytest.raises(ValueError, match="must be positive"):
        load_image(encode(solid(RED), "PNG"), max_pixels=max_pixels, min_side=min_side)


def test_unknown_source_type_is_a_programming_error():
    with pytest.raises(TypeError, match="expected bytes or a path, got int"):
        load_image(42)  # type: ignore[arg-type]


def test_running_out_of_memory_is_too_large(monkeypatch):
    def exhausted(self: ImageFile.ImageFile) -> None:
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", exhausted)

    with pytest.raises(ImageIntakeError, match="not enough memory") as caught:
        load_image(encode(solid(RED), "PNG"))

    assert caught.value.reason == "too_large"


def test_pillow_global_state_is_left_alone():
    filters_before = list(warnings.filters)
    with pytest.raises(ImageIntakeError):
        load_image(png_file(10_000, 10_000, bit_depth=8, colour_type=2, raw=b""))

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert warnings.filters == filters_before


# --------------------------------------------------------------------------- fuzz findings
# Each test rebuilds, in code, an input that benchmarks/fuzz_intake.py found misbehaving.


def exif_block(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian EXIF block with one IFD of ``(tag, type, count, value)`` entries."""
    data_offset = 8 + 2 + 12 * len(entries) + 4
    table, extra = b"", b""
    for tag, field_type, count, value in entries:
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, field_type, count) + value.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, field_type, count, data_offset + len(extra))
            extra += value
    return b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, len(entries)) + table + b"\x00" * 4 + extra


@pytest.mark.parametrize("image_format", ["JPEG", "WEBP", "PNG"])
def test_mistyped_exif_tag_does_not_stop_rotation(image_format):
    # Finding: a flipped bit turned the type of the Make tag (ASCII) into RATIONAL;
    # ImageOps.exif_transpose then crashed re-serialising the EXIF (AttributeError).
    exif = exif_block(
        [
            (ORIENTATION_TAG, 3, 1, struct.pack("<H", 6)),  # SHORT 6: rotate 90 degrees clockwise
            (0x010F, 5, 1, struct.pack("<II", 1, 2)),  # Make, as a RATIONAL instead of ASCII
        ]
    )

    image = load_image(encode(solid(RED, size=(40, 20)), image_format, exif=exif))

    assert image.shape == (40, 20, 3)


# --------------------------------------------------------------------------- paths


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "reason", "match"),
    [
        ("empty.png", b"", "empty", r"^The file 'empty\.png' is empty \(0 bytes\)\.$"),
        ("notes.png", b"just some notes\n", "not_an_image", "The file 'notes.png' is not a supported image.*text"),
        ("cut.jpg", half(encode(solid(RED), "JPEG")), "truncated", "the file 'cut.jpg' starts like a JPEG"),
        ("big.png", png_file(7_000, 7_000, bit_depth=8, colour_type=2, raw=b""), "too_large", "The image 'big.png' is"),
        ("dot.bmp", encode(solid(RED, size=(4, 4)), "BMP"), "too_small", "The image 'dot.bmp' is 4x4 pixels"),
    ],
)
def test_path_errors_name_the_file(tmp_path, name, data, reason, match):
    with pytest.raises(ImageIntakeError, match=match) as caught:
        load_image(write(tmp_path, name, data))

    assert caught.value.reason == reason


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(ImageIntakeError, match=r"The file 'missing\.png' does not exist") as caught:
        load_image(tmp_path / "missing.png")

    assert caught.value.reason == "not_an_image"


def test_folder_is_not_an_image(tmp_path):
    (tmp_path / "album.png").mkdir()

    with pytest.raises(ImageIntakeError, match=r"'album\.png' is a folder") as caught:
        load_image(tmp_path / "album.png")

    assert caught.value.reason == "not_an_image"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    pipe = tmp_path / "upload.png"
    os.mkfifo(pipe)

    with pytest.raises(ImageIntakeError, match=r"'upload\.png' is not a regular file") as caught:
        load_image(pipe)

    assert caught.value.reason == "not_an_image"


def test_oversized_file_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "_MAX_FILE_BYTES", 2**20)
    data = encode(solid(RED, size=(1024, 400)), "BMP")
    assert len(data) > 2**20

    with pytest.raises(ImageIntakeError, match=r"The file 'huge\.bmp' is larger than 1 MB") as caught:
        load_image(write(tmp_path, "huge.bmp", data))

    assert caught.value.reason == "too_large"


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    path = write(tmp_path, "locked.png", encode(solid(RED), "PNG"))

    def denied(*args: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)

    with pytest.raises(ImageIntakeError, match=r"'locked\.png' could not be read \(Permission denied\)") as caught:
        load_image(path)

    assert caught.value.reason == "not_an_image"


# --------------------------------------------------------------------------- hashing


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "str", "path"])
def test_sha256_is_of_the_raw_bytes_whatever_the_source(tmp_path, kind):
    data = encode(solid(RED), "PNG")
    path = write(tmp_path, "face.png", data)
    sources = {"bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data), "str": str(path)}

    source = sources.get(kind, path)

    assert image_sha256(source) == hashlib.sha256(data).hexdigest()
    assert read_source_bytes(source) == data
    assert type(read_source_bytes(source)) is bytes


def test_a_technical_detail_never_carries_an_object_address():
    """The same bad file must get the same message in every process (CLI, service, Ray workers)."""
    from deepfake_core.intake import _detail

    error = OSError("cannot identify image file <_io.BytesIO object at 0x7f3a2b1c04f0>")
    assert _detail(error) == "OSError: cannot identify image file <_io.BytesIO object>"
