"""The thesis' own model files, loaded only when the user opts in and only from the local model folder.

The thesis shipped ``best_model_effatt.h5`` (a Keras H5 whose rescale step is a
``Lambda`` layer named ``RescaleGAP``) and ``label_transform.pkl`` (a pickled
scikit-learn ``LabelBinarizer``). Both formats can run code while loading: a
``Lambda`` saved from a Python ``lambda`` stores marshalled bytecode that Keras
executes (it loads only with ``safe_mode=False``), and a pickle can call any
importable function. So these files are refused unless the user opts in, and
even then only a file that really lies in the trusted model folder is read.

Loading reads as little code from the file as it can. First the architecture is
rebuilt with :func:`~deepfake_core.architecture.build_model` and only the
weights are read (the thesis' head, Dense 256, then the Flask app's rebuild,
Dense 64): no code from the file runs, and the layers carry the names the
explainers look up (``attention_mask``, ``backbone``). Only when the file's
layers do not line up with the rebuild (e.g. a backbone saved flat rather than
nested) does a full ``load_model`` run, with the thesis' ``custom_objects``; its
weights are then moved into the rebuilt architecture when every shape fits and
the two models agree on a probe batch, so explanations work there too. A full
load breaks with "bad marshal data" when the file was written by another Python
version, because marshalled bytecode is version-specific.

The label pickle is read with an unpickler that resolves only the few globals a
``LabelBinarizer`` pickle names; anything else falls back to the thesis'
default labels with a :class:`LegacyLabelsWarning`.

The card built here is never written to disk: its facts (BGR, 0..255, labels)
come from the thesis' code, since the H5 file records none of them.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np

from deepfake_core.architecture import HEADS, _attention, build_model
from deepfake_core.card import ModelCard, file_sha256
from deepfake_core.detector import Detector
from deepfake_core.errors import LegacyModelRefusedError, ModelLoadError
from deepfake_core.loading import ALLOW_LEGACY_ENV

__all__ = [
    "DEFAULT_LABELS",
    "LABELS_FILE",
    "LEGACY_CUSTOM_OBJECTS",
    "LegacyLabels",
    "LegacyLabelsWarning",
    "attention_block",
    "load_legacy_detector",
    "read_legacy_labels",
    "rescale_gap",
]

LABELS_FILE = "label_transform.pkl"
DEFAULT_LABELS: tuple[str, ...] = ("Fake", "Real")
"""The thesis app's fallback order: output 0 is Fake, output 1 is Real."""

_FAKE_LABEL = "Fake"
_MAX_LABELS_BYTES = 1 << 20  # a LabelBinarizer pickle is well under 1 KiB; refuse memory bombs
_MAX_ERROR_CHARS = 200
_PROBE_IMAGES = 4  # random images on which a rebuilt model must reproduce a fully loaded one

# Every global a LabelBinarizer pickle names, for pickle protocols 0 to 5 and NumPy 1.x or 2.x.
# Protocols 0-2 use ``copy_reg``/``__builtin__`` (Python 2 names) and ``_codecs.encode`` for bytes;
# protocol 5 stores array data out of band via ``_frombuffer``; NumPy 2 renamed ``numpy.core`` to ``numpy._core``.
_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        ("sklearn.preprocessing._label", "LabelBinarizer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *((f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")),
        *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
        ("_codecs", "encode"),
        ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"),
        ("__builtin__", "object"),
        ("builtins", "object"),
    }
)


class LegacyLabelsWarning(UserWarning):
    """``label_transform.pkl`` was missing or unusable, so the thesis' default labels are used."""


def rescale_gap(inputs: list[Any]) -> Any:
    """The thesis' ``RescaleGAP`` function: ``[gap_feat, gap_mask] -> gap_feat / gap_mask``.

    A ``Lambda`` that held a named function is saved as that name only, so the
    file loads only if ``custom_objects`` maps ``"RescaleGAP"`` to a function.
    """
    gap_features, gap_mask = inputs
    return gap_features / gap_mask


def attention_block(features: Any, depth: int) -> Any:
    """The thesis' ``attention_block(features, depth)``: its attention branch, ending in the rescaled GAP.

    The thesis app passed this name in ``custom_objects``; it is kept so any
    saved reference to it resolves, and builds the same branch as our models.
    """
    return _attention(features, depth)


LEGACY_CUSTOM_OBJECTS: dict[str, Callable[..., Any]] = {
    "attention_block": attention_block,
    "RescaleGAP": rescale_gap,
}


@dataclass(frozen=True)
class LegacyLabels:
    """The labels for the legacy model; ``problem`` says why the defaults were used instead of the pickle."""

    labels: tuple[str, ...]
    problem: str | None = None


def load_legacy_detector(
    path: str | os.PathLike[str],
    *,
    allow_legacy: bool,
    trusted_dir: str | os.PathLike[str],
    backbone: str = "efficientnetb7",
    input_size: int = 128,
) -> Detector:
    """Load the thesis' ``best_model_effatt.h5`` (and the labels beside it) as a :class:`Detector`.

    Refuses (:class:`LegacyModelRefusedError`) unless ``allow_legacy`` is True and
    ``path``, with symlinks resolved, lies inside ``trusted_dir``. ``backbone`` and
    ``input_size`` describe the architecture to rebuild when a full load fails.
    Raises :class:`ModelLoadError` when no route can read the file.
    """
    if not allow_legacy:
        raise LegacyModelRefusedError(_refusal_message(Path(path).name))
    resolved = _resolve_inside(path, trusted_dir)
    if not resolved.is_file():
        raise ModelLoadError(
            f"No legacy model file at {resolved}. Copy the thesis' H5 (and {LABELS_FILE}) into the model folder."
        )
    sha256 = file_sha256(resolved)
    model, route, failures = _load_model(resolved, backbone=backbone, input_size=input_size)
    labels = read_legacy_labels(
        resolved.parent / LABELS_FILE, trusted_dir=trusted_dir, num_outputs=int(model.output_shape[-1])
    )
    card = _legacy_card(resolved, sha256, model, backbone=backbone, route=route, failures=failures, labels=labels)
    try:
        return Detector(model, card)
    except ValueError as exc:
        raise ModelLoadError(f"The legacy model {resolved.name} does not fit its card: {exc}.") from exc


def _refusal_message(file_name: str) -> str:
    return (
        f"Not loading the thesis' legacy model file {file_name}: its Lambda layer and the pickled label encoder "
        f"{LABELS_FILE} can run arbitrary code when loaded, so they are read only if you trust them and opt in: "
        "turn on \"Allow the thesis' legacy model files\" in the dashboard's settings, pass --allow-legacy to the "
        f"CLI, or set {ALLOW_LEGACY_ENV}=1."
    )


def _resolve_inside(path: str | os.PathLike[str], trusted_dir: str | os.PathLike[str]) -> Path:
    """``path`` with symlinks resolved, refused unless it lies in ``trusted_dir`` (an upload never does)."""
    resolved = Path(path).resolve()
    trusted = Path(trusted_dir).resolve()
    if not resolved.is_relative_to(trusted):
        raise LegacyModelRefusedError(
            f"Not loading {path}: legacy model files load only from the local model folder {trusted}, "
            f"and this one resolves to {resolved}. Copy it into that folder if you trust it."
        )
    return resolved


def _load_model(path: Path, *, backbone: str, input_size: int) -> tuple[keras.Model, str, list[str]]:
    """Try each route in turn; returns the model, the route that worked and the failures before it."""
    attempts: list[tuple[str, Callable[[], tuple[keras.Model, str]]]] = [
        (f"weights-only ({head} head)", partial(_load_weights_only, path, backbone, input_size, head)) for head in HEADS
    ]
    attempts.append(("full load", partial(_load_full, path, backbone)))
    failures = []
    for route, attempt in attempts:
        try:
            model, detail = attempt()
            return model, route + detail, failures
        except Exception as exc:  # Keras, h5py and marshal raise many unrelated types for unreadable files
            failures.append(f"{route}: {_brief(exc)}")
    raise ModelLoadError(
        f"Could not load the legacy model file {path.name} as the thesis' {backbone} + attention model at "
        f"{input_size} px in any known way. " + "; ".join(failures) + "."
    )


def _load_weights_only(path: Path, backbone: str, input_size: int, head: str) -> tuple[keras.Model, str]:
    """Rebuild the architecture in code and read the weights only: no code from the file runs."""
    model = build_model(backbone=backbone, input_size=input_size, head=head)
    model.load_weights(path)
    return model, ""


def _load_full(path: Path, backbone: str) -> tuple[keras.Model, str]:
    """The whole saved model (custom objects and pickled lambda included, hence ``safe_mode=False``).

    Its weights are moved into a rebuilt architecture when they fit (see :func:`_rebuilt_with_weights`).
    """
    loaded = keras.models.load_model(path, custom_objects=LEGACY_CUSTOM_OBJECTS, compile=False, safe_mode=False)
    _check_image_classifier(loaded)
    for head in HEADS:
        rebuilt = _rebuilt_with_weights(loaded, backbone=backbone, head=head)
        if rebuilt is not None:
            return rebuilt, f", weights moved into the rebuilt architecture ({head} head)"
    return loaded, " (layers keep the file's own names, so the attention mask and Grad-CAM are not available)"


def _rebuilt_with_weights(loaded: keras.Model, *, backbone: str, head: str) -> keras.Model | None:
    """``build_model``'s architecture holding ``loaded``'s weights, or None when they do not fit.

    Keras lists a model's weights layer by layer in build order, whether the
    backbone was saved nested or flat, so the two lists pair up one to one. The
    result must reproduce ``loaded``'s outputs on a probe batch, so a list that
    merely has matching shapes in a different order is never accepted.
    """
    input_size = int(loaded.input_shape[1])
    rebuilt = build_model(backbone=backbone, input_size=input_size, head=head, num_classes=int(loaded.output_shape[-1]))
    weights = loaded.get_weights()
    if len(weights) != len(rebuilt.weights) or any(
        tuple(value.shape) != tuple(variable.shape) for value, variable in zip(weights, rebuilt.weights, strict=True)
    ):
        return None
    rebuilt.set_weights(weights)
    # noise at several brightnesses, so the outputs differ between probe images
    brightness = np.linspace(0.1, 1.0, _PROBE_IMAGES)[:, None, None, None]
    noise = np.random.default_rng(0).uniform(0, 255, (_PROBE_IMAGES, input_size, input_size, 3))
    probe = (noise * brightness).astype(np.float32)
    expected = loaded(probe, training=False).numpy()
    return rebuilt if np.allclose(rebuilt(probe, training=False).numpy(), expected, atol=1e-4) else None


def _check_image_classifier(model: keras.Model) -> None:
    """Reject an H5 that loads but is not a square-image classifier, e.g. some other project's model."""
    input_shape, output_shape = tuple(model.input_shape), tuple(model.output_shape)
    square_rgb = len(input_shape) == 4 and input_shape[1] == input_shape[2] and input_shape[3] == 3
    if not (square_rgb and isinstance(input_shape[1], int) and len(output_shape) == 2):
        raise ValueError(f"the model maps {input_shape} to {output_shape}, not square RGB images to class scores")


def _brief(exc: BaseException) -> str:
    """``Type: first line of the message``, cut short: one attempt's part of a combined error message."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0].rstrip('.') if lines else ''}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def read_legacy_labels(
    path: str | os.PathLike[str], *, trusted_dir: str | os.PathLike[str], num_outputs: int = len(DEFAULT_LABELS)
) -> LegacyLabels:
    """Labels from the thesis' ``label_transform.pkl``, or the defaults (with a warning) when it is unusable.

    The pickle is read only from inside ``trusted_dir`` and only with a restricted
    unpickler, so a tampered file cannot run code; it must hold a fitted
    ``LabelBinarizer`` with ``num_outputs`` distinct string classes including "Fake".
    """
    try:
        labels = _labels_from_pickle(Path(path), Path(trusted_dir), num_outputs)
    except _UnusableLabelsError as exc:
        problem = f"{Path(path).name} was not used ({exc}); using the thesis' default labels {list(DEFAULT_LABELS)}"
        warnings.warn(problem, LegacyLabelsWarning, stacklevel=2)
        return LegacyLabels(DEFAULT_LABELS, problem)
    return LegacyLabels(labels)


class _UnusableLabelsError(Exception):
    """Why a label file was not used; turned into a warning and the default labels."""


class _LabelEncoderUnpickler(pickle.Unpickler):
    """Resolves only the globals a ``LabelBinarizer`` pickle needs, so unpickling cannot call anything else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a label encoder never needs")
        return super().find_class(module, name)


def _labels_from_pickle(path: Path, trusted_dir: Path, num_outputs: int) -> tuple[str, ...]:
    resolved = path.resolve()
    if not resolved.is_relative_to(trusted_dir.resolve()):
        raise _UnusableLabelsError(f"it resolves to {resolved}, outside the model folder")
    if not resolved.is_file():
        raise _UnusableLabelsError("there is no such file beside the model")
    if resolved.stat().st_size > _MAX_LABELS_BYTES:
        raise _UnusableLabelsError(f"it is larger than {_MAX_LABELS_BYTES} bytes, far more than a label encoder")
    with open(resolved, "rb") as handle:
        try:
            encoder = _LabelEncoderUnpickler(handle).load()
        except Exception as exc:  # a corrupt or hostile pickle can raise almost any exception type
            raise _UnusableLabelsError(f"refused or unreadable pickle: {_brief(exc)}") from exc
    return _validated_labels(getattr(encoder, "classes_", None), num_outputs)


def _validated_labels(classes: Any, num_outputs: int) -> tuple[str, ...]:
    """``classes_`` as label names, if they can name this model's outputs with a "Fake" among them."""
    if classes is None:
        raise _UnusableLabelsError("it does not hold a fitted LabelBinarizer")
    labels = tuple(classes.tolist()) if hasattr(classes, "tolist") else tuple(classes)
    if not all(isinstance(label, str) for label in labels) or len(set(labels)) != len(labels):
        raise _UnusableLabelsError(f"its classes {list(labels)!r} are not distinct names")
    if len(labels) != num_outputs:
        raise _UnusableLabelsError(f"it names {len(labels)} classes but the model has {num_outputs} outputs")
    if _FAKE_LABEL not in labels:
        raise _UnusableLabelsError(f"its classes {list(labels)!r} do not include {_FAKE_LABEL!r}")
    return labels


def _legacy_card(
    path: Path,
    sha256: str,
    model: keras.Model,
    *,
    backbone: str,
    route: str,
    failures: list[str],
    labels: LegacyLabels,
) -> ModelCard:
    """The thesis' contract as its code applied it: cv2.imread (BGR), no division by 255."""
    notes = [
        "The thesis' attention model, loaded from its original H5 file. It has no card on disk, so its "
        "preprocessing comes from the thesis' code: BGR channel order (cv2.imread) and values 0..255 (no /255).",
        f"Loaded via {route}" + (f"; the earlier routes failed: {'; '.join(failures)}." if failures else "."),
        f"Labels: {labels.problem}." if labels.problem else f"Labels read from {LABELS_FILE}.",
    ]
    return ModelCard(
        model_id=f"thesis-legacy-{sha256[:12]}",
        name="thesis (legacy H5)",
        input_size=int(model.input_shape[1]),
        channel_order="BGR",
        value_scale="0..255",
        labels=labels.labels,
        fake_label=_FAKE_LABEL,
        architecture=f"{backbone} + attention (thesis, legacy H5; loaded via {route})",
        backbone=backbone,
        attention=True,
        weights_file=path.name,
        weights_sha256=sha256,
        description=" ".join(notes),
        limitations=(
            "Trained, per the thesis, on the Kaggle 'deepfake-and-real-images' data derived from OpenForensics "
            "(face swaps); other manipulations (fully generated faces, edits) were not part of its training.",
            "The card's facts (BGR channel order, 0..255 values, labels) are taken from the thesis' code, "
            "not recorded in the file; a file trained differently would be fed wrongly.",
            "Legacy format: loading it can run code from the file, which is why it loads only when opted in "
            "and only from the local model folder.",
        ),
        legacy=True,
    )
