"""Training tokens per second: our loop against Hugging Face Trainer + DataCollatorForLanguageModeling.

Same model (a BertForMaskedLM: the bundled encoder, all-MiniLM-L6-v2's 6 layers, hidden 384,
vocabulary 30522; or with `--model-size base` BERT-base's shape), same text (local licence and
doc files), same batch size, block size, precision, device and number of CPU threads, same process.

    anchor   run_mlm.py's recipe: tokenise, concatenate, `group_texts` blocks, Trainer with
             DataCollatorForLanguageModeling (dynamic 80/10/10 masking in the data loader),
             the full MLM head over every position, Trainer's default optimizer
    ours     `python -m mlm_explorer.train` (in-process): packed blocks, masking on the device
             inside the loop, the sparse MLM head, fused AdamW

Each round trains both sides for `--steps` steps, in alternating order (HF first in odd rounds),
once per precision (`--precision fp32,bf16`: bf16 autocast on both sides; the default leaves bf16
out on a CPU without native bf16, where it is emulated); throughput from the
end of the first step to the end of the last, on the wall clock and in process CPU time
(`--clock cpu` makes the CPU time the claim's figure: steadier when other jobs share the cores).
Also measured: the share of our step time spent preparing data (the step's blocks, to the
device) and masking. Where a round misses the goal, the results keep a cProfile profile of our
step. `--device cuda`: BERT-base at block 128 by default, CUDA timing (synchronised step
stamps), and model FLOPs utilisation printed (benchkit/flops.py; `--peak-tflops` for a GPU the
table does not know). `--compile` (with `--device cuda`) also runs our job with `--compile` in
every round and records its tokens/s and its speed-up over our eager step (the first step,
where it compiles, is not timed; the dynamic batch and masked dimensions need no recompile).

    python benchmarks/bench_train.py [--steps 8] [--batch-size 16] [--threads 1] [--rounds 3]
                                     [--precision fp32[,bf16]] [--device cuda] [--compile]

Needs `accelerate` (the Trainer does): the [bench] extra. Writes benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit.options import add_common_options, command_line, fail, gpu_name, select_device  # noqa: E402
from benchkit.results import Results  # noqa: E402
from benchkit.training import StepClock, run_our_job, workspace  # noqa: E402

GOAL = {"op": ">=", "value": 2.0}


def add_size_arguments(ap: argparse.ArgumentParser, *, steps: int, batch_size: int | None) -> None:
    """The options both training benchmarks take."""
    add_common_options(ap)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch-size", type=int, default=batch_size, help="default 16 on the CPU, 32 on a GPU")
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads, both sides (default 1)")
    ap.add_argument("--text-bytes", type=int, default=600_000)
    ap.add_argument("--model-size", choices=("bundled", "base"), default=None,
                    help="bundled (default on the CPU) or base (BERT-base's shape, the default on a GPU)")


def settle_defaults(args) -> None:
    cuda = args.device == "cuda"
    args.batch_size = args.batch_size or (32 if cuda else 16)
    args.model_size = args.model_size or ("base" if cuda else "bundled")


def job_argv(model_dir: Path, corpus: Path, args, out: Path, precision: str, *, compile: bool = False) -> list[str]:
    return [str(corpus), "--model", str(model_dir), "--max-steps", str(args.steps), "--batch-size", str(args.batch_size),
            "--block-size", str(args.block_size), "--threads", str(args.threads), "--precision", precision,
            "--device", args.device, "--eval-every", "100000", "--save-every", "100000", "--log-every", "1",
            "--lr", "5e-5", "--seed", "0", "--output", str(out), *(["--compile"] if compile else [])]


def bench_trainer(model_dir: Path, corpus: Path, args, work: Path, precision: str) -> dict:
    import time

    import torch
    from transformers import (AutoTokenizer, BertForMaskedLM, DataCollatorForLanguageModeling, Trainer,
                              TrainerCallback, TrainingArguments)

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # run_mlm.py: tokenize every line (special tokens added per line), concatenate, group_texts
    lines = [line for p in sorted(corpus.iterdir()) for line in p.read_text(errors="replace").splitlines() if line.strip()]
    ids = tokenizer(lines, return_special_tokens_mask=True)
    concat = {k: sum(ids[k], []) for k in ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask")}
    n = (len(concat["input_ids"]) // args.block_size) * args.block_size  # group_texts drops the tail
    examples = [{k: v[i:i + args.block_size] for k, v in concat.items()} for i in range(0, n, args.block_size)]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    cuda = args.device == "cuda"
    clock, spent = StepClock(cuda), {"data": 0.0}

    def timed_collate(batch):
        t = time.perf_counter()
        out = collator(batch)
        spent["data"] += time.perf_counter() - t
        return out

    class Clock(TrainerCallback):
        def on_step_end(self, targs, state, control, **kw):
            clock.stamp()
            if len(clock.marks) == 1:
                spent["data"] = 0.0  # count from the end of the first step, like ours

    torch.set_num_threads(args.threads)
    model = BertForMaskedLM.from_pretrained(model_dir)
    targs = TrainingArguments(output_dir=str(work / "hf"), per_device_train_batch_size=args.batch_size,
                              max_steps=args.steps, learning_rate=5e-5, weight_decay=0.01, warmup_steps=0,
                              logging_steps=10**6, save_strategy="no", report_to=[], use_cpu=not cuda,
                              bf16=precision == "bf16", dataloader_num_workers=0, disable_tqdm=True, seed=0,
                              dataloader_pin_memory=cuda)
    trainer = Trainer(model=model, args=targs, train_dataset=examples, data_collator=timed_collate, callbacks=[Clock()])
    trainer.train()
    out = clock.rates(args.batch_size * args.block_size)  # group_texts blocks are full: every token is real
    out.update(data_share=spent["data"] / out["seconds"], optimizer=str(targs.optim).split(".")[-1].lower())
    return out


def flops_figures(model_dir: Path, args, tokens_per_s: float, head_fraction: float) -> dict:
    """Model FLOPs per token and MFU of a side (on a GPU whose peak is known)."""
    from transformers import AutoConfig

    from benchkit.flops import mfu, peak_flops, training_flops_per_token

    config = AutoConfig.from_pretrained(model_dir)
    per_token = training_flops_per_token(config, args.block_size, head_fraction)
    peak = peak_flops(gpu_name(args.device), args.peak_tflops) if args.device == "cuda" else None
    return {"flops_per_token": per_token, "tflops_per_s": tokens_per_s * per_token / 1e12,
            "mfu": mfu(tokens_per_s, per_token, peak)}


def default_precisions(device) -> str:
    """fp32 and bf16 where bf16 is native (a GPU, or a CPU with AVX512-BF16/AMX), else fp32 only."""
    if device.type == "cuda":
        return "fp32,bf16"
    from mlm_explorer.train.runtime import cpu_has_native_bf16

    return "fp32,bf16" if cpu_has_native_bf16() else "fp32"


def flops_ceiling(model_dir: Path, args) -> float:
    """Training FLOPs per token of the anchor (the MLM head at every position) over ours (the
    head at the ~15% masked positions): what the sparse head alone can buy when the step is
    compute-bound, as on a CPU."""
    from transformers import AutoConfig

    from benchkit.flops import training_flops_per_token

    config = AutoConfig.from_pretrained(model_dir)
    return training_flops_per_token(config, args.block_size, 1.0) / training_flops_per_token(config, args.block_size, 0.15)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(ap, steps=8, batch_size=None)
    ap.add_argument("--precision", default=None,
                    help="comma-separated: fp32, bf16 (autocast); default fp32,bf16 on a GPU or a CPU with native "
                         "bf16, else fp32 (emulated bf16 is several times slower: bench_precision.py measures it)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the GPU's peak dense bf16 TFLOPs/s for MFU")
    ap.add_argument("--compile", action="store_true", help="also time our job with --compile (needs --device cuda)")
    args = ap.parse_args(argv)
    if args.compile and args.device != "cuda":
        fail("--compile needs --device cuda (the training job compiles on a GPU only)")
    device = select_device(args)
    settle_defaults(args)
    precisions = default_precisions(device).split(",") if args.precision is None else args.precision.split(",")
    if not set(precisions) <= {"fp32", "bf16"}:
        fail(f"--precision takes fp32 and/or bf16, got {args.precision!r}")
    if args.steps < 3:
        fail("--steps must be at least 3 (the first step is not timed)")
    import torch

    shape = f"{args.batch_size}x{args.block_size}"
    figure = "tokens_per_cpu_s" if args.clock == "cpu" else "tokens_per_s"
    results = Results("train", script=__file__, command=command_line(__file__), device=device.type, gpu=gpu_name(device),
                      settings={"steps": args.steps, "batch_size": args.batch_size, "block_size": args.block_size,
                                "threads": args.threads, "model_size": args.model_size, "rounds": args.rounds,
                                "clock": "process CPU time" if args.clock == "cpu" else "wall clock"})
    model_name = {"bundled": "bundled 6-layer encoder", "base": "BERT-base shape"}[args.model_size]
    threads = f", {args.threads} thread{'s' if args.threads > 1 else ''}" if device.type == "cpu" else ""
    for p in precisions:
        results.claim(p, title=f"training tokens/s, {'fp32' if p == 'fp32' else 'bf16 autocast'} ({model_name}{threads})",
                      anchor="HF `Trainer` + `DataCollatorForLanguageModeling`, run_mlm.py's recipe, same "
                             "model, data, batch and precision", goal=GOAL)
    with workspace(args.text_bytes, args.model_size) as (work, size, model_dir):
        print(f"model: {model_name} as BertForMaskedLM; text: {size / 1e3:.0f} kB of local licence/doc files; "
              f"batch {shape}, {args.steps} steps, {args.threads} CPU thread(s), {device}, torch {torch.__version__}; "
              f"load average {results.data['machine']['load_average_before']}", flush=True)
        shares: dict[str, list[float]] = {}
        for r in range(1, args.rounds + 1):
            for p in precisions:
                sides = {}
                order = ("hf", "ours") if r % 2 else ("ours", "hf")  # alternate, so drifting load hits both
                for side in order:
                    if side == "hf":
                        sides[side] = bench_trainer(model_dir, work / "corpus", args, work, p)
                    else:
                        sides[side] = run_our_job(job_argv(model_dir, work / "corpus", args, work / f"r{r}-{p}", p),
                                                  cuda=device.type == "cuda")
                hf, ours = sides["hf"], sides["ours"]
                ratio = ours[figure] / hf[figure]
                extra = {}
                if args.compile:  # the same job compiled (runtime.wrap_module: DDP first, then torch.compile)
                    compiled = run_our_job(job_argv(model_dir, work / "corpus", args, work / f"r{r}-{p}-compiled", p,
                                                    compile=True), cuda=True)
                    extra.update(ours_compiled_tokens_per_s=compiled["tokens_per_s"],
                                 compile_speedup=compiled["tokens_per_s"] / ours["tokens_per_s"])
                if device.type == "cuda":
                    extra.update({"hf_" + k: v for k, v in flops_figures(model_dir, args, hf["tokens_per_s"], 1.0).items()})
                    masked = 0.15  # the sparse head's share of positions
                    extra.update({"ours_" + k: v for k, v in
                                  flops_figures(model_dir, args, ours["tokens_per_s"], masked).items()})
                ok = results.add(p, shape, r, ratio, ours_tokens_per_s=ours["tokens_per_s"],
                                 hf_tokens_per_s=hf["tokens_per_s"], ours_tokens_per_cpu_s=ours["tokens_per_cpu_s"],
                                 hf_tokens_per_cpu_s=hf["tokens_per_cpu_s"], ours_data_share=ours.get("data_share", 0),
                                 ours_masking_share=ours.get("masking_share", 0), hf_data_share=hf["data_share"],
                                 ours_loss=ours["loss"], hf_optimizer=hf["optimizer"], order=list(order), **extra)
                shares.setdefault(p, []).append(ours.get("data_share", 0) + ours.get("masking_share", 0))
                mfu = ""
                if device.type == "cuda":
                    mfu = (f"; model TFLOPs/s ours {extra['ours_tflops_per_s']:.1f}, HF {extra['hf_tflops_per_s']:.1f}"
                           if extra.get("ours_mfu") is None else
                           f"; MFU ours {100 * extra['ours_mfu']:.0f}%, HF {100 * extra['hf_mfu']:.0f}%")
                if args.compile:
                    mfu += (f"; ours with --compile {extra['ours_compiled_tokens_per_s']:.0f} tokens/s "
                            f"({extra['compile_speedup']:.2f}x eager)")
                print(f"round {r} {p}: HF Trainer ({hf['optimizer']}) {hf['tokens_per_s']:7.0f} tokens/s "
                      f"({hf['tokens_per_cpu_s']:.0f} per CPU s), data + masking {100 * hf['data_share']:.2f}%; "
                      f"ours {ours['tokens_per_s']:7.0f} tokens/s ({ours['tokens_per_cpu_s']:.0f} per CPU s), "
                      f"data {100 * ours.get('data_share', 0):.2f}% + masking {100 * ours.get('masking_share', 0):.2f}%"
                      f" of step time; ratio {ratio:.2f}x {'ok' if ok else 'MISSED'}{mfu}", flush=True)
        ceiling = flops_ceiling(model_dir, args)
        results.figure("flops_ratio_full_head_over_sparse_head", ceiling)
        for p in precisions:
            rows = results.rows(p)
            lo, hi = min(shares[p]), max(shares[p])
            span = lambda key: f"{min(r[key] for r in rows):,.0f}–{max(r[key] for r in rows):,.0f}"  # noqa: E731
            cpu_ratios = [r["ours_tokens_per_cpu_s"] / r["hf_tokens_per_cpu_s"] for r in rows]
            results.note(p, f"{span('ours_tokens_per_s')} vs {span('hf_tokens_per_s')} tokens/s; per CPU second "
                            f"{min(cpu_ratios):.2f}–{max(cpu_ratios):.2f}x; our data prep + masking "
                            f"{100 * lo:.2f}–{100 * hi:.2f}% of step time; the model FLOPs of HF's full head over "
                            f"our sparse head are {ceiling:.2f}x (benchkit/flops.py)")
        for cid, shape_missed in results.unmet():  # where our step's time goes, measured on a fresh run
            prof = cProfile.Profile()
            run_our_job(job_argv(model_dir, work / "corpus", args, work / f"profile-{cid}", cid),
                        cuda=device.type == "cuda", profiler=prof)
            from benchkit.profiling import profile_parts

            results.profile(cid, shape_missed, profile_parts(prof, per=args.steps - 1),
                            how="cProfile self time per function per training step, our job run once more")
    path = results.write(args.results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
