"""Throughput, cached re-run and peak memory of `judge score` (issue 3, part 8).

    python benchmarks/throughput.py            # the full run: a few minutes
    python benchmarks/throughput.py --quick    # a few seconds, small sizes (CI smoke test)

Every figure comes from real `judge score` processes (`python -m judge score ...`), started fresh:

(a) verdicts per second against a loopback OpenAI-compatible server that answers every request in
    100 ms (benchmarks/loopback_server.py, its own process), at concurrency 1, 8 and 64, with the
    default options (one call per candidate, structured output, top-5 log-probabilities) and the
    shipped constitution constitutions/helpful-honest-harmless.md (4 principles). Two rates: the
    one `judge score` reports (candidates done / seconds since its runner started, so process
    start-up is left out), and candidates / the whole process's wall time (start-up included);
    each is given as a ratio to the ideal, concurrency / latency. Each run uses a fresh cache, so
    every candidate is a model call, and the server's count must match the input's size.
(b) the concurrency-64 command run again on its now-full cache: wall time of the whole process,
    start-up included, and no model call.
(c) peak RSS (the child's own ru_maxrss, from wait4) of `judge score` over 100,000 and 1,000,000
    rows. The model is an instant in-process backend (this file re-run with --instant-child), so
    that a million verdicts take minutes, not hours; everything else is the real path: reading,
    the runner's window, scoring, and writing every output row (to /dev/null), with --no-cache.

Results: a table on stdout, and benchmarks/results/throughput.json (or --out FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"
SERVER = ROOT / "benchmarks" / "loopback_server.py"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "throughput.json"
LATENCY = 0.1  # seconds per answer
COMMAND = "python benchmarks/throughput.py"


@dataclass(frozen=True)
class Sizes:
    concurrency: dict[int, int]  # concurrency -> candidates
    memory_rows: tuple[int, int]


FULL = Sizes({1: 50, 8: 400, 64: 10_000}, (100_000, 1_000_000))
QUICK = Sizes({1: 10, 8: 80, 64: 640}, (2_000, 20_000))


@dataclass
class Run:
    """One `judge score` process."""

    returncode: int
    wall_s: float  # process start to exit
    cpu_s: float  # user + system
    peak_rss_mb: float
    rate: float | None  # candidates per second, as judge reports it
    summary: str


# --- the processes --------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUDGE_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_process(cmd: list[str], stdout_path: str | None = None) -> Run:
    """Run a process to its end; its own CPU time and peak RSS come from wait4."""
    with tempfile.TemporaryFile() as err:
        out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env(), cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout_path:
                out.close()  # type: ignore[union-attr]
        err.seek(0)
        text = err.read().decode("utf-8", errors="replace").strip()
    summary = next((line for line in reversed(text.splitlines()) if "judge:" in line), text)
    found = re.search(r"in [\d.]+ s \(([\d.]+)/s\)", summary)
    return Run(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        rate=float(found.group(1)) if found else None,
        summary=summary if proc.returncode == 0 else text[-2000:],
    )


def judge_score(*args: str) -> list[str]:
    return [sys.executable, "-m", "judge", "score", *args]


@contextmanager
def loopback_server(latency: float, *options: str) -> Iterator[str]:
    """Start benchmarks/loopback_server.py (with its further `options`); yield its base URL."""
    cmd = [sys.executable, str(SERVER), "--latency", str(latency), *options]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def served(server: str) -> int:
    with urllib.request.urlopen(f"{server}/stats", timeout=10) as answer:
        return int(json.load(answer)["served"])


def write_rows(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            row = {
                "id": i,
                "prompt": f"Question {i}: how long should I boil an egg for a soft yolk?",
                "response": f"Answer {i}: about six minutes in boiling water, then cold water.",
            }
            f.write(json.dumps(row) + "\n")
    return path


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


# --- the measurements -----------------------------------------------------------------------------


def throughput(
    server: str, work: Path, concurrency: int, n: int, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    src = write_rows(work / f"in-{concurrency}-{n}.jsonl", n)
    cache = work / f"cache-{concurrency}-{n}{'-'.join(extra)}.sqlite"
    out = work / f"out-{concurrency}.jsonl"
    args = [
        str(src),
        "-c",
        str(CONSTITUTION),
        "-m",
        "openai/bench",
        "--base-url",
        f"{server}/v1",
        "--concurrency",
        str(concurrency),
        "--cache",
        str(cache),
        "-o",
        str(out),
        "--quiet",
        *extra,
    ]
    before = served(server)
    run = run_process(judge_score(*args))
    calls = served(server) - before
    ideal = concurrency / LATENCY
    with_startup = n / run.wall_s
    return {
        "concurrency": concurrency,
        "options": " ".join(extra),
        "candidates": n,
        "model_calls": calls,
        "rows_out": count_lines(out) if out.exists() else 0,
        "verdicts_per_s": run.rate,  # as judge reports it: start-up left out
        "ideal_per_s": ideal,
        "ratio": None if run.rate is None else run.rate / ideal,
        "verdicts_per_s_with_startup": with_startup,  # candidates / the process's wall time
        "ratio_with_startup": with_startup / ideal,
        "cpu_ms_per_verdict": 1000 * run.cpu_s / n,
        "run": asdict(run),
        "_args": args,
    }


def cached_rerun(server: str, first: dict[str, Any]) -> dict[str, Any]:
    before = served(server)
    run = run_process(judge_score(*first["_args"]))
    return {
        "candidates": first["candidates"],
        "wall_s": run.wall_s,
        "verdicts_per_s": run.rate,
        "model_calls": served(server) - before,
        "run": asdict(run),
    }


def peak_memory(work: Path, rows: int) -> dict[str, Any]:
    src = write_rows(work / f"mem-{rows}.jsonl", rows)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--instant-child",
        "score",
        str(src),
        "-c",
        str(CONSTITUTION),
        "-m",
        "instant/judge",
        "--no-cache",
        "--concurrency",
        "64",
        "--quiet",
    ]
    run = run_process(cmd)
    src.unlink()
    return {
        "rows": rows,
        "peak_rss_mb": run.peak_rss_mb,
        "wall_s": run.wall_s,
        "verdicts_per_s": run.rate,
        "run": asdict(run),
    }


# --- the instant backend, for the memory runs -----------------------------------------------------


def instant_child(argv: list[str]) -> None:
    """`judge score` in this process, with `-m instant/judge` answering at once (no HTTP)."""
    from judge.backends import registry
    from judge.backends.base import Request, Response

    class InstantBackend:
        provider = "instant"
        model = "judge"
        name = "instant/judge"

        def __init__(self) -> None:
            self.answers: dict[str, Response] = {}

        def identity(self) -> dict[str, Any]:
            return {"provider": "instant", "model": "judge"}

        async def generate(self, request: Request) -> Response:
            ids = tuple((request.schema or {}).get("required", ()))
            key = ",".join(ids)
            if key not in self.answers:
                text = json.dumps({p: {"rationale": "Fine.", "score": 4} for p in ids})
                self.answers[key] = Response(text, 1000, 40, finish_reason="stop")
            return self.answers[key]

        async def aclose(self) -> None:
            return None

    registry.register("instant", lambda name, **kw: InstantBackend())
    from judge.cli import main

    main(argv, prog_name="judge")


# --- report ---------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        f"judge score against a loopback OpenAI-compatible server answering in "
        f"{LATENCY * 1000:.0f} ms (default options: structured output, top-5 logprobs)",
        "",
        f"{'concurrency':>11}  {'options':<14} {'candidates':>10}  {'verdicts/s':>10}  "
        f"{'ideal/s':>7}  {'ratio':>5}  {'with start-up':>13}  {'CPU ms/verdict':>14}",
    ]
    for r in results["throughput"]:
        rate = "failed" if r["verdicts_per_s"] is None else f"{r['verdicts_per_s']:.1f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(
            f"{r['concurrency']:>11}  {r['options'] or 'default':<14} {r['candidates']:>10,}  "
            f"{rate:>10}  {r['ideal_per_s']:>7.0f}  {ratio:>5}  "
            f"{r['ratio_with_startup']:>13.2f}  {r['cpu_ms_per_verdict']:>14.2f}"
        )
    c = results["cached_rerun"]
    lines += [
        "",
        f"cached re-run of {c['candidates']:,} candidates: {c['wall_s']:.1f} s wall, process "
        f"start to exit ({c['model_calls']} model calls)",
    ]
    mem = results["memory"]
    sizes = "; ".join(f"{m['rows']:,} rows: {m['peak_rss_mb']:.0f} MB" for m in mem)
    lines.append(
        f"peak RSS of judge score: {sizes} (x{mem[-1]['peak_rss_mb'] / mem[0]['peak_rss_mb']:.2f} "
        f"for x{mem[-1]['rows'] // mem[0]['rows']} rows)"
    )
    load = results["machine"]
    lines.append(
        f"machine: {load['cpus']} CPUs, Python {load['python']}, load average "
        f"{load['load_average_at_start'][0]:.1f} at start, {load['load_average_at_end'][0]:.1f} "
        "at end"
    )
    return "\n".join(lines)


def check(results: dict[str, Any]) -> list[str]:
    """What must hold whatever the machine: every run complete, nothing paid twice."""
    problems = []
    for r in results["throughput"]:
        if r["run"]["returncode"] != 0:
            problems.append(
                f"concurrency {r['concurrency']}: exit {r['run']['returncode']}: "
                f"{r['run']['summary']}"
            )
        if r["model_calls"] != r["candidates"] or r["rows_out"] != r["candidates"]:
            problems.append(
                f"concurrency {r['concurrency']}: {r['model_calls']} calls and "
                f"{r['rows_out']} rows for {r['candidates']} candidates"
            )
    c = results["cached_rerun"]
    if c["run"]["returncode"] != 0 or c["model_calls"] != 0:
        problems.append(f"cached re-run: exit {c['run']['returncode']}, {c['model_calls']} calls")
    for m in results["memory"]:
        if m["run"]["returncode"] != 0:
            problems.append(f"memory, {m['rows']} rows: {m['run']['summary']}")
    return problems


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--instant-child":
        instant_child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few seconds")
    parser.add_argument("--out", type=Path, help=f"results JSON (default: {DEFAULT_OUT})")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    out_path = args.out or (
        DEFAULT_OUT.with_name("throughput-quick.json") if args.quick else DEFAULT_OUT
    )
    results: dict[str, Any] = {
        "command": COMMAND + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "latency_s": LATENCY,
        "constitution": str(CONSTITUTION.relative_to(ROOT)),
        "how": "subprocess: python -m judge score (fresh process per run)",
        "machine": machine(),
    }
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="judge-bench-") as tmp,
        loopback_server(LATENCY) as server,
    ):
        work = Path(tmp)
        runs = [throughput(server, work, c, n) for c, n in sizes.concurrency.items()]
        results["cached_rerun"] = cached_rerun(server, runs[-1])
        if not args.quick:
            top = max(sizes.concurrency)
            runs.append(throughput(server, work, top, sizes.concurrency[top], ("--no-logprobs",)))
        results["memory"] = [peak_memory(work, n) for n in sizes.memory_rows]
    for r in runs:
        r.pop("_args")
    results["throughput"] = runs
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nresults: {out_path} ({results['seconds']:.0f} s)")
    problems = check(results)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
