"""Planted bad input: the broken rows and files real operator feeds deliver.

Defects are written into already generated CSV files as text edits, because most of them
(an empty key, ``abc`` in a number column, a cut-off last line) cannot exist in a typed
table. Every planted defect is recorded with the file, the physical line and the outcome
ingestion is expected to report, so a test can hold ingestion to each one.

Where they land (day N = the N-th day of the window, so a window needs at least 4 days):

========  ==============  =====================================================================
day       feed            defects
========  ==============  =====================================================================
2         usage_events    ``duplicated_file_delivery``: a byte-identical ``_redelivery`` copy
3         usage_events    2 each of ``null_key``, ``duplicate_key``, ``unparseable_number``,
                          ``unknown_foreign_key``
3         recharges       2 each of ``unparseable_date`` and ``negative_amount``
3         complaints      ``missing_required_column`` (no ``subscriber_id``)
4         usage_events    ``truncated_file`` (last line cut, no trailing newline)
4         recharges       ``extra_column`` (``promo_flag`` after ``subscriber_id``)
========  ==============  =====================================================================

Line-level defects hit distinct data lines; a file with too few data lines gets fewer, and
a feed with no file that day gets none, except the complaints file, which is then written
with its header alone (without ``subscriber_id``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from telco_mart.contract import Contract
from telco_mart.generate.common import day_number, rng_for
from telco_mart.generate.writer import feed_file

#: Days of the window the defects need (the 4th day is the last one used).
MIN_DAYS = 4
#: Subscriber ids are "S" + 8 digits, so 9 digits never exist.
UNKNOWN_SUBSCRIBERS = ("S999999999", "S999999998")


@dataclass(frozen=True)
class PlantedDefect:
    feed: str
    file: str
    line: int | None
    defect: str
    expected: str


@dataclass(frozen=True)
class _FieldEdit:
    """Replace one column's value on a data line."""

    defect: str
    column: str
    values: tuple[str, ...]
    expected: str


_USAGE_EDITS = (
    _FieldEdit("null_key", "event_id", ("", ""), "missing_value:event_id"),
    _FieldEdit("unparseable_number", "charged_amount", ("abc", '"12,5"'), "unparseable:charged_amount"),
    _FieldEdit("unknown_foreign_key", "subscriber_id", UNKNOWN_SUBSCRIBERS, "unknown_reference:subscriber_id"),
)
_RECHARGE_EDITS = (
    _FieldEdit("unparseable_date", "recharge_ts", ("2026-13-45 99:00:00", "not-a-date"), "unparseable:recharge_ts"),
    _FieldEdit("negative_amount", "amount", ("-50", "-50"), "out_of_range:amount"),
)
_DUPLICATES = 2


class _CsvFile:
    """A generated CSV file as header and data lines. Generated files quote nothing, so a
    line splits on commas; edited lines may carry a quoted field but are not split again.

    A feed with no rows that day has no file; it reads as the contract header and no lines.
    """

    def __init__(self, out: Path, feed: str, day: dt.date, contract: Contract) -> None:
        self.feed = feed
        self.path = feed_file(out, feed, day, "csv")
        self.relative = self.path.relative_to(out).as_posix()
        self.header = contract.feed(feed).column_names
        self.lines: list[str] = []
        if self.path.exists():
            header, *self.lines = self.path.read_text(encoding="utf-8").split("\n")[:-1]
            self.header = header.split(",")

    def write(self, *, trailing_newline: bool = True) -> None:
        text = "\n".join([",".join(self.header), *self.lines])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text + ("\n" if trailing_newline else ""), encoding="utf-8")

    def defect(self, line_index: int | None, defect: str, expected: str) -> PlantedDefect:
        line = None if line_index is None else line_index + 2
        return PlantedDefect(self.feed, self.relative, line, defect, expected)


def plant_defects(out: Path, start: dt.date, seed: int, contract: Contract) -> list[PlantedDefect]:
    """Edit the generated CSV files of days 2-4 and return what was planted, file by file."""
    rng = rng_for(seed, day_number(start), "defects")
    second, third, fourth = (start + dt.timedelta(days=n) for n in (1, 2, 3))
    planted: list[PlantedDefect] = []
    planted += _redeliver(out, "usage_events", second)
    planted += _edit_lines(_CsvFile(out, "usage_events", third, contract), _USAGE_EDITS, _DUPLICATES, rng)
    planted += _edit_lines(_CsvFile(out, "recharges", third, contract), _RECHARGE_EDITS, 0, rng)
    planted += _drop_column(_CsvFile(out, "complaints", third, contract), "subscriber_id", contract)
    planted += _truncate(_CsvFile(out, "usage_events", fourth, contract))
    planted += _add_column(_CsvFile(out, "recharges", fourth, contract), "promo_flag", rng)
    return planted


def defects_json(planted: list[PlantedDefect]) -> list[dict[str, object]]:
    return [asdict(d) for d in planted]


def _redeliver(out: Path, feed: str, day: dt.date) -> list[PlantedDefect]:
    original = feed_file(out, feed, day, "csv")
    if not original.exists():
        return []
    copy = original.with_name(f"{feed}_{day.isoformat()}_redelivery.csv")
    shutil.copyfile(original, copy)
    return [
        PlantedDefect(feed, copy.relative_to(out).as_posix(), None, "duplicated_file_delivery", "skipped_duplicate")
    ]


def _edit_lines(
    file: _CsvFile, edits: tuple[_FieldEdit, ...], duplicates: int, rng: np.random.Generator
) -> list[PlantedDefect]:
    """Field edits on distinct lines, then copies of other lines inserted further down.

    The copy, not the original, is the defect: ingestion keeps the first occurrence of a key
    and quarantines the later one.
    """
    if not file.lines:
        return []
    wanted = sum(len(e.values) for e in edits) + duplicates
    chosen = [int(i) for i in rng.choice(len(file.lines), min(wanted, len(file.lines)), replace=False)]
    tags: list[tuple[str, str] | None] = [None] * len(file.lines)
    for edit in edits:
        column = file.header.index(edit.column)
        for value in edit.values:
            if not chosen:
                break
            index = chosen.pop()
            fields = file.lines[index].split(",")
            fields[column] = value
            file.lines[index] = ",".join(fields)
            tags[index] = (edit.defect, edit.expected)
    # Insert from the bottom up so that earlier insertion points stay where they were.
    copies = sorted(((int(rng.integers(i + 1, len(file.lines) + 1)), i) for i in chosen[:duplicates]), reverse=True)
    for target, source in copies:
        file.lines.insert(target, file.lines[source])
        tags.insert(target, ("duplicate_key", "duplicate_key"))
    file.write()
    return [file.defect(i, *tag) for i, tag in enumerate(tags) if tag is not None]


def _drop_column(file: _CsvFile, column: str, contract: Contract) -> list[PlantedDefect]:
    """Written even on a day the feed had no rows: a header alone is enough to be rejected."""
    if column not in contract.feed(file.feed).required_columns:
        raise ValueError(f"{file.feed}.{column} is not required; dropping it is no defect")
    index = file.header.index(column)
    del file.header[index]
    file.lines = [",".join(f for i, f in enumerate(line.split(",")) if i != index) for line in file.lines]
    file.write()
    return [file.defect(None, "missing_required_column", "rejected:missing_required_columns")]


def _truncate(file: _CsvFile) -> list[PlantedDefect]:
    """Cut the last line inside its fourth field, as a transfer that stopped mid-write leaves it."""
    if not file.lines:
        return []
    fields = file.lines[-1].split(",")
    file.lines[-1] = ",".join(fields[:3]) + "," + fields[3][: max(1, len(fields[3]) // 2)]
    file.write(trailing_newline=False)
    return [file.defect(len(file.lines) - 1, "truncated_file", "malformed_row")]


def _add_column(file: _CsvFile, column: str, rng: np.random.Generator) -> list[PlantedDefect]:
    """An unannounced new column in the middle of the file; its rows stay valid otherwise."""
    if not file.lines:
        return []
    at = file.header.index("subscriber_id") + 1
    file.header.insert(at, column)
    flags = np.where(rng.random(len(file.lines)) < 0.3, "true", "false")
    lines = []
    for line, flag in zip(file.lines, flags, strict=True):
        fields = line.split(",")
        fields.insert(at, str(flag))
        lines.append(",".join(fields))
    file.lines = lines
    file.write()
    return [file.defect(None, "extra_column", f"extra_column_ignored:{column}")]
