"""The training loop, readable in one sitting (after nanoGPT's train.py).

One optimizer step:
    1. learning rate for this step: linear warm-up, then linear / cosine decay (get_lr)
    2. the step's blocks: a slice of this epoch's seeded permutation, this rank's share,
       copied to the device (pinned + non_blocking on CUDA)
    3. corrupt them on the device with the masking generator (fresh masks every step)
    4. forward / backward per micro-batch (gradient accumulation; DDP syncs on the last one);
       losses are sums divided by the whole step's masked-token count
    5. clip the gradient norm, optimizer step, zero the gradients
    6. events, evaluation, checkpoints, stop conditions (max steps, epochs, time budget,
       SIGTERM / SIGINT - agreed across ranks)

Probes (--probes / --probe): evaluated before the first step (step 0, or the resumed
checkpoint's step when run.json has no entry for it), with every evaluation (so at the end
too), in eval mode and without randomness, so they change no loss: a `probes` event and an
entry of run.json's `probe_history` each time.

Everything random is seeded: the data order (seed + epoch), the masks (generator seeded with
seed + rank, saved in checkpoints), dropout (torch's RNG, saved too), so a resumed CPU run
continues with exactly the losses of an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import nullcontext

import torch

from mlm_explorer import rundir
from mlm_explorer.train.run import checkpoint as ckpt
from mlm_explorer.train.data.packing import BlockSet


class Loop:
    def __init__(self, *, args, model, tokenizer, objective, data, rt, events, record, resume_state=None,
                 probes=None):
        self.args, self.model, self.tokenizer, self.obj = args, model, tokenizer, objective
        self.probes = list(probes or [])  # core.probes.PreparedProbe, checked against the tokenizer
        self.data, self.rt, self.events, self.record = data, rt, events, record
        self.run_dir = record.run_dir
        self.stop_signal: int | None = None

        # the module that computes the loss sums; DDP wraps it so gradients are averaged
        module = objective.module
        if args.compile:
            module = torch.compile(module)
        if rt.distributed:
            ids = [rt.device.index] if rt.cuda else None
            module = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
        self.module = module

        # optimizer: AdamW, fused (one kernel for all parameters, CPU and CUDA); param groups carry their own peak lr
        from mlm_explorer.train.params import param_groups

        groups = param_groups(model, lr=args.lr, head_lr=args.head_lr, weight_decay=args.weight_decay)
        self.optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, fused=True)
        self.scaler = rt.grad_scaler()

        # sizes: the global batch is split over ranks, then into micro-batches
        self.per_rank = math.ceil(args.batch_size / rt.world_size)
        self.micro = min(args.micro_batch_size or self.per_rank, self.per_rank)
        self.steps_per_epoch = max(1, math.ceil(len(data.train(0)) / args.batch_size))
        limits = []
        if args.max_steps:
            limits.append(args.max_steps)
        epochs = args.epochs or (None if args.max_steps or args.time_budget else 3.0)  # nothing given: 3 epochs
        if epochs:
            limits.append(max(1, round(epochs * self.steps_per_epoch)))
        self.max_steps = min(limits) if limits else None  # None: the time budget decides
        self.warmup = args.warmup_steps if args.warmup_steps is not None else (
            round(0.06 * self.max_steps) if self.max_steps else 50)

        # state that checkpoints carry
        self.step, self.tokens = 0, 0
        self.best_eval_loss = math.inf
        self.gen = torch.Generator(device=rt.device).manual_seed(args.seed + rt.rank)
        if resume_state is not None:
            self._load_state(resume_state)

    # ---- the schedule ------------------------------------------------------------------
    def get_lr(self, step: int, peak: float, elapsed: float) -> float:
        # 1. linear warm-up from peak/warmup to peak
        if step < self.warmup:
            return peak * (step + 1) / self.warmup
        if self.args.schedule == "constant":
            return peak
        # 2. progress through the decay: by steps, or by time when only a time budget is set
        if self.max_steps:
            progress = (step - self.warmup) / max(1, self.max_steps - self.warmup)
        else:
            progress = elapsed / (self.args.time_budget * 60)
        progress = min(max(progress, 0.0), 1.0)
        # 3. linear or cosine down to zero
        if self.args.schedule == "cosine":
            return peak * 0.5 * (1.0 + math.cos(math.pi * progress))
        return peak * (1.0 - progress)

    # ---- data ----------------------------------------------------------------------------
    def step_blocks(self, step: int) -> dict:
        """This rank's blocks for an optimizer step, on the device."""
        epoch, k = divmod(step, self.steps_per_epoch)
        blocks: BlockSet = self.data.train(epoch)
        n, bs = len(blocks), self.args.batch_size
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.args.seed * 7919 + epoch))
        idx = perm[torch.arange(k * bs, (k + 1) * bs) % n]  # (bs,) wraps to the epoch's start: no short batch
        idx = idx[self.rt.rank::self.rt.world_size]  # (bs / world,) this rank's share
        return self._to_device(blocks, idx)

    def _to_device(self, blocks: BlockSet, idx: torch.Tensor) -> dict:
        nb = self.rt.cuda
        out = {"input_ids": blocks.input_ids[idx], "lengths": blocks.lengths[idx]}  # (B, L), (B,)
        for key in ("token_type_ids", "next_sentence_label"):
            if getattr(blocks, key) is not None:
                out[key] = getattr(blocks, key)[idx]
        width = out["input_ids"].shape[1]
        out["partial"] = [(r, int(n)) for r, n in enumerate(out["lengths"].tolist()) if n < width]
        return {k: (v.pin_memory().to(self.rt.device, non_blocking=nb) if torch.is_tensor(v) and nb
                    else v.to(self.rt.device) if torch.is_tensor(v) else v) for k, v in out.items()}

    # ---- one optimizer step ----------------------------------------------------------------
    def train_step(self, elapsed: float) -> dict:
        # 1. learning rate
        for group in self.optimizer.param_groups:
            group["lr"] = self.get_lr(self.step, group["peak_lr"], elapsed)
        # 2-3. blocks -> device -> corrupted batch (B, L) with labels -100 where not masked
        blocks = self.step_blocks(self.step)
        batch = self.obj.corrupt(blocks, self.gen)
        counts = self.obj.counts(batch)  # masked tokens of the whole step
        tokens = int(blocks["lengths"].sum())
        # 4. forward / backward per micro-batch
        B = batch["input_ids"].shape[0]
        starts = list(range(0, B, self.micro))
        totals: dict[str, torch.Tensor] = {}
        for i, s in enumerate(starts):
            micro = {k: v[s:s + self.micro] for k, v in batch.items()}
            last = i == len(starts) - 1
            sync = nullcontext() if last or not self.rt.distributed else self.module.no_sync()
            with sync:
                with self.rt.autocast():
                    sums = self.module(**micro)
                loss = self.obj.loss(sums, counts)
                self.scaler.scale(loss).backward()
            for k, v in sums.items():
                totals[k] = totals.get(k, 0) + v.detach()
        # 5. clip, step, zero
        if self.args.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.args.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += tokens * self.rt.world_size
        return {"totals": totals, "counts": counts}

    # ---- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss, perplexity and masked-token top-1 accuracy on the held-out blocks, with the
        same masks every time (a generator seeded once per evaluation)."""
        self.model.eval()
        blocks = self.data.eval_blocks
        n = min(len(blocks), self.args.max_eval_blocks)
        gen = torch.Generator(device=self.rt.device).manual_seed(self.args.seed + 1_000_003)
        sums: dict[str, float] = {}
        size = max(1, self.micro * 2)
        for s in range(0, n, size):
            batch = self.obj.corrupt(self._to_device(blocks, torch.arange(s, min(n, s + size))), gen)
            with self.rt.autocast():
                out = self.obj.module(**batch)
            counts = self.obj.counts(batch)
            if "nsp_sum" in out:
                out["nsp_n"] = counts["nsp_n"]
            out["mlm_n"] = (batch["labels"] != -100).sum()
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        self.model.train()
        mlm_n = max(1.0, sums.get("mlm_n", 0.0))
        loss = sums.get("mlm_sum", 0.0) / mlm_n
        result = {"step": self.step, "loss": loss, "perplexity": math.exp(min(loss, 50.0)),
                  "accuracy": sums.get("mlm_correct", 0.0) / mlm_n, "masked_tokens": int(mlm_n)}
        if "nsp_sum" in sums:
            nsp_n = max(1.0, sums["nsp_n"])
            result.update(mlm_loss=loss, nsp_loss=sums["nsp_sum"] / nsp_n, nsp_accuracy=sums["nsp_correct"] / nsp_n)
            result["loss"] = loss + result["nsp_loss"]
        return result

    # ---- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"step": self.step, "tokens": self.tokens, "best_eval_loss": self.best_eval_loss,
                 "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                 "mask_generator": self.gen.get_state(), "torch_rng": torch.get_rng_state(),
                 "world_size": self.rt.world_size, "seed": self.args.seed}
        if self.rt.cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state(self.rt.device)
        return state

    def _load_state(self, state: dict) -> None:
        self.step, self.tokens = int(state["step"]), int(state["tokens"])
        self.best_eval_loss = float(state["best_eval_loss"])
        # The optimizer state carries each group's peak lr; the peaks of this run's options win,
        # so `--resume RUN --lr X` takes effect (unchanged options give the same peaks).
        peaks = [group["peak_lr"] for group in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for group, peak in zip(self.optimizer.param_groups, peaks):
            group["peak_lr"] = peak
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.rt.rank == 0 or int(state.get("world_size", 1)) == 1:
            self.gen.set_state(state["mask_generator"].to(self.gen.get_state().device))
            torch.set_rng_state(state["torch_rng"])
            if self.rt.cuda and "cuda_rng" in state:
                torch.cuda.set_rng_state(state["cuda_rng"], self.rt.device)

    def save(self) -> str | None:
        if not self.rt.is_main:
            return None
        path = ckpt.save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, self.state_dict(),
                                    keep=self.args.keep)
        self.events.emit("checkpoint", step=self.step, path=str(path))
        self.record.update(step=self.step, checkpoint=str(path))
        return str(path)

    def eval_and_keep_best(self) -> None:
        if not self.rt.is_main:
            return
        result = self.evaluate()
        self.events.emit("eval", **result)
        self.record.add_eval(result)
        self.evaluate_probes()
        if result["loss"] < self.best_eval_loss:
            self.best_eval_loss = result["loss"]
            path = ckpt.save_best(self.run_dir, self.model, self.tokenizer)
            self.record.set_best({**result, "path": str(path)})

    def evaluate_probes(self) -> None:
        """Each probe's answer rank, probability and top-3 now: a `probes` event {step, results}
        and an entry of run.json's probe_history (rank 0 only; eval mode, then back to train)."""
        if not self.probes or not self.rt.is_main:
            return
        from mlm_explorer.core.explain.probes import evaluate_probes

        results = [r.to_dict() for r in evaluate_probes(self.model, self.probes, tokenizer=self.tokenizer)]
        self.events.emit("probes", step=self.step, results=results)
        self.record.add_probes(self.step, results)

    # ---- signals ---------------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        self.stop_signal = signum  # acted on after the current step

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> str:
        """Train until a limit or a signal; return "finished" or "cancelled"."""
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._run()
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _run(self) -> str:
        self.model.train()
        if self.probes and not self.record.has_probes_at(self.step):
            self.evaluate_probes()  # the model before training (or at the resumed checkpoint)
        start_step, t0 = self.step, time.perf_counter()
        last_log_t, last_log_tokens, last_saved = t0, self.tokens, self.step
        budget = self.args.time_budget * 60 if self.args.time_budget else None
        pending: list[dict] = []
        while True:
            # stop conditions, agreed over ranks (one tiny all-reduce per step when distributed)
            elapsed = time.perf_counter() - t0
            reason = 0.0
            if self.max_steps is not None and self.step >= self.max_steps:
                reason = 1.0
            elif budget is not None and elapsed >= budget:
                reason = 1.0
            if self.stop_signal is not None:
                reason = 2.0 + self.stop_signal
            reason = self.rt.all_max(reason)
            if reason:
                break
            out = self.train_step(elapsed)
            pending.append(out)
            log_now = self.step % self.args.log_every == 0 or self.step == start_step + 1 or self.step == self.max_steps
            if log_now:
                now = time.perf_counter()
                self._log_step(pending, now - last_log_t, self.tokens - last_log_tokens, now - t0, start_step, budget)
                pending, last_log_t, last_log_tokens = [], now, self.tokens
            if self.step % self.args.eval_every == 0:
                self.eval_and_keep_best()
            if self.step % self.args.save_every == 0:
                self.save()
                last_saved = self.step
        # the end: a final evaluation (if the last step had none) and checkpoint
        cancelled = reason >= 2.0
        if self.step % self.args.eval_every != 0 and not cancelled and self.step > start_step:
            self.eval_and_keep_best()
        if self.step != last_saved:
            path = self.save()
        else:
            latest = rundir.latest_checkpoint(self.run_dir) if self.rt.is_main else None
            path = str(latest) if latest else None
        if cancelled:
            self.signal_received = int(reason - 2.0)
            self.last_checkpoint = path
            return "cancelled"
        return "finished"

    def _log_step(self, pending, dt, dtokens, elapsed, start_step, budget) -> None:
        # the mean loss over the steps since the last event (one sync with the device)
        losses = [self.obj.loss(p["totals"], p["counts"]) for p in pending]
        loss = self.rt.all_mean(float(torch.stack(losses).mean()))
        if not self.rt.is_main:
            return
        per_step = elapsed / max(1, self.step - start_step)
        if self.max_steps:
            eta = (self.max_steps - self.step) * per_step
        else:
            eta = max(0.0, budget - elapsed) if budget else None
        groups = self.optimizer.param_groups
        body = [g for g in groups if g["name"].startswith("body")] or groups
        event = {"step": self.step, "loss": loss, "lr": body[0]["lr"],
                 "tokens_per_s": dtokens / max(dt, 1e-9), "eta_s": eta, "max_steps": self.max_steps,
                 "epoch": self.step / self.steps_per_epoch, "tokens": self.tokens}
        head = [g for g in groups if g["name"].startswith("head")]
        if head:
            event["head_lr"] = head[0]["lr"]
        last = pending[-1]
        if "nsp_sum" in last["totals"]:
            event["mlm_loss"] = float(last["totals"]["mlm_sum"] / last["counts"]["mlm_n"])
            event["nsp_loss"] = float(last["totals"]["nsp_sum"] / last["counts"]["nsp_n"])
        self.events.emit("step", **event)
        self.record.add_step(event)
