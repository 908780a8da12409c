"""Typed records on tiny made-up schemas: coercion, error paths, JSON keys, round trips."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pytest

from deepfake_core.evaluation.record import Record, SchemaError, json_key


@dataclass(frozen=True, kw_only=True)
class Point(Record):
    x: float
    label: Literal["a", "b"] = "a"


@dataclass(frozen=True, kw_only=True)
class Shape(Record):
    name: str
    points: tuple[Point, ...]
    box: tuple[float, float] | None = None
    tags: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    score: float | None = field(default=None, metadata=json_key("score-%"))
    note: Any = None


DOCUMENT = {"name": "tri", "points": [{"x": 1}, {"x": 0.5, "label": "b"}], "box": [0, 1], "score-%": 12.5}


def test_nested_objects_become_records_and_lists_tuples() -> None:
    shape = Shape.from_dict(DOCUMENT)

    assert shape.points == (Point(x=1), Point(x=0.5, label="b"))
    assert (shape.box, shape.score, shape.tags, shape.closed) == ((0, 1), 12.5, {}, False)
    assert Shape(name="tri", points=[{"x": 1}, {"x": 0.5, "label": "b"}], box=(0, 1), score=12.5) == shape


def test_to_dict_gives_back_the_same_json_with_absent_keys_absent_and_unknown_keys_kept() -> None:
    document = {**DOCUMENT, "note": {"free": ["form"]}, "later": [1, 2]}
    shape = Shape.from_dict(document)

    assert shape.to_dict() == document
    assert replace(shape, closed=True).to_dict()["closed"] is True
    assert Shape(name="x", points=()).to_dict() == {
        "name": "x", "points": [], "box": None, "tags": {}, "closed": False, "score-%": None, "note": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"points": []}, "'name' is required but missing"),
        ({**DOCUMENT, "name": 3}, "'name' must be a string, got an integer"),
        ({**DOCUMENT, "points": [{"x": True}]}, r"'points\[0\]\.x' must be a number, got true/false"),
        ({**DOCUMENT, "points": [{"x": 1, "label": "c"}]}, r"'points\[0\]\.label' must be 'a' or 'b', got 'c'"),
        ({**DOCUMENT, "points": [[1]]}, r"'points\[0\]' must be an object, got a list"),
        ({**DOCUMENT, "box": [0, 1, 2]}, "'box' must be a list of 2 items or null, got a list of 3"),
        ({**DOCUMENT, "box": "wide"}, "'box' must be a list of 2 items or null, got a string"),
        ({**DOCUMENT, "tags": {"red": 1.5}}, r"'tags\.red' must be an integer, got a number"),
        ({**DOCUMENT, "closed": 1}, "'closed' must be true/false, got an integer"),
        ({**DOCUMENT, "score-%": "high"}, "'score-%' must be a number or null, got a string"),
    ],
)
def test_a_misfit_names_its_path_and_what_was_expected(document, message) -> None:
    with pytest.raises(SchemaError, match=message):
        Shape.from_dict(document)


def test_records_built_in_code_are_checked_too() -> None:
    with pytest.raises(SchemaError, match=r"'points\[1\]' must be an object, got a string"):
        Shape(name="x", points=(Point(x=0), "y"))
    with pytest.raises(SchemaError, match="'x' must be a number, got null"):
        replace(Point(x=0), x=None)
