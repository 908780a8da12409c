"""The model card: the preprocessing contract and provenance of one model file.

Every model file ``NAME.keras`` has ``NAME.card.json`` beside it. The card is the
single source of truth for how images must be fed to the model (input size,
channel order, value scale) and how its outputs are read (labels, which one is
"Fake", decision threshold, calibration temperature). Training writes it,
prediction and every explainer read it: mismatched preprocessing is the classic
silent bug of this field, so nothing else may hard-code these facts.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from deepfake_core.errors import ModelCardError
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.familiarity import FamiliaritySpec

__all__ = [
    "CARD_SUFFIX",
    "CARD_VERSION",
    "MIRROR_ID_SUFFIX",
    "ModelCard",
    "architecture_card",
    "card_path_for",
    "derived_card",
    "file_sha256",
    "history_path_for",
    "load_card",
    "model_id_for",
    "save_card",
]

CARD_VERSION = 1
CARD_SUFFIX = ".card.json"
MIRROR_ID_SUFFIX = "-mirror"
"""Ends the model id of a card with ``mirror_average``: same weights, other verdicts, another id."""

ChannelOrder = Literal["RGB", "BGR"]
ValueScale = Literal["0..1", "0..255"]
_CHANNEL_ORDERS = ("RGB", "BGR")
_VALUE_SCALES = ("0..1", "0..255")


@dataclass(frozen=True)
class ModelCard:
    """What a model expects and what it is.

    ``input_size`` is the square side in pixels; images are resized to
    ``(input_size, input_size)`` with OpenCV (area interpolation when shrinking,
    bilinear when enlarging), put in ``channel_order`` and scaled to
    ``value_scale`` as float32. ``labels[i]`` names output ``i``. With
    ``face_crop`` set, the model judges aligned face crops (one per face) made as
    that section says, not whole images; without it, the whole image. With
    ``familiarity`` set, every verdict carries the "unlike the training faces"
    flag of :mod:`deepfake_core.familiarity`. With ``mirror_average`` set, the
    model sees each prepared input and its left-right mirror and the verdict is
    the mean of the two passes' probabilities (and pooled features): a face and
    its mirror image then always get the same verdict, and the temperature and
    familiarity statistics are fitted on those means. With ``jpeg_quality`` set,
    every resized input is re-encoded as a JPEG of that quality before the model
    sees it (:func:`deepfake_core.preprocess.prepare_image`), in training and at
    prediction alike: how compressed a file already was then says little.
    """

    model_id: str
    name: str
    input_size: int
    channel_order: ChannelOrder
    value_scale: ValueScale
    labels: tuple[str, ...]
    fake_label: str
    architecture: str
    backbone: str
    attention: bool
    weights_file: str
    weights_sha256: str | None
    threshold: float = 0.5
    temperature: float = 1.0
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    limitations: tuple[str, ...] = ()
    licences: tuple[str, ...] = ()
    legacy: bool = False
    face_crop: FaceCropSpec | None = None
    familiarity: FamiliaritySpec | None = None
    mirror_average: bool = False
    jpeg_quality: int | None = None
    card_version: int = CARD_VERSION

    def __post_init__(self) -> None:
        problems = _validate(self)
        if problems:
            raise ModelCardError(f"Model card for '{self.name}' is invalid: " + "; ".join(problems) + ".")

    @property
    def fake_index(self) -> int:
        """Output index of the "Fake" class."""
        return self.labels.index(self.fake_label)

    @property
    def seen_kinds(self) -> dict[str, list[str]]:
        """The data kinds (generators, real sources) training showed the model, by label; empty when unknown."""
        seen = self.training.get("seen_kinds") or {}
        return {str(label): [str(kind) for kind in kinds] for label, kinds in seen.items()}

    @property
    def left_out_kinds(self) -> frozenset[str]:
        """The kinds a leave-one-out run kept out of training and validation (its config's ``exclude_kinds``)."""
        config = self.training.get("config") or {}
        return frozenset(str(kind) for kind in config.get("exclude_kinds") or ())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        for key in ("labels", "limitations", "licences"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model card") -> ModelCard:
        """Build a card from parsed JSON, with a clear error for unknown or missing fields."""
        if not isinstance(data, dict):
            raise ModelCardError(f"{source} is not a JSON object.")
        version = data.get("card_version", CARD_VERSION)
        if version != CARD_VERSION:
            raise ModelCardError(
                f"{source} has card_version {version}; this version of deepfake-lens reads version {CARD_VERSION}."
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelCardError(f"{source} has unknown fields: {', '.join(unknown)}.")
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ModelCardError(f"{source} is missing required fields: {', '.join(missing)}.")
        values = dict(data)
        for key in ("labels", "limitations", "licences"):
            if key in values:
                values[key] = tuple(values[key])
        if values.get("face_crop") is not None:
            values["face_crop"] = FaceCropSpec.from_dict(values["face_crop"])
        if values.get("familiarity") is not None:
            values["familiarity"] = FamiliaritySpec.from_dict(values["familiarity"])
        try:
            return cls(**values)
        except TypeError as exc:  # wrong value types that dataclass construction trips on
            raise ModelCardError(f"{source} is malformed: {exc}.") from exc


def model_id_for(name: str, weights_sha256: str | None, *, mirror_average: bool = False) -> str:
    """The model id: "NAME-" and 12 hex digits of the weights' sha256 (NAME alone without a hash).

    A card that averages over the mirror adds :data:`MIRROR_ID_SUFFIX`: same weights, other verdicts.
    """
    model_id = f"{name}-{weights_sha256[:12]}" if weights_sha256 else name
    return model_id + (MIRROR_ID_SUFFIX if mirror_average else "")


def derived_card(
    card: ModelCard, weights: str | os.PathLike[str], *, name: str | None = None, **changes: Any
) -> ModelCard:
    """The card of a model made from ``card``'s and saved as ``weights``.

    It is named (by default after the file), identified and hashed by that file, has ``changes``
    applied, and has no metrics until it is evaluated.
    """
    weights = Path(weights)
    name = name or weights.name.removesuffix(".keras")
    sha256 = file_sha256(weights)
    mirror_average = bool(changes.get("mirror_average", card.mirror_average))
    return replace(
        card,
        model_id=model_id_for(name, sha256, mirror_average=mirror_average),
        name=name,
        weights_file=weights.name,
        weights_sha256=sha256,
        metrics={},
        **changes,
    )


def architecture_card(
    *,
    name: str,
    backbone: str,
    input_size: int,
    attention: bool = True,
    head: str = "thesis",
    channel_order: ChannelOrder = "RGB",
    labels: tuple[str, ...] = ("Fake", "Real"),
    weights_file: str = "",
    weights_sha256: str | None = None,
    model_id: str | None = None,
    **details: Any,
) -> ModelCard:
    """The card of a network from :func:`deepfake_core.architecture.build_model`.

    Such a network takes 0..255 input and names its fake class "Fake"; training,
    the benchmarks and the tests all card the models they build through this one
    function, so ``model_id`` (:func:`model_id_for`) and ``architecture`` read the same
    everywhere. ``details`` are the card's optional fields (temperature, training, ...).
    """
    if model_id is None:
        model_id = model_id_for(name, weights_sha256, mirror_average=bool(details.get("mirror_average")))
    return ModelCard(
        model_id=model_id,
        name=name,
        input_size=input_size,
        channel_order=channel_order,
        value_scale="0..255",
        labels=tuple(labels),
        fake_label="Fake",
        architecture=f"{backbone}{' + attention' if attention else ''} ({head} head)",
        backbone=backbone,
        attention=attention,
        weights_file=weights_file,
        weights_sha256=weights_sha256,
        **details,
    )


def _validate(card: ModelCard) -> list[str]:
    problems = []
    if not isinstance(card.input_size, int) or not 8 <= card.input_size <= 1024:
        problems.append(f"input_size must be an integer between 8 and 1024, got {card.input_size!r}")
    if card.channel_order not in _CHANNEL_ORDERS:
        problems.append(f"channel_order must be one of {_CHANNEL_ORDERS}, got {card.channel_order!r}")
    if card.value_scale not in _VALUE_SCALES:
        problems.append(f"value_scale must be one of {_VALUE_SCALES}, got {card.value_scale!r}")
    if len(card.labels) < 2 or len(set(card.labels)) != len(card.labels):
        problems.append(f"labels must be at least two distinct names, got {list(card.labels)!r}")
    if card.fake_label not in card.labels:
        problems.append(f"fake_label {card.fake_label!r} is not one of the labels {list(card.labels)!r}")
    if not 0.0 <= float(card.threshold) <= 1.0:
        problems.append(f"threshold must lie in [0, 1], got {card.threshold!r}")
    if not float(card.temperature) > 0.0:
        problems.append(f"temperature must be positive, got {card.temperature!r}")
    if card.face_crop is not None and not isinstance(card.face_crop, FaceCropSpec):
        problems.append(f"face_crop must be a FaceCropSpec or absent, got {type(card.face_crop).__name__}")
    if card.familiarity is not None and not isinstance(card.familiarity, FamiliaritySpec):
        problems.append(f"familiarity must be a FamiliaritySpec or absent, got {type(card.familiarity).__name__}")
    if not isinstance(card.mirror_average, bool):
        problems.append(f"mirror_average must be true or false, got {card.mirror_average!r}")
    quality = card.jpeg_quality
    if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool) or not 1 <= quality <= 100):
        problems.append(f"jpeg_quality must be an integer from 1 to 100 or absent, got {quality!r}")
    return problems


def card_path_for(model_path: str | os.PathLike[str]) -> Path:
    """``model/default.keras`` -> ``model/default.card.json``."""
    path = Path(model_path)
    return path.with_name(path.name.split(".")[0] + CARD_SUFFIX)


def history_path_for(model_path: str | os.PathLike[str]) -> Path:
    """``NAME.keras`` -> ``NAME.history.json``: the per-epoch training figures written beside a trained model."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".keras") + ".history.json")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large weight files don't fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_card(path: str | os.PathLike[str], *, without_familiarity: bool = False) -> ModelCard:
    """Read and validate a card file; ``without_familiarity`` drops that section unread (to refit it)."""
    path = Path(path)
    if not path.is_file():
        raise ModelCardError(f"No model card at {path}. Every model file needs a '{CARD_SUFFIX}' file beside it.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelCardError(f"Model card {path} is not readable JSON: {exc}.") from exc
    if without_familiarity and isinstance(data, dict):
        data.pop("familiarity", None)
    return ModelCard.from_dict(data, source=f"Model card {path}")


def save_card(card: ModelCard, path: str | os.PathLike[str]) -> Path:
    """Write a card as pretty JSON (atomic: a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(card.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
