"""Self-blended pseudo-fakes: where the blend lands, what stays untouched, and how training draws them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_SIZE, face_like_image, tiny_card
from PIL import Image

from deepfake_core.data import ImageRecord
from deepfake_core.face_data import FaceCropIndex
from deepfake_core.faces.align import template_points
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.pseudo_fakes import SELF_BLENDED_KIND, SelfBlendConfig, blend_mask, self_blend
from deepfake_core.training import make_dataset, pseudo_fake_records


def test_a_whole_face_mask_covers_the_inner_face_and_leaves_the_corners_alone():
    config = SelfBlendConfig(part_probability=0.0, blend_ratios=(1.0,))
    for seed in range(20):
        mask = blend_mask(128, 2.0, np.random.default_rng(seed), config)
        assert mask.shape == (128, 128) and mask.dtype == np.float32
        assert mask.max() == pytest.approx(1.0) and mask.min() >= 0.0
        nose = np.rint(template_points(128, 2.0)[2]).astype(int)
        assert mask[nose[1], nose[0]] > 0.9
        assert mask[:8, :8].max() < 0.005 and mask[-8:, -8:].max() < 0.005


def test_part_masks_are_smaller_than_whole_face_masks_and_the_ratio_sets_the_peak():
    whole = SelfBlendConfig(part_probability=0.0, blend_ratios=(1.0,))
    part = SelfBlendConfig(part_probability=1.0, blend_ratios=(0.5,))
    whole_area = np.mean([(blend_mask(128, 2.0, np.random.default_rng(s), whole) > 0.5).sum() for s in range(20)])
    part_masks = [blend_mask(128, 2.0, np.random.default_rng(s), part) for s in range(20)]
    assert all(mask.max() == pytest.approx(0.5) for mask in part_masks)
    assert np.mean([(mask > 0.25).sum() for mask in part_masks]) < 0.5 * whole_area


def test_self_blend_changes_the_face_but_not_the_border():
    image = face_like_image(96, 96, seed=3)
    config = SelfBlendConfig(part_probability=0.0, blend_ratios=(1.0,), colour_shift=20.0)
    blended = self_blend(image, np.random.default_rng(0), crop_scale=2.0, config=config)
    assert blended.shape == image.shape and blended.dtype == np.uint8
    difference = np.abs(blended.astype(int) - image.astype(int)).sum(axis=2)
    assert difference[30:66, 30:66].mean() > 5.0
    assert difference[:2].max() <= 3 and difference[-2:].max() <= 3
    with pytest.raises(ValueError, match="square"):
        self_blend(image[:, :80], np.random.default_rng(0), crop_scale=2.0)


def test_pseudo_fake_records_name_real_faces_only_and_follow_the_seed():
    records = [ImageRecord(f"Real/r{i}.png", "Real", "celeba", "train") for i in range(10)]
    records += [ImageRecord(f"Fake/f{i}.png", "Fake", "gan256", "train") for i in range(6)]
    pseudo = pseudo_fake_records(records, 0.5, seed=1)
    assert len(pseudo) == 5
    assert {(r.label, r.kind) for r in pseudo} == {("Fake", SELF_BLENDED_KIND)}
    assert len({r.id for r in pseudo}) == 5 and all(r.id.startswith("Real/") for r in pseudo)
    assert pseudo == pseudo_fake_records(records, 0.5, seed=1)
    assert len(pseudo_fake_records(records, 2.0, seed=1)) == 20
    assert pseudo_fake_records(records, 0.0, seed=1) == []


def test_the_training_dataset_blends_only_the_pseudo_fake_records(tmp_path):
    crop = face_like_image(TINY_SIZE, TINY_SIZE, seed=5)
    path = tmp_path / "crop.png"
    Image.fromarray(crop).save(path)
    real = ImageRecord("Real/a.png", "Real", "celeba", "train")
    pseudo = ImageRecord("Real/a.png", "Fake", SELF_BLENDED_KIND, "train")
    crops = FaceCropIndex(crops={real.id: path}, misses={}, faces_found={real.id: 1})
    card = tiny_card(face_crop=FaceCropSpec())
    batch, targets = next(
        make_dataset([real, pseudo], tmp_path, card, batch_size=2, shuffle=False, crops=crops).as_numpy_iterator()
    )
    assert list(targets) == [card.labels.index("Real"), card.labels.index("Fake")]
    assert not np.allclose(batch[0], batch[1])
    with pytest.raises(ValueError, match="face crops"):
        make_dataset([pseudo], tmp_path, tiny_card(), batch_size=1, shuffle=False)
