"""The app's settings: one small JSON file under `paths.config_dir()`.

Headless (no Textual, no torch) so the CLI can read the same defaults. Unknown keys in the
file are ignored and bad values fall back to the default, so an old or hand-edited file
never stops the app from opening.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from dataclasses import field as default_factory_field
from pathlib import Path

from mlm_explorer import paths
from mlm_explorer.files import atomic_write_text

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"


@dataclass
class Settings:
    model: str | None = None  # encoder MLM: hub name, local dir, or None for the bundled default
    t5_model: str | None = None  # seq2seq model for Compare; None: the first cached T5, if any
    top_k: int = 8  # candidates shown per mask
    rate: float = 0.15  # random masking: share of maskable positions picked
    seed: int = 0  # random masking seed; `r` again re-rolls with seed + 1
    whole_word: bool = False  # random masking picks whole words
    joint: bool = False  # fill several masks jointly (most confident first) instead of independently
    temperature: float = 1.0  # softmax temperature of the distribution panel
    theme: str = DARK_THEME
    export_dir: str | None = None  # where exports go; None: the current directory
    probes: list = default_factory_field(default_factory=list)  # pinned probes (Explore `p`): [{"text", "answer"}, ...]
    compare_models: list = default_factory_field(default_factory=list)  # Compare's added columns (at most 2 names)
    text: str | None = None  # Explore's text of the last session (None: the sample sentence)

    def clamp(self) -> "Settings":
        """Bring every value into its valid range (in place) and return self."""
        self.top_k = max(1, min(50, int(self.top_k)))
        self.rate = max(0.0, min(1.0, float(self.rate)))
        self.seed = max(0, int(self.seed))
        self.temperature = max(0.05, min(10.0, float(self.temperature)))
        self.probes = [{"text": p["text"], "answer": p["answer"]} for p in (self.probes or [])
                       if isinstance(p, dict) and isinstance(p.get("text"), str) and isinstance(p.get("answer"), str)]
        self.compare_models = [m for m in (self.compare_models or []) if isinstance(m, str) and m.strip()][:2]
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def settings_path() -> Path:
    """settings.json in the user config dir (MLM_EXPLORER_CONFIG_DIR overrides)."""
    return paths.config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings; a missing or unreadable file gives the defaults."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(data, dict):
        return Settings()
    defaults = Settings()
    values = {}
    for field in fields(Settings):
        if field.name not in data:
            continue
        value, default = data[field.name], getattr(defaults, field.name)
        if default is None or value is None or isinstance(value, type(default)) or (
            isinstance(default, float) and isinstance(value, int)
        ):
            values[field.name] = value
    try:
        return Settings(**values).clamp()
    except (TypeError, ValueError):
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically (temporary name, then rename)."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings.to_dict(), indent=2) + "\n")
    return path
