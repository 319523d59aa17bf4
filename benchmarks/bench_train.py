"""Tokens per second of our training loop against Hugging Face Trainer + DataCollatorForLanguageModeling.

Same model (BertForMaskedLM with the bundled encoder: all-MiniLM-L6-v2, 6 layers, hidden 384,
vocabulary 30522, 22.7M parameters + head), same text (local licence texts and docs), same
batch size, block size and device, same process, same number of CPU threads.

    anchor   run_mlm.py's recipe: tokenise, concatenate, `group_texts` blocks, Trainer with
             DataCollatorForLanguageModeling (dynamic 80/10/10 masking in the data loader),
             full MLM head over every position
    ours     `python -m mlm_explorer.train` (in-process): packed blocks, masking on the device
             inside the loop, sparse MLM head, fused AdamW

Throughput is measured between the end of the first step and the end of the last (start-up,
model loading and the first step excluded), in real (non-padding) tokens per second. Also
printed: the share of step time spent preparing data and masking, for both.

    python benchmarks/bench_train.py [--steps 12] [--batch-size 16] [--block-size 128] [--threads N] [--rounds 2]

Needs `accelerate` (the Trainer does): pip install accelerate.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

TEXT_GLOBS = ["/usr/share/common-licenses/*", "/usr/share/doc/*/copyright", "/usr/share/doc/*/README*"]


def gather_text(out_dir: Path, max_bytes: int) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for pattern in TEXT_GLOBS:
        for i, path in enumerate(sorted(glob.glob(pattern))):
            p = Path(path)
            if not p.is_file() or p.suffix in (".gz", ".bz2", ".xz", ".html"):
                continue
            data = p.read_bytes()
            if b"\0" in data[:4096]:
                continue
            (out_dir / f"{p.parent.name}-{p.name}-{i}.txt").write_bytes(data)
            total += len(data)
            if total >= max_bytes:
                return total
    return total


def make_model(out_dir: Path) -> Path:
    """The bundled encoder as a BertForMaskedLM, saved once so both sides load the same weights."""
    import torch

    from mlm_explorer.core.load.bundled import load_bundled

    model, tokenizer, _ = load_bundled(torch.device("cpu"))
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def add_size_arguments(ap: argparse.ArgumentParser, *, steps: int, batch_size: int) -> None:
    """The options both training benchmarks take."""
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch-size", type=int, default=batch_size)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--text-bytes", type=int, default=600_000)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each side counts")


@contextlib.contextmanager
def workspace(text_bytes: int):
    """A temporary folder with the text and the model, the job's data and cache dirs inside it.
    Yields (folder, bytes of text, model dir)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MLM_EXPLORER_CACHE_DIR"] = str(work / "cache")
        os.environ["MLM_EXPLORER_DATA_DIR"] = str(work / "data")
        size = gather_text(work / "corpus", text_bytes)
        yield work, size, make_model(work / "model")


def bench_ours(model_dir: Path, corpus: Path, args, work: Path) -> dict:
    from mlm_explorer.train import loop as loop_mod
    from mlm_explorer.train import objectives
    from mlm_explorer.train.job import main

    spent = {"data": 0.0}

    def timed(fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            spent["data"] += time.perf_counter() - t
            return out
        return wrapper

    orig_blocks, orig_corrupt = loop_mod.Loop.step_blocks, objectives.MLMObjective.corrupt
    loop_mod.Loop.step_blocks = timed(orig_blocks)
    objectives.MLMObjective.corrupt = timed(orig_corrupt)
    buf = io.StringIO()
    try:
        rc = main([str(corpus), "--model", str(model_dir), "--max-steps", str(args.steps), "--batch-size",
                   str(args.batch_size), "--block-size", str(args.block_size), "--threads", str(args.threads),
                   "--eval-every", "100000", "--save-every", "100000", "--log-every", "1", "--lr", "5e-5",
                   "--output", str(work / "run")], stdout=buf)
    finally:
        loop_mod.Loop.step_blocks, objectives.MLMObjective.corrupt = orig_blocks, orig_corrupt
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    if rc != 0:
        raise SystemExit(f"our job failed: {events[-1]}")
    steps = [e for e in events if e["event"] == "step"]
    seconds = steps[-1]["time"] - steps[0]["time"]
    tokens = steps[-1]["tokens"] - steps[0]["tokens"]
    total_steps = sum(1 for _ in steps)
    return {"tokens_per_s": tokens / seconds, "data_share": spent["data"] / (seconds * total_steps / (total_steps - 1)),
            "loss": steps[-1]["loss"], "seconds": seconds}


def bench_trainer(model_dir: Path, corpus: Path, args, work: Path) -> dict:
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
    spent = {"data": 0.0}

    def timed_collate(batch):
        t = time.perf_counter()
        out = collator(batch)
        spent["data"] += time.perf_counter() - t
        return out

    marks: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, targs, state, control, **kw):
            marks.append(time.perf_counter())
            if len(marks) == 1:
                spent["data"] = 0.0  # count from the end of the first step, like ours

    torch.set_num_threads(args.threads)
    model = BertForMaskedLM.from_pretrained(model_dir)
    targs = TrainingArguments(output_dir=str(work / "hf"), per_device_train_batch_size=args.batch_size,
                              max_steps=args.steps, learning_rate=5e-5, weight_decay=0.01, warmup_steps=0,
                              logging_steps=10**6, save_strategy="no", report_to=[], use_cpu=True,
                              dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=targs, train_dataset=examples, data_collator=timed_collate, callbacks=[Clock()])
    trainer.train()
    seconds = marks[-1] - marks[0]
    tokens = (len(marks) - 1) * args.batch_size * args.block_size
    return {"tokens_per_s": tokens / seconds, "data_share": spent["data"] / seconds, "seconds": seconds,
            "optimizer": targs.optim}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(ap, steps=12, batch_size=16)
    args = ap.parse_args()
    with workspace(args.text_bytes) as (work, size, model_dir):
        print(f"model: bundled encoder as BertForMaskedLM; text: {size / 1e3:.0f} kB of local licence/doc files; "
              f"batch {args.batch_size} x {args.block_size}, {args.steps} steps, {args.threads} CPU thread(s)", flush=True)
        best_hf, best_ours = None, None
        for r in range(args.rounds):  # interleaved rounds: the best of each side (a shared machine is noisy)
            hf = bench_trainer(model_dir, work / "corpus", args, work)
            print(f"round {r + 1}: HF Trainer + DataCollatorForLanguageModeling ({hf['optimizer']}): "
                  f"{hf['tokens_per_s']:8.0f} tokens/s, data + masking {100 * hf['data_share']:.2f}% of step time", flush=True)
            ours = bench_ours(model_dir, work / "corpus", args, work / f"r{r}")
            print(f"round {r + 1}: mlm-explorer train loop: {ours['tokens_per_s']:8.0f} tokens/s, "
                  f"data + masking {100 * ours['data_share']:.2f}% of step time", flush=True)
            best_hf = hf if best_hf is None or hf["tokens_per_s"] > best_hf["tokens_per_s"] else best_hf
            best_ours = ours if best_ours is None or ours["tokens_per_s"] > best_ours["tokens_per_s"] else best_ours
        print(f"best: Trainer {best_hf['tokens_per_s']:.0f} tokens/s (data {100 * best_hf['data_share']:.2f}%), "
              f"ours {best_ours['tokens_per_s']:.0f} tokens/s (data {100 * best_ours['data_share']:.2f}%)")
        print(f"ratio (ours / Trainer): {best_ours['tokens_per_s'] / best_hf['tokens_per_s']:.2f}x  (goal >= 1.5x on CPU)")


if __name__ == "__main__":
    sys.exit(main())
