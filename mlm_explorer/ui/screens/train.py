"""Train: pick files, a model and a few options; run the job in its own process; watch it live.

The job is `python -m mlm_explorer.train ...` through `train.launch.TrainingRunner`; a thread
worker of the app reads its JSON-lines events and posts each one here as a `TrainEvent`. The
screen is a mode, so it (and the job) live on when the user switches to Explore. Cancel asks
first; the job then writes its checkpoint. "Load into Explore" loads the run's best (or latest)
checkpoint and keeps the current model as the base for the before/after view.

Probes (core.probes): the pinned ones (Explore's `p`, kept in the settings; delete unpins)
go to the job as `--probe TEXT|ANSWER`, a probes file as `--probes FILE`; each `probes` event
updates the probe table (widgets/probe_table.py): the latest step, with the change since the
run's first evaluation. `probe_history` keeps every event for the export.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DirectoryTree, Footer, Input, Label, ProgressBar, RichLog, Select, Static

from mlm_explorer.train import config as job_config
from mlm_explorer.ui.dialogs.confirm import ConfirmDialog
from mlm_explorer.ui.enums import JobState, Mode
from mlm_explorer.ui.messages import AuditAsked, ProbeUnpinned, TrainEvent
from mlm_explorer.ui.widgets.audit_panel import AuditPanel
from mlm_explorer.ui.widgets.forgetting_meter import ForgettingMeter
from mlm_explorer.ui.widgets.probe_table import ProbeList, ProbeTable
from mlm_explorer.ui.widgets.train_preview import TrainPreview

AUDIT_BLOCKS = 512  # the audit from the form looks at this many training blocks at most

# the job's own choices (train/config.py imports neither torch nor textual), labelled for the form
_LABELS = {"auto": "auto (by model)", "mlm": "mlm (80/10/10)", "span": "span (T5)", "infill": "infill (BART)"}
OBJECTIVES = [(_LABELS.get(o, o), o) for o in job_config.OBJECTIVES]
# precision auto: bf16 (or fp16) autocast on a GPU, fp32 on the CPU
_PRECISION_LABELS = {"auto": "auto (by device)", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}
PRECISIONS = [(_PRECISION_LABELS.get(p, p), p) for p in job_config.PRECISIONS]
JOB_DEFAULTS = job_config.defaults()  # the form starts from the job's own defaults


def _shown(value) -> str:
    """A default as the form shows it ("" for none, 5e-05 as 5e-5)."""
    if value is None:
        return ""
    return f"{value:g}".replace("e-0", "e-") if isinstance(value, float) else str(value)


class TextTree(DirectoryTree):
    """The file picker: no hidden files or folders (.git, .venv, ...)."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".")]


class TrainScreen(Screen):
    BINDINGS = [
        Binding("ctrl+g", "start", "Start", tooltip="Start fine-tuning with these options"),
        Binding("ctrl+r", "preview", "Preview", tooltip="Read the files and show what training would see, without training"),
        Binding("ctrl+x", "cancel_job", "Cancel job", tooltip="Stop the job (asks first); its checkpoint is kept"),
        Binding("ctrl+l", "load_result", "Load into Explore", tooltip="Load the finished run into Explore (before/after: b)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job_state = JobState.IDLE
        self.run_dir: str | None = None
        self.checkpoint: str | None = None
        self.losses: list[tuple[int, float]] = []
        self.evals: list[dict] = []
        self.probe_history: list[dict] = []  # the job's `probes` events: [{"step", "results"}, ...]
        self.forgetting_history: list[dict] = []  # the job's `forgetting` events (the meter)
        self.last_step: dict = {}

    def compose(self) -> ComposeResult:
        s, d = self.app.settings, JOB_DEFAULTS
        with Horizontal():
            with VerticalScroll(id="train-form") as form:
                form.border_title = "Fine-tune"
                yield Label("Documents: text, PDF, HTML, Word, JSONL, CSV", classes="train-heading")
                yield TextTree(".", id="train-tree")
                yield Input(placeholder="path (pick above or type)", id="train-path")
                with Horizontal(classes="train-row"):
                    yield Label("Model")
                    yield Input(s.model or d.model, id="train-model", tooltip="Hub name, directory, or bundled")
                with Horizontal(classes="train-row"):
                    yield Label("Objective")
                    yield Select(OBJECTIVES, value=d.objective, allow_blank=False, id="train-objective")
                with Horizontal(classes="train-row"):
                    yield Label("Steps")
                    yield Input(_shown(d.max_steps), id="train-steps", type="integer", placeholder="3 epochs",
                                tooltip="Optimizer steps (empty: 3 epochs)")
                with Horizontal(classes="train-row"):
                    yield Label("Time (min)")
                    yield Input(_shown(d.time_budget), id="train-minutes", type="number", placeholder="no limit",
                                tooltip="Stop after this many minutes")
                with Horizontal(classes="train-row"):
                    yield Label("Batch size")
                    yield Input(_shown(d.batch_size), id="train-batch", type="integer", tooltip="Blocks per optimizer step")
                with Horizontal(classes="train-row"):
                    yield Label("Learning rate")
                    yield Input(_shown(d.lr), id="train-lr", tooltip="Peak learning rate (AdamW, linear decay)")
                with Horizontal(classes="train-row"):
                    yield Label("Precision")
                    yield Select(PRECISIONS, value=d.precision, allow_blank=False, id="train-precision",
                                 tooltip="bf16 on the CPU: faster where it computes bf16 natively (AVX512-BF16, AMX)")
                with Horizontal(id="train-buttons"):
                    yield Button("Preview", id="train-preview", tooltip="What training would see (ctrl+r)")
                    yield Button("Start", id="train-start", variant="success")
                    yield Button("Cancel", id="train-cancel", variant="error", disabled=True)
                    yield Button("Load into Explore", id="train-load", disabled=True)
                with Horizontal(classes="train-row"):
                    yield Label("Text field")
                    yield Input("", id="train-text-field", placeholder="text (JSONL / CSV)",
                                tooltip="JSON lines / CSV: the field or column that holds the text")
                yield Label("Masking audit: the job's masking on these files", classes="train-heading")
                yield AuditPanel(id="train-audit")
                yield Label("Probes: answer rank at each evaluation", classes="train-heading")
                yield Input(placeholder="probes file (text with [MASK] TAB answer)", id="train-probes-file",
                            tooltip="One probe per line: a sentence with [MASK], a tab (or ' | '), the answer")
                pinned = ProbeList(id="train-pinned")
                pinned.tooltip = "Probes pinned in Explore (p); delete: unpin the highlighted one"
                yield pinned
            with Vertical(id="train-live") as live:
                live.border_title = "Job"
                yield Label("no job yet: choose files and press Start (ctrl+g)", id="train-status")
                yield ProgressBar(id="train-progress", show_eta=True, classes="hidden")
                yield Static("", id="train-stats")
                yield TrainPreview(id="train-data", classes="hidden")
                yield ProbeTable(id="probe-table", classes="hidden")
                yield ForgettingMeter(id="forgetting-meter", classes="hidden")
                yield self._plot()
                yield RichLog(id="train-log", wrap=True, markup=False, max_lines=500)
        yield Footer()

    def _plot(self):
        try:
            from textual_plotext import PlotextPlot

            plot = PlotextPlot(id="loss-plot")
        except ImportError:  # fall back to a sparkline
            from textual.widgets import Sparkline

            plot = Sparkline([], id="loss-plot")
        plot.border_title = "loss"
        return plot

    def on_mount(self) -> None:
        self.app.train_screen = self  # the export reads the probe table from here
        self.watch(self.app, "probes_version", self._show_pinned)

    def _show_pinned(self, _version: int = 0) -> None:
        self.query_one("#train-pinned", ProbeList).show(self.app.settings.probes)

    @on(ProbeUnpinned)
    def _unpin(self, event: ProbeUnpinned) -> None:
        self.app.unpin_probe(event.index)

    # -- form ---------------------------------------------------------------------------------
    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event) -> None:
        self.query_one("#train-path", Input).value = str(event.path)

    def build_args(self) -> list[str]:
        """The job's command line from the form (raises ValueError with a message)."""
        value = lambda wid: self.query_one(f"#{wid}", Input).value.strip()
        path = value("train-path")
        if not path:
            raise ValueError("choose a file or folder to train on (tree or typed path)")
        if not Path(path).expanduser().exists():
            raise ValueError(f"no such file or folder: {path}")
        d = JOB_DEFAULTS
        args = [str(Path(path).expanduser()), "--model", value("train-model") or d.model,
                "--objective", str(self.query_one("#train-objective", Select).value)]
        if value("train-text-field"):
            args += ["--text-field", value("train-text-field")]
        if value("train-steps"):
            args += ["--max-steps", str(int(value("train-steps")))]
        if value("train-minutes"):
            args += ["--time-budget", str(float(value("train-minutes")))]
        args += ["--batch-size", str(int(value("train-batch") or d.batch_size))]
        args += ["--lr", str(float(value("train-lr") or d.lr))]
        args += ["--precision", str(self.query_one("#train-precision", Select).value)]
        steps = int(value("train-steps") or 0)
        if steps:  # evaluate and log often enough to see something on short runs
            args += ["--eval-every", str(max(1, min(200, steps // 4 or 1))),
                     "--log-every", str(max(1, min(10, steps // 20 or 1)))]
        args += ["--device", self.app.device if self.app.device != "auto" else "auto"]
        return args + self._probe_args(value("train-probes-file"))

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

    @on(AuditAsked)
    def _audit(self, event: AuditAsked) -> None:
        """The masking audit of the form's files and options (nothing is trained)."""
        panel = self.query_one(AuditPanel)
        try:
            args = self.build_args()
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        panel.busy(True)
        panel.show(note="auditing: the job's data preparation and masking over these files…")
        self.app.start_audit(panel, args + ["--max-blocks", str(AUDIT_BLOCKS)])

    # -- actions ------------------------------------------------------------------------------
    @on(Button.Pressed, "#train-start")
    def action_start(self) -> None:
        if self.app.training:
            self.notify("a job is already running; cancel it first", severity="warning")
            return
        try:
            args = self.build_args()
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.losses, self.evals, self.last_step, self.probe_history = [], [], {}, []
        self.forgetting_history = []
        self.query_one("#probe-table").add_class("hidden")
        self.query_one("#forgetting-meter").add_class("hidden")
        self.run_dir = self.checkpoint = None
        self.query_one("#train-log", RichLog).clear()
        self._log("$ python -m mlm_explorer.train " + " ".join(args))
        self._set_state(JobState.STARTING)
        self.app.start_training(self, args)

    @on(Button.Pressed, "#train-preview")
    def action_preview(self) -> None:
        """The job with --dry-run: the files, their tokens, the skipped ones, samples, the time."""
        if self.app.training:
            self.notify("a job is running; its data is shown above", severity="warning")
            return
        try:
            args = self.build_args() + ["--dry-run"]
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.query_one("#train-data", TrainPreview).show_pending("reading the files and timing a few steps…")
        self._log("$ python -m mlm_explorer.train " + " ".join(args))
        self._set_state(JobState.PREVIEWING)
        self.app.start_training(self, args)

    @on(Button.Pressed, "#train-cancel")
    def action_cancel_job(self) -> None:
        if not self.app.training:
            return

        def answer(yes: bool | None) -> None:
            if yes and self.app.train_runner is not None:
                self.app.train_runner.cancel()
                self._log("cancelling: the job writes its checkpoint, then stops…")

        self.app.push_screen(ConfirmDialog("Cancel the training job? Its last checkpoint is kept.",
                                           yes="Cancel job", no="Keep training"), answer)

    @on(Button.Pressed, "#train-load")
    def action_load_result(self) -> None:
        target = self.run_dir or self.checkpoint
        if not target:
            self.notify("no checkpoint yet", severity="warning")
            return
        self.app.load_finetuned(target)
        self.app.switch_mode(Mode.EXPLORE)

    # -- events from the job --------------------------------------------------------------------
    def on_train_event(self, message: TrainEvent) -> None:
        e, name = message.event, message.name
        if name == "preview":
            self.query_one("#train-data", TrainPreview).show_preview(e)
        elif name == "started":
            self.query_one("#train-data", TrainPreview).show_report(e.get("data", {}))
            self.run_dir = e.get("run_dir") or self.run_dir
            self._set_state(JobState.RUNNING)
            self._log(f"started: {e.get('objective', '')} on {e.get('device', '')} "
                      f"({e.get('precision', '')}); run {self.run_dir}")
        elif name == "step":
            self.last_step = e
            if isinstance(e.get("loss"), (int, float)):
                self.losses.append((int(e.get("step", 0)), float(e["loss"])))
            total = e.get("max_steps")
            bar = self.query_one("#train-progress", ProgressBar)
            if total:
                bar.update(total=total, progress=e.get("step", 0))
            self._draw_stats()
            self._draw_plot()
        elif name == "eval":
            self.evals.append(e)
            self._draw_stats()
            if self.forgetting_history:
                self.query_one(ForgettingMeter).show(self.forgetting_history, self.evals)
            self._log(f"eval at step {e.get('step')}: loss {_f(e.get('loss'))}, "
                      f"perplexity {_f(e.get('perplexity'))}, accuracy {_pct(e.get('accuracy'))}")
        elif name == "probes":
            self.show_probes(e)
        elif name == "forgetting":
            self.show_forgetting(e)
        elif name == "checkpoint":
            self.checkpoint = e.get("path")
            self._log(f"checkpoint: {self.checkpoint}")
        elif name == "finished":
            self.run_dir = e.get("run_dir") or self.run_dir
            self._set_state(JobState.FINISHED)
            bar = self.query_one("#train-progress", ProgressBar)
            if bar.total:
                bar.update(progress=bar.total)
            self._log(f"finished at step {e.get('step')}: {self.run_dir}")
            self.notify("training finished: Load into Explore (ctrl+l) to try it", title="train")
        elif name == "cancelled":
            self.checkpoint = e.get("checkpoint") or self.checkpoint
            self._set_state(JobState.CANCELLED)
            self._log(f"cancelled at step {e.get('step')}; checkpoint {self.checkpoint}")
        elif name == "error":
            if self.job_state == JobState.PREVIEWING:
                self.query_one("#train-data", TrainPreview).show_pending(f"no preview: {e.get('message')}")
            self._set_state(JobState.ERROR)
            self._log("error: " + str(e.get("message")))
            for line in e.get("stderr", [])[-8:]:
                self._log("  " + line)
            self.notify(str(e.get("message")), title="training failed", severity="error", timeout=12)
        elif name == "log":
            self._log(str(e.get("message", "")))
        elif name == "exited":
            if self.job_state == JobState.PREVIEWING:
                self._set_state(JobState.ERROR if e.get("returncode") else JobState.PREVIEWED)
            elif self.job_state.active:
                self._set_state(JobState.ERROR if e.get("returncode") else JobState.FINISHED)

    def show_probes(self, event: dict) -> None:
        """One `probes` event {"step", "results"}: into the history and the table (latest step)."""
        step = int(event.get("step", 0))
        self.probe_history = [h for h in self.probe_history if h["step"] != step]
        self.probe_history.append({"step": step, "results": list(event.get("results", []))})
        self.probe_history.sort(key=lambda h: h["step"])
        table = self.query_one("#probe-table", ProbeTable)
        table.show(self.probe_history)
        table.remove_class("hidden")
        self._log(f"probes at step {step}: " + ", ".join(
            f"{r.get('answer')} rank {r.get('rank')}" for r in event.get("results", [])))

    def show_forgetting(self, event: dict) -> None:
        """One `forgetting` event {"step", "top1", "top5", "mean_rank", ...}: the meter, beside the held-out loss."""
        step = int(event.get("step", 0))
        self.forgetting_history = [h for h in self.forgetting_history if h["step"] != step]
        self.forgetting_history.append({k: v for k, v in event.items() if k not in ("event", "time")})
        self.forgetting_history.sort(key=lambda h: h["step"])
        meter = self.query_one(ForgettingMeter)
        meter.show(self.forgetting_history, self.evals)
        meter.remove_class("hidden")

    # -- drawing --------------------------------------------------------------------------------
    def _set_state(self, state: JobState) -> None:
        self.job_state = state
        running = state.active
        self.query_one("#train-progress").set_class(
            state in (JobState.IDLE, JobState.STARTING, JobState.PREVIEWING, JobState.PREVIEWED), "hidden")
        self.query_one("#train-preview", Button).disabled = running
        self.query_one("#train-start", Button).disabled = running
        self.query_one("#train-cancel", Button).disabled = not running
        self.query_one("#train-load", Button).disabled = running or not (self.run_dir or self.checkpoint)
        text = {JobState.PREVIEWING: "preview: reading the files…",
                JobState.PREVIEWED: "preview ready: Start when it looks right",
                JobState.STARTING: "starting the job…", JobState.RUNNING: "running", JobState.FINISHED: "finished",
                JobState.CANCELLED: "cancelled (checkpoint kept)", JobState.ERROR: "failed",
                JobState.IDLE: "no job"}[state]
        self.query_one("#train-status", Label).update(Text(text, style="bold"))
        self.query_one("#train-live").border_title = f"Job: {text}"

    def _draw_stats(self) -> None:
        e = self.last_step
        parts = [f"step {e.get('step', 0)}" + (f"/{e['max_steps']}" if e.get("max_steps") else ""),
                 f"loss {_f(e.get('loss'))}", f"{_f(e.get('tokens_per_s'), 0)} tokens/s",
                 f"ETA {_eta(e.get('eta_s'))}", f"lr {_f(e.get('lr'), 2, sci=True)}"]
        if self.evals:
            last = self.evals[-1]
            parts.append(f"eval ppl {_f(last.get('perplexity'))} acc {_pct(last.get('accuracy'))}")
        self.query_one("#train-stats", Static).update(" · ".join(parts))

    def _draw_plot(self) -> None:
        plot = self.query_one("#loss-plot")
        steps = [s for s, _ in self.losses]
        values = [v for _, v in self.losses]
        if hasattr(plot, "plt"):
            plt = plot.plt
            plt.clear_data()
            plt.plot(steps, values, marker="braille")
            plt.xlabel("step")
            plot.refresh()
        else:
            plot.data = values

    def _log(self, line: str) -> None:
        self.query_one("#train-log", RichLog).write(line)


def _f(value, digits: int = 3, sci: bool = False) -> str:
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}e}" if sci else f"{value:.{digits}f}"


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "–"


def _eta(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "–"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"
