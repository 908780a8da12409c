"""The model card and the preprocessing contract it drives."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_card

from deepfake_core.card import ModelCard, architecture_card, card_path_for, load_card, save_card
from deepfake_core.errors import ModelCardError
from deepfake_core.perturb import jpeg_recompress
from deepfake_core.preprocess import prepare_batch, prepare_image, resize_square


def test_card_round_trip(tmp_path):
    card = tiny_card(sha256="ab" * 32, temperature=1.7, training={"data": "faces"})
    path = save_card(card, tmp_path / "m.card.json")
    assert load_card(path) == card
    assert json.loads(path.read_text())["labels"] == ["Fake", "Real"]


def test_architecture_card_names_the_model_after_its_weights():
    card = architecture_card(
        name="m",
        backbone="efficientnetb0",
        input_size=64,
        attention=False,
        head="flask",
        weights_sha256="0123456789abcdef" * 4,
        temperature=2.0,
    )
    assert card.model_id == "m-0123456789ab"
    assert card.architecture == "efficientnetb0 (flask head)"
    assert (card.value_scale, card.fake_label, card.labels, card.temperature) == (
        "0..255",
        "Fake",
        ("Fake", "Real"),
        2.0,
    )
    unsaved = architecture_card(name="draft", backbone="small_cnn", input_size=128)
    assert unsaved.model_id == "draft" and unsaved.architecture == "small_cnn + attention (thesis head)"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"channel_order": "RBG"}, "channel_order"),
        ({"value_scale": "-1..1"}, "value_scale"),
        ({"fake_label": "Synthetic"}, "fake_label"),
        ({"labels": ("Fake",)}, "labels"),
        ({"threshold": 1.5}, "threshold"),
        ({"temperature": 0.0}, "temperature"),
        ({"input_size": 4}, "input_size"),
        ({"jpeg_quality": 0}, "jpeg_quality"),
        ({"jpeg_quality": 75.0}, "jpeg_quality"),
        ({"jpeg_quality": True}, "jpeg_quality"),
    ],
)
def test_card_rejects_bad_contract(overrides, message):
    with pytest.raises(ModelCardError, match=message):
        tiny_card(**overrides)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("input_size"), "missing required fields: input_size"),
        (lambda d: d.update(colour="blue"), "unknown fields: colour"),
        (lambda d: d.update(card_version=9), "card_version 9"),
    ],
)
def test_card_file_problems_are_named(tmp_path, edit, message):
    data = tiny_card().to_dict()
    edit(data)
    path = tmp_path / "m.card.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match=message):
        load_card(path)


def test_missing_and_unparseable_cards(tmp_path):
    with pytest.raises(ModelCardError, match="No model card"):
        load_card(tmp_path / "absent.card.json")
    (tmp_path / "bad.card.json").write_text("{not json")
    with pytest.raises(ModelCardError, match="not readable JSON"):
        load_card(tmp_path / "bad.card.json")


def test_card_path_and_fake_index():
    assert card_path_for("model/default.keras").name == "default.card.json"
    assert tiny_card().fake_index == 0
    assert tiny_card(labels=("Real", "Fake")).fake_index == 1


def _red_image(height=20, width=30):
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[..., 0] = 200
    return image


@pytest.mark.parametrize(
    ("order", "scale", "red_channel", "value"),
    [
        ("RGB", "0..255", 0, 200.0),
        ("BGR", "0..255", 2, 200.0),
        ("RGB", "0..1", 0, 200 / 255),
        ("BGR", "0..1", 2, 200 / 255),
    ],
)
def test_prepare_follows_card(order, scale, red_channel, value):
    card = tiny_card(channel_order=order, value_scale=scale)
    batch = prepare_batch([_red_image(), _red_image(40, 50)], card)
    assert batch.shape == (2, 32, 32, 3) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[..., red_channel], value, rtol=1e-6)
    others = [c for c in range(3) if c != red_channel]
    assert np.all(batch[..., others] == 0)


def test_a_card_with_jpeg_quality_compresses_every_resized_input_once(tmp_path):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    plain, compressed = tiny_card(), tiny_card(jpeg_quality=60)
    expected = jpeg_recompress(resize_square(photo, 32), 60).astype(np.float32)
    np.testing.assert_array_equal(prepare_image(photo, compressed), expected)
    assert np.abs(prepare_image(photo, plain) - expected).mean() > 5  # random pixels: the round trip changes them
    # a file saved at quality 60 before (at the model's size) is no longer told apart from a clean one
    saved_before = jpeg_recompress(resize_square(photo, 32), 60)
    clean_gap = np.abs(prepare_image(saved_before, plain) - prepare_image(resize_square(photo, 32), plain)).mean()
    normalised_gap = np.abs(prepare_image(saved_before, compressed) - expected).mean()
    assert normalised_gap < clean_gap / 4
    assert load_card(save_card(compressed, tmp_path / "q.card.json")).jpeg_quality == 60


def test_resize_uses_area_when_shrinking_and_keeps_exact_size():
    stripes = np.zeros((64, 64, 3), dtype=np.uint8)
    stripes[:, ::2] = 255
    shrunk = resize_square(stripes, 32)
    # area interpolation averages each pair of columns: a flat mid-grey, no aliasing
    assert shrunk.shape == (32, 32, 3) and np.all(np.abs(shrunk.astype(int) - 128) <= 1)
    assert resize_square(stripes, 64) is stripes


@pytest.mark.parametrize(
    ("image", "message"),
    [(np.zeros((8, 8), np.uint8), "RGB image"), (np.zeros((8, 8, 3), np.float32), "uint8")],
)
def test_prepare_rejects_non_intake_arrays(image, message):
    with pytest.raises(ValueError, match=message):
        prepare_image(image, tiny_card())


def test_model_card_is_frozen():
    card = tiny_card()
    with pytest.raises(AttributeError):
        card.input_size = 64  # type: ignore[misc]
    assert isinstance(ModelCard.from_dict(card.to_dict()), ModelCard)
