"""BART's text infilling: spans with Poisson(λ = 3) lengths cover 30% of a row, each span becomes
one mask token, and the decoder learns to write the whole original row back.

As in BART (Lewis et al. 2019, section 2.2) and fairseq's DenoisingDataset with
`mask_length="span-poisson"`, `replace_length=1`:

1. n = ceil(rate * the row's ordinary tokens) tokens are to be masked.
2. Span lengths are drawn from Poisson(λ) until they add up to n (the last one trimmed).
3. The spans are laid out in the drawn order, the untouched tokens falling into the gaps
   between them with every split equally likely, so spans never overlap and exactly n
   tokens are masked. Each span becomes one mask token; a span of length 0 inserts one.
   (Insertions beyond the masked tokens' count are dropped, so the input never outgrows
   the block.) Special tokens are never inside a span.

The labels are the original row (-100 on padding). Differences from fairseq: spans start at
any token rather than at word starts, their places are drawn without overlap, and no token
is replaced by a random one.
Used by train/objectives.py (`--objective infill`); runs on the generator's device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

RATE = 0.3           # BART's mask ratio
POISSON_LAMBDA = 3.0  # BART's mean span length


@dataclass
class InfillBatch:
    input_ids: torch.Tensor        # (B, Li) corrupted rows, right-padded with pad_id
    attention_mask: torch.Tensor   # (B, Li) 1 on real tokens
    labels: torch.Tensor           # (B, L) the original rows, -100 on padding
    spans: list[list[tuple[int, int]]] = field(default_factory=list)   # per row: (start, length), by start


def span_lengths(n: int, generator: torch.Generator, poisson_lambda: float = POISSON_LAMBDA) -> list[int]:
    """Poisson(λ) lengths, drawn until they add up to n; the last one trimmed to make the sum exactly n."""
    lengths: list[int] = []
    total = 0
    while total < n:
        rates = torch.full((max(4, n),), float(poisson_lambda), device=generator.device)
        for length in torch.poisson(rates, generator=generator).long().tolist():
            lengths.append(length)
            total += length
            if total >= n:
                lengths[-1] -= total - n
                break
    return lengths


def text_infill(input_ids: torch.Tensor, lengths: torch.Tensor, *, special: torch.Tensor, mask_id: int, pad_id: int,
                generator: torch.Generator, rate: float = RATE, poisson_lambda: float = POISSON_LAMBDA) -> InfillBatch:
    """Corrupt each row of `input_ids` (B, L) by text infilling (see the module docstring).

    lengths: (B,) real tokens per row (the rest is padding). special: (V,) bool, True for ids
    that are never masked (the tokenizer's specials: <s>, </s>, language codes...).
    """
    device = input_ids.device
    is_special = special.to(device)[input_ids].tolist()                  # (B, L) bool
    out_rows, all_spans = [], []
    for row, flags, n_real in zip(input_ids.tolist(), is_special, lengths.tolist()):
        ordinary = [p for p in range(n_real) if not flags[p]]           # the maskable positions, in order
        n_mask = math.ceil(rate * len(ordinary))
        sizes = span_lengths(n_mask, generator, poisson_lambda)
        while len(sizes) > n_mask:                                       # more masks than masked tokens would
            sizes.remove(0)                                              # grow the row: drop insertions
        # Where the spans go: the len(ordinary) - n_mask untouched tokens fall into the len(sizes) + 1
        # gaps around the spans, every split equally likely (stars and bars: len(sizes) bars among
        # the untouched tokens + bars slots; span k follows cuts[k] - k untouched tokens).
        cuts = sorted(torch.randperm(len(ordinary) - n_mask + len(sizes), generator=generator,
                                     device=generator.device)[:len(sizes)].tolist())
        starts = [cut - k + sum(sizes[:k]) for k, cut in enumerate(cuts)]   # indices into `ordinary`
        spans = [(ordinary[i] if i < len(ordinary) else n_real, size) for i, size in zip(starts, sizes)]
        out, p = [], 0
        for (start, size), i in zip(spans, starts):
            out += row[p:start]                                          # the text (and specials) before it
            out.append(mask_id)                                          # the span -> one mask (size 0: inserted)
            p = ordinary[i + size - 1] + 1 if size else start
        out += row[p:n_real]
        out_rows.append(out)                                             # never longer than the row
        all_spans.append(spans)
    width = max((len(r) for r in out_rows), default=0)
    corrupted = torch.full((len(out_rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(out_rows), width), dtype=torch.long)
    for b, r in enumerate(out_rows):
        corrupted[b, :len(r)] = torch.tensor(r, dtype=torch.long)
        attention[b, :len(r)] = 1
    real = torch.arange(input_ids.shape[1], device=device)[None, :] < lengths.to(device)[:, None]   # (B, L)
    labels = input_ids.masked_fill(~real, -100)                          # the decoder writes the whole row
    return InfillBatch(corrupted.to(device), attention.to(device), labels, all_spans)
