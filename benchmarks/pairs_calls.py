"""Model calls that `judge pairs --mode compare` needs per prompt: every pair vs adaptive.

A fake judge knows each response's hidden quality (tests/quality_judge.py) and answers every
comparison correctly, or at random with probability `noise`. Each prompt has N responses in a
random order; the pipeline (judge.preference.PairMaker with a Runner, as the CLI runs it) counts
the calls. Run from the repository root:

    python -m benchmarks.pairs_calls

Results: the table on stdout and benchmarks/results/pairs_calls.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import tempfile
from pathlib import Path

from scipy.stats import kendalltau

from judge.constitution import parse
from judge.engine.runner import Runner
from judge.io import FieldMap
from judge.tasks.pairs.groups import iter_groups
from judge.tasks.pairs.pipeline import PairMaker, PairsOptions
from judge.tasks.pairs.results import GroupResult
from judge.testing import FakeBackend
from tests.quality_judge import QualityJudge, quality

CONSTITUTION = "name: bench\n\n## helpful\nAnswers the question.\n"
PROMPTS = 30
OUT = Path(__file__).resolve().parent / "results" / "pairs_calls.json"


def measure(n: int, comparisons: str, noise: float, folder: Path) -> dict[str, float]:
    rng = random.Random(n)
    rows = []
    for p in range(PROMPTS):
        qualities = rng.sample(range(100), n)
        responses = [f"answer {i} q={q}" for i, q in enumerate(qualities)]
        rows.append({"prompt": f"P{p}", "responses": responses})
    path = folder / f"in-{n}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    backend = FakeBackend(answer=QualityJudge(noise=noise, seed=n))
    runner = Runner(backend)
    maker = PairMaker(parse(CONSTITUTION), PairsOptions(mode="compare", comparisons=comparisons))

    async def go() -> list[GroupResult]:
        # As the driver runs `judge pairs`: the maker's plan through the runner.
        groups = maker.plan(iter_groups(str(path), FieldMap()))
        return [r async for _, r in runner.run(groups, lambda g: maker.judge(runner, g))]

    results = asyncio.run(go())
    best = taus = 0.0
    for r in results:
        ranked = r.ranked
        top = max(ranked, key=lambda c: c.score)
        best += quality(top.text) == max(quality(c.text) for c in ranked)
        taus += kendalltau([c.score for c in ranked], [quality(c.text) for c in ranked]).statistic
    return {
        "calls": runner.stats.calls / PROMPTS,
        "best": best / PROMPTS,
        "tau": taus / PROMPTS,
    }


def main() -> None:
    print(f"calls per prompt ({PROMPTS} prompts each); best = share of prompts whose top-ranked")
    print("response is the true best; tau = Kendall tau of the ranking against the true order\n")
    print(
        "| N | noise | all: calls | all: best | all: tau "
        "| adaptive: calls | adaptive: best | adaptive: tau |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for noise in (0.0, 0.1, 0.2):
            for n in (4, 8, 16):
                a = measure(n, "all", noise, Path(tmp))
                s = measure(n, "adaptive", noise, Path(tmp))
                rows.append({"n": n, "noise": noise, "all": a, "adaptive": s})
                print(
                    f"| {n} | {noise:.1f} | {a['calls']:.1f} | {a['best']:.2f} | {a['tau']:.2f} "
                    f"| {s['calls']:.1f} | {s['best']:.2f} | {s['tau']:.2f} |"
                )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=OUT.parents[1]
    ).stdout.strip()
    result = {
        "command": "python -m benchmarks.pairs_calls",
        "commit": commit,
        "load_average": list(os.getloadavg()),
        "prompts": PROMPTS,
        "rows": rows,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
