"""Typed records: frozen dataclasses whose type hints are the schema of a JSON object.

A record's constructor coerces every field to its type hint (an object becomes the nested
record, a list becomes a tuple) and raises :class:`SchemaError`, naming the offending path, when
a value does not fit. A record built in code and one read from a file therefore pass the same
checks, and there is no second copy of the schema in hand-written checks.

Supported hints: ``str``, ``int``, ``float`` (an integer is accepted as a number, but
``true``/``false`` is never a number), ``bool``, ``Literal[...]``, ``X | None``,
``tuple[X, ...]`` and fixed ``tuple[X, Y]`` (JSON lists), ``dict[str, X]``, nested records,
and ``Any`` for free-form JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = ["Record", "SchemaError", "json_key"]

_R = TypeVar("_R", bound="Record")
_NONE = type(None)
_TYPE_NAMES = {
    bool: "true/false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    tuple: "a list",
    dict: "an object",
    _NONE: "null",
}


class SchemaError(ValueError):
    """A value does not fit its record; ``path`` locates it from the record's top (``predictions[3].p_fake``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"'{self.path}' {self.problem}."

    def inside(self, parent: str) -> SchemaError:
        """The same problem located from the record that holds this one at ``parent``."""
        return SchemaError(f"{parent}.{self.path}", self.problem)


def json_key(key: str) -> dict[str, str]:
    """Field metadata storing the field under ``key``, for JSON keys that are not Python names (``"f1-score"``)."""
    return {"key": key}


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    key: str
    hint: Any
    default: Any
    """``dataclasses.MISSING`` for a required field."""


@functools.cache
def _fields(cls: type[Record]) -> tuple[_Field, ...]:
    """The schema of ``cls``, from its dataclass fields and resolved type hints (computed once per class)."""
    hints = get_type_hints(cls)
    return tuple(
        _Field(
            name=spec.name,
            key=spec.metadata.get("key", spec.name),
            hint=hints[spec.name],
            default=spec.default if spec.default_factory is dataclasses.MISSING else spec.default_factory(),
        )
        for spec in dataclasses.fields(cls)
        if spec.name not in {"extra", "absent"}
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """Base of the typed records: checks and converts its fields on construction; JSON in, JSON out.

    ``extra`` and ``absent`` remember how the JSON object looked, so that loading and saving a file
    gives the same JSON even when it comes from an older or a newer writer.
    """

    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    """Keys the schema does not know; kept, and written back after the known ones."""
    absent: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)
    """Optional keys the object left out; not written back while they hold their default."""

    def __post_init__(self) -> None:
        for spec in _fields(type(self)):
            object.__setattr__(self, spec.name, _coerce(spec.hint, getattr(self, spec.name), spec.key))

    @classmethod
    def from_dict(cls: type[_R], document: Mapping[str, Any]) -> _R:
        """The record held by a parsed JSON object; absent optional fields take their defaults.

        Raises:
            SchemaError: a required key is missing or a value does not fit its field.
        """
        values, absent = {}, set()
        for spec in _fields(cls):
            if spec.key in document:
                values[spec.name] = document[spec.key]
            elif spec.default is dataclasses.MISSING:
                raise SchemaError(spec.key, "is required but missing")
            else:
                absent.add(spec.key)
        known = {spec.key for spec in _fields(cls)}
        extra = {key: value for key, value in document.items() if key not in known}
        return cls(**values, extra=extra, absent=frozenset(absent))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this record: fields in declaration order, then the unknown keys it was read with."""
        document = {}
        for spec in _fields(type(self)):
            value = getattr(self, spec.name)
            if spec.key not in self.absent or value != spec.default:
                document[spec.key] = _plain(value)
        return {**document, **_plain(self.extra)}


def _plain(value: Any) -> Any:
    """JSON-ready copy of a field value (records become objects, tuples lists)."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _describe(hint: Any) -> str:
    """How a hint reads in an error message: ``float | None`` -> "a number or null"."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is Literal:
        return " or ".join(repr(arg) for arg in args)
    if origin is tuple and args[-1] is not Ellipsis:
        return f"a list of {len(args)} items"
    if isinstance(hint, type) and issubclass(hint, Record):
        return "an object"
    return _TYPE_NAMES[origin or hint]


def _coerce(hint: Any, value: Any, path: str, shown: Any = None) -> Any:
    """``value`` converted to ``hint``, or a :class:`SchemaError` at ``path`` saying what ``shown`` expects."""
    shown = shown or hint
    origin, args = get_origin(hint), get_args(hint)

    def mismatch(got: str | None = None) -> SchemaError:
        got = got or _TYPE_NAMES.get(type(value), type(value).__name__)
        return SchemaError(path, f"must be {_describe(shown)}, got {got}")

    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        (inner,) = (arg for arg in args if arg is not _NONE)
        return _coerce(inner, value, path, shown)
    if origin is Literal:
        if not any(value == arg and type(value) is type(arg) for arg in args):
            raise mismatch(repr(value) if isinstance(value, str) else None)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise mismatch()
        items = args[:1] * len(value) if args[-1] is Ellipsis else args
        if len(items) != len(value):
            raise mismatch(f"a list of {len(value)}")
        return tuple(
            _coerce(item_hint, item, f"{path}[{i}]")
            for i, (item_hint, item) in enumerate(zip(items, value, strict=True))
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            raise mismatch()
        return {key: _coerce(args[1], item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(hint, type) and issubclass(hint, Record):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise mismatch()
        try:
            return hint.from_dict(value)
        except SchemaError as error:
            raise error.inside(path) from None
    accepted = (int, float) if hint is float else hint
    if isinstance(value, bool) == (hint is bool) and isinstance(value, accepted):
        return value
    raise mismatch()
