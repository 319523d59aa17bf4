"""T5 span corruption, vectorised over the batch, and the T5 length arithmetic.

The recipe is T5's `random_spans_noise_mask` (also the Flax example's
`FlaxDataCollatorForT5MLM`), row for row:

- `num_noise = round(L * noise_density)` clamped to [1, L-1]; `num_spans =
  max(1, round(num_noise / mean_noise_span_length))` (also capped at `L - num_noise`, which
  only matters for densities > 0.5); every row has exactly that many noise tokens and spans.
- The noise tokens are cut into `num_spans` non-empty spans, the others into `num_spans`
  non-empty spans, each cut uniformly at random ("all masks equally likely"); spans
  alternate non-noise / noise, starting with non-noise (so the row ends with noise).
- Inputs: each noise span -> one sentinel (`<extra_id_0>`, `<extra_id_1>`, ... in order),
  then EOS. Targets: each sentinel followed by the span it replaced, then EOS.

Rows are packed full length, as training builds them (T5 concatenates documents and cuts
blocks of `compute_input_and_target_lengths(...)[0]` tokens), so all rows share one length and
one output shape and there is no padding. A row that contains `pad_id` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mlm_explorer.core.text import blanks_to_sentinels  # noqa: F401  (public here too: spans.blanks_to_sentinels)


def corrupted_lengths(raw_length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0) -> tuple[int, int]:
    """(inputs_length, targets_length) after corrupting a row of `raw_length` tokens (EOS included).

    568 -> (512, 114); 141 -> (128, 29).
    """
    num_noise = int(round(raw_length * noise_density))
    num_nonnoise = raw_length - num_noise
    num_spans = int(round(num_noise / mean_noise_span_length))
    # inputs: all non-noise tokens, one sentinel per span, EOS; targets: the converse.
    return num_nonnoise + num_spans + 1, num_noise + num_spans + 1


def compute_input_and_target_lengths(
    inputs_length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0
) -> tuple[int, int]:
    """T5's `random_spans_helper` (the Flax example's function of the same name): the longest
    raw length whose corrupted inputs fit in `inputs_length`; returns `(raw_length, targets_length)`.

    512 -> (568, 114); 128 -> (141, 29).
    """
    raw = inputs_length
    while corrupted_lengths(raw + 1, noise_density, mean_noise_span_length)[0] <= inputs_length:
        raw += 1
    _, targets_length = corrupted_lengths(raw, noise_density, mean_noise_span_length)
    # T5's hack: with density 0.5, make targets no longer than inputs (a round number).
    if noise_density == 0.5 and targets_length > inputs_length:
        raw -= 1
        targets_length -= 1
    return raw, targets_length


def sentinel_ids(tokenizer) -> torch.Tensor:
    """Ids of `<extra_id_0>`, `<extra_id_1>`, ... looked up by name (real t5 numbers them
    downwards from the top of the vocabulary; other tokenizers upwards)."""
    ids = []
    unk = tokenizer.unk_token_id
    while True:
        tid = tokenizer.convert_tokens_to_ids(f"<extra_id_{len(ids)}>")
        if tid is None or tid == unk:
            break
        ids.append(tid)
    return torch.tensor(ids, dtype=torch.long)


@dataclass
class SpanBatch:
    input_ids: torch.Tensor  # (B, Li) corrupted inputs, ending in EOS
    labels: torch.Tensor  # (B, Lt) sentinel + span, ..., EOS (no padding: all rows have the same shape)
    noise_mask: torch.Tensor  # (B, L) bool: which raw positions were noise

    def to_dict(self) -> dict:
        return {"input_ids": self.input_ids.tolist(), "labels": self.labels.tolist(),
                "noise_mask": self.noise_mask.tolist()}


def _random_segmentation(B: int, num_items: int, num_segments: int, generator) -> torch.Tensor:
    """(B, num_segments) positive lengths summing to `num_items`, each row an independent
    uniformly random composition (T5's `_random_segmentation`, for all rows at once).

    Choosing `num_segments - 1` of the `num_items - 1` gaps uniformly = the smallest random keys.
    """
    dev = generator.device
    if num_segments == 1:
        return torch.full((B, 1), num_items, dtype=torch.long, device=dev)
    keys = torch.rand((B, num_items - 1), generator=generator, device=dev)  # one key per gap
    cuts = keys.topk(num_segments - 1, dim=1, largest=False).indices.sort(dim=1).values + 1  # (B, S-1)
    ends = torch.cat([cuts, torch.full((B, 1), num_items, dtype=torch.long, device=dev)], dim=1)  # (B, S)
    return ends.diff(dim=1, prepend=torch.zeros((B, 1), dtype=torch.long, device=dev))


def span_corrupt(
    input_ids: torch.Tensor,
    *,
    sentinel_ids: torch.Tensor,
    eos_id: int,
    pad_id: int,
    generator: torch.Generator,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> SpanBatch:
    """Corrupt every (packed, full-length) row of `input_ids` (B, L) by T5 span corruption.

    Output shapes are `corrupted_lengths(L, ...)`: (B, Li) inputs and (B, Lt) labels.
    `sentinel_ids` (from `sentinel_ids(tokenizer)`) must hold at least `num_spans` ids.
    The generator (on `input_ids.device`) is the only randomness: same seed, same result.
    """
    B, L = input_ids.shape
    dev = input_ids.device
    if L < 2:
        raise ValueError(f"span corruption needs rows of at least 2 tokens, got {L}")
    if bool((input_ids == pad_id).any()):
        raise ValueError("span_corrupt takes packed full-length rows; found padding")

    # 1. The per-row counts (identical for every row of length L).
    num_noise = min(max(int(round(L * noise_density)), 1), L - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    num_spans = min(num_spans, L - num_noise)  # only binds for densities > 0.5
    if num_spans > len(sentinel_ids):
        raise ValueError(f"{num_spans} noise spans need {num_spans} sentinels, the tokenizer has {len(sentinel_ids)}")

    # 2. Random span lengths; interleave non-noise, noise, non-noise, noise, ...
    noise_len = _random_segmentation(B, num_noise, num_spans, generator)  # (B, S)
    keep_len = _random_segmentation(B, L - num_noise, num_spans, generator)  # (B, S)
    lengths = torch.stack([keep_len, noise_len], dim=2).reshape(B, 2 * num_spans)  # (B, 2S)
    starts = lengths.cumsum(1)[:, :-1]  # (B, 2S-1) where segments 1..2S-1 begin

    # 3. Segment number of every position: 0, 1, 2... (odd = noise); segment k pairs with sentinel k // 2.
    seg_start = torch.zeros((B, L), dtype=torch.long, device=dev)
    seg_start.scatter_(1, starts, 1)  # (B, L) 1 where a segment (other than the first) begins
    segment = seg_start.cumsum(1)  # (B, L)
    noise = (segment & 1).bool()  # (B, L)
    first = seg_start.bool()
    first[:, 0] = True  # (B, L) first position of each segment
    sentinel = sentinel_ids.to(dev)[segment >> 1]  # (B, L) the sentinel paired with each segment

    # 4. Inputs: non-noise tokens + a sentinel at each noise span's start, then EOS.
    #    Targets: noise tokens + a sentinel at each non-noise span's start, then EOS.
    #    Every row keeps the same count, so a boolean select reshapes to (B, n).
    eos = torch.full((B, 1), eos_id, dtype=input_ids.dtype, device=dev)
    src = torch.where(first & noise, sentinel, input_ids)
    inputs = src[~noise | first].view(B, L - num_noise + num_spans)
    tgt = torch.where(first & ~noise, sentinel, input_ids)
    targets = tgt[noise | first].view(B, num_noise + num_spans)
    return SpanBatch(torch.cat([inputs, eos], 1), torch.cat([targets, eos], 1), noise)
