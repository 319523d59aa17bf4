"""Data exports: JSON lines and CSV / TSV, one record per paragraph, from one named field.

The field is `--text-field NAME` ("text" when not given); in JSON lines a dotted name
reaches inside objects (`--text-field meta.body`), in CSV it names a column of the header
row (case does not matter; a file of one column uses it whatever its name). Records
without the field, or with an empty or non-text value, are counted, and so are JSON lines
that are not objects. A file in which no record has the field is refused, with the field
names it does have, so the fix is one option away. Both formats stream, record by record.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

from mlm_explorer.train.data.extract.base import Notes, ReadOptions, Unreadable
from mlm_explorer.train.data.extract.decode import lines_of, read_text_chunks

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonlines"}
CSV_SUFFIXES = {".csv", ".tsv"}
VERSION = 1
CACHE_TEXT = True
DEFAULT_FIELD = "text"
csv.field_size_limit(64 * 1024 * 1024)  # one long text in one cell is normal here


def _field(options: ReadOptions) -> str:
    return options.text_field or DEFAULT_FIELD


def _missing(name: str, seen: list[str]) -> Unreadable:
    fields = ", ".join(seen[:12]) + (", ..." if len(seen) > 12 else "")
    return Unreadable("no-text-field", f"no {name!r} field in any record; name the one holding the text with "
                      f"--text-field NAME" + (f" (fields: {fields})" if seen else ""))


def _dig(record, path: list[str]):
    for key in path:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


def read_jsonl(path: Path, options: ReadOptions, notes: Notes) -> Iterator[str]:
    name = _field(options)
    keys = name.split(".")
    seen: dict[str, None] = {}
    notes.records = 0
    for line in lines_of(read_text_chunks(path, notes)):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            notes.bad_records += 1
            continue
        if not isinstance(record, dict):
            notes.bad_records += 1
            continue
        if len(seen) < 50:
            seen.update(dict.fromkeys(record))
        value = _dig(record, keys)
        if isinstance(value, str) and value.strip():
            notes.records += 1
            yield value.strip() + "\n\n"
        else:
            notes.records_without_text += 1
    if not notes.records:
        if not seen and notes.bad_records:
            raise Unreadable("unreadable", f"not JSON lines: none of its {notes.bad_records} line(s) is a JSON object")
        raise _missing(name, list(seen))


def _dialect(path: Path, sample: str):
    if path.suffix.lower() == ".tsv":
        return "excel-tab"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return "excel"


def read_csv(path: Path, options: ReadOptions, notes: Notes) -> Iterator[str]:
    name = _field(options)
    lines = lines_of(read_text_chunks(path, notes))
    sample: list[str] = []
    for line in lines:  # a sample of up to 64 KiB decides the delimiter
        sample.append(line)
        if sum(map(len, sample)) > 64 * 1024:
            break

    def all_lines():
        yield from sample
        yield from lines

    rows = csv.reader(all_lines(), _dialect(path, "".join(sample)))
    header = next(rows, None)
    if header is None:
        raise Unreadable("empty", "an empty CSV file")
    columns = [h.strip() for h in header]
    lower = [c.lower() for c in columns]
    if name.lower() in lower:
        col = lower.index(name.lower())
    elif len(columns) == 1:
        col = 0
    else:
        raise _missing(name, columns)
    notes.records = 0
    for row in rows:
        value = row[col].strip() if col < len(row) else ""
        if value:
            notes.records += 1
            yield value + "\n\n"
        elif any(cell.strip() for cell in row):
            notes.records_without_text += 1
    if not notes.records:
        raise Unreadable("empty", f"column {columns[col]!r} is empty in every row")
