"""The forgetting meter: does a fine-tune still know everyday English?

A shipped set of general-knowledge cloze probes (`assets/probes/general.tsv`: "A triangle has
three [MASK].", sides; written for this, apart from tests/data/cloze.tsv and the bundled
model's evaluation sets) is scored like the user's own probes (`core.explain.probes`) before
training and at every evaluation; what is kept is the summary: top-1 and top-5 (the share of
answers ranked first / in the first five), the mean and median rank of the answers and their
mean probability. A domain fine-tune that starts to forget shows as top-5 falling and the mean
rank rising while the held-out loss on the user's text still improves.

The set is a probe file (`sentence<TAB>answer` per line), so a user can swap in their own
(`--forgetting-probes FILE`). Its answers are single word pieces of bert-base-uncased; for
another tokenizer, a probe whose answer is not one token there is left out, and said so.

    probes = meter_probes(path=None)                         # the shipped set by default
    prepared, skipped = prepare_meter(tokenizer, probes, max_length=512)
    summary = meter_summary(evaluate_probes(model, prepared, tokenizer=tokenizer))
    # {"n": 42, "top1": 0.12, "top5": 0.48, "mean_rank": 75.4, "median_rank": 5.5,
    #  "mean_probability": 0.11, "ranks": [28, 4, ...]}

No torch at import time.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

from mlm_explorer.errors import InputError

GENERAL_PROBES = Path(__file__).resolve().parents[2] / "assets" / "probes" / "general.tsv"


def meter_probes(path: str | Path | None = None) -> list:
    """The meter's probes: `path` (a probe file) or the shipped general-knowledge set."""
    from mlm_explorer.core.explain.probes import parse_probe_file

    return parse_probe_file(path or GENERAL_PROBES)


def prepare_meter(tokenizer, probes: Sequence, *, max_length: int | None = None) -> tuple[list, list[str]]:
    """(prepared probes, one line per probe left out: its answer is not one token here, ...)."""
    from mlm_explorer.core.explain.probes import prepare_probes

    prepared, skipped = [], []
    for probe in probes:
        try:
            prepared += prepare_probes(tokenizer, [probe], max_length=max_length)
        except InputError as exc:
            skipped.append(str(exc))
    return prepared, skipped


def meter_summary(results: Sequence) -> dict:
    """top-1, top-5, mean / median rank and mean probability of the answers (ProbeResults or dicts)."""
    ranks = [int(r["rank"] if isinstance(r, dict) else r.rank) for r in results]
    probs = [float(r["probability"] if isinstance(r, dict) else r.probability) for r in results]
    if not ranks:
        return {"n": 0, "top1": None, "top5": None, "mean_rank": None, "median_rank": None,
                "mean_probability": None, "ranks": []}
    n = len(ranks)
    return {"n": n, "top1": sum(r == 1 for r in ranks) / n, "top5": sum(r <= 5 for r in ranks) / n,
            "mean_rank": sum(ranks) / n, "median_rank": float(statistics.median(ranks)),
            "mean_probability": sum(probs) / n, "ranks": ranks}


def meter_change(history: Sequence[dict]) -> dict | None:
    """The latest entry against the first (step 0: the model before training): differences of
    top-1, top-5 and mean rank, or None with fewer than two entries."""
    if len(history) < 2:
        return None
    first, last = history[0], history[-1]
    return {"from_step": first["step"], "to_step": last["step"],
            **{k: (last[k] - first[k]) if last.get(k) is not None and first.get(k) is not None else None
               for k in ("top1", "top5", "mean_rank")}}
