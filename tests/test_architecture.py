"""The attention model: structure, named layers, safe `.keras` round trip, backbones."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_core.architecture import ATTENTION_MASK_LAYER, BACKBONE_LAYER, FEATURES_LAYER, build_model
from deepfake_core.layers import ChannelGroupNormalization, RescaleGAP


@pytest.fixture(scope="module")
def attention_model():
    keras.utils.set_random_seed(1)
    return build_model(backbone="small_cnn", input_size=32)


def test_named_layers_and_shapes(attention_model):
    mask = attention_model.get_layer(ATTENTION_MASK_LAYER)
    assert mask.output.shape[1:] == (2, 2, 1)
    assert attention_model.get_layer(BACKBONE_LAYER).output.shape[-1] == 384
    assert attention_model.get_layer(FEATURES_LAYER).output.shape[-1] == 384
    assert attention_model.get_layer("attention_fanout").output.shape[-1] == 384
    assert isinstance(attention_model.get_layer("rescale_gap"), RescaleGAP)
    assert attention_model.output_shape == (None, 2)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in attention_model.layers)


def test_fanout_starts_as_broadcast_of_the_mask(attention_model):
    kernel = attention_model.get_layer("attention_fanout").get_weights()[0]
    assert kernel.shape == (1, 1, 1, 384) and np.all(kernel == 1.0)


def test_keras_file_round_trip_in_safe_mode(attention_model, tmp_path):
    batch = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    path = tmp_path / "m.keras"
    attention_model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_allclose(loaded(batch, training=False), attention_model(batch, training=False), atol=1e-6)
    mask_model = keras.Model(loaded.input, loaded.get_layer(ATTENTION_MASK_LAYER).output)
    mask = mask_model(batch).numpy()
    assert mask.shape == (3, 2, 2, 1) and np.all((mask >= 0) & (mask <= 1))


def test_rescale_gap_is_attention_weighted_average():
    features = np.array([[2.0, 4.0]], dtype="float32")
    mask_mean = np.array([[0.5, 0.5]], dtype="float32")
    np.testing.assert_allclose(RescaleGAP()([features, mask_mean]), [[4.0, 8.0]])
    assert np.all(np.isfinite(RescaleGAP()([features, np.zeros_like(mask_mean)])))


@pytest.mark.parametrize(
    ("groups", "channels", "scale", "center"), [(8, 32, True, True), (2, 6, True, False), (4, 4, False, True)]
)
def test_channel_group_normalization_equals_keras_group_normalization(groups, channels, scale, center):
    rng = np.random.default_rng(groups)
    # Channels with very different means and spreads: the group statistics must combine them exactly.
    x = rng.normal(size=(3, 9, 7, channels)) * rng.uniform(0.1, 20, channels) + rng.uniform(-50, 50, channels)
    x = x.astype("float32")
    config = {"groups": groups, "scale": scale, "center": center}
    ours, reference = ChannelGroupNormalization(**config), keras.layers.GroupNormalization(**config)
    ours.build(x.shape)
    reference.build(x.shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    ours.set_weights(weights)
    reference.set_weights(weights)
    np.testing.assert_allclose(ours(x), reference(x), atol=2e-5)


def test_channel_group_normalization_computes_statistics_in_float32_under_mixed_precision():
    x = (np.random.default_rng(2).normal(size=(2, 8, 8, 4)) * 300).astype("float16")  # squares overflow float16
    config = {"groups": 2, "dtype": "mixed_float16"}
    ours, reference = ChannelGroupNormalization(**config), keras.layers.GroupNormalization(**config)
    out, expected = ours(x), reference(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert np.all(np.isfinite(out)) and np.allclose(out, expected, atol=1e-2)


def test_channel_group_normalization_normalises_each_group():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(2, 16, 16, 8)) * 30 + 100).astype("float32")
    normalised = ChannelGroupNormalization(groups=4, scale=False, center=False, epsilon=1e-9)(x).numpy()
    per_group = normalised.reshape(2, 16 * 16, 4, 2).transpose(0, 2, 1, 3).reshape(2, 4, -1)
    np.testing.assert_allclose(per_group.mean(axis=-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(per_group.std(axis=-1), 1.0, atol=1e-4)


def test_channel_group_normalization_needs_channels_last_images():
    with pytest.raises(ValueError, match="channels-last images"):
        ChannelGroupNormalization(groups=2).build((None, 10, 4))
    with pytest.raises(ValueError, match="channels-last images"):
        ChannelGroupNormalization(groups=2, axis=1).build((None, 4, 8, 8))


@pytest.mark.parametrize(("head", "units"), [("thesis", 256), ("flask", 64)])
def test_heads(head, units):
    model = build_model(backbone="small_cnn", input_size=32, head=head)
    assert model.get_layer("head_dense").units == units


def test_without_attention_has_no_mask():
    model = build_model(backbone="small_cnn", input_size=32, attention=False)
    assert ATTENTION_MASK_LAYER not in [layer.name for layer in model.layers]
    assert model.output_shape == (None, 2)


@pytest.mark.parametrize("backbone", ["mobilenetv2", "efficientnetb0"])
def test_keras_application_backbones_build_offline(backbone):
    model = build_model(backbone=backbone, input_size=32)
    assert model.get_layer(BACKBONE_LAYER).output.shape[1:3] == (1, 1)
    assert model(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 2)


def _receptive_extent(backbone: str) -> tuple[int, int]:
    """Rows and columns of the input that one central feature of ``backbone`` depends on.

    Counted where the feature's gradient exceeds 5 % of its peak: GroupNorm's image-wide statistics
    make every pixel matter a little (1-5 % of the peak in this model), the convolutions' window a lot.
    """
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    network = build_model(backbone=backbone, input_size=96).get_layer(BACKBONE_LAYER)
    image = tf.Variable(np.random.default_rng(0).uniform(0, 255, (1, 96, 96, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        features = network(image, training=False)
        middle = features.shape[1] // 2
        value = tf.reduce_sum(features[0, middle, middle])
    gradient = np.abs(tape.gradient(value, image).numpy()[0]).sum(axis=-1)
    touched = gradient > 0.05 * gradient.max()
    rows, columns = np.flatnonzero(touched.any(axis=1)), np.flatnonzero(touched.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(columns[-1] - columns[0] + 1)


def test_local_cnn_features_see_only_a_41_pixel_patch():
    """What makes it a patch model: each feature's convolutions see a 41 px square; the full CNN's see more."""
    local = build_model(backbone="local_cnn", input_size=128)
    assert local.get_layer(FEATURES_LAYER).output.shape[1:] == (16, 16, 192)  # output stride 8
    assert max(_receptive_extent("local_cnn")) == 41
    assert min(_receptive_extent("small_cnn")) > 41


def test_user_supplied_backbone_weights_are_loaded(tmp_path):
    keras.utils.set_random_seed(3)
    source = build_model(backbone="small_cnn", input_size=32).get_layer(BACKBONE_LAYER)
    weights = tmp_path / "backbone.weights.h5"
    source.save_weights(weights)
    keras.utils.set_random_seed(4)
    model = build_model(backbone="small_cnn", input_size=32, backbone_weights=str(weights))
    for mine, theirs in zip(model.get_layer(BACKBONE_LAYER).get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"backbone": "resnet9000"}, "unknown backbone"), ({"head": "big"}, "unknown head")]
)
def test_unknown_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(input_size=32, **kwargs)
