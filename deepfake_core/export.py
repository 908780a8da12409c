"""Result rows as CSV that is safe to open in a spreadsheet.

File names come from users: a file called ``=HYPERLINK("http://x")`` would become
a live formula when an analyst opens the CSV in a spreadsheet. Text cells that
start with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) are prefixed
with an apostrophe, which spreadsheets show as text; numbers are left as numbers.
The command line and the Classify page's download both write CSV through here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["rows_to_csv", "spreadsheet_safe"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell value: lists (boxes) as space-separated numbers, formula-like text defused, the rest as is."""
    if isinstance(value, (list, tuple)):
        return " ".join(f"{number:g}" for number in value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def rows_to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text with a header of ``columns`` and one line per row (missing keys are empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(row.get(key)) for key in columns} for row in rows)
    return buffer.getvalue()
