"""Sentence score: pseudo-log-likelihood (PLL) with per-token surprisal, in two variants.

For each scored token i (every non-special token; typed blanks stay masks and are not scored)
the sequence is copied with token i replaced by the mask token, and the model's log-probability
of the true token at i is read. Which other tokens are masked in that copy is the variant:

    original   (Salazar et al. 2020)  only i:                       log p(w_i | w_-i)
    word-l2r   (Kauf & Ivanova 2023)  i and the later pieces of i's word; the earlier pieces
               stay visible:          log p(w_i | w_<i of its word, the other words)

The original PLL inflates multi-piece words: "un ##believ ##able" is scored with two of its
three pieces in view, so the word looks easy. word-l2r (the default) scores a word left to
right, as a chain rule over its pieces. For a one-piece word both are the same.

The copies are stacked into chunks of `batch_size` rows (B, L), one forward per chunk, with the
MLM head run only at each row's scored position (`forward.mask_logits_rows`). So a sentence of N
tokens costs ceil(N / B) forward calls, not N (the work is still N sequences; see
benchmarks/bench_score.py for the times).

    PLL                = sum_i log p(w_i | context of the variant)   (nats, <= 0)
    surprisal_i        = -log p(w_i | ...)                          (nats; bits = nats / ln 2)
    pseudo-perplexity  = exp(-PLL / N)

Public API (all results are dataclasses with `to_dict()`):

    score_text(lm, text, *, truncate=False, batch_size=None, pll="word-l2r") -> SentenceScore
    score_ids(lm, input_ids, *, positions=None, batch_size=None, pll="word-l2r",
              word_ids=None) -> SentenceScore

`SentenceScore.tokens[j].position` is the token's index in the input ids, the same as
`text.Token.index`, so a view can colour its token chips by `surprisal`. `words` sums the
surprisal of each word's pieces (with word-l2r: the word's log-probability by the chain rule
over its pieces). `pll_variant` names the variant in every result. The model runs under
`torch.inference_mode()`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mlm_explorer.core.infer import forward
from mlm_explorer.core.mask.text import TokenStrings, tokenize
from mlm_explorer.errors import InputError, ModelError

PLL_VARIANTS = ("original", "word-l2r")
DEFAULT_PLL = "word-l2r"
PLL_NAMES = {"original": "original PLL (each token masked alone)",
             "word-l2r": "PLL-word-l2r (a token and the rest of its word masked)"}
TOKENS_PER_FORWARD = 2048   # batch_size=None: about this many tokens per forward, in even chunks
# (CPU, bundled model, 66 tokens: 8 to 64 copies per forward cost the same; 1 costs 2x: bench_score.py)


@dataclass
class TokenScore:
    position: int          # index in the input ids (= text.Token.index)
    token_id: int
    token: str             # the vocabulary piece as is ("##ing")
    text: str              # as a person reads it ("ing")
    word: int | None       # word index in the text (score_text), else None
    logprob: float         # log p(true token | the rest), nats
    surprisal: float       # -logprob, nats
    surprisal_bits: float  # -logprob / ln 2
    probability: float     # exp(logprob)
    rank: int              # of the true token in that distribution; 1 = the model's first choice
    top_id: int            # the model's first choice at this position
    top_text: str


@dataclass
class WordScore:
    word: int              # word index in the text
    text: str              # the word as typed
    positions: list[int]   # its pieces' indices in the input ids
    logprob: float         # sum of its pieces' log-probabilities (word-l2r: the word's chain rule)
    surprisal: float       # -logprob, nats


@dataclass
class SentenceScore:
    input_ids: list[int]
    tokens: list[TokenScore]     # the scored tokens, by position
    pll: float                   # pseudo-log-likelihood: sum of tokens' logprob, nats
    pseudo_perplexity: float     # exp(-pll / n_tokens)
    pll_variant: str             # "original" | "word-l2r" (PLL_VARIANTS)
    mean_surprisal: float        # -pll / n_tokens, nats per token
    n_tokens: int                # tokens scored
    batch_size: int              # masked copies per forward (at most n_tokens)
    forward_passes: int          # forward calls run: ceil(n_tokens / batch_size)
    text: str | None = None      # as tokenized (score_text), else None
    truncated: bool = False
    words: list[WordScore] = field(default_factory=list)   # score_text only

    def to_dict(self) -> dict:
        return asdict(self)


def word_ids_of(tokenizer, input_ids: list[int]) -> list[int | None]:
    """Word index per position from the pieces alone (a continuation piece joins the word before
    it; special tokens and the mask token belong to no word). `core.text.tokenize` knows the
    words of a typed text better (its offsets); this is for ids without a text."""
    from mlm_explorer.core.mask.text import PieceStyle

    style = PieceStyle.of(tokenizer)
    skip = set(tokenizer.all_special_ids) | {tokenizer.mask_token_id}
    pieces = tokenizer.convert_ids_to_tokens(list(input_ids))
    out: list[int | None] = []
    word = -1
    previous_in_word = False
    for tid, piece in zip(input_ids, pieces):
        if tid in skip:
            out.append(None)
            previous_in_word = False
            continue
        if not (previous_in_word and style.continues(str(piece))):
            word += 1
        out.append(word)
        previous_in_word = True
    return out


def _masked_copies(where, word, variant: str):
    """(B, L) bool: what copy b masks to score position where[b] (word (L,) long: word per position, -1: none)."""
    import torch

    cols = torch.arange(word.shape[0]).unsqueeze(0)                                    # (1, L)
    own = cols == where.unsqueeze(1)                                       # (B, L): the scored token
    if variant == "original":
        return own
    w = word[where].unsqueeze(1)                                           # (B, 1) its word
    later_same_word = (cols > where.unsqueeze(1)) & (word.unsqueeze(0) == w) & (w >= 0)
    return own | later_same_word                                           # word-l2r


def score_ids(lm, input_ids: list[int], *, positions: list[int] | None = None,
              batch_size: int | None = None, pll: str = DEFAULT_PLL,
              word_ids: list[int | None] | None = None) -> SentenceScore:
    """Pseudo-log-likelihood of one encoded sequence.

    input_ids: the sequence with its special tokens, used as given.
    positions: which tokens to score (default: every token that is neither a special token nor
        the mask token).
    batch_size: masked copies per forward (default: about TOKENS_PER_FORWARD tokens per forward,
        split into even chunks).
        The result does not depend on it beyond float rounding.
    pll: "word-l2r" (default) or "original" (see the module doc).
    word_ids: word index per position (None: no word), for word-l2r; default `word_ids_of`.
    """
    import torch

    forward.require_encoder(lm, "scoring")
    forward.check_ids(lm, input_ids)
    if pll not in PLL_VARIANTS:
        raise InputError(f"--pll {pll!r}: use {' or '.join(PLL_VARIANTS)}")
    if batch_size is not None and not (isinstance(batch_size, int) and batch_size >= 1):
        raise InputError(f"--batch-size {batch_size!r}: use a whole number of at least 1")
    tokenizer = lm.tokenizer
    mask_id = tokenizer.mask_token_id
    if mask_id is None:
        raise ModelError(f"'{lm.name}' has no mask token; a pseudo-log-likelihood needs an encoder MLM")
    if positions is None:
        skip = set(tokenizer.all_special_ids) | {mask_id}
        positions = [i for i, t in enumerate(input_ids) if t not in skip]
    positions = sorted(set(int(p) for p in positions))
    if not positions:
        raise InputError("nothing to score: the text has no ordinary tokens (only special tokens or blanks)")
    if positions[0] < 0 or positions[-1] >= len(input_ids):
        raise InputError(f"positions must lie inside the text (0..{len(input_ids) - 1})")
    length = len(input_ids)
    rows_per_forward = batch_size or max(1, TOKENS_PER_FORWARD // length)
    if batch_size is None:   # even chunks: 64 copies, at most 31 a forward -> 22+21+21, not 31+31+2
        chunks = -(-len(positions) // rows_per_forward)
        rows_per_forward = -(-len(positions) // chunks)

    base = torch.tensor(input_ids, dtype=torch.long)                      # (L,)
    if word_ids is None:
        word_ids = word_ids_of(tokenizer, input_ids) if pll == "word-l2r" else [None] * length
    if len(word_ids) != length:
        raise InputError(f"word_ids has {len(word_ids)} entries for {length} tokens")
    word = torch.tensor([-1 if w is None else int(w) for w in word_ids], dtype=torch.long)   # (L,)
    where_all = torch.tensor(positions, dtype=torch.long)                  # (N,)
    true_all = base[where_all]                                             # (N,)
    logprob, rank, top = [], [], []
    passes = 0
    for start in range(0, len(positions), rows_per_forward):
        where = where_all[start:start + rows_per_forward]                  # (B,)
        rows = base.repeat(len(where), 1)                                  # (B, L): one copy per scored token
        rows[_masked_copies(where, word, pll)] = mask_id             # copy b masks its token (+ the variant's)
        logits = forward.mask_logits_rows(lm, rows, where.unsqueeze(1))[:, 0].cpu()  # (B, V)
        passes += 1
        logp = torch.log_softmax(logits, dim=-1)                           # (B, V)
        true = true_all[start:start + len(where)]                          # (B,)
        lp_true = logp.gather(1, true.unsqueeze(1))                        # (B, 1)
        logprob += lp_true[:, 0].tolist()
        rank += ((logp > lp_true).sum(dim=1) + 1).tolist()                 # (B,): 1 = first choice
        top += logp.argmax(dim=1).tolist()                                 # (B,)

    vocab = TokenStrings(tokenizer)
    tokens = []
    for pos, lp, r, top_id in zip(positions, logprob, rank, top):
        piece, text = vocab.strings(input_ids[pos])
        tokens.append(TokenScore(
            position=pos, token_id=int(input_ids[pos]), token=piece, text=text, word=None,
            logprob=lp, surprisal=-lp, surprisal_bits=-lp / math.log(2), probability=math.exp(lp),
            rank=int(r), top_id=int(top_id), top_text=vocab.strings(top_id)[1],
        ))
    total = float(sum(logprob))
    n = len(tokens)
    return SentenceScore(
        input_ids=list(input_ids), tokens=tokens, pll=total, pseudo_perplexity=math.exp(-total / n), pll_variant=pll,
        mean_surprisal=-total / n, n_tokens=n, batch_size=min(rows_per_forward, n), forward_passes=passes,
    )


def score_text(lm, text: str, *, truncate: bool = False, batch_size: int | None = None,
               pll: str = DEFAULT_PLL) -> SentenceScore:
    """Tokenize `text` (special tokens added) and score it with `score_ids`, with word totals.

    Typed blanks ([MASK], ___) stay masked in every copy and are not scored. The words are the
    tokenizer's (`core.text.tokenize`).
    """
    forward.require_encoder(lm, "scoring")
    tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=truncate)
    positions = [t.index for t in tt.tokens if t.maskable and not t.typed_mask]
    if not positions:
        raise InputError("nothing to score: the text has no words (only blanks or special tokens)")
    words = [None if t.typed_mask else t.word for t in tt.tokens]
    result = score_ids(lm, tt.input_ids, positions=positions, batch_size=batch_size, pll=pll, word_ids=words)
    by_position = {t.index: t for t in tt.tokens}
    for ts in result.tokens:
        ts.word = by_position[ts.position].word
    groups: dict[int, list[TokenScore]] = {}
    for ts in result.tokens:
        if ts.word is not None:
            groups.setdefault(ts.word, []).append(ts)
    for word, scores in groups.items():
        first, last = by_position[scores[0].position], by_position[scores[-1].position]
        lp = float(sum(s.logprob for s in scores))
        result.words.append(WordScore(word=word, text=tt.text[first.start:last.end],
                                      positions=[s.position for s in scores], logprob=lp, surprisal=-lp))
    result.text = tt.text
    result.truncated = tt.truncated
    return result

