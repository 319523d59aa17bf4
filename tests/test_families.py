"""Every model family people bring (tests/families.py), through the core and the real CLI.

One test per (family, operation); each records its cell in the matrix (tests/family_matrix.py),
and a full run writes docs/families.json, from which scripts/family_table.py writes the
README's support table. Behaviour, not only exit codes: the typed `___` gives the family's own
mask token's top-k through `pipeline("fill-mask")`; words follow the style's marks; no `Ġ`/`▁`
reaches the screen and no `##` is put on other styles' pieces; every attention row sums to 1;
the sparse-head training loss equals the model's own loss.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from families import BLANK_TEXT, ENCODERS, FAMILIES, LONG_TEXT, SEQ2SEQ, TEXT, TWO_BLANKS
from test_cli import cli  # noqa: F401  (the in-process CLI fixture)
from train_helpers import FAST, run_job, small_corpus

pytestmark = pytest.mark.timeout(300)
NOISE = ("Ġ", "▁")
WORDS_TEXT = "Unbelievable tokenizers split words into pieces, the dog's park."


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _screen(proc) -> str:
    """The human output, without its first line (the model line names the model's directory)."""
    assert proc.returncode == 0, proc.stderr
    return "\n".join(proc.stdout.splitlines()[1:])


def _no_noise(text: str, style: str) -> None:
    assert not any(n in text for n in NOISE), text
    if style != "wordpiece":
        assert "##" not in text, text


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


# --------------------------------------------------------------------------------------------- every family


@pytest.mark.parametrize("name", list(FAMILIES))
def test_load_says_what_the_model_is(name, family_dir, family_lm, matrix):
    from mlm_explorer.core.load.models import inspect

    family = FAMILIES[name]
    with matrix.cell(name, "load"):
        spec = inspect(str(family_dir(name)))
        lm = family_lm(name)
        assert lm.spec == spec and lm.kind == family.kind == spec.kind
        assert spec.tokenizer_style == family.style and spec.cased is family.cased
        assert lm.info["head_trained"] is True and spec.has_lm_head is True
        if family.kind == "mlm":
            assert spec.mask_token == lm.tokenizer.mask_token and spec.infill is None
        else:
            assert spec.infill == ("mask" if family.name in ("BART", "mBART") else "sentinels")


# --------------------------------------------------------------------------------------------- encoders


@pytest.mark.parametrize("name", ENCODERS)
def test_predict_typed_blank_equals_the_native_mask_through_pipeline(name, family_dir, family_lm, cli, matrix):
    from transformers import pipeline

    from mlm_explorer.core.infer.fill import predict

    with matrix.cell(name, "predict"):
        lm = family_lm(name)
        native = BLANK_TEXT.replace("___", lm.tokenizer.mask_token)
        tops = [[c.token_id for c in predict(lm, text).predictions[0].candidates]
                for text in (native, BLANK_TEXT, BLANK_TEXT.replace("___", "[MASK]"))]
        expected = pipeline("fill-mask", model=lm.model, tokenizer=lm.tokenizer, device="cpu")(native, top_k=5)
        assert tops[0] == tops[1] == tops[2] == [e["token"] for e in expected]
        out = _json(cli("predict", BLANK_TEXT, "--model", str(family_dir(name)), "--json"))
        candidates = out["predictions"][0]["candidates"]
        assert [c["token_id"] for c in candidates] == [e["token"] for e in expected]
        assert max(abs(c["probability"] - e["score"]) for c, e in zip(candidates, expected)) < 1e-6
        _no_noise(_screen(cli("predict", BLANK_TEXT, "--model", str(family_dir(name)))), FAMILIES[name].style)


@pytest.mark.parametrize("name", ENCODERS)
def test_joint_fill_reruns_most_confident_first(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.infer.fill import fill_masks, predict

    with matrix.cell(name, "joint"):
        lm = family_lm(name)
        joint = predict(lm, TWO_BLANKS, joint=True)
        independent = predict(lm, TWO_BLANKS)
        first = max(independent.predictions, key=lambda p: p.candidates[0].probability)
        assert (joint.steps[0].position, joint.steps[0].token_id) == (first.position, first.candidates[0].token_id)
        ids = list(independent.filled_ids)
        ids[joint.steps[1].position] = lm.tokenizer.mask_token_id
        ids[joint.steps[0].position] = joint.steps[0].token_id
        second = fill_masks(lm, ids, [joint.steps[1].position]).predictions[0].candidates[0]
        assert second.token_id == joint.steps[1].token_id
        assert _json(cli("predict", TWO_BLANKS, "--model", str(family_dir(name)), "--joint", "--json"))["mode"] == "joint"


@pytest.mark.parametrize("name", ENCODERS)
def test_candidates_score_words_at_the_blank(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.infer.candidates import score_blank
    from mlm_explorer.core.infer.forward import mask_logits
    from mlm_explorer.core.mask.text import tokenize

    with matrix.cell(name, "candidates"):
        lm = family_lm(name)
        scores = score_blank(lm, BLANK_TEXT, ["walks", "park"], max_pieces=2, top=2)
        tt = tokenize(lm.tokenizer, BLANK_TEXT)
        logp = torch.log_softmax(mask_logits(lm, tt.input_ids, [scores.position])[0], -1)
        for c in scores.candidates:
            if c.method == "single":
                assert abs(c.logprob - float(logp[c.token_ids[0]])) < 1e-5
            assert not any(n in p for p in [c.word] for n in NOISE)
        assert scores.fills and all(f.n_pieces >= 1 for f in scores.fills)
        out = _json(cli("predict", BLANK_TEXT, "--model", str(family_dir(name)), "--candidates", "walks,park",
                        "--top-k", "2", "--json"))
        assert [c["word"] for c in out["candidate_scores"]["candidates"]] == ["walks", "park"]


@pytest.mark.parametrize("name", ENCODERS)
def test_score_is_the_pseudo_log_likelihood(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.infer.forward import mask_logits
    from mlm_explorer.core.infer.score import score_text

    with matrix.cell(name, "score"):
        lm = family_lm(name)
        result = score_text(lm, TEXT)  # default: PLL-word-l2r (Kauf & Ivanova 2023)
        original = score_text(lm, TEXT, pll="original")  # Salazar et al. 2020
        first = result.tokens[0]
        same_word = [t.position for t in result.tokens if t.word == first.word and t.position >= first.position]
        for scored, hidden in ((original.tokens[0], [first.position]), (first, same_word)):
            ids = list(result.input_ids)
            for p in hidden:  # original: the piece alone; word-l2r: it and the later pieces of its word
                ids[p] = lm.tokenizer.mask_token_id
            expected = float(torch.log_softmax(mask_logits(lm, ids, [first.position])[0], -1)[first.token_id])
            assert abs(scored.logprob - expected) < 1e-5
        assert abs(result.pll - sum(t.logprob for t in result.tokens)) < 1e-6
        out = _json(cli("score", TEXT, "--model", str(family_dir(name)), "--json"))
        assert abs(out["pll"] - result.pll) < 1e-4
        _no_noise(" ".join(w["text"] for w in out["words"]), FAMILIES[name].style)


@pytest.mark.parametrize("name", ENCODERS)
def test_whole_word_masking_keeps_words_whole(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.mask.masking import MaskingPolicy, MaskingVocab, mask_tokens
    from mlm_explorer.core.mask.text import tokenize

    with matrix.cell(name, "mask"):
        tok = family_lm(name).tokenizer
        out = _json(cli("mask", WORDS_TEXT, "--model", str(family_dir(name)), "--whole-word", "--rate", "0.5",
                        "--seed", "3", "--json"))
        by_word: dict = {}
        for t in out["tokens"]:
            if t["word"] is not None:
                by_word.setdefault(t["word"], set()).add(t["decision"])
        assert all(len(d) == 1 for d in by_word.values()) and sum(out["counts"].values()) > 0
        # the training engine (word starts from the vocabulary) cuts the same words as the preview
        tt = tokenize(tok, WORDS_TEXT)
        ids = torch.tensor([tt.input_ids])
        m = mask_tokens(ids, vocab=MaskingVocab.from_tokenizer(tok), generator=torch.Generator().manual_seed(0),
                        policy=MaskingPolicy(rate=1.0, whole_word=True, count=1))
        picked = {i for i, d in enumerate(m.decisions[0].tolist()) if d}
        word = {t.word for t in tt.tokens if t.index in picked}
        assert len(word) == 1 and picked == {t.index for t in tt.tokens if t.word in word}


@pytest.mark.parametrize("name", ENCODERS)
def test_words_follow_the_style_and_show_no_marks(name, family_lm, matrix):
    from mlm_explorer.core.mask.text import PieceStyle, tokenize

    with matrix.cell(name, "words"):
        tok = family_lm(name).tokenizer
        style = PieceStyle.of(tok)
        tt = tokenize(tok, WORDS_TEXT)
        pieces = tok.convert_ids_to_tokens(tt.input_ids)
        for t, piece in zip(tt.tokens, pieces):
            assert not any(n in t.text for n in NOISE) and not t.text.startswith("##")
            if t.special:
                continue
            after_special = tt.tokens[t.index - 1].special
            assert t.continues_word == (not after_special and style.continues(piece)), (t, piece)
        if FAMILIES[name].style == "wordpiece" and not FAMILIES[name].cased:
            assert [t.text for t in tt.tokens if t.word == tt.tokens[1].word] == ["un", "believ", "able"]


@pytest.mark.parametrize("name", ENCODERS)
def test_attention_rows_sum_to_one(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.explain.attention import attention_maps
    from mlm_explorer.core.mask.text import tokenize

    with matrix.cell(name, "attention"):
        lm = family_lm(name)
        for text in (TEXT, LONG_TEXT):   # LONG_TEXT: BigBird's block-sparse path, Longformer's band over 4 windows
            tt = tokenize(lm.tokenizer, text)
            maps = attention_maps(lm, tt.input_ids)
            L = len(tt.input_ids)
            assert maps.weights.shape[-2:] == (L, L)
            assert torch.allclose(maps.weights.sum(-1), torch.ones(maps.weights.shape[:-1]), atol=1e-4)
        if name == "Funnel":
            assert "pools the sequence" in maps.note and maps.num_layers == 2   # the pooled layer is left out
            matrix.note(name, "attention", "the layers that keep the length (pooled ones left out)")
        elif name == "BigBird":
            assert "full-attention path" in maps.note
            matrix.note(name, "attention", "on its full-attention path")
        else:
            assert maps.note == ""
        if name == "Longformer":
            matrix.note(name, "attention", "its sliding-window band mapped to tokens")
        out = _json(cli("attention", TEXT, "--model", str(family_dir(name)), "--token", "2", "--json"))
        assert abs(sum(out["weights"]) - 1) < 1e-4 and len(out["weights"]) == len(out["tokens"])
        _no_noise(_screen(cli("attention", TEXT, "--model", str(family_dir(name)), "--token", "2")),
                  FAMILIES[name].style)


@pytest.mark.parametrize("name", ENCODERS)
def test_saliency_is_complete(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.explain.saliency import saliency

    with matrix.cell(name, "saliency"):
        result = saliency(family_lm(name), BLANK_TEXT, steps=16)
        s = result.saliency
        assert len(s.integrated_gradients) == len(result.tokens)
        assert s.completeness_gap < 0.05, s.completeness_gap
        out = _json(cli("saliency", BLANK_TEXT, "--model", str(family_dir(name)), "--steps", "2",
                        "--method", "grad-x-input", "--json"))
        assert out["target_rank"] >= 1 and len(out["grad_x_input"]) == len(out["tokens"])


@pytest.mark.parametrize("name", ENCODERS)
def test_diff_of_two_models_of_one_family(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.infer.diff import diff_text

    with matrix.cell(name, "diff"):
        result = diff_text(family_lm(name), family_lm(name, seed=1), BLANK_TEXT, top_k=3)
        for m in result.masks:
            assert abs(sum(c.delta for c in m.candidates) - (m.mass_outside_base - m.mass_outside_tuned)) < 1e-5
            assert m.kl >= 0
        out = _json(cli("diff", BLANK_TEXT, "--model", str(family_dir(name, 1)), "--base", str(family_dir(name)),
                        "--json"))
        assert len(out["masks"]) == 1


@pytest.mark.parametrize("name", ENCODERS)
def test_train_sparse_head_loss_equals_the_models_own_and_the_output_loads(name, family_dir, family_lm, isolated,
                                                                             matrix):
    from transformers import pipeline

    from mlm_explorer.core.mask.text import tokenize
    from mlm_explorer.train.objectives import MaskedLMLoss

    with matrix.cell(name, "train"):
        lm = family_lm(name)
        ids = torch.tensor([tokenize(lm.tokenizer, TEXT).input_ids] * 2)     # (2, L)
        labels = torch.full_like(ids, -100)
        labels[0, 2], labels[1, 3], labels[1, 5] = ids[0, 2], ids[1, 3], ids[1, 5]
        masked = ids.masked_fill(labels != -100, lm.tokenizer.mask_token_id)
        attention = torch.ones_like(ids)
        loss = MaskedLMLoss(lm.model)
        assert loss.sparse                                                  # the head runs at 3 positions only
        with torch.no_grad():
            masked_index = (labels != -100).reshape(-1).nonzero().squeeze(1)  # (3,) as module_inputs gives it
            sums = loss(input_ids=masked, labels=labels, masked_index=masked_index, attention_mask=attention)
            full = lm.model(input_ids=masked, attention_mask=attention, labels=labels).loss
        assert abs(float(sums["mlm_sum"]) / 3 - float(full)) < 1e-5
        run = isolated / "run"
        rc, events = run_job([small_corpus(isolated / "corpus"), "--model", family_dir(name), "--max-steps", 2,
                              "--batch-size", 4, "--block-size", 32, "--output", run, *FAST])
        assert rc == 0, events[-1]
        fill = pipeline("fill-mask", model=str(run / "best"), device="cpu")
        assert len(fill(BLANK_TEXT.replace("___", fill.tokenizer.mask_token), top_k=2)) == 2
        matrix.note(name, "train", "mlm, sparse head; the run loads in pipeline(\"fill-mask\")")


# --------------------------------------------------------------------------------------------- seq2seq


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_infill_fills_each_blank(name, family_dir, family_lm, cli, matrix):
    from mlm_explorer.core.infer.infill import infill

    with matrix.cell(name, "infill"):
        lm = family_lm(name)
        result = infill(lm, TWO_BLANKS, num_beams=2, num_return=2)
        assert result.n_blanks == 2 and result.candidates
        assert result.style == lm.spec.infill
        for cand in result.candidates:
            assert len(cand.fills) == 2 and all(math.isfinite(f.logprob) for f in cand.fills)
            assert cand.score <= 0
        matrix.note(name, "infill", "rewrites the text; spans aligned" if result.style == "mask" else "sentinel spans")
        out = _json(cli("infill", TWO_BLANKS, "--model", str(family_dir(name)), "--json"))
        assert out["n_blanks"] == 2 and len(out["candidates"][0]["fills"]) == 2
        _no_noise(_screen(cli("infill", TWO_BLANKS, "--model", str(family_dir(name)))), "sentencepiece")


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_compare_puts_the_encoder_beside_it(name, family_dir, cli, matrix):
    with matrix.cell(name, "compare"):
        role = "bart" if FAMILIES[name].name in ("BART", "mBART") else "t5"
        out = _json(cli("compare", TWO_BLANKS, "--bert", str(family_dir("BERT (uncased)")), f"--{role}",
                        str(family_dir(name)), "--json"))
        assert len(out["bert"]["predictions"]) == 2 and out[role]["n_blanks"] == 2
        assert out[role]["style"] == ("mask" if role == "bart" else "sentinels")
        screen = _screen(cli("compare", TWO_BLANKS, "--bert", str(family_dir("BERT (uncased)")), f"--{role}",
                             str(family_dir(name))))
        assert ("BART: rewrites the text" if role == "bart" else "T5: spans") in screen.replace("\n", " ")


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_train_with_the_familys_own_objective(name, family_dir, isolated, matrix):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    with matrix.cell(name, "train"):
        run = isolated / "run"
        rc, events = run_job([small_corpus(isolated / "corpus"), "--model", family_dir(name), "--max-steps", 2,
                              "--batch-size", 4, "--block-size", 32, "--output", run, *FAST])
        assert rc == 0, events[-1]
        started = next(e for e in events if e["event"] == "started")
        assert started["objective"] == ("infill" if name in ("BART", "mBART") else "span")
        matrix.note(name, "train", "text infilling (Poisson 3)" if started["objective"] == "infill" else "span corruption")
        tok = AutoTokenizer.from_pretrained(str(run / "best"))
        model = AutoModelForSeq2SeqLM.from_pretrained(str(run / "best"))
        out = model.generate(**tok("The cute dog walks.", return_tensors="pt"), max_new_tokens=3)
        assert out.shape[0] == 1


# --------------------------------------------------------------------------------------------- the real command


def test_the_real_command_prints_no_library_noise(family_dir):
    """`mlm-explorer compare` in a subprocess, with the two families whose calls made transformers talk
    (BigBird: "block_sparse is not possible..."; byte-level BPE decoding: "Ignoring clean_up_...") beside
    BART: the answer on stdout, nothing at all on stderr."""
    from test_cli import run_cli

    proc = run_cli("compare", TWO_BLANKS, "--bert", str(family_dir("BigBird")), "--bart", str(family_dir("BART")),
                   env_extra={"COLUMNS": "120"})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    _no_noise("\n".join(proc.stdout.splitlines()[1:]), "sentencepiece")
