"""A step's blocks: which ones (the epoch's seeded permutation, this rank's share), gathered on
the host and copied to the device.

    epoch order   a permutation of the epoch's blocks, seeded by (seed, epoch), built once per epoch
    a step        batch_size blocks of it in order (wrapping to the start: no short batch); rank r
                  of W takes rows r, r + W, ...; the step's token count is every rank's share's
    host side     one gather per tensor, straight into pinned memory on CUDA; the padded rows
                  (the corpus's tail block) listed as (row, length), so nothing on the device has
                  to be asked which rows are padded
    device side   `to_device`: non_blocking copies from the pinned buffers on CUDA
"""

from __future__ import annotations

import torch

from mlm_explorer.train.data.packing import BlockSet


class Batches:
    def __init__(self, data, rt, *, batch_size: int, seed: int, steps_per_epoch: int) -> None:
        self.data, self.rt = data, rt
        self.batch_size, self.seed, self.steps_per_epoch = batch_size, seed, steps_per_epoch
        self._order: tuple[int, torch.Tensor] | None = None  # (epoch, its permutation of the blocks)

    def epoch_order(self, epoch: int, n: int) -> torch.Tensor:
        """The epoch's seeded permutation of its n blocks, built once per epoch."""
        if self._order is None or self._order[0] != epoch:
            gen = torch.Generator().manual_seed(self.seed * 7919 + epoch)
            self._order = (epoch, torch.randperm(n, generator=gen))
        return self._order[1]

    def host(self, step: int) -> dict:
        """The CPU side of a step: this rank's blocks, gathered, and the whole step's token count."""
        epoch, k = divmod(step, self.steps_per_epoch)
        blocks: BlockSet = self.data.train(epoch)
        n, bs = len(blocks), self.batch_size
        rows = self.epoch_order(epoch, n)[torch.arange(k * bs, (k + 1) * bs) % n]  # (bs,) wraps: no short batch
        host = self.gather(blocks, rows[self.rt.rank::self.rt.world_size])  # (bs / world, L) this rank's share
        host["tokens"] = int(blocks.lengths[rows].sum())  # real tokens of the step, every rank's share
        return host

    def gather(self, blocks: BlockSet, rows: torch.Tensor) -> dict:
        """Rows of the blocks on the host: one gather, straight into pinned memory on CUDA (the
        caching host allocator reuses those buffers once their copy is done)."""
        pin = self.rt.cuda

        def take(t: torch.Tensor) -> torch.Tensor:
            out = torch.empty((len(rows), *t.shape[1:]), dtype=t.dtype, pin_memory=pin)
            return torch.index_select(t, 0, rows, out=out)

        out = {"input_ids": take(blocks.input_ids), "lengths": take(blocks.lengths)}  # (B, L), (B,)
        for key in ("token_type_ids", "next_sentence_label"):
            if getattr(blocks, key) is not None:
                out[key] = take(getattr(blocks, key))
        width = out["input_ids"].shape[1]
        out["partial"] = [(r, n) for r, n in enumerate(out["lengths"].tolist()) if n < width]  # padded rows
        return out

    def to_device(self, host: dict) -> dict:
        """The host rows on the device (non_blocking from pinned memory on CUDA)."""
        nb = self.rt.cuda
        return {k: v.to(self.rt.device, non_blocking=nb) if torch.is_tensor(v) else v
                for k, v in host.items() if k != "tokens"}
