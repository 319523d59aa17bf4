"""The mlm-explorer Textual app: three screens (Explore, Compare, Train) as modes.

The app owns the models (`lm`, the base model for before/after, the T5 for Compare; loaded and
switched by its `model_switch`, ui/model_switch.py), the settings, and every thread worker. Screens ask for work with `run_work` and get the answers
as messages (`ui/messages.py`) tagged with a request number, so a stale answer can be
dropped. Worker bodies call `ui/workers.py`, which only calls `mlm_explorer.core`; nothing
here imports torch, so the first frame never waits for it. Failed work of every kind takes
one path, `work_failed`: one notification, then `WorkFailed` to whoever asked.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message_pump import MessagePump
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from mlm_explorer.errors import UserError
from mlm_explorer.settings import DARK_THEME, LIGHT_THEME, Settings, load_settings, save_settings
from mlm_explorer.ui import workers
from mlm_explorer.ui.commands import ModelCommands
from mlm_explorer.ui.dialogs.confirm import ChoiceDialog
from mlm_explorer.ui.enums import Mode, Role
from mlm_explorer.ui.messages import AuditEvent, CompareModelReady, ModelReady, TrainEvent, WorkFailed
from mlm_explorer.ui.model_switch import ModelSwitch
from mlm_explorer.ui.screens.compare import CompareScreen
from mlm_explorer.ui.screens.explore.screen import ExploreScreen
from mlm_explorer.ui.screens.help import HelpScreen
from mlm_explorer.ui.screens.train import TrainScreen

class MLMExplorerApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlm-explorer"
    MODES = {Mode.EXPLORE: ExploreScreen, Mode.COMPARE: CompareScreen, Mode.TRAIN: TrainScreen}
    DEFAULT_MODE = Mode.EXPLORE
    COMMANDS = App.COMMANDS | {ModelCommands}

    BINDINGS = [
        Binding("f1", "help", "Help", tooltip="What MLM, 80/10/10 and T5 sentinels are; all keys"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("f2", "switch_mode('explore')", "Explore", tooltip="Type, mask, read the distribution"),
        Binding("f3", "switch_mode('compare')", "Compare", tooltip="The same blanks filled by BERT and by T5"),
        Binding("f4", "switch_mode('train')", "Train", tooltip="Fine-tune on your files in the background"),
        Binding("ctrl+t", "toggle_theme", "Theme", tooltip="Switch between the dark and the light theme"),
        Binding("ctrl+s", "export", "Export", tooltip="Save the current view as JSON, Markdown, HTML and SVG (offline)"),
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit (asks first if a training job is running)", priority=True),
    ]

    model_status: reactive[str] = reactive("starting…")
    model_version: reactive[int] = reactive(0)  # bumps when lm / base_lm change
    t5_status: reactive[str] = reactive("")
    t5_version: reactive[int] = reactive(0)
    probes_version: reactive[int] = reactive(0)  # bumps when the pinned probes change
    compare_version: reactive[int] = reactive(0)  # bumps when a Compare column's model loads or fails

    def __init__(self, model: str | None = None, t5: str | None = None, device: str = "auto", *,
                 text: str | None = None, settings: Settings | None = None, persist: bool = True) -> None:
        self.settings = settings or load_settings()
        if model is not None:
            self.settings.model = model
        if t5 is not None:
            self.settings.t5_model = t5
        super().__init__()
        self.device = device
        self.initial_text = text
        self.persist = persist
        self.lm: Any = None  # core.models.LoadedModel (encoder MLM) used by Explore
        self.base_lm: Any = None  # the model before fine-tuning (before/after view)
        self.t5_lm: Any = None
        self.t5_missing = False
        self.first_frame_at: float | None = None  # perf_counter() times, read by benchmarks/bench_app.py
        self.torch_at_first_frame: bool | None = None
        self.model_ready_at: float | None = None
        self.train_runner: Any = None  # train.launch.TrainingRunner while a job runs
        self.train_said_end = False  # its job sent finished / cancelled / error: only its exit remains
        self._targets: dict[str, MessagePump] = {}
        self.explore: ExploreScreen | None = None  # set by the Explore screen when mounted
        self.train_screen: TrainScreen | None = None  # set by the Train screen when mounted
        self.compare_screen: CompareScreen | None = None  # set by the Compare screen when mounted
        self.compare_lms: dict[str, Any] = {}  # Compare's added columns: name -> LoadedModel
        self.compare_status: dict[str, str] = {}  # name -> "loading…", the model, or why it did not load
        self.model_switch = ModelSwitch(self)  # loads and switches the models above

    # -- start-up and models (ui/model_switch.py; these names are what screens and the palette call)
    def on_mount(self) -> None:
        self.theme = self.settings.theme if self.settings.theme in self.available_themes else DARK_THEME
        self.call_after_refresh(self.model_switch.load_at_start)

    def load_model(self, name: str | None, *, role: Role = Role.MLM) -> None:
        self.model_switch.load_model(name, role=role)

    def load_t5(self) -> None:
        self.model_switch.load_t5()

    def load_finetuned(self, path: str) -> None:
        self.model_switch.load_finetuned(path)

    def load_compare_model(self, name: str) -> None:
        self.model_switch.load_compare_model(name)

    def use_model(self, name: str | None) -> None:
        self.model_switch.use_model(name)

    def use_t5(self, name: str) -> None:
        self.model_switch.use_t5(name)

    def on_model_ready(self, message: ModelReady) -> None:
        self.model_switch.model_ready(message)

    def on_compare_model_ready(self, message: CompareModelReady) -> None:
        self.model_switch.compare_model_ready(message)

    # -- pinned probes (core.probes; the Train screen passes them to the job) ----------------
    def pin_probe(self, text: str, answer: str) -> bool:
        """Pin a probe (kept in the settings); checked against Explore's tokenizer first."""
        from mlm_explorer.core.explain.probes import parse_probe_line, prepare_probes

        try:
            probe = parse_probe_line(f"{text}\t{answer}", "probe")
            if self.lm is not None:
                prepare_probes(self.lm.tokenizer, [probe], max_length=self.lm.max_length)
        except UserError as exc:
            self.notify(str(exc), severity="warning", timeout=8)
            return False
        entry = {"text": probe.text, "answer": probe.answer}
        if entry in self.settings.probes:
            self.notify("this probe is already pinned", timeout=3)
            return False
        self.settings.probes.append(entry)
        self.save_settings()
        self.probes_version += 1
        self.notify(f"pinned probe {len(self.settings.probes)}: {probe.text} → {probe.answer} "
                    "(watched by the next fine-tune, F4)", title="probe", timeout=6)
        return True

    def unpin_probe(self, index: int) -> None:
        if 0 <= index < len(self.settings.probes):
            del self.settings.probes[index]
            self.save_settings()
            self.probes_version += 1

    # -- workers for screens: one way in, one way out for a failure ---------------------------
    def run_work(self, target: MessagePump, kind: str, request: int, body: Callable[[], None], *,
                 exclusive: bool = True, description: str = "") -> Worker:
        """Run `body` in a thread worker of group `kind`; if it raises, `target` gets `WorkFailed`."""
        name = f"{kind}:{request}"
        self._targets[name] = target
        return self.run_worker(body, name=name, group=kind, thread=True, exclusive=exclusive, exit_on_error=False,
                               description=description)

    def work_failed(self, target: MessagePump | None, kind: str, request: int, error: BaseException) -> None:
        """The one path of failed work: notify once (a UserError as a warning, anything else as an
        unexpected error), then post `WorkFailed` to `target`. Safe to call from any thread."""
        if isinstance(error, UserError):
            text = str(error)
            self.notify(text, severity="warning", timeout=8)
        else:
            text = f"{type(error).__name__}: {error}"
            self.notify(text, title="unexpected error", severity="error", timeout=12)
        if target is not None:
            target.post_message(WorkFailed(kind, request, text))

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised goes to `work_failed`; a worker that ended forgets its asker."""
        worker = event.worker
        if event.state in (WorkerState.SUCCESS, WorkerState.CANCELLED):
            self._targets.pop(worker.name, None)
        elif event.state == WorkerState.ERROR:
            kind, _, request = worker.name.rpartition(":")   # the kind may hold ":" (a Compare column's model name)
            self.work_failed(self._targets.pop(worker.name, None), kind, int(request or 0), worker.error)

    def on_work_failed(self, message: WorkFailed) -> None:
        """The app's own work: model loads."""
        if message.kind.startswith("load-"):
            self.model_switch.load_failed(message.kind, message.error)

    # -- training -----------------------------------------------------------------------------
    def start_training(self, target: MessagePump, args: list[str]) -> None:
        """Run `python -m mlm_explorer.train ARGS`; every event goes to `target` as a TrainEvent.
        When the explorer's models sit on the GPU the job will use, first offer to move them to
        the CPU while it runs (they move back when it ends)."""
        held = workers.gpu_models(self.lm, self.base_lm, self.t5_lm) if _job_uses_gpu(args) else []
        if not held:
            self._run_job(target, args, release=[])
            return
        size = workers.model_bytes(held) / 2**30

        def answer(choice: str | None) -> None:
            self._run_job(target, args, release=held if choice == "release" else [])

        self.push_screen(ChoiceDialog(
            f"The explorer keeps {len(held)} model(s) on the GPU ({size:.1f} GiB), memory the training job may "
            "need. Move them to the CPU while it runs? They move back when it ends.",
            [("keep", "Keep on the GPU"), ("release", "Move to the CPU")], default="release",
        ), answer)

    def _run_job(self, target: MessagePump, args: list[str], *, release: list) -> None:
        from mlm_explorer.train.launch import APP_JOB_NICE, TrainingRunner

        runner = TrainingRunner(args, nice=APP_JOB_NICE)  # command and environment: train/launch.job_launch
        self.train_runner, self.train_said_end = runner, False
        home = release[0].device if release else None

        def body() -> None:
            try:
                if release:
                    workers.move_models(release, "cpu")
                    self.call_from_thread(self.model_switch.show_status, t5=True)
                runner.start()
                for event in runner.events():
                    if event.get("event") in ("finished", "cancelled", "error") and runner is self.train_runner:
                        self.train_said_end = True  # saved and recorded: the process is only exiting
                    target.post_message(TrainEvent(event))
            finally:
                target.post_message(TrainEvent({"event": "exited", "returncode": runner.returncode}))
                if release:  # the job's process is gone, and its GPU memory with it
                    workers.move_models(release, home)
                    self.call_from_thread(self.model_switch.show_status, t5=True)

        self.run_worker(body, name="train", group="train", thread=True, exit_on_error=False)

    def start_audit(self, panel: MessagePump, args: list[str]) -> None:
        """The masking audit (`python -m mlm_explorer.train.audit ARGS`, train/audit.py): its events go
        to `panel` (ui/widgets/audit_panel.py) as AuditEvent, then an `exited` one."""
        from mlm_explorer.train.launch import APP_JOB_NICE, AUDIT_MODULE, TrainingRunner

        runner = TrainingRunner(args, nice=APP_JOB_NICE, module=AUDIT_MODULE)

        def body() -> None:
            try:
                runner.start()
                for event in runner.events():
                    panel.post_message(AuditEvent(event))
            finally:
                panel.post_message(AuditEvent({"event": "exited", "returncode": runner.returncode}))

        self.run_worker(body, name="audit", group="audit", thread=True, exclusive=True, exit_on_error=False)

    # -- settings, theme, export ------------------------------------------------------------
    def save_settings(self) -> None:
        if not self.persist:
            return
        try:
            save_settings(self.settings.clamp())
        except OSError as exc:
            self.notify(f"settings not saved: {exc}", severity="warning")

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def watch_theme(self, theme: str) -> None:
        if self.settings.theme != theme:
            self.settings.theme = theme
            self.save_settings()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_export(self) -> None:
        from mlm_explorer.ui.export import export_view

        try:
            written = export_view(self)
        except (OSError, UserError) as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify("exported " + ", ".join(str(p) for p in written), title="export", timeout=8)

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Explore", "Type, mask, read the distribution (F2)", lambda: self.switch_mode(Mode.EXPLORE))
        yield SystemCommand("Compare", "BERT vs T5 on the same blanks (F3)", lambda: self.switch_mode(Mode.COMPARE))
        yield SystemCommand("Train", "Fine-tune on your files (F4)", lambda: self.switch_mode(Mode.TRAIN))
        yield SystemCommand("Toggle dark/light theme", "ctrl+t", self.action_toggle_theme)
        yield SystemCommand("Export view", "JSON, Markdown, HTML and SVG of the current view (ctrl+s)", self.action_export)

    # -- quitting -----------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        """A job runs (its process lives and it has not said it ended: after `finished` it only exits)."""
        runner = self.train_runner
        return runner is not None and not self.train_said_end and getattr(runner, "returncode", 0) is None

    async def action_quit(self) -> None:
        if not self.training:
            self.exit()
            return

        def answer(choice: str | None) -> None:
            if choice == "cancel":
                try:
                    self.train_runner.cancel()
                finally:
                    self.exit()

        self.push_screen(ChoiceDialog(
            "A training job is running. Cancel it (its last checkpoint is kept) and quit?",
            [("cancel", "Cancel job & quit"), ("wait", "Keep waiting")], default="wait",
        ), answer)


def _job_uses_gpu(args: list[str]) -> bool:
    """Whether the job's `--device` (default auto) can be a GPU."""
    device = "auto"
    for i, arg in enumerate(args):
        if arg == "--device" and i + 1 < len(args):
            device = args[i + 1]
        elif arg.startswith("--device="):
            device = arg.split("=", 1)[1]
    return not device.startswith("cpu")


def run_app(model: str | None = None, t5: str | None = None, device: str = "auto") -> None:
    """Open the app (what `mlm-explorer` with no subcommand does)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    MLMExplorerApp(model=model, t5=t5, device=device).run()
