"""The app's claims, measured headless (App.run_test) on the bundled model (or --model DIR).

1. time to first frame (a fresh process; torch must not be imported yet) and until the model is ready;
2. mask toggle -> the frame that shows the new distribution, against the app's own model call
   (`ui.workers.predict`: `fill_masks`, the head only at the masks) on the same request, replayed
   on the app's model thread while the app is idle (goal <= 1.2x). The toggle is a space key on
   the token strip, delivered as the terminal driver delivers keys; "the frame" is the first one
   whose bytes, at the moment the driver would write them, put the new distribution's label,
   entropy and top candidates on a replayed terminal grid (benchkit/terminal.py);
3. key -> the frame that shows its effect in the text box (the typed character on the grid, or
   its absence after a backspace), stamped at that frame's write, while a CPU training job runs
   on the same cores (goal: p95 < 50 ms; benchkit/keys.py).

Each round runs `--toggles` toggles and `--keys` keys; goals must hold in every round. Where
the toggle misses its goal, the results keep the stages of a toggle (key -> model call, the call,
call returned -> frame written) and a cProfile profile of the UI thread during the toggles.

    python benchmarks/bench_app.py [--model DIR] [--toggles 30] [--keys 40] [--rounds 3] [--no-train]
    python benchmarks/bench_app.py --screenshot docs/screenshot.svg   # only writes the screenshot

Writes benchmarks/results/app.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchkit.keys import SIZE, TEXT, keys_while_training, ready_app  # noqa: E402
from benchkit.options import add_common_options, command_line, gpu_name, select_device  # noqa: E402
from benchkit.profiling import profile_parts  # noqa: E402
from benchkit.results import Results  # noqa: E402
from benchkit.terminal import Terminal, on_screen, until_idle  # noqa: E402
from benchkit.timing import percentile  # noqa: E402


def first_frame(model: str | None, device: str) -> dict:
    """In a fresh interpreter: seconds from start to the first frame and to the model being ready."""
    code = textwrap.dedent(f"""
        import time
        t0 = time.perf_counter()
        import asyncio, sys
        from mlm_explorer.ui.app import MLMExplorerApp
        async def main():
            app = MLMExplorerApp(model={model!r}, device={device!r}, persist=False)
            async with app.run_test(size=(120, 40)) as pilot:
                while app.first_frame_at is None:
                    await pilot.pause(0.005)
                while app.explore is None or app.explore.state.tt is None:
                    await pilot.pause(0.01)
                print(app.first_frame_at - t0, app.model_ready_at - t0, app.torch_at_first_frame)
        asyncio.run(main())
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    frame, ready, torch_loaded = out.stdout.split()[-3:]
    return {"first_frame_s": float(frame), "model_ready_s": float(ready), "torch_at_first_frame": torch_loaded == "True"}


def wanted(screen) -> list[str]:
    """Strings that are on the screen only once the current result's distribution is drawn."""
    from mlm_explorer.ui.widgets.distribution import shown

    st = screen.state
    p = st.prediction_at(st.selected)
    if p is None:
        return []
    label = f"mask {st.positions().index(st.selected) + 1}/{len(st.positions())} · position {st.selected}"
    out = [label, f"entropy {p.entropy:.2f} nats · outside top-{len(p.candidates)} {p.mass_outside:.1%}"]
    out += [f"{shown(c)}".rstrip() + "\0" + f"{c.probability:6.1%}".strip() for c in p.candidates[:3]]
    return out


async def toggles_vs_model_call(app, pilot, term: Terminal, toggles: int, profiler=None) -> dict:
    """`toggles` mask toggles, each followed (app idle) by the app's own model call on the
    request that toggle made; times in seconds."""
    from textual import events

    from mlm_explorer.ui import workers as jobs

    screen = app.explore
    model_call: list[float] = []  # when the app's model call (jobs.predict) starts and returns
    requests: list = []
    predict = jobs.predict

    def timed_predict(lm, request, *args, **kwargs):
        model_call.append(time.perf_counter())
        requests.append((lm, request))
        try:
            return predict(lm, request, *args, **kwargs)
        finally:
            model_call.append(time.perf_counter())

    jobs.predict = timed_predict
    out = {k: [] for k in ("toggle", "call", "before_call", "in_call", "after_call", "ui_cpu", "settled", "frames")}
    try:
        for i in range(toggles):  # interleaved, so both see the same machine load
            first = len(term.frames)
            shown = asyncio.Event()
            shown_at: list[tuple[float, float]] = []
            strings: list[str] = []

            def on_frame(index: int) -> None:
                if screen.pending is not None or screen.state.result is None or shown_at:
                    return
                if not strings:  # the answer is in: what its distribution looks like on the screen
                    strings.extend(wanted(screen))
                if on_screen(term, strings):
                    shown_at.append(term.frames[index][1:3])
                    shown.set()

            term.on_frame = on_frame
            model_call.clear()
            requests.clear()
            done_before = screen.request
            if profiler is not None:
                profiler.enable()
            cpu_start = time.thread_time()  # the event loop's thread: the whole UI
            start = time.perf_counter()
            app.post_message(events.Key("space", " "))  # as the terminal driver delivers a key
            try:  # no polling while the toggle is under way: the loop is as idle as it is for a person
                await asyncio.wait_for(shown.wait(), 60)
            except asyncio.TimeoutError:
                raise SystemExit(f"toggle {i}: the new distribution never reached the screen\n"
                                 + "\n".join(term.lines())) from None
            finally:
                if profiler is not None:
                    profiler.disable()
            await until_idle(app, term)  # later frames (if any) count in "settled"
            term.on_frame = None
            if screen.request == done_before or len(model_call) != 2:
                raise SystemExit(f"toggle {i}: expected one model call, saw {len(model_call) // 2}")
            written, cpu_written = shown_at[0]
            out["toggle"].append(written - start)
            out["settled"].append(term.frames[-1][1] - start)
            out["frames"].append(len(term.frames) - first)
            out["before_call"].append(model_call[0] - start)
            out["in_call"].append(model_call[1] - model_call[0])
            out["after_call"].append(written - model_call[1])
            out["ui_cpu"].append(cpu_written - cpu_start)
            lm, request = requests[0]
            t0 = time.perf_counter()
            predict(lm, request)  # the app's own model call, same request, app idle (blocks the loop: nothing runs)
            out["call"].append(time.perf_counter() - t0)
            await until_idle(app, term)
    finally:
        jobs.predict = predict
    return out


async def toggle_rounds(model: str | None, device: str, toggles: int, rounds: int, profile: bool) -> dict:
    from mlm_explorer.ui.app import MLMExplorerApp

    app = MLMExplorerApp(model=model, device=device, persist=False, text=TEXT)
    term = Terminal(*SIZE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready_app(app, pilot, term)
        words = [t.index for t in screen.state.tt.tokens if t.maskable]
        screen.toggle(words[4])  # one mask stays; the toggled one comes and goes
        screen.strip.focus()
        screen.strip.cursor = words[-3]
        await until_idle(app, term, quiet=0.3)
        await toggles_vs_model_call(app, pilot, term, 3)  # warm-up
        per_round = [await toggles_vs_model_call(app, pilot, term, toggles) for _ in range(rounds)]
        prof = None
        if profile:
            prof = cProfile.Profile()
            await toggles_vs_model_call(app, pilot, term, toggles, profiler=prof)
    return {"rounds": per_round, "tokens": len(screen.state.tt.tokens), "profile": prof}


async def screenshot(model: str | None, path: Path) -> None:
    from mlm_explorer.ui.app import MLMExplorerApp

    app = MLMExplorerApp(model=model, device="cpu", persist=False,
                         text="Paris is the capital of France. The cute dog walks in the green park.")
    async with app.run_test(size=(120, 36)) as pilot:
        while app.explore is None or app.explore.state.tt is None:
            await pilot.pause(0.02)
        screen = app.explore
        for word in ("france", "dog"):
            index = next(t.index for t in screen.state.tt.tokens if t.text == word)
            screen.toggle(index)
        screen.strip.focus()
        screen.strip.cursor = next(t.index for t in screen.state.tt.tokens if t.text == "france")
        while screen.busy:
            await pilot.pause(0.02)
        await pilot.pause(0.4)
        path.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=path.name, path=str(path.parent))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_options(parser)
    parser.add_argument("--model", default=None, help="encoder MLM (default: the bundled model)")
    parser.add_argument("--toggles", type=int, default=30)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--no-train", action="store_true", help="skip the latency-under-training measurement")
    parser.add_argument("--only", default="first_frame,toggle,keys", help="claims to measure (comma-separated)")
    parser.add_argument("--screenshot", type=Path, default=None, help="only write an SVG screenshot of Explore")
    args = parser.parse_args(argv)
    device = select_device(args)
    os.environ.setdefault("MLM_EXPLORER_CONFIG_DIR", tempfile.mkdtemp(prefix="bench-app-config-"))
    if args.screenshot:
        asyncio.run(screenshot(args.model, args.screenshot))
        return 0
    results = Results("app", script=__file__, command=command_line(__file__), device=device.type, gpu=gpu_name(device),
                      settings={"toggles": args.toggles, "keys": args.keys, "rounds": args.rounds, "size": list(SIZE)})
    only = set(args.only.split(",")) - ({"keys"} if args.no_train else set())
    if "first_frame" in only:
        measure_first_frame(results, args.model, device.type)
    if "toggle" in only:
        measure_toggles(results, args, device.type)
    if "keys" in only:
        measure_keys(results, args, device.type)
    path = results.write(args.results)
    print(f"wrote {path}")
    return 0


def measure_first_frame(results: Results, model: str | None, device: str) -> None:
    results.claim("first_frame", title="app: time to first frame, before torch is imported", anchor="—", unit="s")
    ff = first_frame(model, device)
    results.add("first_frame", "", 1, ff["first_frame_s"], model_ready_s=ff["model_ready_s"],
                torch_at_first_frame=ff["torch_at_first_frame"])  # one fresh process: a cold start
    results.note("first_frame", f"model ready after {ff['model_ready_s']:.1f} s (importing torch); torch imported by "
                                f"the first frame: {'yes' if ff['torch_at_first_frame'] else 'no'}")
    print(f"first frame {ff['first_frame_s'] * 1e3:.0f} ms (torch imported by then: {ff['torch_at_first_frame']}); "
          f"model ready {ff['model_ready_s'] * 1e3:.0f} ms", flush=True)


def measure_toggles(results: Results, args, device: str) -> None:
    med = statistics.median
    ms = lambda values: [1e3 * v for v in values]  # noqa: E731
    results.claim("toggle", title="app: mask toggle (a key) to the frame showing the new distribution, idle",
                  anchor="the app's own model call (`fill_masks`, head at the masks only) on the same request, "
                         "model thread, app idle", goal={"op": "<=", "value": 1.2})
    tv = asyncio.run(toggle_rounds(args.model, device, args.toggles, args.rounds, profile=True))
    shape = f"{tv['tokens']} tokens"
    for r, t in enumerate(tv["rounds"], 1):
        ratio = med(t["toggle"]) / med(t["call"])
        ok = results.add("toggle", shape, r, ratio, **{f"{k}_ms_p50": med(ms(v)) for k, v in t.items() if k != "frames"},
                         toggle_ms_p95=percentile(ms(t["toggle"]), 0.95), frames_per_toggle=med(t["frames"]))
        print(f"round {r}: toggle -> frame {med(ms(t['toggle'])):.1f} ms p50 ({percentile(ms(t['toggle']), 0.95):.1f} "
              f"p95), the app's model call {med(ms(t['call'])):.1f} ms: {ratio:.2f}x {'ok' if ok else 'MISSED'}; "
              f"key -> call {med(ms(t['before_call'])):.1f} ms, call {med(ms(t['in_call'])):.1f} ms, returned -> frame "
              f"written {med(ms(t['after_call'])):.1f} ms; UI thread CPU {med(ms(t['ui_cpu'])):.1f} ms", flush=True)
    rows = results.rows("toggle")
    span = lambda key: f"{min(x[key] for x in rows):.0f}–{max(x[key] for x in rows):.0f}"  # noqa: E731
    results.note("toggle", f"p50 {span('toggle_ms_p50')} ms vs {span('call_ms_p50')} ms; key -> model call "
                           f"{span('before_call_ms_p50')} ms, model call returned -> frame written "
                           f"{span('after_call_ms_p50')} ms")
    if any(shape_ == shape for _, shape_ in results.unmet()):
        last = tv["rounds"][-1]
        stages = [("key -> the model call starts (UI thread)", med(ms(last["before_call"]))),
                  ("the model call (model thread)", med(ms(last["in_call"]))),
                  ("model call returned -> frame written (UI thread)", med(ms(last["after_call"])))]
        results.profile("toggle", shape, sorted(stages, key=lambda p: -p[1]), how="stages of a toggle, p50 of the last round")
        parts = profile_parts(tv["profile"], per=args.toggles, top=8, by="module")
        scale = med(ms(last["ui_cpu"])) / (sum(v for _, v in parts) or 1.0)  # cProfile slows Python code down
        results.profile("toggle", shape, [(what, v * scale) for what, v in parts],
                        how="cProfile of the UI thread over one more round of toggles, self time by module, scaled "
                            "to the UI thread's CPU time per toggle measured without the profiler (the event loop's "
                            "idle wait left out)")


def measure_keys(results: Results, args, device: str) -> None:
    med = statistics.median
    ms = lambda values: [1e3 * v for v in values]  # noqa: E731
    results.claim("keys", title="app: key to the frame showing it in the text box, while a CPU training job runs "
                                "on the same cores", anchor="—", unit="ms", goal={"op": "<", "value": 50})
    lt = asyncio.run(keys_while_training(args.model, device, args.keys, args.rounds))
    for r, lat in enumerate(lt["rounds"], 1):
        p95 = percentile(ms(lat), 0.95)
        ok = results.add("keys", "p95", r, p95, p50_ms=med(ms(lat)), max_ms=max(ms(lat)), stepping=lt["stepping"])
        print(f"round {r}: key -> frame {med(ms(lat)):.1f} ms p50, {p95:.1f} ms p95 {'ok' if ok else 'MISSED'} "
              f"(job stepping: {lt['stepping']})", flush=True)
    p50s = [x["p50_ms"] for x in results.rows("keys")]
    if not (lt["stepping"] and lt["job_alive"]):
        raise SystemExit("the training job was not running through the key rounds: no key latency recorded")
    results.figure("keys_job", {k: lt[k] for k in ("steps_during", "job_cpu_s", "job_wall_s", "job_alive")})
    results.note("keys", f"p50 {min(p50s):.1f}–{max(p50s):.1f} ms; the job (niced, as the app starts it) used "
                         f"{lt['job_cpu_s']:.1f} CPU s in the {lt['job_wall_s']:.1f} s of key rounds and logged "
                         f"{lt['steps_during']} steps meanwhile")


if __name__ == "__main__":
    sys.exit(main())
