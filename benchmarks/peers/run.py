"""judge side by side with its peers, on one loopback server, in one run.

    python benchmarks/peers/run.py                  # everything (installs peers on first run)
    python benchmarks/peers/run.py --modes free --n 200 --tools judge,alpaca-eval

Each peer lives in its own virtual environment under benchmarks/.venvs/ (made and pip-installed
here, never a project dependency). Every tool judges the same candidates (the first --n responses
of /work/shared/data/self_instruct_multi.jsonl, read from ../shared next to the repo; without it
the benchmark says so and skips) at the same concurrency against benchmarks/peers/server.py: 100 ms
per request, once with no limit ("free"), once limited to 600 requests a minute with 429 +
Retry-After above it ("rpm600"). Calls and tokens are counted at the server; dollars use judge's
own list price for gpt-4o-mini (judge/data/prices.json), without prompt-cache discounts, the same
for every tool. Results: benchmarks/peers/results.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.peers.server import BenchServer  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "self_instruct_multi.jsonl"
VENVS = ROOT / "benchmarks" / ".venvs"
MODEL = "gpt-4o-mini-2024-07-18"
CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"
PEERS = {  # venv name -> pip requirements (pinned: the results name these versions)
    # distilabel 1.5.3 imports `requests` without declaring it (recent `datasets` no longer
    # pulls it in), so it is named here.
    "distilabel": "distilabel[openai]==1.5.3 requests",
    "alpaca-eval": "alpaca-eval==0.6.6",
}
# judge-told-rpm: judge given the server's limit with --rpm (only in limited modes).
TOOLS = (
    "judge", "judge-told-rpm", "distilabel-ultrafeedback", "distilabel-prometheus", "alpaca-eval"
)  # fmt: skip
MODES = {"free": None, "rpm600": 600.0}


def candidates(n: int) -> list[dict[str, Any]]:
    """The first n (prompt, response) candidates, with the prompt's human reference."""
    out: list[dict[str, Any]] = []
    with DATA.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            for i, (resp, model) in enumerate(zip(row["responses"], row["models"], strict=False)):
                out.append(
                    {
                        "id": f"{row['id']}-{i}",
                        "group": row["id"],
                        "prompt": row["prompt"],
                        "response": resp,
                        "model": model,
                        "reference": row["reference"],
                    }
                )
                if len(out) == n:
                    return out
    return out


def venv_python(name: str, *, install: bool) -> Path:
    """The venv's interpreter, creating the venv and installing the peer when needed."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    spec = PEERS[name]
    if marker.exists() and marker.read_text() == spec:
        return python
    if not install:
        raise SystemExit(f"{name} is not installed in {venv}; run without --no-install")
    print(f"installing {spec} into {venv} (first run only) ...", file=sys.stderr)
    VENVS.mkdir(parents=True, exist_ok=True)
    ignore = VENVS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Made by benchmarks/peers/run.py: never committed.\n*\n!.gitignore\n")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *spec.split()], check=True)
    marker.write_text(spec)
    return python


def price() -> dict[str, float]:
    table = json.loads((ROOT / "judge" / "data" / "prices.json").read_text())
    return dict(table["openai/gpt-4o-mini"])


def judge_rows(
    rows: list[dict[str, Any]], url: str, conc: int, work: Path, extra: list[str]
) -> tuple[list[dict[str, Any]], float]:
    """`judge score` over rows (extra: more options): its output rows and its wall time."""
    src = work / "judge_in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = work / "judge_out.jsonl"
    cmd = [
        sys.executable, "-m", "judge", "score", str(src), "-c", str(CONSTITUTION),
        "-m", f"openai/{MODEL}", "--base-url", url, "--concurrency", str(conc),
        "--no-cache", "-q", "-o", str(out), *extra,
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env())
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"judge failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()], wall


def run_judge(
    rows: list[dict[str, Any]], url: str, conc: int, work: Path, rpm: float | None = None
) -> dict[str, Any]:
    got, wall = judge_rows(rows, url, conc, work, ["--rpm", str(rpm)] if rpm else [])
    judged = sum(1 for r in got if r["score"] is not None)
    # Empty responses are declined by design (score null, "not judged: empty response"), with
    # no call made: counted apart from answers that could not be parsed.
    declined = sum(1 for r in got if (r["judge"]["error"] or "").startswith("not judged:"))
    from importlib.metadata import version

    return {
        "tool": "judge score" + (" --rpm 600" if rpm else ""),
        "version": version("judge"),
        "items": len(rows),
        "returned": len(got),
        "judged": judged,
        "declined_empty": declined,
        "unparsed": len(got) - judged - declined,
        "lost": len(rows) - len({r["id"] for r in got}),
        "wall_s": wall,
    }


def run_distilabel(
    task: str, rows: list[dict[str, Any]], url: str, conc: int, work: Path, python: Path
) -> dict[str, Any]:
    if task == "ultrafeedback":
        # UltraFeedback's native shape: one instruction, all its generations rated in one call.
        groups: dict[str, dict[str, Any]] = {}
        for r in rows:
            g = groups.setdefault(
                r["group"], {"instruction": r["prompt"], "generations": [], "ids": []}
            )
            g["generations"].append(r["response"])
            g["ids"].append(r["id"])
        data: list[dict[str, Any]] = list(groups.values())
    else:
        data = [
            {"id": r["id"], "instruction": r["prompt"], "generation": r["response"]} for r in rows
        ]
    return _driver(
        python, "drive_distilabel.py", [task], data, [url + "", MODEL, str(conc)], work,
        env={"DISTILABEL_CACHE_DIR": str(work / "distilabel-cache")},
    )  # fmt: skip


def run_alpaca(
    rows: list[dict[str, Any]], url: str, conc: int, work: Path, python: Path
) -> dict[str, Any]:
    pairs = [
        {"instruction": r["prompt"], "output_1": r["reference"], "output_2": r["response"]}
        for r in rows
    ]
    env = {
        "OPENAI_API_BASE": url,
        "OPENAI_MAX_CONCURRENCY": str(conc),
        "IS_ALPACA_EVAL_2": "True",
    }
    return _driver(python, "drive_alpaca_eval.py", [], pairs, [], work, env=env)


def _driver(
    python: Path,
    script: str,
    head: list[str],
    data: list[dict[str, Any]],
    tail: list[str],
    work: Path,
    env: dict[str, str],
) -> dict[str, Any]:
    src = work / f"{script}.in.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    result = work / f"{script}.result.json"
    result.unlink(missing_ok=True)
    # The input path goes after the task name (distilabel) or first (alpaca-eval).
    args = [*head, str(src), *tail, str(result)]
    proc = subprocess.run(
        [str(python), str(HERE / script), *args],
        capture_output=True, text=True, cwd=work, env=_env(env),
    )  # fmt: skip
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(f"{script} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return dict(json.loads(result.read_text()))


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JUDGE_"))}
    env.update(OPENAI_API_KEY="sk-bench", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.update(extra or {})
    return env


def measure(
    tool: str, rows: list[dict[str, Any]], rpm: float | None, conc: int, install: bool
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, BenchServer(latency=0.1, rpm=rpm) as server:
        work = Path(tmp)
        if tool == "judge":
            res = run_judge(rows, server.base_url, conc, work)
        elif tool == "judge-told-rpm":
            res = run_judge(rows, server.base_url, conc, work, rpm=rpm)
        elif tool.startswith("distilabel"):
            python = venv_python("distilabel", install=install)
            res = run_distilabel(tool.split("-", 1)[1], rows, server.base_url, conc, work, python)
        else:
            python = venv_python("alpaca-eval", install=install)
            res = run_alpaca(rows, server.base_url, conc, work, python)
        res["server"] = server.report()
    p = price()
    s = res["server"]
    judged = max(res["judged"], 1)
    dollars = (s["input_tokens"] * p["input"] + s["output_tokens"] * p["output"]) / 1e6
    cached = s["cacheable_input_tokens"]
    with_cache = dollars - cached * (p["input"] - p["cached_input"]) / 1e6
    res.update(
        verdicts_per_s=res["judged"] / res["wall_s"],
        calls_per_item=s["answered"] / judged,
        requests_per_item=s["requests"] / judged,
        input_tokens_per_item=s["input_tokens"] / judged,
        output_tokens_per_item=s["output_tokens"] / judged,
        usd_per_1000=dollars / judged * 1000,
        usd_per_1000_prompt_cached=with_cache / judged * 1000,
    )
    return res


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| server | tool | version | verdicts/s | × judge speed | calls/item | HTTP req/item "
        "| in tok/item | out tok/item | lost | unparsed (declined) | $/1k items | × judge cost "
        "| $/1k, prompt cache | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, rows in results.items():
        base = next((r for r in rows if r["tool"] == "judge score"), None)
        for r in rows:
            speed = r["verdicts_per_s"] / base["verdicts_per_s"] if base else float("nan")
            cost = r["usd_per_1000"] / base["usd_per_1000"] if base else float("nan")
            lines.append(
                f"| {mode} | {r['tool']} | {r['version']} | {r['verdicts_per_s']:.1f} "
                f"| {speed:.2f} | {r['calls_per_item']:.3f} | {r['requests_per_item']:.3f} "
                f"| {r['input_tokens_per_item']:.0f} | {r['output_tokens_per_item']:.0f} "
                f"| {r['lost']} | {r['unparsed']} ({r.get('declined_empty', 0)}) "
                f"| {r['usd_per_1000']:.4f} | {cost:.2f} "
                f"| {r['usd_per_1000_prompt_cached']:.4f} | {r['wall_s']:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="candidates (default 1000)")
    ap.add_argument("--concurrency", type=int, default=16, help="same for every tool")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--no-install", action="store_true", help="fail instead of installing peers")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    args = ap.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not present (the benchmark reads ../shared/data)")
        return
    rows = candidates(args.n)
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        raise SystemExit(f"unknown tools {sorted(unknown)}; choose from {', '.join(TOOLS)}")
    results: dict[str, list[dict[str, Any]]] = {}
    load_start = os.getloadavg()
    for mode in args.modes.split(","):
        results[mode] = []
        for tool in tools:
            if tool == "judge-told-rpm" and MODES[mode] is None:
                continue
            print(f"[{mode}] {tool} ...", file=sys.stderr, flush=True)
            res = measure(tool, rows, MODES[mode], args.concurrency, not args.no_install)
            print(f"[{mode}] {tool}: {json.dumps(res)}", file=sys.stderr, flush=True)
            results[mode].append(res)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python benchmarks/peers/run.py " + " ".join(sys.argv[1:]),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "machine": machine(),
        "candidates": len(rows),
        "concurrency": args.concurrency,
        "latency_s": 0.1,
        "data": str(DATA.relative_to(ROOT.parent)),
        "price_per_million": price(),
    }
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(json.dumps(meta))
    print(table(results))


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    main()
