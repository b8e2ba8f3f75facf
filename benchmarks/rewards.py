"""Reward throughput and latency per GRPO step (issue 24): judge.rewards.constitution_reward
against a plain asyncio loop of single OpenAI SDK calls, and group=True against one call per
completion, on one loopback server.

    python benchmarks/rewards.py           # 10 steps each: a few minutes
    python benchmarks/rewards.py --quick   # 2 steps of 8 prompts (CI smoke test)

Set-up: benchmarks/loopback_server.py in its own process answers each call after a fixed time to
first token (0.2 s) plus 10 ms per output token (100 tokens/s), with a valid instance of the
requested schema. A step is 64 prompts x G = 8 completions (512), new texts every step (no cache
hit), constitutions/helpful-honest-harmless.md (4 principles, full rationales), model named
openai/gpt-4o-mini (so dollars are priced; the server is loopback), 64 calls in flight.

- judge: `constitution_reward(...)` called as TRL calls it, once a step (its Session, cache
  off, retries, parsing, verdicts).
- sdk: the same requests (judge's own prompts and JSON schema, so the server answers the same
  number of tokens), sent with `AsyncOpenAI().chat.completions.create` under an asyncio
  semaphore of 64, each answer's scores read with json.loads: the least a hand-written reward
  does.
- judge group=True: one call a prompt (8 completions in it).

Measured: verdicts/s (completions rewarded / wall time of all steps), p50 and p99 step latency
(of 10 steps: p99 is the slowest), calls a step (counted at the server), and dollars a step at
gpt-4o-mini's list price (usage as the server reports it: about 4 bytes a prompt token).
Results: a table on stdout and benchmarks/results/rewards.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.throughput import loopback_server  # noqa: E402
from judge.constitution import load  # noqa: E402
from judge.engine.prices import PriceTable  # noqa: E402
from judge.judging.scoring import ScoreOptions, build_request  # noqa: E402
from judge.records import Candidate  # noqa: E402
from judge.rewards import constitution_reward  # noqa: E402

CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"
OUT = ROOT / "benchmarks" / "results" / "rewards.json"
MODEL = "openai/gpt-4o-mini"
TTFT, PER_TOKEN = 0.2, 0.01
G, CONCURRENCY = 8, 64


@contextmanager
def loopback() -> Iterator[str]:
    """The loopback server answering after TTFT plus PER_TOKEN a token; its /v1 base URL."""
    with loopback_server(TTFT, "--per-token", str(PER_TOKEN)) as server:
        yield f"{server}/v1"


def served(base: str) -> int:
    with urllib.request.urlopen(base.removesuffix("/v1") + "/stats", timeout=10) as answer:
        return int(json.load(answer)["served"])


def step_batch(run: str, step: int, prompts: int) -> tuple[list[str], list[str]]:
    """A GRPO step's prompts (each repeated G times, as TRL passes them) and completions."""
    ps, cs = [], []
    for p in range(prompts):
        prompt = f"[{run} {step}] Question {p}: explain how a bicycle stays upright."
        for g in range(G):
            words = 40 + 17 * g
            ps.append(prompt)
            cs.append(
                f"Answer {g} to {p}: " + " ".join(f"w{(p * g + k) % 97}" for k in range(words))
            )
    return ps, cs


def summary(
    name: str, times: list[float], n: int, calls: int, usage: tuple[float, int], steps: int
) -> dict[str, Any]:
    """One reward's row. `usage`: dollars and output tokens over all steps. The server's floor is
    the step's calls in waves of CONCURRENCY, each wave as long as one answer (every answer to
    the same schema has the same length at this server)."""
    ordered = sorted(times)
    dollars, output_tokens = usage
    tokens_per_call = output_tokens / calls if calls else 0.0
    waves = math.ceil(calls / steps / CONCURRENCY)
    return {
        "name": name,
        "steps": steps,
        "completions_per_step": n,
        "verdicts_per_s": round(n * steps / sum(times), 1),
        "step_p50_s": round(statistics.median(ordered), 3),
        "step_p99_s": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "calls_per_step": calls / steps,
        "dollars_per_step": round(dollars / steps, 6),
        "output_tokens_per_call": round(tokens_per_call, 1),
        "server_floor_s": round(waves * (TTFT + PER_TOKEN * tokens_per_call), 3),
    }


def run_judge(base: str, steps: int, prompts: int, group: bool) -> dict[str, Any]:
    reward = constitution_reward(
        CONSTITUTION, model=MODEL, base_url=base, group=group, use_cache=False,
        concurrency=CONCURRENCY, group_size=G,
    )  # fmt: skip
    times: list[float] = []
    before = served(base)
    unjudged = 0
    with reward:
        for step in range(steps):
            ps, cs = step_batch(f"judge-{group}", step, prompts)
            start = time.perf_counter()
            got = reward(prompts=ps, completions=cs)
            times.append(time.perf_counter() - start)
            unjudged += sum(r is None for r in got)
        spent = reward.core.spent()
    name = "judge group=True" if group else "judge"
    usage = (spent.cost_usd or 0.0, spent.output_tokens)
    out = summary(name, times, len(cs), served(base) - before, usage, steps)
    out["unjudged"] = unjudged
    return out


def run_sdk(base: str, steps: int, prompts: int) -> dict[str, Any]:
    from openai import AsyncOpenAI

    constitution = load(CONSTITUTION)
    options = ScoreOptions()
    price = PriceTable().lookup(MODEL)
    assert price is not None
    times: list[float] = []
    before = served(base)
    dollars = 0.0
    output_tokens = 0
    unjudged = 0

    async def steps_loop() -> None:
        nonlocal dollars, output_tokens, unjudged
        client = AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=2)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(prompt: str, completion: str) -> float | None:
            nonlocal dollars, output_tokens
            cand = Candidate(index=0, row_index=0, prompt=prompt, response=completion)
            request, _ = build_request(constitution, constitution.principles, cand, options)
            async with gate:
                answer = await client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": m.role, "content": m.content} for m in request.messages],  # type: ignore[misc]
                    response_format={
                        "type": "json_schema",
                        "json_schema": {
                            "name": "verdict",
                            "schema": request.schema or {},
                            "strict": True,
                        },
                    },
                    max_tokens=request.max_tokens,
                    temperature=0.0,
                    logprobs=True,
                    top_logprobs=5,
                )
            if answer.usage is not None:
                output_tokens += answer.usage.completion_tokens
                dollars += price.cost(
                    answer.usage.prompt_tokens, answer.usage.completion_tokens, 0, 0
                )
            try:
                data = json.loads(answer.choices[0].message.content or "")
                scores = {
                    p.id: p.scale.normalize(data[p.id]["score"]) for p in constitution.principles
                }
            except (ValueError, KeyError, TypeError):
                return None
            return constitution.overall(scores)

        for step in range(steps):
            ps, cs = step_batch("sdk", step, prompts)
            start = time.perf_counter()
            got = await asyncio.gather(*(one(p, c) for p, c in zip(ps, cs, strict=True)))
            times.append(time.perf_counter() - start)
            unjudged += sum(r is None for r in got)
        await client.close()

    asyncio.run(steps_loop())
    n = prompts * G
    out = summary(
        "plain OpenAI SDK loop", times, n, served(base) - before, (dollars, output_tokens), steps
    )
    out["unjudged"] = unjudged
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2 steps of 8 prompts")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    steps, prompts = (2, 8) if args.quick else (10, 64)
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    load_start = os.getloadavg()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    with loopback() as base:
        rows = [
            run_sdk(base, steps, prompts),
            run_judge(base, steps, prompts, group=False),
            run_judge(base, steps, prompts, group=True),
        ]
    result = {
        "command": "python benchmarks/rewards.py" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "setup": {
            "server": "benchmarks/loopback_server.py",
            "time_to_first_token_s": TTFT,
            "per_output_token_s": PER_TOKEN,
            "prompts_per_step": prompts,
            "completions_per_prompt": G,
            "concurrency": CONCURRENCY,
            "constitution": "constitutions/helpful-honest-harmless.md",
            "model_priced_as": MODEL,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "commit": commit,
            "load_average_at_start": [round(x, 2) for x in load_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "results": rows,
    }
    header = (
        f"{'':24} {'verdicts/s':>10} {'p50 s':>7} {'p99 s':>7} {'calls/step':>10} {'$/step':>9}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['name']:24} {r['verdicts_per_s']:>10} {r['step_p50_s']:>7} {r['step_p99_s']:>7} "
            f"{r['calls_per_step']:>10} {r['dollars_per_step']:>9}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
