"""Training tokens per second on the CPU: `--precision bf16` against `--precision fp32`.

Same job (`python -m mlm_explorer.train`, in-process), same model (the bundled encoder as a
BertForMaskedLM), same text, batch, block size, threads and seed; only the precision differs.
bf16 autocast runs the matmuls in bf16 (oneDNN) while parameters, optimizer state and
checkpoints stay float32. It pays only on a CPU that computes bf16 natively (AVX512-BF16 or
AMX); the script says whether this one does. Also printed: the loss after the last step of
each, so a speed-up that broke the training would show.

    python benchmarks/bench_precision.py [--steps 10] [--batch-size 32] [--train-params head+top:2]
                                         [--threads N] [--rounds 2]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import add_size_arguments, workspace  # noqa: E402


def run_job(model_dir: Path, corpus: Path, args, out: Path, precision: str) -> dict:
    from mlm_explorer.train.job import main

    buf = io.StringIO()
    rc = main([str(corpus), "--model", str(model_dir), "--max-steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--block-size", str(args.block_size),
               "--threads", str(args.threads), "--train-params", args.train_params, "--precision", precision,
               "--eval-every", "100000", "--save-every", "100000", "--log-every", "1", "--lr", "1e-4",
               "--seed", "0", "--output", str(out)], stdout=buf)
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    if rc != 0:
        raise SystemExit(f"the job failed ({precision}): {events[-1]}")
    started = next(e for e in events if e["event"] == "started")
    steps = [e for e in events if e["event"] == "step"]
    seconds = steps[-1]["time"] - steps[0]["time"]  # from the end of step 1: start-up excluded
    tokens = steps[-1]["tokens"] - steps[0]["tokens"]
    return {"tokens_per_s": tokens / seconds, "loss": steps[-1]["loss"], "precision": started["precision"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(ap, steps=10, batch_size=32)
    ap.add_argument("--train-params", default="head+top:2", help="as the bundled model's recipe (or: all)")
    args = ap.parse_args()
    from mlm_explorer.train.runtime import cpu_has_native_bf16

    with workspace(args.text_bytes) as (work, size, model_dir):
        print(f"model: bundled encoder, --train-params {args.train_params}; text {size / 1e3:.0f} kB; "
              f"batch {args.batch_size} x {args.block_size}, {args.steps} steps, {args.threads} thread(s); "
              f"native bf16 on this CPU: {cpu_has_native_bf16()}", flush=True)
        best: dict[str, dict] = {}
        for r in range(args.rounds):  # interleaved, so both see the same machine load
            for precision in ("fp32", "bf16"):
                res = run_job(model_dir, work / "corpus", args, work / f"{precision}-{r}", precision)
                print(f"round {r + 1}: {res['precision']:<14} {res['tokens_per_s']:8.0f} tokens/s, "
                      f"loss after step {args.steps} {res['loss']:.3f}", flush=True)
                if precision not in best or res["tokens_per_s"] > best[precision]["tokens_per_s"]:
                    best[precision] = res
        ratio = best["bf16"]["tokens_per_s"] / best["fp32"]["tokens_per_s"]
        print(f"ratio (bf16 / fp32 tokens per second, best of rounds): {ratio:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
