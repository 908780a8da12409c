"""The kind head (``train --kind-head``): a training-only softmax over the source kinds beside the verdict."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from conftest import plain_model_card, train_tiny_with_cli

from deepfake_core.architecture import build_model
from deepfake_core.data import LABELS
from deepfake_core.errors import DataSetError
from deepfake_core.kind_head import KIND_HEAD_LAYER, KIND_OUTPUT, compile_with_kind_head, kind_index
from deepfake_core.second_output import PREDICTIONS_OUTPUT
from deepfake_core.training import TrainConfig, make_dataset, train

REAL, FAKE = LABELS.index("Real"), LABELS.index("Fake")


def test_kinds_are_indexed_in_sorted_order_once_each():
    assert kind_index(["gan256", "celeba", "gan256", "ffhq"]) == {"celeba": 0, "ffhq": 1, "gan256": 2}


def test_the_dataset_carries_each_face_s_kind_and_weight_to_both_outputs(trained):
    root, manifest, result = trained
    records = manifest.splits["train"]
    kinds = kind_index(record.kind for record in records)
    weights = {kind: float(index + 1) for kind, index in kinds.items()}
    dataset = make_dataset(
        records, root, result.card, batch_size=len(records), shuffle=False, weights=weights, kinds=kinds
    )
    images, targets, sample_weights = next(iter(dataset))
    assert images.shape[0] == len(records)
    np.testing.assert_array_equal(targets[KIND_OUTPUT].numpy(), [kinds[record.kind] for record in records])
    np.testing.assert_array_equal(targets[PREDICTIONS_OUTPUT].numpy(), [LABELS.index(r.label) for r in records])
    for output in (PREDICTIONS_OUTPUT, KIND_OUTPUT):
        np.testing.assert_array_equal(sample_weights[output].numpy(), [weights[record.kind] for record in records])
    with pytest.raises(ValueError, match="no class for"):
        make_dataset(records, root, result.card, batch_size=4, shuffle=False, kinds={"celeba": 0})


def test_fitting_the_training_model_trains_the_plain_model_to_tell_kinds_apart():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # three kinds at three brightnesses, two of them real: the verdict alone need not tell the real ones apart
    kinds = np.tile([0, 1, 2], 16)
    labels = np.where(kinds == 2, FAKE, REAL).astype("int32")
    images = (np.array([200.0, 120.0, 40.0])[kinds][:, None, None, None] + rng.normal(0, 10, (48, 32, 32, 3))).astype(
        "float32"
    )
    model = build_model(backbone="small_cnn", input_size=32, num_classes=len(LABELS), name="tiny")
    trainer = compile_with_kind_head(model, 1e-3, 1.0, {"a": 0, "b": 1, "c": 2})
    assert {layer.name for layer in model.layers} < {layer.name for layer in trainer.layers}  # the same layers
    fit = trainer.fit(images, {PREDICTIONS_OUTPUT: labels, KIND_OUTPUT: kinds}, batch_size=8, epochs=12, verbose=0)
    assert fit.history["kind_loss"][-1] < fit.history["kind_loss"][0]
    assert fit.history["kind_accuracy"][-1] > 0.9  # the two real kinds too, which the verdict alone merges
    outputs = trainer.predict(images, verbose=0)
    # the plain model gives what the training model's first output gives: it is the one that is saved
    np.testing.assert_allclose(model.predict(images, verbose=0), outputs[PREDICTIONS_OUTPUT], atol=1e-6)


def test_a_model_without_pooled_features_one_kind_or_a_weight_of_0_is_refused():
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="no pooled-feature layer"):
        compile_with_kind_head(plain, 1e-3, 0.5, {"a": 0, "b": 1})
    tiny = build_model(backbone="small_cnn", input_size=32)
    with pytest.raises(ValueError, match="above 0"):
        compile_with_kind_head(tiny, 1e-3, 0.0, {"a": 0, "b": 1})
    with pytest.raises(ValueError, match="at least two kinds"):
        compile_with_kind_head(tiny, 1e-3, 0.5, {"a": 0})


def test_train_with_a_kind_head_writes_a_plain_model_and_records_the_weight_and_kinds(trained, tmp_path):
    root, manifest, _ = trained
    out = tmp_path / "kinds.keras"
    assert train_tiny_with_cli(root, out, "--kind-head", "0.5") == 0
    history_keys = {"kind_loss", "val_kind_loss", "val_predictions_loss", "val_kind_accuracy"}
    card = plain_model_card(out, training_layer=KIND_HEAD_LAYER, history_keys=history_keys)
    assert card.training["config"]["kind_head"] == 0.5
    assert card.training["kind_head_classes"] == sorted({record.kind for record in manifest.splits["train"]})
    assert "kind (weight 0.5)" in card.description


@pytest.mark.parametrize("extra", [{"mixup": 0.2}, {"average_from": 1}, {"single_center": 0.5}, {"probe_epochs": 1}])
def test_the_kind_head_is_refused_beside_what_changes_the_labels_or_the_outputs(trained, tmp_path, extra):
    root, manifest, _ = trained
    config = TrainConfig(backbone="small_cnn", input_size=32, epochs=1, kind_head=0.5, **extra)
    with pytest.raises(DataSetError, match="cannot be combined"):
        train(config, manifest, root, tmp_path / "refused.keras", log=lambda line: None)


def test_a_validation_kind_no_training_face_has_is_refused_before_training(trained, tmp_path):
    root, manifest, _ = trained
    only_in_validation = manifest.splits["validation"][0].kind
    train_part = [record for record in manifest.splits["train"] if record.kind != only_in_validation]
    narrowed = replace(manifest, splits={**manifest.splits, "train": train_part})
    config = TrainConfig(backbone="small_cnn", input_size=32, epochs=1, kind_head=0.5)
    with pytest.raises(DataSetError, match=f"cannot name {only_in_validation}"):
        train(config, narrowed, root, tmp_path / "refused.keras", log=lambda line: None)
