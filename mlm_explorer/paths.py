"""Where mlm-explorer keeps its files: one small documented function per directory.

The Hugging Face cache is not ours: it stays where `HF_HOME` says.
Each location can be moved with an environment variable (tests use them).
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path, user_config_path, user_data_path

APP = "mlm-explorer"


def _env_dir(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    path = Path(value).expanduser() if value else default
    return path


def data_dir() -> Path:
    """Fine-tuned runs and other things the user made (MLM_EXPLORER_DATA_DIR overrides)."""
    return _env_dir("MLM_EXPLORER_DATA_DIR", user_data_path(APP, appauthor=False))


def runs_dir() -> Path:
    """One sub-directory per fine-tuning run."""
    return data_dir() / "runs"


def config_dir() -> Path:
    """Settings (settings.json) (MLM_EXPLORER_CONFIG_DIR overrides)."""
    return _env_dir("MLM_EXPLORER_CONFIG_DIR", user_config_path(APP, appauthor=False))


def cache_dir() -> Path:
    """Token-id caches of training corpora, keyed by content hash (MLM_EXPLORER_CACHE_DIR overrides)."""
    return _env_dir("MLM_EXPLORER_CACHE_DIR", user_cache_path(APP, appauthor=False))


def assets_dir() -> Path:
    """Files shipped inside the package (the bundled model's head, sample texts)."""
    return Path(__file__).resolve().parent / "assets"
