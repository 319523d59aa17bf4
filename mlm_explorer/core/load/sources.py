"""Where a model comes from, without loading it: the bundled default, a local directory, a
fine-tuning run, or a Hugging Face hub name (cached or not).

What a name means, in order (`resolve_source`):
1. None or "bundled": the bundled default (see core/load/bundled.py); "bundled-infiller": the
   bundled span infiller (core/load/bundled_infiller.py). Both have source "bundled".
2. "run:NAME": a fine-tuning run under `paths.runs_dir()`.
3. An existing path: a directory with `config.json` (save_pretrained output), or a fine-tuning
   run directory (run.json, best/, latest, checkpoint-N/): `best/` if present, else the
   checkpoint `latest` names, else the highest `checkpoint-N/` (mlm_explorer/rundir.py).
4. A Hugging Face hub name: read from the HF cache without any network access when cached;
   downloaded only when not cached and the hub is reachable (offline: a `ModelError` that
   gives the `hf download` command).

Nothing here reads weights or imports torch; core/load/models.py loads, core/load/catalog.py
lists, core/load/hf.py says what kind of model a config is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlm_explorer.core.load import hf
from mlm_explorer.errors import ModelError
from mlm_explorer.paths import runs_dir
from mlm_explorer.rundir import RUN_PREFIX, is_run_dir, model_checkpoint, named_run

BUNDLED = "bundled"
BUNDLED_INFILLER = "bundled-infiller"


@dataclass(frozen=True)
class ModelSource:
    name: str               # as the user wrote it
    source: str             # "bundled" | "local" | "run" | "hub-cache" | "hub"
    path: Path | None       # local directory with config.json (None: bundled, or hub not cached)
    repo_id: str | None = None


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1
        or bool(re.match(r"^[A-Za-z]:", name))
    )


def resolve_source(name_or_path: str | os.PathLike | None) -> ModelSource:
    """Decide where a model comes from, without loading it. ModelError for what cannot be a model."""
    if name_or_path is None or str(name_or_path).strip() in ("", BUNDLED):
        return ModelSource(BUNDLED, "bundled", None)
    name = str(name_or_path).strip()
    if name == BUNDLED_INFILLER:
        return ModelSource(BUNDLED_INFILLER, "bundled", None)
    if name.startswith(RUN_PREFIX):
        run = named_run(name)
        if run is None:
            raise ModelError(f"no fine-tuning run named '{name[len(RUN_PREFIX):]}' in {runs_dir()}; `mlm-explorer models` lists them")
        return _local_source(name, run)
    path = Path(name).expanduser()
    if path.exists():
        return _local_source(name, path)
    if _looks_like_path(name):
        raise ModelError(f"no such directory: {name}")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise ModelError(
            f"'{name}' is neither a local directory nor a Hugging Face model name (like google-bert/bert-base-uncased)"
        ) from None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json")
    if isinstance(cached, str):
        return ModelSource(name, "hub-cache", Path(cached).parent, repo_id=name)
    if hf.offline():
        raise ModelError(hf.not_cached_message(name))
    return ModelSource(name, "hub", None, repo_id=name)


def _local_source(name: str, path: Path) -> ModelSource:
    if not path.is_dir():
        raise ModelError(f"{name} is a file, not a model directory (a directory written by save_pretrained)")
    if (path / "config.json").is_file():
        return ModelSource(name, "local", path)
    if is_run_dir(path):
        checkpoint = model_checkpoint(path)
        if checkpoint is None:
            raise ModelError(f"the run {name} has no checkpoint yet (no best/ or checkpoint-N/ with a config.json)")
        return ModelSource(name, "run", checkpoint)
    raise ModelError(
        f"{name} is not a model directory: it has no config.json "
        "(expected save_pretrained output, or a fine-tuning run with best/ or checkpoint-N/)"
    )
