"""Batched pseudo-log-likelihood against its anchors, measured in the same process, printed as ratios.

A sentence of 64 scored tokens (66 with [CLS] and [SEP]) on the bundled model (MiniLM-L6 encoder,
bert-base-uncased vocabulary):

(a) `score_ids` (64 masked copies stacked into (B, 66) rows, one forward per chunk, the MLM head at
    the masked positions only) vs 64 sequential single-mask forwards through the same encoder/head
    split (`fill.mask_logits`, one copy at a time): what batching buys
(a') the same vs 64 sequential plain `model(ids).logits` forwards, the head at every position, as a
    script would write it                                                                (no goal)
(b) `score_ids` vs ONE plain forward of the sentence: how many forward passes' worth of time a
    whole PLL costs (lower is better). The work is 64 sequences, so it cannot cost a handful of
    plain forwards on a CPU: the script prints the multiply-add count of both sides as well (the
    arithmetic floor of the ratio; the head runs at 64 positions instead of 66 x 64)    (no goal)
(c) `score_ids` at several batch sizes vs the default                                    (no goal)

Before timing, the batched PLL is checked against the sum of the 64 single-mask log-probs
(|difference| < 1e-4). Both sides use the same torch thread setting (`--threads N`, default 1).
Each time is the median of `--repeats` (default 7) alternating repeats after a warm-up; the last
column is the spread (25th-75th percentile) of the per-repeat ratio. `--clock cpu` times with the
thread's CPU clock (steadier when other jobs share the cores; exact with one thread).
Run: `python benchmarks/bench_score.py [--threads 1] [--clock cpu]`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mlm_explorer.core.infer.fill import mask_logits  # noqa: E402
from mlm_explorer.core.load.models import load_mlm  # noqa: E402
from mlm_explorer.core.infer.score import score_ids  # noqa: E402

N_TOKENS = 64
TEXT = ("The old lighthouse keeper climbed the narrow stairs every evening to light the lamp, "
        "while the fishing boats returned slowly to the harbour below. His daughter, who had "
        "studied engineering in the city, wanted to replace the lamp with an automatic beacon, "
        "but he refused because the work gave his days a shape and the sea a friend.")
CLOCK = time.perf_counter  # --clock cpu: time.thread_time


def _arg(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def timed_pair(ours, anchor, *, warmup=1, repeats=7):
    """Median seconds per call of `ours` and `anchor` in alternating repeats, and the per-repeat
    ratios anchor/ours."""
    for _ in range(warmup):
        ours(), anchor()
    samples = ([], [])
    for _ in range(repeats):
        for fn, out in ((ours, samples[0]), (anchor, samples[1])):
            t0 = CLOCK()
            fn()
            out.append(CLOCK() - t0)
    ratios = [a / o for o, a in zip(*samples)]
    return statistics.median(samples[0]), statistics.median(samples[1]), ratios


def main() -> None:
    global CLOCK
    torch.set_num_threads(int(_arg("--threads", "1")))
    repeats = int(_arg("--repeats", "7"))
    cpu_clock = _arg("--clock", "wall") == "cpu"
    CLOCK = time.thread_time if cpu_clock else time.perf_counter
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    lm = load_mlm(None, device="cpu")
    tok = lm.tokenizer
    body = tok(TEXT, add_special_tokens=False)["input_ids"][:N_TOKENS]
    assert len(body) == N_TOKENS, len(body)
    ids = [tok.cls_token_id, *body, tok.sep_token_id]                      # 66 tokens
    positions = list(range(1, N_TOKENS + 1))

    def sequential_split():   # the anchor: one masked copy per forward, head at that position only
        total = 0.0
        for i in positions:
            copy = list(ids)
            copy[i] = tok.mask_token_id
            total += float(torch.log_softmax(mask_logits(lm, copy, [i])[0], -1)[ids[i]])
        return total

    def sequential_plain():   # a plain script: full forward per copy, head at every position
        total = 0.0
        with torch.inference_mode():
            for i in positions:
                copy = torch.tensor([ids])
                copy[0, i] = tok.mask_token_id
                total += float(torch.log_softmax(lm.model(input_ids=copy).logits[0, i].float(), -1)[ids[i]])
        return total

    def one_forward():
        with torch.inference_mode():
            return lm.model(input_ids=torch.tensor([ids])).logits

    ours = lambda: score_ids(lm, ids, pll="original")  # noqa: E731  (the anchors mask one token per copy)
    result = ours()
    diff = abs(result.pll - sequential_split())
    assert diff < 1e-4, diff

    rows = []   # (claim, ours_s, anchor_s, ratio, (p25, p75))

    def add(claim, fn_ours, fn_anchor, *, cost=False):
        o, a, ratios = timed_pair(fn_ours, fn_anchor, repeats=repeats)
        if cost:   # how many anchors' worth ours costs
            ratio, ratios = o / a, [1 / r for r in ratios]
        else:
            ratio = a / o
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio, ratio, ratio]
        rows.append((claim, o, a, ratio, (q[0], q[2])))

    add("(a) batched PLL vs 64 sequential single-mask forwards", ours, sequential_split)
    add("(a') batched PLL vs 64 sequential plain model(ids) forwards", ours, sequential_plain)
    add("(b) batched PLL / ONE plain forward: forward passes' worth", ours, one_forward, cost=True)
    for b in (1, 8, 64):
        add(f"(c) batch size {b} vs default ({result.batch_size})", ours,
            lambda b=b: score_ids(lm, ids, batch_size=b, pll="original"))

    load = ""
    if load_before is not None:
        load = f", load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores{load}; "
          f"bundled model, {len(ids)} tokens ({N_TOKENS} scored); default batch {result.batch_size} copies "
          f"-> {result.forward_passes} forward call(s); median of {repeats} alternating repeats, "
          f"{'thread CPU time' if cpu_clock else 'wall clock'}; |PLL batched - sequential| = {diff:.1e}")
    print(f"{'claim':<66} {'ours':>9} {'anchor':>9} {'ratio':>7} {'p25-p75':>11}")
    for claim, o, a, ratio, (lo, hi) in rows:
        print(f"{claim:<66} {o * 1e3:>7.1f}ms {a * 1e3:>7.1f}ms {ratio:>6.1f}x {f'{lo:.1f}-{hi:.1f}x':>11}")
    pll_macs, forward_macs = multiply_adds(lm.model.config, len(ids), N_TOKENS)
    print(f"multiply-adds: batched PLL {pll_macs / 1e9:.1f} G, one plain forward {forward_macs / 1e9:.2f} G: "
          f"the arithmetic ratio for (b) is {pll_macs / forward_macs:.1f}x")


def multiply_adds(config, length: int, scored: int) -> tuple[float, float]:
    """(batched PLL, one plain forward) multiply-adds of a BERT-shaped model: per layer and token
    4 H^2 (attention projections) + 2 H I (feed-forward) + 2 L H (scores and mixing); the head
    H^2 + H V per position it runs at."""
    h, i, v, layers = config.hidden_size, config.intermediate_size, config.vocab_size, config.num_hidden_layers
    encoder = layers * (4 * h * h + 2 * h * i + 2 * length * h) * length   # one sequence
    head = h * h + h * v                                                     # one position
    return scored * encoder + scored * head, encoder + length * head


if __name__ == "__main__":
    main()
