"""The command line: `mlm-explorer SUBCOMMAND ...`; no subcommand opens the app.

Every subcommand is a thin layer over `mlm_explorer.core` (and the training runner) with
`--json` for scripts. Every error is one line on stderr and a non-zero exit, never a
traceback: user errors exit 2, Ctrl+C exits 130. Heavy modules (torch, transformers) are
imported inside the commands so `--help` and the app's first frame stay fast.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from mlm_explorer.cli.emit import EXIT_INTERRUPTED, EXIT_USER_ERROR, emit, note
from mlm_explorer.cli.parser import parse, require_text
from mlm_explorer.errors import InputError, UserError


def cmd_predict(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.load.models import load_mlm

    require_text(args.text)
    words = None
    if args.candidates is not None:
        from mlm_explorer.core.infer.candidates import parse_candidates

        words = parse_candidates(args.candidates)
    elif args.mask is not None:
        raise InputError("--mask N says which blank --candidates is for: add --candidates W1,W2")
    lm = load_mlm(args.model, device=args.device)
    result = predict(lm, args.text, top_k=args.top_k, joint=args.joint,
                     temperature=args.temperature, truncate=args.truncate)
    payload = {"model": lm.to_dict(), "text": args.text, **result.to_dict()}
    from mlm_explorer.cli import render_reports
    from mlm_explorer.cli.kbest import kbest_for

    kbest = kbest_for(lm, args)
    if kbest is not None:
        payload["k_best"] = kbest.to_dict()
    blank = None
    if words is not None:
        from mlm_explorer.core.infer.candidates import score_blank

        blank = score_blank(lm, args.text, words, mask=args.mask, temperature=args.temperature,
                            truncate=args.truncate, top=args.top_k)
        payload["candidate_scores"] = blank.to_dict()

    def show():
        render.fill_result(lm, args.text, result)
        if kbest is not None:
            render_reports.kbest(kbest)
        if blank is not None:
            render.blank_scores(blank)

    emit(args, payload, show)
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.core.mask.text import tokenize
    from mlm_explorer.report.views import predict_view

    export_if_asked(args, lambda: predict_view(
        lm.to_dict(), tokenize(lm.tokenizer, args.text, max_length=lm.max_length, truncate=args.truncate), result, kbest))
    return 0


def cmd_score(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.infer.score import score_text

    require_text(args.text)
    lm = load_mlm(args.model, device=args.device)
    result = score_text(lm, args.text, truncate=args.truncate, batch_size=args.batch_size, pll=args.pll)
    emit(args, {"model": lm.to_dict(), **result.to_dict()}, lambda: render.sentence_score(lm, result))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.core.mask.text import tokenize
    from mlm_explorer.report.views import score_view

    export_if_asked(args, lambda: score_view(
        lm.to_dict(), tokenize(lm.tokenizer, args.text, max_length=lm.max_length, truncate=args.truncate), result))
    return 0


def cmd_infill(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import BUNDLED_INFILLER, load_seq2seq

    require_text(args.text)
    if args.num_return > args.num_beams:
        raise InputError(f"--num-return {args.num_return} is more than --num-beams {args.num_beams}; raise --num-beams")
    lm = load_seq2seq(args.model or BUNDLED_INFILLER, device=args.device)
    result = infill(lm, args.text, num_beams=args.num_beams, num_return=args.num_return)
    emit(args, {"model": lm.to_dict(), **result.to_dict()}, lambda: render.infill_result(lm, result))
    return 0


def cmd_compare(args) -> int:
    from mlm_explorer.cli.compare import cmd_compare as run_compare

    return run_compare(args)


def cmd_mask(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.mask.preview import preview_masking
    from mlm_explorer.core.mask.text import tokenize

    if args.audit:
        if args.text is not None:
            raise InputError("give either a text or --audit FILES, not both")
        from mlm_explorer.cli.audit import cmd_mask_audit

        return cmd_mask_audit(args)
    require_text(args.text or "")
    tokenizer = load_mlm(args.model, device="cpu").tokenizer
    tt = tokenize(tokenizer, args.text, max_length=tokenizer.model_max_length)
    preview = preview_masking(tokenizer, tt, rate=args.rate, seed=args.seed,
                              whole_word=args.whole_word, count=args.count)
    maskable = [t for t in tt.tokens if t.maskable and not t.typed_mask]
    units = len({t.word for t in maskable}) if args.whole_word else len(maskable)
    if args.count is not None and args.count > units:
        unit = "word" if args.whole_word else "token"
        note(f"--count {args.count}: the text has {units} {unit}{'s' if units != 1 else ''} to mask; "
             f"{'all are' if units != 1 else 'it is'} picked")
    emit(args, {"text": tt.text, **preview.to_dict(tt)}, lambda: render.mask_preview(tt, preview))
    return 0


def cmd_models(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import list_models

    entries = list_models()
    emit(args, {"models": [e.to_dict() for e in entries]}, lambda: render.models(entries))
    return 0


def cmd_train(args) -> int:
    from mlm_explorer.cli.train import run_training

    return run_training(args)


def cmd_runs(args) -> int:
    from mlm_explorer.cli import render_runs
    from mlm_explorer.rundir import list_runs

    if args.probes:
        from mlm_explorer.cli.probes import cmd_run_probes

        return cmd_run_probes(args)
    runs = list_runs()
    emit(args, {"runs": [r.to_dict() for r in runs]}, lambda: render_runs.runs(runs))
    return 0


def cmd_diff(args) -> int:
    from mlm_explorer.cli.probes import cmd_diff as run_diff

    return run_diff(args)


def cmd_attention(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.explain.attention import attention
    from mlm_explorer.core.load.models import load_mlm

    require_text(args.text)
    lm = load_mlm(args.model, device=args.device)
    result = attention(lm, args.text, args.token, layer=args.layer, head=args.head, truncate=args.truncate)
    for option, given, chosen, count in (("--layer", args.layer, result.row.layer, result.row.num_layers),
                                         ("--head", args.head, result.row.head, result.row.num_heads)):
        if given is not None and given < 0:  # counted from the end: say which one that is
            note(f"{option} {given} counts from the end: {option.lstrip('-')} {chosen} of 0-{count - 1}")
    emit(args, {"model": lm.to_dict(), **result.to_dict()}, lambda: render.attention_row(lm, result))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.report.views import attention_view

    export_if_asked(args, lambda: attention_view(lm.to_dict(), result))
    return 0


def cmd_saliency(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.explain.saliency import WHAT, saliency
    from mlm_explorer.core.infer.forward import pick_blank
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.mask.text import tokenize

    require_text(args.text)
    lm = load_mlm(args.model, device=args.device)
    tt = tokenize(lm.tokenizer, args.text, max_length=lm.max_length, truncate=args.truncate)
    result = saliency(lm, tt, position=pick_blank(tt, args.mask, WHAT), target=args.target, steps=args.steps,
                      method=args.method, baseline=args.baseline)
    emit(args, {"model": lm.to_dict(), "mask": args.mask, **result.to_dict()},
          lambda: render.saliency_result(lm, result))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.report.views import saliency_view

    export_if_asked(args, lambda: saliency_view(lm.to_dict(), result))
    return 0


def cmd_app(args) -> int:
    from mlm_explorer.ui.app import run_app

    run_app(model=args.model, t5=args.t5, device=args.device)
    return 0


COMMANDS = {
    "predict": cmd_predict, "infill": cmd_infill, "compare": cmd_compare, "mask": cmd_mask,
    "models": cmd_models, "runs": cmd_runs, "score": cmd_score,
    "diff": cmd_diff, "train": cmd_train,
    "attention": cmd_attention, "saliency": cmd_saliency,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.command is None:
            return cmd_app(args)
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, with a way to get the traceback
        if os.environ.get("MLM_EXPLORER_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set MLM_EXPLORER_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
