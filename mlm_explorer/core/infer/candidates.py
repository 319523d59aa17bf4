"""Candidate words for one blank, and the best fills of 1, 2, 3 subwords.

A candidate word is tokenized as it would appear at the blank (a word start: WordPiece without
`##`; byte-level BPE with its leading `Ġ` when a space comes before the blank; SentencePiece with
`▁`), then scored:

- one piece: its probability and rank in the blank's distribution (the same numbers as
  `fill.fill_masks`), method "single";
- n pieces: the blank becomes n masks and the *given* pieces are scored jointly, most confident
  first: at each step, among the still-masked slots, take the one where the candidate's piece
  is most probable, record its log-probability, write the piece there, re-run the model.
  log p(word) = the sum of the n recorded log-probabilities; probability = exp of it; method
  "joint, most confident first, n passes". `rank` is None (a rank over all n-piece sequences is
  not computed); each step carries the rank of its piece in that step's distribution, and
  `normalized_logprob` (log p / n) is comparable with the variable-length fills.

`variable_length_fill` replaces the blank by 1, 2, ..., max_pieces masks and searches the best
fills of each length with a beam over the same most-confident-first order (at each step every
beam row fills the slot where its best token is most probable, with its `beam` best tokens;
the `beam` best partial fills by total log-probability go on; special tokens are never chosen).
A fill is one word: its first piece starts a word, the others continue it (`##`-pieces for
WordPiece), so "french french french" is not a 3-piece fill.
The `top` best of each length are returned together, ranked by log-probability per piece.

Other blanks in the text stay masks throughout. Temperature divides the logits, as in fill.py.

Public API (results are dataclasses with `to_dict()`):

    score_blank(lm, text, words, *, mask=None, temperature=1.0, truncate=False,
                max_pieces=3, top=5, beam=None) -> BlankScores          # text in, for the CLI/app
    score_candidates(lm, input_ids, position, words, *, temperature=1.0,
                     space_before=None) -> list[CandidateScore]
    variable_length_fill(lm, input_ids, position, *, max_pieces=3, top=5, beam=None,
                         temperature=1.0) -> list[VariableFill]
    candidate_pieces(tokenizer, word, *, space_before=True) -> list[int]
    parse_candidates("paris, lyon") -> ["paris", "lyon"]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from mlm_explorer.core.infer import forward
from mlm_explorer.core.mask.text import PieceStyle, TokenStrings, decode_text, tokenize
from mlm_explorer.errors import InputError

MAX_PIECES = 8   # a candidate longer than this many subwords is refused (one pass per piece)


@dataclass
class PieceStep:
    position: int       # the slot's index in the sequence with n masks
    piece_index: int    # which of the word's pieces, 0 = the first
    token_id: int
    token: str          # vocabulary piece ("##izer")
    text: str           # as read ("izer")
    probability: float  # of this piece at this slot, at this step
    logprob: float
    rank: int           # of this piece in that step's distribution; 1 = the model's first choice


@dataclass
class CandidateScore:
    word: str                  # as given
    pieces: list[str]          # its vocabulary pieces, as it would be tokenized at the blank
    token_ids: list[int]
    method: str                # "single" | "joint, most confident first, N passes"
    logprob: float             # log p(word), nats: the sum of the steps' logprobs
    probability: float         # exp(logprob)
    normalized_logprob: float  # logprob / number of pieces
    rank: int | None           # single piece: rank in the vocabulary (1 = first choice); else None
    steps: list[PieceStep]     # in the order the pieces were filled

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VariableFill:
    text: str                  # the fill as read ("paris", "token izer s" -> "tokenizers")
    pieces: list[str]
    token_ids: list[int]
    n_pieces: int
    logprob: float             # sum over the steps, nats
    probability: float         # exp(logprob)
    normalized_logprob: float  # logprob / n_pieces: the ranking key
    steps: list[PieceStep]     # in filling order

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BlankScores:
    position: int                    # the blank's index in the input ids
    mask: int                        # which blank of the text, 1 = the first
    candidates: list[CandidateScore]
    fills: list[VariableFill]        # best fills of each length, best normalized_logprob first
    temperature: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Words -> pieces


def parse_candidates(value: str) -> list[str]:
    """`"paris, lyon"` -> `["paris", "lyon"]`; an empty item is an InputError."""
    words = [w.strip() for w in (value or "").split(",")]
    if not any(words):
        raise InputError("no candidate words: give them separated by commas, e.g. --candidates paris,lyon")
    if not all(words):
        raise InputError(f"empty candidate in {value!r}: separate words by single commas, e.g. paris,lyon")
    return words


def candidate_pieces(tokenizer, word: str, *, space_before: bool = True) -> list[int]:
    """Token ids of `word` as it would be tokenized at the start of a word.

    space_before: a space precedes the blank (only byte-level BPE spells that, with `Ġ`).
    """
    word = word.strip()
    if not word:
        raise InputError("empty candidate: give a word, e.g. --candidates paris,lyon")
    style = PieceStyle.of(tokenizer)
    ids = tokenizer((" " + word) if style.byte_level and space_before else word, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids)
    if not ids:
        raise InputError(f"candidate {word!r} tokenizes to nothing with this model's tokenizer")
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
        raise InputError(f"candidate {word!r} has characters this model cannot spell (it becomes {tokenizer.unk_token})")
    if any(i in special for i in ids):
        raise InputError(f"candidate {word!r} contains a special token; give an ordinary word")
    if len(ids) > MAX_PIECES:
        raise InputError(f"candidate {word!r} is {len(ids)} subwords; at most {MAX_PIECES} are scored")
    return ids


# ---------------------------------------------------------------------------------------------
# Scoring given words


def score_candidates(lm, input_ids: list[int], position: int, words: list[str], *,
                     temperature: float = 1.0, space_before: bool | None = None) -> list[CandidateScore]:
    """Score each of `words` at the mask token at `position` of `input_ids` (see the module doc).

    space_before: None = a space unless the blank follows a special token (the text's start).
    """
    _check(lm, input_ids, position, temperature)
    if not words:
        raise InputError("no candidate words: give them separated by commas, e.g. --candidates paris,lyon")
    tokenizer = lm.tokenizer
    if space_before is None:
        space_before = position > 0 and input_ids[position - 1] not in set(tokenizer.all_special_ids)
    vocab = TokenStrings(tokenizer)
    cache: dict[tuple, tuple] = {}   # (ids, slots) -> (probs, logprobs) (R, V): shared first passes

    def distributions(ids: list[int], slots: list[int]):
        key = (tuple(ids), tuple(slots))
        if key not in cache:
            cache[key] = forward.distributions(forward.mask_logits(lm, ids, slots).cpu(), temperature)   # (R, V) each
        return cache[key]

    results = []
    for word in words:
        pieces = candidate_pieces(tokenizer, word, space_before=space_before)
        n = len(pieces)
        if len(input_ids) - 1 + n > lm.max_length:
            raise InputError(f"candidate {word!r} ({n} subwords) makes the text longer than the model's "
                             f"{lm.max_length} tokens")
        # The blank becomes n masks at slots position .. position+n-1.
        filled = input_ids[:position] + [tokenizer.mask_token_id] * n + input_ids[position + 1:]
        remaining = list(range(position, position + n))
        steps = []
        while remaining:
            probs, logprobs = distributions(filled, remaining)                     # (R, V) each
            wanted = [pieces[slot - position] for slot in remaining]              # the given piece per slot
            piece_lp = [float(logprobs[j, tid]) for j, tid in enumerate(wanted)]  # (R,)
            j = max(range(len(remaining)), key=piece_lp.__getitem__)              # most confident slot
            slot, tid = remaining[j], wanted[j]
            token, text = vocab.strings(tid)
            rank = int((probs[j] > probs[j, tid]).sum()) + 1
            steps.append(PieceStep(slot, slot - position, tid, token, text, float(probs[j, tid]), piece_lp[j], rank))
            filled[slot] = tid
            remaining.pop(j)
        total = float(sum(s.logprob for s in steps))
        results.append(CandidateScore(
            word=word, pieces=[vocab.strings(t)[0] for t in pieces], token_ids=list(pieces),
            method="single" if n == 1 else f"joint, most confident first, {n} passes",
            logprob=total, probability=math.exp(total), normalized_logprob=total / n,
            rank=steps[0].rank if n == 1 else None, steps=steps,
        ))
    return results


# ---------------------------------------------------------------------------------------------
# Searching fills of 1..max_pieces subwords


def variable_length_fill(lm, input_ids: list[int], position: int, *, max_pieces: int = 3, top: int = 5,
                         beam: int | None = None, temperature: float = 1.0) -> list[VariableFill]:
    """The `top` best fills of each length 1..max_pieces at the mask at `position`, all ranked
    by log-probability per piece (see the module doc). beam: None = `top`."""
    import torch

    _check(lm, input_ids, position, temperature)
    for name, value in (("max_pieces", max_pieces), ("top", top), ("beam", beam if beam is not None else 1)):
        if not (isinstance(value, int) and value >= 1):
            raise InputError(f"{name} {value!r}: use a whole number of at least 1")
    beam = max(beam or top, top)
    tokenizer = lm.tokenizer
    vocab = TokenStrings(tokenizer)
    mask_id = tokenizer.mask_token_id
    word_shape = _continuation_mask(tokenizer, lm.model.get_output_embeddings().weight.shape[0])   # (V,) or None
    fills: list[VariableFill] = []
    for n in range(1, max_pieces + 1):
        if len(input_ids) - 1 + n > lm.max_length:
            break
        # A beam state: (filled ids, still-masked slots, steps so far).
        states = [(input_ids[:position] + [mask_id] * n + input_ids[position + 1:], list(range(position, position + n)), [])]
        for _ in range(n):
            rows = torch.tensor([s[0] for s in states])                        # (S, L)
            slots = torch.tensor([s[1] for s in states])                       # (S, R): same R in every row
            logits = forward.mask_logits_rows(lm, rows, slots).cpu() / temperature   # (S, R, V)
            logprobs = torch.log_softmax(logits, dim=-1)                       # (S, R, V)
            pickable = logprobs.clone()
            pickable[..., _special_ids(tokenizer, logits.shape[-1])] = -math.inf   # never choose specials
            if word_shape is not None:                                           # one word: start, then continuations
                for r, slot in enumerate(states[0][1]):
                    pickable[:, r, word_shape if slot == position else ~word_shape] = -math.inf
            grown = []
            for s, (filled, remaining, steps) in enumerate(states):
                j = int(pickable[s].max(dim=-1).values.argmax())               # the most confident slot
                lp_top, ids_top = pickable[s, j].topk(beam)                    # (beam,) each
                for lp, tid in zip(lp_top.tolist(), ids_top.tolist()):
                    token, text = vocab.strings(tid)
                    step = PieceStep(remaining[j], remaining[j] - position, tid, token, text, math.exp(lp), lp,
                                     int((logprobs[s, j] > lp).sum()) + 1)
                    ids = list(filled)
                    ids[remaining[j]] = tid
                    grown.append((ids, remaining[:j] + remaining[j + 1:], steps + [step]))
            grown.sort(key=lambda st: -sum(x.logprob for x in st[2]))
            states = list({tuple(st[0]): st for st in reversed(grown)}.values())   # dedupe, keep the best
            states.sort(key=lambda st: -sum(x.logprob for x in st[2]))
            states = states[:beam]
        for filled, _, steps in states[:top]:
            piece_ids = filled[position:position + n]
            total = float(sum(x.logprob for x in steps))
            fills.append(VariableFill(
                text=_read(tokenizer, vocab, piece_ids), pieces=[vocab.strings(t)[0] for t in piece_ids],
                token_ids=piece_ids, n_pieces=n, logprob=total, probability=math.exp(total),
                normalized_logprob=total / n, steps=steps,
            ))
    fills.sort(key=lambda f: -f.normalized_logprob)
    return fills


# ---------------------------------------------------------------------------------------------
# Text in


def score_blank(lm, text: str, words: list[str], *, mask: int | None = None, temperature: float = 1.0,
                truncate: bool = False, max_pieces: int = 3, top: int = 5, beam: int | None = None) -> BlankScores:
    """Candidates and variable-length fills for one typed blank of `text`.

    mask: which blank (1 = the first); required when the text has several. words may be empty
    (fills only); max_pieces=0 skips the fills.
    """
    forward.require_encoder(lm, "candidate scoring")
    tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=truncate)
    blank = tt.tokens[forward.pick_blank(tt, mask, "the candidate words should go")]
    mask = 1 if mask is None else mask
    # A space before the blank (offsets may or may not include it, e.g. RoBERTa's lstrip <mask>).
    space_before = blank.start > 0 and (tt.text[blank.start - 1].isspace() or tt.text[blank.start].isspace())
    candidates = (score_candidates(lm, tt.input_ids, blank.index, words, temperature=temperature,
                                   space_before=space_before) if words else [])
    fills = (variable_length_fill(lm, tt.input_ids, blank.index, max_pieces=max_pieces, top=top, beam=beam,
                                  temperature=temperature) if max_pieces else [])
    return BlankScores(position=blank.index, mask=mask, candidates=candidates, fills=fills,
                       temperature=float(temperature))


# ---------------------------------------------------------------------------------------------
# Helpers


def _check(lm, input_ids: list[int], position: int, temperature: float) -> None:
    forward.require_encoder(lm, "candidate scoring")
    forward.check_ids(lm, input_ids)
    forward.check_position(position, len(input_ids), "mask position")
    if input_ids[position] != lm.tokenizer.mask_token_id:
        raise InputError(f"position {position} is not a mask: put [MASK] or ___ where the word should go")
    forward.check_temperature(temperature)


def _continuation_mask(tokenizer, vocab_size: int):
    """(V,) bool: True where the piece continues a word (WordPiece `##x`, BPE without `Ġ`, SentencePiece
    without `▁`); None when the tokenizer has no such notion. A fill of one blank is one word: its first
    piece starts a word and the others continue it (else "french french french" is a 3-piece "fill")."""
    import torch

    style = PieceStyle.of(tokenizer)
    if not (style.wordpiece_prefix or style.metaspace or style.byte_level):
        return None
    pieces = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    flags = [style.continues(p) if isinstance(p, str) else False for p in pieces]
    flags += [False] * (vocab_size - len(flags))                         # padded rows of the embedding matrix
    return torch.tensor(flags, dtype=torch.bool)


def _special_ids(tokenizer, vocab_size: int) -> list[int]:
    return sorted(i for i in set(tokenizer.all_special_ids) if 0 <= i < vocab_size)


def _read(tokenizer, vocab, ids: list[int]) -> str:
    """Pieces as a person reads them: the tokenizer's decode, or the display strings joined."""
    text = decode_text(tokenizer, ids)
    return text or " ".join(vocab.strings(t)[1] for t in ids)
