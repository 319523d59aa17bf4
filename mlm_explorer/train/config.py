"""The job's options: one argparse definition shared by `python -m mlm_explorer.train` and
`mlm-explorer train` (the CLI calls `add_train_arguments(parser)` and forwards argv as is).

`--resume RUN` takes the saved options of RUN (its run.json) and lets the options given on
this command line override them (e.g. a larger --max-steps to train longer).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Sequence

from mlm_explorer.errors import InputError
from mlm_explorer import option_types as T

OBJECTIVES = ("auto", "mlm", "span", "mlm+nsp", "infill")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEFAULT_BLOCK = 128  # tokens per block when --block-size is not given (at most the model's limit)
_TRAIN_PARAMS = re.compile(r"^(all|head|head\+norms|head\+top:\d+|head\+decoder)$")


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Define every option of the training job on `parser` (the CLI reuses this)."""
    a = parser.add_argument
    a("paths", nargs="*", metavar="PATH",
      help="files and folders (recursive) to train on: text, Markdown, reST, LaTeX, source, HTML, PDF, "
           ".docx, JSON lines, CSV")
    g = parser.add_argument_group("model and objective")
    g.add_argument("--model", default="bundled", help="hub name, local directory or 'bundled' (default)")
    g.add_argument("--objective", default="auto", choices=OBJECTIVES,
                   help="auto: span for T5-like models, infill (text infilling) for BART-like ones, mlm otherwise")
    g.add_argument("--train-params", default="all", metavar="WHICH",
                   help="all | head | head+norms | head+top:N (head plus the top N layers) | head+decoder (seq2seq: the encoder frozen)")
    g.add_argument("--whole-word", action="store_true", help="mlm: mask whole words, not subwords")
    g.add_argument("--mask-rate", type=T.probability, default=0.15, help="mlm: share of tokens selected (0.15)")
    g.add_argument("--noise-density", type=T.open_fraction, default=0.15, help="span: share of tokens corrupted")
    g.add_argument("--mean-span-length", type=T.at_least_one, default=3.0, help="span: mean corrupted span length")
    g = parser.add_argument_group("data")
    g.add_argument("--block-size", type=T.at_least(8), default=None, help=f"tokens per block (default {DEFAULT_BLOCK}, at most the model's limit)")
    g.add_argument("--eval-fraction", type=T.open_fraction, default=0.05, help="share held out for evaluation, by file (0.05)")
    g.add_argument("--max-eval-blocks", type=T.positive_int, default=512, help="evaluate on at most this many held-out blocks")
    g.add_argument("--no-cache", action="store_true", help="extract and tokenise again instead of using the cache")
    g.add_argument("--text-field", default=None, metavar="NAME",
                   help="JSON lines / CSV: the field or column holding the text (default: text; a.b reaches into objects)")
    g.add_argument("--keep-duplicates", action="store_true",
                   help="keep duplicate files and repeated lines (dropped by default: licences, page headers)")
    g = parser.add_argument_group("length of training (the first limit reached stops it)")
    g.add_argument("--max-steps", type=T.positive_int, default=None, help="optimizer steps")
    g.add_argument("--epochs", type=T.positive_float, default=None, help="passes over the training blocks (default 3 when no limit is given)")
    g.add_argument("--time-budget", type=T.positive_float, default=None, metavar="MIN", help="minutes of training")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--batch-size", type=T.positive_int, default=32, help="blocks per optimizer step, all devices together (32)")
    g.add_argument("--micro-batch-size", type=T.positive_int, default=None, help="blocks per forward pass; smaller -> gradient accumulation")
    g.add_argument("--lr", type=T.positive_float, default=5e-5, help="peak learning rate (5e-5)")
    g.add_argument("--head-lr", type=T.positive_float, default=None, help="separate peak learning rate for the prediction head")
    g.add_argument("--weight-decay", type=T.non_negative_float, default=0.01, help="AdamW weight decay, not on biases and norms")
    g.add_argument("--warmup-steps", type=T.non_negative_int, default=None, help="linear warm-up steps (default 6%% of the steps)")
    g.add_argument("--schedule", default="linear", choices=("linear", "cosine", "constant"), help="decay after warm-up")
    g.add_argument("--grad-clip", type=T.non_negative_float, default=1.0, help="clip the gradient norm (0: off)")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    g = parser.add_argument_group("probes (answer rank and probability at step 0, every evaluation and the end)")
    g.add_argument("--probes", default=None, metavar="FILE",
                   help="probe sentences, one 'text with [MASK]<TAB>answer' (or 'text | answer') per line")
    g.add_argument("--probe", action="append", default=None, metavar="'TEXT|ANSWER'",
                   help="one probe sentence and its answer (repeatable; after those of --probes)")
    g = parser.add_argument_group("forgetting meter (general-knowledge probes at step 0 and every evaluation)")
    g.add_argument("--forgetting-probes", default=None, metavar="FILE",
                   help="your own general-knowledge probe file (default: the shipped everyday-English set)")
    g.add_argument("--no-forgetting", action="store_true", help="do not track the forgetting meter")
    g = parser.add_argument_group("run")
    g.add_argument("--output", default=None, help="run directory (default: <data dir>/runs/<time>-<model>)")
    g.add_argument("--resume", default=None, metavar="RUN", help="continue a run (its directory, its name, or one checkpoint-N in it)")
    g.add_argument("--dry-run", action="store_true",
                   help="read and report the files, show sample blocks with their masks and the estimated time, "
                        "then stop (nothing is written; a `preview` event)")
    g.add_argument("--eval-every", type=T.positive_int, default=200, help="evaluate every N steps (and at the end)")
    g.add_argument("--save-every", type=T.positive_int, default=500, help="checkpoint every N steps (and at the end)")
    g.add_argument("--keep", type=T.positive_int, default=2, help="checkpoints to keep, besides best/ (2)")
    g.add_argument("--log-every", type=T.positive_int, default=10, help="send a step event every N steps (1: every step)")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--threads", type=T.positive_int, default=None, help="CPU threads (default: cores / processes)")
    g.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bf16 autocast on a GPU that has it (fp16 otherwise), fp32 on the CPU; "
                        "bf16 on the CPU: faster where the CPU computes bf16 natively (AVX512-BF16, AMX)")
    g.add_argument("--seed", type=T.seed, default=0, help="seed for the data order, hold-out and masking")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlm_explorer.train",
        description="Fine-tune a masked language model on local text files; JSON events on stdout.",
    )
    add_train_arguments(parser)
    # the CLI's own switch; harmless here so that argv can be forwarded unchanged
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    return parser


def defaults() -> argparse.Namespace:
    """Every option's default (the Train screen's form starts from these)."""
    return build_parser().parse_args([])


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        T.read_negative_numbers(self)

    def error(self, message):  # one line, through the job's error path
        raise InputError(f"{message} (see python -m mlm_explorer.train --help)")


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, set[str]]:
    """Parse and check the options; return them and the names given on the command line."""
    parser = _Parser(prog="python -m mlm_explorer.train", add_help=True)
    add_train_arguments(parser)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv))
    given_parser = _Parser(add_help=False)
    add_train_arguments(given_parser)
    given_parser.add_argument("--json", action="store_true")
    for action in given_parser._actions:
        action.default = argparse.SUPPRESS
    given = set(vars(given_parser.parse_args(list(argv)))) - {"paths"}
    if args.paths:
        given.add("paths")
    check(args)
    return args, given


def check(args: argparse.Namespace) -> None:
    """Reject impossible values with one line each: every number against its option's range
    (the same check argparse made, again for a resumed run's saved options), then the rest."""
    for action in build_parser()._actions:  # argparse has no public list of a parser's options
        if isinstance(action.type, T.NumberType) and action.option_strings:
            action.type.check(action.option_strings[0], getattr(args, action.dest, None))
    for probe in getattr(args, "probe", None) or []:
        T.utf8_text(probe, "--probe")
    if not _TRAIN_PARAMS.match(str(args.train_params)):
        raise InputError(f"--train-params {args.train_params!r}: use all, head, head+norms, head+top:N or head+decoder")
    if not args.paths and args.resume is None:
        raise InputError("no input: name the text files or folders to train on")


def merge_resumed(saved: dict, args: argparse.Namespace, given: set[str]) -> argparse.Namespace:
    """Options of a resumed run: the saved ones, overridden by those given now."""
    merged = dict(saved)
    for name, value in vars(args).items():
        if name in given or name not in merged:
            merged[name] = value
    merged["resume"] = args.resume
    out = argparse.Namespace(**merged)
    check(out)
    return out


# -- the Train screen's starting values, by device ------------------------------------------------
# One code path for every device: the form starts from `start_values(device)` and shows `estimate_s`.
# On a CPU a run that finishes in about a minute on the bundled model (MiniLM-L6: 20 steps of 4 blocks of
# 128 tokens = 10,240 tokens; measured 130-170 tokens/s on 2 busy cores, so the estimate assumes 200);
# on a GPU the job's own defaults (3 epochs of batch 32, blocks of 128).
@dataclass(frozen=True)
class StartValues:
    max_steps: int | None  # None: the job's default length (3 epochs)
    batch_size: int
    block_size: int | None  # None: the job's default (DEFAULT_BLOCK, at most the model's limit)
    max_eval_blocks: int | None  # None: the job's default
    tokens_per_s: float | None  # a rough throughput for the estimate (None: unknown, Preview measures it)


START_VALUES = {
    "cpu": StartValues(max_steps=20, batch_size=4, block_size=None, max_eval_blocks=32, tokens_per_s=200.0),
    "gpu": StartValues(max_steps=None, batch_size=32, block_size=None, max_eval_blocks=None, tokens_per_s=None),
}


def start_values(device: str) -> StartValues:
    """The Train screen's starting values for a device ("cpu", "cuda", "cuda:1", "mps", "auto": a GPU)."""
    return START_VALUES["cpu" if str(device).startswith("cpu") else "gpu"]


def estimate_s(values: StartValues, *, max_steps: int | None, batch_size: int, block_size: int | None) -> float | None:
    """Seconds the steps take at the device's rough throughput (None when it is not known)."""
    if values.tokens_per_s is None or not max_steps:
        return None
    return max_steps * batch_size * (block_size or DEFAULT_BLOCK) / values.tokens_per_s
