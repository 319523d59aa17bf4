"""What every reader shares: the options, the notes a reader takes, and the one way to refuse a file.

A reader is a module with `NAME`, `VERSION` and `read(path, options, notes) -> Iterator[str]`.
`read` yields the file's text in pieces; lines end with "\n" and a blank line ends a paragraph
(sentence pairs and the hold-out keep paragraphs together). A file that cannot give text is
refused with `Unreadable(reason, message)`: the reason is one of `REASONS`, the message says
what was found and what to do, in one line. Bump a reader's VERSION whenever its output for
the same bytes changes: the extraction cache (cache.py) is keyed by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Why a file found was not trained on. The message of each skip says more (and what to do).
REASONS = {
    "unsupported": "unsupported type",
    "binary": "binary",
    "empty": "empty",
    "no-text-layer": "no text layer (scanned)",
    "encrypted": "encrypted",
    "needs-extra": "needs an optional library",
    "unreadable": "damaged or not what its name says",
    "no-text-field": "no text field",
    "duplicate": "duplicate file",
    "only-repeats": "only repeated lines",
    "too-short": "too short",
}


class Unreadable(Exception):
    """The file gives no text; `reason` is a key of REASONS, `message` one line for people."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ReadOptions:
    """The options that change what a reader produces (part of the extraction cache key)."""

    text_field: str | None = None  # JSONL / CSV: the field or column holding the text ("text" when None)

    def key(self) -> str:
        return f"text_field={self.text_field or ''}"


@dataclass
class Notes:
    """What a reader noticed about a file that it did read (shown next to the file's token count)."""

    replaced_bytes: int = 0  # bytes that were not valid in the file's encoding, now U+FFFD
    encoding: str = "utf-8"
    pages: int | None = None  # PDF
    pages_without_text: int = 0  # PDF pages with no text layer (figures, scans) inside a PDF that has text
    header_lines: int = 0  # PDF: lines repeated at the top or bottom of most pages, dropped
    records: int | None = None  # JSONL / CSV: records whose text field was used
    records_without_text: int = 0  # records without the field, or with an empty or non-text value
    bad_records: int = 0  # JSONL lines that are not JSON objects
    extra: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, 0, [], "utf-8")}

    @classmethod
    def from_dict(cls, data: dict) -> "Notes":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def describe(self) -> list[str]:
        """Short phrases for people, e.g. ["12 pages", "3 bytes not utf-8, replaced"]."""
        out = []
        if self.encoding != "utf-8":
            out.append(f"read as {self.encoding}")
        if self.replaced_bytes:
            out.append(f"decode errors replaced: {self.replaced_bytes} byte(s) not {self.encoding}")
        if self.pages is not None:
            out.append(f"{self.pages} page(s)")
        if self.pages_without_text:
            out.append(f"{self.pages_without_text} page(s) without a text layer")
        if self.header_lines:
            out.append(f"{self.header_lines} page header/footer line(s) dropped")
        if self.records is not None:
            out.append(f"{self.records} record(s)")
        if self.records_without_text:
            out.append(f"{self.records_without_text} record(s) without text")
        if self.bad_records:
            out.append(f"{self.bad_records} line(s) not JSON objects")
        return out + list(self.extra)
