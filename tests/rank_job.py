"""The training job under torchrun, with what the tests need to see or break on given ranks.

    torchrun ... tests/rank_job.py [job options]

Environment (all optional):
    RANK_JOB_RECORD=DIR     each rank writes DIR/rank-R.json: its world size, its token-cache
                            hits and misses, a fingerprint of each step's masks (labels) and
                            of the first step's dropout mask
    RANK_JOB_FAIL=R:S:KIND  rank R raises at the start of step S: KIND "oom" (a CUDA
                            out-of-memory error) or "crash" (RuntimeError("boom on rank R"))
    RANK_JOB_STALL=R:S      rank R sleeps at the start of step S (as if stuck in a collective)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _fingerprint(t) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _rank_step(name: str):
    value = os.environ.get(name)
    if not value:
        return None
    parts = value.split(":")
    return int(parts[0]), int(parts[1]), (parts[2] if len(parts) > 2 else None)


def instrument() -> None:
    import faulthandler

    faulthandler.dump_traceback_later(240, exit=True)  # a hang shows where it hangs, then ends
    import torch

    from mlm_explorer.train.data import dataset
    from mlm_explorer.train.loop import Loop

    rank = int(os.environ.get("RANK", 0))
    record_dir = os.environ.get("RANK_JOB_RECORD")
    fail, stall = _rank_step("RANK_JOB_FAIL"), _rank_step("RANK_JOB_STALL")
    seen = {"world": int(os.environ.get("WORLD_SIZE", 1)), "masks": {}, "dropout": None}
    original_step, original_init, original_prepare = Loop.train_step, Loop.__init__, dataset.prepare

    def write() -> None:
        if record_dir:
            Path(record_dir).mkdir(parents=True, exist_ok=True)
            (Path(record_dir) / f"rank-{rank}.json").write_text(json.dumps(seen))

    def init(self, *a, **k):
        original_init(self, *a, **k)
        dropouts = [m for m in self.model.modules() if isinstance(m, torch.nn.Dropout) and m.p > 0]
        if dropouts:
            def hook(module, inputs, output):
                if seen["dropout"] is None and module.training:
                    seen["dropout"] = _fingerprint(output == 0)
            dropouts[0].register_forward_hook(hook)
        corrupt = self.obj.corrupt

        def recorded(blocks, generator):
            batch = corrupt(blocks, generator)
            seen["masks"][str(self.step + 1)] = _fingerprint(batch["labels"])
            return batch
        self.obj.corrupt = recorded

    def train_step(self, elapsed):
        step = self.step + 1
        if stall and stall[0] == rank and stall[1] == step:
            time.sleep(120)
        if fail and fail[0] == rank and fail[1] == step:
            write()
            if fail[2] == "oom":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            raise RuntimeError(f"boom on rank {rank}")
        out = original_step(self, elapsed)
        write()
        return out

    def prepare(*a, **k):
        data = original_prepare(*a, **k)
        seen["cache"] = {key: data.summary["cache"][key] for key in ("hits", "misses")}
        return data

    Loop.__init__, Loop.train_step, dataset.prepare = init, train_step, prepare


if __name__ == "__main__":
    instrument()
    from mlm_explorer.train.job import main

    sys.exit(main())
