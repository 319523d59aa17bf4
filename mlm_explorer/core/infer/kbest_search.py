"""The search behind `kbest.kbest_fills`: batched forwards of masked rows, the exact PLL of every
combination of candidates, and the most-confident-first beam (the module doc of kbest.py says
what each computes and why an exact search needs M * N^(M-1) rows)."""

from __future__ import annotations

import itertools
import math

from mlm_explorer.core.infer import forward

ROWS_TOKENS = 2048           # about this many tokens per batched forward


class RowRunner:
    """Batched forwards of masked rows; counts what it ran."""

    def __init__(self, lm, temperature: float):
        self.lm, self.temperature = lm, temperature
        self.rows = self.passes = 0

    def logprobs(self, rows, where):
        """rows (R, L) long, where (R,) long -> log-probabilities (R, V) at each row's `where`."""
        import torch

        chunk = max(1, ROWS_TOKENS // rows.shape[1])
        out = []
        for s in range(0, rows.shape[0], chunk):
            logits = forward.mask_logits_rows(self.lm, rows[s:s + chunk], where[s:s + chunk].unsqueeze(1))[:, 0].cpu()
            out.append(torch.log_softmax(logits / self.temperature, dim=-1))   # (B, V)
            self.passes += 1
        self.rows += rows.shape[0]
        return torch.cat(out)                                                   # (R, V)

    def pll(self, base, positions: list[int], fills, mask_id: int):
        """Per-mask log p of each fill: base (L,), fills (F, M) -> (F, M); one row per (fill, mask)."""
        import torch

        F, M = fills.shape
        pos = torch.tensor(positions)
        rows = base.repeat(F * M, 1)                                  # (F*M, L): row f*M + m
        rows[:, pos] = fills.repeat_interleave(M, dim=0)              # every mask filled ...
        which = pos.repeat(F)                                         # (F*M,) ... except mask m
        rows[torch.arange(F * M), which] = mask_id
        lp = self.logprobs(rows, which)                               # (F*M, V)
        return lp.gather(1, fills.reshape(-1, 1)).reshape(F, M)


def allowed_pieces(lm, width: int, positions: list[int], rules: dict[int, str]):
    """(M, V) bool: which tokens each mask may take: the ordinary vocabulary (MaskingVocab.replaceable:
    no special, [unusedN], sentinel or added token), and the word shape in multi-mask words."""
    import torch

    from mlm_explorer.core.mask.masking import MaskingVocab

    vocab = MaskingVocab.from_tokenizer(lm.tokenizer)
    ordinary = torch.zeros(width, dtype=torch.bool)
    ordinary[vocab.replaceable[vocab.replaceable < width]] = True
    allowed = ordinary.repeat(len(positions), 1)
    if rules:
        cont = vocab.continuation[:width]
        cont = torch.cat([cont, torch.zeros(width - len(cont), dtype=torch.bool)])  # padded embedding rows
        style_known = bool(cont.any())
        for m, p in enumerate(positions):
            if style_known and rules.get(p) == "start":
                allowed[m] &= ~cont
            elif style_known and rules.get(p) == "continue":
                allowed[m] &= cont
    return allowed


def exact_scores(runner: RowRunner, base, positions: list[int], cands: list[list[int]], mask_id: int):
    """PLL of every combination of the candidates: a tensor (N_1, ..., N_M).

    For mask m, one row per combination of the other masks' candidates (m masked); that row's
    log-probabilities at m, read at m's candidates, give the m-th term for all N_m at once.
    """
    import torch

    M = len(positions)
    sizes = [len(c) for c in cands]
    total = torch.zeros(sizes)
    for m in range(M):
        others = [j for j in range(M) if j != m]
        combos = list(itertools.product(*[cands[j] for j in others])) or [()]
        rows = base.repeat(len(combos), 1)                                          # (R, L)
        if others:
            rows[:, [positions[j] for j in others]] = torch.tensor(combos, dtype=torch.long)
        where = torch.full((len(combos),), positions[m], dtype=torch.long)
        lp = runner.logprobs(rows, where)[:, cands[m]]                              # (R, N_m)
        term = lp.reshape([sizes[j] for j in others] + [sizes[m]]).movedim(-1, m)   # (N_1, ..., N_M)
        total += term
    return total


def beam_search(runner: RowRunner, base, positions: list[int], allowed, width: int, temperature: float) -> list[tuple]:
    """Complete fills left in a most-confident-first beam (their order of discovery is not kept)."""
    import torch

    M = len(positions)
    states = [({}, 0.0)]                              # (position -> token, sum of log p when filled)
    for _ in range(M):
        rows, where = [], []
        for filled, _ in states:
            ids = base.clone()
            for p, t in filled.items():
                ids[p] = t
            rows.append(ids)
            where.append([p for p in positions if p not in filled])
        rows_t = torch.stack(rows)                                                    # (S, L)
        where_t = torch.tensor(where, dtype=torch.long)                               # (S, R)
        logits = forward.mask_logits_rows(runner.lm, rows_t, where_t).cpu() / temperature     # (S, R, V)
        runner.rows += len(rows)
        runner.passes += 1
        lp = torch.log_softmax(logits, dim=-1)
        grown = []
        for s, (filled, score) in enumerate(states):
            slot_idx = [positions.index(p) for p in where[s]]
            masked_lp = lp[s].masked_fill(~allowed[slot_idx], -math.inf)             # (R, V)
            j = int(masked_lp.max(dim=-1).values.argmax())                           # the most confident slot
            values, ids = masked_lp[j].topk(width)
            for v, t in zip(values.tolist(), ids.tolist()):
                if math.isfinite(v):
                    grown.append(({**filled, where[s][j]: t}, score + v))
        grown.sort(key=lambda st: -st[1])
        seen, states = set(), []
        for filled, score in grown:
            key = tuple(sorted(filled.items()))
            if key not in seen:
                seen.add(key)
                states.append((filled, score))
            if len(states) == width:
                break
    return [tuple(filled[p] for p in positions) for filled, _ in states]
