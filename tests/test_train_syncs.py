"""Host-device syncs per training step, counted on the CPU (tests/sync_counter.py), held at
the numbers train/loop.py promises: one per micro-batch for the sparse MLM head's masked
positions; none for span corruption. A micro-batch holding the corpus's padded tail block
(one step in an epoch) carries an attention mask, and transformers checks whether it is all
ones: one more (two for T5: the encoder's and the decoder's cross attention).

The masking engine runs its torch namespace here, the one every GPU runs (on the CPU it would
use NumPy views, whose `.numpy()` calls are no syncs there and never happen on a GPU).

The host side of a step (train/batches.py: `Batches.host`, which blocks, their gather, the token
count; and `Batches.to_device`, the copy) works on host tensors by construction and is not counted;
everything after it - masking, the forward and backward passes, the optimizer step - is.
"""

from __future__ import annotations

import pytest

from sync_counter import counting_syncs
from train_helpers import of, run_job, small_corpus


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _syncs_per_step(monkeypatch, args) -> tuple[list[list[str]], list[int]]:
    """Run the job in-process; return the counted calls of each training step and the number
    of its micro-batches that hold a padded row."""
    from mlm_explorer.train.batches import Batches
    from mlm_explorer.train.loop import Loop

    from mlm_explorer.core.mask import arrays, masking

    monkeypatch.setattr(masking, "ops_for", lambda device, backend=None: arrays.ops_for(device, "torch"))
    steps: list[list[str]] = []
    padded: list[int] = []
    with counting_syncs() as counter:
        original_step, original_host, original_copy = Loop.train_step, Batches.host, Batches.to_device

        def train_step(self, elapsed):
            self.batches.micro_for_test = self.micro
            counter.calls = []
            with counter.measuring():
                out = original_step(self, elapsed)
            steps.append(counter.calls)
            return out

        def host(self, step):
            with counter.paused():
                host = original_host(self, step)
            micro = self.micro_for_test
            padded.append(len({row // micro for row, _ in host["partial"]}))
            return host

        def to_device(self, host):
            with counter.paused():
                return original_copy(self, host)

        monkeypatch.setattr(Loop, "train_step", train_step)
        monkeypatch.setattr(Batches, "host", host)
        monkeypatch.setattr(Batches, "to_device", to_device)
        rc, events = run_job([str(a) for a in args] + ["--log-every", "1", "--threads", "1"])
    assert rc == 0, events
    assert len(of(events, "step")) == len(steps) == len(padded)
    return steps, padded


def _mask_checks(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("__bool__ at transformers/masking_utils.py")]


@pytest.mark.parametrize("extra, micro_batches", [([], 1), (["--micro-batch-size", 2], 2), (["--whole-word"], 1)])
def test_mlm_step_syncs_once_per_micro_batch(tmp_path, monkeypatch, tiny_bert_dir, extra, micro_batches):
    corpus = small_corpus(tmp_path / "corpus")
    # blocks of 12: enough of them that only some steps hold the padded tail block
    steps, padded = _syncs_per_step(monkeypatch, [corpus, "--model", tiny_bert_dir, "--max-steps", 4, "--batch-size", 4,
                                                  "--block-size", 12, "--output", tmp_path / "run", *extra])
    assert not all(padded)  # steps without the padded tail block were measured
    for calls, pad in zip(steps, padded):
        head = [c for c in calls if c.startswith("nonzero at") and "train/objectives.py" in c]
        assert len(head) == micro_batches and len(_mask_checks(calls)) == pad, calls
        assert len(calls) == micro_batches + pad, calls


def test_mlm_nsp_step_syncs_once(tmp_path, monkeypatch, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    steps, padded = _syncs_per_step(monkeypatch, [corpus, "--model", tiny_bert_dir, "--objective", "mlm+nsp",
                                                  "--max-steps", 3, "--batch-size", 4, "--output", tmp_path / "run"])
    assert [len(calls) for calls in steps] == [1 + pad for pad in padded], steps


def test_span_step_has_no_sync(tmp_path, monkeypatch, tiny_t5_dir):
    corpus = small_corpus(tmp_path / "corpus")
    steps, padded = _syncs_per_step(monkeypatch, [corpus, "--model", tiny_t5_dir, "--max-steps", 4, "--batch-size", 4,
                                                  "--block-size", 12, "--output", tmp_path / "run"])
    assert not all(padded)
    for calls, pad in zip(steps, padded):  # the mask is checked twice: encoder and cross attention
        assert len(calls) == len(_mask_checks(calls)) == 2 * pad, calls


def test_the_counter_sees_the_syncs_it_claims_to(tiny_bert_dir):
    """The counter itself: a boolean-mask index, .item() and bool() of a tensor are counted."""
    import torch

    x = torch.arange(6.0)
    with counting_syncs() as counter:
        with counter.measuring():
            x[x > 2]
            x.sum().item()
            bool(x.any())
            x.index_select(0, torch.tensor([1]))  # no sync
    assert [c.split(" at ")[0] for c in counter.calls] == ["__getitem__", "item", "__bool__"]
