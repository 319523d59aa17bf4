"""The training job: the process `python -m mlm_explorer.train PATH... [options]` (see config.py).

"Job" means this process only. It is started by the launcher (train/launch.py: `job_launch`
builds its command and environment, `TrainingRunner` runs it and reads its events) from the
CLI (cli/train.py) or the app (ui/app.py); the app's thread workers (ui/workers.py) are not jobs.

It speaks JSON lines on stdout (events.py); everything else goes to stderr. Exit status:

    0    finished (or, with --dry-run, the `preview` event sent)
    2    a problem with the input or the environment (one `error` event, one line on stderr:
         no usable file (each skipped one is named with its reason), --block-size above the model's limit, objective
         mismatch, full disk while saving, CUDA out of memory)
    1    an unexpected crash (`error` event, traceback on stderr)
    130  cancelled by SIGINT (Ctrl+C): a checkpoint was saved, then `cancelled`
    143  cancelled by SIGTERM (TrainingRunner.cancel, or the launcher died: parent.py): likewise
         (128 + signal number, as a shell reports it; a supervisor that wants 0 can treat the
         `cancelled` event as success)

Under torchrun only rank 0 speaks; a failure on another rank reaches rank 0's `error` event
and run.json as "rank N: ..." (failures.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from mlm_explorer.errors import InputError, UserError

from mlm_explorer.train.failures import Failure, FailureBoard, Reporter, describe, oom_message, settle, watch
from mlm_explorer.train.probe_setup import prepare_meter_for, prepare_probes_for, probes_from_args
from mlm_explorer.train.run.events import Events, protect_stdout


class Reported(Exception):
    """A failure already reported (event, run.json, stderr): exit with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Cancelled(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_cancelled(signum, frame):
    raise Cancelled(signum)


def _agree_run_dir(rt, run_dir: Path | None, args) -> Path:
    """Rank 0 picks (and checks) the run directory; the other ranks receive it."""
    if rt.is_main:
        from mlm_explorer import rundir

        choice = [str(run_dir or rundir.new_run_dir(args.model))]
    else:
        choice = [None]
    if rt.distributed:
        import torch.distributed as dist

        dist.broadcast_object_list(choice, src=0)
    return Path(choice[0])


def _check_world(args, world: int) -> None:
    """Every rank needs at least one block per step: with fewer, a rank would run no forward
    pass and the others would wait for its gradients forever."""
    if args.batch_size < world:
        raise InputError(f"--batch-size {args.batch_size} is smaller than the {world} processes torchrun started, "
                         f"and each needs at least one block per step; use --batch-size {world} or more "
                         "(it is the total over all processes)")


def collect_documents(args):
    """The documents of the job's inputs (read, extracted, deduplicated, cached), or one InputError:
    the job's first data step, shared with the masking audit (train/audit.py)."""
    from mlm_explorer.paths import cache_dir
    from mlm_explorer.train.data.extract.base import ReadOptions
    from mlm_explorer.train.data.extract.collect import collect, require_documents

    collection = collect(args.paths, options=ReadOptions(text_field=args.text_field),
                         keep_duplicates=args.keep_duplicates,
                         cache_root=None if args.no_cache else cache_dir())
    require_documents(collection, args.paths)
    return collection


def run(argv, events: Events, parent=None) -> int:
    from mlm_explorer.train.config import parse_args
    from mlm_explorer.train.run import target as run_target

    # 1. options, inputs and the run directory first: a bad option, an empty folder or an
    #    --output in the way fails before torch loads
    main_rank = os.environ.get("RANK", "0") == "0"
    events.enabled = events.enabled and main_rank  # only rank 0 speaks, from the first line on
    try:
        args, given = parse_args(argv)
        _check_world(args, int(os.environ.get("WORLD_SIZE", 1)))  # torchrun's; torch is not loaded yet
    except UserError:
        if not main_rank:
            raise Reported(2) from None  # the same options on every rank: rank 0 says it once
        raise
    if args.resume:
        target = run_target.resume(args, given)
    else:
        target = run_target.new_run(args, main_rank=main_rank and not args.dry_run)  # a dry run writes nothing
    args, run_dir, checkpoint = target.args, target.run_dir, target.checkpoint
    collection = collect_documents(args)
    probes = probes_from_args(args)
    if target.resumed and checkpoint is None:
        events.log(f"{run_dir} has no complete checkpoint yet (stopped during its first save?): "
                   "it starts again from step 0 with its recorded options")

    _quiet_libraries()  # imports transformers (a second): only once the options and inputs passed
    import torch

    from mlm_explorer import rundir
    from mlm_explorer.train.run import checkpoint as ckpt
    from mlm_explorer.train.loop import Loop
    from mlm_explorer.train.model_setup import load_for_training
    from mlm_explorer.train.params import select_trainable
    from mlm_explorer.train.run.runs import RunRecord
    from mlm_explorer.train.runtime import cpu_has_native_bf16, setup
    from mlm_explorer.train.data.dataset import prepare

    # 2. device, ranks, model, data
    rt = setup(args.device, args.threads, args.precision)
    if rt.amp_dtype == torch.bfloat16 and not rt.cuda and not cpu_has_native_bf16():
        events.emit("log", message="--precision bf16: this CPU has no native bf16 (AVX512-BF16/AMX), "
                                   "so it is likely slower than --precision fp32")
    # what a failure reports to: run.json once it exists (also the watcher thread's, see failures.py)
    job = SimpleNamespace(run_dir=run_dir, record=None, loop=None)
    board = FailureBoard(rt.store) if rt.distributed else None
    reporter = Reporter(lambda failure: _report(events, job, failure))
    stop_watching = threading.Event()
    if board is not None and rt.is_main:
        watch(board, reporter, stop_watching)
    try:
        if args.compile and not rt.cuda:
            raise InputError("--compile needs a CUDA GPU (on the CPU, torch.compile's start-up costs more than it "
                             "saves in a fine-tune); leave --compile out")
        run_dir = job.run_dir = None if args.dry_run else _agree_run_dir(rt, run_dir, args)
        torch.manual_seed(args.seed + rt.rank)  # dropout; restored from the checkpoint on resume
        tm = load_for_training(str(checkpoint) if checkpoint else args.model, args.objective, device=rt.device)
        counts = select_trainable(tm.model, args.train_params)
        prepared = prepare_probes_for(probes, tm)
        meter, meter_info = prepare_meter_for(args, tm, events)
        data = prepare(args, tm, rt, events, collection)
        if args.dry_run:
            return _dry_run(args, tm, rt, data, events, checkpoint, counts, prepared)
        if rt.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        initial = target.record
        record = job.record = RunRecord(run_dir, enabled=rt.is_main, initial=initial)
        if target.resumed:
            record.truncate(rundir.step_of(checkpoint) if checkpoint else 0)
        record.data.update(
            name=run_dir.name, status="running", pid=os.getpid(), model=initial.get("model", args.model),
            objective=tm.objective, config={**vars(args), "objective": tm.objective}, data=data.summary,
            created=initial.get("created", time.time()), **rt.describe(), **counts,
        )
        record.data.pop("error", None)
        record.data.pop("stopped", None)
        if meter_info:
            record.data["forgetting"] = meter_info
        record.save()
        state = ckpt.load_trainer_state(checkpoint) if checkpoint else None
        loop = job.loop = Loop(args=args, model=tm.model, tokenizer=tm.tokenizer, objective=data.objective,
                               data=data, rt=rt, events=events, record=record, resume_state=state, probes=prepared,
                               meter=meter)
        events.emit("started", run_dir=str(run_dir), model=record.data["model"], objective=tm.objective,
                    data=data.summary, resumed_from=str(checkpoint) if checkpoint else None, resumed=target.resumed,
                    step=loop.step,
                    max_steps=loop.max_steps, steps_per_epoch=loop.steps_per_epoch, batch_size=args.batch_size,
                    micro_batch_size=loop.micro, probes=len(prepared), forgetting_probes=len(meter),
                    **rt.describe(), **counts)
        try:
            outcome = loop.run()
        except (Cancelled, KeyboardInterrupt) as exc:
            record.update(status="cancelled", error=str(exc) or type(exc).__name__)
            raise
        if outcome == "cancelled":
            if parent is not None and parent.gone:  # parent.py: the launcher died, nobody reads the events
                record.data["stopped"] = (f"stopped because the process that started it (pid {parent.parent}) "
                                          f"ended; continue with --resume {run_dir}")
            record.update(status="cancelled")
            events.emit("cancelled", step=loop.step, checkpoint=loop.last_checkpoint, run_dir=str(run_dir),
                        signal=signal.Signals(loop.signal_received).name)
            return 128 + loop.signal_received
        best = run_dir / rundir.BEST
        record.update(status="finished")
        events.emit("finished", step=loop.step, run_dir=str(run_dir), best=str(best) if best.exists() else None,
                    best_eval_loss=record.data.get("best", {}).get("loss"), tokens=loop.tokens)
        return 0
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - reported as one line; a crash also with its traceback
        failure = settle(board, describe(exc, rank=rt.rank, run_dir=job.run_dir))
        if rt.is_main:
            reporter.report(failure)
        elif failure.rank == rt.rank:  # this rank failed first: say so where its machine can see it
            print(f"error: {failure.line()}", file=sys.stderr)
        if failure.code == 1 and failure.rank == rt.rank:
            traceback.print_exception(exc, file=sys.stderr)
        raise Reported(failure.code) from exc
    finally:
        stop_watching.set()
        if job.loop is not None:
            job.loop.close()  # DDP before the process group
        rt.close()


def _report(events: Events, job, failure: Failure) -> None:
    """Rank 0's report of a failure (its own or another rank's): run.json, the event, stderr."""
    if failure.kind == "oom":  # what survived, as rank 0 (which writes the checkpoints) sees it
        failure = replace(failure, message=oom_message(job.run_dir))
    line, record = failure.line(), job.record
    if record is not None:
        extra = {"failed_rank": failure.rank} if failure.rank else {}
        record.update(status="failed", error=line, **extra)
    _fail(events, line, failure.code, **({"rank": failure.rank} if failure.rank else {}))


def _dry_run(args, tm, rt, data, events, checkpoint, counts, probes) -> int:
    """--dry-run: a `preview` event (train/preview.py) instead of training; nothing is written."""
    from mlm_explorer.train.loop import Loop
    from mlm_explorer.train.preview import preview
    from mlm_explorer.train.run import checkpoint as ckpt
    from mlm_explorer.train.run.runs import RunRecord

    state = ckpt.load_trainer_state(checkpoint) if checkpoint else None
    loop = Loop(args=args, model=tm.model, tokenizer=tm.tokenizer, objective=data.objective, data=data, rt=rt,
                events=events, record=RunRecord(Path("."), enabled=False), resume_state=state, probes=probes)
    events.emit("preview", model=args.model, resumed_from=str(checkpoint) if checkpoint else None,
                micro_batch_size=loop.micro, probes=len(probes), **preview(loop, args, tm, rt, data),
                **rt.describe(), **counts)
    return 0


def main(argv=None, *, stdout=None, watch_parent: bool = False) -> int:
    """Run the job; `stdout` lets tests read the events in-process; `watch_parent` (the real
    process, train/__main__.py): stop as if cancelled when the launcher dies (parent.py)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a in ("-h", "--help") for a in argv):
        from mlm_explorer.train.config import build_parser

        build_parser().print_help()
        return 0
    real_stdout = stdout
    saved_stdout = sys.stdout
    if stdout is None:
        real_stdout = protect_stdout()
    events = Events(real_stdout)
    old = {s: signal.signal(s, _raise_cancelled) for s in (signal.SIGTERM, signal.SIGINT)}
    parent = None
    if watch_parent:
        from mlm_explorer.train.parent import ParentWatch, should_watch

        if should_watch():
            parent = ParentWatch().start()
        else:
            events.log("SIGHUP is ignored (nohup): the job trains on when the shell that started it ends")
    try:
        return run(argv, events, parent)
    except Reported as exc:
        return exc.code
    except Cancelled as exc:  # before the loop started: nothing to save
        events.emit("cancelled", step=0, checkpoint=None, signal=signal.Signals(exc.signum).name)
        return 128 + exc.signum
    except KeyboardInterrupt:
        events.emit("cancelled", step=0, checkpoint=None, signal="SIGINT")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence (before the process group exists)
        failure = describe(exc)
        if failure.code == 1:
            with contextlib.suppress(OSError):  # stderr may be a closed pipe (parent.py)
                traceback.print_exc(file=sys.stderr)
        if os.environ.get("RANK", "0") != "0":  # not rank 0: only this machine's stderr hears it
            print(f"error: rank {os.environ['RANK']}: {failure.message}", file=sys.stderr)
            return failure.code
        return _fail(events, failure.message, failure.code)
    finally:
        if parent is not None:
            parent.stop()
        for s, h in old.items():
            signal.signal(s, h)
        sys.stdout = saved_stdout


def _quiet_libraries() -> None:
    """No progress bars on stderr (save_pretrained's "Writing model shards"); warnings stay."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as tf_logging

        tf_logging.disable_progress_bar()
    except ImportError:
        pass


def _fail(events: Events, message: str, code: int, **fields) -> int:
    events.emit("error", message=message, **fields)
    with contextlib.suppress(OSError):  # stderr may be a closed pipe too (parent.py)
        print(f"error: {message}", file=sys.stderr)
    return code
