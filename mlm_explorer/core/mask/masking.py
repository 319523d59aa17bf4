"""The one masking engine: BERT's 80/10/10 rule, used unchanged by preview, CLI and training.

`mask_tokens` takes a (B, L) LongTensor of ids on any device, a `MaskingPolicy` and a seeded
`torch.Generator`, and returns a `MaskedBatch`: the corrupted ids, the labels (-100 where not
selected) and the per-position `Decision` (none / mask / random / keep; the codes live in
core/mask/decision.py) as data.

Exact semantics (and how they differ from `DataCollatorForLanguageModeling`):

- One uniform draw `u` per position (per word with whole-word masking) decides everything:
  selected iff `u < rate`; a selected position is MASK if `u < rate*mask`, RANDOM if
  `u < rate*(mask+random)`, KEEP otherwise. Given selection, `u/rate` is uniform, so the split
  is exactly `mask/random/keep` in expectation with a single draw (the collator spends three
  Bernoulli draws per position on the same split; labml's overlapping draws miss it).
- Specials and padding (`vocab.special`, plus anything outside `maskable`) are never selected.
- RANDOM replacements come only from `vocab.replaceable`: ordinary vocabulary, never special,
  `[unusedN]`, padding, sentinel or added tokens (the collator draws from all of
  `len(tokenizer)`, see transformers issue 15342).
- Same generator state -> same result (on a given device type).
- `count`: exactly `min(count, n_maskable)` positions (words) per row instead of a rate.
- Whole-word: words are selected, never subwords; all subwords of a selected word are
  selected, and each *word* gets one decision, so a word is entirely `[MASK]`, entirely
  random, or entirely kept. (HF's `DataCollatorForWholeWordMask` selects whole words but
  then decides per token, which can leave `[MASK]` next to the word's real subwords and leak
  the answer.) `rate` is then the fraction of words. Its goal: at most 1.3x the token path's
  time (`benchmarks/bench_masking.py` (d)).

The steps are written once against core/mask/arrays.py: NumPy views on the CPU (several times
cheaper per call than torch's CPU operators on batches this size), torch on other devices; the
draws always come from the caller's torch generator, so both give the same result.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from itertools import chain
from typing import Any, Sequence

import numpy as np
import torch

from mlm_explorer.core.mask.arrays import ops_for
from mlm_explorer.core.mask.decision import Decision
from mlm_explorer.core.mask.text import PieceStyle, sentinel_token_ids
from mlm_explorer.errors import InputError, ModelError

_UNUSED_RE = re.compile(r"\[unused\d+\]|<unused\d+>|<extra_id_\d+>")
# mask_tokens' code k per position is the number of thresholds u reaches: 0 MASK, 1 RANDOM,
# 2 KEEP, 3 NONE (and blocked); `(k + 1) & 3` turns it into the Decision value (one cheap pass).
assert [(k + 1) & 3 for k in range(4)] == [Decision.MASK, Decision.RANDOM, Decision.KEEP, Decision.NONE]


@dataclass(frozen=True)
class MaskingPolicy:
    rate: float = 0.15  # fraction of maskable positions (of words, with whole_word) selected
    mask: float = 0.8  # of the selected: share replaced by the mask token
    random: float = 0.1  # ... replaced by a random ordinary token
    keep: float = 0.1  # ... left unchanged
    whole_word: bool = False  # select words, not subwords
    count: int | None = None  # exact number of selected positions (or words) per row; overrides rate

    def __post_init__(self):
        if not 0.0 <= self.rate <= 1.0:
            raise InputError(f"masking rate must be between 0 and 1, got {self.rate}")
        parts = (self.mask, self.random, self.keep)
        if min(parts) < 0 or abs(sum(parts) - 1.0) > 1e-6:
            raise InputError(f"mask/random/keep shares must be >= 0 and add up to 1, got {parts}")
        if self.count is not None and self.count < 0:
            raise InputError(f"mask count must be >= 0, got {self.count}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MaskingVocab:
    """Per-vocabulary lookup tables, built once per tokenizer; `.to(device)` moves them."""

    mask_id: int
    pad_id: int
    special: torch.Tensor  # (V,) bool: ids never selected (specials, pad, unk, sentinels, added specials)
    replaceable: torch.Tensor  # (R,) long: ids a RANDOM decision may draw (ordinary vocabulary only)
    continuation: torch.Tensor  # (V,) bool: ids that continue a word ("##x", no "▁"/"Ġ" prefix)

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "MaskingVocab":
        if tokenizer.mask_token_id is None:
            raise ModelError(f"{type(tokenizer).__name__} has no mask token; masked-LM masking needs one")
        style = PieceStyle.of(tokenizer)
        size = len(tokenizer)
        pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
        added = getattr(tokenizer, "added_tokens_decoder", {})
        special_ids = set(tokenizer.all_special_ids) | set(sentinel_token_ids(tokenizer))
        special_ids |= {i for i, tok in added.items() if getattr(tok, "special", False)}
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else -1
        if pad_id >= 0:
            special_ids.add(pad_id)

        special = torch.zeros(size, dtype=torch.bool)
        special[sorted(i for i in special_ids if 0 <= i < size)] = True
        ordinary = [
            i for i, p in enumerate(pieces)
            if p is not None and i not in special_ids and i not in added and not _UNUSED_RE.fullmatch(p)
        ]
        if not ordinary:
            raise ModelError(f"{type(tokenizer).__name__} has no ordinary tokens to draw random replacements from")
        continuation = torch.tensor(
            [p is not None and i not in special_ids and i not in added and style.continues(p)
             for i, p in enumerate(pieces)],
            dtype=torch.bool,
        )
        return cls(
            mask_id=tokenizer.mask_token_id, pad_id=pad_id, special=special,
            replaceable=torch.tensor(ordinary, dtype=torch.long), continuation=continuation,
        )

    def to(self, device) -> "MaskingVocab":
        return replace(
            self, special=self.special.to(device), replaceable=self.replaceable.to(device),
            continuation=self.continuation.to(device),
        )


@dataclass
class MaskedBatch:
    input_ids: torch.Tensor  # (B, L) long: corrupted ids
    labels: torch.Tensor  # (B, L) long: original id where selected, -100 elsewhere
    decisions: torch.Tensor  # (B, L) long: Decision values

    def to_dict(self) -> dict:
        return {"input_ids": self.input_ids.tolist(), "labels": self.labels.tolist(),
                "decisions": self.decisions.tolist()}


def mask_tokens(
    input_ids: torch.Tensor,
    *,
    vocab: MaskingVocab,
    policy: MaskingPolicy = MaskingPolicy(),
    generator: torch.Generator,
    maskable: torch.Tensor | None = None,
    word_ids: torch.Tensor | None = None,
    backend: str | None = None,
) -> MaskedBatch:
    """Select and corrupt positions of `input_ids` by BERT's rule (see the module docstring).

    Args:
        input_ids: (B, L) or (L,) long ids, on any device; padding allowed.
        vocab: lookup tables for the tokenizer, on the same device as `input_ids`.
        policy: rate, mask/random/keep split, whole-word, exact count.
        generator: a seeded `torch.Generator` on `input_ids.device`; the only randomness used.
        maskable: optional (B, L) restriction (e.g. `attention_mask.bool()`); specials and
            padding are excluded whatever it says.
        word_ids: optional (B, L) word index per position (-1 or anything for non-words);
            only used with `policy.whole_word`. Without it, words come from `vocab.continuation`.
        backend: "numpy" or "torch" array operations (default: NumPy on the CPU, torch
            elsewhere; both give the same result, see core/mask/arrays.py).
    Returns:
        MaskedBatch(input_ids, labels, decisions), each shaped like `input_ids`.
    """
    if not same_device(input_ids.device, generator.device):
        raise ValueError(f"generator is on {generator.device} but input_ids are on {input_ids.device}")
    shape = input_ids.shape
    dev = input_ids.device
    xp = ops_for(dev, backend)
    ids2 = input_ids if input_ids.dim() == 2 else input_ids.reshape(-1, shape[-1])
    ids = xp.array(ids2.contiguous())  # (B, L)
    B, L = ids.shape

    # 1. Blocked positions (never selected): specials and padding, and what the caller excludes.
    blocked = xp.lookup(xp.array(vocab.special), ids)  # (B, L) bool
    if maskable is not None:
        if maskable.dtype != torch.bool or maskable.device != dev or maskable.shape != ids2.shape:
            maskable = maskable.reshape(B, L).to(device=dev, dtype=torch.bool)
        blocked |= ~xp.array(maskable)

    # 2. One uniform u per unit (a position, or a word with whole_word): u < rate selects the
    #    unit, and u / rate, uniform on [0, 1) given selection, splits it.
    if policy.whole_word:
        u = _word_draws(xp, ids, blocked, vocab, policy, generator, word_ids)  # (B, L), each subword its word's u
    else:
        u = _draw(xp, policy, generator, (B, L), blocked)  # (B, L)

    # 3. Decisions by cumulative thresholds: code k = 0 in [0, t1) MASK, 1 in [t1, t2) RANDOM,
    #    2 in [t2, t3) KEEP, 3 (NONE) above, and for every blocked position.
    scale = 1.0 if policy.count is not None else policy.rate  # count mode: u is the split draw itself
    k = xp.bucket(u, scale * policy.mask, scale * (policy.mask + policy.random), scale)  # (B, L) uint8
    k |= xp.as_uint8(blocked) * 3
    decisions = xp.as_long((k + 1) & 3)  # (B, L) Decision values: 0 NONE, 1 MASK, 2 RANDOM, 3 KEEP

    # 4. Labels: the original id where selected, -100 elsewhere (loss only on selected positions).
    labels = xp.where(k < 3, ids, -100)  # (B, L)

    # 5. MASK -> the mask token; RANDOM -> an ordinary token drawn uniformly; KEEP -> unchanged.
    #    One draw per position, used only at RANDOM ones: a fixed shape, so that a GPU need not
    #    tell the host how many RANDOM positions there are first (a sync per batch); the
    #    collator draws one per position too.
    replaceable = xp.array(vocab.replaceable)
    random_ids = xp.take(replaceable, xp.randint(generator, len(replaceable), B * L)).reshape(B, L)  # (B, L)
    out = xp.where(k == 0, vocab.mask_id, xp.where(k == 1, random_ids, ids))  # (B, L)
    tensors = [xp.tensor(a) for a in (out, labels, decisions)]
    return MaskedBatch(*(tensors if input_ids.dim() == 2 else (t.reshape(shape) for t in tensors)))


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether two devices are the same one: the type and the index (`cuda` means the current
    GPU), so a `cuda:0` generator with `cuda:1` ids is refused, not only a CPU one."""
    def index(d: torch.device) -> int | None:
        if d.type == "cuda" and d.index is None:
            return torch.cuda.current_device()
        return d.index if d.type != "cpu" else None

    return a.type == b.type and index(a) == index(b)


def _word_draws(xp, ids, blocked, vocab: MaskingVocab, policy: MaskingPolicy, generator, word_ids):
    """(B, L) uniforms for whole-word masking: one per word, shared by all its subwords.

    A word starts at a candidate (not blocked) that does not continue the previous candidate's
    word; a row's first candidate always starts one (a row that begins mid-word: that fragment
    is a word of its own). Rate mode numbers the words of the whole batch in row-major order
    and draws one u per word; count mode numbers them per row (the exact count is per row).
    """
    B, L = ids.shape
    # 1. Word starts: a candidate that does not continue the previous candidate's word.
    if word_ids is None:
        joins = xp.lookup(xp.array(vocab.continuation), ids)  # (B, L) a "##x" piece (no "▁"/"Ġ")...
    else:
        w = xp.array(word_ids.reshape(B, L).to(device=generator.device, dtype=torch.long))
        blocked |= w < 0  # -1: not part of any word
        joins = blocked & False  # (B, L) all False
        joins[:, 1:] = w[:, 1:] == w[:, :-1]  # ...or the same word id as the previous position
    cand = ~blocked
    joins[:, 1:] &= cand[:, :-1]  # ...that follows a candidate
    joins[:, 0] = False
    starts = cand & ~joins  # (B, L)
    if policy.count is None:
        # 2. Rate mode: word n of the batch (row-major) draws u[n]; every subword gathers its word's u.
        #    B*L draws, as many as there can be words: a fixed shape, so no host sync to count them.
        word = xp.cumsum(starts.reshape(-1), 0) - 1  # (B*L,) 0, 1, ... (-1 before the first word: blocked)
        u = xp.uniform(generator, (B * L,))  # (B*L,) u[n] for word n; the unused tail is never read
        return xp.take_clipped(u, word).reshape(B, L)
    # 2. Count mode: words numbered 1, 2, ... per row; slots past a row's last word are never chosen.
    word = xp.cumsum(starts, 1)  # (B, L) word number of each candidate (0 before the first: blocked)
    slot = xp.arange(L + 1, like=ids)  # (L+1,) word numbers; 0 is not a word
    slots_blocked = (slot < 1) | (slot > xp.row_sum(starts))  # (B, L+1)
    return xp.take_rows(_draw(xp, policy, generator, (B, L + 1), slots_blocked), word)  # (B, L)


def _draw(xp, policy: MaskingPolicy, generator, shape: tuple[int, int], blocked):
    """(B, n) uniforms, one per unit (position or word); rate mode leaves blocked units to the
    caller (step 3 of mask_tokens), count mode never chooses them.

    Rate mode: u ~ U[0, 1) (selected iff u < rate).
    Count mode: exactly min(count, n_selectable) units per row, those with the smallest random
    keys (a uniformly random subset), get a fresh u ~ U[0, 1) for the split; all others 2.
    """
    u = xp.uniform(generator, shape)
    if policy.count is None:
        return u
    keys = xp.where(blocked, 2.0, u)
    k = min(policy.count, shape[1])
    chosen = blocked & False  # (B, n) all False
    if k > 0:
        keys, picked = xp.smallest(keys, k)  # (B, k) the k smallest keys
        chosen = xp.scatter_rows(shape, picked, keys < 1.5)
    split = xp.uniform(generator, shape)  # a fresh uniform for the split
    return xp.where(chosen, split, 2.0)


def pad_batch(
    sequences: Sequence[Sequence[int]], *, pad_id: int, pad_to_multiple_of: int | None = None, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad variable-length id lists into `(input_ids (B, L), attention_mask (B, L) bool)`.

    One flat conversion for the whole batch (`np.fromiter`; `torch.tensor(list)` is ~10x slower),
    no per-row tensors, no Python padding loop.
    """
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))  # (B,)
    L = int(lengths.max()) if len(sequences) else 0
    if pad_to_multiple_of:
        L = -(-L // pad_to_multiple_of) * pad_to_multiple_of
    flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))  # (N,)
    attention = np.arange(L) < lengths[:, None]  # (B, L) True on real tokens
    out = np.full((len(sequences), L), pad_id, dtype=np.int64)
    out[attention] = flat  # row-major order matches the concatenation
    return torch.from_numpy(out).to(device), torch.from_numpy(attention).to(device)


class MlmCollator:
    """A DataLoader `collate_fn`: examples (id lists or dicts with "input_ids") in, padded and
    masked tensors out: `{"input_ids", "attention_mask", "labels", "decisions"}`."""

    def __init__(self, vocab: MaskingVocab, *, policy: MaskingPolicy = MaskingPolicy(), seed: int = 0,
                 pad_to_multiple_of: int | None = None):
        self.vocab, self.policy, self.pad_to_multiple_of = vocab, policy, pad_to_multiple_of
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, examples: Sequence[Any]) -> dict[str, torch.Tensor]:
        seqs = [e["input_ids"] if isinstance(e, dict) else e for e in examples]
        ids, attention = pad_batch(seqs, pad_id=self.vocab.pad_id, pad_to_multiple_of=self.pad_to_multiple_of)
        m = mask_tokens(ids, vocab=self.vocab, policy=self.policy, generator=self.generator, maskable=attention)
        return {"input_ids": m.input_ids, "attention_mask": attention.long(), "labels": m.labels,
                "decisions": m.decisions}
