"""The training loop, readable in one sitting (after nanoGPT's train.py).

One optimizer step:
    1. learning rate for this step: linear warm-up, then linear / cosine decay (schedule.py)
    2. the step's blocks (batches.py): a slice of this epoch's seeded permutation, this rank's
       share, gathered on the host (into pinned memory on CUDA) and copied to the device
    3. corrupt them on the device with the masking generator (fresh masks every step)
    4. forward / backward per micro-batch (gradient accumulation; DDP syncs on the last one);
       losses are sums divided by the whole step's masked-token count over all ranks
    5. clip the gradient norm, optimizer step, zero the gradients
    6. events, evaluation, checkpoints, stop conditions (max steps and epochs: known to every
       rank; time budget and SIGTERM / SIGINT: agreed across ranks every few steps)

Host-device syncs per step (tests/test_train_syncs.py holds them): one per micro-batch for
the sparse MLM head's masked positions, none for span corruption; under DDP one small
all-reduce read on the host about every 2 s (schedule.SharedClock), plus one per `step` event.

Probes (--probes / --probe): evaluated before the first step (step 0, or the resumed
checkpoint's step when run.json has no entry for it), with every evaluation (so at the end
too), in eval mode and without randomness, so they change no loss: a `probes` event and an
entry of run.json's `probe_history` each time. The forgetting meter (core/explain/forgetting.py,
general-knowledge probes) at the same moments: a `forgetting` event and `forgetting_history`.

Everything random is seeded: the data order (seed + epoch), the masks (generator seeded with
seed + rank), dropout (torch's RNG); checkpoints carry every rank's generator states (rng.py),
so a resumed run with the same processes and device type continues with exactly the losses
of an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import nullcontext

import torch

from mlm_explorer import rundir
from mlm_explorer.train import rng
from mlm_explorer.train.batches import Batches
from mlm_explorer.train.divergence import stop_if_diverged
from mlm_explorer.train.held_out import evaluate_held_out
from mlm_explorer.train.run import checkpoint as ckpt
from mlm_explorer.train.runtime import mark_dynamic, wrap_module
from mlm_explorer.train.schedule import Schedule, SharedClock


class Loop:
    def __init__(self, *, args, model, tokenizer, objective, data, rt, events, record, resume_state=None,
                 probes=None, meter=None):
        self.args, self.model, self.tokenizer, self.obj = args, model, tokenizer, objective
        self.probes = list(probes or [])  # core.probes.PreparedProbe, checked against the tokenizer
        self.meter = list(meter or [])  # the forgetting meter's PreparedProbes (core/explain/forgetting.py)
        self.data, self.rt, self.events, self.record = data, rt, events, record
        self.run_dir = record.run_dir
        self.stop_signal: int | None = None

        # the module that computes the loss sums; DDP wraps it so gradients are averaged
        # (then torch.compile, of the wrapped module: runtime.wrap_module)
        self.module, self.ddp = wrap_module(objective.module, rt, compile=args.compile)

        # optimizer: AdamW, fused (one kernel for all parameters, CPU and CUDA); param groups carry their own peak lr
        from mlm_explorer.train.params import param_groups

        groups = param_groups(model, lr=args.lr, head_lr=args.head_lr, weight_decay=args.weight_decay)
        self.optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, fused=True)
        self.scaler = rt.grad_scaler()

        # sizes: the global batch is split over ranks, then into micro-batches
        self.per_rank = math.ceil(args.batch_size / rt.world_size)
        self.micro = min(args.micro_batch_size or self.per_rank, self.per_rank)
        self.steps_per_epoch = max(1, math.ceil(len(data.train(0)) / args.batch_size))
        self.batches = Batches(data, rt, batch_size=args.batch_size, seed=args.seed, steps_per_epoch=self.steps_per_epoch)
        self.schedule = Schedule.from_args(args, self.steps_per_epoch)
        self.max_steps = self.schedule.max_steps  # None: the time budget decides

        # state that checkpoints carry
        self.step, self.tokens = 0, 0
        self.best_eval_loss = math.inf
        self.gen = torch.Generator(device=rt.device).manual_seed(args.seed + rt.rank)
        if resume_state is not None:
            self._load_state(resume_state)

    def step_blocks(self, step: int) -> dict:
        """This rank's blocks of a step on the device, with two host-side facts: `partial`, the
        padded rows as (row, length), and `tokens`, the real tokens of the whole step (all ranks)."""
        host = self.batches.host(step)
        return {**self.batches.to_device(host), "tokens": host["tokens"]}

    # ---- one optimizer step ----------------------------------------------------------------
    def train_step(self, elapsed: float) -> dict:
        # 1. learning rate
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr(self.step, group["peak_lr"], elapsed)
        # 2-3. blocks -> device -> corrupted batch (B, L) with labels -100 where not masked
        blocks = self.step_blocks(self.step)
        batch = self.obj.corrupt(blocks, self.gen)
        counts = self.obj.counts(batch, self.rt)  # masked tokens of the whole step, all ranks
        # 4. forward / backward per micro-batch
        B = batch["input_ids"].shape[0]
        starts = list(range(0, B, self.micro))
        totals: dict[str, torch.Tensor] = {}
        padded = [r for r, _ in blocks["partial"]]  # rows with padding (host-side: no sync)
        for i, s in enumerate(starts):
            micro = {k: v[s:s + self.micro] for k, v in batch.items()}
            if not any(s <= r < s + self.micro for r in padded):
                micro.pop("attention_mask", None)  # no padding here: no mask for the model to check
            last = i == len(starts) - 1
            sync = nullcontext() if last or self.ddp is None else self.ddp.no_sync()
            with sync:
                with self.rt.autocast():
                    sums = self.module(**self._inputs(micro))
                # this rank's share of the step's mean loss; DDP averages the ranks' gradients,
                # so the world size brings the sum of the shares back
                loss = self.obj.loss(sums, counts) * self.rt.world_size
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
        self.tokens += blocks["tokens"]
        return {"totals": totals, "counts": counts}

    def _inputs(self, micro: dict) -> dict:
        """The module's inputs for a micro-batch (under --compile with dynamic shapes)."""
        inputs = self.obj.module_inputs(micro)
        return mark_dynamic(inputs) if self.args.compile else inputs

    # ---- evaluation -------------------------------------------------------------------------
    def evaluate(self) -> dict:
        """Loss, perplexity and masked-token top-1 accuracy on the held-out blocks (held_out.py)."""
        return evaluate_held_out(self.model, self.obj, self.data.eval_blocks, self.batches, self.rt,
                                 max_blocks=self.args.max_eval_blocks, size=max(1, self.micro * 2),
                                 seed=self.args.seed, step=self.step)

    # ---- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict | None:
        """The trainer state (rank 0; None elsewhere). Every rank takes part: rank 0 gathers
        each rank's random state (rng.py)."""
        entries = self.rt.gather_to_main(rng.capture(self.gen, self.rt.device))
        if not self.rt.is_main:
            return None
        return {"step": self.step, "tokens": self.tokens, "best_eval_loss": self.best_eval_loss,
                "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                "seed": self.args.seed, **rng.checkpoint_fields(entries, self.rt.device)}

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
        why = rng.restore(state, self.gen, device=self.rt.device, rank=self.rt.rank,
                          world_size=self.rt.world_size, seed=self.args.seed, step=self.step)
        if why:
            self.events.log(f"resumed at step {self.step}: {why}")

    def save(self) -> str | None:
        """Write a checkpoint (rank 0); every rank calls it, at the same steps."""
        state = self.state_dict()
        if not self.rt.is_main:
            return None
        path = ckpt.save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, state, keep=self.args.keep)
        self.events.emit("checkpoint", step=self.step, path=str(path))
        self.record.update(step=self.step, checkpoint=str(path))
        return str(path)

    def eval_and_keep_best(self) -> None:
        if not self.rt.is_main:
            return
        result = self.evaluate()
        self.stop_if_diverged(result["loss"], "eval")
        self.events.emit("eval", **result)
        self.record.add_eval(result)
        self.evaluate_probes()
        self.evaluate_meter()
        if not result["masked_tokens"]:  # a loss of 0 over no token says nothing: never the best
            self.events.log(f"the evaluation at step {self.step} masked no token (too little held-out text); "
                            "best/ is left as it is")
        elif result["loss"] < self.best_eval_loss:
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

    # ---- divergence -----------------------------------------------------------------------------
    def stop_if_diverged(self, loss: float, what: str) -> None:
        """A NaN or infinite loss ends the job with one line (the weights are not saved)."""
        stop_if_diverged(loss, what, step=self.step, run_dir=self.run_dir, lr=self.args.lr)

    def _check_before_save(self, pending: list[dict]) -> None:
        """No NaN / inf in the losses since the last step event nor in the weights about to be
        saved, agreed over ranks (one sync per save)."""
        checks = [self.obj.loss(p["totals"], p["counts"]).isfinite() for p in pending]
        checks += [p.isfinite().all() for p in self.model.parameters()]
        finite = self.rt.agree_max([0.0 if bool(torch.stack(checks).all()) else 1.0]) == [0.0]
        self.stop_if_diverged(0.0 if finite else math.nan, "training")

    def evaluate_meter(self) -> None:
        """The forgetting meter now: a `forgetting` event {step, top1, top5, mean_rank, ...} and an
        entry of run.json's forgetting_history (rank 0 only; eval mode, then back to train)."""
        if not self.meter or not self.rt.is_main:
            return
        from mlm_explorer.core.explain.forgetting import meter_summary
        from mlm_explorer.core.explain.probes import evaluate_probes

        summary = meter_summary(evaluate_probes(self.model, self.meter, tokenizer=self.tokenizer))
        self.events.emit("forgetting", step=self.step, **summary)
        self.record.add_forgetting(self.step, summary)

    def close(self) -> None:
        """Give the stop signals back, and drop the DDP wrapper (and its compiled form) now: it must go
        before its process group is destroyed, not whenever the garbage collector gets to it (a hang
        or an abort at exit)."""
        import gc

        for s, h in getattr(self, "_old_handlers", {}).items():
            signal.signal(s, h)
        self._old_handlers = {}
        self.module = self.ddp = None
        gc.collect()

    # ---- signals ---------------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        self.stop_signal = signum  # acted on after the current step

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> str:
        """Train until a limit or a signal; return "finished" or "cancelled".

        The stop signals stay caught after the loop ends, until `close`: the job still writes its
        last status (run.json `cancelled` / `finished`), and a second SIGTERM then (the kernel's,
        when the launcher dies after asking the job to stop: parent.py) must not kill it first."""
        self._old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        return self._run()

    def _run(self) -> str:
        self.model.train()
        if self.probes and not self.record.has_probes_at(self.step):
            self.evaluate_probes()  # the model before training (or at the resumed checkpoint)
        if self.meter and not self.record.has_forgetting_at(self.step):
            self.evaluate_meter()
        start_step, t0 = self.step, time.perf_counter()
        last_log_t, last_log_tokens, last_saved = t0, self.tokens, self.step
        budget = self.schedule.budget_s
        clock = SharedClock(every_step=not self.rt.distributed)
        next_check, reason = self.step, 0.0
        pending: list[dict] = []
        while True:
            # stop conditions: the step limit is the same on every rank; the time budget and
            # signals are agreed (rank 0's clock, any rank's signal) every few steps
            if self.max_steps is not None and self.step >= self.max_steps:
                reason = 1.0
                break
            if self.step >= next_check:
                mine = time.perf_counter() - t0 if self.rt.is_main else 0.0
                signalled = 2.0 + self.stop_signal if self.stop_signal is not None else 0.0
                signalled, elapsed = self.rt.agree_max([signalled, mine])
                clock.mark(self.step, elapsed)
                if signalled or (budget is not None and elapsed >= budget):
                    reason = signalled or 1.0
                    break
                next_check = self.step + clock.steps_to_next_check()
            out = self.train_step(clock.at(self.step))
            pending.append(out)
            log_now = self.step % self.args.log_every == 0 or self.step == start_step + 1 or self.step == self.max_steps
            if log_now:
                now = time.perf_counter()
                self._log_step(pending, now - last_log_t, self.tokens - last_log_tokens, now - t0, start_step, budget)
                pending, last_log_t, last_log_tokens = [], now, self.tokens
            if self.step % self.args.eval_every == 0:
                self.eval_and_keep_best()
            if self.step % self.args.save_every == 0:
                self._check_before_save(pending)
                self.save()
                last_saved = self.step
        # the end: a final evaluation (if the last step had none) and checkpoint
        cancelled = reason >= 2.0
        if self.step % self.args.eval_every != 0 and not cancelled and self.step > start_step:
            self.eval_and_keep_best()
        if self.step != last_saved:
            self._check_before_save(pending)
            path = self.save()
        else:
            latest = rundir.latest_checkpoint(self.run_dir) if self.rt.is_main else None
            path = str(latest) if latest else None
        if cancelled:
            self.signal_received = int(reason - 2.0)
            self.last_checkpoint = path
            return "cancelled"
        self._final_weights_as_best()
        return "finished"

    def _final_weights_as_best(self) -> None:
        """A finished run always has a best/ to load: when no evaluation masked a token (too
        little held-out text), the final weights stand in, and run.json says so."""
        if not self.rt.is_main or (self.run_dir / rundir.BEST).exists():
            return
        path = ckpt.save_best(self.run_dir, self.model, self.tokenizer)
        self.record.set_best({"step": self.step, "loss": None, "path": str(path), "final_weights": True})
        self.events.log("no evaluation measured a held-out loss (too little held-out text): best/ holds the "
                        "final weights; add more text, or a larger --eval-fraction, to pick the best step")

    def _log_step(self, pending, dt, dtokens, elapsed, start_step, budget) -> None:
        # the mean loss over the steps since the last event: each rank holds its share of every
        # step's loss, so the shares are summed over ranks (one all-reduce, one host sync)
        shares = [torch.stack([self.obj.loss(p["totals"], p["counts"]) for p in pending]).mean()]
        last = pending[-1]
        nsp = "nsp_sum" in last["totals"]
        if nsp:
            shares += [last["totals"]["mlm_sum"] / last["counts"]["mlm_n"],
                       last["totals"]["nsp_sum"] / last["counts"]["nsp_n"]]
        values = self.rt.all_sum_(torch.stack(shares).float()).tolist()
        self.stop_if_diverged(values[0], "training")  # every rank: the sum is the same on all
        if not self.rt.is_main:
            return
        per_step = elapsed / max(1, self.step - start_step)
        if self.max_steps:
            eta = (self.max_steps - self.step) * per_step
        else:
            eta = max(0.0, budget - elapsed) if budget else None
        groups = self.optimizer.param_groups
        body = [g for g in groups if g["name"].startswith("body")] or groups
        event = {"step": self.step, "loss": values[0], "lr": body[0]["lr"],
                 "tokens_per_s": dtokens / max(dt, 1e-9), "eta_s": eta, "max_steps": self.max_steps,
                 "epoch": self.step / self.steps_per_epoch, "tokens": self.tokens}
        head = [g for g in groups if g["name"].startswith("head")]
        if head:
            event["head_lr"] = head[0]["lr"]
        if nsp:
            event["mlm_loss"], event["nsp_loss"] = values[1], values[2]
        self.events.emit("step", **event)
        self.record.add_step(event)
