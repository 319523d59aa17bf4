"""Where a model comes from, without loading it: the bundled default, a local directory, a
fine-tuning run, or a Hugging Face hub name (cached or not); and what kind of model a config is.

What a name means, in order (`resolve_source`):
1. None or "bundled": the bundled default (see core/load/bundled.py); "bundled-infiller": the
   bundled span infiller (core/load/bundled_infiller.py). Both have source "bundled".
2. "run:NAME": a fine-tuning run under `paths.runs_dir()`.
3. An existing path: a directory with `config.json` (save_pretrained output), or a fine-tuning
   run directory (run.json, best/, latest, checkpoint-N/): `best/` if present, else the
   checkpoint `latest` names, else `last/`, else the highest `checkpoint-N/`.
4. A Hugging Face hub name: read from the HF cache without any network access when cached;
   downloaded only when not cached and the hub is reachable (offline: a `ModelError` that
   gives the `hf download` command).

Nothing here reads weights or imports torch; core/models.py loads, core/catalog.py lists.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlm_explorer.errors import ModelError
from mlm_explorer.paths import runs_dir

BUNDLED = "bundled"
BUNDLED_INFILLER = "bundled-infiller"
RUN_PREFIX = "run:"


@dataclass(frozen=True)
class ModelSource:
    name: str               # as the user wrote it
    source: str             # "bundled" | "local" | "run" | "hub-cache" | "hub"
    path: Path | None       # local directory with config.json (None: bundled, or hub not cached)
    repo_id: str | None = None


def find_run_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint to load from a run directory (train/checkpoint.py writes the layout).

    best/ (lowest eval loss), else the checkpoint the `latest` file names, else last/, else the
    highest checkpoint-N/; only directories with a config.json count.
    """
    run_dir = Path(run_dir)
    if (run_dir / "best" / "config.json").is_file():
        return run_dir / "best"
    pointer = run_dir / "latest"
    if pointer.is_file():
        named = run_dir / pointer.read_text(encoding="utf-8").strip()
        if named.name and (named / "config.json").is_file():
            return named
    if (run_dir / "last" / "config.json").is_file():
        return run_dir / "last"
    numbered = []
    for child in run_dir.glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", child.name)
        if match and (child / "config.json").is_file():
            numbered.append((int(match.group(1)), child))
    return max(numbered)[1] if numbered else None


def _is_run_dir(path: Path) -> bool:
    return (path / "run.json").is_file() or (path / "latest").is_file() or any(
        (path / n).is_dir() for n in ("best", "last")
    ) or any(path.glob("checkpoint-*"))


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1
        or bool(re.match(r"^[A-Za-z]:", name))
    )


def _offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(f.strip().lower() in {"1", "true", "yes", "on"} for f in flags)


def _not_cached_message(repo_id: str) -> str:
    return (
        f"model '{repo_id}' is not in the Hugging Face cache and the hub is unreachable; "
        f"run once with network: `hf download {repo_id}`"
    )


def _partly_cached_message(repo_id: str) -> str:
    return f"model '{repo_id}' is only partly in the Hugging Face cache; run once with network: `hf download {repo_id}`"


def resolve_source(name_or_path: str | os.PathLike | None) -> ModelSource:
    """Decide where a model comes from, without loading it. ModelError for what cannot be a model."""
    if name_or_path is None or str(name_or_path).strip() in ("", BUNDLED):
        return ModelSource(BUNDLED, "bundled", None)
    name = str(name_or_path).strip()
    if name == BUNDLED_INFILLER:
        return ModelSource(BUNDLED_INFILLER, "bundled", None)
    if name.startswith(RUN_PREFIX):
        run = runs_dir() / name[len(RUN_PREFIX):]
        if not run.is_dir():
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
    if _offline():
        raise ModelError(_not_cached_message(name))
    return ModelSource(name, "hub", None, repo_id=name)


def _local_source(name: str, path: Path) -> ModelSource:
    if not path.is_dir():
        raise ModelError(f"{name} is a file, not a model directory (a directory written by save_pretrained)")
    if (path / "config.json").is_file():
        return ModelSource(name, "local", path)
    if _is_run_dir(path):
        checkpoint = find_run_checkpoint(path)
        if checkpoint is None:
            raise ModelError(f"the run {name} has no checkpoint yet (no best/, last/ or checkpoint-N/ with a config.json)")
        return ModelSource(name, "run", checkpoint)
    raise ModelError(
        f"{name} is not a model directory: it has no config.json "
        "(expected save_pretrained output, or a fine-tuning run with best/ or checkpoint-N/)"
    )


def _snapshot_dir(repo_id: str | None) -> str | None:
    if not repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    return str(Path(cached).parent) if isinstance(cached, str) else None


# ---------------------------------------------------------------------------------------------
# Kinds


def kind_of(model_type: str | None, is_encoder_decoder: bool = False) -> str:
    """"seq2seq", "mlm" or "other" from a config's model_type (names from transformers' auto maps)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    if model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES and (
        is_encoder_decoder or model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    ):
        return "seq2seq"
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "mlm"
    return "other"
