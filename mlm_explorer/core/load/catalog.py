"""What can be used now: the bundled default and the bundled span infiller, encoder/T5 models in the Hugging Face cache and
fine-tuning runs, as `ModelEntry` rows for `mlm-explorer models` and the app's model switcher.

Reads config.json files only (no weights, no torch, no network); a model that cannot be used
(another kind, no safetensors weights cached) is left out or carries a `detail` that says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlm_explorer.core.load.hf import has_lm_head, kind_of
from mlm_explorer.core.load.sources import BUNDLED, BUNDLED_INFILLER
from mlm_explorer.errors import ModelError
from mlm_explorer.paths import runs_dir
from mlm_explorer.rundir import MODEL_CONFIG, RUN_PREFIX, model_checkpoint


@dataclass
class ModelEntry:
    name: str                       # what to pass as --model
    kind: str                       # "mlm" | "seq2seq"
    source: Literal["bundled", "hub-cache", "run"]
    path: str
    detail: str = ""                # e.g. "no MLM head in the checkpoint", "checkpoint: best"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "path": self.path, "detail": self.detail}


def _read_config(path: Path) -> dict | None:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _entry_detail(config: dict, kind: str) -> str:
    archs = config.get("architectures") or []
    if kind == "mlm" and has_lm_head(archs) is False:
        return f"no MLM head in the checkpoint ({', '.join(archs)}): predictions would be untrained"
    return ""


def list_models() -> list[ModelEntry]:
    """The bundled default and span infiller, encoder/T5 models in the Hugging Face cache, and fine-tuning runs."""
    entries: list[ModelEntry] = []
    from mlm_explorer.core.load.bundled import PIP_COMMAND, bundled_encoder_dir, head_path

    try:
        entries.append(ModelEntry(
            BUNDLED, "mlm", "bundled", str(bundled_encoder_dir()),
            "MiniLM-L6 encoder + " + ("trained MLM head" if head_path().is_file() else "untrained MLM head"),
        ))
    except ModelError:
        entries.append(ModelEntry(BUNDLED, "mlm", "bundled", "", f"not installed: {PIP_COMMAND}"))
    from mlm_explorer.core.load.bundled_infiller import DESCRIPTION, infiller_path

    if entries[-1].path:  # the infiller is built from the same package
        trained = "" if infiller_path().is_file() else " (untrained: the warm start)"
        entries.append(ModelEntry(BUNDLED_INFILLER, "seq2seq", "bundled", entries[-1].path, DESCRIPTION + trained))
    else:
        entries.append(ModelEntry(BUNDLED_INFILLER, "seq2seq", "bundled", "", f"not installed: {PIP_COMMAND}"))
    entries.extend(_hub_cache_entries())
    entries.extend(_run_entries())
    return entries


def _hub_cache_entries() -> list[ModelEntry]:
    try:
        from huggingface_hub import constants, scan_cache_dir

        cache = scan_cache_dir(constants.HF_HUB_CACHE)  # read now: HF_HOME / HF_HUB_CACHE may have moved
    except Exception:  # CacheNotFound, permission errors, a corrupt cache: nothing to list
        return []
    entries = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        revision = max(repo.revisions, key=lambda r: r.last_modified)
        config = _read_config(Path(revision.snapshot_path))
        if config is None:
            continue
        kind = kind_of(config.get("model_type"), bool(config.get("is_encoder_decoder", False)))
        if kind == "other":
            continue
        names = {f.file_name for f in revision.files}
        detail = _entry_detail(config, kind)
        if not any(n.endswith(".safetensors") or n == "model.safetensors.index.json" for n in names):
            detail = "no safetensors weights cached: `hf download " + repo.repo_id + "`"
        entries.append(ModelEntry(repo.repo_id, kind, "hub-cache", str(revision.snapshot_path), detail))
    return entries


def _run_entries() -> list[ModelEntry]:
    root = runs_dir()
    if not root.is_dir():
        return []
    entries = []
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        checkpoint = run if (run / MODEL_CONFIG).is_file() else model_checkpoint(run)
        if checkpoint is None:
            continue
        config = _read_config(checkpoint)
        if config is None:
            continue
        kind = kind_of(config.get("model_type"), bool(config.get("is_encoder_decoder", False)))
        if kind == "other":
            continue
        detail = f"checkpoint: {checkpoint.name}" if checkpoint != run else ""
        entries.append(ModelEntry(RUN_PREFIX + run.name, kind, "run", str(run), detail))
    return entries
