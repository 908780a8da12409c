"""Perturbations shared by augmentation and the robustness suite."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import face_like_image

from deepfake_core.perturb import (
    AUGMENT_PRESETS,
    CLEAN,
    ROBUSTNESS_SUITE,
    AugmentConfig,
    augment,
    downscale,
    gaussian_blur,
    gaussian_noise,
    greyscale,
    jpeg_recompress,
    random_crop,
    resample,
)

IMAGE = face_like_image(64, 48)


def test_jpeg_quality_orders_the_error():
    errors = [np.abs(jpeg_recompress(IMAGE, q).astype(int) - IMAGE).mean() for q in (95, 70, 30)]
    assert errors[0] < errors[1] < errors[2]
    assert jpeg_recompress(IMAGE, 90).shape == IMAGE.shape


def test_downscale_blur_noise_and_crop():
    assert downscale(IMAGE, 0.5).shape == (32, 24, 3)
    assert downscale(IMAGE, 0.001).shape == (1, 1, 3)
    assert gaussian_blur(IMAGE, 0) is IMAGE
    assert gaussian_blur(IMAGE, 2.0).std() < IMAGE.std()
    noisy = gaussian_noise(IMAGE, 5.0, np.random.default_rng(0))
    assert noisy.dtype == np.uint8 and 2 < np.abs(noisy.astype(int) - IMAGE).mean() < 6
    crop = random_crop(IMAGE, 0.8, np.random.default_rng(0))
    assert 0.8 * 64 - 1 <= crop.shape[0] <= 64 and 0.8 * 48 - 1 <= crop.shape[1] <= 48


def test_augment_is_seeded_and_keeps_intake_format():
    config = AugmentConfig(flip=1.0, crop=1.0, jpeg=1.0, blur=1.0, noise=1.0)
    first = augment(IMAGE, config, np.random.default_rng(7))
    second = augment(IMAGE, config, np.random.default_rng(7))
    assert np.array_equal(first, second) and first.dtype == np.uint8 and first.flags.c_contiguous
    all_off = AugmentConfig(0, 0, jpeg=0, blur=0, noise=0, grey=0)
    assert np.array_equal(augment(IMAGE, all_off, np.random.default_rng(0)), IMAGE)


def test_greyscale_leaves_no_colour_for_a_label_to_hide_in():
    grey = greyscale(IMAGE)
    assert grey.shape == IMAGE.shape and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    expected = IMAGE.astype(float) @ [0.299, 0.587, 0.114]
    assert np.abs(grey[..., 0] - expected).max() <= 1.0
    only_grey = AugmentConfig(flip=0, crop=0, jpeg=0, blur=0, noise=0, grey=1.0)
    assert np.array_equal(augment(IMAGE, only_grey, np.random.default_rng(0)), grey)
    assert AUGMENT_PRESETS["standard"].grey == AUGMENT_PRESETS["strong"].grey > 0


@pytest.mark.parametrize("name", sorted(ROBUSTNESS_SUITE))
def test_robustness_suite_returns_rgb_uint8(name):
    perturb, params = ROBUSTNESS_SUITE[name]
    out = perturb(IMAGE, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert bool(params) == (name != CLEAN)  # every real perturbation stores its settings


def test_the_clean_baseline_comes_first_and_leaves_the_image_as_it_is():
    assert next(iter(ROBUSTNESS_SUITE)) == CLEAN
    perturb, params = ROBUSTNESS_SUITE[CLEAN]
    assert np.array_equal(perturb(IMAGE, np.random.default_rng(0)), IMAGE) and params == {}


@pytest.mark.parametrize("name", [name for name in ROBUSTNESS_SUITE if name != CLEAN])
def test_every_perturbation_changes_what_the_model_sees(name):
    perturb, _ = ROBUSTNESS_SUITE[name]
    out = perturb(IMAGE, np.random.default_rng(0))
    assert out.shape != IMAGE.shape or np.abs(out.astype(int) - IMAGE).mean() > 0.5


def test_the_downscales_shrink_both_sides_by_their_factor():
    for name, (height, width) in {"downscale_x0.5": (32, 24), "downscale_x0.25": (16, 12)}.items():
        perturb, params = ROBUSTNESS_SUITE[name]
        assert perturb(IMAGE, np.random.default_rng(0)).shape == (height, width, 3)
        assert params["factor"] == width / IMAGE.shape[1]


def test_resample_keeps_the_size_and_removes_detail_finer_than_the_small_copy():
    checkerboard = (np.indices((40, 40)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    out = resample(checkerboard, 0.5)
    assert out.shape == checkerboard.shape and out.dtype == np.uint8
    assert checkerboard.std() > 100 and out.std() < 5  # one-pixel detail is gone


def test_the_strong_preset_blurs_recompresses_and_resamples_more_often():
    standard, strong = AUGMENT_PRESETS["standard"], AUGMENT_PRESETS["strong"]
    assert strong.blur > standard.blur and strong.jpeg > standard.jpeg and strong.resize > standard.resize == 0
    only_resample = AugmentConfig(flip=0, crop=0, jpeg=0, blur=0, noise=0, resize=1.0)
    out = augment(IMAGE, only_resample, np.random.default_rng(0))
    assert out.shape == IMAGE.shape and not np.array_equal(out, IMAGE)
