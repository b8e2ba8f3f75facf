"""What judging a conversation costs: a second turn judged in its context against the same turn
judged alone, and what `--turns all --group` saves over one call a turn.

    python benchmarks/conversations.py                      # MT-bench, o200k_base tokens
    python benchmarks/conversations.py --tokenizer words --out /tmp/c.json

The conversations are MT-bench's two-turn questions that come with GPT-4's reference answers
(../shared/data/mt_bench: 30 of 80, math, reasoning and coding), the references standing in as
the assistant's two turns (real answer lengths): [user 1, assistant 1, user 2, assistant 2].
Without ../shared, --data takes any file of `messages` rows (examples/conversations.jsonl).

Four runs of `judge score` under constitutions/helpful-honest-harmless.md, each against a fresh
loopback server (benchmarks/peers/cost_server.py: tokens counted with gpt-4o-mini's o200k_base
tokenizer as OpenAI bills them, schema included; OpenAI's automatic prompt caching simulated),
one call in flight at a time:

- `in-context`: each conversation's second assistant turn, the first turn shown before it;
- `alone`: the same second turn as prompt + response (the second question, nothing before it);
- `turns-all`: `--turns all`, every assistant turn in its own context, one call a turn;
- `turns-all-group`: `--turns all --group`, a conversation's turns in one call.

Per verdict (a judged turn): calls, input, cached and output tokens, and dollars per 1,000 at
gpt-4o-mini's list price (no cache credit) and with the cached tokens at the cached rate.
Results: benchmarks/results/conversations.json (with the commit and the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peers.cost import commit, dollars  # noqa: E402
from benchmarks.peers.cost_server import CostServer, load_tokenizer  # noqa: E402
from benchmarks.peers.run import machine, price  # noqa: E402

CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"
MODEL = "gpt-4o-mini"
# ../shared next to the repository (a worktree one level deeper finds it one level up)
MT_BENCH = next(
    (d / "shared" / "data" / "mt_bench" for d in (ROOT.parent, ROOT.parent.parent)
     if (d / "shared" / "data" / "mt_bench").exists()),
    ROOT.parent / "shared" / "data" / "mt_bench",
)  # fmt: skip
RUNS: dict[str, tuple[str, list[str]]] = {  # name -> (input shape, options)
    "in-context": ("messages", []),
    "alone": ("prompt", []),
    "turns-all": ("messages", ["--turns", "all"]),
    "turns-all-group": ("messages", ["--turns", "all", "--group"]),
}


def mt_bench(folder: Path) -> list[dict[str, Any]]:
    """Two-turn conversations: each question with GPT-4's reference answers as the turns."""
    questions = {}
    for line in (folder / "question.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        questions[q["question_id"]] = q
    rows = []
    for line in (folder / "reference_answer_gpt-4.jsonl").read_text(encoding="utf-8").splitlines():
        ref = json.loads(line)
        q = questions[ref["question_id"]]
        messages: list[dict[str, str]] = []
        for asked, answer in zip(q["turns"], ref["choices"][0]["turns"], strict=True):
            messages += [{"role": "user", "content": asked}]
            messages += [{"role": "assistant", "content": answer}]
        rows.append({"id": f"mt-bench-{q['question_id']}", "messages": messages})
    return rows


def alone(row: dict[str, Any]) -> dict[str, Any]:
    """The conversation's last turn as prompt + response, without the turns before it."""
    *_, asked, answer = row["messages"]
    return {"id": row["id"], "prompt": asked["content"], "response": answer["content"]}


def run(rows: list[dict[str, Any]], options: list[str], server: CostServer) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        cmd = [
            sys.executable, "-m", "judge", "score", str(src), "-c", str(CONSTITUTION),
            "-m", f"openai/{MODEL}", "--base-url", server.base_url, "--concurrency", "1",
            "--no-cache", "-q", "-o", str(out), *options,
        ]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"judge failed ({proc.returncode}): {proc.stderr[-2000:]}")
        got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {"rows": len(got), "judged": sum(r["score"] is not None for r in got)}


def measure(name: str, rows: list[dict[str, Any]], count: Any) -> dict[str, Any]:
    shape, options = RUNS[name]
    data = rows if shape == "messages" else [alone(r) for r in rows]
    # ttft > 0: the server counts a prefix as cached only for requests that arrive after the
    # first token of the request that cached it (with 0, every request would hit)
    with CostServer(count, ttft=0.01, per_token=0.0) as server:
        res = run(data, options, server)
        s = server.report()
    judged = max(res["judged"], 1)
    return {
        "name": name,
        "options": options,
        **res,
        "calls": s["answered"],
        "calls_per_verdict": s["answered"] / judged,
        "input_tokens_per_verdict": s["input_tokens"] / judged,
        "cached_input_tokens_per_verdict": s["cached_input_tokens"] / judged,
        "output_tokens_per_verdict": s["output_tokens"] / judged,
        "usd_per_1000": {k: v / judged * 1000 for k, v in dollars(s, price()).items()},
    }


def compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The two questions: what the context adds to a second turn's verdict, and what grouping a
    conversation's turns saves, as ratios of tokens and dollars per verdict."""

    def ratio(a: str, b: str, key: str, sub: str | None = None) -> float:
        x, y = results[a][key], results[b][key]
        return (x[sub] / y[sub]) if sub else x / y

    out = {}
    for a, b in (("in-context", "alone"), ("turns-all-group", "turns-all")):
        out[f"{a} / {b}"] = {
            "input_tokens": ratio(a, b, "input_tokens_per_verdict"),
            "usd_list": ratio(a, b, "usd_per_1000", "list"),
            "usd_cached": ratio(a, b, "usd_per_1000", "realtime"),
        }
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    head = "| run | verdicts | calls/verdict | input | cached | output | $/1k list | $/1k cached |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in results.values():
        usd = r["usd_per_1000"]
        lines.append(
            f"| {r['name']} | {r['judged']} | {r['calls_per_verdict']:.2f} | "
            f"{r['input_tokens_per_verdict']:.0f} | {r['cached_input_tokens_per_verdict']:.0f} | "
            f"{r['output_tokens_per_verdict']:.0f} | {usd['list']:.4f} | {usd['realtime']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, help="a file of `messages` rows (default: MT-bench)")
    ap.add_argument("--tokenizer", choices=["o200k", "words"], default="o200k")
    ap.add_argument("--no-install", action="store_true", help="do not install the tokenizer")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "conversations.json")
    args = ap.parse_args()
    if args.data is None:
        rows, source = mt_bench(MT_BENCH), "MT-bench questions with GPT-4 references"
    else:
        lines = args.data.read_text(encoding="utf-8").splitlines()
        rows, source = [{"messages": json.loads(x)["messages"]} for x in lines], str(args.data)
    rows = [dict(r, id=r.get("id", str(i))) for i, r in enumerate(rows)]
    count = load_tokenizer(args.tokenizer, install=not args.no_install)
    load_before = os.getloadavg()
    started = time.time()
    results = {name: measure(name, rows, count) for name in RUNS}
    out = {
        "benchmark": "conversations",
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "data": {"source": source, "conversations": len(rows)},
        "constitution": CONSTITUTION.name,
        "model_prices": {"model": f"openai/{MODEL}", **price()},
        "tokenizer": args.tokenizer,
        "results": results,
        "ratios": compare(results),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(json.dumps(out["ratios"], indent=2))


if __name__ == "__main__":
    main()
