"""The command line's options: one argparse definition, parsed once (`parse`).

The app's options `--model`, `--t5` and `--device` may also come before a subcommand
(`mlm-explorer --model DIR predict ...`): each stands for that subcommand's own option
(`GLOBAL_TARGETS`), and the subcommand's wins when both are given. A global option that
means nothing to the subcommand is a usage error, never silently dropped. `train`'s own
argument strings are kept as given (`args.job_argv`): the job parses them in its process.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from mlm_explorer import __version__
from mlm_explorer.cli.emit import EXIT_USER_ERROR, note
from mlm_explorer.option_types import positive_float, positive_int, probability, read_negative_numbers, seed, utf8_text
from mlm_explorer.errors import InputError

DEVICE_HELP = "auto | cpu | cuda | cuda:N (default: auto)"
MAX_TOP_K = 100  # more candidates than anyone reads: --top-k is clamped to this, with a note
TEXTS = {"text": "the text", "candidates": "--candidates", "target": "--target", "probe": "--probe"}
JSON_HELP = "print JSON for scripts"

# subcommand -> {global option: the subcommand's destination it fills when not given there}
GLOBAL_TARGETS: dict[str, dict[str, str]] = {
    "predict": {"model": "model", "device": "device"},
    "score": {"model": "model", "device": "device"},
    "attention": {"model": "model", "device": "device"},
    "saliency": {"model": "model", "device": "device"},
    "diff": {"model": "model", "device": "device"},
    "infill": {"t5": "model", "model": "model", "device": "device"},  # --t5 first: infill takes a T5
    "compare": {"model": "bert", "t5": "t5", "device": "device"},   # the older form's --bert / --t5
    "mask": {"model": "model"},
    "train": {"model": "model", "device": "device"},  # forwarded to the job before train's own options
    "models": {}, "runs": {},
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to look.

    `keep_argv`: the name under which `parse_known_args` keeps the strings it was given
    (the `train` subcommand forwards them to the job as they are)."""

    keep_argv: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        read_negative_numbers(self)

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(EXIT_USER_ERROR, f"error: {message} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args=None, namespace=None):
        parsed, extras = super().parse_known_args(args, namespace)
        if self.keep_argv:
            setattr(parsed, self.keep_argv, list(args or []))
        return parsed, extras


def require_text(text: str) -> None:
    """The TEXT argument of a command must hold something to read."""
    if not text or not text.strip():
        raise InputError("the text is empty: give a sentence, e.g. \"The capital of France is [MASK].\"")


# -- options several subcommands share (each defined here once) ------------------------------


def add_model(p, help="encoder MLM: hub name, local directory, fine-tuned run, or 'bundled' (default)"):
    p.add_argument("--model", default=None, help=help)


def add_device(p):
    p.add_argument("--device", default=None, help=DEVICE_HELP)


def add_json(p, help=JSON_HELP):
    p.add_argument("--json", action="store_true", help=help)


def add_truncate(p):
    p.add_argument("--truncate", action="store_true", help="cut text longer than the model's limit")


def add_model_device_json(p, **model):
    add_model(p, **model)
    add_device(p)
    add_json(p)


def add_exports(p):
    """--html FILE / --svg FILE: the view as one self-contained page or picture (cli/exports.py)."""
    p.add_argument("--html", default=None, metavar="FILE", help="also write the view as one self-contained HTML page")
    p.add_argument("--svg", default=None, metavar="FILE", help="also write the view as one SVG picture")


# -- the parser -------------------------------------------------------------------------------


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="mlm-explorer",
        description="Look inside masked language models (BERT, T5) and fine-tune them on your documents. "
        "With no subcommand, opens the app. --model, --t5 and --device may also come before a subcommand.",
    )
    parser.add_argument("--version", action="version", version=f"mlm-explorer {__version__}")
    parser.add_argument("--model", dest="global_model", default=None,
                        help="encoder MLM for the app (default: the bundled model)")
    parser.add_argument("--t5", dest="global_t5", default=None,
                        help="seq2seq model for the app's Compare pane (default: the bundled span infiller)")
    parser.add_argument("--device", dest="global_device", default=None, help=DEVICE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=OneLineParser)

    p = sub.add_parser("predict", help="fill [MASK]/___ blanks with an encoder MLM (top-k, entropy, decode)")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    add_model_device_json(p)
    p.add_argument("--top-k", type=positive_int, default=5, help="candidates per mask (5)")
    p.add_argument("--joint", action="store_true", help="fill several masks jointly, most confident first")
    p.add_argument("--temperature", type=positive_float, default=1.0, help="divide logits by T (1.0)")
    add_truncate(p)
    p.add_argument("--candidates", default=None, metavar="W1,W2",
                   help="score these words at a blank (several subwords: jointly) and list the best fills of 1-3 subwords")
    p.add_argument("--mask", type=positive_int, default=None, metavar="N",
                   help="which blank --candidates is for, 1 = the first (needed when there are several)")
    p.add_argument("--k-best", type=positive_int, default=None, metavar="K",
                   help="also the K best joint fills of all masks, scored by the masks' pseudo-log-likelihood")
    p.add_argument("--top-n", type=positive_int, default=None, metavar="N",
                   help="--k-best exact search: candidates per mask (default by the number of masks: 1-3)")
    p.add_argument("--beam", type=positive_int, default=None, metavar="B",
                   help="--k-best beam width above 3 masks (8)")
    add_exports(p)

    p = sub.add_parser("score", help="pseudo-log-likelihood of a text: each token's surprisal, PLL, pseudo-perplexity")
    p.add_argument("text", help="the sentence to score")
    add_model_device_json(p)
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="masked copies per forward pass (default: about 2048 tokens per pass)")
    p.add_argument("--pll", choices=("word-l2r", "original"), default="word-l2r",
                   help="word-l2r (default): a piece is scored with the later pieces of its word masked too "
                        "(Kauf & Ivanova 2023); original: each token masked alone (Salazar et al. 2020)")
    add_truncate(p)
    add_exports(p)

    p = sub.add_parser("infill", help="fill blanks with a seq2seq model (T5: sentinel spans; BART: rewrites the text)")
    p.add_argument("text", help="text with one or more [MASK], ___ or <extra_id_N>")
    add_model_device_json(p, help="seq2seq model (T5 or BART family): hub name, local directory, or bundled-infiller "
                                  "(default: the bundled span infiller)")
    p.add_argument("--num-beams", type=positive_int, default=1, help="beam search width (1: greedy)")
    p.add_argument("--num-return", type=positive_int, default=1, help="candidates to return (<= beams)")

    p = sub.add_parser("compare", help="the same blanks filled by 2-4 models (encoders, T5, BART), one column each")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    p.add_argument("--model", dest="models", action="append", default=None, metavar="M",
                   help="a model to compare (2-4 times): an encoder MLM, a T5 or a BART model, a run, or 'bundled'")
    p.add_argument("--bert", default=None, help="(the named form) an encoder MLM, the first column (default: bundled)")
    p.add_argument("--t5", default=None, help="(the named form) a T5-family model, a column after the encoder")
    p.add_argument("--bart", default=None, help="(the named form) a BART-family model (rewrites the text), a column")
    add_device(p)
    p.add_argument("--top-k", type=positive_int, default=5)
    p.add_argument("--joint", action="store_true", help="encoders: fill several masks jointly, most confident first")
    p.add_argument("--num-beams", type=positive_int, default=1, help="T5 / BART: beam search width (1: greedy)")
    add_json(p)
    add_exports(p)

    p = sub.add_parser("mask", help="show the masking engine's 80/10/10 decisions for a text, or audit a corpus (--audit)")
    p.add_argument("text", nargs="?", default=None, help="the text (or --audit FILES instead)")
    add_model(p, help="whose tokenizer to use (default: bundled)")
    p.add_argument("--rate", type=probability, default=0.15, help="share of tokens (words) picked (0.15)")
    p.add_argument("--count", type=positive_int, default=None, help="pick exactly this many instead")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--whole-word", action="store_true", help="pick whole words, not subwords")
    add_json(p)
    from mlm_explorer.cli.audit import add_audit_arguments

    add_audit_arguments(p)

    p = sub.add_parser("attention", help="how much one token attends to every token (a layer/head, or the mean)")
    p.add_argument("text")
    add_model_device_json(p)
    p.add_argument("--token", type=int, required=True, metavar="I", help="the attending token's index (0 = [CLS])")
    p.add_argument("--layer", type=int, default=None, metavar="L", help="0-based, -1 = last (default: mean over layers)")
    p.add_argument("--head", type=int, default=None, metavar="H", help="0-based, -1 = last (default: mean over heads)")
    add_truncate(p)
    add_exports(p)

    p = sub.add_parser("saliency", help="which tokens made the prediction at a blank (integrated gradients, grad x input)")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    add_model_device_json(p)
    p.add_argument("--mask", type=positive_int, default=1, metavar="N", help="which blank, 1 = the first (1)")
    p.add_argument("--target", default=None, metavar="WORD", help="explain this word (one piece), not the top prediction")
    p.add_argument("--steps", type=positive_int, default=32, help="integrated-gradients steps (32)")
    p.add_argument("--method", choices=("ig", "grad-x-input", "both"), default="both")
    p.add_argument("--baseline", choices=("mask", "pad", "zero"), default="mask",
                   help="integrated-gradients start: every token [MASK] (default), [PAD], or zero embeddings")
    add_truncate(p)
    add_exports(p)

    p = sub.add_parser("models", help="list the models usable now (bundled, cached hub models, runs)")
    add_json(p)

    p = sub.add_parser("train", help="fine-tune a model on your documents: text, PDF, HTML, Word, JSONL, CSV (runs in its own process)")
    from mlm_explorer.train.config import add_train_arguments

    add_train_arguments(p)
    add_json(p, help="print the job's JSON events instead of a progress bar")
    p.keep_argv = "job_argv"

    p = sub.add_parser("runs", help="list fine-tuning runs with status and best metrics")
    p.add_argument("--probes", default=None, metavar="RUN",
                   help="instead: the probe history of RUN (a run name or directory), by evaluation")
    add_json(p)
    add_exports(p)   # with --probes RUN: the run's loss, probe and forgetting-meter curves

    p = sub.add_parser("diff", help="before/after: base and fine-tuned distributions at the blanks, change per candidate")
    p.add_argument("text", help="text with one or more [MASK] or ___")
    add_model(p, help="the fine-tuned model: a run (name, run:NAME, directory) or any MLM (required)")
    p.add_argument("--base", default=None, help="the model before fine-tuning (default: the run's base model, from run.json)")
    p.add_argument("--top-k", type=positive_int, default=5, help="each model's top-k; the union is shown (5)")
    p.add_argument("--sort", choices=("delta", "tuned", "base"), default="delta",
                   help="delta: largest change first (default); tuned / base: by that model's probability")
    add_device(p)
    add_json(p)
    add_exports(p)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line once; the global options land in the subcommand's options."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    given = {name: getattr(args, f"global_{name}") for name in ("model", "t5", "device")}
    if args.command is None:  # the app
        args.model, args.t5, args.device = given["model"], given["t5"], given["device"] or "auto"
        return args
    targets = GLOBAL_TARGETS[args.command]
    for name, value in given.items():
        if value is not None and name not in targets:
            parser.error(f"--{name} does not apply to `{args.command}`; leave it out")
    for name, dest in targets.items():  # in the table's order: the first that fills a destination wins
        value = given[name]
        if value is None:
            continue
        if args.command == "train":  # before train's own strings: the job takes the last one given
            args.job_argv = [f"--{dest}", value, *args.job_argv]
        elif getattr(args, dest, None) is None:
            setattr(args, dest, value)
    if args.command != "train" and "device" in targets:
        args.device = args.device or "auto"
    try:
        _check_texts(args)
    except InputError as exc:
        parser.error(str(exc))
    if getattr(args, "top_k", None) is not None and args.top_k > MAX_TOP_K:
        note(f"--top-k {args.top_k} is more than anyone reads; showing the top {MAX_TOP_K}")
        args.top_k = MAX_TOP_K
    return args


def _check_texts(args: argparse.Namespace) -> None:
    """Text a model reads must be UTF-8 (a path or a model name may be any bytes)."""
    for dest, what in TEXTS.items():
        value = getattr(args, dest, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                utf8_text(item, what)
