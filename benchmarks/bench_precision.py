"""Training tokens per second: `--precision bf16` against `--precision fp32`, our job both times.

Same job (`python -m mlm_explorer.train`, in-process), same model (the bundled encoder as a
BertForMaskedLM), same text, batch, block size, threads and seed; only the precision differs.
bf16 autocast runs the matmuls in bf16 (oneDNN on the CPU) while parameters, optimizer state and
checkpoints stay float32. On a CPU it pays only where the CPU computes bf16 natively
(AVX512-BF16 or AMX); the results say whether this one does. Also recorded: the loss after the
last step of each, so a speed-up that broke the training would show. Each round runs both, in
alternating order; throughput from the end of step 1 to the end of the last step.

    python benchmarks/bench_precision.py [--steps 10] [--batch-size 32] [--train-params head+top:2]
                                         [--threads 1] [--rounds 3] [--device cuda]

Writes benchmarks/results/precision.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import add_size_arguments, job_argv, settle_defaults  # noqa: E402
from benchkit.options import command_line, gpu_name, select_device  # noqa: E402
from benchkit.results import Results  # noqa: E402
from benchkit.training import run_our_job, workspace  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(ap, steps=10, batch_size=32)
    ap.add_argument("--train-params", default="head+top:2", help="as the bundled model's recipe (or: all)")
    args = ap.parse_args(argv)
    device = select_device(args)
    settle_defaults(args)
    from mlm_explorer.train.runtime import cpu_has_native_bf16

    native = cpu_has_native_bf16() if device.type == "cpu" else None
    shape = f"{args.batch_size}x{args.block_size}"
    figure = "tokens_per_cpu_s" if args.clock == "cpu" else "tokens_per_s"
    results = Results("precision", script=__file__, command=command_line(__file__), device=device.type,
                      gpu=gpu_name(device), settings={"steps": args.steps, "batch_size": args.batch_size,
                                                      "block_size": args.block_size, "threads": args.threads,
                                                      "train_params": args.train_params, "native_bf16": native,
                                                      "rounds": args.rounds})
    where = f"{args.threads} thread{'s' if args.threads > 1 else ''}" if device.type == "cpu" else str(device)
    results.claim("bf16", title=f"training tokens/s with `--precision bf16` (bundled encoder, `--train-params "
                                f"{args.train_params}`, {where})",
                  anchor="the same job with `--precision fp32`", goal=None)
    with workspace(args.text_bytes, args.model_size) as (work, size, model_dir):
        print(f"model: {args.model_size}, --train-params {args.train_params}; text {size / 1e3:.0f} kB; batch {shape}, "
              f"{args.steps} steps, {where}; native bf16 on this CPU: {native}", flush=True)
        losses: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for r in range(1, args.rounds + 1):
            runs = {}
            for p in (("fp32", "bf16") if r % 2 else ("bf16", "fp32")):  # alternate, so drifting load hits both
                run = job_argv(model_dir, work / "corpus", args, work / f"{p}-{r}", p) + ["--train-params", args.train_params]
                runs[p] = run_our_job(run, cuda=device.type == "cuda")
                losses[p].append(runs[p]["loss"])
                print(f"round {r}: {runs[p]['precision']:<14} {runs[p]['tokens_per_s']:8.0f} tokens/s "
                      f"({runs[p]['tokens_per_cpu_s']:.0f} per CPU s), loss after step {args.steps} "
                      f"{runs[p]['loss']:.3f}", flush=True)
            ratio = runs["bf16"][figure] / runs["fp32"][figure]
            results.add("bf16", shape, r, ratio, bf16_tokens_per_s=runs["bf16"]["tokens_per_s"],
                        fp32_tokens_per_s=runs["fp32"]["tokens_per_s"], bf16_loss=runs["bf16"]["loss"],
                        fp32_loss=runs["fp32"]["loss"])
            print(f"round {r}: bf16 / fp32 = {ratio:.2f}x", flush=True)
    rows = results.rows("bf16")
    span = lambda key: f"{min(x[key] for x in rows):,.0f}–{max(x[key] for x in rows):,.0f}"  # noqa: E731
    cpu_note = f" on a CPU {'with' if native else 'without'} native bf16" if device.type == "cpu" else ""
    results.note("bf16", f"{span('bf16_tokens_per_s')} vs {span('fp32_tokens_per_s')} tokens/s{cpu_note}; loss after "
                         f"{args.steps} steps {losses['bf16'][-1]:.3f} vs {losses['fp32'][-1]:.3f}")
    path = results.write(args.results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
