"""Perturbations shared by augmentation and the robustness suite."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import face_like_image

from deepfake_core.perturb import (
    AUGMENT_PRESETS,
    CLEAN,
    ROBUSTNESS_SUITE,
    TRANSFORMS,
    AugmentConfig,
    augment,
    downscale,
    gaussian_blur,
    gaussian_noise,
    greyscale,
    jpeg_recompress,
    random_crop,
    resample,
    retouch,
    sharpen,
    tone,
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
    config = AugmentConfig(flip=1.0, crop=1.0, jpeg=1.0, blur=1.0, noise=1.0, tone=1.0, retouch=1.0, sharpen=1.0)
    first = augment(IMAGE, config, np.random.default_rng(7))
    second = augment(IMAGE, config, np.random.default_rng(7))
    assert np.array_equal(first, second) and first.dtype == np.uint8 and first.flags.c_contiguous
    assert np.array_equal(augment(IMAGE, AugmentConfig.only({}), np.random.default_rng(0)), IMAGE)


def test_only_switches_every_other_transform_off_and_a_card_round_trip_keeps_the_config():
    only = AugmentConfig.only({"grey": 0.2, "tone": 0.3})
    probabilities = {name: getattr(only, name) for name in TRANSFORMS}
    assert probabilities == {name: 0.0 for name in TRANSFORMS} | {"grey": 0.2, "tone": 0.3}
    assert only.saturation == AugmentConfig().saturation  # the ranges stay at their defaults
    with pytest.raises(ValueError, match="unknown transform hue; choose from cutout, flip, crop"):
        AugmentConfig.only({"hue": 0.5})
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]: grey"):
        AugmentConfig.only({"grey": 1.5})
    for config in (only, *AUGMENT_PRESETS.values()):
        assert AugmentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_greyscale_leaves_no_colour_for_a_label_to_hide_in():
    grey = greyscale(IMAGE)
    assert grey.shape == IMAGE.shape and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    expected = IMAGE.astype(float) @ [0.299, 0.587, 0.114]
    assert np.abs(grey[..., 0] - expected).max() <= 1.0
    assert np.array_equal(augment(IMAGE, AugmentConfig.only({"grey": 1.0}), np.random.default_rng(0)), grey)
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
    out = augment(IMAGE, AugmentConfig.only({"resize": 1.0}), np.random.default_rng(0))
    assert out.shape == IMAGE.shape and not np.array_equal(out, IMAGE)


def test_a_compressed_past_loses_more_than_the_resampling_alone_and_more_at_lower_quality():
    def error(image: np.ndarray) -> float:
        return float(np.abs(image.astype(int) - IMAGE).mean())

    past = {quality: resample(IMAGE, 0.5, jpeg_quality=quality) for quality in (95, 75, 40)}
    assert all(out.shape == IMAGE.shape and out.dtype == np.uint8 for out in past.values())
    assert error(resample(IMAGE, 0.5)) < error(past[95]) < error(past[75]) < error(past[40])
    assert error(resample(IMAGE, 0.8, jpeg_quality=75)) < error(past[75])  # a larger copy keeps more


def test_the_past_preset_is_the_standard_one_with_a_compressed_past_for_some_faces():
    standard, past = AUGMENT_PRESETS["standard"], AUGMENT_PRESETS["past"]
    assert past.past > standard.past == 0 and {**past.to_dict(), "past": 0.0} == standard.to_dict()
    out = augment(IMAGE, AugmentConfig.only({"past": 1.0}), np.random.default_rng(0))
    assert out.shape == IMAGE.shape and not np.array_equal(out, IMAGE)


def _colourfulness(image: np.ndarray) -> float:
    return float(np.abs(image.astype(float) - image.astype(float).mean(axis=2, keepdims=True)).mean())


def _horizontal_detail(image: np.ndarray) -> float:
    return float(np.abs(np.diff(image.astype(float), axis=1)).mean())


def _step_at_column_32(image: np.ndarray) -> float:
    return float(image[:, 33:36].astype(float).mean() - image[:, 28:31].astype(float).mean())


def test_tone_grades_saturation_contrast_and_brightness_and_leaves_the_neutral_setting_alone():
    assert np.abs(tone(IMAGE).astype(int) - IMAGE).max() <= 1
    assert _colourfulness(tone(IMAGE, saturation=1.5)) > _colourfulness(IMAGE) > _colourfulness(tone(IMAGE, 0.5))
    assert tone(IMAGE, contrast=1.3).std() > IMAGE.std() > tone(IMAGE, contrast=0.7).std()
    assert tone(IMAGE, gamma=0.8).mean() > IMAGE.mean() > tone(IMAGE, gamma=1.25).mean()
    assert tone(IMAGE, 1.5, 1.3, 0.8).dtype == np.uint8


def test_retouch_smooths_texture_but_keeps_edges_where_a_blur_would_not():
    rng = np.random.default_rng(0)
    edge = np.zeros((64, 64, 3), np.float32)
    edge[:, 32:] = 200.0
    textured = np.clip(edge + 20 + rng.normal(0, 6, edge.shape), 0, 255).astype(np.uint8)
    smoothed, blurred = retouch(textured, 0.8), gaussian_blur(textured, 3.0)
    assert retouch(textured, 0) is textured
    flat = (slice(None), slice(4, 26))
    assert smoothed[flat].std() < 0.6 * textured[flat].std()  # skin texture goes
    assert _step_at_column_32(smoothed) > 0.9 * _step_at_column_32(textured) > _step_at_column_32(blurred)


def test_sharpen_adds_fine_detail_and_zero_leaves_the_image():
    assert sharpen(IMAGE, 0) is IMAGE
    assert _horizontal_detail(sharpen(IMAGE, 1.0)) > 1.3 * _horizontal_detail(IMAGE)


def test_the_earlier_presets_drop_real_source_variety_then_greyscale_and_keep_the_rest():
    standard, grey, no_grey = (AUGMENT_PRESETS[name] for name in ("standard", "grey", "no_grey"))
    assert standard.tone > 0 and standard.retouch > 0 and standard.sharpen > 0
    assert grey.tone == grey.retouch == grey.sharpen == 0 and grey.grey == standard.grey > 0
    assert no_grey.grey == 0 and no_grey.tone == no_grey.retouch == no_grey.sharpen == 0
    assert standard.jpeg == grey.jpeg == no_grey.jpeg and standard.blur == grey.blur == no_grey.blur
