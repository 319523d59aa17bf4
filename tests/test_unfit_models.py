"""Models that do not fit get one clear line that says what the tool needs and what to try
instead — in the CLI (exit 2, no traceback) and in the app (which keeps the model it had)."""

from __future__ import annotations

import json

import pytest
from app_support import app_env, make_app, settle, sync, wait_for, wait_ready  # noqa: F401

from test_cli import assert_one_line_error, cli  # noqa: F401  (cli is a fixture)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def unfit(tmp_path_factory, tiny_bert_dir):
    """A sentence encoder and a classifier (no MLM head), a GPT-2, a model that needs remote code, a vision model."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel, GPT2Config, GPT2LMHeadModel

    root = tmp_path_factory.mktemp("unfit")
    tok = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    config = BertConfig.from_pretrained(str(tiny_bert_dir))
    torch.manual_seed(0)
    out = {}
    for name, model in (("encoder", BertModel(config)), ("classifier", BertForSequenceClassification(config)),
                        ("gpt2", GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2)))):
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        out[name] = root / name
    for name, config in (("remote", {"model_type": "my-own-bert", "architectures": ["MyOwnForMaskedLM"],
                                      "auto_map": {"AutoConfig": "configuration_mine.MineConfig",
                                                   "AutoModelForMaskedLM": "modeling_mine.MyOwnForMaskedLM"}}),
                         ("vision", {"model_type": "vit", "architectures": ["ViTForImageClassification"]})):
        (root / name).mkdir()
        (root / name / "config.json").write_text(json.dumps(config))
        out[name] = root / name
    return out


@pytest.mark.parametrize("which, args, needles", [
    ("encoder", ("predict", "The cute [MASK] walks."), ("BertModel checkpoint without a masked-LM head",
                                                          "`mlm-explorer train DOCS --model")),
    ("classifier", ("score", "The cute dog walks."), ("BertForSequenceClassification checkpoint without a masked-LM head",)),
    ("gpt2", ("predict", "The cute [MASK] walks."), ("decoder-only language model (gpt2)", "from both sides",
                                                     "needs an encoder masked-LM (e.g. FacebookAI/roberta-base")),
    ("gpt2", ("infill", "The cute ___ walks."), ("decoder-only", "a T5 or BART model")),
    ("remote", ("predict", "The cute [MASK] walks."), ("trust_remote_code", "never runs")),
    ("vision", ("attention", "The cute dog.", "--token", "1"), ("a vision model (vit): it reads images, not text",)),
])
def test_the_cli_says_it_in_one_line(unfit, cli, which, args, needles):
    assert_one_line_error(cli(*args, "--model", str(unfit[which])), *needles)


def test_a_headless_encoder_can_still_be_trained(unfit, tmp_path, monkeypatch):
    from train_helpers import FAST, run_job, small_corpus

    from mlm_explorer.core.load.models import load_mlm

    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    rc, events = run_job([small_corpus(tmp_path / "corpus"), "--model", unfit["encoder"], "--max-steps", 1,
                          "--batch-size", 2, "--output", tmp_path / "run", *FAST])
    assert rc == 0, events[-1]
    assert load_mlm(str(tmp_path / "run" / "best")).info["head_trained"] is True   # the trained head is saved


@sync
async def test_the_app_says_it_and_keeps_its_model(app_env, tiny_bert_dir, unfit):
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the park.")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_ready(pilot)
        before = app.lm
        for which, needle in (("gpt2", "decoder-only"), ("encoder", "without a masked-LM head"),
                              ("remote", "trust_remote_code")):
            app.use_model(str(unfit[which]))
            await wait_for(pilot, lambda: "not loaded" in app.model_status, what=f"{which} refused")
            await settle(pilot)
            assert app.lm is before and needle in app.model_status and "\n" not in app.model_status
            assert any(needle in n.message for n in app._notifications)
        assert app.explore.state.result is not None        # Explore still predicts with the model it had
