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
one output shape and there is no padding. A row that starts or ends with `pad_id` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

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
    keep_cuts: torch.Tensor  # (B, S-1) non-noise tokens before non-noise span k = 1..S-1
    noise_cuts: torch.Tensor  # (B, S-1) noise tokens before noise span k = 1..S-1
    length: int  # raw row length L

    @property
    def noise_spans(self) -> torch.Tensor:
        """(B, S, 2): [start, end) of each noise span in the raw row, in order."""
        S = self.keep_cuts.shape[1] + 1
        M = self.input_ids.shape[1] - 1 - S  # inputs: M non-noise tokens, S sentinels, EOS
        N = self.length - M
        keep_end = F.pad(self.keep_cuts, (0, 1), value=M)  # (B, S)
        start = keep_end + F.pad(self.noise_cuts, (1, 0), value=0)
        return torch.stack([start, keep_end + F.pad(self.noise_cuts, (0, 1), value=N)], 2)

    @property
    def noise_mask(self) -> torch.Tensor:
        """(B, L) bool: which raw positions were noise."""
        spans = self.noise_spans
        edges = torch.zeros((spans.shape[0], self.length + 1), dtype=torch.long, device=spans.device)
        edges.scatter_add_(1, spans[:, :, 0], torch.ones_like(spans[:, :, 0]))
        edges.scatter_add_(1, spans[:, :, 1], -torch.ones_like(spans[:, :, 1]))
        return edges.cumsum(1)[:, :self.length].bool()

    def to_dict(self) -> dict:
        return {"input_ids": self.input_ids.tolist(), "labels": self.labels.tolist(),
                "noise_spans": self.noise_spans.tolist()}


@lru_cache(maxsize=256)
def _draws_needed(num_gaps: int, num_cuts: int, eps: float = 1e-9) -> int:
    """The fewest uniform draws from `num_gaps` values that show at least `num_cuts` distinct
    values with probability >= 1 - eps (the occupancy distribution, by dynamic programming)."""
    if num_cuts == 0:
        return 0
    p = [1.0] + [0.0] * num_cuts  # p[d]: probability of d distinct values so far (d capped at num_cuts)
    draws = 0
    while 1.0 - p[num_cuts] > eps:
        draws += 1
        q = [0.0] * (num_cuts + 1)
        q[num_cuts] = p[num_cuts]
        for d in range(num_cuts):
            q[d] += p[d] * d / num_gaps  # a value seen before
            q[d + 1] += p[d] * (num_gaps - d) / num_gaps  # a new one
        p = q
    return draws


@lru_cache(maxsize=32)
def _plan(L: int, N: int, S: int, sentinels: tuple[int, ...], eos_id: int, device: torch.device) -> dict:
    """Constants for rows of length L with N noise tokens in S spans, built once per shape.

    The cuts live in one (B, 2(S-1)) tensor `z` after a leading 0 column:
    z = [0, a_1 .. a_{S-1}, b_1 + N-1 .. b_{S-1} + N-1], where a_k = noise tokens before noise
    span k and b_k = non-noise tokens before non-noise span k (a_0 = b_0 = 0, a_S = N, b_S = M).
    Every index the layout needs is one entry of z plus a constant, so all of them come from a
    single `z.index_select(1, idx) + const`.
    """
    M, c = L - N, S - 1
    T0, W = M + S + 1, L + 2 * S + 2  # inputs are columns [0, T0) of the W = Li + Lt output columns
    A = lambda k: (k, 0) if k < S else (0, N)  # noqa: E731  a_k as (z column, constant)
    Bc = lambda k: (c + k, -(N - 1)) if 0 < k < S else (0, 0 if k == 0 else M)  # noqa: E731  b_k

    def plus(term, const):
        return term[0], term[1] + const

    # The source position in the row advances by one per output column, except at the first
    # column of each block; `off` is source - column, constant within a block.
    starts, offs = [], []
    for k in range(S):  # inputs: non-noise span k (then <extra_id_k>) starts at column b_k + k
        starts.append(plus(Bc(k), k)), offs.append(plus(A(k), -k))
    starts.append((0, T0 - 1)), offs.append((0, -(T0 - 1)))  # inputs' EOS column: source 0 (replaced)
    for k in range(S):  # targets: <extra_id_k> then noise span k from column T0 + a_k + k
        starts.append(plus(A(k), T0 + k)), offs.append(plus(Bc(k + 1), -k - 1 - T0))
    starts.append((0, W - 1)), offs.append((0, -(W - 1)))  # targets' EOS column
    previous = [(0, 0)] + offs[:-1]
    # <extra_id_k> and EOS columns: after non-noise span k in the inputs, before noise span k in the targets
    sent_in = [plus(Bc(k + 1), k) for k in range(S)] + [(0, T0 - 1)]
    sent_t = [plus(A(k), k) for k in range(S)] + [(0, N + S)]
    terms = offs + previous + starts + sent_in + sent_t
    K_noise, K_keep = _draws_needed(N - 1, c), _draws_needed(M - 1, c)
    t = lambda values: torch.tensor(values, dtype=torch.long, device=device)  # noqa: E731
    return {
        "idx": t([i for i, _ in terms]), "const": t([v for _, v in terms]), "n": len(offs),
        "arange": t(list(range(W))), "T0": T0, "W": W,
        "fill": t(list(sentinels[:S]) + [eos_id]),  # (S+1,) <extra_id_0..S-1>, EOS
        # draws: gaps 0..N-2 of the noise tokens -> a = gap + 1; gaps 0..M-2 of the others -> b + N-1
        "K_noise": K_noise, "mod": t([N - 1] * K_noise + [M - 1] * K_keep),
        "shift": t([1] * K_noise + [N] * K_keep), "limit": t([c] * (K_noise + K_keep)),
    }


def _draw_cuts(B: int, N: int, M: int, S: int, plan: dict, generator) -> torch.Tensor:
    """(B, 2(S-1)): [a_1 .. a_{S-1} | b_1 + N-1 .. b_{S-1} + N-1], each half ascending.

    Each half is a uniformly random way to cut the noise (non-noise) tokens into S non-empty
    spans (T5's `_random_segmentation`): S-1 distinct gaps of N-1 (M-1). They are the first S-1
    distinct values of a sequence of uniform draws (sampling without replacement), a handful of
    draws per row instead of one random key per gap. The two halves draw from disjoint ranges,
    so one sort serves both. The rare row (< 1e-9) whose draws show too few distinct values
    is redrawn with one key per gap; both ways are symmetric in the gaps, so exactly uniform.
    """
    c, dev = S - 1, generator.device
    if c == 0:
        return torch.empty((B, 0), dtype=torch.long, device=dev)
    v = torch.randint(0, 2**62, (B, plan["mod"].numel()), generator=generator, device=dev)  # 2^64 % 2^62 == 0
    v = v.remainder_(plan["mod"]).add_(plan["shift"])  # (B, K) noise draws then non-noise draws
    sv, perm = v.sort(dim=1, stable=True)  # noise values sort before all non-noise values
    new = F.pad(sv[:, 1:] != sv[:, :-1], (1, 0), value=True)  # (B, K) first of its value, sorted order
    first = torch.empty_like(new).scatter_(1, perm, new)  # the same in draw order (stable: earliest draw)
    rank = first.cumsum(1)  # (B, K) distinct values so far, in draw order
    kn = plan["K_noise"]
    rank[:, kn:] -= rank[:, kn - 1:kn]  # ... within each half
    take = rank.le(plan["limit"]).logical_and_(first)  # the first S-1 distinct values of each half
    if int(take.sum()) == B * 2 * c:  # every row has its 2(S-1) values
        return sv.masked_select(take.gather(1, perm)).view(B, 2 * c)
    full = take.sum(1) == 2 * c
    out = torch.empty((B, 2 * c), dtype=torch.long, device=dev)
    out[full] = sv[full].masked_select(take.gather(1, perm)[full]).view(-1, 2 * c)
    redo = int((~full).sum())
    keys = torch.rand((redo, N - 1 + M - 1), generator=generator, device=dev)  # one key per gap
    noise = keys[:, :N - 1].topk(c, dim=1, largest=False).indices.sort(dim=1).values + 1
    keep = keys[:, N - 1:].topk(c, dim=1, largest=False).indices.sort(dim=1).values + N
    out[~full] = torch.cat([noise, keep], 1)
    return out


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
    if L < 2:
        raise ValueError(f"span corruption needs rows of at least 2 tokens, got {L}")
    if bool((input_ids[:, ::L - 1] == pad_id).any()):  # padding sits at one end of a row
        raise ValueError("span_corrupt takes packed full-length rows; found padding")

    # 1. The per-row counts (identical for every row of length L).
    num_noise = min(max(int(round(L * noise_density)), 1), L - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    num_spans = min(num_spans, L - num_noise)  # only binds for densities > 0.5
    if num_spans > len(sentinel_ids):
        raise ValueError(f"{num_spans} noise spans need {num_spans} sentinels, the tokenizer has {len(sentinel_ids)}")
    S, N, M = num_spans, num_noise, L - num_noise
    plan = _plan(L, N, S, tuple(sentinel_ids[:S].tolist()), int(eos_id), input_ids.device)

    # 2. Random segmentation: S non-empty noise spans and S non-empty non-noise spans.
    cuts = _draw_cuts(B, N, M, S, plan, generator)  # (B, 2(S-1))
    z = F.pad(cuts, (1, 0))  # (B, 2S-1) a leading 0 (a_0 = b_0 = 0)

    # 3. Every index of the layout in one go (see _plan): block offsets, the previous block's
    #    offsets, block start columns, sentinel/EOS columns of the inputs and of the targets.
    n = plan["n"]  # 2S + 2 blocks: S non-noise spans, EOS, S noise spans (sentinel first), EOS
    g = z.index_select(1, plan["idx"]).add_(plan["const"])  # (B, 4n)
    jumps, starts = g[:, :n] - g[:, n:2 * n], g[:, 2 * n:3 * n]
    sent_in, sent_t = g[:, 3 * n:3 * n + S + 1], g[:, 3 * n + S + 1:]

    # 4. Inputs:  non-noise span 0, <extra_id_0>, non-noise span 1, <extra_id_1>, ..., EOS.
    #    Targets: <extra_id_0>, noise span 0, <extra_id_1>, noise span 1, ..., EOS.
    #    The position in the row each output column copies is column + offset, and the offset
    #    only changes where a block starts: a cumsum of the jumps, then one gather per output.
    T0, W = plan["T0"], plan["W"]
    source = torch.zeros((B, W), dtype=torch.long, device=input_ids.device).scatter_(1, starts, jumps)
    source = source.cumsum_(1).add_(plan["arange"])  # (B, W)
    fill = plan["fill"].expand(B, S + 1)
    inputs = input_ids.gather(1, source[:, :T0]).scatter_(1, sent_in, fill)  # (B, Li)
    targets = input_ids.gather(1, source[:, T0:]).scatter_(1, sent_t, fill)  # (B, Lt)
    c = S - 1
    return SpanBatch(inputs, targets, cuts[:, c:] - (N - 1), cuts[:, :c], L)
