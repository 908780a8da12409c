"""Face-part cutout: which region each draw hides, what it leaves alone, and how training reaches it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_SIZE, face_like_image, tiny_card
from PIL import Image

from deepfake_core.cutout import CUTOUT_REGIONS, cutout, cutout_mask
from deepfake_core.data import ImageRecord
from deepfake_core.face_data import FaceCropIndex
from deepfake_core.faces.align import template_points
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.perturb import AUGMENT_PRESETS, TRANSFORMS, AugmentConfig, augment
from deepfake_core.pseudo_fakes import part_ellipse
from deepfake_core.training import make_dataset


def _pixel(point: np.ndarray) -> tuple[int, int]:
    x, y = np.rint(point).astype(int)
    return int(y), int(x)


def test_each_part_mask_covers_its_template_points_and_no_other_part():
    points = template_points(128, 2.0)
    eyes, nose, mouth = [_pixel(p) for p in points[0:2]], _pixel(points[2]), [_pixel(p) for p in points[3:5]]
    for seed in range(10):
        masks = {
            region: cutout_mask(128, 2.0, region, np.random.default_rng(seed)) for region in ("eyes", "nose", "mouth")
        }
        assert all(masks["eyes"][eye] for eye in eyes) and not masks["eyes"][nose]
        assert masks["nose"][nose] and not any(masks["nose"][eye] for eye in eyes)
        assert all(masks["mouth"][corner] for corner in mouth) and not masks["mouth"][nose]
        for mask in masks.values():
            assert not mask[:6].any() and not mask[-6:].any() and 0.05 < mask.mean() < 0.4


def test_a_side_mask_is_the_half_of_the_crop_on_one_side_of_the_nose():
    nose_x = int(np.rint(template_points(128, 2.0)[2][0]))
    sides = [cutout_mask(128, 2.0, "side", np.random.default_rng(seed)) for seed in range(12)]
    for mask in sides:
        assert mask[:, :nose_x].all() != mask[:, nose_x:].all()
        assert mask.all(axis=0).sum() == mask.any(axis=0).sum()  # whole columns
    assert {bool(mask[0, 0]) for mask in sides} == {True, False}  # both sides are drawn


def test_part_ellipse_refuses_a_part_it_does_not_know():
    with pytest.raises(ValueError, match="unknown face part 'ear'"):
        part_ellipse(template_points(128, 2.0), "ear")


def test_cutout_fills_one_region_with_the_mean_colour_and_leaves_the_rest():
    image = face_like_image(96, 96, seed=3)
    mean = np.rint(image.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    drawn = set()
    for seed in range(16):
        out = cutout(image, np.random.default_rng(seed), crop_scale=2.0)
        assert out.shape == image.shape and out.dtype == np.uint8
        changed = (out != image).any(axis=2)
        assert changed.any() and (out[changed] == mean).all()
        hidden = (out == mean).all(axis=2)
        drawn.add(round(float(hidden.mean()), 1))
        assert np.array_equal(out[~hidden], image[~hidden])
        assert np.array_equal(out, cutout(image, np.random.default_rng(seed), crop_scale=2.0))
    assert len(drawn) > 1  # parts and sides, not one region every time
    with pytest.raises(ValueError, match="square"):
        cutout(image[:, :80], np.random.default_rng(0), crop_scale=2.0)


def test_the_cutout_preset_is_the_standard_one_and_needs_face_crops():
    standard, preset = AUGMENT_PRESETS["standard"], AUGMENT_PRESETS["cutout"]
    assert preset.cutout > standard.cutout == 0 and {**preset.to_dict(), "cutout": 0.0} == standard.to_dict()
    image = face_like_image(64, 64, seed=1)
    only = AugmentConfig.only({"cutout": 1.0})
    assert not np.array_equal(augment(image, only, np.random.default_rng(0), crop_scale=2.0), image)
    with pytest.raises(ValueError, match="aligned face crops"):
        augment(image, only, np.random.default_rng(0))
    rarely = AugmentConfig.only({"cutout": 0.01})
    for seed in range(5):  # refused on every call, not only on the draws that would hide a part
        with pytest.raises(ValueError, match="aligned face crops"):
            augment(image, rarely, np.random.default_rng(seed))
    assert len(CUTOUT_REGIONS) == 4


def test_the_training_dataset_cuts_out_face_crops_and_refuses_whole_images(tmp_path):
    crop = face_like_image(TINY_SIZE, TINY_SIZE, seed=5)
    path = tmp_path / "crop.png"
    Image.fromarray(crop).save(path)
    record = ImageRecord("Real/a.png", "Real", "celeba", "train")
    crops = FaceCropIndex(crops={record.id: path}, misses={}, faces_found={record.id: 1})
    card = tiny_card(face_crop=FaceCropSpec())
    plain = next(make_dataset([record], tmp_path, card, batch_size=1, shuffle=False, crops=crops).as_numpy_iterator())
    cut = next(
        make_dataset(
            [record],
            tmp_path,
            card,
            batch_size=1,
            shuffle=False,
            crops=crops,
            augment_config=AugmentConfig.only({"cutout": 1.0}),
        ).as_numpy_iterator()
    )
    assert not np.allclose(plain[0], cut[0])
    with pytest.raises(ValueError, match="cutout needs aligned face crops"):
        make_dataset(
            [record], tmp_path, tiny_card(), batch_size=1, shuffle=False, augment_config=AUGMENT_PRESETS["cutout"]
        )


def test_cutout_off_draws_no_number_so_other_presets_see_the_same_draws():
    # with every transform off, augment draws one number per transform; cutout adds none while it is off
    drawn, reference = np.random.default_rng(4), np.random.default_rng(4)
    out = augment(face_like_image(64, 64, seed=2), AugmentConfig.only({}), drawn)  # no crop scale needed either
    reference.random(len(TRANSFORMS) - 1)
    assert out.dtype == np.uint8 and drawn.random() == reference.random()
