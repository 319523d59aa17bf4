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
(|difference| < 1e-4; 2% under bf16 autocast). Both sides use the same torch thread setting
(`--threads N`, default 1). In each round every time is the median of `--repeats` (default 7)
alternating repeats after a warm-up. `--clock cpu` times with the thread's CPU clock (steadier
when other jobs share the cores; exact with one thread); `--device cuda`: the model on the GPU,
bf16 autocast on both sides, CUDA-event timing.

    python benchmarks/bench_score.py [--threads 1] [--clock cpu] [--rounds 3] [--device cuda]

Writes benchmarks/results/score.json.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from benchkit.flops import encoder_macs_per_token, head_macs_per_position  # noqa: E402
from benchkit.options import add_common_options, autocast, clock_for, command_line, gpu_name, select_device  # noqa: E402
from benchkit.results import Results  # noqa: E402
from benchkit.timing import quartiles, timed_pair  # noqa: E402
from mlm_explorer.core.infer.fill import mask_logits  # noqa: E402
from mlm_explorer.core.infer.score import score_ids  # noqa: E402
from mlm_explorer.core.load.models import load_mlm  # noqa: E402

N_TOKENS = 64
TEXT = ("The old lighthouse keeper climbed the narrow stairs every evening to light the lamp, "
        "while the fishing boats returned slowly to the harbour below. His daughter, who had "
        "studied engineering in the city, wanted to replace the lamp with an automatic beacon, "
        "but he refused because the work gave his days a shape and the sea a friend.")
CLAIMS = {
    "a": {"title": "pseudo-log-likelihood of a 64-token sentence, batched", "unit": "x",
          "anchor": "64 sequential single-mask forwards through the same encoder/head split", "goal": None},
    "a'": {"title": "pseudo-log-likelihood, batched", "unit": "x",
           "anchor": "64 sequential plain `model(ids).logits` forwards (the head at every position)", "goal": None},
    "b": {"title": "pseudo-log-likelihood's cost, in plain forwards of the sentence (lower is better)", "unit": "x",
          "anchor": "ONE plain forward of the sentence", "goal": None},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(ap)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    device = select_device(args)
    torch.set_num_threads(args.threads)
    clock = clock_for(args)

    lm = load_mlm(None, device=device.type)
    tok = lm.tokenizer
    body = tok(TEXT, add_special_tokens=False)["input_ids"][:N_TOKENS]
    assert len(body) == N_TOKENS, len(body)
    ids = [tok.cls_token_id, *body, tok.sep_token_id]                      # 66 tokens
    positions = list(range(1, N_TOKENS + 1))

    def sequential_split():   # the anchor: one masked copy per forward, head at that position only
        total = 0.0
        with autocast(device):
            for i in positions:
                copy = list(ids)
                copy[i] = tok.mask_token_id
                total += float(torch.log_softmax(mask_logits(lm, copy, [i])[0].float(), -1)[ids[i]])
        return total

    def sequential_plain():   # a plain script: full forward per copy, head at every position
        total = 0.0
        with torch.inference_mode(), autocast(device):
            for i in positions:
                copy = torch.tensor([ids], device=lm.device)
                copy[0, i] = tok.mask_token_id
                total += float(torch.log_softmax(lm.model(input_ids=copy).logits[0, i].float(), -1)[ids[i]])
        return total

    def one_forward():
        with torch.inference_mode(), autocast(device):
            return lm.model(input_ids=torch.tensor([ids], device=lm.device)).logits

    def ours(batch_size=None):   # the original PLL: the anchors mask one token per copy
        with autocast(device):
            return score_ids(lm, ids, batch_size=batch_size, pll="original")

    result = ours()
    diff = abs(result.pll - sequential_split())
    assert diff < (1e-4 if device.type == "cpu" else 0.02 * abs(result.pll)), diff

    results = Results("score", script=__file__, command=command_line(__file__), device=device.type, gpu=gpu_name(device),
                      settings={"threads": torch.get_num_threads(), "repeats": args.repeats, "clock": clock.label,
                                "tokens": len(ids), "scored": N_TOKENS, "default_batch": result.batch_size,
                                "forward_calls": result.forward_passes, "pll_difference": diff, "rounds": args.rounds})
    for cid, claim in CLAIMS.items():
        results.claim(cid, **claim)
    work = {"a": (ours, sequential_split), "a'": (ours, sequential_plain), "b": (ours, one_forward)}
    titles = {cid: claim["title"] for cid, claim in CLAIMS.items()}
    for b in (1, 8, 64):
        cid = f"c{b}"
        titles[cid] = f"pseudo-log-likelihood, the default batch against batches of {b} masked copies"
        results.claim(cid, title=titles[cid], unit="x", anchor=f"batches of {b} (the default: {result.batch_size})",
                      goal=None)
        work[cid] = (ours, lambda b=b: ours(b))
    shape = f"{len(ids)} tokens"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores, load average "
          f"{results.data['machine']['load_average_before']}; {device}; bundled model, {len(ids)} tokens "
          f"({N_TOKENS} scored); default batch {result.batch_size} copies -> {result.forward_passes} forward call(s); "
          f"|PLL batched - sequential| = {diff:.1e}; {clock.label}", flush=True)
    for r in range(1, args.rounds + 1):
        for cid, (fn_ours, fn_anchor) in work.items():
            o, a, ratios = timed_pair(fn_ours, fn_anchor, clock, warmup=1, repeats=args.repeats, min_time=0)
            cost = cid == "b"  # how many anchors' worth ours costs
            value = o / a if cost else a / o
            lo, hi = quartiles([1 / x for x in ratios] if cost else ratios)
            results.add(cid, shape, r, value, ours_ms=o * 1e3, anchor_ms=a * 1e3, p25=lo, p75=hi)
            print(f"round {r} ({cid:<3}) {titles[cid][:60]:<60} "
                  f"{o * 1e3:>7.1f}ms {a * 1e3:>7.1f}ms {value:>6.2f}x {f'{lo:.1f}-{hi:.1f}x':>11}", flush=True)
    pll_macs, forward_macs = multiply_adds(lm.model.config, len(ids), N_TOKENS)
    results.figure("multiply_adds", {"batched_pll": pll_macs, "one_forward": forward_macs})
    results.note("b", f"the arithmetic floor is {pll_macs / forward_macs:.0f}x: exact PLL is {N_TOKENS} sequences of "
                      f"compute ({pll_macs / 1e9:.1f} G multiply-adds vs {forward_macs / 1e9:.2f} G for one forward)")
    print(f"multiply-adds: batched PLL {pll_macs / 1e9:.1f} G, one plain forward {forward_macs / 1e9:.2f} G: "
          f"the arithmetic ratio for (b) is {pll_macs / forward_macs:.1f}x")
    path = results.write(args.results)
    print(f"wrote {path}")
    return 0


def multiply_adds(config, length: int, scored: int) -> tuple[float, float]:
    """(batched PLL, one plain forward) multiply-adds of a BERT-shaped model (benchkit/flops.py):
    `scored` sequences through the encoder with the head at one position each, against one
    sequence with the head at every position."""
    encoder = encoder_macs_per_token(config.num_hidden_layers, config.hidden_size, config.intermediate_size,
                                     length) * length  # one sequence
    head = head_macs_per_position(config.hidden_size, config.vocab_size)  # one position
    return scored * encoder + scored * head, encoder + length * head


if __name__ == "__main__":
    sys.exit(main())
