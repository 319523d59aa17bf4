"""Sentence score: pseudo-log-likelihood (PLL) with per-token surprisal.

For each scored token i (every non-special token; typed blanks stay masks and are not scored)
the sequence is copied with token i replaced by the mask token, and the model's log-probability
of the true token at i is read: log p(w_i | w_-i). The copies are stacked into chunks of
`batch_size` rows (B, L), one forward per chunk, with the MLM head run only at each row's masked
position (`forward.mask_logits_rows`). So a sentence of N tokens costs ceil(N / B) forward calls,
not N (the work is still N sequences; see benchmarks/bench_score.py for the times).

    PLL                = sum_i log p(w_i | w_-i)                 (nats, <= 0)
    surprisal_i        = -log p(w_i | w_-i)                      (nats; bits = nats / ln 2)
    pseudo-perplexity  = exp(-PLL / N)

Public API (all results are dataclasses with `to_dict()`):

    score_text(lm, text, *, truncate=False, batch_size=None) -> SentenceScore
    score_ids(lm, input_ids, *, positions=None, batch_size=None) -> SentenceScore

`SentenceScore.tokens[j].position` is the token's index in the input ids, the same as
`text.Token.index`, so a view can colour its token chips by `surprisal`. `words` sums the
surprisal of each word's pieces (each piece masked alone: the word-level PLL, not a joint
probability). The model runs under `torch.inference_mode()`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mlm_explorer.core.infer import forward
from mlm_explorer.core.mask.text import TokenStrings, tokenize
from mlm_explorer.errors import InputError, ModelError

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
    logprob: float         # sum of its pieces' log-probabilities (each masked alone)
    surprisal: float       # -logprob, nats


@dataclass
class SentenceScore:
    input_ids: list[int]
    tokens: list[TokenScore]     # the scored tokens, by position
    pll: float                   # pseudo-log-likelihood: sum of tokens' logprob, nats
    pseudo_perplexity: float     # exp(-pll / n_tokens)
    mean_surprisal: float        # -pll / n_tokens, nats per token
    n_tokens: int                # tokens scored
    batch_size: int              # masked copies per forward (at most n_tokens)
    forward_passes: int          # forward calls run: ceil(n_tokens / batch_size)
    text: str | None = None      # as tokenized (score_text), else None
    truncated: bool = False
    words: list[WordScore] = field(default_factory=list)   # score_text only

    def to_dict(self) -> dict:
        return asdict(self)


def score_ids(lm, input_ids: list[int], *, positions: list[int] | None = None,
              batch_size: int | None = None) -> SentenceScore:
    """Pseudo-log-likelihood of one encoded sequence.

    input_ids: the sequence with its special tokens, used as given.
    positions: which tokens to score (default: every token that is neither a special token nor
        the mask token).
    batch_size: masked copies per forward (default: about TOKENS_PER_FORWARD tokens per forward,
        split into even chunks).
        The result does not depend on it beyond float rounding.
    """
    import torch

    forward.require_encoder(lm, "scoring")
    forward.check_ids(lm, input_ids)
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
    where_all = torch.tensor(positions, dtype=torch.long)                  # (N,)
    true_all = base[where_all]                                             # (N,)
    logprob, rank, top = [], [], []
    passes = 0
    for start in range(0, len(positions), rows_per_forward):
        where = where_all[start:start + rows_per_forward]                  # (B,)
        rows = base.repeat(len(where), 1)                                  # (B, L): one copy per scored token
        rows[torch.arange(len(where)), where] = mask_id                    # copy b masks its own token
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
    pll = float(sum(logprob))
    n = len(tokens)
    return SentenceScore(
        input_ids=list(input_ids), tokens=tokens, pll=pll, pseudo_perplexity=math.exp(-pll / n),
        mean_surprisal=-pll / n, n_tokens=n, batch_size=min(rows_per_forward, n), forward_passes=passes,
    )


def score_text(lm, text: str, *, truncate: bool = False, batch_size: int | None = None) -> SentenceScore:
    """Tokenize `text` (special tokens added) and score it with `score_ids`, with word totals.

    Typed blanks ([MASK], ___) stay masked in every copy and are not scored.
    """
    forward.require_encoder(lm, "scoring")
    tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=truncate)
    positions = [t.index for t in tt.tokens if t.maskable and not t.typed_mask]
    if not positions:
        raise InputError("nothing to score: the text has no words (only blanks or special tokens)")
    result = score_ids(lm, tt.input_ids, positions=positions, batch_size=batch_size)
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

