"""Bad input over every subcommand, through the real `mlm-explorer` in a subprocess: exit code 2,
exactly one line on stderr ("error: ..." that says what to do), never a traceback.

Inputs caught before a model loads run one process each (a fraction of a second: no torch).
Those that need a model run in one interpreter (tests/cli_batch.py), which pays for importing
torch once; `train` cases that reach the job start it as a process of its own, as always.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

HERE = Path(__file__).resolve().parent
LONG = " ".join(["dog"] * 80) + " [MASK]"  # the tiny models take 64 tokens

# id -> (argv, what the one line must say). {bert}, {t5}, {corpus}, ... are filled in by `world`.
BEFORE_ANY_MODEL = {
    "no-subcommand-option": (["--bogus"], "unrecognized arguments: --bogus"),
    "unknown-subcommand": (["predcit", "x"], "invalid choice: 'predcit'"),
    "global-t5-on-models": (["--t5", "x", "models"], "--t5 does not apply to `models`"),
    "predict-empty": (["predict", "   "], "the text is empty"),
    "predict-top-k-0": (["predict", "x [MASK]", "--top-k", "0"], "--top-k: expected a whole number >= 1, got 0"),
    "predict-top-k-word": (["predict", "x [MASK]", "--top-k", "many"], "--top-k: expected a whole number >= 1, got 'many'"),
    "predict-temperature-0": (["predict", "x [MASK]", "--temperature", "0"], "--temperature: expected a number > 0"),
    "predict-temperature-nan": (["predict", "x [MASK]", "--temperature", "nan"], "--temperature: expected a number > 0, got nan"),
    "predict-mask-without-candidates": (["predict", "x [MASK]", "--mask", "2"], "add --candidates W1,W2"),
    "predict-not-utf8": ([b"predict", b"caf\xe9 [MASK]"], "the text is not valid UTF-8 (byte 0xe9 at character 4)"),
    "score-empty": (["score", ""], "the text is empty"),
    "score-batch-0": (["score", "x", "--batch-size", "0"], "--batch-size: expected a whole number >= 1, got 0"),
    "infill-return-above-beams": (["infill", "a [MASK]", "--model", "{t5}", "--num-return", "3"],
                                  "--num-return 3 is more than --num-beams 1"),
    "mask-rate-above-1": (["mask", "hello", "--rate", "1.5"], "--rate: expected a number between 0 and 1, got 1.5"),
    "mask-rate-negative": (["mask", "hello", "--rate", "-0.1"], "--rate: expected a number between 0 and 1"),
    "mask-count-0": (["mask", "hello", "--count", "0"], "--count: expected a whole number >= 1, got 0"),
    "mask-seed-huge": (["mask", "hello", "--seed", str(2 ** 70)], "--seed: expected a whole number from 0 to 4294967295"),
    "mask-empty": (["mask", " "], "the text is empty"),
    "attention-no-token": (["attention", "a b"], "the following arguments are required: --token"),
    "attention-token-word": (["attention", "a b", "--token", "first"], "--token: invalid int value: 'first'"),
    "saliency-steps-0": (["saliency", "a [MASK]", "--steps", "0"], "--steps: expected a whole number >= 1, got 0"),
    "saliency-method": (["saliency", "a [MASK]", "--method", "magic"], "--method: invalid choice: 'magic'"),
    "models-option": (["models", "--top-k", "3"], "unrecognized arguments: --top-k 3"),
    "runs-probes-unknown": (["runs", "--probes", "no-such-run"], "--probes no-such-run: no such run"),
    "runs-probes-none": (["runs", "--probes", "{run_without_probes}"], "the run has no probe history"),
    "diff-no-base": (["diff", "a [MASK]", "--model", "bundled"], "is not a fine-tuning run"),
    "diff-empty": (["diff", "", "--model", "bundled"], "the text is empty"),
    "train-no-input": (["train"], "no input: name the text files or folders to train on"),
    "train-lr-inf": (["train", "{corpus}", "--lr", "inf"], "--lr: expected a number > 0, got inf"),
    "train-lr-nan": (["train", "{corpus}", "--lr", "nan"], "--lr: expected a number > 0, got nan"),
    "train-lr-negative": (["train", "{corpus}", "--lr", "-1e-4"], "--lr: expected a number > 0, got -0.0001"),
    "train-lr-minus-inf": (["train", "{corpus}", "--lr", "-inf"], "--lr: expected a number > 0, got -inf"),
    "train-warmup-negative": (["train", "{corpus}", "--warmup-steps", "-5"], "--warmup-steps: expected a whole number >= 0"),
    "train-grad-clip-negative": (["train", "{corpus}", "--grad-clip", "-1"], "--grad-clip: expected a number >= 0, got -1.0"),
    "train-mask-rate": (["train", "{corpus}", "--mask-rate", "1.5"], "--mask-rate: expected a number between 0 and 1"),
    "train-batch-0": (["train", "{corpus}", "--batch-size", "0"], "--batch-size: expected a whole number >= 1, got 0"),
    "train-epochs-0": (["train", "{corpus}", "--epochs", "0"], "--epochs: expected a number > 0, got 0.0"),
    "train-eval-fraction-1": (["train", "{corpus}", "--eval-fraction", "1"], "--eval-fraction: expected a number between 0 and 1 (not 0 or 1)"),
    "train-block-4": (["train", "{corpus}", "--block-size", "4"], "--block-size: expected a whole number >= 8, got 4"),
    "train-params": (["train", "{corpus}", "--train-params", "heads"], "--train-params 'heads': use all, head, head+norms, head+top:N or head+decoder"),
    "train-objective": (["train", "{corpus}", "--objective", "clm"], "--objective: invalid choice: 'clm'"),
    "train-seed-negative": (["train", "{corpus}", "--seed", "-1"], "--seed: expected a whole number from 0 to 4294967295"),
    "train-missing-path": (["train", "{missing}"], "no such file or folder"),
    "train-empty-folder": (["train", "{empty}"], "no files to train on in"),
    "train-binary-only": (["train", "{binary}"], "binary (NUL bytes) though named like text"),
    "train-output-is-a-file": (["train", "{corpus}", "--output", "{file}"], "is a file; give a directory"),
    "train-output-under-a-file": (["train", "{corpus}", "--output", "{file}/run"], "cannot create the directory (Not a directory)"),
    "train-resume-not-a-run": (["train", "--resume", "/etc"], "--resume /etc: /etc is not a training run (it has no run.json)"),
    "train-resume-unknown": (["train", "--resume", "no-such-run"], "--resume no-such-run: no such run"),
    "train-resume-damaged": (["train", "--resume", "{damaged_run}"], "run.json is damaged (Expecting value"),
    "train-output-holds-a-run": (["train", "{corpus}", "--output", "{damaged_run}"], "already holds a run; continue it with --resume"),
    "train-probe-not-utf8": ([b"train", b"{corpus}", b"--probe", b"Paris is the capital of \xff[MASK].|france"],
                             "--probe is not valid UTF-8"),
    "train-probe-no-blank": (["train", "{corpus}", "--probe", "Paris is nice.|paris"], "--probe"),
}

NEEDS_A_MODEL = {
    "predict-no-mask": (["predict", "No blank here.", "--model", "{bert}"], "no mask in the text"),
    "predict-too-long": (["predict", LONG, "--model", "{bert}"], "the model takes at most 64; shorten it or pass --truncate"),
    "predict-truncate-cuts-the-blank": (["predict", LONG, "--model", "{bert}", "--truncate"],
                                        "beyond the model's limit of 64 tokens, so --truncate cut it off"),
    "predict-t5-model": (["predict", "a [MASK]", "--model", "{t5}"], "encoder-decoder model: use it with `mlm-explorer infill`"),
    "predict-no-such-dir": (["predict", "a [MASK]", "--model", "./no/such/dir"], "no such directory: ./no/such/dir"),
    "predict-not-a-model-dir": (["predict", "a [MASK]", "--model", "{empty}"], "is not a model directory"),
    "predict-device-tpu": (["predict", "a [MASK]", "--model", "{bert}", "--device", "tpu"], "tpu"),
    "global-device-tpu": (["--device", "tpu", "predict", "a [MASK]", "--model", "{bert}"], "tpu"),
    "predict-candidates-empty": (["predict", "a [MASK]", "--model", "{bert}", "--candidates", ","], "--candidates"),
    "infill-bert-model": (["infill", "a [MASK]", "--model", "{bert}"], "encoder masked-LM: use it with `mlm-explorer predict`"),
    "attention-token-outside": (["attention", "the cute dog", "--model", "{bert}", "--token", "99"], "outside the text"),
    "attention-head-missing": (["attention", "the cute dog", "--model", "{bert}", "--token", "1", "--head", "5"],
                               "head 5 does not exist: the model has 2 heads"),
    "attention-layer-missing": (["attention", "the cute dog", "--model", "{bert}", "--token", "1", "--layer", "-7"],
                                "layer -7 does not exist: the model has 2 layers"),
    "saliency-mask-3": (["saliency", "the [MASK] dog", "--model", "{bert}", "--mask", "3"], "--mask 3: the text has 1 blank; use --mask 1 or leave it out"),
    "train-five-tokens": (["train", "{five_tokens}", "--model", "{bert}", "--threads", "1"], "at least 7 tokens are needed"),
    "train-one-word": (["train", "{one_word}", "--model", "{bert}", "--threads", "1"], "too short: 1 token(s), fewer than 5"),
    "train-rate-0": (["train", "{corpus}", "--model", "{bert}", "--mask-rate", "0", "--threads", "1"], "--mask-rate 0 masks no token"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_bert_dir, tiny_t5_dir):
    """The files the cases name, and an environment that keeps away from the user's own dirs."""
    from mlm_explorer import rundir
    from train_helpers import small_corpus, subprocess_env, write_corpus

    root = tmp_path_factory.mktemp("bad-input")
    (root / "file.txt").write_text("a file, not a directory")
    (root / "empty").mkdir()
    (root / "binary").mkdir()
    (root / "binary" / "a.txt").write_bytes(b"\x00\x01\x02binary")
    damaged = root / "damaged-run"
    damaged.mkdir()
    (damaged / rundir.RUN_JSON).write_text("")
    plain = root / "plain-run"
    plain.mkdir()
    rundir.write_record(plain, {"status": "finished", "model": "bundled", "config": {}})
    names = {"bert": tiny_bert_dir, "t5": tiny_t5_dir, "corpus": small_corpus(root / "corpus"),
             "one_word": write_corpus(root / "one-word", ["Paris"]),
             "five_tokens": write_corpus(root / "five-tokens", ["the cute dog walks in"]), "file": root / "file.txt",
             "empty": root / "empty", "binary": root / "binary", "missing": root / "missing",
             "damaged_run": damaged, "run_without_probes": plain}
    env = subprocess_env(root)
    env.update(MLM_EXPLORER_CONFIG_DIR=str(root / "config"), COLUMNS="120", PYTHONIOENCODING="utf-8")
    env.pop("MLM_EXPLORER_DEBUG", None)
    return {k: str(v) for k, v in names.items()}, env, root


def _argv(argv, names):
    def fill(a):
        if isinstance(a, bytes):
            return a.replace(b"{corpus}", names["corpus"].encode())
        return a.format(**names)

    return [fill(a) for a in argv]


@pytest.fixture(scope="module")
def loaded_results(world):
    names, env, root = world
    cases = {case: _argv(argv, names) for case, (argv, _) in NEEDS_A_MODEL.items()}
    (root / "cases.json").write_text(json.dumps(cases))
    subprocess.run([sys.executable, str(HERE / "cli_batch.py"), str(root / "cases.json"), str(root / "results.json")],
                   env=env, cwd=root, check=True, timeout=540)
    return json.loads((root / "results.json").read_text())


def _run_alone(argv, env, cwd) -> dict:
    proc = subprocess.run([sys.executable, "-m", "mlm_explorer", *argv], env=env, cwd=cwd, capture_output=True,
                          timeout=120)
    return {"returncode": proc.returncode, "stderr": proc.stderr.decode("utf-8", "replace")}


def assert_one_clear_line(result: dict, expected: str) -> None:
    err = result["stderr"]
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert result["returncode"] == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "internal error" not in lines[0]
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize("case", list(BEFORE_ANY_MODEL))
def test_bad_input_caught_before_a_model_loads(case, world):
    names, env, root = world
    argv, expected = BEFORE_ANY_MODEL[case]
    assert_one_clear_line(_run_alone(_argv(argv, names), env, root), expected.format(**names))


@pytest.mark.parametrize("case", list(NEEDS_A_MODEL))
def test_bad_input_that_needs_a_model(case, loaded_results, world):
    assert_one_clear_line(loaded_results[case], NEEDS_A_MODEL[case][1].format(**world[0]))


def test_a_damaged_run_json_is_listed_with_what_to_do(world):
    names, env, root = world
    data = Path(env["MLM_EXPLORER_DATA_DIR"]) / "runs" / "broken"
    data.mkdir(parents=True)
    (data / "run.json").write_text("{not json")
    proc = subprocess.run([sys.executable, "-m", "mlm_explorer", "runs", "--json"], env=env, cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [run] = json.loads(proc.stdout)["runs"]
    assert run["status"] == "damaged" and run["note"].startswith(f"{data / 'run.json'} cannot be read")
    assert "put back a good run.json or remove the run" in run["note"]
    os.remove(data / "run.json")
