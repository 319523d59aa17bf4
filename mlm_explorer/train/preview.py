"""`--dry-run`: what a run would train on and what it would cost, without training.

Everything up to the first step happens for real (files read and reported, tokens cached,
blocks packed, hold-out chosen, model loaded), then:

    samples   the first SAMPLES blocks of step 1, corrupted exactly as step 1 will corrupt
              them: the same blocks (the loop's seeded order) and the same masks (a
              generator seeded like the loop's), through the objective, so through
              core/mask/masking.py (mlm, mlm+nsp), core/mask/spans.py (span) or
              core/mask/infilling.py (infill)
    estimate  real optimizer steps on this device, timed: one warm-up step, then steps
              until MEASURE_S seconds or MEASURE_STEPS steps (a warm-up step slower than
              MEASURE_S is the measure itself); plus one evaluation of a
              batch of held-out blocks, scaled to the evaluations the run will make.
              Checkpoint writes are not counted.

Nothing is written: no run directory, no run.json (the token and extraction caches are
filled, so the real run starts at once). The model the steps changed is thrown away.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from mlm_explorer.core.mask.decision import Decision

SAMPLES = 3
MEASURE_S = 8.0
MEASURE_STEPS = 3


def _mlm_sample(tokenizer, row_ids: list[int], corrupted: list[int], decisions: list[int], style) -> dict:
    special = set(tokenizer.all_special_ids)
    pieces = tokenizer.convert_ids_to_tokens(row_ids)
    tokens = []
    for i, (tid, piece) in enumerate(zip(row_ids, pieces)):
        d = Decision(decisions[i])
        t = {"text": piece if tid in special else style.display(piece), "decision": d.label,
             "joins": tid not in special and i > 0 and row_ids[i - 1] not in special and style.continues(piece)}
        if tid in special:
            t["special"] = True
        if d == Decision.RANDOM:
            t["shown"] = style.display(tokenizer.convert_ids_to_tokens(corrupted[i]))
        tokens.append(t)
    counts = {name: sum(t["decision"] == name for t in tokens) for name in ("mask", "random", "keep")}
    return {"tokens": tokens, "counts": counts}


def samples(loop, tokenizer, objective, seed: int, n: int = SAMPLES) -> list[dict]:
    """The first `n` blocks of step 1, as step 1 will corrupt them."""
    from mlm_explorer.core.mask.text import PieceStyle

    blocks = loop.step_blocks(0)  # this rank's blocks of the first step, on the device
    gen = torch.Generator(device=loop.rt.device).manual_seed(seed + loop.rt.rank)  # as Loop seeds its own
    out = []
    if objective.name in ("span", "infill"):   # encoder-decoders: the corrupted input and the target text
        batch = objective.corrupt(blocks, gen)
        for r in range(min(n, batch["input_ids"].shape[0])):
            x = batch["input_ids"][r][batch["attention_mask"][r].bool()].tolist()
            y = [t for t in batch["labels"][r].tolist() if t != -100]
            out.append({"input": tokenizer.decode(x, skip_special_tokens=False),
                        "target": tokenizer.decode(y, skip_special_tokens=False)})
        return out
    batch = objective.corrupt(blocks, gen, decisions=True)
    style = PieceStyle.of(tokenizer)
    for r in range(min(n, batch["input_ids"].shape[0])):
        length = int(blocks["lengths"][r])
        sample = _mlm_sample(tokenizer, blocks["input_ids"][r, :length].tolist(),
                             batch["input_ids"][r, :length].tolist(), batch["decisions"][r, :length].tolist(), style)
        if "next_sentence_label" in blocks:
            sample["is_next"] = int(blocks["next_sentence_label"][r]) == 0  # BERT: 0 = B follows A
        out.append(sample)
    return out


def estimate(loop, args, rt) -> dict:
    """Seconds for the run's steps and evaluations on this device, from real steps."""
    device = rt.describe()["device_name"] if rt.cuda else f"cpu ({rt.threads} thread(s))"
    if loop.max_steps is None:  # only a time budget: that is the time
        return {"device": device, "steps": None, "total_s": args.time_budget * 60}
    t0 = time.perf_counter()
    loop.train_step(0.0)  # warm-up: allocation, first kernels
    warm_s = time.perf_counter() - t0
    measured, t0 = 0, time.perf_counter()
    while warm_s < MEASURE_S and measured < MEASURE_STEPS and (measured == 0 or time.perf_counter() - t0 < MEASURE_S):
        loop.train_step(0.0)
        measured += 1
    if rt.cuda:
        torch.cuda.synchronize(rt.device)
    # a slow first step is measure enough (a little pessimistic: it includes the warm-up)
    step_s = (time.perf_counter() - t0) / measured if measured else warm_s
    measured = measured or 1
    # evaluations: every --eval-every steps and at the end; one batch of held-out blocks is timed
    n_eval = min(len(loop.data.eval_blocks), args.max_eval_blocks)
    probe = max(1, min(n_eval, loop.micro * 2))
    real_args, loop.args = loop.args, argparse.Namespace(**{**vars(args), "max_eval_blocks": probe})
    t1 = time.perf_counter()
    loop.evaluate()
    loop.args = real_args
    per_eval = (time.perf_counter() - t1) * n_eval / probe
    evals = loop.max_steps // args.eval_every + (1 if loop.max_steps % args.eval_every else 0)
    return {"device": device, "steps": loop.max_steps, "step_s": step_s, "measured_steps": measured,
            "eval_s": per_eval * evals, "evaluations": evals,
            "total_s": step_s * loop.max_steps + per_eval * evals}


def preview(loop, args, tm, rt, data) -> dict:
    """The `preview` event's fields: the data report, the hold-out, samples, the estimate."""
    shown = samples(loop, tm.tokenizer, data.objective, args.seed)  # before the timed steps move the generator
    return {"data": data.summary, "samples": shown, "estimate": estimate(loop, args, rt),
            "objective": tm.objective, "max_steps": loop.max_steps, "steps_per_epoch": loop.steps_per_epoch,
            "batch_size": args.batch_size, "math": _explain(loop, args)}


def _explain(loop, args) -> str:
    epochs = loop.max_steps / loop.steps_per_epoch if loop.max_steps else None
    return (f"{loop.steps_per_epoch} step(s) per epoch of {args.batch_size} blocks"
            + (f"; {loop.max_steps} step(s) = {epochs:.2f} epoch(s)" if epochs is not None else "")
            + (f"; eval every {args.eval_every}" if loop.max_steps and loop.max_steps > args.eval_every else ""))


