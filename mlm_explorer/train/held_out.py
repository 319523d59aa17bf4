"""The job's evaluation on its held-out blocks: loss, perplexity, masked-token top-1 accuracy.

The same masks every time (a generator seeded once per evaluation, from the run's seed), so two
evaluations differ only by the weights; eval mode while it runs (no dropout), train mode after.
"""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def evaluate_held_out(model, objective, blocks, batches, rt, *, max_blocks: int, size: int, seed: int, step: int) -> dict:
    """-> {step, loss, perplexity, accuracy, masked_tokens} (+ the NSP figures under mlm+nsp).

    blocks: the held-out token blocks; batches: the loop's Batches (gather, to_device);
    size: blocks per forward pass."""
    model.eval()
    n = min(len(blocks), max_blocks)
    gen = torch.Generator(device=rt.device).manual_seed(seed + 1_000_003)
    sums: dict[str, float] = {}
    for s in range(0, n, size):
        rows = batches.gather(blocks, torch.arange(s, min(n, s + size)))
        batch = objective.corrupt(batches.to_device(rows), gen)
        with rt.autocast():
            out = objective.module(**objective.module_inputs(batch))
        counts = objective.counts(batch)
        if "nsp_sum" in out:
            out["nsp_n"] = counts["nsp_n"]
        out["mlm_n"] = (batch["labels"] != -100).sum()
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v)
    model.train()
    masked = int(sums.get("mlm_n", 0.0))
    mlm_n = max(1.0, masked)
    loss = sums.get("mlm_sum", 0.0) / mlm_n
    result = {"step": step, "loss": loss, "perplexity": math.exp(min(loss, 50.0)),
              "accuracy": sums.get("mlm_correct", 0.0) / mlm_n, "masked_tokens": masked}
    if "nsp_sum" in sums:
        nsp_n = max(1.0, sums["nsp_n"])
        result.update(mlm_loss=loss, nsp_loss=sums["nsp_sum"] / nsp_n, nsp_accuracy=sums["nsp_correct"] / nsp_n)
        result["loss"] = loss + result["nsp_loss"]
    return result
