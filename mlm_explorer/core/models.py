"""The one model layer: load encoder MLMs and seq2seq (T5) models, pick the device, explain failures.

Where a model can come from (`resolve_source`):
1. None or "bundled": the bundled default (see core/bundled.py).
2. A local directory with `config.json` (save_pretrained output).
3. A fine-tuning run directory (run.json, best/, last/, checkpoint-N/): `best/` if present, else
   `last/`, else the highest `checkpoint-N/`. "run:NAME" names a run under `paths.runs_dir()`.
4. A Hugging Face hub name: loaded from the HF cache without any network access when cached;
   downloaded only when not cached and the hub is reachable.

Before any weight is read, the config's kind is checked (a T5 where an MLM is needed and the
reverse), then the tokenizer (no mask token, no T5 sentinels). Weights load as safetensors only,
`trust_remote_code` is never set, the model is in eval mode; callers run it under
`torch.inference_mode()`. Every failure becomes one `ModelError` line that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlm_explorer.errors import InputError, ModelError
from mlm_explorer.paths import runs_dir

BUNDLED = "bundled"
RUN_PREFIX = "run:"
Kind = Literal["mlm", "seq2seq"]

SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model", "vocab.json")
SENTINEL = "<extra_id_0>"


# ---------------------------------------------------------------------------------------------
# The loaded model


@dataclass
class LoadedModel:
    model: Any                     # a transformers PreTrainedModel in eval mode on `device`
    tokenizer: Any                 # its fast tokenizer
    kind: Kind                     # "mlm" (encoder, fill-mask) or "seq2seq" (T5, infill)
    name: str                      # what the user asked for ("bundled", a hub name, a path)
    path: str | None               # the directory the weights came from
    device: Any                    # torch.device
    source: str = "local"          # "bundled" | "hub-cache" | "hub" | "local" | "run"
    info: dict = field(default_factory=dict)
    # info: "model_type"; "head_trained" (False when the MLM head was freshly initialised:
    # predictions are then meaningless); "missing_keys"; the bundled model adds "encoder", "head".

    @property
    def max_length(self) -> int:
        """Longest input in tokens: the tokenizer's limit, capped by the position embeddings."""
        limits = []
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 100_000:
            limits.append(tok_max)
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            # RoBERTa-style models offset positions by pad_token_id + 1 (514 -> 512 tokens).
            if getattr(self.model.config, "model_type", "") in _PADDED_POSITION_TYPES:
                positions -= (self.model.config.pad_token_id or 0) + 1
            limits.append(positions)
        return min(limits) if limits else 512

    def to_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "path": self.path, "device": str(self.device),
            "source": self.source, "max_length": self.max_length,
            "info": {k: v for k, v in self.info.items() if k != "missing_keys"},
        }


_PADDED_POSITION_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer", "xlm-roberta-xl", "data2vec-text"}


# ---------------------------------------------------------------------------------------------
# Device


def resolve_device(spec: str | None = "auto"):
    """"auto" -> cuda if available else cpu; "cpu", "cuda", "cuda:N", "mps". Bad value -> InputError."""
    import torch

    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if match:
        if not torch.cuda.is_available():
            raise InputError(
                f"--device {spec}: no CUDA GPU is available to torch (a CPU build of torch, or no driver); "
                "use --device cpu or install a CUDA build of torch (see README)"
            )
        index = int(match.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise InputError(f"--device {spec}: there are only {torch.cuda.device_count()} CUDA device(s); use cuda:0")
        return torch.device("cuda", index)
    if spec == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise InputError("--device mps: Apple MPS is not available here; use --device cpu")
        return torch.device("mps")
    raise InputError(f"--device {spec!r} is not a device; use auto, cpu, cuda or cuda:N")


# ---------------------------------------------------------------------------------------------
# Where a model comes from


@dataclass(frozen=True)
class ModelSource:
    name: str               # as the user wrote it
    source: str             # "bundled" | "local" | "run" | "hub-cache" | "hub"
    path: Path | None       # local directory with config.json (None: bundled, or hub not cached)
    repo_id: str | None = None


def find_run_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint to load from a run directory: best/, else last/, else the highest checkpoint-N/."""
    run_dir = Path(run_dir)
    for name in ("best", "last"):
        if (run_dir / name / "config.json").is_file():
            return run_dir / name
    numbered = []
    for child in run_dir.glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", child.name)
        if match and (child / "config.json").is_file():
            numbered.append((int(match.group(1)), child))
    return max(numbered)[1] if numbered else None


def _is_run_dir(path: Path) -> bool:
    return (path / "run.json").is_file() or any(
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


def resolve_source(name_or_path: str | os.PathLike | None) -> ModelSource:
    """Decide where a model comes from, without loading it. ModelError for what cannot be a model."""
    if name_or_path is None or str(name_or_path).strip() in ("", BUNDLED):
        return ModelSource(BUNDLED, "bundled", None)
    name = str(name_or_path).strip()
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


def _kind_mismatch(name: str, model_type: str, kind: str, want: Kind) -> ModelError:
    if want == "mlm" and kind == "seq2seq":
        return ModelError(
            f"'{name}' is a {model_type} encoder-decoder model: use it with `mlm-explorer infill`; "
            "`predict` needs an encoder masked-LM (BERT family)"
        )
    if want == "seq2seq" and kind == "mlm":
        return ModelError(
            f"'{name}' is a {model_type} encoder masked-LM: use it with `mlm-explorer predict`; "
            "`infill` needs a T5-style encoder-decoder model"
        )
    needed = "an encoder masked-LM (BERT family) for `predict`" if want == "mlm" else "a T5-style model for `infill`"
    return ModelError(f"'{name}' is a {model_type} model, which cannot be used here; pick {needed}")


# ---------------------------------------------------------------------------------------------
# Errors from transformers / huggingface_hub -> one line


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _explain(exc: BaseException, src: ModelSource, what: str = "model") -> ModelError:
    from huggingface_hub import errors as hf

    name = src.name
    for err in _chain(exc):
        if src.repo_id:
            if isinstance(err, hf.GatedRepoError):
                return ModelError(
                    f"model '{name}' is gated on the Hugging Face hub: accept its terms on huggingface.co/{name}, "
                    "then run `hf auth login`"
                )
            if isinstance(err, hf.RepositoryNotFoundError):
                return ModelError(
                    f"there is no model '{name}' on the Hugging Face hub (check the spelling, "
                    "e.g. google-bert/bert-base-uncased) and no such local directory"
                )
            if isinstance(err, hf.RevisionNotFoundError):
                return ModelError(f"model '{name}' has no such revision on the Hugging Face hub")
            if isinstance(err, hf.LocalEntryNotFoundError):
                if src.source == "hub-cache":
                    return ModelError(f"model '{name}' is only partly in the Hugging Face cache; run once with network: `hf download {name}`")
                return ModelError(_not_cached_message(name))
    return ModelError(f"could not load the {what} of '{name}': {_first_line(exc)}")


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' logging and progress bars (load reports, "newly initialized ...")."""
    from transformers.utils import logging as tf_logging

    level = tf_logging.get_verbosity()
    bars = tf_logging.is_progress_bar_enabled()
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        tf_logging.set_verbosity(level)
        if bars:
            tf_logging.enable_progress_bar()


# ---------------------------------------------------------------------------------------------
# Loading


def load_mlm(name_or_path: str | os.PathLike | None = None, *, device: str = "auto") -> LoadedModel:
    """An encoder masked-LM (AutoModelForMaskedLM) in eval mode. None / "bundled" -> the bundled default."""
    return _load(name_or_path, want="mlm", device=device)


def load_seq2seq(name_or_path: str | os.PathLike, *, device: str = "auto") -> LoadedModel:
    """A T5-style encoder-decoder (AutoModelForSeq2SeqLM) with sentinel tokens, in eval mode."""
    if name_or_path is None or str(name_or_path).strip() in ("", BUNDLED):
        raise ModelError(
            "infill needs a T5 model and the bundled default is an encoder masked-LM; "
            "pass --model with a T5 model (a hub name such as google-t5/t5-small, or a local directory)"
        )
    return _load(name_or_path, want="seq2seq", device=device)


def _load(name_or_path, *, want: Kind, device: str) -> LoadedModel:
    dev = resolve_device(device)
    src = resolve_source(name_or_path)
    if src.source == "bundled":
        from mlm_explorer.core.bundled import bundled_encoder_dir, load_bundled

        model, tokenizer, info = load_bundled(dev)
        info = {"model_type": "bert", **info}
        return LoadedModel(model, tokenizer, "mlm", BUNDLED, str(bundled_encoder_dir()), dev, "bundled", info)

    import torch
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer

    where = str(src.path) if src.path is not None else src.repo_id
    local_only = src.path is not None
    common = {"trust_remote_code": False, "local_files_only": local_only}

    # 1. The config: its kind decides before any weight is read.
    with quiet_transformers():
        try:
            config = AutoConfig.from_pretrained(where, **common)
        except (OSError, ValueError, KeyError) as exc:
            raise _explain(exc, src, "config") from exc
    model_type = getattr(config, "model_type", None) or "unknown"
    kind = kind_of(model_type, bool(getattr(config, "is_encoder_decoder", False)))
    if kind != want:
        raise _kind_mismatch(src.name, model_type, kind, want)

    # 2. The weights on disk: safetensors only (pickle files can run code when loaded).
    if src.path is not None:
        _check_weights(src)

    # 3. The tokenizer (from the checkpoint, or from its run directory when the checkpoint has none).
    tok_where = where
    if src.path is not None and not any((src.path / f).is_file() for f in TOKENIZER_FILES):
        if any((src.path.parent / f).is_file() for f in TOKENIZER_FILES):
            tok_where = str(src.path.parent)
        else:
            raise ModelError(f"'{src.name}' has no tokenizer files (tokenizer.json / tokenizer_config.json) in {src.path}")
    with quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(tok_where, **common)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _explain(exc, src, "tokenizer") from exc
    if want == "mlm" and (tokenizer.mask_token is None or tokenizer.mask_token_id is None):
        raise ModelError(
            f"'{src.name}' has no mask token in its tokenizer, so it cannot fill masks; pick a masked-LM such as BERT"
        )
    if want == "seq2seq":
        sentinel_id = tokenizer.convert_tokens_to_ids(SENTINEL)
        if sentinel_id is None or sentinel_id == tokenizer.unk_token_id:
            raise ModelError(
                f"'{src.name}' has no T5 sentinel tokens ({SENTINEL}, ...) in its tokenizer, so it cannot infill blanks; "
                "pick a T5 model"
            )

    # 4. The weights.
    from safetensors import SafetensorError

    auto = AutoModelForMaskedLM if want == "mlm" else AutoModelForSeq2SeqLM
    with quiet_transformers():
        try:
            model, loading = auto.from_pretrained(
                where, config=config, use_safetensors=True, dtype=torch.float32,
                output_loading_info=True, **common,
            )
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            raise _explain(exc, src, "weights") from exc
    model.to(dev).eval()
    missing = sorted(loading.get("missing_keys", []) or [])
    info = {"model_type": model_type, "head_trained": not missing, "missing_keys": missing}
    path = str(src.path) if src.path is not None else _snapshot_dir(src.repo_id)
    return LoadedModel(model, tokenizer, want, src.name, path, dev, src.source, info)


def _check_weights(src: ModelSource) -> None:
    path = src.path
    files = {p.name for p in path.iterdir() if p.is_file()}
    if any(f in files for f in SAFETENSORS_FILES) or any(f.endswith(".safetensors") for f in files):
        return
    pickles = sorted(f for f in files if f in PICKLE_FILES or f.endswith((".bin", ".pt", ".pth", ".ckpt")))
    if pickles:
        raise ModelError(
            f"'{src.name}' has only pickle weights ({pickles[0]}), which can run code when loaded; "
            "convert it once with save_pretrained(safe_serialization=True) in code you trust, or use a safetensors model"
        )
    raise ModelError(f"'{src.name}' has a config.json but no weights (model.safetensors) in {path}")


def _snapshot_dir(repo_id: str | None) -> str | None:
    if not repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    return str(Path(cached).parent) if isinstance(cached, str) else None


# ---------------------------------------------------------------------------------------------
# What can be used now


@dataclass
class ModelEntry:
    name: str                       # what to pass as --model
    kind: str                       # "mlm" | "seq2seq"
    source: Literal["bundled", "hub-cache", "run"]
    path: str
    detail: str = ""                # e.g. "no MLM head in the checkpoint", "checkpoint: best"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "path": self.path, "detail": self.detail}


_HEAD_SUFFIXES = ("ForMaskedLM", "ForPreTraining", "ForConditionalGeneration")


def _read_config(path: Path) -> dict | None:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _entry_detail(config: dict, kind: str) -> str:
    archs = config.get("architectures") or []
    if kind == "mlm" and archs and not any(a.endswith(_HEAD_SUFFIXES) for a in archs):
        return f"no MLM head in the checkpoint ({', '.join(archs)}): predictions would be untrained"
    return ""


def list_models() -> list[ModelEntry]:
    """The bundled default, encoder/T5 models in the Hugging Face cache, and fine-tuning runs."""
    entries: list[ModelEntry] = []
    from mlm_explorer.core.bundled import PIP_COMMAND, bundled_encoder_dir, head_path

    try:
        entries.append(ModelEntry(
            BUNDLED, "mlm", "bundled", str(bundled_encoder_dir()),
            "MiniLM-L6 encoder + " + ("trained MLM head" if head_path().is_file() else "untrained MLM head"),
        ))
    except ModelError:
        entries.append(ModelEntry(BUNDLED, "mlm", "bundled", "", f"not installed: {PIP_COMMAND}"))
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
        checkpoint = run if (run / "config.json").is_file() else find_run_checkpoint(run)
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
