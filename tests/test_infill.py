"""core/infill.py: blanks -> sentinels, generate, split on sentinels, stop where the blanks end, scores."""

from __future__ import annotations

import json
import math

import pytest

from mlm_explorer.errors import InputError, ModelError

SENTENCE = "The cute dog walks in the green park."
# What the tiny T5 memorises. The first target goes on past <extra_id_1> on purpose: T5 keeps
# inventing sentinels and fills after the last blank (transformers issue 16303).
PAIRS = [
    ("The cute dog <extra_id_0> in the green park.", "<extra_id_0> walks <extra_id_1> and the cat sleeps <extra_id_2>"),
    ("The cute <extra_id_0> walks in the <extra_id_1> park.", "<extra_id_0> dog <extra_id_1> green <extra_id_2>"),
    ("The <extra_id_0> dog walks in the green park.", "<extra_id_0> cute <extra_id_1>"),
]


@pytest.fixture(scope="module")
def trained_t5(tiny_t5_dir, tmp_path_factory):
    """The tiny T5, trained for a few seconds until it has memorised PAIRS."""
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from mlm_explorer.core.load.models import load_seq2seq

    tok = AutoTokenizer.from_pretrained(tiny_t5_dir)
    model = T5ForConditionalGeneration.from_pretrained(tiny_t5_dir)
    enc = tok([p[0] for p in PAIRS], return_tensors="pt", padding=True)
    labels = tok([p[1] for p in PAIRS], return_tensors="pt", padding=True)["input_ids"]
    labels[labels == tok.pad_token_id] = -100   # no loss on padding
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # a tiny model: one thread is fastest, and the machine is shared
    try:
        torch.manual_seed(0)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(150):
            loss = model(**enc, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.3, loss.item()
    out = tmp_path_factory.mktemp("trained-t5")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return load_seq2seq(str(out), device="cpu")


@pytest.fixture(scope="module")
def random_t5(tiny_t5_dir):
    from mlm_explorer.core.load.models import load_seq2seq

    return load_seq2seq(str(tiny_t5_dir), device="cpu")


# --------------------------------------------------------------------------------------------- building the input


def test_blanks_become_numbered_sentinels(random_t5):
    from mlm_explorer.core.infer.infill import build_input

    t5_text, n, ids = build_input(random_t5, "A ___ and [MASK] [MASK] then <mask> or <extra_id_7>.")
    assert t5_text == "A <extra_id_0> and <extra_id_1> then <extra_id_2> or <extra_id_3>."
    assert n == 4
    assert ids == random_t5.tokenizer.convert_tokens_to_ids([f"<extra_id_{k}>" for k in range(4)])


# --------------------------------------------------------------------------------------------- memorised fills


@pytest.mark.parametrize("text", [
    "The cute dog ___ in the green park.",
    "The cute dog [MASK] in the green park.",
    "The cute dog [MASK] [MASK] in the green park.",   # consecutive blanks: one span
    "The cute dog <extra_id_0> in the green park.",
])
def test_memorised_single_blank(trained_t5, text):
    from mlm_explorer.core.infer.infill import infill

    result = infill(trained_t5, text)
    assert result.n_blanks == 1 and len(result.candidates) == 1
    best = result.candidates[0]
    assert [f.text for f in best.fills] == ["walks"]
    assert best.text == SENTENCE and best.finished
    assert -1.0 < best.fills[0].logprob < 0
    json.dumps(result.to_dict())


def test_memorised_two_blanks(trained_t5):
    from mlm_explorer.core.infer.infill import infill

    best = infill(trained_t5, "The cute ___ walks in the [MASK] park.").candidates[0]
    assert [(f.index, f.text) for f in best.fills] == [(0, "dog"), (1, "green")]
    assert best.text == SENTENCE


def test_generation_stops_at_the_sentinel_after_the_last_blank(trained_t5):
    import torch

    from mlm_explorer.core.infer.infill import infill

    tok = trained_t5.tokenizer
    enc = tok(PAIRS[0][0], return_tensors="pt")
    with torch.inference_mode():   # left alone, the model goes on after <extra_id_1> (issue 16303)
        raw = trained_t5.model.generate(**enc, max_new_tokens=20, do_sample=False)[0].tolist()
    raw_text = tok.decode(raw, skip_special_tokens=False)
    assert "<extra_id_1> and the cat sleeps" in raw_text.replace("  ", " ")
    best = infill(trained_t5, "The cute dog ___ in the green park.").candidates[0]
    assert [f.text for f in best.fills] == ["walks"] and "cat" not in best.text
    assert best.fills[0].token_ids == tok("walks", add_special_tokens=False)["input_ids"]


def test_fill_logprobs_equal_the_generate_scores(trained_t5):
    """The teacher-forced re-score gives the same per-token log-probabilities as greedy generate."""
    import torch

    from mlm_explorer.core.infer.infill import infill

    tok = trained_t5.tokenizer
    text = "The cute ___ walks in the [MASK] park."
    best = infill(trained_t5, text).candidates[0]
    enc = tok("The cute <extra_id_0> walks in the <extra_id_1> park.", return_tensors="pt")
    start = trained_t5.model.config.decoder_start_token_id
    prefix = torch.tensor([[start, tok.convert_tokens_to_ids("<extra_id_0>")]])
    stop = [tok.eos_token_id, tok.convert_tokens_to_ids("<extra_id_2>")]
    with torch.inference_mode():
        out = trained_t5.model.generate(**enc, decoder_input_ids=prefix, max_new_tokens=20, do_sample=False,
                                        eos_token_id=stop, output_scores=True, return_dict_in_generate=True)
        steps = trained_t5.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)[0]
    assert abs(sum(f.logprob for f in best.fills) - float(steps.sum())) < 1e-4
    assert best.score <= sum(f.logprob for f in best.fills) + 1e-6   # the score also counts <extra_id_0>


def test_beam_search_returns_distinct_ranked_candidates(trained_t5):
    from mlm_explorer.core.infer.infill import infill

    greedy = infill(trained_t5, "The cute dog ___ in the green park.")
    beams = infill(trained_t5, "The cute dog ___ in the green park.", num_beams=4, num_return=3)
    assert 1 <= len(beams.candidates) <= 3
    assert beams.candidates[0].fills[0].text == greedy.candidates[0].fills[0].text == "walks"
    texts = [c.text for c in beams.candidates]
    assert len(set(texts)) == len(texts)
    assert all(len(c.fills) == 1 for c in beams.candidates)
    assert len(infill(trained_t5, "The ___ dog walks in the green park.", num_beams=5, num_return=5).candidates) >= 2
    with pytest.raises(InputError, match="--num-return"):
        infill(trained_t5, "The cute dog ___ .", num_beams=2, num_return=3)
    with pytest.raises(InputError, match="--num-beams"):
        infill(trained_t5, "The cute dog ___ .", num_beams=0)


# --------------------------------------------------------------------------------------------- mechanics


def test_random_model_gives_one_fill_per_blank(random_t5):
    from mlm_explorer.core.infer.infill import infill

    result = infill(random_t5, "A ___ b ___ c ___ d", num_beams=2, num_return=2, max_new_tokens=12)
    for candidate in result.candidates:
        assert [f.index for f in candidate.fills] == [0, 1, 2]
        assert all(isinstance(f.logprob, float) and math.isfinite(f.logprob) for f in candidate.fills)
    short = infill(random_t5, "A ___ b ___ c", max_new_tokens=1).candidates[0]
    assert short.finished is False and len(short.fills) == 2


def test_input_and_model_errors(random_t5, tiny_bert_dir):
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import load_mlm

    with pytest.raises(InputError, match="no blank in the text"):
        infill(random_t5, "The cute dog walks.")
    with pytest.raises(InputError, match="text is empty"):
        infill(random_t5, " ")
    with pytest.raises(InputError, match="only 20 sentinels"):
        infill(random_t5, " x ".join(["___"] * 21))
    with pytest.raises(InputError, match="the model takes at most 64"):
        infill(random_t5, "the dog ___ " + "and the cat " * 40)
    with pytest.raises(ModelError, match="needs a T5 model"):
        infill(load_mlm(str(tiny_bert_dir)), "The cute dog ___ in the park.")
