"""The command line: `mlm-explorer SUBCOMMAND ...`; no subcommand opens the app.

Every subcommand is a thin layer over `mlm_explorer.core` (and the training runner) with
`--json` for scripts. Every error is one line on stderr and a non-zero exit, never a
traceback: user errors exit 2, Ctrl+C exits 130. Heavy modules (torch, transformers) are
imported inside the commands so `--help` and the app's first frame stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from mlm_explorer import __version__
from mlm_explorer.errors import InputError, UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to look."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(EXIT_USER_ERROR, f"error: {message} (see `{self.prog} --help`)\n")


# -- argument types ---------------------------------------------------------------------------


def _number(convert, accept, wanted: str):
    """An argparse type: `convert` the string, then require `accept(number)`."""

    def parse(value: str):
        try:
            number = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value!r}") from None
        if not accept(number):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {number}")
        return number

    return parse


positive_int = _number(int, lambda n: n >= 1, "a whole number >= 1")
probability = _number(float, lambda n: 0.0 <= n <= 1.0, "a number between 0 and 1")
positive_float = _number(float, lambda n: n > 0, "a number > 0")


# -- the parser -------------------------------------------------------------------------------


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="mlm-explorer",
        description="Look inside masked language models (BERT, T5) and fine-tune them on your documents. "
        "With no subcommand, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"mlm-explorer {__version__}")
    parser.add_argument("--model", default=None, help="encoder MLM for the app (default: the bundled model)")
    parser.add_argument("--t5", default=None, help="seq2seq model for the app's Compare pane")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=OneLineParser)

    def common(p, *, model_help="encoder MLM: hub name, local directory, fine-tuned run, or 'bundled' (default)"):
        p.add_argument("--model", default=None, help=model_help)
        p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("predict", help="fill [MASK]/___ blanks with an encoder MLM (top-k, entropy, decode)")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    common(p)
    p.add_argument("--top-k", type=positive_int, default=5, help="candidates per mask (5)")
    p.add_argument("--joint", action="store_true", help="fill several masks jointly, most confident first")
    p.add_argument("--temperature", type=positive_float, default=1.0, help="divide logits by T (1.0)")
    p.add_argument("--truncate", action="store_true", help="cut text longer than the model's limit")
    p.add_argument("--candidates", default=None, metavar="W1,W2",
                   help="score these words at a blank (several subwords: jointly) and list the best fills of 1-3 subwords")
    p.add_argument("--mask", type=positive_int, default=None, metavar="N",
                   help="which blank --candidates is for, 1 = the first (needed when there are several)")

    p = sub.add_parser("score", help="pseudo-log-likelihood of a text: each token's surprisal, PLL, pseudo-perplexity")
    p.add_argument("text", help="the sentence to score")
    common(p)
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="masked copies per forward pass (default: about 2048 tokens per pass)")
    p.add_argument("--truncate", action="store_true", help="cut text longer than the model's limit")

    p = sub.add_parser("infill", help="fill blanks with a T5-style model (sentinel spans)")
    p.add_argument("text", help="text with one or more [MASK], ___ or <extra_id_N>")
    common(p, model_help="seq2seq model (T5 family): hub name, local directory, or 'bundled-infiller' (default: "
                         "the bundled span infiller)")
    p.add_argument("--num-beams", type=positive_int, default=1, help="beam search width (1: greedy)")
    p.add_argument("--num-return", type=positive_int, default=1, help="candidates to return (<= beams)")

    p = sub.add_parser("compare", help="the same blanks filled by an encoder MLM and by a seq2seq model (T5), side by side")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    p.add_argument("--bert", default=None, help="encoder MLM (default: bundled)")
    p.add_argument("--t5", default=None, help="seq2seq model (T5 family; default: bundled-infiller, the bundled span infiller)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--top-k", type=positive_int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("mask", help="show the masking engine's 80/10/10 decisions for a text")
    p.add_argument("text")
    p.add_argument("--model", default=None, help="whose tokenizer to use (default: bundled)")
    p.add_argument("--rate", type=probability, default=0.15, help="share of tokens (words) picked (0.15)")
    p.add_argument("--count", type=positive_int, default=None, help="pick exactly this many instead")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--whole-word", action="store_true", help="pick whole words, not subwords")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("attention", help="how much one token attends to every token (a layer/head, or the mean)")
    p.add_argument("text")
    common(p)
    p.add_argument("--token", type=int, required=True, metavar="I", help="the attending token's index (0 = [CLS])")
    p.add_argument("--layer", type=int, default=None, metavar="L", help="0-based, -1 = last (default: mean over layers)")
    p.add_argument("--head", type=int, default=None, metavar="H", help="0-based (default: mean over heads)")
    p.add_argument("--truncate", action="store_true", help="cut text longer than the model's limit")

    p = sub.add_parser("saliency", help="which tokens made the prediction at a blank (integrated gradients, grad x input)")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    common(p)
    p.add_argument("--mask", type=positive_int, default=1, metavar="N", help="which blank, 1 = the first (1)")
    p.add_argument("--target", default=None, metavar="WORD", help="explain this word (one piece), not the top prediction")
    p.add_argument("--steps", type=positive_int, default=32, help="integrated-gradients steps (32)")
    p.add_argument("--method", choices=("ig", "grad-x-input", "both"), default="both")
    p.add_argument("--baseline", choices=("mask", "pad", "zero"), default="mask",
                   help="integrated-gradients start: every token [MASK] (default), [PAD], or zero embeddings")
    p.add_argument("--truncate", action="store_true", help="cut text longer than the model's limit")

    p = sub.add_parser("models", help="list the models usable now (bundled, cached hub models, runs)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("train", help="fine-tune a model on your .txt/.md files (runs in its own process)")
    from mlm_explorer.train.config import add_train_arguments

    add_train_arguments(p)
    p.add_argument("--json", action="store_true", help="print the job's JSON events instead of a progress bar")

    p = sub.add_parser("runs", help="list fine-tuning runs with status and best metrics")
    p.add_argument("--probes", default=None, metavar="RUN",
                   help="instead: the probe history of RUN (a run name or directory), by evaluation")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("diff", help="before/after: base and fine-tuned distributions at the blanks, change per candidate")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    p.add_argument("--model", required=True, help="the fine-tuned model: a run (name, run:NAME, directory) or any MLM")
    p.add_argument("--base", default=None, help="the model before fine-tuning (default: the run's base model, from run.json)")
    p.add_argument("--top-k", type=positive_int, default=5, help="each model's top-k; the union is shown (5)")
    p.add_argument("--sort", choices=("delta", "tuned", "base"), default="delta",
                   help="delta: largest change first (default); tuned / base: by that model's probability")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


# -- commands ---------------------------------------------------------------------------------


def _emit(args, payload: dict, render) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        render()


def cmd_predict(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.load.models import load_mlm

    _require_text(args.text)
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
    blank = None
    if words is not None:
        from mlm_explorer.core.infer.candidates import score_blank

        blank = score_blank(lm, args.text, words, mask=args.mask, temperature=args.temperature,
                            truncate=args.truncate, top=args.top_k)
        payload["candidate_scores"] = blank.to_dict()

    def show():
        render.fill_result(lm, args.text, result)
        if blank is not None:
            render.blank_scores(blank)

    _emit(args, payload, show)
    return 0


def cmd_score(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.infer.score import score_text

    _require_text(args.text)
    lm = load_mlm(args.model, device=args.device)
    result = score_text(lm, args.text, truncate=args.truncate, batch_size=args.batch_size)
    _emit(args, {"model": lm.to_dict(), **result.to_dict()}, lambda: render.sentence_score(lm, result))
    return 0


def cmd_infill(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import BUNDLED_INFILLER, load_seq2seq

    _require_text(args.text)
    if args.num_return > args.num_beams:
        raise InputError(f"--num-return {args.num_return} is more than --num-beams {args.num_beams}; raise --num-beams")
    lm = load_seq2seq(args.model or BUNDLED_INFILLER, device=args.device)
    result = infill(lm, args.text, num_beams=args.num_beams, num_return=args.num_return)
    _emit(args, {"model": lm.to_dict(), **result.to_dict()}, lambda: render.infill_result(lm, result))
    return 0


def cmd_compare(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import BUNDLED_INFILLER, load_mlm, load_seq2seq

    _require_text(args.text)
    bert = load_mlm(args.bert, device=args.device)
    t5 = load_seq2seq(args.t5 or BUNDLED_INFILLER, device=args.device)
    filled = predict(bert, args.text, top_k=args.top_k)
    infilled = infill(t5, args.text)
    payload = {"text": args.text, "bert": {"model": bert.to_dict(), **filled.to_dict()},
               "t5": {"model": t5.to_dict(), **infilled.to_dict()}}
    _emit(args, payload, lambda: render.compare(bert, filled, t5, infilled))
    return 0


def cmd_mask(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.mask.preview import preview_masking
    from mlm_explorer.core.mask.text import tokenize

    _require_text(args.text)
    tokenizer = load_mlm(args.model, device="cpu").tokenizer
    tt = tokenize(tokenizer, args.text, max_length=tokenizer.model_max_length)
    preview = preview_masking(tokenizer, tt, rate=args.rate, seed=args.seed,
                              whole_word=args.whole_word, count=args.count)
    _emit(args, {"text": tt.text, **preview.to_dict(tt)}, lambda: render.mask_preview(tt, preview))
    return 0


def cmd_models(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import list_models

    entries = list_models()
    _emit(args, {"models": [e.to_dict() for e in entries]}, lambda: render.models(entries))
    return 0


def cmd_train(args, argv: Sequence[str]) -> int:
    from mlm_explorer.cli.train import run_training

    return run_training(args, argv)


def cmd_runs(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.train.run.runs import list_runs

    if args.probes:
        from mlm_explorer.cli.probes import cmd_run_probes

        return cmd_run_probes(args)
    runs = list_runs()
    _emit(args, {"runs": [r.to_dict() for r in runs]}, lambda: render.runs(runs))
    return 0


def cmd_diff(args) -> int:
    from mlm_explorer.cli.probes import cmd_diff as run_diff

    return run_diff(args)


def cmd_attention(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.explain.attention import attention
    from mlm_explorer.core.load.models import load_mlm

    _require_text(args.text)
    lm = load_mlm(args.model, device=args.device)
    result = attention(lm, args.text, args.token, layer=args.layer, head=args.head, truncate=args.truncate)
    _emit(args, {"model": lm.to_dict(), **result.to_dict()}, lambda: render.attention_row(lm, result))
    return 0


def cmd_saliency(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.explain.saliency import saliency
    from mlm_explorer.core.mask.text import tokenize

    _require_text(args.text)
    lm = load_mlm(args.model, device=args.device)
    tt = tokenize(lm.tokenizer, args.text, max_length=lm.max_length, truncate=args.truncate)
    blanks = [t.index for t in tt.tokens if t.typed_mask]
    if not blanks:
        raise InputError("no mask in the text: put [MASK] or ___ where the word to explain should be")
    if args.mask > len(blanks):
        raise InputError(f"--mask {args.mask}: the text has {len(blanks)} blank(s); use 1-{len(blanks)}")
    result = saliency(lm, tt, position=blanks[args.mask - 1], target=args.target, steps=args.steps,
                      method=args.method, baseline=args.baseline)
    _emit(args, {"model": lm.to_dict(), "mask": args.mask, **result.to_dict()},
          lambda: render.saliency_result(lm, result))
    return 0


def _require_text(text: str) -> None:
    if not text or not text.strip():
        raise InputError("the text is empty: give a sentence, e.g. \"The capital of France is [MASK].\"")


def cmd_app(args) -> int:
    from mlm_explorer.ui.app import run_app

    run_app(model=args.model, t5=args.t5, device=args.device)
    return 0


COMMANDS = {
    "predict": cmd_predict, "infill": cmd_infill, "compare": cmd_compare, "mask": cmd_mask,
    "models": cmd_models, "runs": cmd_runs, "score": cmd_score,
    "diff": cmd_diff,
    "attention": cmd_attention, "saliency": cmd_saliency,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            return cmd_app(args)
        if args.command == "train":
            return cmd_train(args, argv[argv.index("train") + 1:])
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
