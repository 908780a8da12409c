"""Shared fixtures: a tiny detector, a model folder with stored results, images drawn with numpy.

Everything is built in the test session (no files from ../shared, no downloads):
a 32 px ``small_cnn`` + attention model with random weights, saved as
``default.keras`` with its card, plus an evaluation-results file made from
synthetic predictions, so pages and the CLI can be exercised end to end.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from deepfake_core.architecture import build_model
from deepfake_core.card import ModelCard, architecture_card, card_path_for, file_sha256, save_card
from deepfake_core.data import make_split, scan_dataset, write_manifest
from deepfake_core.detector import Detector
from deepfake_core.evaluation.results import build_evaluation_results, save_results, thesis_reported_results
from deepfake_core.explain.base import Explanation
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.training import TrainConfig, train

TINY_SIZE = 32


def tiny_card(*, name: str = "default", sha256: str | None = None, attention: bool = True, **overrides) -> ModelCard:
    """A card for the tiny test model (as training writes it), with any field overridden."""
    card = architecture_card(
        model_id=f"{name}-test",
        name=name,
        backbone="small_cnn",
        input_size=TINY_SIZE,
        attention=attention,
        weights_file=f"{name}.keras",
        weights_sha256=sha256,
        description="tiny random-weight model built by the test suite",
    )
    return replace(card, **overrides)


def save_tiny_model(
    folder: Path, *, name: str = "default", seed: int = 0, attention: bool = True, face_crop: bool = False
) -> Path:
    """Build, save and card a tiny model in ``folder``; returns the ``.keras`` path.

    With ``face_crop`` the card carries the default face step, so the model judges aligned face crops.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(backbone="small_cnn", input_size=TINY_SIZE, attention=attention, name=name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.keras"
    model.save(path)
    extra = {"face_crop": FaceCropSpec()} if face_crop else {}
    save_card(tiny_card(name=name, sha256=file_sha256(path), attention=attention, **extra), card_path_for(path))
    return path


def sensitive_model(
    *, backbone: str = "small_cnn", attention: bool = True, head: str = "thesis", input_size: int = TINY_SIZE
):
    """A random-weight model whose ``bn_features`` standardises the backbone's output, as training would.

    A freshly initialised backbone outputs ~1e-9; without this every image gets
    p = 0.5 exactly and every explanation map is flat.
    """
    import keras

    keras.utils.set_random_seed(0)
    model = build_model(backbone=backbone, input_size=input_size, attention=attention, head=head)
    batch_norm = model.get_layer("bn_features")
    probe = keras.Model(model.input, batch_norm.input)
    images = np.random.default_rng(1).uniform(0, 255, (16, input_size, input_size, 3)).astype("float32")
    features = probe(images).numpy()
    mean, std = features.mean(axis=(0, 1, 2)), features.std(axis=(0, 1, 2)) + 1e-12
    batch_norm.gamma.assign(1.0 / std)
    batch_norm.beta.assign(-mean / std)
    return model


def synthetic_results(*, model_id: str = "default-test", model_name: str = "default", seed: int = 0) -> dict:
    """Evaluation results from made-up predictions covering every kind, incl. the hard pair."""
    rng = np.random.default_rng(seed)
    kinds = ["celeba"] * 40 + ["gan256"] * 40 + ["ffhq"] * 12 + ["stylegan2_tpdne"] * 12
    labels = ["Real" if kind in ("celeba", "ffhq") else "Fake" for kind in kinds]
    truth = np.array([label == "Fake" for label in labels], dtype=float)
    p_fake = np.clip(truth * 0.7 + rng.uniform(0, 0.3, len(kinds)) + rng.normal(0, 0.1, len(kinds)), 0, 1)
    return build_evaluation_results(
        model_id=model_id,
        model_name=model_name,
        data={"root": "synthetic", "split": "test", "manifest_sha256": "0" * 64, "n_images": len(kinds)},
        ids=[f"{kind}_{index:03d}.jpg" for index, kind in enumerate(kinds)],
        labels=labels,
        kinds=kinds,
        p_fake=p_fake.tolist(),
        threshold=0.5,
        training_history={
            "loss": [0.6, 0.4],
            "val_loss": [0.65, 0.5],
            "accuracy": [0.7, 0.8],
            "val_accuracy": [0.6, 0.75],
        },
        n_boot=50,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder like the shipped one: default.keras + card, evaluation/ results."""
    folder = tmp_path_factory.mktemp("model")
    save_tiny_model(folder)
    (folder / "evaluation").mkdir()
    save_results(synthetic_results(), folder / "evaluation" / "default.json")
    save_results(thesis_reported_results(), folder / "evaluation" / "thesis_reported.json")
    return folder


@pytest.fixture
def model_dir(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny model folder as the dashboard's model folder (the legacy opt-in off)."""
    monkeypatch.setenv("DEEPFAKE_LENS_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.delenv("DEEPFAKE_LENS_ALLOW_LEGACY", raising=False)
    return tiny_model_dir


@pytest.fixture(scope="session")
def tiny_detector(tiny_model_dir: Path) -> Detector:
    from deepfake_core.loading import load_detector

    return load_detector(tiny_model_dir / "default.keras")


@pytest.fixture(scope="session")
def tiny_face_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder whose default model has the face step (``face_crop`` in its card)."""
    folder = tmp_path_factory.mktemp("face_model")
    save_tiny_model(folder, face_crop=True)
    (folder / "evaluation").mkdir()
    save_results(synthetic_results(), folder / "evaluation" / "default.json")
    return folder


@pytest.fixture(scope="session")
def tiny_face_detector(tiny_face_model_dir: Path) -> Detector:
    from deepfake_core.loading import load_detector

    return load_detector(tiny_face_model_dir / "default.keras")


def astronaut() -> np.ndarray:
    """scikit-image's astronaut (512 x 512, public domain): one real face, as a package ships it."""
    from skimage import data

    return data.astronaut()


def four_faces() -> np.ndarray:
    """A 1024 x 1024 photo with four faces: the astronaut tiled 2 x 2."""
    image = astronaut()
    return np.vstack([np.hstack([image, image]), np.hstack([image, image])])


def no_face_pictures() -> dict[str, np.ndarray]:
    """Pictures without a face: a cat, a coffee cup, a text screenshot and a landscape-like gradient."""
    from PIL import ImageDraw
    from skimage import data

    screenshot = Image.new("RGB", (640, 360), "white")
    draw = ImageDraw.Draw(screenshot)
    for line in range(12):
        draw.text(
            (20, 20 + 26 * line), f"Line {line}: the quick brown fox jumps over the lazy dog 0123456789", fill="black"
        )
    rows = np.linspace(0, 1, 300)[:, None, None]
    sky, ground = np.array([110, 160, 230]), np.array([60, 120, 50])
    landscape = np.where(rows < 0.55, sky * (1 - rows * 0.5), ground * (1.2 - rows * 0.4)) * np.ones((1, 500, 1))
    landscape += np.random.default_rng(0).normal(0, 6, landscape.shape)
    return {
        "cat": data.chelsea(),
        "coffee": data.coffee(),
        "screenshot": np.asarray(screenshot),
        "landscape": np.clip(landscape, 0, 255).astype(np.uint8),
    }


def face_like_image(height: int = 48, width: int = 40, *, seed: int = 0) -> np.ndarray:
    """An RGB uint8 image with some structure (an ellipse on a gradient plus noise)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3), dtype=np.float32)
    image[..., 0] = 80 + 100 * rows / height
    image[..., 1] = 60 + 120 * cols / width
    image[..., 2] = 120
    inside = ((rows - height / 2) / (height / 3)) ** 2 + ((cols - width / 2) / (width / 3.5)) ** 2 < 1
    image[inside] = (220, 180, 150)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def explain_cli(*argv: str) -> int:
    """Run ``deepfake-core explain ARGV`` in-process, as the command line does; returns its exit status."""
    import argparse

    from deepfake_core.explain.command import add_explain_parser

    parser = argparse.ArgumentParser(prog="deepfake-core")
    add_explain_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["explain", *argv])
    return args.run(args)


def encode(image: np.ndarray, fmt: str = "PNG") -> bytes:
    """Encode an RGB array to image-file bytes with Pillow."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def explanation_of(heatmap: np.ndarray, *, signed: bool = False, method: str = "gradcam", **extra) -> Explanation:
    """A hand-made explanation with ``heatmap`` (provenance fields filled with fixed test values)."""
    fields = {
        "method": method,
        "target_class": "Fake",
        "target_index": 1,
        "params": {"seed": 3} if signed else {},
        "image_sha256": "ab" * 32,
        "image_sha256_source": "upload",
        "model_id": "tiny-123",
        "verdict": {"label": "Fake", "p_fake": 0.9},
        "seconds": 0.25,
        "signed": signed,
        "meaning": "test map",
        **extra,
    }
    return Explanation(heatmap=np.asarray(heatmap, dtype=np.float32), **fields)


def generated_faces(root, per_kind: int = 10):
    """Reals: smooth gradients; fakes: checkerboard texture — separable, so a tiny model can learn."""
    rng = np.random.default_rng(0)
    kinds = {"Real": ("celeba", "ffhq"), "Fake": ("gan256", "stylegan2_tpdne")}
    for label, names in kinds.items():
        (root / label).mkdir(parents=True)
        for kind in names:
            for index in range(per_kind):
                base = np.linspace(40, 200, 40)[None, :, None] * np.ones((40, 1, 3))
                if label == "Fake":
                    base = base + 40 * (np.indices((40, 40)).sum(0) % 2)[..., None]
                pixels = np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / label / f"{kind}_{index:03d}.png")
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A one-epoch 32 px model trained on :func:`generated_faces`: ``(data root, manifest, TrainResult)``."""
    root = generated_faces(tmp_path_factory.mktemp("data") / "faces")
    manifest = write_manifest(
        make_split(scan_dataset(root), fractions=(0.6, 0.2, 0.2), seed=0),
        root.parent / "manifest.json",
        root_name="faces",
        seed=0,
        fractions=(0.6, 0.2, 0.2),
    )
    out = tmp_path_factory.mktemp("model") / "tiny.keras"
    config = TrainConfig(input_size=32, epochs=1, batch_size=8, augment=True, kind_balance=0.5)
    result = train(config, manifest, root, out, log=lambda line: None)
    return root, manifest, result


def train_tiny_with_cli(root: Path, out: Path, *extra: str) -> int:
    """``deepfake-core train`` of a two-epoch 32 px small CNN on :func:`generated_faces` with ``extra`` options."""
    from deepfake_core.cli import main

    return main(
        [
            *("train", "--data", str(root), "--manifest", str(root.parent / "manifest.json"), "--out", str(out)),
            *("--backbone", "small_cnn", "--input-size", "32", "--epochs", "2", "--batch-size", "8"),
            *("--kind-balance", "0.5", *extra),
        ]
    )


def plain_model_card(out: Path, *, training_layer: str, history_keys: set[str]) -> ModelCard:
    """The card of a model trained with a training-only output: checks the saved model is the plain one.

    Its history has ``history_keys`` (the second output's figures) and the file holds neither
    ``training_layer`` nor a second output.
    """
    import json

    from deepfake_core.card import history_path_for, load_card
    from deepfake_core.loading import load_detector

    history = json.loads(history_path_for(out).read_text(encoding="utf-8"))
    assert history_keys <= set(history)
    detector = load_detector(out)
    assert training_layer not in {layer.name for layer in detector.model.layers}
    assert len(detector.model.outputs) == 1
    return load_card(card_path_for(out))
