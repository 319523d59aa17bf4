"""The Train screen's form: the job's options, and the job's command line built from them.

Starting values: the job's own defaults (train/config.py), with the length, batch and block
size of `config.start_values(device)` (a run of about a minute on a CPU, the job's defaults on a
GPU) and the masking chosen in Explore (rate, whole words: the app's settings). A field the
user has not touched follows those when they change (`refresh_defaults`); a field they typed in
keeps their value. The estimate under the length fields is `config.estimate_s`, before Start.

Resume: the runs that stopped before their end (rundir.unfinished_runs); choosing one shows its
recorded length, and `resume_args` continues it (to "Resume to step" when given: train longer).
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, DirectoryTree, Input, Label, Select

from mlm_explorer import rundir
from mlm_explorer.train import config as job_config
from mlm_explorer.train.run.report_text import rough_estimate_line
from mlm_explorer.ui.widgets.audit_panel import AuditPanel
from mlm_explorer.ui.widgets.probe_table import ProbeList

# the job's own choices (train/config.py imports neither torch nor textual), labelled for the form
_LABELS = {"auto": "auto (by model)", "mlm": "mlm (80/10/10)", "span": "span (T5)", "infill": "infill (BART)"}
OBJECTIVES = [(_LABELS.get(o, o), o) for o in job_config.OBJECTIVES]
# precision auto: bf16 (or fp16) autocast on a GPU, fp32 on the CPU
_PRECISION_LABELS = {"auto": "auto (by device)", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}
PRECISIONS = [(_PRECISION_LABELS.get(p, p), p) for p in job_config.PRECISIONS]
JOB_DEFAULTS = job_config.defaults()  # the form starts from the job's own defaults
EVALUATIONS = 2  # a run given a length evaluates this many times (the last at its end)


def shown(value) -> str:
    """A default as the form shows it ("" for none, 5e-05 as 5e-5)."""
    if value is None:
        return ""
    return f"{value:g}".replace("e-0", "e-") if isinstance(value, float) else str(value)


class TextTree(DirectoryTree):
    """The file picker: no hidden files or folders (.git, .venv, ...)."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".")]


def _row(label: str, widget) -> Horizontal:
    return Horizontal(Label(label), widget, classes="train-row")


class TrainForm(VerticalScroll):
    """The options; `job_args()` / `resume_args()` turn them into the job's command line."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._auto: dict[str, str] = {}  # field id -> the value the form filled in itself

    def compose(self) -> ComposeResult:
        d = JOB_DEFAULTS
        self.border_title = "Fine-tune"
        yield Label("Documents: text, PDF, HTML, Word, JSONL, CSV", classes="train-heading")
        yield TextTree(".", id="train-tree")
        yield Input(placeholder="path (pick above or type)", id="train-path")
        yield _row("Model", Input(self.app.settings.model or d.model, id="train-model",
                                  tooltip="Hub name, directory, or bundled"))
        yield _row("Objective", Select(OBJECTIVES, value=d.objective, allow_blank=False, id="train-objective"))
        yield _row("Steps", Input(id="train-steps", type="integer", placeholder="3 epochs",
                                  tooltip="Optimizer steps (empty: 3 epochs)"))
        yield _row("Time (min)", Input(shown(d.time_budget), id="train-minutes", type="number",
                                       placeholder="no limit", tooltip="Stop after this many minutes"))
        yield _row("Batch size", Input(id="train-batch", type="integer", tooltip="Blocks per optimizer step"))
        yield _row("Block size", Input(id="train-block", type="integer", placeholder=str(job_config.DEFAULT_BLOCK),
                                       tooltip="Tokens per block (at most the model's limit)"))
        yield Label("", id="train-estimate")
        yield _row("Mask rate", Input(id="train-rate", type="number",
                                      tooltip="mlm: share of tokens picked (Explore's rate)"))
        yield Checkbox("Mask whole words (Explore's W)", id="train-whole-word")
        yield _row("Learning rate", Input(shown(d.lr), id="train-lr", tooltip="Peak learning rate (AdamW, linear decay)"))
        yield _row("Precision", Select(PRECISIONS, value=d.precision, allow_blank=False, id="train-precision",
                                       tooltip="bf16 on the CPU: faster where it computes bf16 natively (AVX512-BF16, AMX)"))
        yield _row("Text field", Input("", id="train-text-field", placeholder="text (JSONL / CSV)",
                                       tooltip="JSON lines / CSV: the field or column that holds the text"))
        yield Label("Resume a run that stopped early (ctrl+o)", classes="train-heading")
        yield Select([], prompt="no unfinished run", id="train-resume-run",
                     tooltip="Cancelled, killed or failed runs; Resume continues from their last checkpoint")
        yield _row("Resume to step", Input(id="train-resume-steps", type="integer", placeholder="its own length",
                                           tooltip="Train the resumed run to this step (empty: the length it was given)"))
        yield Label("Masking audit: the job's masking on these files", classes="train-heading")
        yield AuditPanel(id="train-audit")
        yield Label("Probes: answer rank at each evaluation", classes="train-heading")
        yield Input(placeholder="probes file (text with [MASK] TAB answer)", id="train-probes-file",
                    tooltip="One probe per line: a sentence with [MASK], a tab (or ' | '), the answer")
        pinned = ProbeList(id="train-pinned")
        pinned.tooltip = "Probes pinned in Explore (p); delete: unpin the highlighted one"
        yield pinned

    def on_mount(self) -> None:
        self.refresh_defaults()
        self.refresh_runs()

    # -- starting values --------------------------------------------------------------------
    def device_kind(self) -> str:
        """Where the job will run, as far as the app knows: its --device, else the model's device."""
        device = self.app.device
        if device == "auto":
            lm = getattr(self.app, "lm", None)
            device = str(getattr(lm, "device", "cpu")) if lm is not None else "cpu"
        return device

    def refresh_defaults(self) -> None:
        """Fill the untouched fields from the device's start values and Explore's masking."""
        v = job_config.start_values(self.device_kind())
        s = self.app.settings
        for wid, value in (("train-steps", shown(v.max_steps)), ("train-batch", shown(v.batch_size)),
                           ("train-block", shown(v.block_size)), ("train-rate", shown(float(s.rate)))):
            field = self.query_one(f"#{wid}", Input)
            if wid not in self._auto or field.value == self._auto[wid]:
                field.value = self._auto[wid] = value
        box = self.query_one("#train-whole-word", Checkbox)
        if "whole" not in self._auto or str(box.value) == self._auto["whole"]:
            box.value = bool(s.whole_word)
            self._auto["whole"] = str(box.value)
        self.show_estimate()

    @on(Input.Changed, "#train-steps, #train-batch, #train-block")
    def show_estimate(self) -> None:
        v = job_config.start_values(self.device_kind())
        try:
            steps, batch, block = (_int(self._value(w)) for w in ("train-steps", "train-batch", "train-block"))
        except ValueError:  # Start says what is wrong
            return
        batch = batch or JOB_DEFAULTS.batch_size
        seconds = job_config.estimate_s(v, max_steps=steps, batch_size=batch, block_size=block)
        self.query_one("#train-estimate", Label).update(
            rough_estimate_line(seconds, steps=steps, batch=batch, block=block or job_config.DEFAULT_BLOCK))

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event) -> None:
        self.query_one("#train-path", Input).value = str(event.path)

    # -- runs to resume -----------------------------------------------------------------------
    def refresh_runs(self, chosen: str | None = None) -> None:
        """List the unfinished runs; keep (or choose) `chosen`, else the current choice."""
        select = self.query_one("#train-resume-run", Select)
        keep = chosen or (select.value if isinstance(select.value, str) else None)
        runs = rundir.unfinished_runs()
        select.set_options([(f"{r.name} · {r.status} at step {r.step or 0}", r.path) for r in runs])
        paths = [r.path for r in runs]
        if keep in paths:
            select.value = keep
        elif chosen is None and paths and keep is None:
            select.value = paths[0]

    def chosen_run(self) -> str | None:
        value = self.query_one("#train-resume-run", Select).value
        return value if isinstance(value, str) else None

    @on(Select.Changed, "#train-resume-run")
    def _run_chosen(self, event: Select.Changed) -> None:
        """Show the chosen run's recorded length (what Resume continues to, unless given)."""
        steps = None
        if isinstance(event.value, str):
            try:
                steps = (rundir.read_record(Path(event.value)).get("config") or {}).get("max_steps")
            except (OSError, ValueError):
                pass
        self.query_one("#train-resume-steps", Input).placeholder = (
            f"{steps} (its length)" if steps else "its own length")

    # -- the job's command line ---------------------------------------------------------------
    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def job_args(self) -> list[str]:
        """A new run's command line from the form (ValueError with a message)."""
        path = self._value("train-path")
        if not path:
            raise ValueError("choose a file or folder to train on (tree or typed path)")
        if not Path(path).expanduser().exists():
            raise ValueError(f"no such file or folder: {path}")
        d, v = JOB_DEFAULTS, job_config.start_values(self.device_kind())
        args = [str(Path(path).expanduser()), "--model", self._value("train-model") or d.model,
                "--objective", str(self.query_one("#train-objective", Select).value)]
        if self._value("train-text-field"):
            args += ["--text-field", self._value("train-text-field")]
        steps = _int(self._value("train-steps"), "Steps")
        if steps:
            args += ["--max-steps", str(steps)]
        if self._value("train-minutes"):
            args += ["--time-budget", str(_float(self._value("train-minutes"), "Time (min)"))]
        args += ["--batch-size", str(_int(self._value("train-batch"), "Batch size") or d.batch_size)]
        block = _int(self._value("train-block"), "Block size")
        if block:
            args += ["--block-size", str(block)]
        rate = _float(self._value("train-rate"), "Mask rate")
        if rate is not None:
            if not 0.0 < rate <= 1.0:
                raise ValueError(f"Mask rate {rate:g}: give a share between 0 and 1 (0.15 is BERT's)")
            args += ["--mask-rate", shown(rate)]
        if self.query_one("#train-whole-word", Checkbox).value:
            args.append("--whole-word")
        args += ["--lr", str(_float(self._value("train-lr"), "Learning rate") or d.lr)]
        args += ["--precision", str(self.query_one("#train-precision", Select).value)]
        if steps:  # evaluate and log often enough to see something on short runs
            args += ["--eval-every", str(max(1, min(200, steps // EVALUATIONS or 1))),
                     "--log-every", str(max(1, min(10, steps // 20 or 1)))]
        if v.max_eval_blocks:
            args += ["--max-eval-blocks", str(v.max_eval_blocks)]
        return args + ["--device", self.app.device] + self._probe_args(self._value("train-probes-file"))

    def resume_args(self) -> list[str]:
        """The chosen unfinished run's command line: --resume RUN, and "Resume to step" when given."""
        run = self.chosen_run()
        if run is None:
            raise ValueError("no run to resume: a cancelled, killed or failed run shows up under Resume")
        args = ["--resume", run, "--device", self.app.device]
        steps = _int(self._value("train-resume-steps"), "Resume to step")
        return args + (["--max-steps", str(steps)] if steps else [])

    def _probe_args(self, probes_file: str) -> list[str]:
        """--probes FILE (checked here: core.probes.parse_probe_file) and one --probe per pinned probe."""
        from mlm_explorer.core.explain.probes import parse_probe_file
        from mlm_explorer.errors import InputError

        args = []
        if probes_file:
            try:
                parse_probe_file(probes_file)
            except InputError as exc:
                raise ValueError(str(exc)) from None
            args += ["--probes", str(Path(probes_file).expanduser())]
        for p in self.app.settings.probes:
            sep = "\t" if "|" in p["answer"] else " | "  # core.probes.parse_probe_line: last tab, else last |
            args += ["--probe", p["text"] + sep + p["answer"]]
        return args


def _int(text: str, field: str = "") -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a whole number") from None


def _float(text: str, field: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a number") from None
