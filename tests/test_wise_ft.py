"""Moving a fine-tuned backbone back toward its ImageNet start: ``toward_start`` and the ``wise`` command."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest

from deepfake_core import wise_ft
from deepfake_core.architecture import BACKBONE_LAYER
from deepfake_core.card import card_path_for, history_path_for, load_card
from deepfake_core.cli import main
from deepfake_core.efficientnet_lite import build_efficientnet_lite0
from deepfake_core.errors import DataSetError
from deepfake_core.loading import load_detector
from deepfake_core.perturb import AugmentConfig
from deepfake_core.training import TrainConfig, train, training_faces
from deepfake_core.wise_ft import NORM_SAMPLE, toward_start

QUIET = {"log": lambda line: None}


@pytest.fixture(scope="module")
def fine_tuned(trained, tmp_path_factory):
    """A 32 px EfficientNet-Lite0 model fine-tuned for one epoch from ImageNet on the generated faces."""
    root, manifest, _ = trained
    config = TrainConfig(backbone="efficientnet_lite0", input_size=32, epochs=1, batch_size=8, learning_rate=1e-3)
    return root, manifest, train(config, manifest, root, tmp_path_factory.mktemp("lite") / "lite.keras", **QUIET)


def test_only_the_backbone_moves_by_alpha_toward_the_start(fine_tuned, tmp_path):
    root, manifest, result = fine_tuned
    out = tmp_path / "wise.keras"
    card = toward_start(result.model_path, manifest, root, out, alpha=0.25, **QUIET)
    tuned, mixed = load_detector(result.model_path).model, load_detector(out).model
    start = build_efficientnet_lite0(32, None).get_weights()
    moved = tuned.get_layer(BACKBONE_LAYER).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(moved, start, strict=True))  # fine-tuning changed it
    for weight, a, b in zip(mixed.get_layer(BACKBONE_LAYER).get_weights(), moved, start, strict=True):
        np.testing.assert_allclose(weight, 0.25 * a.astype(np.float64) + 0.75 * b, rtol=1e-5, atol=1e-6)
    for layer in tuned.layers:
        if layer.name != BACKBONE_LAYER:
            for a, b in zip(layer.get_weights(), mixed.get_layer(layer.name).get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
    assert card == load_card(card_path_for(out)) and card.metrics == {}
    assert card.training["wise_ft"] == {
        "alpha": 0.25,
        "model_id": result.card.model_id,
        "refresh_norms": False,
        "norm_augment": None,
        "norm_draw": None,
        "norm_faces": None,
    }
    assert "0.25 x its fine-tuned weights + 0.75 x the start" in card.description
    assert card.model_id != result.card.model_id and not history_path_for(out).exists()
    assert (out.parent / card.familiarity.file).is_file()


def test_refreshed_norms_hold_the_statistics_of_the_training_faces(fine_tuned, tmp_path):
    root, manifest, result = fine_tuned
    naive, refreshed = tmp_path / "naive.keras", tmp_path / "refreshed.keras"
    toward_start(result.model_path, manifest, root, naive, alpha=0.5, **QUIET)
    card = toward_start(result.model_path, manifest, root, refreshed, alpha=0.5, refresh_norms=True, **QUIET)
    assert card.training["wise_ft"]["refresh_norms"] is True
    backbone = load_detector(refreshed).model.get_layer(BACKBONE_LAYER)
    naive_stem = load_detector(naive).model.get_layer(BACKBONE_LAYER).get_layer("stem_bn")
    faces = training_faces(card, manifest, root, **QUIET)
    assert len(faces.train) <= NORM_SAMPLE  # so the sample is every training face
    images = np.concatenate([batch for batch, _ in faces.dataset("train")])
    stem = keras.Model(backbone.input, backbone.get_layer("stem_conv").output)
    expected = stem.predict(images, verbose=0).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(backbone.get_layer("stem_bn").moving_mean.numpy(), expected, rtol=1e-3, atol=1e-4)
    assert not np.allclose(naive_stem.moving_mean.numpy(), expected, rtol=1e-3, atol=1e-4)
    assert backbone.get_layer("stem_bn").momentum == naive_stem.momentum == 0.99  # restored before saving


def test_a_model_trained_from_scratch_or_a_bad_alpha_is_refused(trained, fine_tuned, tmp_path):
    root, manifest, scratch = trained
    _, _, lite = fine_tuned
    with pytest.raises(DataSetError, match="not fine-tuned from the ImageNet start"):
        toward_start(scratch.model_path, manifest, root, tmp_path / "a.keras", alpha=0.5, **QUIET)
    with pytest.raises(DataSetError, match=r"alpha must lie in \[0, 1\]"):
        toward_start(lite.model_path, manifest, root, tmp_path / "b.keras", alpha=1.5, **QUIET)
    with pytest.raises(DataSetError, match="is the model itself"):
        toward_start(lite.model_path, manifest, root, lite.model_path, alpha=0.5, **QUIET)


def test_the_wise_command_writes_a_model_and_rejects_an_alpha_outside_0_1(fine_tuned, tmp_path, capsys):
    root, _, result = fine_tuned
    common = ["--model", str(result.model_path), "--data", str(root), "--manifest", str(root.parent / "manifest.json")]
    out = tmp_path / "half.keras"
    assert main(["wise", *common, "--out", str(out), "--alpha", "0.5", "--name", "half"]) == 0
    assert load_card(card_path_for(out)).name == "half" and "half-" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["wise", *common, "--out", str(tmp_path / "x.keras"), "--alpha", "1.5"])
    assert "must lie in (0, 1], got 1.5" in capsys.readouterr().err
    # alpha 1 alone would copy the model; with --refresh-norms it re-measures the norms and keeps every weight
    assert main(["wise", *common, "--out", str(tmp_path / "same.keras"), "--alpha", "1"]) == 2
    assert "--alpha 1 keeps the model as it is" in capsys.readouterr().err
    norms_only = tmp_path / "norms.keras"
    assert main(["wise", *common, "--out", str(norms_only), "--alpha", "1", "--refresh-norms"]) == 0
    norms_card = load_card(card_path_for(norms_only))
    assert norms_card.training["wise_ft"]["alpha"] == 1.0
    assert norms_card.training["wise_ft"]["norm_faces"] == 24 < NORM_SAMPLE  # every generated training face
    assert norms_card.description.endswith(
        "Weights unchanged. BatchNorm statistics measured again on 24 un-augmented training faces."
    )


def test_norms_can_be_measured_on_augmented_faces_and_the_card_names_the_augmentation(fine_tuned, tmp_path, capsys):
    root, _, result = fine_tuned
    common = ["--model", str(result.model_path), "--data", str(root), "--manifest", str(root.parent / "manifest.json")]
    norms = ["--alpha", "1", "--refresh-norms"]

    def stem_mean(path) -> np.ndarray:
        return load_detector(path).model.get_layer(BACKBONE_LAYER).get_layer("stem_bn").moving_mean.numpy()

    clean, grey = tmp_path / "clean.keras", tmp_path / "grey.keras"
    assert main(["wise", *common, *norms, "--out", str(clean)]) == 0
    assert main(["wise", *common, *norms, "--norm-augment", "grey=1", "--out", str(grey)]) == 0
    grey_card = load_card(card_path_for(grey))
    assert grey_card.description.endswith("measured again on 24 augmented training faces.")
    recorded = grey_card.training["wise_ft"]["norm_augment"]
    assert AugmentConfig.from_dict(recorded) == AugmentConfig.only({"grey": 1.0})
    assert not np.allclose(stem_mean(clean), stem_mean(grey), rtol=1e-3, atol=1e-4)  # colour moved the statistics
    capsys.readouterr()
    # this model trained without augmentation, so "training" has nothing to repeat
    assert main(["wise", *common, *norms, "--norm-augment", "training", "--out", str(tmp_path / "t.keras")]) == 2
    assert "records no training augmentation" in capsys.readouterr().err
    assert main(["wise", *common, *norms, "--norm-augment", "hue=1", "--out", str(tmp_path / "h.keras")]) == 2
    assert "unknown transform hue" in capsys.readouterr().err
    without = ["--alpha", "0.5", "--norm-augment", "grey=1", "--out", str(tmp_path / "w.keras")]
    assert main(["wise", *common, *without]) == 2
    assert "needs the norms re-measured" in capsys.readouterr().err


def test_norms_can_be_measured_on_each_kind_alike_or_on_real_faces_only(fine_tuned, tmp_path, capsys, monkeypatch):
    root, manifest, result = fine_tuned
    monkeypatch.setattr(wise_ft, "NORM_SAMPLE", 8)  # the generated faces have 4 kinds of 6 training faces
    faces = training_faces(load_card(card_path_for(result.model_path)), manifest, root)
    per_kind = wise_ft._norm_faces(faces, "per-kind")
    assert Counter(record.kind for record in per_kind) == {"celeba": 2, "ffhq": 2, "gan256": 2, "stylegan2_tpdne": 2}
    uniform = wise_ft._norm_faces(faces, "uniform")
    assert len(uniform) == 8 and Counter(record.kind for record in uniform) != Counter(r.kind for r in per_kind)
    # real faces only: the two real kinds give 4 each, no fake is drawn
    assert Counter(record.kind for record in wise_ft._norm_faces(faces, "real")) == {"celeba": 4, "ffhq": 4}

    common = ["--model", str(result.model_path), "--data", str(root), "--manifest", str(root.parent / "manifest.json")]
    out = tmp_path / "kinds.keras"
    assert main(["wise", *common, "--alpha", "1", "--refresh-norms", "--norm-draw", "per-kind", "--out", str(out)]) == 0
    card = load_card(card_path_for(out))
    assert card.training["wise_ft"]["norm_draw"] == "per-kind" and card.training["wise_ft"]["norm_faces"] == 8
    assert card.description.endswith("on 8 un-augmented training faces, up to the same number of each kind.")
    capsys.readouterr()
    assert main(["wise", *common, "--alpha", "0.5", "--norm-draw", "per-kind", "--out", str(tmp_path / "w.keras")]) == 2
    assert "a draw of the faces the norms are measured on needs the norms re-measured" in capsys.readouterr().err
    assert main(["wise", *common, "--alpha", "1", "--refresh-norms", "--norm-draw", "real", "--out", str(out)]) == 0
    card = load_card(card_path_for(out))
    assert card.training["wise_ft"]["norm_draw"] == "real" and card.training["wise_ft"]["norm_faces"] == 8
    assert card.description.endswith(
        "on 8 un-augmented real training faces only, up to the same number of each real kind."
    )
    with pytest.raises(DataSetError, match="choose uniform or per-kind or real"):
        toward_start(result.model_path, manifest, root, out, alpha=1.0, refresh_norms=True, norm_draw="x")
