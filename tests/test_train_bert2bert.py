"""The training job trains a BERT2BERT EncoderDecoderModel (the bundled infiller's architecture)
with T5's span corruption, like any seq2seq model AutoModelForSeq2SeqLM loads: the objective is
chosen from the config, --train-params head+decoder leaves the encoder untouched, and the
checkpoint loads back through AutoModelForSeq2SeqLM and core's infill."""

from __future__ import annotations

import pytest
import torch

from train_helpers import FAST, of, run_job, small_corpus


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_bert2bert_dir(tmp_path_factory):
    from tiny import build_tiny_bert2bert

    return build_tiny_bert2bert(tmp_path_factory.mktemp("tiny-bert2bert"))


def test_the_tiny_bert2bert_tokenizer_has_t5_conventions(tiny_bert2bert_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_bert2bert_dir))
    ids = tok("The cute <extra_id_0> walks.")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["the", "cute", "<extra_id_0>", "walks", ".", "[SEP]"]  # no [CLS]
    assert tok.eos_token == "[SEP]" and tok.convert_tokens_to_ids("<extra_id_2>") != tok.unk_token_id


def test_span_training_of_the_decoder_only(tmp_path, tiny_bert2bert_dir):
    from safetensors.torch import load_file
    from transformers import AutoModelForSeq2SeqLM, EncoderDecoderModel

    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert2bert_dir, "--train-params", "head+decoder", "--max-steps", 30,
                          "--batch-size", 8, "--lr", 5e-3, "--block-size", 16, "--eval-every", 30,
                          "--save-every", 30, "--output", run, *FAST])
    assert rc == 0, events
    started = of(events, "started")[0]
    assert started["objective"] == "span"  # chosen from the config: an encoder-decoder
    before = load_file(str(tiny_bert2bert_dir / "model.safetensors"))
    after = load_file(str(run / "best" / "model.safetensors"))
    encoder = [k for k in before if k.startswith("encoder.")]
    decoder = [k for k in before if k.startswith("decoder.") and "embeddings" not in k]
    assert started["trainable"] == sum(before[k].numel() for k in decoder)
    assert all(torch.equal(before[k], after[k]) for k in encoder)  # frozen: no backward through it
    assert all(torch.equal(before[k], after[k]) for k in before if "embeddings" in k)
    changed = [k for k in decoder if not torch.equal(before[k], after[k])]
    assert any("crossattention" in k for k in changed) and any(k.startswith("decoder.cls.") for k in changed)
    losses = [e["loss"] for e in of(events, "step")]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # it learns

    model = AutoModelForSeq2SeqLM.from_pretrained(str(run / "best"))
    assert isinstance(model, EncoderDecoderModel)
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import load_seq2seq

    lm = load_seq2seq(str(run / "best"), device="cpu")
    result = infill(lm, "The cute dog walks in the [MASK] park.", max_new_tokens=6)
    assert result.n_blanks == 1 and len(result.candidates[0].fills) == 1


def test_head_top_n_trains_both_stacks_and_the_cross_attention(tiny_bert2bert_dir):
    from transformers import AutoModelForSeq2SeqLM

    from mlm_explorer.train.params import select_trainable

    model = AutoModelForSeq2SeqLM.from_pretrained(str(tiny_bert2bert_dir))
    select_trainable(model, "head+top:1")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("encoder.encoder.layer.1.") for n in trained)
    assert any(n.startswith("decoder.bert.encoder.layer.1.crossattention.") for n in trained)
    assert not any(".layer.0." in n for n in trained)
    assert {n for n in trained if n.startswith("decoder.cls.")}  # the decoder's LM head counts as the head
    assert not any("embeddings" in n for n in trained)
