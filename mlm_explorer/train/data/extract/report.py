"""The account of a collection once its documents are tokenised: what trains, what does not, why.

This is the `data` part of the job's `started` (and `preview`) event and of run.json:

    used        [{path, format, tokens, notes: [...]}]   every file trained on, in path order
    skipped     [{path, reason, message}]                every other file found (base.REASONS)
    duplicates  {files, lines, distinct_lines, examples: [{count, line}], kept}
    hidden      hidden files and folders (.git, .venv) passed over

A document whose text gives fewer than MIN_TOKENS tokens moves from used to skipped
("too short"): a title or a stray line is no training text, and a file full of control
characters tokenises to nothing at all.
"""

from __future__ import annotations

from mlm_explorer.train.data.extract.collect import Collection, Skipped

MIN_TOKENS = 5


def data_report(collection: Collection, token_counts: list[int]) -> tuple[list[int], dict]:
    """(indices of the documents to train on, the report); `token_counts` aligned with documents."""
    keep, used = [], []
    skipped = list(collection.skipped)
    for i, (doc, n) in enumerate(zip(collection.documents, token_counts)):
        if n >= MIN_TOKENS:
            keep.append(i)
            used.append({"path": str(doc.path), "format": doc.format, "tokens": int(n), "notes": doc.notes.describe()})
        elif n == 0:
            skipped.append(Skipped(doc.path, "empty", "no tokens: nothing in it the tokenizer reads as text"))
        else:
            skipped.append(Skipped(doc.path, "too-short", f"too short: {n} token(s), fewer than {MIN_TOKENS}"))
    skipped.sort(key=lambda s: str(s.path))
    report = {
        "used": used,
        "skipped": [s.to_dict() for s in skipped],
        "duplicates": {"files": collection.duplicate_files, "lines": collection.repeats.lines_dropped,
                       "distinct_lines": collection.repeats.distinct,
                       "examples": [{"count": c, "line": line} for c, line in collection.repeat_examples],
                       "kept": collection.keep_duplicates},
        "hidden": collection.hidden,
    }
    return keep, report
