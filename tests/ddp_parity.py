"""Under torchrun (2+ CPU processes): the gradient of a DDP step, each rank holding an uneven
share of a batch, equals the gradient of the whole batch in one process - with the loss
normalised as train/loop.py does (masked-token counts summed over ranks, times the world size
against DDP's averaging). Also the naive per-rank normalisation, to show it differs.

    torchrun --nproc_per_node 2 tests/ddp_parity.py MODEL_DIR OUT_JSON
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def grads(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main(model_dir: str, out: str) -> None:
    import faulthandler

    faulthandler.dump_traceback_later(200, exit=True)  # a hang shows where it hangs, then ends
    from transformers import AutoTokenizer, BertForMaskedLM

    from mlm_explorer.train.objectives import MLMObjective
    from mlm_explorer.train.runtime import Runtime, wrap_module

    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    rt = Runtime(torch.device("cpu"), rank, world)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def fresh():
        model = BertForMaskedLM.from_pretrained(model_dir)
        model.eval()  # no dropout: the two sides must compute the same function
        return model, MLMObjective(model, tokenizer, device=rt.device)

    # the same batch on every rank: 5 rows, rows 0-2 densely masked, rows 3-4 sparsely
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tokenizer), (5, 12), generator=gen)
    labels = torch.full_like(ids, -100)
    for row, every in ((0, 2), (1, 2), (2, 2), (3, 6), (4, 6)):
        labels[row, ::every] = ids[row, ::every]
    batch = {"input_ids": ids, "labels": labels}

    # one process, the whole batch: the reference
    model, obj = fresh()
    sums = obj.module(**obj.module_inputs(batch))
    obj.loss(sums, obj.counts(batch)).backward()
    reference = grads(model)

    # this rank's share, as the loop takes it (rows rank, rank + world, ...)
    share = {k: v[rank::world] for k, v in batch.items()}
    results = {}
    for name, global_counts in (("loop", True), ("per_rank", False)):
        model, obj = fresh()
        module, ddp = wrap_module(obj.module, rt, compile=False)
        counts = obj.counts(share, rt if global_counts else None)
        loss = obj.loss(module(**obj.module_inputs(share)), counts) * (world if global_counts else 1)
        loss.backward()
        results[name] = float((grads(model) - reference).abs().max() / reference.abs().max())
        del module, ddp  # DDP goes before its process group (as the job's Loop.close does)
        gc.collect()
    if rank == 0:
        Path(out).write_text(json.dumps(results))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
