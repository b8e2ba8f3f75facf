"""What a verdict costs: judge's modes and its peers on the same PandaLM candidates, side by side.

    python benchmarks/peers/cost.py                 # everything (installs peers on first run)
    python benchmarks/peers/cost.py --sentences judge-short   # judge's ten-word rationales short
    python benchmarks/peers/cost.py --n 20 --tools judge --tokenizer words --out /tmp/c.json

Every tool judges the same candidates (the first --n distinct (prompt, response) pairs of
../shared/data/pandalm.jsonl, response_a then response_b of each row: all 722 by default) at the
same concurrency against one loopback OpenAI-compatible server (benchmarks/peers/server.py) that
behaves, for cost, like the real API:

- latency grows with the answer: --ttft seconds to the first token plus --per-token seconds a
  token of output, so a tool that writes more waits longer;
- tokens are counted at the server with the o200k_base tokenizer of gpt-4o-mini (bpe-openai,
  pip-installed into benchmarks/.venvs/tokenizer on the first run, never a project dependency):
  each message's text plus 3 tokens a message and 3 for the reply, plus a structured-output
  schema's JSON text when a request carries one (OpenAI bills the schema as input);
- OpenAI's automatic prompt caching is simulated: a request whose first 1,024 or more tokens, in
  steps of 128, repeat the start of an earlier request (one whose first token had been sent) gets
  that many tokens reported as `usage.prompt_tokens_details.cached_tokens`; the schema counts as
  the first part of the prompt.

Every rationale of every tool is the same 12-token sentence (--sentences equal, the default:
benchmarks/results/cost.json). --sentences judge-short gives judge's rationales a 5-token sentence
where its prompt asks for at most ten words (--rationale short and brief), the peers the 12-token
one: a set-up that favours judge (benchmarks/results/cost-judge-short.json).

Dollars per 1,000 verdicts are computed from the counted tokens at gpt-4o-mini's list prices
(judge/data/prices.json): real time (cached tokens at the cached rate), and batch at 50% of list,
as both OpenAI and Anthropic price their batch APIs (no cache credit assumed there). A verdict is a
candidate judged; AlpacaEval compares two candidates of one prompt in one call, so its calls cover
two candidates each. Results: benchmarks/results/cost.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.peers.cost_server import SENTENCES, CostServer, load_tokenizer  # noqa: E402
from benchmarks.peers.run import (  # noqa: E402
    CONSTITUTION,
    MODEL,
    _driver,
    judge_rows,
    machine,
    price,
    venv_python,
)

# ../shared next to the repository (a worktree one level deeper finds it one level up)
DATA = next(
    (d / "shared" / "data" / "pandalm.jsonl" for d in (ROOT.parent, ROOT.parent.parent)
     if (d / "shared" / "data" / "pandalm.jsonl").exists()),
    ROOT.parent / "shared" / "data" / "pandalm.jsonl",
)  # fmt: skip

GROUP_SIZE = 8  # judge --group's default, and the groups UltraFeedback is given
MIX = ["--group", "--mix-prompts"]  # calls filled with candidates of any prompts
# judge's modes: name -> extra arguments of `judge score` (a new mode is one line).
JUDGE_MODES: dict[str, list[str]] = {
    "judge": [],
    "judge --group": ["--group"],
    "judge --rationale short": ["--rationale", "short"],
    "judge --rationale none": ["--rationale", "none"],
    "judge --group --rationale short": ["--group", "--rationale", "short"],
    # Batch API (the loopback server answers a job's lines when it is first polled).
    "judge --batch": ["--batch", "--batch-poll", "0.2"],
    "judge --group --batch": ["--group", "--batch", "--batch-poll", "0.2"],
    "judge --group --rationale short --batch": [
        *["--group", "--rationale", "short", "--batch", "--batch-poll", "0.2"]
    ],
    # One rationale a candidate (--rationale brief), and calls filled across prompts.
    "judge --rationale brief": ["--rationale", "brief"],
    "judge --group --mix-prompts --group-size 16 --rationale short": [
        *MIX, "--group-size", "16", "--rationale", "short"
    ],
    "judge --group --mix-prompts --group-size 16 --rationale brief": [
        *MIX, "--group-size", "16", "--rationale", "brief"
    ],
    "judge --group --mix-prompts --group-size 32 --rationale short": [
        *MIX, "--group-size", "32", "--rationale", "short"
    ],
    "judge --group --mix-prompts --group-size 32 --rationale brief": [
        *MIX, "--group-size", "32", "--rationale", "brief"
    ],
    "judge --group --mix-prompts --group-size 32 --rationale none": [
        *MIX, "--group-size", "32", "--rationale", "none"
    ],
    "judge --group --mix-prompts --group-size 32 --rationale brief --batch": [
        *MIX, "--group-size", "32", "--rationale", "brief", "--batch", "--batch-poll", "0.2"
    ],
}  # fmt: skip
PEERS = (
    "distilabel-ultrafeedback",
    "distilabel-ultrafeedback-4-aspects",
    "distilabel-prometheus",
    "alpaca-eval",
)
# UltraFeedback's own per-aspect ratings (a call per aspect), each with a rationale: the peer
# that, like judge, scores a candidate under several principles with a rationale each.
ASPECTS = ("helpfulness", "honesty", "instruction-following", "truthfulness")
BATCH_DISCOUNT = 0.5
# What a verdict explains: a rationale for each principle (aspect), one for the verdict, none.
PER_PRINCIPLE, ONE = "per principle", "one a verdict"
LEVELS = (PER_PRINCIPLE, ONE, "none")


def candidates(path: Path, n: int) -> list[dict[str, Any]]:
    """The first n distinct candidates: response_a then response_b of each row, in file order,
    each (prompt, response) once. PandaLM's rows reuse responses (its 999 rows hold 722 distinct
    candidates): a repeated request is paid once by judge's cache and batch jobs (same cache
    key) and by AlpacaEval (it drops repeated pairs), but by distilabel each time, so repeats
    would measure the data, not the tools."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            for side in ("a", "b"):
                key = (row["prompt"], row[f"response_{side}"])
                if key in seen:
                    continue
                seen.add(key)
                out.append({"id": f"{row['id']}-{side}", "prompt": key[0], "response": key[1]})
                if len(out) == n:
                    return out
    return out


def groups(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Runs of consecutive candidates with one prompt, at most `size`: judge --group's groups
    (judge.judging.grouped.runs), given to UltraFeedback too so that both group alike."""
    out: list[list[dict[str, Any]]] = []
    for _, run in itertools.groupby(rows, key=lambda r: r["prompt"]):
        items = [r for r in run if r["response"].strip()]  # judge groups no empty response
        out += [items[i : i + size] for i in range(0, len(items), size)]
    return [g for g in out if g]


def run_judge(
    rows: list[dict[str, Any]], url: str, conc: int, work: Path, extra: list[str]
) -> dict[str, Any]:
    got, wall = judge_rows(rows, url, conc, work, ["--timeout", "600", *extra])
    judged = [r for r in got if r["score"] is not None]
    declined = sum(1 for r in got if (r["judge"]["error"] or "").startswith("not judged:"))
    per_principle = sum(1 for r in judged if set(r["rationales"]) == set(r["scores"]))
    overall = sum(1 for r in judged if set(r["rationales"]) == {"overall"})
    kind = "none"
    if judged and per_principle == len(judged):
        kind = PER_PRINCIPLE
    elif judged and overall == len(judged):
        kind = ONE
    from importlib.metadata import version

    return {
        "tool": " ".join(["judge score", *extra]),
        "version": version("judge"),
        "items": len(rows),
        "judged": len(judged),
        "declined_empty": declined,
        "unparsed": len(got) - len(judged) - declined,
        "lost": len(rows) - len({r["id"] for r in got}),
        "per_principle_scores": True,
        "rationales": kind,
        "wall_s": wall,
    }


def run_ultrafeedback(
    rows: list[dict[str, Any]],
    url: str,
    conc: int,
    work: Path,
    python: Path,
    aspects: tuple[str, ...] = ("",),
) -> dict[str, Any]:
    """UltraFeedback on judge --group's groups; with several aspects, one run each, summed (a
    candidate counts as judged when every aspect rated it: the fewest judged of the runs)."""
    data = [
        {"instruction": g[0]["prompt"], "generations": [r["response"] for r in g],
         "ids": [r["id"] for r in g]}
        for g in groups(rows, GROUP_SIZE)
    ]  # fmt: skip
    runs = []
    for aspect in aspects:
        task = "ultrafeedback" + (f":{aspect}" if aspect else "")
        env = {"DISTILABEL_CACHE_DIR": str(work / f"distilabel-cache-{aspect}")}
        tail = [url, MODEL, str(conc)]
        runs.append(_driver(python, "drive_distilabel.py", [task], data, tail, work, env=env))
    res = dict(runs[0])
    if len(runs) > 1:
        res["tool"] = f"distilabel ultrafeedback, {len(runs)} aspects ({', '.join(aspects)})"
        res.update({k: min(r[k] for r in runs) for k in ("judged", "returned")})
        res.update({k: max(r[k] for r in runs) for k in ("unparsed", "lost")})
        res["wall_s"] = sum(r["wall_s"] for r in runs)
    several = len(runs) > 1  # one call an aspect, a rationale each
    res.update(per_principle_scores=several, rationales=PER_PRINCIPLE if several else ONE)
    return res


def run_prometheus(
    rows: list[dict[str, Any]], url: str, conc: int, work: Path, python: Path
) -> dict[str, Any]:
    data = [{"id": r["id"], "instruction": r["prompt"], "generation": r["response"]} for r in rows]
    res = _driver(
        python, "drive_distilabel.py", ["prometheus"], data, [url, MODEL, str(conc)], work,
        env={"DISTILABEL_CACHE_DIR": str(work / "distilabel-cache")},
    )  # fmt: skip
    res.update(per_principle_scores=False, rationales=ONE)
    return res


def run_alpaca(
    rows: list[dict[str, Any]], url: str, conc: int, work: Path, python: Path
) -> dict[str, Any]:
    """AlpacaEval compares two outputs: consecutive candidates of one prompt are paired (a
    candidate left over at the end of a prompt's run is not judged)."""
    pairs = []
    for _, run in itertools.groupby(rows, key=lambda r: r["prompt"]):
        items = list(run)
        pairs += [
            {"instruction": a["prompt"], "output_1": a["response"], "output_2": b["response"]}
            for a, b in zip(items[::2], items[1::2], strict=False)
        ]
    env = {"OPENAI_API_BASE": url, "OPENAI_MAX_CONCURRENCY": str(conc), "IS_ALPACA_EVAL_2": "True"}
    res = _driver(python, "drive_alpaca_eval.py", [], pairs, [], work, env=env)
    # One preference a pair: both candidates of a judged pair are judged (relative to each other).
    res.update(judged=2 * res["judged"], unparsed=2 * res["unparsed"], lost=2 * res["lost"])
    res.update(items=len(rows), per_principle_scores=False, rationales="none")
    return res


def dollars(s: dict[str, Any], p: dict[str, float]) -> dict[str, float]:
    """USD for the counted tokens: list, real time with the prompt cache, batch."""
    inp, cached, out = s["input_tokens"], s["cached_input_tokens"], s["output_tokens"]
    listed = (inp * p["input"] + out * p["output"]) / 1e6
    realtime = listed - cached * (p["input"] - p["cached_input"]) / 1e6
    return {"list": listed, "realtime": realtime, "batch": listed * BATCH_DISCOUNT}


def measure(
    tool: str, rows: list[dict[str, Any]], args: argparse.Namespace, count: Callable[[str], int]
) -> dict[str, Any]:
    server = CostServer(count, ttft=args.ttft, per_token=args.per_token, sentences=args.sentences)
    with tempfile.TemporaryDirectory() as tmp, server:
        work, url, conc = Path(tmp), server.base_url, args.concurrency
        install = not args.no_install
        if tool in JUDGE_MODES:
            res = run_judge(rows, url, conc, work, JUDGE_MODES[tool])
        elif tool == "alpaca-eval":
            res = run_alpaca(rows, url, conc, work, venv_python("alpaca-eval", install=install))
        else:
            python = venv_python("distilabel", install=install)
            if tool == "distilabel-prometheus":
                res = run_prometheus(rows, url, conc, work, python)
            else:
                aspects = ASPECTS if tool.endswith("-4-aspects") else ("",)
                res = run_ultrafeedback(rows, url, conc, work, python, aspects)
        res["name"] = tool
        res["server"] = server.report()
    s = res["server"]
    judged = max(res["judged"], 1)
    cost = dollars(s, price())
    res.update(
        calls_per_verdict=s["answered"] / judged,
        input_tokens_per_verdict=s["input_tokens"] / judged,
        cached_input_tokens_per_verdict=s["cached_input_tokens"] / judged,
        output_tokens_per_verdict=s["output_tokens"] / judged,
        usd_per_1000={k: v / judged * 1000 for k, v in cost.items()},
        verdicts_per_s=res["judged"] / res["wall_s"],
    )
    return res


def verdict(results: list[dict[str, Any]], mean_tokens: float) -> dict[str, Any]:
    """The issue's target (judge's cheapest mode with per-principle scores and rationales
    against every peer), and the same question at each level of explanation: the cheapest judge
    mode that explains at least as much (a rationale per principle, one a verdict, none), against
    every peer; and what 1T candidate tokens cost in that mode."""
    out: dict[str, Any] = {}
    peers = [r for r in results if r["name"] not in JUDGE_MODES]
    for level in LEVELS:
        ok = LEVELS[: LEVELS.index(level) + 1]  # explains at least this much
        judges = [r for r in results if r["name"] in JUDGE_MODES and r["rationales"] in ok]
        if judges:
            out[level] = _cheapest(judges, peers, ok, mean_tokens)
    return out


def _cheapest(
    judges: list[dict[str, Any]],
    peers: list[dict[str, Any]],
    ok: tuple[str, ...],
    mean_tokens: float,
) -> dict[str, Any]:
    p = price()
    out: dict[str, Any] = {}
    for kind in ("realtime", "batch"):
        # Real time is not what a batch run pays; a real-time run's tokens priced at the batch
        # rate is what the same run as a batch job pays.
        pool = [r for r in judges if kind == "batch" or "--batch" not in r["name"]]
        best = min(pool, key=lambda r: r["usd_per_1000"][kind])
        cost = best["usd_per_1000"][kind] / 1000  # a verdict
        # 2 billion 500-token candidates: each candidate's tokens beyond the data's mean
        # length are billed as uncached input (at the batch discount in batch).
        rate = p["input"] / 1e6 * (BATCH_DISCOUNT if kind == "batch" else 1)
        per_500 = cost + (500 - mean_tokens) * rate
        out[kind] = {
            "cheapest_judge_mode": best["name"],
            "usd_per_1000": best["usd_per_1000"][kind],
            "beats_every_peer": all(
                best["usd_per_1000"][kind] < q["usd_per_1000"][kind] for q in peers
            )
            if peers
            else None,
            # the peers whose verdicts explain at least as much as this level asks
            "beats_every_peer_that_explains_as_much": all(
                best["usd_per_1000"][kind] < q["usd_per_1000"][kind]
                for q in peers
                if q["rationales"] in ok
            ),
            "ratio_to_peers": {
                q["name"]: best["usd_per_1000"][kind] / q["usd_per_1000"][kind] for q in peers
            },
            "usd_1T_tokens_as_2e9_candidates_of_500": 2e9 * per_500,
            f"usd_1T_tokens_of_candidates_like_these_{mean_tokens:.0f}_tokens": 1e12
            / mean_tokens
            * cost,
        }
    return out


def table(results: list[dict[str, Any]]) -> str:
    base = next((r for r in results if r["name"] == "judge"), results[0])
    lines = [
        "| tool | calls/verdict | in tok/verdict | cached in tok/verdict | out tok/verdict "
        "| per-principle scores | rationales | judged (of) | $/1k real time | $/1k batch "
        "| × judge (real time) | verdicts/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        usd = r["usd_per_1000"]
        ratio = usd["realtime"] / base["usd_per_1000"]["realtime"]
        lines.append(
            f"| {r['tool']} | {r['calls_per_verdict']:.3f} | {r['input_tokens_per_verdict']:.0f} "
            f"| {r['cached_input_tokens_per_verdict']:.0f} | {r['output_tokens_per_verdict']:.0f} "
            f"| {'yes' if r['per_principle_scores'] else 'no'} "
            f"| {r['rationales']} | {r['judged']} ({r['items']}) "
            f"| {usd['realtime']:.4f} | {usd['batch']:.4f} | {ratio:.2f} "
            f"| {r['verdicts_per_s']:.1f} |"
        )
    return "\n".join(lines)


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    # results files written by this or another benchmark do not make the code dirty
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="candidates (default 1000)")
    ap.add_argument("--data", default=str(DATA), help="PandaLM-shaped JSON Lines")
    ap.add_argument("--concurrency", type=int, default=16, help="same for every tool")
    ap.add_argument("--tools", default=",".join([*JUDGE_MODES, *PEERS]))
    ap.add_argument("--ttft", type=float, default=0.3, help="seconds to the first token")
    ap.add_argument("--per-token", type=float, default=0.01, help="seconds an output token")
    ap.add_argument(
        "--tokenizer", choices=("o200k", "words"), default="o200k",
        help="o200k (gpt-4o-mini's, installed on first run) or words (no install: tests)",
    )  # fmt: skip
    ap.add_argument("--no-install", action="store_true", help="fail instead of installing")
    ap.add_argument(
        "--sentences", choices=SENTENCES, default="equal",
        help="equal: every rationale the same 12-token sentence; judge-short: judge's ten-word "
        "rationales a 5-token one (favours judge)",
    )  # fmt: skip
    ap.add_argument("--out", help="default benchmarks/results/cost.json (cost-judge-short.json)")
    args = ap.parse_args()
    if args.out is None:
        name = "cost.json" if args.sentences == "equal" else f"cost-{args.sentences}.json"
        args.out = str(ROOT / "benchmarks" / "results" / name)
    data = Path(args.data)
    if not data.exists():
        print(f"skipped: {data} is not present (the benchmark reads ../shared/data)")
        return
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - {*JUDGE_MODES, *PEERS}
    if unknown:
        raise SystemExit(f"unknown tools {sorted(unknown)}; choose from {[*JUDGE_MODES, *PEERS]}")
    count = load_tokenizer(args.tokenizer, install=not args.no_install)
    rows = candidates(data, args.n)
    lengths = [count(r["response"]) for r in rows]
    mean_tokens = sum(lengths) / len(lengths)
    load_start = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results = []
    for tool in tools:
        print(f"{tool} ...", file=sys.stderr, flush=True)
        res = measure(tool, rows, args, count)
        print(f"{tool}: {json.dumps(res)}", file=sys.stderr, flush=True)
        results.append(res)
    meta = {
        "command": "python benchmarks/peers/cost.py " + " ".join(sys.argv[1:]),
        "commit": commit(),
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "machine": machine(),
        "settings": {
            "candidates": len(rows),
            "data": data.name,
            "constitution": str(CONSTITUTION.relative_to(ROOT)),
            "concurrency": args.concurrency,
            "ttft_s": args.ttft,
            "per_output_token_s": args.per_token,
            "tokenizer": args.tokenizer,
            "sentences": args.sentences,
            "prompt_cache": "prefixes of >= 1,024 tokens in 128-token steps (OpenAI's rule)",
            "group_size": GROUP_SIZE,
            "price_per_million": price(),
            "batch_discount": BATCH_DISCOUNT,
            "mean_candidate_tokens": mean_tokens,
            "empty_candidates": sum(1 for r in rows if not r["response"].strip()),
        },
    }
    summary = verdict(results, mean_tokens)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results, "target": summary}, indent=1))
    print(json.dumps(meta))
    print(table(results))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
