"""Probes: the file format, evaluate_probes against fill_masks, the training job's probe history
(events, run.json, resume) and `mlm-explorer runs --probes`."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from test_cli import assert_one_line_error, cli  # noqa: F401  (the `cli` fixture)
from train_helpers import FAST, of, run_job, small_corpus

PROBE_FILE = """# probes for the tiny corpus
The cute dog walks in the green [MASK].\tpark

Paris is the ___ of France. | capital
  [mask] is the capital of germany. |berlin
"""
TEXTS = ["The cute dog walks in the green [MASK].", "Paris is the ___ of France.", "[mask] is the capital of germany."]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def lm(tiny_bert_dir):
    from mlm_explorer.core.load.models import load_mlm

    return load_mlm(str(tiny_bert_dir), device="cpu")


# ---- the file format ----------------------------------------------------------------------------


def test_parse_probe_file_reads_tabs_pipes_and_skips_comments(tmp_path):
    from mlm_explorer.core.explain.probes import parse_probe_file

    path = tmp_path / "probes.txt"
    path.write_text(PROBE_FILE, encoding="utf-8")
    probes = parse_probe_file(path)
    assert [(p.text, p.answer) for p in probes] == list(zip(TEXTS, ["park", "capital", "berlin"]))
    assert [p.source for p in probes] == ["probes.txt line 2", "probes.txt line 4", "probes.txt line 5"]


@pytest.mark.parametrize("line, needle", [
    ("The cute dog walks in the park.\tdog", "no blank"),
    ("The [MASK] walks in the ___ park.\tdog", "2 blanks"),
    ("The cute [MASK] walks in the park.", "no answer"),
    ("The cute [MASK] walks in the park. |  ", "no answer"),
    ("The cute [MASK] walks.\tnew york", "has a space"),
])
def test_a_bad_line_is_one_error_with_its_number(tmp_path, line, needle):
    from mlm_explorer.core.explain.probes import parse_probe_file
    from mlm_explorer.errors import InputError

    path = tmp_path / "probes.txt"
    path.write_text(f"# header\nThe cute dog walks in the green [MASK].\tpark\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        parse_probe_file(path)
    message = str(err.value)
    assert message.startswith("probes.txt line 3: ") and needle in message and "\n" not in message


def test_missing_or_empty_file(tmp_path):
    from mlm_explorer.core.explain.probes import parse_probe_file
    from mlm_explorer.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        parse_probe_file(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(InputError, match="no probes"):
        parse_probe_file(tmp_path / "empty.txt")


@pytest.mark.parametrize("answer, needle", [
    ("unbelievable", "3 tokens for this model (un ##believ ##able)"),  # rejected, not scored by its first piece
    ("жук", "not in the model's vocabulary (it becomes [UNK])"),
])
def test_an_answer_that_is_not_one_token_is_rejected(lm, tmp_path, answer, needle):
    from mlm_explorer.core.explain.probes import evaluate_probes, parse_probe_file
    from mlm_explorer.errors import InputError

    path = tmp_path / "probes.txt"
    path.write_text(f"The cute dog walks in the green [MASK].\tpark\nThat was [MASK] indeed.\t{answer}\n")
    with pytest.raises(InputError) as err:
        evaluate_probes(lm, parse_probe_file(path))
    assert str(err.value).startswith("probes.txt line 2: ") and needle in str(err.value)


# ---- evaluate_probes ------------------------------------------------------------------------------


def test_rank_probability_and_top3_are_fill_masks_distribution(lm):
    from mlm_explorer.core.infer.fill import mask_logits, predict
    from mlm_explorer.core.explain.probes import evaluate_probes, probes_from_options
    from mlm_explorer.core.mask.text import tokenize

    probes = probes_from_options(None, [f"{t}|{a}" for t, a in zip(TEXTS, ["park", "capital", "berlin"])])
    results = evaluate_probes(lm, probes)  # one padded batch: three lengths
    one_by_one = [evaluate_probes(lm, [p])[0] for p in probes]
    for probe, r, alone in zip(probes, results, one_by_one):
        fill = predict(lm, probe.text, top_k=3).predictions[0]
        tt = tokenize(lm.tokenizer, probe.text)
        probs = torch.softmax(mask_logits(lm, tt.input_ids, [fill.position])[0], dim=-1)
        answer_id = lm.tokenizer.convert_tokens_to_ids(probe.answer)
        assert (r.text, r.answer) == (probe.text, probe.answer)
        assert r.probability == pytest.approx(float(probs[answer_id]), rel=1e-5)
        assert r.rank == int((probs > probs[answer_id]).sum()) + 1 == alone.rank
        assert [t for t, _ in r.top3] == [c.text for c in fill.candidates]
        assert [p for _, p in r.top3] == pytest.approx([c.probability for c in fill.candidates], rel=1e-5)
        assert r.probability == pytest.approx(alone.probability, rel=1e-5)
    data = results[0].to_dict()
    assert set(data) == {"text", "answer", "rank", "probability", "top3"} and len(data["top3"]) == 3
    assert json.loads(json.dumps(data))["top3"][0] == [results[0].top3[0][0], results[0].top3[0][1]]


def test_train_mode_is_restored_and_pretraining_heads_give_the_same(lm):
    from transformers import BertForPreTraining

    from mlm_explorer.core.explain.probes import evaluate_probes, probes_from_options, prepare_probes

    probes = prepare_probes(lm.tokenizer, probes_from_options(None, ["The cute dog walks in the green [MASK].|park"]))
    expected = evaluate_probes(lm.model, probes, tokenizer=lm.tokenizer)
    lm.model.train()
    try:
        again = evaluate_probes(lm.model, probes, tokenizer=lm.tokenizer)  # dropout off while probing
        assert lm.model.training
    finally:
        lm.model.eval()
    assert again == expected
    nsp = BertForPreTraining(lm.model.config)  # what an mlm+nsp run trains
    nsp.load_state_dict(lm.model.state_dict(), strict=False)
    nsp.tie_weights()
    [r] = evaluate_probes(nsp, probes, tokenizer=lm.tokenizer)
    assert r.rank == expected[0].rank and r.probability == pytest.approx(expected[0].probability, rel=1e-5)
    assert nsp.training  # a fresh module is in train mode: restored after probing


# ---- the training job -------------------------------------------------------------------------------


def _probe_run(tmp_path, tiny_bert_dir, run, *extra):
    corpus = small_corpus(tmp_path / "corpus")
    probes = tmp_path / "probes.txt"
    probes.write_text(PROBE_FILE, encoding="utf-8")
    return run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 7, "--batch-size", 4, "--lr", 5e-3,
                    "--eval-every", 3, "--save-every", 3, "--output", run, *extra, *FAST])


def test_job_records_probe_history_and_resume_appends(tmp_path, tiny_bert_dir, cli):  # noqa: F811
    run = tmp_path / "run"
    rc, events = _probe_run(tmp_path, tiny_bert_dir, run, "--probes", tmp_path / "probes.txt",
                            "--probe", "She reads a [MASK] every evening.|book")
    assert rc == 0, events
    assert of(events, "started")[0]["probes"] == 4
    probe_events = of(events, "probes")
    assert [e["step"] for e in probe_events] == [0, 3, 6, 7]  # before training, each eval, the end
    names = [e["event"] for e in events]
    assert names.index("probes") == names.index("started") + 1  # step 0 comes before any step
    for e in probe_events:
        assert [(r["text"], r["answer"]) for r in e["results"]] == \
            list(zip(TEXTS + ["She reads a [MASK] every evening."], ["park", "capital", "berlin", "book"]))
        assert all(r["rank"] >= 1 and 0 < r["probability"] < 1 and len(r["top3"]) == 3 for r in e["results"])
    info = json.loads((run / "run.json").read_text())
    assert info["probe_history"] == [{"step": e["step"], "results": e["results"]} for e in probe_events]
    assert info["config"]["probes"] == str((tmp_path / "probes.txt").resolve())

    # the probes change nothing in training: the same run without them has the same losses
    rc, plain = run_job([small_corpus(tmp_path / "corpus"), "--model", tiny_bert_dir, "--max-steps", 7,
                         "--batch-size", 4, "--lr", 5e-3, "--eval-every", 3, "--save-every", 3,
                         "--output", tmp_path / "plain", *FAST])
    assert rc == 0 and [e["loss"] for e in of(plain, "step")] == [e["loss"] for e in of(events, "step")]
    assert "probe_history" not in json.loads((tmp_path / "plain" / "run.json").read_text())
    assert_one_line_error(cli("runs", "--probes", str(tmp_path / "plain")), "no probe history", "--probes")

    # killed after checkpoint-6: the resumed run forgets what came later and appends
    (run / "latest").write_text("checkpoint-6\n")
    shutil.rmtree(run / "checkpoint-7")
    rc, resumed = run_job(["--resume", run, "--max-steps", 10, *FAST])
    assert rc == 0, resumed
    assert [e["step"] for e in of(resumed, "probes")] == [9, 10]  # step 6 was recorded already
    history = json.loads((run / "run.json").read_text())["probe_history"]
    assert [h["step"] for h in history] == [0, 3, 6, 9, 10]
    assert history[:3] == info["probe_history"][:3]

    # mlm-explorer runs --probes: JSON and the table
    out = cli("runs", "--probes", str(run), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["run"] == "run" and payload["model"] == str(tiny_bert_dir) and payload["status"] == "finished"
    assert payload["probe_history"] == history
    out = cli("runs", "--probes", str(run))
    assert out.returncode == 0, out.stderr
    assert "step 0" in out.stdout and "step 10" in out.stdout and "top-3 at step 10" in out.stdout
    last = {r["answer"]: r for r in history[-1]["results"]}
    assert f"#{last['park']['rank']} {last['park']['probability']:.3f}" in out.stdout
    assert_one_line_error(cli("runs", "--probes", "no-such-run"), "no such run")


def test_a_run_found_by_name_under_the_data_dir(tmp_path, tiny_bert_dir, cli):  # noqa: F811
    from mlm_explorer.paths import runs_dir

    run = runs_dir() / "named"
    rc, events = _probe_run(tmp_path, tiny_bert_dir, run, "--probe", "Paris is the [MASK] of France.|capital",
                            "--max-steps", 2, "--eval-every", 100)
    assert rc == 0, events
    assert [e["step"] for e in of(events, "probes")] == [0, 2]  # no eval on the way: step 0 and the end
    out = cli("runs", "--probes", "named", "--json")
    assert out.returncode == 0, out.stderr
    assert [h["step"] for h in json.loads(out.stdout)["probe_history"]] == [0, 2]


@pytest.mark.parametrize("case", ["bad-line", "two-pieces", "t5"])
def test_job_refuses_bad_probes_before_training(tmp_path, tiny_bert_dir, tiny_t5_dir, case):
    corpus = small_corpus(tmp_path / "corpus")
    (tmp_path / "p.txt").write_text("A [MASK] here.\tdog\nNo blank here.\tdog\n")
    args, needle = {
        "bad-line": (["--model", tiny_bert_dir, "--probes", tmp_path / "p.txt"], "p.txt line 2: no blank"),
        "two-pieces": (["--model", tiny_bert_dir, "--probe", "That was [MASK].|unbelievable"], "--probe 1: the answer"),
        "t5": (["--model", tiny_t5_dir, "--probe", "That was [MASK].|dog"], "span corruption"),
    }[case]
    rc, events = run_job([corpus, *args, "--output", tmp_path / "run", "--threads", 1])
    assert rc == 2
    [error] = of(events, "error")
    assert needle in error["message"] and not of(events, "started")
    assert not (tmp_path / "run" / "run.json").exists()
