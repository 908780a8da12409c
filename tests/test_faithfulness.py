"""The deletion check on a hand-built detector whose evidence is known: fine detail in the top-left quarter."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import explanation_of
from keras import layers

from deepfake_core.card import architecture_card
from deepfake_core.detector import Detector
from deepfake_core.explain import (
    MIN_DROP,
    DeletionCheck,
    agreement,
    comparison_record,
    deletion_check,
    deletion_summary,
    faithfulness,
)
from deepfake_core.preprocess import resize_square

SIZE = 32
HEIGHT, WIDTH = 48, 40  # not the model's size: masks and image are resized as the contract does


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def detail_detector(image: np.ndarray) -> Detector:
    """P(Fake) is high when the top-left quarter of the model's input has fine detail, low when it is smooth.

    Laplacian filter on that quarter -> mean squared response -> a Dense layer scaled so that the
    test image, as the model sees it, gets logit +3 for Fake and a blurred quarter about -3.
    """
    inputs = keras.Input((SIZE, SIZE, 3))
    quarter = layers.Cropping2D(((0, SIZE // 2), (0, SIZE // 2)))(inputs)
    laplacian = layers.DepthwiseConv2D(3, use_bias=False, name="laplacian")
    detail = laplacian(quarter)
    energy = layers.GlobalAveragePooling2D()(layers.Multiply()([detail, detail]))
    head = layers.Dense(2, name="head")
    model = keras.Model(inputs, layers.Softmax()(head(energy)))
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)
    laplacian.set_weights([np.repeat(kernel[:, :, None, None], 3, axis=2)])
    seen = resize_square(image, SIZE)[None].astype(np.float32)
    image_energy = float(keras.Model(inputs, energy)(seen).numpy().sum())
    head.set_weights([np.array([[6.0 / image_energy, 0.0]] * 3, dtype=np.float32), np.array([-3.0, 0.0])])
    card = architecture_card(name="detail", backbone="small_cnn", input_size=SIZE)
    return Detector(model, card)


def _quarter_map(top: bool, left: bool) -> np.ndarray:
    heatmap = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    rows = slice(0, HEIGHT // 2) if top else slice(HEIGHT // 2, HEIGHT)
    cols = slice(0, WIDTH // 2) if left else slice(WIDTH // 2, WIDTH)
    heatmap[rows, cols] = 1.0
    return heatmap


def test_hiding_the_evidence_drops_the_probability_more_than_random(detail_detector, image):
    faithful = explanation_of(_quarter_map(top=True, left=True), target_index=0)
    check = deletion_check(detail_detector, image, [faithful], fraction=0.25)[0]
    assert check.p_before > 0.9 and check.p_after < 0.1
    assert check.hidden_share == pytest.approx(0.25)
    assert check.drop > check.random_drop + 0.3
    assert check.to_dict()["drop"] == pytest.approx(check.p_before - check.p_after)


def test_hiding_pixels_the_model_ignores_changes_nothing(detail_detector, image):
    unfaithful = explanation_of(_quarter_map(top=False, left=False), target_index=0)
    empty = explanation_of(np.zeros((HEIGHT, WIDTH)), target_index=0, method="attention")
    checks = deletion_check(detail_detector, image, [unfaithful, empty], fraction=0.25)
    assert [check.name for check in checks] == ["gradcam", "attention"]
    assert abs(checks[0].drop) < 1e-3
    assert checks[1].hidden_share == 0.0 and checks[1].p_after == pytest.approx(checks[1].p_before)


def test_the_explained_class_is_the_one_measured(detail_detector, image):
    for_fake = explanation_of(_quarter_map(top=True, left=True), target_index=0, target_class="Fake")
    for_real = explanation_of(_quarter_map(top=True, left=True), target_index=1, target_class="Real")
    fake, real = deletion_check(detail_detector, image, [for_fake, for_real], fraction=0.25)
    assert (fake.name, real.name) == ("gradcam (Fake)", "gradcam (Real)")
    assert fake.p_before + real.p_before == pytest.approx(1.0, abs=1e-5)
    assert real.drop == pytest.approx(-fake.drop, abs=1e-5)


def test_random_reference_is_seeded_and_arguments_are_checked(detail_detector, image):
    explanation = explanation_of(_quarter_map(top=True, left=True), target_index=0)
    first, second, other = (deletion_check(detail_detector, image, [explanation], seed=s)[0] for s in (4, 4, 5))
    assert first.p_random == second.p_random != other.p_random
    assert deletion_check(detail_detector, image, []) == []
    with pytest.raises(ValueError, match="does not fit the image"):
        deletion_check(detail_detector, image[:20], [explanation])
    with pytest.raises(ValueError, match="random_draws"):
        deletion_check(detail_detector, image, [explanation], random_draws=0)


def test_comparison_record_names_the_maps_and_holds_both_checks(detail_detector, image):
    maps = [
        explanation_of(_quarter_map(top=True, left=True), target_index=0),
        explanation_of(
            _quarter_map(top=True, left=True) + _quarter_map(top=True, left=False),
            target_index=0,
            method="lime",
            signed=True,
        ),
    ]
    checks = deletion_check(detail_detector, image, maps, fraction=0.25)
    record = comparison_record(maps, checks, agreement(maps))
    assert record["format"] == "deepfake-lens/explanation-comparison"
    assert [item["name"] for item in record["explanations"]] == ["gradcam", "lime"]
    assert record["explanations"][1]["params"] == {"seed": 3}
    assert record["agreement"]["matrix"][0][1] == pytest.approx(0.5)  # the top-left quarter within the top half
    assert [check["name"] for check in record["deletion_check"]] == ["gradcam", "lime"]
    assert comparison_record(maps[:1], checks[:1], None)["agreement"] is None
    with pytest.raises(ValueError, match="not these explanations"):
        comparison_record(maps[::-1], checks, agreement(maps))
    with pytest.raises(ValueError, match="at least one"):
        comparison_record([], [], None)


# --- what was actually hidden, and pass / fail -------------------------------------------------------------------


def test_the_real_share_hidden_is_reported_not_the_nominal_fraction(detail_detector, image):
    """A LIME-like map with one small supporting block: 20 % asked, only the block's pixels hidden."""
    heatmap = np.full((HEIGHT, WIDTH), -0.5, dtype=np.float32)
    heatmap[:12, :10] = 0.3  # 120 of 1920 pixels: 6.25 %
    sparse = explanation_of(heatmap, target_index=0, method="lime", signed=True)
    check = deletion_check(detail_detector, image, [sparse], fraction=0.2)[0]
    assert check.fraction == 0.2 and check.hidden_share == pytest.approx(0.0625)
    assert check.to_dict()["hidden_share"] == pytest.approx(0.0625)


def test_random_areas_have_exactly_as_many_pixels_as_the_map_hid():
    rng = np.random.default_rng(0)
    for count in (0, 1, 64, 300, SIZE * SIZE):
        assert faithfulness._random_blobs(rng, SIZE, count).sum() == count


def test_pass_fail_and_nothing_hidden(detail_detector, image):
    faithful = explanation_of(_quarter_map(top=True, left=True), target_index=0)
    unfaithful = explanation_of(_quarter_map(top=False, left=False), target_index=0, method="gradcam++")
    empty = explanation_of(np.zeros((HEIGHT, WIDTH)), target_index=0, method="attention")
    checks = deletion_check(detail_detector, image, [faithful, unfaithful, empty], fraction=0.25)
    assert [check.outcome for check in checks] == ["pass", "fail", "nothing hidden"]
    assert checks[0].random_beaten == len(checks[0].p_random_draws) == 8
    assert checks[0].p_random == pytest.approx(np.mean(checks[0].p_random_draws))
    assert checks[1].random_beaten < 8
    record = checks[0].to_dict()
    assert record["outcome"] == "pass" and len(record["p_random_draws"]) == 8


def test_a_drop_below_the_minimum_fails_even_when_it_beats_every_random_area():
    tiny_drop = DeletionCheck("gradcam", "Fake", 0.2, 0.2, 0.5, 0.5 - MIN_DROP / 2, 0.5, (0.5, 0.5))
    clear_drop = DeletionCheck("gradcam", "Fake", 0.2, 0.2, 0.5, 0.3, 0.45, (0.45, 0.45))
    beaten_once = DeletionCheck("gradcam", "Fake", 0.2, 0.2, 0.5, 0.3, 0.3, (0.45, 0.15))
    assert tiny_drop.random_beaten == 2 and tiny_drop.outcome == "fail"
    assert clear_drop.outcome == "pass" and beaten_once.outcome == "fail"


def test_the_summary_quotes_the_tables_numbers(detail_detector, image):
    heatmap = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    heatmap[:12, :10] = 1.0
    maps = [
        explanation_of(_quarter_map(top=True, left=True), target_index=0),
        explanation_of(heatmap, target_index=0, method="lime", signed=True),
    ]
    checks = deletion_check(detail_detector, image, maps, fraction=0.25, random_draws=5)
    summary = deletion_summary(checks)
    shares = sorted(check.hidden_share for check in checks)
    assert f"nominally 25%; actually {shares[0]:.1%} to {shares[1]:.1%}" in summary
    assert "in 5 random areas" in summary and f"at least {MIN_DROP:g}" in summary
    passed = sum(check.outcome == "pass" for check in checks)
    assert f"{passed} of 2 passed" in summary and "no better than chance" in summary
    assert deletion_summary([]) == "No map to check."
