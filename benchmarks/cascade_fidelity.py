"""Does the cascade keep its promise? A simulation, and the mechanics on real human labels.

Simulation (benchmarks/cascade_sim.py): judges with known accuracy and informative confidence
answer behind a loopback OpenAI-compatible server. For each of SEEDS seeds: synthetic human labels
for CAL + HELD pairs; `judge calibrate CAL -m openai/weak --escalate-to openai/strong
--target-agreement 0.8 --delta 0.1 --mode compare` fits the cascade, and `judge calibrate HELD
--cascade cascade.json` measures the held-out agreement on decided items, the coverage and the
calls per judge. Counted: the share of seeds whose held-out agreement reaches the target (the
promise: at least 1 - delta of them), with a Clopper-Pearson interval; the true agreement and
coverage of each certified cascade over all items (benchmarks/cascade_truth.py: the simulation
knows its judges' accuracies), checked item by item against what judge decided on the held-out
pairs; coverage; cost against always asking the strongest judge, per item and per decided item.
The baselines on the held-out items (the strongest judge alone; one weak judge; a panel of three
weak judges by majority) are computed from the simulated judges' verdicts in this script.

Real labels: `judge calibrate` on XSTest (absolute human labels, /work/shared/data) with the
embedded model (-m local) first and a simulated strong judge (right 60-95% of the time, knowing the
human labels) after it, in score mode with --rationale none.

    python benchmarks/cascade_fidelity.py [--seeds 50] [--real 60]
writes benchmarks/results/cascade_fidelity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from benchmarks.cascade_sim import SimJudge, Simulation  # noqa: E402
from benchmarks.cascade_truth import predict, truth  # noqa: E402
from judge.cli import main  # noqa: E402
from judge.cli.calibrate_cmd import calibrate  # noqa: E402
from tests.fakes import FakeOpenAIServer  # noqa: E402

main.add_command(calibrate)

CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"
TARGET, DELTA = 0.8, 0.1
CAL, HELD = 200, 150
WEAK = SimJudge(0.4, 1.0, flip=0.3)  # 70% right on average; position-biased when unsure
STRONG = SimJudge(0.55, 0.99)  # 77% right on average: below the target alone
PRICES = {  # USD per 1M tokens, a cheap and a frontier price
    "openai/weak": {"input": 0.15, "output": 0.6},
    "openai/strong": {"input": 2.5, "output": 10.0},
}
DATA = Path("/work/shared/data")


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def majority(sim: Simulation, models: list[str], tag: str) -> str:
    votes = []
    for m in models:
        right, _, _ = sim.belief(m, tag)
        human = sim.labels[tag]
        votes.append(human if right else ("b" if human == "a" else "a"))
    return max(set(votes), key=votes.count)


def one_seed(seed: int, folder: Path) -> dict[str, Any]:
    weak_panel = ["weak", "weak2", "weak3"]
    sim = Simulation(
        {"weak": WEAK, "strong": STRONG, "weak2": WEAK, "weak3": WEAK}, salt=f"seed{seed}"
    )
    rng = random.Random(seed)
    cal, held = folder / "cal.jsonl", folder / "held.jsonl"
    _write(cal, sim.pair_rows(CAL, f"s{seed}c", rng))
    held_rows = sim.pair_rows(HELD, f"s{seed}h", rng)
    _write(held, held_rows)
    prices = folder / "prices.json"
    prices.write_text(json.dumps(PRICES))
    with FakeOpenAIServer(handler=sim.handler) as server:
        common = ["-c", str(CONSTITUTION), "--base-url", server.base_url, "--mode", "compare"]
        common += ["--cache", str(folder / "cache.sqlite"), "--prices", str(prices), "-q"]
        fit_dir, held_dir = folder / "fit", folder / "held"
        code, _ = _run(
            ["calibrate", str(cal), *common, "-m", "openai/weak", "--escalate-to",
             "openai/strong", "--target-agreement", str(TARGET), "--delta", str(DELTA),
             "-o", str(fit_dir)]
        )  # fmt: skip
        fit = json.loads((fit_dir / "report.json").read_text())
        row: dict[str, Any] = {"seed": seed, "fit_exit": code, "fit_coverage": fit["coverage"]}
        row["thresholds"] = [s["threshold"] for s in fit["stages"]]
        stages = [(s["judge"].removeprefix("openai/"), s["threshold"]) for s in fit["stages"]]
        strong_alone = next(a for a in fit["judges_alone"] if a["judge"] == "openai/strong")
        row["strong_cost_per_item"] = strong_alone["cost_per_item"]
        if code != 0:
            return row
        before = dict(sim.requests)
        code, _ = _run(
            ["calibrate", str(held), *common, "--cascade", str(fit_dir / "cascade.json"),
             "-o", str(held_dir)]
        )  # fmt: skip
        rep = json.loads((held_dir / "report.json").read_text())
        agreement = rep["agreement"]["value"] if rep["agreement"] else None
        tags = [r["prompt"].removeprefix("Question ").rstrip("?") for r in held_rows]
        truth_of = {t: sim.labels[t] for t in tags}
        true = truth([(sim.judges[m], t) for m, t in stages])
        judged = [json.loads(line) for line in (held_dir / "judgments.jsonl").open()]
        as_predicted = sum(
            predict(sim, stages, tag) == (j.get("decided_by", "").removeprefix("openai/") or None,
                                          j["agree"] if j.get("decided_by") else None)
            for tag, j in zip(tags, judged, strict=True)
        )  # fmt: skip
        row.update(
            true_agreement=true["agreement"],
            true_coverage=true["coverage"],
            held_items_as_predicted=as_predicted,
            held_exit=code,
            held_agreement=agreement,
            held_coverage=rep["coverage"],
            calls_by_judge=rep["calls_by_judge"],
            decided_by_judge=rep["decided_by_judge"],
            server_requests={m: sim.requests[m] - before.get(m, 0) for m in sim.requests},
            cascade_cost_per_item=rep["usage"]["cost_usd"] / HELD,
            strong_alone_agreement=sum(majority(sim, ["strong"], t) == truth_of[t] for t in tags)
            / HELD,
            weak_alone_agreement=sum(majority(sim, ["weak"], t) == truth_of[t] for t in tags)
            / HELD,
            weak_panel_agreement=sum(majority(sim, weak_panel, t) == truth_of[t] for t in tags)
            / HELD,
        )
    return row


def simulation(seeds: int, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Every seed in turn; `save` gets the summary so far after each (a long run cut short
    still leaves its results)."""
    rows: list[dict[str, Any]] = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one_seed(seed, Path(tmp)))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        save({"seeds_planned": seeds, **summarize(rows)})
    return {"seeds_planned": seeds, **summarize(rows)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fitted = [r for r in rows if r.get("held_agreement") is not None]
    met = [r for r in fitted if r["held_agreement"] >= TARGET]

    def mean(key: str) -> float | None:
        values = [r[key] for r in fitted if r.get(key) is not None]
        return statistics.fmean(values) if values else None

    strong_cost = mean("strong_cost_per_item")
    cascade_cost = mean("cascade_cost_per_item")
    coverage = mean("held_coverage")
    # dollars over all held-out items / items decided, pooled over the seeds (HELD each)
    per_decided = cascade_cost / coverage if cascade_cost and coverage else None
    true_met = [r for r in fitted if (r.get("true_agreement") or 0.0) >= TARGET]
    return {
        "seeds": len(rows),
        "calibration_items": CAL,
        "held_out_items": HELD,
        "target_agreement": TARGET,
        "delta": DELTA,
        "judges": {
            "openai/weak": {
                "p_right_at_confidence_0": WEAK.low,
                "at_1": WEAK.high,
                "position_bias_at_0": WEAK.flip,
                "mean_accuracy": WEAK.accuracy,
            },
            "openai/strong": {
                "p_right_at_confidence_0": STRONG.low,
                "at_1": STRONG.high,
                "mean_accuracy": STRONG.accuracy,
            },
        },
        "prices": PRICES,
        "seeds_with_a_cascade": len(fitted),
        "seeds_meeting_target_held_out": len(met),
        "share_meeting_target": len(met) / len(fitted) if fitted else None,
        "share_meeting_target_ci95": clopper_pearson(len(met), len(fitted)),
        "promise": f"at least {1 - DELTA:g} of seeds",
        "seeds_meeting_target_true": len(true_met),
        "share_meeting_target_true": len(true_met) / len(fitted) if fitted else None,
        "share_meeting_target_true_ci95": clopper_pearson(len(true_met), len(fitted)),
        "true_agreement_mean": mean("true_agreement"),
        "true_agreement_min": min((r["true_agreement"] for r in fitted), default=None),
        "true_coverage_mean": mean("true_coverage"),
        "held_items_as_predicted": sum(r["held_items_as_predicted"] for r in fitted),
        "held_items_of_fitted_seeds": HELD * len(fitted),
        "held_agreement_mean": mean("held_agreement"),
        "held_agreement_min": min((r["held_agreement"] for r in fitted), default=None),
        "held_coverage_mean": coverage,
        "cascade_cost_per_item_mean": cascade_cost,
        "strong_alone_cost_per_item_mean": strong_cost,
        "cost_ratio_cascade_to_strong": cascade_cost / strong_cost
        if cascade_cost and strong_cost
        else None,
        "cascade_cost_per_decided_item": per_decided,
        "cost_per_decided_item_ratio_to_strong": per_decided / strong_cost
        if per_decided and strong_cost
        else None,
        "strong_alone_agreement_mean": mean("strong_alone_agreement"),
        "weak_alone_agreement_mean": mean("weak_alone_agreement"),
        "weak_panel_of_3_agreement_mean": mean("weak_panel_agreement"),
        "per_seed": rows,
    }


def clopper_pearson(k: int, n: int) -> list[float] | None:
    """The exact 95% interval of a share k of n."""
    if not n:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return [float(ci.low), float(ci.high)]


def real_labels(n: int, folder: Path) -> dict[str, Any]:
    """XSTest's human labels, the embedded model first, a simulated strong judge after it."""
    source = DATA / "xstest.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    rows = random.Random(0).sample(rows, n)
    sim = Simulation({"strong": SimJudge(0.6, 0.95)}, salt="real")
    for r in rows:
        sim.know(r["response"], bool(r["human_score"]))
    labels = folder / "xstest.jsonl"
    _write(labels, [{"prompt": r["prompt"], "response": r["response"],
                     "label": r["human_score"]} for r in rows])  # fmt: skip
    runs = []
    prices = folder / "prices.json"
    prices.write_text(json.dumps(PRICES))
    with FakeOpenAIServer(handler=sim.handler) as server:
        # The same labels at two targets: the second run's verdicts all come from the cache.
        for target in (TARGET, 0.6):
            started = time.monotonic()
            out = folder / f"fit-{target}"
            args = [sys.executable, "-m", "judge", "calibrate", str(labels), "-c",
                    str(CONSTITUTION), "-m", "local/smollm2", "--escalate-to", "openai/strong",
                    "--base-url", server.base_url, "--target-agreement", str(target),
                    "--delta", str(DELTA), "--rationale", "none", "--prices", str(prices),
                    "--cache", str(folder / "cache.sqlite"), "-q", "-o", str(out)]  # fmt: skip
            env = dict(os.environ, OPENAI_API_KEY="sk-simulated")
            done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
            report = json.loads((out / "report.json").read_text())
            judged = [json.loads(line) for line in (out / "judgments.jsonl").open()]
            runs.append(
                {
                    "target_agreement": target,
                    "command": " ".join(args[1:]),
                    "exit_code": done.returncode,
                    "stderr": done.stderr.strip().splitlines(),
                    "seconds": round(time.monotonic() - started, 1),
                    "verdicts_with_a_confidence": {
                        j["name"]: sum(
                            r["model"] == j["name"] and r["confidence"] is not None for r in judged
                        )
                        for j in report["judges"]
                    },
                    "stages": report["stages"],
                    "judges_alone": report["judges_alone"],
                    "coverage": report["coverage"],
                    "expected_agreement": report["expected_agreement"],
                    "met": report["met"],
                }
            )
    return {
        "what": "judge calibrate --escalate-to on XSTest human labels (absolute, binary), "
        "-m local/smollm2 first, a simulated strong judge (right 60-95%, knowing the human "
        "labels) after it, at two target agreements",
        "items": n,
        "runs": runs,
    }


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--real", type=int, default=60, help="XSTest items (0: skip)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/cascade_fidelity.json"))
    parser.add_argument(
        "--merge", action="store_true", help="keep the parts of --out this run does not redo"
    )
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    out = Path(args.out)
    result: dict[str, Any] = json.loads(out.read_text()) if args.merge and out.exists() else {}
    if args.seeds:
        started = time.monotonic()
        part: dict[str, Any] = {"commit": commit, "loadavg_start": list(os.getloadavg())}

        def save(summary: dict[str, Any]) -> None:
            part.update(summary)
            part["seconds"] = round(time.monotonic() - started, 1)
            part["loadavg_end"] = list(os.getloadavg())
            result["simulation"] = part
            out.write_text(json.dumps(result, indent=2) + "\n")

        simulation(args.seeds, save)
    if args.real and (DATA / "xstest.jsonl").exists():
        with tempfile.TemporaryDirectory() as tmp:
            part = {"commit": commit, "loadavg_start": list(os.getloadavg())}
            part.update(real_labels(args.real, Path(tmp)))
            part["loadavg_end"] = list(os.getloadavg())
            result["real_labels"] = part
    out.write_text(json.dumps(result, indent=2) + "\n")
    if not args.seeds:
        return
    sim = result["simulation"]
    print(
        f"{sim['seeds_meeting_target_held_out']}/{sim['seeds_with_a_cascade']} seeds reach "
        f"{TARGET} held out (95% CI {sim['share_meeting_target_ci95']}), "
        f"{sim['seeds_meeting_target_true']} truly; coverage {sim['held_coverage_mean']}; cost "
        f"ratio {sim['cost_ratio_cascade_to_strong']} per item, "
        f"{sim['cost_per_decided_item_ratio_to_strong']} per decided item; "
        f"{sim['held_items_as_predicted']}/{sim['held_items_of_fitted_seeds']} held-out items "
        "decided as benchmarks/cascade_truth.py predicts"
    )


if __name__ == "__main__":
    main_()
