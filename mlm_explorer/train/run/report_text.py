"""The data report (extract/report.py) and the dry-run preview as lines for people.

Torch-free and Rich-free, so the CLI's summary, `train --dry-run` and the Train screen's
preview say the same things in the same words; they only add colour.
"""

from __future__ import annotations

from collections import Counter

from mlm_explorer.train.data.extract.base import REASONS


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def headline(data: dict) -> str:
    """'3 files used (1,234 tokens) · 2 skipped · 1 duplicate file and 14 repeated lines dropped'."""
    used, skipped = data.get("used", []), data.get("skipped", [])
    parts = [f"{plural(len(used), 'file')} used ({plural(sum(u['tokens'] for u in used), 'token')})"]
    if skipped:
        parts.append(f"{len(skipped):,} skipped")
    dup = data.get("duplicates") or {}
    if dup.get("kept"):
        parts.append("duplicates kept")
    else:
        dropped = [plural(n, w) for n, w in ((dup.get("files", 0), "duplicate file"),
                                             (dup.get("lines", 0), "repeated line")) if n]
        if dropped:
            parts.append(" and ".join(dropped) + " dropped")
    return " · ".join(parts)


def used_lines(data: dict, limit: int | None = None) -> list[str]:
    """One line a file: tokens, format, path, and what the reader noted."""
    used = data.get("used", [])
    rows = used if limit is None else used[:limit]
    out = [f"{u['tokens']:>9,}  {u['format']:<5}  {u['path']}" + (f"  ({'; '.join(u['notes'])})" if u.get("notes") else "")
           for u in rows]
    if len(rows) < len(used):
        out.append(f"           … and {len(used) - len(rows):,} more")
    return out


def skipped_lines(data: dict, limit: int | None = None) -> list[str]:
    """The skipped files grouped by reason, each with its message."""
    skipped = data.get("skipped", [])
    counts = Counter(s["reason"] for s in skipped)
    out = []
    for reason, n in counts.most_common():
        out.append(f"{REASONS.get(reason, reason)} ({n:,}):")
        group = [s for s in skipped if s["reason"] == reason]
        shown = group if limit is None else group[:limit]
        out.extend(f"  {s['path']}: {s['message']}" for s in shown)
        if len(shown) < len(group):
            out.append(f"  … and {len(group) - len(shown):,} more")
    return out


def duplicate_lines(data: dict) -> list[str]:
    dup = data.get("duplicates") or {}
    if dup.get("kept") or not dup.get("lines"):
        return []
    out = [f"{plural(dup['lines'], 'repeated line')} dropped ({plural(dup.get('distinct_lines', 0), 'distinct line')}"
           " seen more than once; --keep-duplicates keeps them), most often:"]
    out.extend(f"  ×{e['count']:,}  {e['line']}" for e in dup.get("examples", []))
    return out


def holdout_line(data: dict) -> str:
    """What is held out for evaluation."""
    how = data.get("holdout")
    blocks = f"{plural(data.get('eval_blocks', 0), 'block')} ({plural(data.get('eval_tokens', 0), 'token')})"
    if how == "files":
        files = data.get("eval_files", [])
        names = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        return f"held out for evaluation: {plural(len(files), 'whole file')}, {blocks}: {names}"
    if how == "sentences":
        return f"held out for evaluation: the last sentences of the largest file, {blocks}"
    if how == "blocks":
        return f"held out for evaluation: {blocks} picked at random (the text is too small to hold out whole files)"
    return f"held out for evaluation: nothing apart; the one block trains and evaluates ({blocks})"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s" if m else f"{s}s"


def estimate_line(estimate: dict) -> str:
    if not estimate:
        return ""
    if estimate.get("steps") is None:
        return f"estimated time: the --time-budget of {duration(estimate['total_s'])} ({estimate['device']})"
    return (f"estimated time on {estimate['device']}: {duration(estimate['total_s'])} for {plural(estimate['steps'], 'step')} "
            f"({estimate['step_s']:.2f} s a step, measured over {plural(estimate['measured_steps'], 'step')}"
            + (f"; evaluations {duration(estimate['eval_s'])}" if estimate.get("eval_s") else "") + ")")


def resumed_line(event: dict) -> str:
    """What a `started` event of a resumed run says ("" for a new run): the app and the CLI print it."""
    if not event.get("resumed_from") and not event.get("resumed"):
        return ""
    step = int(event.get("step") or 0)
    where = event.get("resumed_from")
    return f"resumed from step {step}" + (f" ({where})" if where else " (no checkpoint yet: from the start)")


def rough_estimate_line(seconds: float | None, *, steps: int | None, batch: int, block: int) -> str:
    """The Train form's estimate before Start, from a rough throughput (the Preview measures it)."""
    if not steps:
        return "length: 3 epochs (or the time limit); Preview (ctrl+r) measures the time"
    tokens = f"{plural(steps, 'step')} × {batch} × {block} tokens"
    if seconds is None:
        return f"{tokens}; Preview (ctrl+r) measures the time"
    return f"≈ {duration(seconds)} ({tokens}, the bundled model on a CPU); Preview (ctrl+r) measures it"


def sample_segments(sample: dict) -> list[tuple[str, str]]:
    """A sample block as (text, decision) pieces: decision is none / mask / random / keep / special,
    and for span corruption input / sentinel / target."""
    if "tokens" not in sample:
        return [(sample.get("input", ""), "none"), ("  ⇒  ", "special"), (sample.get("target", ""), "target")]
    out: list[tuple[str, str]] = []
    for i, t in enumerate(sample["tokens"]):
        if i and not t.get("joins"):
            out.append((" ", "none"))
        d = t["decision"]
        if t.get("special"):
            out.append((t["text"], "special"))
        elif d == "mask":
            out.append((f"[MASK:{t['text']}]", d))
        elif d == "random":
            out.append((f"{t['text']}→{t['shown']}", d))
        else:
            out.append((t["text"], d))
    return out


def sample_text(sample: dict) -> str:
    return "".join(text for text, _ in sample_segments(sample))
