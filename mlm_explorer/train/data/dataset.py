"""From the user's paths to the blocks the loop trains on (corpus -> data -> packing / nsp).

`prepare` takes the collected documents (extract/collect.py), tokenises them (or reads the
cache), checks the block size against the model, builds the objective and the train / eval
splits, and reports what it did as `log` events and a data summary: every file used with
its tokens, every file skipped with its reason, the duplicates dropped (extract/report.py),
blocks, the hold-out, cache hits.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlm_explorer.errors import InputError

from mlm_explorer.train.config import DEFAULT_BLOCK
from mlm_explorer.train.data.extract.base import REASONS
from mlm_explorer.train.data.extract.collect import Collection
from mlm_explorer.train.data.extract.report import data_report
from mlm_explorer.train.data.token_cache import FileTokens, tokenise_documents
from mlm_explorer.train.objectives import InfillObjective, MLMObjective, NSPObjective, SpanObjective
from mlm_explorer.train.data.packing import BlockSet, choose_eval_files, special_layout, split


@dataclass
class TrainData:
    objective: object
    eval_blocks: BlockSet
    summary: dict
    _fixed: BlockSet | None = None
    _pairs: object = None  # epoch -> BlockSet (mlm+nsp draws new pairs every epoch)
    _cache: dict = field(default_factory=dict)

    def train(self, epoch: int) -> BlockSet:
        if self._fixed is not None:
            return self._fixed
        if epoch not in self._cache:
            self._cache.clear()
            self._cache[epoch] = self._pairs(epoch)
        return self._cache[epoch]


def block_size_for(args, max_length: int) -> int:
    if args.block_size is None:
        return min(DEFAULT_BLOCK, max_length)
    if args.block_size > max_length:
        raise InputError(f"--block-size {args.block_size} is above this model's limit of {max_length} tokens; "
                         f"use --block-size {max_length} or less")
    return args.block_size


def _split_sentences(ft: FileTokens, fraction: float) -> tuple[FileTokens, FileTokens]:
    """One file -> (first sentences, last sentences) for a sentence-level hold-out."""
    n = len(ft.seg_starts) - 1
    k = min(n - 1, max(1, math.ceil(fraction * n)))
    cut = n - k
    at = int(ft.seg_starts[cut])
    head = replace(ft, ids=ft.ids[:at], seg_starts=ft.seg_starts[:cut + 1], seg_para=ft.seg_para[:cut])
    tail = replace(ft, ids=ft.ids[at:], seg_starts=ft.seg_starts[cut:] - at, seg_para=ft.seg_para[cut:])
    return head, tail


def _nsp_data(files, args, tokenizer, width, summary) -> tuple[object, BlockSet]:
    from mlm_explorer.train.data.nsp import build_pairs

    eval_idx = choose_eval_files(files, args.eval_fraction, args.seed)
    if eval_idx:
        train_files = [f for i, f in enumerate(files) if i not in set(eval_idx)]
        eval_files = [files[i] for i in eval_idx]
        summary["holdout"] = "files"
    else:
        sentences = sum(len(f.seg_starts) - 1 for f in files)
        if sentences < 4:
            raise InputError("mlm+nsp needs at least 4 sentences of text; add more text or use --objective mlm")
        big = max(range(len(files)), key=lambda i: files[i].num_tokens)
        head, tail = _split_sentences(files[big], args.eval_fraction)
        train_files = [head if i == big else f for i, f in enumerate(files)]
        eval_files = [tail]
        summary["holdout"] = "sentences"
    kw = dict(width=width, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id,
              pad_id=tokenizer.pad_token_id, seed=args.seed)
    evals = build_pairs(eval_files, epoch=-1, **kw)
    pairs = lambda epoch: build_pairs(train_files, epoch=epoch, **kw)  # noqa: E731
    first = pairs(0)
    summary.update(block_size=width, train_blocks=len(first), eval_blocks=len(evals),
                   train_tokens=first.num_tokens, eval_tokens=evals.num_tokens, pairs="50% next / 50% random")
    return pairs, evals


def check_enough_to_mask(args, objective: str, tokens: int) -> None:
    """Refuse a corpus (or a rate) that gives no masked token: the loss over nothing is 0,
    which would be saved as the best model. (Text infilling predicts the whole text: always some.)"""
    if objective == "infill":
        return
    rate, option = (args.noise_density, "--noise-density") if objective == "span" else (args.mask_rate, "--mask-rate")
    if rate == 0:
        if objective == "mlm+nsp":
            return  # next-sentence prediction alone still learns
        raise InputError(f"{option} 0 masks no token, so there is nothing to learn; use a rate above 0, e.g. 0.15")
    need = max(2, math.ceil(1 / rate))
    if tokens < need:
        raise InputError(f"the training text has {tokens} token(s); {option} {rate:g} masks about {tokens * rate:.1f} "
                         f"of them, so at least {need} tokens are needed; add more text")


def _log_report(events, report: dict) -> None:
    """`log` lines (topic "data") for what people should not miss; the full report is in `started`."""
    from mlm_explorer.train.run.report_text import duplicate_lines, headline

    events.log(headline(report), topic="data")
    if report["skipped"]:
        counts = Counter(s["reason"] for s in report["skipped"])
        events.log(f"skipped {len(report['skipped'])} file(s): "
                   + ", ".join(f"{n} {REASONS[r]}" for r, n in counts.most_common()), topic="data")
    for u in report["used"]:
        if any("decode errors replaced" in n for n in u["notes"]):
            events.log(f"{u['path']}: " + "; ".join(u["notes"]), topic="data")
    lines = duplicate_lines(report)
    if lines:
        events.log(lines[0] + " " + "; ".join(x.strip() for x in lines[1:]), topic="data")


def prepare(args, tm, rt, events, collection: Collection) -> TrainData:
    """`collection`: the documents job.py collected (extracted and de-duplicated) before torch loaded."""
    from mlm_explorer.paths import cache_dir

    # 1. the files: collected (read, de-duplicated) by job.py; reported once tokenised (step 3)
    # 2. the block size and the objective (both depend on the model)
    width = block_size_for(args, tm.max_length)
    if tm.objective == "span":
        objective = SpanObjective(tm.model, tm.tokenizer, device=rt.device, noise_density=args.noise_density,
                                  mean_span=args.mean_span_length)
        raw = SpanObjective.raw_length(width, args.noise_density, args.mean_span_length)
        layout = special_layout(tm.tokenizer, raw, add_specials=False)
    elif tm.objective == "infill":
        objective = InfillObjective(tm.model, tm.tokenizer, device=rt.device)
        layout = special_layout(tm.tokenizer, width)
    else:
        cls = NSPObjective if tm.objective == "mlm+nsp" else MLMObjective
        objective = cls(tm.model, tm.tokenizer, device=rt.device, rate=args.mask_rate, whole_word=args.whole_word)
        layout = special_layout(tm.tokenizer, width)
    # 3. tokens: rank 0 fills the cache first, then the first process of each other machine,
    #    then the others read it (runtime.Runtime.turn)
    cache_root = None if args.no_cache else cache_dir()
    with rt.turn("tokens"):
        tokens = tokenise_documents(collection.documents, tm.tokenizer, cache_root=cache_root)
    keep, report = data_report(collection, [t.num_tokens for t in tokens])
    files = [tokens[i] for i in keep]
    _log_report(events, report)
    if not files:
        raise InputError(f"no usable text in {', '.join(map(str, args.paths))}: " + "; ".join(
            f"{Path(s['path']).name}: {s['message']}" for s in report["skipped"][:3]))
    hits = sum(f.cache_hit for f in files)
    extracted = sum(collection.documents[i].cache_hit for i in keep)
    summary = {"inputs": [str(p) for p in args.paths], **report,
               "replaced_bytes": sum(f.replaced_bytes for f in files),
               "cache": {"hits": hits, "misses": len(files) - hits, "hit": hits == len(files),
                         "extracted_hits": extracted, "dir": str(cache_root) if cache_root else None}}
    events.log(f"tokens: {hits} of {len(files)} file(s) from the cache"
               + (" (cache hit: no tokenisation)" if hits == len(files) else ""))
    check_enough_to_mask(args, tm.objective, sum(f.num_tokens for f in files))
    # 4. blocks and the hold-out
    if tm.objective == "mlm+nsp":
        pairs, evals = _nsp_data(files, args, tm.tokenizer, width, summary)
        data = TrainData(objective, evals, summary, _pairs=pairs)
    else:
        train, evals, s = split(files, layout, eval_fraction=args.eval_fraction, seed=args.seed)
        summary.update(s)
        if tm.objective == "span":
            summary.update(block_size=width, raw_block_size=raw)  # raw tokens -> `width` after corruption
        data = TrainData(objective, evals, summary, _fixed=train)
    summary["files"] = len(files)
    summary["tokens"] = sum(f.num_tokens for f in files)
    return data
