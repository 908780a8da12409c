"""Tests for deepfake_core.legacy: the thesis' H5 + label pickle, opt-in and local only.

Every file is made here: a model with the thesis' layer sequence (default layer
names, a ``Lambda`` named ``RescaleGAP``) on the tiny ``small_cnn`` backbone at
32 px, saved with ``model.save(....h5)`` as the thesis did, and a pickled
scikit-learn ``LabelBinarizer``. Batch-norm statistics are randomised so a
weights-only load that put any weight in the wrong place would change predictions.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import pytest
from keras import layers
from sklearn.preprocessing import LabelBinarizer

from deepfake_core import legacy
from deepfake_core.architecture import BACKBONES, build_model
from deepfake_core.card import file_sha256
from deepfake_core.detector import Detector
from deepfake_core.errors import ExplanationError, LegacyModelRefusedError, ModelLoadError
from deepfake_core.explain import explain
from deepfake_core.legacy import (
    DEFAULT_LABELS,
    LABELS_FILE,
    LegacyLabelsWarning,
    load_legacy_detector,
    read_legacy_labels,
)
from deepfake_core.loading import ALLOW_LEGACY_ENV, LEGACY_MODEL_FILE, legacy_allowed_by_env, load_detector

INPUT_SIZE = 32
BACKBONE = "small_cnn"
# Noise at four brightnesses: pooled features differ between images, so predictions do too.
REFERENCE_BATCH = (
    np.random.default_rng(7).uniform(0, 255, (4, INPUT_SIZE, INPUT_SIZE, 3))
    * np.array([0.1, 0.4, 0.7, 1.0])[:, None, None, None]
).astype(np.float32)


def RescaleGAP(inputs: list[Any]) -> Any:
    """Named as in the thesis: Keras saves a ``Lambda``'s named function as this name only."""
    return inputs[0] / inputs[1]


RESCALE_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "lambda": lambda inputs: inputs[0] / inputs[1],  # saved as marshalled bytecode
    "named": RescaleGAP,  # saved as the name "RescaleGAP" only
}
# first dropout rate, hidden units; "other" is a head neither rebuild has
HEAD_LAYERS = {"thesis": (0.25, 256), "flask": (0.5, 64), "other": (0.25, 100)}


def thesis_format_model(head: str, function: str, *, flat: bool = False) -> keras.Model:
    """The thesis' model, layer by layer in its order, on the tiny backbone ``build_model`` uses.

    ``flat`` applies the backbone's layers one by one instead of as a nested model, so
    the file lists them at its top level and a weights-only load into the rebuild fails.
    """
    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
    backbone = BACKBONES[BACKBONE](INPUT_SIZE, None)
    if flat:
        x = image
        for layer in backbone.layers[1:]:
            x = layer(x)
    else:
        x = backbone(image)
    features = layers.BatchNormalization()(x)
    x = layers.Dropout(0.5)(features)
    for filters in (256, 128, 128):
        x = layers.Conv2D(filters, 1, activation="relu")(x)
    mask = layers.Conv2D(1, 1, padding="valid", activation="sigmoid")(x)
    fanned = layers.Conv2D(
        features.shape[-1], 1, padding="same", activation="linear", use_bias=False, kernel_initializer="ones"
    )(mask)
    attended = layers.Multiply()([fanned, features])
    gaps = [layers.GlobalAveragePooling2D()(attended), layers.GlobalAveragePooling2D()(fanned)]
    x = layers.Lambda(RESCALE_FUNCTIONS[function], name="RescaleGAP")(gaps)
    dropout, units = HEAD_LAYERS[head]
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(units, activation="relu")(x)
    x = layers.Dropout(0.25)(x)
    return keras.Model(image, layers.Dense(2, activation="softmax")(x))


def randomise_batchnorm(model: keras.Model, seed: int) -> None:
    """Move every batch-norm weight off its initial value (1, 0, 0, 1), which a mix-up would not reveal."""
    rng = np.random.default_rng(seed)
    draws = {
        "gamma": lambda shape: rng.uniform(0.5, 1.5, shape),
        "beta": lambda shape: rng.normal(0.0, 0.1, shape),
        "moving_mean": lambda shape: rng.normal(0.0, 0.5, shape),
        "moving_variance": lambda shape: rng.uniform(0.5, 2.0, shape),
    }
    for variable in model.weights:
        kind = variable.path.rsplit("/", 1)[-1]
        if kind in draws:
            variable.assign(draws[kind](variable.shape))


def write_label_pickle(path: Path, classes: list[str], *, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
    path.write_bytes(pickle.dumps(LabelBinarizer().fit(classes), protocol=protocol))


@dataclass(frozen=True)
class ThesisFiles:
    """A model folder with the thesis' two files, and the saved model's predictions on ``REFERENCE_BATCH``."""

    folder: Path
    h5: Path
    expected: np.ndarray


@pytest.fixture(scope="module")
def thesis_files(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., ThesisFiles]:
    """``make(head, function, flat)``: thesis files for that head, Lambda function and backbone layout, built once."""
    made: dict[tuple[str, str], ThesisFiles] = {}

    def make(head: str = "thesis", function: str = "lambda", flat: bool = False) -> ThesisFiles:
        if (head, function, flat) not in made:
            keras.utils.set_random_seed(len(made))
            model = thesis_format_model(head, function, flat=flat)
            randomise_batchnorm(model, seed=len(made))
            folder = tmp_path_factory.mktemp(f"model_{head}_{function}_{'flat' if flat else 'nested'}")
            model.save(folder / LEGACY_MODEL_FILE)
            write_label_pickle(folder / LABELS_FILE, ["Fake", "Real", "Fake"])
            expected = model(REFERENCE_BATCH, training=False).numpy()
            made[head, function, flat] = ThesisFiles(folder, folder / LEGACY_MODEL_FILE, expected)
        return made[head, function, flat]

    return make


def copy_files(files: ThesisFiles, folder: Path) -> Path:
    """Copy the thesis files into ``folder`` (for tests that alter them); returns the H5 path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (LEGACY_MODEL_FILE, LABELS_FILE):
        shutil.copy(files.folder / name, folder / name)
    return folder / LEGACY_MODEL_FILE


def load(h5: Path, trusted_dir: Path | None = None) -> Detector:
    """Load opted in, with the tiny architecture for the weights-only routes."""
    return load_legacy_detector(
        h5,
        allow_legacy=True,
        trusted_dir=trusted_dir or h5.parent,
        backbone=BACKBONE,
        input_size=INPUT_SIZE,
    )


def assert_reproduces(detector: Detector, files: ThesisFiles) -> None:
    np.testing.assert_allclose(detector.raw_probabilities(REFERENCE_BATCH), files.expected, atol=1e-5)


def break_lambda_bytecode(h5: Path) -> None:
    """Make the Lambda's marshalled code unreadable, as it is for a file written by another Python version."""
    with h5py.File(h5, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        rescale = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Lambda")
        rescale["config"]["function"]["config"]["code"] = base64.b64encode(b"\xfe not marshal data").decode()
        handle.attrs["model_config"] = json.dumps(config)


def refuse_full_load(*args: Any, **kwargs: Any) -> keras.Model:
    raise RuntimeError("no full loads today")


class Reduce:
    """Pickles as the call ``function(*args)``, the way a hostile pickle runs code."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.function, self.args


# --- opting in --------------------------------------------------------------------------------------------------


def test_refused_without_opt_in(thesis_files: Callable[..., ThesisFiles]) -> None:
    files = thesis_files()
    with pytest.raises(LegacyModelRefusedError, match=r"can run arbitrary code") as error:
        load_legacy_detector(files.h5, allow_legacy=False, trusted_dir=files.folder)
    message = str(error.value)
    assert "Allow the thesis' legacy model files" in message
    assert "--allow-legacy" in message
    assert f"{ALLOW_LEGACY_ENV}=1" in message


@pytest.mark.parametrize(
    ("value", "allowed"),
    [*((value, True) for value in ("1", "true", "YES", " on ")), *((value, False) for value in ("0", "no", "", None))],
)
def test_legacy_allowed_by_env(monkeypatch: pytest.MonkeyPatch, value: str | None, allowed: bool) -> None:
    if value is None:
        monkeypatch.delenv(ALLOW_LEGACY_ENV, raising=False)
    else:
        monkeypatch.setenv(ALLOW_LEGACY_ENV, value)
    assert legacy_allowed_by_env() is allowed


def place_copy_elsewhere(h5: Path, trusted: Path, elsewhere: Path) -> Path:
    return shutil.copy(h5, elsewhere / LEGACY_MODEL_FILE)


def place_symlink_inside(h5: Path, trusted: Path, elsewhere: Path) -> Path:
    link = trusted / "linked.h5"
    link.symlink_to(shutil.copy(h5, elsewhere / LEGACY_MODEL_FILE))
    return link


@pytest.mark.parametrize("place", [place_copy_elsewhere, place_symlink_inside], ids=["copy-elsewhere", "symlink-out"])
def test_refused_outside_trusted_dir(
    thesis_files: Callable[..., ThesisFiles], tmp_path: Path, place: Callable[[Path, Path, Path], Path]
) -> None:
    trusted, elsewhere = tmp_path / "model", tmp_path / "uploads"
    trusted.mkdir()
    elsewhere.mkdir()
    path = place(thesis_files().h5, trusted, elsewhere)
    with pytest.raises(LegacyModelRefusedError, match=r"only from the local model folder"):
        load(path, trusted_dir=trusted)


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"No legacy model file"):
        load(tmp_path / LEGACY_MODEL_FILE)


# --- loading routes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["thesis", "flask"])
@pytest.mark.parametrize("breakage", ["none", "bad-marshal"])
def test_weights_only_comes_first_and_runs_no_code_from_the_file(
    thesis_files: Callable[..., ThesisFiles],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    head: str,
    breakage: str,
) -> None:
    files = thesis_files(head=head)
    h5 = copy_files(files, tmp_path / "model")
    if breakage == "bad-marshal":
        break_lambda_bytecode(h5)  # unreadable code does not matter when no code is read
    monkeypatch.setattr(keras.models, "load_model", refuse_full_load)
    detector = load(h5)
    assert detector.card.architecture.endswith(f"loaded via weights-only ({head} head))")
    assert_reproduces(detector, files)
    if head == "flask":
        assert "weights-only (thesis head): " in detector.card.description  # the failed attempt is recorded
    assert detector.model.get_layer("attention_mask") is not None


@pytest.mark.parametrize("function", sorted(RESCALE_FUNCTIONS))
def test_a_flat_backbone_is_fully_loaded_then_moved_into_the_rebuild(
    thesis_files: Callable[..., ThesisFiles], function: str
) -> None:
    files = thesis_files(function=function, flat=True)
    detector = load(files.h5)
    assert detector.card.architecture == (
        "small_cnn + attention (thesis, legacy H5; loaded via full load, "
        "weights moved into the rebuilt architecture (thesis head))"
    )
    assert "weights-only (thesis head): " in detector.card.description
    assert_reproduces(detector, files)
    image = np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    for method in ("attention", "gradcam"):  # the layers the explainers look up have their names
        assert explain(detector, image, method=method).heatmap.shape == (40, 48)


@pytest.mark.parametrize("function", sorted(RESCALE_FUNCTIONS))
def test_a_file_that_fits_no_rebuild_keeps_its_own_layers(
    thesis_files: Callable[..., ThesisFiles], function: str
) -> None:
    files = thesis_files(head="other", function=function)
    detector = load(files.h5)
    assert detector.card.architecture.startswith("small_cnn + attention (thesis, legacy H5; loaded via full load (")
    assert_reproduces(detector, files)
    if function == "named":  # only the name was saved: it resolved through our custom objects
        assert detector.model.get_layer("RescaleGAP").function is legacy.rescale_gap
    image = np.zeros((40, 48, 3), dtype=np.uint8)
    with pytest.raises(ExplanationError, match="no attention branch"):
        explain(detector, image, method="attention")
    assert explain(detector, image, method="lime", num_samples=10, segmentation="slic").heatmap.shape == (40, 48)


def test_a_flat_file_with_broken_code_names_every_attempt(
    thesis_files: Callable[..., ThesisFiles], tmp_path: Path
) -> None:
    h5 = copy_files(thesis_files(flat=True), tmp_path / "model")
    break_lambda_bytecode(h5)
    with pytest.raises(ModelLoadError, match="bad marshal data") as error:
        load(h5)
    assert "weights-only (thesis head): " in str(error.value) and "full load: " in str(error.value)


def test_reference_predictions_tell_models_apart(thesis_files: Callable[..., ThesisFiles]) -> None:
    """Guards the tests above: an unloaded rebuild does not match the saved model's predictions by chance."""
    files = thesis_files()
    keras.utils.set_random_seed(123)
    fresh = build_model(backbone=BACKBONE, input_size=INPUT_SIZE, head="thesis")
    assert np.ptp(files.expected[:, 0]) > 1e-3
    assert not np.allclose(fresh(REFERENCE_BATCH, training=False).numpy(), files.expected, atol=1e-3)


def write_not_hdf5(path: Path) -> None:
    path.write_bytes(b"this is not an HDF5 file")


def write_hdf5_without_model(path: Path) -> None:
    with h5py.File(path, "w") as handle:
        handle.create_dataset("numbers", data=np.arange(3))


def write_other_keras_model(path: Path) -> None:
    keras.Sequential([keras.Input((4,)), layers.Dense(2, activation="softmax")]).save(path)


@pytest.mark.parametrize("write", [write_not_hdf5, write_hdf5_without_model, write_other_keras_model])
def test_unloadable_h5_names_every_attempt(tmp_path: Path, write: Callable[[Path], None]) -> None:
    h5 = tmp_path / LEGACY_MODEL_FILE
    write(h5)
    with pytest.raises(ModelLoadError) as error:
        load(h5)
    assert not isinstance(error.value, LegacyModelRefusedError)
    assert all(
        attempt in str(error.value)
        for attempt in ("full load: ", "weights-only (thesis head): ", "weights-only (flask head): ")
    )


# --- the card and the detector ----------------------------------------------------------------------------------


def test_card_states_the_thesis_contract(thesis_files: Callable[..., ThesisFiles]) -> None:
    files = thesis_files()
    card = load(files.h5).card
    sha256 = file_sha256(files.h5)
    assert (card.channel_order, card.value_scale, card.input_size) == ("BGR", "0..255", INPUT_SIZE)
    assert (card.labels, card.fake_label, card.fake_index) == (("Fake", "Real"), "Fake", 0)
    assert card.model_id == f"thesis-legacy-{sha256[:12]}"
    assert (card.weights_file, card.weights_sha256) == (LEGACY_MODEL_FILE, sha256)
    assert card.legacy and card.attention and card.backbone == BACKBONE
    assert f"Labels read from {LABELS_FILE}" in card.description
    assert any("OpenForensics" in limitation for limitation in card.limitations)


def test_detector_feeds_bgr_0_to_255(thesis_files: Callable[..., ThesisFiles]) -> None:
    detector = load(thesis_files().h5)
    red, blue = (np.full((40, 40, 3), colour, dtype=np.uint8) for colour in ((255, 0, 0), (0, 0, 255)))
    batch = detector.prepare([red, blue])
    assert batch.shape == (2, INPUT_SIZE, INPUT_SIZE, 3)
    assert batch[0, 0, 0].tolist() == [0.0, 0.0, 255.0]  # red lands in the last channel
    assert batch[1, 0, 0].tolist() == [255.0, 0.0, 0.0]


def test_load_detector_dispatches_h5_here(thesis_files: Callable[..., ThesisFiles]) -> None:
    files = thesis_files()
    with pytest.raises(LegacyModelRefusedError):
        load_detector(files.h5, trusted_dir=files.folder)
    detector = load_detector(files.h5, allow_legacy=True, trusted_dir=files.folder)
    assert detector.card.legacy
    assert detector.card.model_id.startswith("thesis-legacy-")


# --- labels -------------------------------------------------------------------------------------------------------


def numpy1_pickle(classes: list[str]) -> bytes:
    """A pickle as NumPy 1.x writes it (``numpy.core``); protocol 2 names globals as plain text."""
    data = pickle.dumps(LabelBinarizer().fit(classes), protocol=2)
    return data.replace(b"numpy._core.", b"numpy.core.")


LABEL_PICKLES = {
    **{
        f"protocol-{protocol}": lambda classes, protocol=protocol: pickle.dumps(
            LabelBinarizer().fit(classes), protocol=protocol
        )
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
    },
    "object-dtype": lambda classes: pickle.dumps(LabelBinarizer().fit(np.array(classes, dtype=object))),
    "numpy-1": numpy1_pickle,
}


@pytest.mark.parametrize("encode", LABEL_PICKLES.values(), ids=LABEL_PICKLES.keys())
def test_labels_read_from_pickle(tmp_path: Path, encode: Callable[[list[str]], bytes]) -> None:
    (tmp_path / LABELS_FILE).write_bytes(encode(["Genuine", "Fake", "Genuine"]))
    result = read_legacy_labels(tmp_path / LABELS_FILE, trusted_dir=tmp_path)
    assert result.labels == ("Fake", "Genuine")
    assert result.problem is None


def write_symlink_outside(path: Path, outside: Path) -> None:
    write_label_pickle(outside / LABELS_FILE, ["Fake", "Real"])
    path.symlink_to(outside / LABELS_FILE)


UNUSABLE_LABEL_FILES = [
    pytest.param(lambda path, _: None, "no such file", id="missing"),
    pytest.param(write_symlink_outside, "outside the model folder", id="symlink-outside"),
    pytest.param(lambda path, _: path.write_bytes(b"\x80\x05junk"), "unreadable pickle", id="garbage"),
    pytest.param(
        lambda path, _: path.write_bytes(pickle.dumps(Reduce(eval, "6 * 7"))), r"builtins\.eval", id="other-global"
    ),
    pytest.param(lambda path, _: path.write_bytes(pickle.dumps(["Fake", "Real"])), "fitted", id="plain-list"),
    pytest.param(lambda path, _: write_label_pickle(path, ["cat", "dog"]), "do not include 'Fake'", id="no-fake"),
    pytest.param(lambda path, _: write_label_pickle(path, ["Fake", "Real", "Other"]), "3 classes", id="3-classes"),
    pytest.param(lambda path, _: path.write_bytes(bytes(2 << 20)), "larger than", id="oversized"),
]


@pytest.mark.parametrize(("write", "problem"), UNUSABLE_LABEL_FILES)
def test_unusable_labels_fall_back_to_defaults(
    tmp_path: Path, write: Callable[[Path, Path], None], problem: str
) -> None:
    trusted, outside = tmp_path / "model", tmp_path / "outside"
    trusted.mkdir()
    outside.mkdir()
    write(trusted / LABELS_FILE, outside)
    with pytest.warns(LegacyLabelsWarning, match=problem):
        result = read_legacy_labels(trusted / LABELS_FILE, trusted_dir=trusted)
    assert result.labels == DEFAULT_LABELS
    assert result.problem is not None


def test_malicious_label_pickle_never_runs(thesis_files: Callable[..., ThesisFiles], tmp_path: Path) -> None:
    h5 = copy_files(thesis_files(), tmp_path / "model")
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Reduce(os.system, f"echo pwned > '{marker}'"))
    (h5.parent / LABELS_FILE).write_bytes(payload)
    with pytest.warns(LegacyLabelsWarning, match=r"refers to (posix|nt)\.system"):
        detector = load(h5)
    assert not marker.exists()
    assert detector.card.labels == DEFAULT_LABELS
    assert "was not used" in detector.card.description
    pickle.loads(payload)  # the payload is live: a plain unpickler runs it
    assert marker.exists()
