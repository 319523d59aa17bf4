"""What a masking really did to a corpus: counts of the decisions, by token class and by word.

The training job's data (blocks of token ids, `train/data/packing.py`) goes through a masking
(our engine, `DataCollatorForLanguageModeling`, T5 span corruption, the T5 recipe); a tally
adds up what happened, batch by batch, and reports rates that can be checked against the
policy. Nothing here reads files or decides anything: `train/audit.py` feeds the job's own
blocks and masking in, `core/mask/audit_reference.py` the Hugging Face / T5 references.

Token classes (of the original token at each position; the first that applies):

    padding        past the block's length
    special        the tokenizer's special tokens (MaskingVocab.special: [CLS], [SEP], [PAD], sentinels...)
    digit          the piece as read is all digits ("2023", "##5")
    punctuation    the piece as read is all punctuation or symbols (".", "##-", "$")
    continuation   the piece continues a word ("##ing", no "▁" / "Ġ")
    word_start     every other piece

Words are what whole-word masking uses in training: a non-special piece and the continuation
pieces after it (`MaskingVocab.continuation`). Per word: selected entirely, partly (some of its
pieces only), and with mixed decisions (its selected pieces not all `[MASK]`, all random or
all kept: the leak of `DataCollatorForWholeWordMask`-style per-token decisions).

    MlmTally(tokenizer, engine=..., policy=...).add(original, lengths, decisions, corrupted).report()
    SpanTally(engine=..., noise_density=..., mean_span=...).add(raw_lengths, noise, spans).report()
    span_counts(labels, sentinel_ids) -> (noise tokens (B,), spans (B,)) of a span batch's targets
"""

from __future__ import annotations

import unicodedata
import weakref

import torch

from mlm_explorer.core.mask.masking import Decision, MaskingPolicy, MaskingVocab

CLASSES = ("word_start", "continuation", "digit", "punctuation", "special", "padding")
WORD_START, CONTINUATION, DIGIT, PUNCTUATION, SPECIAL, PADDING = range(6)
DECISIONS = ("none", "mask", "random", "keep")   # the Decision values 0..3, in order

_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def class_table(tokenizer, vocab: MaskingVocab | None = None) -> torch.Tensor:
    """(V,) long: the class of every vocabulary id (padding is positional, not in the table)."""
    try:
        cached = _TABLES.get(tokenizer)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    from mlm_explorer.core.mask.text import PieceStyle

    vocab = vocab or MaskingVocab.from_tokenizer(tokenizer)
    style = PieceStyle.of(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(vocab.special))))
    table = torch.full((len(vocab.special),), WORD_START, dtype=torch.long)
    for i, piece in enumerate(pieces):
        shown = style.display(piece) if isinstance(piece, str) else ""
        if bool(vocab.special[i]):
            table[i] = SPECIAL
        elif shown.isdigit():
            table[i] = DIGIT
        elif shown and all(unicodedata.category(c)[0] in "PS" for c in shown):
            table[i] = PUNCTUATION
        elif bool(vocab.continuation[i]):
            table[i] = CONTINUATION
    try:
        _TABLES[tokenizer] = table
    except TypeError:
        pass
    return table


def _rates(row: torch.Tensor) -> dict:
    """One class's counts [none, mask, random, keep] -> tokens, selected, rates and shares."""
    n = int(row.sum())
    mask, random, keep = (int(v) for v in row[1:])
    selected = mask + random + keep
    share = (lambda v: v / selected) if selected else (lambda v: None)
    return {"tokens": n, "selected": selected, "rate": selected / n if n else None,
            "mask": mask, "random": random, "keep": keep,
            "mask_share": share(mask), "random_share": share(random), "keep_share": share(keep)}


class MlmTally:
    """Counts of one MLM masking over many batches (see the module doc)."""

    def __init__(self, tokenizer, *, engine: str, policy: MaskingPolicy, vocab: MaskingVocab | None = None,
                 note: str = "") -> None:
        self.vocab = vocab or MaskingVocab.from_tokenizer(tokenizer)
        self.table = class_table(tokenizer, self.vocab)
        self.engine, self.policy, self.note = engine, policy, note
        self.counts = torch.zeros((len(CLASSES), len(DECISIONS)), dtype=torch.long)   # [class, decision]
        self.random_special = 0    # RANDOM replacements drawn as a special / [unused] / added token
        self.words = torch.zeros(5, dtype=torch.long)   # words, multi-piece, selected, partly, mixed
        self.blocks = 0

    def add(self, original: torch.Tensor, lengths: torch.Tensor, decisions: torch.Tensor,
            corrupted: torch.Tensor) -> "MlmTally":
        """original / decisions / corrupted (B, L) long, lengths (B,): one masked batch."""
        original, decisions, corrupted = original.cpu(), decisions.cpu().long(), corrupted.cpu()
        B, L = original.shape
        width = len(self.table)
        cls = self.table[original.clamp(0, width - 1)]                          # (B, L)
        cls[original >= width] = SPECIAL
        padding = torch.arange(L).unsqueeze(0) >= lengths.cpu().unsqueeze(1)   # (B, L)
        cls[padding] = PADDING
        self.counts += torch.bincount((cls * 4 + decisions).flatten(), minlength=self.counts.numel()).view_as(self.counts)
        drawn = corrupted[decisions == Decision.RANDOM]
        ordinary = torch.zeros(max(width, int(drawn.max()) + 1 if drawn.numel() else 0), dtype=torch.bool)
        ordinary[self.vocab.replaceable.cpu()] = True
        self.random_special += int((~ordinary[drawn]).sum())
        self._add_words(original, cls, decisions)
        self.blocks += B
        return self

    def _add_words(self, original, cls, decisions) -> None:
        """Words as whole-word masking sees them: a non-special piece and its continuations."""
        B, L = original.shape
        cand = cls < SPECIAL                                                      # (B, L) pieces of words
        cont = self.vocab.continuation.cpu()
        joins = cont[original.clamp(0, len(cont) - 1)] & cand
        joins[:, 1:] &= cand[:, :-1]
        joins[:, 0] = False
        starts = cand & ~joins
        word = starts.cumsum(1) + torch.arange(B).unsqueeze(1) * (L + 1)          # (B, L) unique per row
        word, d = word[cand], decisions[cand]                                     # (P,) per piece
        if word.numel() == 0:
            return
        _, word = torch.unique(word, return_inverse=True)
        W = int(word.max()) + 1
        per = torch.zeros((W, 4), dtype=torch.long).index_put_((word, d), torch.ones_like(d), accumulate=True)
        pieces, picked = per.sum(1), per[:, 1:].sum(1)
        kinds = (per[:, 1:] > 0).sum(1)                                           # distinct decisions among the picked
        self.words += torch.tensor([W, int((pieces > 1).sum()), int((picked == pieces).sum()),
                                    int(((picked > 0) & (picked < pieces)).sum()), int((kinds > 1).sum())])

    def report(self) -> dict:
        c = self.counts
        ordinary = c[:SPECIAL].sum(0)
        words, multi, selected, partly, mixed = (int(v) for v in self.words)
        return {
            "engine": self.engine, "note": self.note, "blocks": self.blocks,
            "policy": self.policy.to_dict(),
            "overall": _rates(ordinary),
            "classes": {name: _rates(c[i]) for i, name in enumerate(CLASSES[:SPECIAL])},
            "special_touched": int(c[SPECIAL, 1:].sum()), "padding_touched": int(c[PADDING, 1:].sum()),
            "special_tokens": int(c[SPECIAL].sum()), "padding_tokens": int(c[PADDING].sum()),
            "random_drew_special": self.random_special,
            "words": {"words": words, "multi_piece": multi, "selected": selected, "partly_selected": partly,
                      "mixed_decisions": mixed, "selected_rate": selected / words if words else None},
        }


# ---------------------------------------------------------------------------------------------
# Span corruption


def span_counts(labels: torch.Tensor, sentinel_ids) -> tuple[torch.Tensor, torch.Tensor]:
    """(noise tokens (B,), spans (B,)) from span-corruption targets (B, Lt).

    Targets are `<extra_id_0> span_0 <extra_id_1> span_1 ... </s>`, padded with -100 (or the pad
    id): noise = the target tokens that are neither a sentinel nor the final </s>.
    """
    labels = labels.cpu()
    sentinels = torch.as_tensor(sentinel_ids).cpu()
    real = labels >= 0
    is_sentinel = torch.isin(labels, sentinels) & real
    spans = is_sentinel.sum(1)
    noise = (real.sum(1) - spans - (spans > 0).long()).clamp(min=0)        # minus the closing </s>
    return noise, spans


class SpanTally:
    """Counts of one span corruption over many rows: realised noise density, spans, sentinels."""

    def __init__(self, *, engine: str, noise_density: float, mean_span: float, note: str = "") -> None:
        self.engine, self.note = engine, note
        self.noise_density, self.mean_span = noise_density, mean_span
        self.rows = self.raw_tokens = self.noise = self.spans = 0
        self.truncated = 0             # raw tokens the masking never saw (a dropped remainder)
        self.min_spans: int | None = None
        self.max_spans = 0
        self.extra: dict = {}

    def add(self, raw_lengths, noise, spans) -> "SpanTally":
        raw_lengths, noise, spans = (torch.as_tensor(v).cpu().long() for v in (raw_lengths, noise, spans))
        keep = raw_lengths > 0
        self.rows += int(keep.sum())
        self.raw_tokens += int(raw_lengths.sum())
        self.noise += int(noise.sum())
        self.spans += int(spans.sum())
        if keep.any():
            lo, hi = int(spans[keep].min()), int(spans[keep].max())
            self.min_spans = lo if self.min_spans is None else min(self.min_spans, lo)
            self.max_spans = max(self.max_spans, hi)
        return self

    def report(self) -> dict:
        return {
            "engine": self.engine, "note": self.note, "rows": self.rows, "raw_tokens": self.raw_tokens,
            "noise_tokens": self.noise, "noise_density": self.noise / self.raw_tokens if self.raw_tokens else None,
            "expected_density": self.noise_density, "spans": self.spans,
            "mean_span_length": self.noise / self.spans if self.spans else None,
            "expected_mean_span": self.mean_span,
            "sentinels_per_row": {"mean": self.spans / self.rows if self.rows else None,
                                  "min": self.min_spans, "max": self.max_spans},
            "truncated_tokens": self.truncated, **self.extra,
        }


# ---------------------------------------------------------------------------------------------
# Where two reports differ, and why


def _apart(a: float | None, b: float | None, n: int, sigmas: float = 4.0) -> bool:
    """Two rates further apart than sampling noise explains (`sigmas` binomial standard errors)."""
    if a is None or b is None or n <= 0:
        return False
    p = min(max((a + b) / 2, 1e-6), 1 - 1e-6)
    return abs(a - b) > sigmas * (2 * p * (1 - p) / n) ** 0.5


def mlm_differences(ours: dict, ref: dict) -> list[str]:
    """One line per real difference between the engine's report and a reference's."""
    out = []
    if ref["random_drew_special"] > ours["random_drew_special"]:
        out.append(f"{ref['engine']} drew {ref['random_drew_special']} special/unused tokens as random "
                   "replacements: it draws from the whole vocabulary (transformers #15342); "
                   f"{ours['engine']} draws ordinary tokens only ({ours['random_drew_special']})")
    for what in ("special_touched", "padding_touched"):
        if ref[what] != ours[what]:
            out.append(f"{what.replace('_', ' ')}: {ref['engine']} {ref[what]}, {ours['engine']} {ours[what]}")
    o, r = ours["overall"], ref["overall"]
    if _apart(o["rate"], r["rate"], min(o["tokens"], r["tokens"])):
        out.append(f"selection rate {o['rate']:.4f} vs {r['rate']:.4f}: more than sampling noise")
    for share in ("mask_share", "random_share", "keep_share"):
        if _apart(o[share], r[share], min(o["selected"], r["selected"])):
            out.append(f"{share.replace('_', ' ')} of the selected: {ours['engine']} {o[share]:.3f}, "
                       f"{ref['engine']} {r[share]:.3f}"
                       + (" (its whole-word mode puts [MASK] on every selected token)"
                          if ref["policy"].get("whole_word") and r["mask_share"] == 1.0 else ""))
    ow, rw = ours["words"], ref["words"]
    if rw["mixed_decisions"] > ow["mixed_decisions"] and ours["policy"].get("whole_word"):
        out.append(f"{ref['engine']} gave {rw['mixed_decisions']} selected words mixed decisions "
                   "([MASK] beside the word's own pieces: the answer leaks); the engine decides once per word")
    if rw["partly_selected"] != ow["partly_selected"] and ours["policy"].get("whole_word"):
        out.append(f"partly selected words: {ref['engine']} {rw['partly_selected']}, "
                   f"{ours['engine']} {ow['partly_selected']}")
    return out


def span_differences(ours: dict, ref: dict) -> list[str]:
    out = []
    if ref["truncated_tokens"] > ours["truncated_tokens"]:
        out.append(f"{ref['engine']} drops the corpus's last {ref['truncated_tokens']} tokens (group_texts keeps "
                   f"whole rows only); {ours['engine']} corrupts its padded tail block alone")
    if ref.get("sentinels_match") is False:
        out.append(f"{ref['engine']} writes <extra_id_k> as id len(tokenizer) - 1 - k, which is not this "
                   "tokenizer's numbering: its sentinels would be wrong ids")
    for key in ("noise_density", "mean_span_length"):
        a, b = ours[key], ref[key]
        if a is not None and b is not None and abs(a - b) > 0.01 * max(abs(a), abs(b), 1e-9):
            out.append(f"{key.replace('_', ' ')}: {ours['engine']} {a:.4f}, {ref['engine']} {b:.4f}")
    return out
