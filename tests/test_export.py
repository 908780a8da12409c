"""CSV export: formula-like text is defused, numbers and boxes stay readable."""

from __future__ import annotations

import csv
import io

import pytest

from deepfake_core.export import rows_to_csv, spreadsheet_safe


@pytest.mark.parametrize("text", ['=HYPERLINK("http://example.invalid")', "+1+2", "-cmd", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_is_prefixed_with_an_apostrophe(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["photo.jpg", "a=b.png", -0.5, 3, None, ""])
def test_other_values_are_kept(value):
    assert spreadsheet_safe(value) == value


def test_boxes_become_space_separated_numbers():
    assert spreadsheet_safe([10.0, 20.5, 30.0, 40.0]) == "10 20.5 30 40"


def test_rows_to_csv_writes_every_column_and_defuses_names():
    text = rows_to_csv(
        [{"file": "=cmd|' /C calc'!A0.png", "p_fake": 0.25, "box": [1, 2, 3, 4]}, {"file": "ok.png"}],
        ["file", "p_fake", "box", "error"],
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0] == {"file": "'=cmd|' /C calc'!A0.png", "p_fake": "0.25", "box": "1 2 3 4", "error": ""}
    assert rows[1] == {"file": "ok.png", "p_fake": "", "box": "", "error": ""}
