"""Train: pick files, a model and a few options; run the job in its own process; watch it live.

The job is `python -m mlm_explorer.train ...` through `train.launch.TrainingRunner`; a thread
worker of the app reads its JSON-lines events and posts each one here as a `TrainEvent`. The
screen is a mode, so it (and the job) live on when the user switches to Explore. Start begins a
new run, Resume continues an unfinished one (`--resume RUN`), Cancel asks first (the job then
writes its checkpoint). "Load into Explore" loads the run's best (or latest) checkpoint with
the model it started from as the base for the before/after view (app.load_finetuned).

The form (form.py) builds the command line; the job panel (live.py) shows what the job does.
Probes (core.probes): the pinned ones go to the job as `--probe TEXT|ANSWER`; each `probes`
event updates the probe table; `probe_history` keeps every event for the export.
"""

from __future__ import annotations

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Select

from mlm_explorer.train.run.report_text import resumed_line
from mlm_explorer.ui.dialogs.confirm import ConfirmDialog
from mlm_explorer.ui.enums import JobState, Mode
from mlm_explorer.ui.messages import AuditAsked, ProbeUnpinned, TrainEvent
from mlm_explorer.ui.screens.footer import footer_first
from mlm_explorer.ui.screens.train.form import TrainForm
from mlm_explorer.ui.screens.train.live import JobView, number, percent
from mlm_explorer.ui.widgets.audit_panel import AuditPanel
from mlm_explorer.ui.widgets.forgetting_meter import ForgettingMeter
from mlm_explorer.ui.widgets.probe_table import ProbeList, ProbeTable
from mlm_explorer.ui.widgets.train_preview import TrainPreview

AUDIT_BLOCKS = 512  # the audit from the form looks at this many training blocks at most
NARROW = 110  # below this width the form and the job panel stack (one scroll)
STATUS = {JobState.PREVIEWING: "preview: reading the files…", JobState.PREVIEWED: "preview ready: Start when it looks right",
          JobState.STARTING: "starting the job…", JobState.RUNNING: "running", JobState.FINISHED: "finished",
          JobState.CANCELLED: "cancelled: checkpoint kept, Resume (ctrl+o) continues it", JobState.ERROR: "failed",
          JobState.IDLE: "no job"}


class TrainScreen(Screen):
    AUTO_FOCUS = "#train-path"  # the first thing to give: the files
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]
    BINDINGS = [
        Binding("ctrl+g", "start", "Start", tooltip="Start fine-tuning with these options"),
        Binding("ctrl+o", "resume", "Resume", tooltip="Continue the chosen unfinished run from its last checkpoint"),
        Binding("ctrl+r", "preview", "Preview", tooltip="Read the files and show what training would see, without training"),
        # priority: a form field's own ctrl+x (cut) would swallow it; with no job, the field gets it back
        Binding("ctrl+x", "cancel_job", "Cancel job", priority=True,
                tooltip="Stop the job (asks first); its checkpoint is kept"),
        Binding("ctrl+l", "load_result", "Load run", tooltip="Load the run into Explore, with its base model (before/after: b)"),
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
        with Horizontal(id="train-buttons"):
            yield Button("Preview", id="train-preview", tooltip="What training would see (ctrl+r)")
            yield Button("Start", id="train-start", variant="success", tooltip="A new run (ctrl+g)")
            yield Button("Resume", id="train-resume", tooltip="Continue the run chosen under Resume (ctrl+o)")
            yield Button("Cancel", id="train-cancel", variant="error", disabled=True, tooltip="ctrl+x")
            yield Button("Load into Explore", id="train-load", disabled=True, tooltip="ctrl+l")
        with Container(id="train-body"):
            yield TrainForm(id="train-form")
            live = JobView(id="train-live")
            live.border_title = "Job"
            yield live
        yield Footer(compact=True)

    @property
    def active_bindings(self):
        return footer_first(super().active_bindings)  # F1-F4 first: they fit 80 columns

    @property
    def form(self) -> TrainForm:
        return self.query_one(TrainForm)

    @property
    def live(self) -> JobView:
        return self.query_one(JobView)

    def on_mount(self) -> None:
        self.app.train_screen = self  # the export reads the probe table from here
        self.watch(self.app, "probes_version", self._show_pinned)
        self.watch(self.app, "model_version", lambda _v: self.form.refresh_defaults(), init=False)
        self._set_state(JobState.IDLE)

    def on_screen_resume(self) -> None:
        """Back from Explore: its masking settings may have changed; runs may have stopped."""
        self.form.refresh_defaults()
        if not self.job_state.active:
            self.form.refresh_runs()

    def _show_pinned(self, _version: int = 0) -> None:
        self.query_one("#train-pinned", ProbeList).show(self.app.settings.probes)

    @on(ProbeUnpinned)
    def _unpin(self, event: ProbeUnpinned) -> None:
        self.app.unpin_probe(event.index)

    def build_args(self) -> list[str]:
        """A new run's command line from the form (ValueError with a message)."""
        return self.form.job_args()

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
        self._launch(self.build_args, resume=False)

    @on(Button.Pressed, "#train-resume")
    def action_resume(self) -> None:
        self._launch(self.form.resume_args, resume=True)

    def _launch(self, make_args, *, resume: bool) -> None:
        if self.app.training:
            self.notify("a job is already running; cancel it first", severity="warning")
            return
        try:
            args = make_args()
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.losses, self.evals, self.last_step, self.probe_history = [], [], {}, []
        self.forgetting_history = []
        self.run_dir = self.checkpoint = None
        self.live.reset()
        self._log("$ python -m mlm_explorer.train " + " ".join(args))
        self._set_state(JobState.STARTING)
        self.live.scroll_visible(animate=False)  # stacked (narrow): the job panel is below the form
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

    def action_cancel_job(self) -> None:
        if not self.app.training:
            raise SkipAction()  # no job: a focused field's own ctrl+x (cut) runs instead
        self._ask_cancel()

    @on(Button.Pressed, "#train-cancel")
    def _ask_cancel(self) -> None:
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
        """This session's run, else the run chosen under Resume (made here or by the CLI)."""
        target = self._loadable()
        if not target:
            self.notify("no run yet: train one, or choose one under Resume (ctrl+p lists every run)",
                        severity="warning")
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
            resumed = resumed_line(e)
            self._set_state(JobState.RUNNING, text=f"running ({resumed.split(' (')[0]})" if resumed else "")
            if resumed:
                self._log(resumed)
                self.notify(resumed, title="train", timeout=6)
            self._log(f"started: {e.get('objective', '')} on {e.get('device', '')} "
                      f"({e.get('precision', '')}); run {self.run_dir}")
        elif name == "step":
            self.last_step = e
            if isinstance(e.get("loss"), (int, float)):
                self.losses.append((int(e.get("step", 0)), float(e["loss"])))
            self.live.show_step(e)
            self.live.draw_stats(e, self.evals)
            self.live.draw_plot(self.losses)
        elif name == "eval":
            self.evals.append(e)
            self.live.draw_stats(self.last_step, self.evals)
            if self.forgetting_history:
                self.query_one(ForgettingMeter).show(self.forgetting_history, self.evals)
            self._log(f"eval at step {e.get('step')}: loss {number(e.get('loss'))}, "
                      f"perplexity {number(e.get('perplexity'))}, accuracy {percent(e.get('accuracy'))}")
        elif name == "probes":
            self.show_probes(e)
        elif name == "forgetting":
            self.show_forgetting(e)
        elif name == "checkpoint":
            self.checkpoint = e.get("path")
            self._log(f"checkpoint: {self.checkpoint}")
        elif name == "finished":
            self.run_dir = e.get("run_dir") or self.run_dir
            self._set_state(JobState.FINISHED, text=f"finished at step {e.get('step')}")
            self.live.finish_bar()
            self._log(f"finished at step {e.get('step')}: {self.run_dir}")
            self.notify("training finished: Load into Explore (ctrl+l) to try it", title="train")
        elif name == "cancelled":
            self.checkpoint = e.get("checkpoint") or self.checkpoint
            self.run_dir = e.get("run_dir") or self.run_dir
            self._set_state(JobState.CANCELLED, text=f"cancelled at step {e.get('step')}: Resume (ctrl+o) continues it")
            self._log(f"cancelled at step {e.get('step')}; checkpoint {self.checkpoint}; Resume (ctrl+o) continues it")
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
            self.form.refresh_runs(chosen=self.run_dir if self.job_state == JobState.CANCELLED else None)

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

    def _loadable(self) -> str | None:
        return self.run_dir or self.checkpoint or self.form.chosen_run()

    @on(Select.Changed, "#train-resume-run")
    def _run_chosen(self) -> None:
        self.query_one("#train-load", Button).disabled = self.job_state.active or not self._loadable()

    # -- drawing --------------------------------------------------------------------------------
    def _set_state(self, state: JobState, text: str = "") -> None:
        self.job_state = state
        running = state.active
        for wid in ("#train-preview", "#train-start", "#train-resume"):
            self.query_one(wid, Button).disabled = running
        self.query_one("#train-cancel", Button).disabled = not running
        self.query_one("#train-load", Button).disabled = running or not self._loadable()
        text = text or STATUS[state]
        bar = state not in (JobState.IDLE, JobState.STARTING, JobState.PREVIEWING, JobState.PREVIEWED)
        self.live.show_status(text, bar=bar)
        self.refresh_bindings()

    def _log(self, line: str) -> None:
        self.live.log(line)
