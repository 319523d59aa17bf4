"""The masking audit: `python -m mlm_explorer.train.audit PATH... [the job's options] [--max-blocks N]`.

What the training job will really do to the user's text, before it trains: the job's own data
preparation (`data/dataset.prepare`: scan, tokenise or read the cache, pack, hold out) and its
objective's masking (`objectives.MLMObjective.mask` / `SpanObjective.corrupt`), seeded as the
job seeds it (seed + rank, on the job's device), run over the first `--max-blocks` training
blocks in batches of `--batch-size`. Nothing is trained and nothing is written.

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


def audit_mlm(obj, tokenizer, blocks, n: int, batch_size: int, generator, device, seed: int):
    """Our engine (the objective's own `mask`) and the collator on the first n blocks."""
    import torch

    from mlm_explorer.core.mask.audit import MlmTally
    from mlm_explorer.core.mask.audit_reference import collator_batch

    ours = MlmTally(tokenizer, engine="mlm-explorer", policy=obj.policy, vocab=obj.vocab.to("cpu"),
                    note="the training job's masking engine (core/mask/masking.py), seeded as the job")
    ref = MlmTally(tokenizer, engine="DataCollatorForLanguageModeling", policy=obj.policy, vocab=ours.vocab,
                   note="transformers' collator on the same blocks, trimmed to their lengths"
                        + (", word offsets from the same words" if obj.policy.whole_word else ""))
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size))
        batch = blocks.batch(idx, device)
        m, _ = obj.mask(batch, generator)
        ids, lengths = batch["input_ids"].cpu(), batch["lengths"].cpu()
        ours.add(ids, lengths, m.decisions, m.input_ids)
        original, corrupted, _, decisions = collator_batch(tokenizer, ids, lengths, obj.policy,
                                                           generator_seed=seed + start, vocab=ours.vocab)
        ref.add(original, lengths, decisions, corrupted)
    return ours.report(), ref.report()


def audit_span(obj, tokenizer, blocks, n: int, batch_size: int, generator, device, seed: int):
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
    width = int(blocks.input_ids.shape[1])
    tokens = 0
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size))
        batch = blocks.batch(idx, device)
        out = obj.corrupt(batch, generator)
        noise, spans = span_counts(out["labels"], obj.sentinels)
        lengths = batch["lengths"].cpu()
        ours.add(torch.where(lengths >= 2, lengths, 0), noise, spans)
        tokens += int(lengths.sum())
        full = int((lengths == width).sum())
        masks = [t5_recipe_noise_mask(width, obj.noise_density, obj.mean_span, rng) for _ in range(full)]
        if masks:
            m = np.stack(masks)
            starts = m & ~np.pad(m, [[0, 0], [1, 0]])[:, :-1]
            ref.add(torch.full((full,), width), torch.tensor(m.sum(1)), torch.tensor(starts.sum(1)))
    ref.truncated = t5_recipe_rows(tokens, width)[1]
    ref.extra["sentinels_match"] = recipe_sentinels_match(tokenizer)
    return ours.report(), ref.report()


def run(argv: list[str], events: Events) -> int:
    from mlm_explorer.train.config import parse_args

    max_blocks, job_argv = _split_argv(list(argv))
    args, _ = parse_args(job_argv)
    if args.resume:
        raise InputError("the masking audit reads text files: name them instead of --resume")
    from mlm_explorer.train.data.corpus import scan

    scan(args.paths)   # a bad path fails before torch and the model load

    import torch

    from mlm_explorer.core.mask.audit import mlm_differences, span_differences
    from mlm_explorer.train.data.dataset import prepare
    from mlm_explorer.train.model_setup import load_for_training
    from mlm_explorer.train.runtime import setup

    rt = setup(args.device, args.threads, "fp32")
    try:
        tm = load_for_training(args.model, args.objective, device=rt.device)
        data = prepare(args, tm, rt, events)
        blocks = data.train(0)
        n = min(len(blocks), max_blocks)
        generator = torch.Generator(device=rt.device).manual_seed(args.seed + rt.rank)   # as the job's Loop
        kind = audit_span if tm.objective == "span" else audit_mlm
        ours, ref = kind(data.objective, tm.tokenizer, blocks, n, args.batch_size, generator, rt.device, args.seed)
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
