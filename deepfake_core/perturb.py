"""Image perturbations on RGB uint8 arrays, shared by training augmentation and robustness tests.

They act on intake images *before* the preprocessing contract, like the real
world does (a photo is re-compressed or blurred before anyone classifies it),
so augmented training and robustness evaluation go through the same
:func:`deepfake_core.preprocess.prepare_image` as everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from deepfake_core.cutout import cutout

__all__ = [
    "AUGMENT_PRESETS",
    "CLEAN",
    "ROBUSTNESS_SUITE",
    "TRANSFORMS",
    "AugmentConfig",
    "Perturbation",
    "augment",
    "downscale",
    "gaussian_blur",
    "gaussian_noise",
    "greyscale",
    "jpeg_recompress",
    "random_crop",
    "resample",
    "retouch",
    "sharpen",
    "tone",
]


def jpeg_recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` (1..100) and decode again."""
    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Shrink both sides by ``factor`` (0 < factor <= 1), area interpolation, at least 1 px."""
    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def resample(image: np.ndarray, factor: float, *, jpeg_quality: int | None = None) -> np.ndarray:
    """Shrink by ``factor`` and enlarge back to the original size: detail finer than the small copy is lost.

    Sources differ in sharpness (original resolution, how far they were
    downscaled); resampled training images keep a model from treating
    sharpness itself as a sign of realness.

    With ``jpeg_quality`` the small copy is saved as a JPEG of that quality before it is enlarged:
    a compressed past, as of a face that was once a web copy, a thumbnail or a video frame.
    ``benchmarks/compression.py`` showed the default catching 88 % of halved test fakes but 32 %
    once the halved copy was also saved at JPEG 75, while JPEG 50 or halving alone left its test
    accuracy at 0.91 (the evaluation's robustness rows): it read "the fine detail survived" as
    Fake, and only the two together remove that detail.
    """
    height, width = image.shape[:2]
    small = downscale(image, factor)
    if jpeg_quality is not None:
        small = jpeg_recompress(np.ascontiguousarray(small), jpeg_quality)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def greyscale(image: np.ndarray) -> np.ndarray:
    """The image in black and white (OpenCV's Rec. 601 luma), still three channels."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[:, :, None], 3, axis=2)


def tone(image: np.ndarray, saturation: float = 1.0, contrast: float = 1.0, gamma: float = 1.0) -> np.ndarray:
    """Scale colour saturation and contrast about the mean grey, then apply ``gamma`` (< 1 brightens).

    Photographers grade their pictures; a detector that reads a muted or a vivid palette as a
    sign of fakery fails on every graded real photo.
    """
    pixels = image.astype(np.float32)
    grey = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    pixels = grey[..., None] + saturation * (pixels - grey[..., None])
    pixels = grey.mean() + contrast * (pixels - grey.mean())
    pixels = 255.0 * (np.clip(pixels, 0, 255) / 255.0) ** gamma
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def retouch(image: np.ndarray, strength: float) -> np.ndarray:
    """Edge-preserving skin smoothing (a bilateral filter), like a beauty retouch: ``strength`` 0..1.

    Stock and studio portraits are retouched; without it in training, smooth skin alone reads as generated.
    """
    if strength <= 0:
        return image
    colour_range, reach = 10.0 + 50.0 * strength, 1.0 + 3.0 * strength  # grey levels, pixels
    return cv2.bilateralFilter(np.ascontiguousarray(image), d=0, sigmaColor=colour_range, sigmaSpace=reach)


def sharpen(image: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """Unsharp masking: add ``amount`` times the detail finer than a Gaussian of ``sigma`` pixels."""
    if amount <= 0:
        return image
    pixels = image.astype(np.float32)
    detail = pixels - cv2.GaussianBlur(pixels, (0, 0), sigmaX=float(sigma))
    return np.clip(np.rint(pixels + amount * detail), 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (kernel size from sigma)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma))


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add zero-mean Gaussian noise of ``sigma`` grey levels, clipped to 0..255."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def random_crop(image: np.ndarray, min_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random square-ish crop keeping at least ``min_fraction`` of each side."""
    height, width = image.shape[:2]
    fraction = rng.uniform(min_fraction, 1.0)
    crop_h, crop_w = max(1, int(height * fraction)), max(1, int(width * fraction))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return image[top : top + crop_h, left : left + crop_w]


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; each transform is applied with its probability."""

    cutout: float = 0.0
    """Hide one face part or one side of an aligned crop (:func:`deepfake_core.cutout.cutout`), for either label,
    so no single part carries the verdict; face crops only (:func:`augment` needs their ``crop_scale``)."""
    flip: float = 0.5
    crop: float = 0.3
    crop_min_fraction: float = 0.85
    jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (50, 95)
    blur: float = 0.15
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    noise: float = 0.1
    noise_sigma: tuple[float, float] = (1.0, 6.0)
    resize: float = 0.0
    resize_factor: tuple[float, float] = (0.4, 0.9)
    past: float = 0.0
    past_factor: tuple[float, float] = (0.35, 0.8)
    past_quality: tuple[int, int] = (50, 95)
    """A compressed past (:func:`resample` with ``jpeg_quality``) for either label, so a face whose fine detail
    a small JPEG copy removed is not read as Real."""
    grey: float = 0.2
    """Greyscale, so colour says nothing about the label: half the sd1x fakes are black and white, the reals
    almost never, and a model trained without it called 61 % of greyed real photos Fake."""
    tone: float = 0.3
    saturation: tuple[float, float] = (0.6, 1.5)
    contrast: tuple[float, float] = (0.75, 1.3)
    gamma: tuple[float, float] = (0.8, 1.25)
    retouch: float = 0.15
    retouch_strength: tuple[float, float] = (0.2, 0.8)
    sharpen: float = 0.15
    sharpen_amount: tuple[float, float] = (0.3, 1.5)
    """Real-source variety: graded colour, retouched skin and sharpened detail occur in real photos of either
    label; a model trained without them called 14 % of people-photo faces Fake after saturation x1.4 and
    34 % after a retouch, against 22 % as they are (``benchmarks/shortcuts.py``)."""

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        """The config :meth:`to_dict` wrote into a card (JSON turned its ranges into lists)."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})

    @classmethod
    def only(cls, probabilities: dict[str, float]) -> AugmentConfig:
        """Only the named transforms (:data:`TRANSFORMS`), each with its probability, at their default ranges.

        Why: to see what one transform does to a model on its own (for example to the BatchNorm
        statistics it is measured with), every other transform must be off.
        """
        unknown = sorted(set(probabilities) - set(TRANSFORMS))
        if unknown:
            raise ValueError(f"unknown transform {', '.join(unknown)}; choose from {', '.join(TRANSFORMS)}")
        outside = sorted(name for name, share in probabilities.items() if not 0.0 <= share <= 1.0)
        if outside:
            raise ValueError(f"a probability must lie in [0, 1]: {', '.join(outside)}")
        return cls(**({name: 0.0 for name in TRANSFORMS} | probabilities))


TRANSFORMS = ("cutout", "flip", "crop", "resize", "past", "tone", "grey", "retouch", "sharpen", "blur", "noise", "jpeg")
"""The transforms of :func:`augment`, in the order it applies them; each is an :class:`AugmentConfig` probability."""


def augment(
    image: np.ndarray, config: AugmentConfig, rng: np.random.Generator, *, crop_scale: float | None = None
) -> np.ndarray:
    """One random augmentation of an RGB uint8 image (an aligned face crop of ``crop_scale`` where one is given).

    Cutout draws a number only when it is on, so the presets without it draw the same numbers as before it existed.
    """
    if config.cutout > 0:
        if crop_scale is None:  # refused whether or not this draw hides a part, so a bad call fails every time
            raise ValueError("cutout hides face parts at the template's points: it needs aligned face crops")
        if rng.random() < config.cutout:
            image = cutout(image, rng, crop_scale=crop_scale)
    if rng.random() < config.flip:
        image = image[:, ::-1]
    if rng.random() < config.crop:
        image = random_crop(image, config.crop_min_fraction, rng)
    if rng.random() < config.resize:
        image = resample(np.ascontiguousarray(image), rng.uniform(*config.resize_factor))
    if rng.random() < config.past:
        quality = int(rng.integers(*config.past_quality, endpoint=True))
        image = resample(np.ascontiguousarray(image), rng.uniform(*config.past_factor), jpeg_quality=quality)
    if rng.random() < config.tone:
        image = tone(image, rng.uniform(*config.saturation), rng.uniform(*config.contrast), rng.uniform(*config.gamma))
    if rng.random() < config.grey:
        image = greyscale(image)
    if rng.random() < config.retouch:
        image = retouch(image, rng.uniform(*config.retouch_strength))
    if rng.random() < config.sharpen:
        image = sharpen(image, rng.uniform(*config.sharpen_amount))
    if rng.random() < config.blur:
        image = gaussian_blur(image, rng.uniform(*config.blur_sigma))
    if rng.random() < config.noise:
        image = gaussian_noise(image, rng.uniform(*config.noise_sigma), rng)
    if rng.random() < config.jpeg:
        image = jpeg_recompress(np.ascontiguousarray(image), int(rng.integers(*config.jpeg_quality, endpoint=True)))
    return np.ascontiguousarray(image)


AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "standard": AugmentConfig(),
    # Wang et al. 2020 (CNN-generated images are surprisingly easy to spot... for now): blur and
    # JPEG each with probability 0.5 made detectors carry over to unseen generators; resampling
    # adds the same for source sharpness.
    "strong": AugmentConfig(
        jpeg=0.5, jpeg_quality=(30, 100), blur=0.5, blur_sigma=(0.1, 3.0), resize=0.3, resize_factor=(0.4, 0.9)
    ),
    # the standard preset plus a compressed past (a small JPEG copy enlarged again) for 30 % of the faces
    "past": AugmentConfig(past=0.3),
    # the standard preset plus face-part cutout (eyes, nose, mouth or one side hidden) for 30 % of the faces
    "cutout": AugmentConfig(cutout=0.3),
    # the standard preset before real-source variety joined it (lite0_grey and the lite0_grey_ folds)
    "grey": AugmentConfig(tone=0.0, retouch=0.0, sharpen=0.0),
    # ... and before greyscale joined it (lite0_colour and the lite0_ folds)
    "no_grey": AugmentConfig(grey=0.0, tone=0.0, retouch=0.0, sharpen=0.0),
}


CLEAN = "clean"
"""Name of the robustness suite's baseline: the same path as every perturbation, with the image left as it is."""

Perturbation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""An RGB uint8 image ``(H, W, 3)`` and a seeded generator in, the perturbed image out (any size)."""

# name -> (perturbation, its parameters as stored in the results file)
ROBUSTNESS_SUITE: dict[str, tuple[Perturbation, dict[str, Any]]] = {
    # first, so every perturbed row is read against a baseline measured the same way (for a face
    # model: the face found again on the unchanged image, not the cached crops of the main results)
    CLEAN: (lambda image, rng: image, {}),
    "jpeg_q90": (lambda image, rng: jpeg_recompress(image, 90), {"quality": 90}),
    "jpeg_q70": (lambda image, rng: jpeg_recompress(image, 70), {"quality": 70}),
    "jpeg_q50": (lambda image, rng: jpeg_recompress(image, 50), {"quality": 50}),
    "downscale_x0.5": (lambda image, rng: downscale(image, 0.5), {"factor": 0.5}),
    "downscale_x0.25": (lambda image, rng: downscale(image, 0.25), {"factor": 0.25}),
    # a smaller JPEG copy, as faces reach people on the web: the default caught 88 % of halved test fakes but
    # 32 % of the same halved fakes saved at JPEG 75 (benchmarks/compression.py)
    "downscale_x0.5_jpeg_q75": (
        lambda image, rng: jpeg_recompress(downscale(image, 0.5), 75),
        {"factor": 0.5, "quality": 75},
    ),
    "gaussian_blur": (lambda image, rng: gaussian_blur(image, 1.0), {"sigma": 1.0}),
    "gaussian_noise": (lambda image, rng: gaussian_noise(image, 5.0, rng), {"sigma": 5.0}),
    "greyscale": (lambda image, rng: greyscale(image), {"luma": "Rec. 601"}),
}
