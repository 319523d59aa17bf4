"""The masking audit: `python -m mlm_explorer.train.audit PATH... [the job's options] [--max-blocks N]`.

What the training job will really do to the user's text, before it trains: the job's own data
preparation (`job.collect_documents`, then `data/dataset.prepare`: read and extract, tokenise or
read the cache, pack, hold out) and its objective's masking (`MLMObjective.corrupt(...,
decisions=True)` / `SpanObjective.corrupt`), seeded as the job seeds it (seed + rank, on the job's
device), over the first `--max-blocks` training blocks in the job's own order and steps
(train/batches.py: the epoch's seeded permutation, `--batch-size` blocks a step), so its masks are
the masks of the job's first steps. Nothing is trained or written.

Beside it, the same blocks through the reference: `DataCollatorForLanguageModeling` (mlm,
mlm+nsp) or the T5 recipe's `random_spans_noise_mask` (span), and one line per difference
(`core.mask.audit.mlm_differences` / `span_differences`).

Events on stdout, as the job's (`run/events.py`): `log` lines, then one `audit` event:

    {"event": "audit", "objective", "model", "data": the job's data summary, "blocks", "total_blocks",
     "ours": report, "reference": report, "differences": [line, ...]}

(report: `core.mask.audit.MlmTally.report()` / `SpanTally.report()`); a problem is one `error`
event and exit status 2, as for the job. `train/launch.py`: TrainingRunner(args, module=AUDIT_MODULE).
"""

from __future__ import annotations

import argparse
import sys

from mlm_explorer.errors import InputError, UserError
from mlm_explorer.train.run.events import Events, protect_stdout

MAX_BLOCKS = 2048   # default --max-blocks: blocks of the training split audited


def _split_argv(argv: list[str]) -> tuple[int, list[str]]:
    """(--max-blocks, the job's own options)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--max-blocks", type=int, default=MAX_BLOCKS)
    known, rest = pre.parse_known_args(argv)
    if known.max_blocks < 1:
        raise InputError("--max-blocks must be at least 1")
    return known.max_blocks, rest


def _steps(batches, n: int, batch_size: int):
    """The job's first steps, in its order (train/batches.Batches: the epoch's seeded permutation),
    until n blocks are seen: (the step's blocks on the device, how many of its rows are new)."""
    for step in range(-(-n // batch_size)):
        yield batches.to_device(batches.host(step)), min(batch_size, n - step * batch_size)


def audit_mlm(obj, tokenizer, batches, n: int, batch_size: int, generator, seed: int):
    """Our engine (the objective's own corrupt) and the collator on the job's first n blocks."""
    from mlm_explorer.core.mask.audit import MlmTally
    from mlm_explorer.core.mask.audit_reference import collator_batch

    ours = MlmTally(tokenizer, engine="mlm-explorer", policy=obj.policy, vocab=obj.vocab.to("cpu"),
                    note="the training job's masking engine (core/mask/masking.py), seeded as the job")
    ref = MlmTally(tokenizer, engine="DataCollatorForLanguageModeling", policy=obj.policy, vocab=ours.vocab,
                   note="transformers' collator on the same blocks, trimmed to their lengths"
                        + (", word offsets from the same words" if obj.policy.whole_word else ""))
    for step, (batch, new) in enumerate(_steps(batches, n, batch_size)):
        masked = obj.corrupt(batch, generator, decisions=True)   # the job's own step 3, with its decisions
        ids, lengths = batch["input_ids"][:new].cpu(), batch["lengths"][:new].cpu()   # a wrapped step: new rows
        ours.add(ids, lengths, masked["decisions"][:new], masked["input_ids"][:new])
        original, corrupted, _, decisions = collator_batch(tokenizer, ids, lengths, obj.policy,
                                                           generator_seed=seed + step, vocab=ours.vocab)
        ref.add(original, lengths, decisions, corrupted)
    return ours.report(), ref.report()


def audit_span(obj, tokenizer, batches, n: int, batch_size: int, generator, seed: int):
    """The span objective's own `corrupt` and the T5 recipe on the same raw rows."""
    import numpy as np
    import torch

    from mlm_explorer.core.mask.audit import SpanTally, span_counts
    from mlm_explorer.core.mask.audit_reference import recipe_sentinels_match, t5_recipe_noise_mask, t5_recipe_rows

    ours = SpanTally(engine="mlm-explorer", noise_density=obj.noise_density, mean_span=obj.mean_span,
                     note="the training job's span corruption (core/mask/spans.py), seeded as the job")
    ref = SpanTally(engine="T5 recipe", noise_density=obj.noise_density, mean_span=obj.mean_span,
                    note="random_spans_noise_mask of T5 / run_t5_mlm_flax.py on the same rows; "
                         "group_texts keeps whole rows only")
    rng = np.random.default_rng(seed)
    width = None
    tokens = 0
    for batch, new in _steps(batches, n, batch_size):
        width = int(batch["input_ids"].shape[1])
        out = obj.corrupt(batch, generator)
        noise, spans = span_counts(out["labels"][:new], obj.sentinels)
        lengths = batch["lengths"][:new].cpu()
        ours.add(torch.where(lengths >= 2, lengths, 0), noise, spans)
        tokens += int(lengths.sum())
        full = int((lengths == width).sum())
        masks = [t5_recipe_noise_mask(width, obj.noise_density, obj.mean_span, rng) for _ in range(full)]
        if masks:
            m = np.stack(masks)
            starts = m & ~np.pad(m, [[0, 0], [1, 0]])[:, :-1]
            ref.add(torch.full((full,), width), torch.tensor(m.sum(1)), torch.tensor(starts.sum(1)))
    ref.truncated = t5_recipe_rows(tokens, width or 1)[1]
    ref.extra["sentinels_match"] = recipe_sentinels_match(tokenizer)
    return ours.report(), ref.report()


def run(argv: list[str], events: Events) -> int:
    from mlm_explorer.train.config import parse_args

    max_blocks, job_argv = _split_argv(list(argv))
    args, _ = parse_args(job_argv)
    if args.resume:
        raise InputError("the masking audit reads text files: name them instead of --resume")
    from mlm_explorer.train.job import collect_documents

    collection = collect_documents(args)   # the job's first step: a bad path fails before torch and the model

    import torch

    from mlm_explorer.core.mask.audit import mlm_differences, span_differences
    from mlm_explorer.train.batches import Batches
    from mlm_explorer.train.data.dataset import prepare
    from mlm_explorer.train.model_setup import load_for_training
    from mlm_explorer.train.runtime import setup

    rt = setup(args.device, args.threads, "fp32")
    try:
        tm = load_for_training(args.model, args.objective, device=rt.device)
        data = prepare(args, tm, rt, events, collection)
        blocks = data.train(0)
        n = min(len(blocks), max_blocks)
        steps_per_epoch = max(1, -(-len(blocks) // args.batch_size))   # as the job's Loop
        batches = Batches(data, rt, batch_size=args.batch_size, seed=args.seed, steps_per_epoch=steps_per_epoch)
        generator = torch.Generator(device=rt.device).manual_seed(args.seed + rt.rank)   # as the job's Loop
        if tm.objective not in ("mlm", "mlm+nsp", "span"):
            raise InputError(f"the masking audit covers the objectives mlm, mlm+nsp and span; '{tm.objective}' "
                             "(BART's text infilling) is not audited yet")
        kind = audit_span if tm.objective == "span" else audit_mlm
        ours, ref = kind(data.objective, tm.tokenizer, batches, n, args.batch_size, generator, args.seed)
        differences = (span_differences if tm.objective == "span" else mlm_differences)(ours, ref)
        events.emit("audit", objective=tm.objective, model=args.model, data=data.summary, blocks=n,
                    total_blocks=len(blocks), ours=ours, reference=ref, differences=differences)
        return 0
    finally:
        rt.close()


def main(argv=None, *, stdout=None) -> int:
    """Run the audit; `stdout` lets tests read the events in-process."""
    argv = sys.argv[1:] if argv is None else list(argv)
    saved = sys.stdout
    events = Events(stdout if stdout is not None else protect_stdout())
    try:
        return run(argv, events)
    except UserError as exc:
        events.emit("error", message=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = saved


if __name__ == "__main__":
    raise SystemExit(main())
