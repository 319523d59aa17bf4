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

from mlm_explorer.core.mask.text import blanks_to_sentinels  # noqa: F401  (public here too: spans.blanks_to_sentinels)


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
    cuts: torch.Tensor  # (B, 2S-1) the random segmentation as drawn (_draw_cuts); read keep_cuts, noise_cuts
    length: int  # raw row length L

    @property
    def keep_cuts(self) -> torch.Tensor:
        """(B, S-1) non-noise tokens before non-noise span k = 1..S-1."""
        S, N = self._counts()
        return self.cuts[:, S:] - (N - 2)

    @property
    def noise_cuts(self) -> torch.Tensor:
        """(B, S-1) noise tokens before noise span k = 1..S-1."""
        return self.cuts[:, 1:self._counts()[0]] + 1

    def _counts(self) -> tuple[int, int]:
        S = (self.cuts.shape[1] + 1) // 2
        M = self.input_ids.shape[1] - 1 - S  # inputs: M non-noise tokens, S sentinels, EOS
        return S, self.length - M

    @property
    def noise_spans(self) -> torch.Tensor:
        """(B, S, 2): [start, end) of each noise span in the raw row, in order."""
        S, N = self._counts()
        M = self.length - N
        keep_end = F.pad(self.keep_cuts, (0, 1), value=M)  # (B, S)
        start = keep_end + F.pad(self.noise_cuts, (1, 0), value=0)
        return torch.stack([start, keep_end + F.pad(self.noise_cuts, (0, 1), value=N)], 2)

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

    The cuts arrive as one (B, 2S-1) tensor z = [0, a_1-1 .. a_{S-1}-1, b_1+N-2 .. b_{S-1}+N-2]
    (see _draw_cuts), where a_k = noise tokens before noise span k and b_k = non-noise tokens
    before non-noise span k (a_0 = b_0 = 0, a_S = N, b_S = M). Every index of the output layout
    is one entry of z plus a constant, so all of them come from one `z.T.index_select(0, idx) + const`.
    """
    M, c = L - N, S - 1
    T0, W = M + S + 1, L + 2 * S + 2  # inputs are columns [0, T0) of the W = Li + Lt output columns
    A = lambda k: (k, 1) if 0 < k < S else (0, 0 if k == 0 else N)  # noqa: E731  a_k as (z column, constant)
    Bc = lambda k: (c + k, 2 - N) if 0 < k < S else (0, 0 if k == 0 else M)  # noqa: E731  b_k

    def plus(term, const):
        return term[0], term[1] + const

    # The source position in the row advances by one per output column, except at the first
    # column of each block; `off` (source - column) is constant within a block.
    starts, offs = [], []
    for k in range(S):  # inputs: non-noise span k (then <extra_id_k>) from column b_k + k
        starts.append(plus(Bc(k), k)), offs.append(plus(A(k), -k))
    starts.append((0, T0 - 1)), offs.append((0, -(T0 - 1)))  # inputs' EOS column: source 0 (replaced)
    for k in range(S):  # targets: <extra_id_k> (source: the token before) then noise span k from T0 + a_k + k
        starts.append(plus(A(k), T0 + k)), offs.append(plus(Bc(k + 1), -k - 1 - T0))
    starts.append((0, W - 1)), offs.append((0, -(W - 1)))  # targets' EOS column
    # step from the previous column = 1 + off - previous off, at a block start (0 at column 0)
    previous = [(0, 0)] + [plus(o, -1) for o in offs[:-1]]
    # <extra_id_k> and EOS columns: after non-noise span k in the inputs, before noise span k in the targets
    sent_in = [plus(Bc(k + 1), k) for k in range(S)] + [(0, T0 - 1)]
    sent_t = [plus(A(k), k) for k in range(S)] + [(0, N + S)]
    terms = offs + previous + starts + sent_in + sent_t
    K_noise, K_keep = _draws_needed(N - 1, c), _draws_needed(M - 1, c)
    t = lambda values: torch.tensor(values, dtype=torch.long, device=device)  # noqa: E731
    # draws: gaps 0..N-2 between noise tokens, then N-1 + gaps 0..M-2 between the others; each
    # half ends with c fixed "draws" 0..c-1, so that its first c distinct values always exist
    # (used only by a row whose random draws show too few: probability < 1e-9, see _draw_cuts)
    half = lambda k, gaps: ([gaps] * k + [1] * c, [False] * k + [True] * c, [0] * k + list(range(c)))  # noqa: E731
    (mod_n, tail_n, fixed_n), (mod_k, tail_k, fixed_k) = half(K_noise, N - 1), half(K_keep, M - 1)
    return {
        "idx": t([i for i, _ in terms]), "const": t([v for _, v in terms]).unsqueeze(1), "n": len(offs),
        "T0": T0, "W": W,
        "fill": t(list(sentinels[:S]) + [eos_id]),  # (S+1,) <extra_id_0..S-1>, EOS
        "K_noise": K_noise + c, "mod": t([mod_n + mod_k]),
        "fixed": torch.tensor([tail_n + tail_k], device=device), "fixed_value": t([fixed_n + fixed_k]),
        "shift": t([[0] * (K_noise + c) + [N - 1] * (K_keep + c)]),
        "draw": t([list(range(K_noise + K_keep + 2 * c))]).int(),  # int32: smaller tables, native atomics on GPUs
    }


def _draw_cuts(B: int, N: int, M: int, S: int, plan: dict, generator) -> torch.Tensor:
    """(B, 2S-1): [0 | noise gaps cut, ascending | N-1 + non-noise gaps cut, ascending].

    Each half is a uniformly random way to cut the noise (non-noise) tokens into S non-empty
    spans (T5's `_random_segmentation`): S-1 distinct gaps of N-1 (M-1), taken as the first
    S-1 distinct values of a sequence of uniform draws (sampling without replacement): a few
    draws per row instead of a random key for every gap. The two halves draw from disjoint
    ranges of one table of L-2 gaps, whose running count of cuts puts the chosen gaps in order.
    Each half's draws end with the fixed values 0..S-2, so a row whose random draws show too
    few distinct values (probability < 1e-9, see _draws_needed) completes its cuts with the
    smallest unused gaps instead of being redrawn: no data-dependent branch, so no host sync;
    the segmentation is uniform up to that 1e-9 (the draws are 62-bit integers reduced modulo
    the number of gaps: a bias below 1e-15; no ties to break, unlike 24-bit float keys).
    """
    c, V, dev = S - 1, N + M - 2, generator.device
    if c == 0:  # one span each: nothing to cut
        return torch.zeros((B, 1), dtype=torch.long, device=dev)
    K, kn = plan["mod"].shape[1], plan["K_noise"]
    v = torch.randint(0, 2**62, (B, K), generator=generator, device=dev)  # uniform 62 bits (2^64 % 2^62 == 0)
    v = v.remainder_(plan["mod"])
    v = torch.where(plan["fixed"], plan["fixed_value"], v).add_(plan["shift"])  # (B, K) noise gaps, then non-noise
    draw = plan["draw"].expand(B, K)  # draw numbers 0..K-1 (int32, as the tables below)
    earliest = torch.full((B, V), K, dtype=draw.dtype, device=dev).scatter_reduce_(1, v, draw, "amin")
    first = earliest.gather(1, v) == draw  # (B, K) the first draw of its value
    distinct = first.cumsum(1)  # (B, K) distinct values so far, in draw order
    distinct[:, kn:] -= distinct[:, kn - 1:kn]  # ... within each half
    take = distinct.le(c).logical_and_(first).to(draw.dtype)  # (B, K) 1: the first S-1 distinct values of each half
    cut = torch.zeros((B, V), dtype=draw.dtype, device=dev).scatter_add_(1, v, take)  # 1 at the gaps cut
    rank = cut.cumsum(1, dtype=draw.dtype)  # (B, V) gaps cut so far: 1..2(S-1) in order
    z = torch.empty((B, 2 * c + 1), dtype=torch.long, device=dev)
    z.scatter_(1, rank.gather(1, v).mul_(take).long(), v)  # each cut gap at its rank (column 0: discard)
    z[:, 0] = 0
    return z


def span_corrupt(
    input_ids: torch.Tensor,
    *,
    sentinel_ids: torch.Tensor,
    eos_id: int,
    pad_id: int,
    generator: torch.Generator,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    check_padding: bool = True,
) -> SpanBatch:
    """Corrupt every (packed, full-length) row of `input_ids` (B, L) by T5 span corruption.

    Output shapes are `corrupted_lengths(L, ...)`: (B, Li) inputs and (B, Lt) labels.
    `sentinel_ids` (from `sentinel_ids(tokenizer)`, a tensor or a sequence of ints) must hold
    at least `num_spans` ids; keep them on the host (ints, or a CPU tensor): they are read there.
    `check_padding=False` skips the check that no row starts or ends with `pad_id` (a host sync
    on a GPU), for callers that build full rows themselves (the training loop).
    The generator (on `input_ids.device`) is the only randomness: same seed, same result.
    """
    B, L = input_ids.shape
    if L < 2:
        raise ValueError(f"span corruption needs rows of at least 2 tokens, got {L}")
    if check_padding and bool((input_ids[:, ::L - 1] == pad_id).any()):  # padding sits at one end of a row
        raise ValueError("span_corrupt takes packed full-length rows; found padding")

    # 1. The per-row counts (identical for every row of length L).
    num_noise = min(max(int(round(L * noise_density)), 1), L - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    num_spans = min(num_spans, L - num_noise)  # only binds for densities > 0.5
    if num_spans > len(sentinel_ids):
        raise ValueError(f"{num_spans} noise spans need {num_spans} sentinels, the tokenizer has {len(sentinel_ids)}")
    S, N, M = num_spans, num_noise, L - num_noise
    sentinels = tuple(sentinel_ids[:S].tolist() if torch.is_tensor(sentinel_ids) else sentinel_ids[:S])
    plan = _plan(L, N, S, sentinels, int(eos_id), input_ids.device)

    # 2. Random segmentation: S non-empty noise spans and S non-empty non-noise spans.
    z = _draw_cuts(B, N, M, S, plan, generator)  # (B, 2S-1), see _plan

    # 3. Every index of the layout in one go (see _plan): the step into each block (from the
    #    block's offset and the previous block's), its first column, and the sentinel/EOS columns
    #    of the inputs and of the targets. (Rows as columns here: each index is one contiguous copy.)
    n = plan["n"]  # 2S + 2 blocks: S non-noise spans, EOS, S noise spans (sentinel first), EOS
    g = z.t().contiguous().index_select(0, plan["idx"]).add_(plan["const"])  # (4n, B)
    jumps, starts = (g[:n] - g[n:2 * n]).t(), g[2 * n:3 * n].t()  # (B, n)
    sent_in, sent_t = g[3 * n:3 * n + S + 1].t(), g[3 * n + S + 1:].t()  # (B, S+1)

    # 4. Inputs:  non-noise span 0, <extra_id_0>, non-noise span 1, <extra_id_1>, ..., EOS.
    #    Targets: <extra_id_0>, noise span 0, <extra_id_1>, noise span 1, ..., EOS.
    #    The position in the row each output column copies advances by one per column except
    #    where a block starts: a cumsum of the steps, then one gather per output.
    T0, W = plan["T0"], plan["W"]
    steps = torch.ones((B, W), dtype=torch.long, device=input_ids.device).scatter_(1, starts, jumps)
    source = steps.cumsum_(1)  # (B, W) position in the row that each output column copies
    fill = plan["fill"].expand(B, S + 1)
    inputs = input_ids.gather(1, source[:, :T0]).scatter_(1, sent_in, fill)  # (B, Li)
    targets = input_ids.gather(1, source[:, T0:]).scatter_(1, sent_t, fill)  # (B, Lt)
    return SpanBatch(inputs, targets, z, L)
