"""The K best joint fills of several masks, each scored by the masks' pseudo-log-likelihood.

A fill gives every mask one token. Its score is the PLL of the masked positions:

    PLL(fill) = sum over masks m of log p(fill_m at m | the text with the other masks filled)

(each term is one forward with only m masked), so a fill is judged by how well each of its
tokens fits the others, not by the order it was found in. Search:

- exact (up to 3 masks): every combination of each mask's top-N candidates (from the first
  pass, all masks masked). The scores need M * N^(M-1) rows, not M * N^M: for mask m, one row
  per combination of the *other* masks' candidates, with m masked; that row's distribution at
  m scores all N candidates of m at once. Rows are stacked into batched forwards.
- beam (more than 3 masks): a beam over the most-confident-first order (each state fills the
  slot where its best token is most probable, with its `beam` best tokens), then every fill
  left in the beam is rescored by the exact PLL and ranked by it.

Today's most-confident-first joint fill (`fill.fill_masks(joint=True)`) is scored the same way
and its tokens join the candidate lists, so the search always contains it: `greedy_rank` is its
exact rank among the fills searched, and `agrees` says whether it is the best one.

Multi-piece words: masks typed with nothing between them ("[MASK][MASK]") are one word
(`blank_words`): its first piece starts a word (when a space or the text's start comes
before it) and the others continue it (WordPiece `##x`, no `▁`/`Ġ`). A lone mask may be any
ordinary piece, as in fill_masks. Only the ordinary vocabulary is searched (no special, [unusedN],
sentinel or added token: MaskingVocab.replaceable). Every position to fill
is masked (a RANDOM / KEEP token of the masking engine is a blank here too).

Public API (results are dataclasses with `to_dict()`):

    kbest_fills(lm, input_ids, positions, *, k=5, top_n=None, beam=None, method="auto",
                words=None, shapes=None, temperature=1.0) -> KBestResult
    kbest_text(lm, text, *, k=5, top_n=None, beam=None, method="auto", temperature=1.0,
               truncate=False) -> KBestResult
    blank_words(tt, positions) -> list[list[int]]          # masks typed together: one word
    word_shapes(tt, words) -> {position: "start" | "continue"}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mlm_explorer.core.infer import forward
from mlm_explorer.core.infer.kbest_search import RowRunner, allowed_pieces, beam_search, exact_scores
from mlm_explorer.errors import InputError

EXACT_MAX_MASKS = 3          # above this many masks: beam search
AUTO_TOP_N = {1: 10, 2: 50, 3: 10}   # exact search: candidates per mask (rows: M * N^(M-1))
DEFAULT_BEAM = 8


@dataclass
class JointFill:
    token_ids: list[int]     # one per mask, by position
    tokens: list[str]        # vocabulary pieces ("##ing")
    texts: list[str]         # as read ("ing")
    words: list[str]         # one per blank word (several masks typed together: one word)
    logprobs: list[float]    # per mask: log p(token | the other masks filled), nats
    pll: float               # their sum: the ranking key
    decoded: str             # the text with the fill, special tokens dropped
    rank: int | None = None  # 1 = best among the fills searched

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class KBestResult:
    positions: list[int]             # the masks, sorted
    words: list[list[int]]           # the masks grouped into words
    method: str                      # "exact" | "beam"
    top_n: int | None                # exact: candidates per mask (first pass); beam: None
    beam: int | None                 # beam: width; exact: None
    searched: int                    # fills scored
    forward_rows: int                # sequences run through the encoder
    forward_passes: int              # batched forward calls
    fills: list[JointFill]           # the k best, best first
    greedy: JointFill                # the most-confident-first joint fill, scored by the same PLL
    greedy_rank: int | None          # its rank among the fills searched (None: outside, see note)
    agrees: bool                     # greedy is the best fill
    temperature: float = 1.0
    note: str = ""                   # e.g. why greedy is outside the search
    description: str = field(default="")   # one line: method, N, rows

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Words typed as several masks


def blank_words(tt, positions: list[int]) -> list[list[int]]:
    """Masks grouped into words: consecutive masks with no character between them are one word."""
    groups: list[list[int]] = []
    for p in sorted(positions):
        if groups and p == groups[-1][-1] + 1:
            prev, tok = tt.tokens[groups[-1][-1]], tt.tokens[p]
            if tok.start == prev.end and tok.start > 0:
                groups[-1].append(p)
                continue
        groups.append([p])
    return groups


def word_shapes(tt, words: list[list[int]]) -> dict[int, str]:
    """position -> "start" | "continue" for the pieces of multi-mask words (lone masks: no rule).

    The first piece starts a word when a space, the text's start or a special token comes
    before it, and continues the word typed right before it otherwise ("un[MASK][MASK]").
    """
    rules: dict[int, str] = {}
    for group in words:
        if len(group) < 2:
            continue
        first = group[0]
        tok = tt.tokens[first]
        before = tt.text[tok.start - 1] if tok.start > 0 else " "
        previous = tt.tokens[first - 1] if first > 0 else None
        attached = not before.isspace() and previous is not None and not previous.special
        rules[first] = "continue" if attached else "start"
        rules.update({p: "continue" for p in group[1:]})
    return rules


# ---------------------------------------------------------------------------------------------
# The search


def kbest_fills(lm, input_ids: list[int], positions: list[int], *, k: int = 5, top_n: int | None = None,
                beam: int | None = None, method: str = "auto", words: list[list[int]] | None = None,
                shapes: dict[int, str] | None = None, temperature: float = 1.0) -> KBestResult:
    """The `k` best joint fills of `positions` in `input_ids` by PLL (see the module doc).

    method: "auto" (exact up to EXACT_MAX_MASKS masks, beam above), "exact" or "beam".
    top_n: exact search's candidates per mask (default AUTO_TOP_N by the number of masks).
    beam: beam width (default DEFAULT_BEAM).
    words: the masks grouped into words (default: each mask its own word); shapes: which
        pieces must start / continue a word (`word_shapes`; default: the first piece of a
        multi-mask word starts it, the others continue it). `kbest_text` finds both in the text.
    """
    import torch

    from mlm_explorer.core.infer.fill import fill_masks

    _check(lm, input_ids, positions, k, top_n, beam, method, temperature)
    positions = sorted(set(int(p) for p in positions))
    M = len(positions)
    if method == "auto":
        method = "exact" if M <= EXACT_MAX_MASKS else "beam"
    if method == "exact" and M > EXACT_MAX_MASKS and top_n is None:
        raise InputError(f"exact search over {M} masks is too large; use beam search (leave the method on auto) "
                         f"or give --top-n")
    words = words or [[p] for p in positions]
    rules = shapes if shapes is not None else {
        g[i]: ("start" if i == 0 else "continue") for g in words if len(g) > 1 for i in range(len(g))}
    tokenizer = lm.tokenizer
    mask_id = tokenizer.mask_token_id
    masked = list(input_ids)
    for p in positions:
        masked[p] = mask_id
    base = torch.tensor(masked, dtype=torch.long)                                 # (L,)
    runner = RowRunner(lm, float(temperature))

    # 1. The first pass: every mask masked; each mask's allowed candidates.
    first = torch.log_softmax(forward.mask_logits(lm, masked, positions).cpu() / temperature, dim=-1)   # (M, V)
    runner.rows, runner.passes = 1, 1
    allowed = allowed_pieces(lm, first.shape[-1], positions, rules)                    # (M, V)
    pickable = first.masked_fill(~allowed, -math.inf)

    # 2. Today's most-confident-first joint fill, the baseline.
    greedy_ids = [s.token_id for s in sorted(
        fill_masks(lm, masked, positions, top_k=1, joint=True, temperature=temperature).steps,
        key=lambda s: s.position)]
    runner.passes += M
    runner.rows += M
    greedy_ok = all(bool(allowed[m, t]) for m, t in enumerate(greedy_ids))

    if method == "exact":
        n = top_n or AUTO_TOP_N.get(M, 10)
        n = max(n, k) if M == 1 else n
        cands = []
        for m in range(M):
            ids = pickable[m].topk(min(n, int(allowed[m].sum()))).indices.tolist()
            if greedy_ok and greedy_ids[m] not in ids:
                ids.append(greedy_ids[m])
            cands.append(ids)
        total = exact_scores(runner, base, positions, cands, mask_id)            # (N_1, ..., N_M)
        flat = total.flatten()
        best = flat.topk(min(k, flat.numel()))
        index_sets = [list(torch.unravel_index(torch.tensor(i), total.shape)) for i in best.indices.tolist()]
        fill_ids = [[cands[m][int(ix[m])] for m in range(M)] for ix in index_sets]
        searched, top, width = flat.numel(), n, None
        greedy_rank = None
        if greedy_ok:
            gi = tuple(cands[m].index(greedy_ids[m]) for m in range(M))
            greedy_rank = int((flat > total[gi]).sum()) + 1
    else:
        width = beam or DEFAULT_BEAM
        pool = beam_search(runner, base, positions, allowed, width, temperature)
        if greedy_ok and tuple(greedy_ids) not in pool:
            pool.append(tuple(greedy_ids))
        fills_t = torch.tensor(pool, dtype=torch.long)                              # (F, M)
        scores = runner.pll(base, positions, fills_t, mask_id).sum(1)               # (F,)
        order = scores.argsort(descending=True).tolist()
        fill_ids = [list(pool[i]) for i in order[:k]]
        searched, top = len(pool), None
        greedy_rank = order.index(pool.index(tuple(greedy_ids))) + 1 if greedy_ok else None

    # 3. Every shown fill (and the baseline) with its per-mask log p: one batched rescoring
    #    (not counted as search work).
    search_rows, search_passes = runner.rows, runner.passes
    shown = torch.tensor(fill_ids + [greedy_ids], dtype=torch.long)                 # (K+1, M)
    per_mask = runner.pll(base, positions, shown, mask_id)                          # (K+1, M)
    made = [_fill(lm, masked, positions, words, ids, per_mask[i].tolist()) for i, ids in enumerate(fill_ids)]
    for rank, f in enumerate(made, 1):
        f.rank = rank
    greedy = _fill(lm, masked, positions, words, greedy_ids, per_mask[-1].tolist())
    greedy.rank = greedy_rank
    agrees = bool(made) and made[0].token_ids == greedy.token_ids
    note = "" if greedy_ok else ("the most-confident-first fill uses a special token or breaks a multi-piece "
                                 "word, so it is outside the search")
    how = (f"exact over each mask's top {top} ({searched} fills)" if method == "exact"
           else f"beam {width}, most confident first, {searched} fills rescored by PLL")
    return KBestResult(
        positions=positions, words=[list(g) for g in words], method=method, top_n=top, beam=width,
        searched=int(searched), forward_rows=search_rows, forward_passes=search_passes, fills=made,
        greedy=greedy, greedy_rank=greedy_rank, agrees=agrees, temperature=float(temperature), note=note,
        description=f"{how}; {search_rows} rows in {search_passes} forward passes",
    )


def _fill(lm, masked: list[int], positions: list[int], words: list[list[int]], ids: list[int],
          logprobs: list[float]) -> JointFill:
    from mlm_explorer.core.mask.text import PieceStyle

    tokenizer = lm.tokenizer
    style = PieceStyle.of(tokenizer)
    pieces = [str(tokenizer.convert_ids_to_tokens(int(t))) for t in ids]
    filled = list(masked)
    for p, t in zip(positions, ids):
        filled[p] = int(t)
    at = {p: i for i, p in enumerate(positions)}
    # a word's pieces as read, joined: the pieces after the first continue it (word_shapes)
    word_texts = ["".join(style.display(pieces[at[p]]) for p in g) for g in words]
    decoded = tokenizer.decode(filled, skip_special_tokens=True, clean_up_tokenization_spaces=True).strip()
    return JointFill(token_ids=[int(t) for t in ids], tokens=pieces, texts=[style.display(p) for p in pieces],
                     words=word_texts, logprobs=[float(v) for v in logprobs], pll=float(sum(logprobs)),
                     decoded=decoded)


def _check(lm, input_ids, positions, k, top_n, beam, method, temperature) -> None:
    forward.require_encoder(lm, "a joint fill")
    forward.check_ids(lm, input_ids)
    for p in forward.require_masks(positions):
        forward.check_position(int(p), len(input_ids), "mask position")
    for name, value in (("--k-best", k), ("--top-n", top_n), ("--beam", beam)):
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise InputError(f"{name} {value!r}: use a whole number of at least 1")
    if method not in ("auto", "exact", "beam"):
        raise InputError(f"search method {method!r}: use auto, exact or beam")
    forward.check_temperature(temperature)


def kbest_text(lm, text: str, *, k: int = 5, top_n: int | None = None, beam: int | None = None,
               method: str = "auto", temperature: float = 1.0, truncate: bool = False) -> KBestResult:
    """Tokenize `text` and find the k best joint fills of its typed masks (words found in the text)."""
    from mlm_explorer.core.mask.text import tokenize

    forward.require_encoder(lm, "a joint fill")
    tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=truncate)
    positions = forward.typed_masks(tt)
    words = blank_words(tt, positions)
    return kbest_fills(lm, tt.input_ids, positions, k=k, top_n=top_n, beam=beam, method=method,
                       words=words, shapes=word_shapes(tt, words), temperature=temperature)
