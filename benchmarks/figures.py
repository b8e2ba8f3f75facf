"""Every benchmark figure the documentation quotes: where in which results file it is, and how it
is written. benchmarks/publish.py puts them into the text between <!--f:KEY--> and <!--/f-->.

A figure is a function of the results files (loaded once); a KEY is `benchmark.what`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

RESULTS = {  # short name -> the results file (each written by one command, named inside it)
    "peers": "benchmarks/peers/results.json",
    "drills": "benchmarks/drills/results.json",
    "throughput": "benchmarks/results/throughput.json",
    "ab": "benchmarks/results/throughput-ab.json",
    "cost": "benchmarks/results/cost.json",
    "cost_short": "benchmarks/results/cost-judge-short.json",
    "cascade": "benchmarks/results/cascade_fidelity.json",
    "classifier": "benchmarks/results/classifier_throughput.json",
    "ray": "benchmarks/results/ray_throughput.json",
    "sheet": "benchmarks/results/cost_sheet.json",
    "pairs": "benchmarks/results/pairs_calls.json",
    "embedded": "benchmarks/results/embedded_agreement.json",
    "unjudged": "benchmarks/results/embedded_unjudged.json",
    "distill": "benchmarks/results/distill_xstest.json",
    "conversations": "benchmarks/results/conversations.json",
    "rewards": "benchmarks/results/rewards.json",
}


# where each results file records the commit it ran at (throughput-ab compares two on purpose)
COMMITS = {
    "peers": ("meta", "commit"),
    "drills": ("meta", "commit"),
    "throughput": ("machine", "commit"),
    "cost": ("meta", "commit"),
    "cost_short": ("meta", "commit"),
    "cascade": ("simulation", "commit"),
    "classifier": ("commit",),
    "ray": ("commit",),
    "sheet": ("commit",),
    "pairs": ("commit",),
    "embedded": ("commit",),
    "unjudged": ("commit",),
    "distill": ("commit",),
    "conversations": ("commit",),
    "rewards": ("machine", "commit"),
}


def commit_of(name: str) -> str:
    """The commit a results file ran at (short), or "" when it records none."""
    value: Any = results(name)
    for key in COMMITS[name]:
        value = value.get(key) if isinstance(value, dict) else None
    return re.sub(r"^([0-9a-f]{7})[0-9a-f]+", r"\1", str(value or ""))  # short, "+dirty" kept


@cache
def results(name: str) -> Any:
    return json.loads((ROOT / RESULTS[name]).read_text(encoding="utf-8"))


def unjudged(job: str, rationale: str = "short") -> int:
    runs = results("unjudged")["runs"]
    return int(next(r for r in runs if (r["job"], r["rationale"]) == (job, rationale))["unjudged"])


def clear() -> None:
    results.cache_clear()


# --- how a value is written -------------------------------------------------------------------


def fixed(digits: int, thousands: bool = False) -> Callable[[float], str]:
    """A number with `digits` decimals (and `,` between thousands)."""
    spec = f"{',' if thousands else ''}.{digits}f"
    return lambda x: format(x, spec)


f0, f1 = fixed(0, thousands=True), fixed(1, thousands=True)
f2, f3, f4 = fixed(2), fixed(3), fixed(4)


def pct(x: float) -> str:
    return f"{100 * x:.0f}"


def load(values: list[float]) -> str:
    return f"{values[0]:.1f}"


def usd(x: float) -> str:
    return f"${x:,.0f}"


def money(x: float) -> str:
    """Dollars, in millions from a million up."""
    return f"${x / 1e6:,.2f}M" if x >= 1e6 else usd(x)


# --- where the values are ---------------------------------------------------------------------


def peer(mode: str, tool: str) -> dict[str, Any]:
    return next(r for r in results("peers")["results"][mode] if r["tool"] == tool)


JUDGE, PROM, ALPACA = "judge score", "distilabel prometheus", "alpaca-eval"
ALPACA_TOOL = "alpaca-eval weighted_alpaca_eval_gpt-4o-mini"


def peers_speed(tool: str) -> float:
    return peer("free", JUDGE)["verdicts_per_s"] / peer("free", tool)["verdicts_per_s"]


def cost_row(name: str, which: str = "cost") -> dict[str, Any]:
    return next(r for r in results(which)["results"] if r["name"] == name)


def system(model: str) -> dict[str, Any]:
    """One system of the cost sheet (benchmarks/cost_sheet.py: the seed's and cheap judges)."""
    return dict(results("sheet")["systems"][model])


def judged(model: str, level: str, kind: str) -> float:
    return float(system(model)["plans"]["llm_everything"][level][kind]["llm_usd_1e12_tokens"])


def sampled(kind: str) -> list[float]:
    """The LLM dollars of the sample + distil plan of every system that has them."""
    plans = [e["plans"] for e in results("sheet")["systems"].values() if e["plans"]]
    values = [p["sample_distil_classify"][f"llm_usd_{kind}"] for p in plans]
    return [float(v) for v in values if v is not None]


# The systems the README names (benchmarks/cost_sheet.py's SEED_SYSTEMS and one cheap judge).
SYSTEMS = {
    "turbo": "openai/gpt-4-turbo",
    "opus": "anthropic/claude-3-opus",
    "gemini15": "gemini/gemini-1.5-pro",
    "llama3": "groq/llama3-70b-8192",
    "nano": "openai/gpt-5-nano",
}

CHEAPEST = "judge --group --mix-prompts --group-size 32 --rationale short"
BRIEF = "judge --group --mix-prompts --group-size 32 --rationale brief"
NONE = "judge --group --mix-prompts --group-size 32 --rationale none"


def target(level: str, kind: str, which: str = "cost") -> dict[str, Any]:
    return dict(results(which)["target"][level][kind])


def times_peer(level: str, tool: str, which: str = "cost") -> float:
    """judge's realtime dollars at `level` as a multiple of the peer `tool`'s."""
    return float(target(level, "realtime", which)["ratio_to_peers"][tool])


def sim() -> dict[str, Any]:
    return dict(results("cascade")["simulation"])


def real_run(target: float) -> dict[str, Any]:
    runs = results("cascade")["real_labels"]["runs"]
    return dict(next(r for r in runs if r["target_agreement"] == target))


def real_stage(target: float) -> dict[str, Any]:
    """The trusted stage of the real-label cascade fitted at `target`."""
    return dict(next(s for s in real_run(target)["stages"] if s["threshold"] is not None))


def throughput(concurrency: int, options: str = "") -> dict[str, Any]:
    rows = results("throughput")["throughput"]
    return next(r for r in rows if r["concurrency"] == concurrency and r["options"] == options)


def drills() -> dict[str, Any]:
    return dict(results("drills"))


def trials() -> list[dict[str, Any]]:
    return list(drills()["kill9"]["trials"])


def kill_ok() -> int:
    return sum(
        t["items_lost"] == 0 and t["items_duplicated"] == 0 and t["in_order"] for t in trials()
    )


def injections_inside() -> int:
    return sum(
        a["tags_intact"] and a["attack_inside_data"] and not a["leaked_into_system"]
        for a in drills()["injection"]
    )


def judge_lost() -> int:
    """Items judge lost or could not parse, in every mode of the peers run."""
    runs = results("peers")["results"]
    return sum(
        r["lost"] + r["unparsed"] for m in runs for r in runs[m] if r["tool"].startswith(JUDGE)
    )


def machine() -> dict[str, Any]:
    return dict(results("throughput")["machine"])


def memory(key: str, pick: Callable[[list[float]], float]) -> float:
    return pick([m[key] for m in drills()["memory"]])


def pairs(n: int, comparisons: str) -> float:
    row = next(r for r in results("pairs")["rows"] if r["n"] == n and r["noise"] == 0.0)
    return float(row[comparisons]["calls"])


def distilled(seed: int, key: str, part: str = "metrics") -> Any:
    return next(r for r in results("distill")["runs"] if r["seed"] == seed)[part][key]


Figure = Callable[[], str]

FIGURES: dict[str, Figure] = {
    # benchmarks/peers/run.py: speed beside the peers
    "peers.date": lambda: results("peers")["meta"]["date"].split()[0],
    "peers.load": lambda: load(results("peers")["meta"]["load_average_start"]),
    "peers.judge": lambda: f1(peer("free", JUDGE)["verdicts_per_s"]),
    "peers.x_prometheus": lambda: f1(peers_speed(PROM)),
    "peers.x_alpaca": lambda: f1(peers_speed(ALPACA_TOOL)),
    "peers.ultrafeedback_x": lambda: f2(1 / peers_speed("distilabel ultrafeedback")),
    "peers.rpm_judge": lambda: f1(peer("rpm600", JUDGE)["verdicts_per_s"]),
    "peers.rpm_alpaca": lambda: f1(peer("rpm600", ALPACA_TOOL)["verdicts_per_s"]),
    "peers.rpm_requests": lambda: f2(peer("rpm600", JUDGE)["requests_per_item"]),
    "peers.rpm_requests_told": lambda: f3(
        peer("rpm600", "judge score --rpm 600")["requests_per_item"]
    ),
    "peers.rpm_alpaca_requests": lambda: f2(peer("rpm600", ALPACA_TOOL)["requests_per_item"]),
    "peers.judge_lost": lambda: f0(judge_lost()),
    "peers.rpm_prometheus_judged": lambda: f0(peer("rpm600", PROM)["judged"]),
    # benchmarks/drills/run.py
    "drills.commit": lambda: drills()["meta"]["commit"],
    "drills.load": lambda: load(drills()["meta"]["loadavg"]),
    "drills.kill_ok": lambda: f0(kill_ok()),
    "drills.kills": lambda: f0(len(drills()["kill9"]["trials"])),
    "drills.kill_repeated": lambda: f0(max(t["calls_repeated"] for t in trials())),
    "drills.kill_stray": lambda: f0(sum(t["stray_temp_files"] for t in trials())),
    "drills.faults_judged": lambda: f0(min(f["judged"] for f in drills()["faults"])),
    "drills.faults_items": lambda: f0(max(f["items"] for f in drills()["faults"])),
    "drills.rpm_requests": lambda: f2(
        drills()["rate_limit"]["requests"] / drills()["rate_limit"]["items"]
    ),
    "drills.rpm_wall": lambda: f1(drills()["rate_limit"]["wall_s"]),
    "drills.shared_calls": lambda: f0(drills()["shared_cache"]["calls_both"]),
    "drills.shared_items": lambda: f0(drills()["shared_cache"]["n"]),
    "drills.bad_inputs": lambda: f0(len(drills()["bad_inputs"])),
    "drills.bad_tracebacks": lambda: f0(sum(c["traceback"] for c in drills()["bad_inputs"])),
    "drills.bad_as_contract": lambda: f0(sum(c["ok"] for c in drills()["bad_inputs"])),
    "drills.injections": lambda: f0(len(drills()["injection"])),
    "drills.injections_inside": lambda: f0(injections_inside()),
    "drills.memory_min": lambda: f1(memory("peak_rss_mb", min)),
    "drills.memory_max": lambda: f1(memory("peak_rss_mb", max)),
    # benchmarks/throughput.py
    "throughput.commit": lambda: results("throughput")["machine"]["commit"],
    "throughput.load_start": lambda: load(machine()["load_average_at_start"]),
    "throughput.load_end": lambda: load(machine()["load_average_at_end"]),
    "throughput.ratio_1": lambda: f2(throughput(1)["ratio"]),
    "throughput.ratio_8": lambda: f2(throughput(8)["ratio"]),
    "throughput.ratio_64": lambda: f2(throughput(64)["ratio"]),
    "throughput.startup_1": lambda: f2(throughput(1)["ratio_with_startup"]),
    "throughput.startup_8": lambda: f2(throughput(8)["ratio_with_startup"]),
    "throughput.startup_64": lambda: f2(throughput(64)["ratio_with_startup"]),
    "throughput.rate_64": lambda: f1(throughput(64)["verdicts_per_s"]),
    "throughput.cpu_64": lambda: f2(throughput(64)["cpu_ms_per_verdict"]),
    "throughput.cached_s": lambda: f1(results("throughput")["cached_rerun"]["wall_s"]),
    "throughput.cached_calls": lambda: f0(results("throughput")["cached_rerun"]["model_calls"]),
    "throughput.rss_small": lambda: f0(results("throughput")["memory"][0]["peak_rss_mb"]),
    "throughput.rss_large": lambda: f0(results("throughput")["memory"][-1]["peak_rss_mb"]),
    # benchmarks/peers/cost.py (every tool's rationales the same sentence) and --sentences
    # judge-short (judge's ten-word rationales a 5-token sentence)
    "cost.commit": lambda: results("cost")["meta"]["commit"],
    "cost.load": lambda: load(results("cost")["meta"]["load_average_start"]),
    "cost.cheapest_rt": lambda: f4(target("per principle", "realtime")["usd_per_1000"]),
    "cost.cheapest_batch": lambda: f4(target("per principle", "batch")["usd_per_1000"]),
    "cost.x_uf4": lambda: f2(times_peer("per principle", "distilabel-ultrafeedback-4-aspects")),
    "cost.x_prometheus": lambda: f2(times_peer("per principle", "distilabel-prometheus")),
    "cost.x_alpaca": lambda: f2(times_peer("per principle", "alpaca-eval")),
    "cost.brief_rt": lambda: f4(target("one a verdict", "realtime")["usd_per_1000"]),
    "cost.brief_batch": lambda: f4(target("one a verdict", "batch")["usd_per_1000"]),
    "cost.brief_x_prometheus": lambda: f2(times_peer("one a verdict", "distilabel-prometheus")),
    "cost.none_rt": lambda: f4(target("none", "realtime")["usd_per_1000"]),
    "cost.none_batch": lambda: f4(target("none", "batch")["usd_per_1000"]),
    "cost.none_x_alpaca": lambda: f2(times_peer("none", "alpaca-eval")),
    "cost.short_load": lambda: load(results("cost_short")["meta"]["load_average_start"]),
    "cost.short_commit": lambda: results("cost_short")["meta"]["commit"],
    "cost.short_cheapest_rt": lambda: f4(
        target("per principle", "realtime", "cost_short")["usd_per_1000"]
    ),
    "cost.short_x_prometheus": lambda: f2(
        times_peer("per principle", "distilabel-prometheus", "cost_short")
    ),
    "cost.short_x_alpaca": lambda: f2(times_peer("per principle", "alpaca-eval", "cost_short")),
    # benchmarks/cascade_fidelity.py (simulation)
    "cascade.commit": lambda: sim()["commit"],
    "cascade.real_exit_08": lambda: str(real_run(0.8)["exit_code"]),
    "cascade.real_exit_06": lambda: str(real_run(0.6)["exit_code"]),
    "cascade.real_threshold_06": lambda: f2(real_stage(0.6)["threshold"]),
    "cascade.real_coverage_06": lambda: pct(real_run(0.6)["coverage"]),
    "cascade.real_agreed_06": lambda: f0(real_stage(0.6)["agreed"]),
    "cascade.real_n_06": lambda: f0(real_stage(0.6)["n"]),
    "cascade.real_items": lambda: f0(results("cascade")["real_labels"]["items"]),
    "cascade.real_commit": lambda: results("cascade")["real_labels"]["commit"],
    "cascade.seeds": lambda: f0(sim()["seeds"]),
    "cascade.certified": lambda: f0(sim()["seeds_with_a_cascade"]),
    "cascade.met": lambda: f0(sim()["seeds_meeting_target_held_out"]),
    "cascade.met_pct": lambda: pct(sim()["share_meeting_target"]),
    "cascade.met_low": lambda: pct(sim()["share_meeting_target_ci95"][0]),
    "cascade.met_high": lambda: pct(sim()["share_meeting_target_ci95"][1]),
    "cascade.true_met": lambda: f0(sim()["seeds_meeting_target_true"]),
    "cascade.true_low": lambda: pct(sim()["share_meeting_target_true_ci95"][0]),
    "cascade.true_high": lambda: pct(sim()["share_meeting_target_true_ci95"][1]),
    "cascade.held_mean": lambda: f3(sim()["held_agreement_mean"]),
    "cascade.true_mean": lambda: f3(sim()["true_agreement_mean"]),
    "cascade.true_min": lambda: f3(sim()["true_agreement_min"]),
    "cascade.coverage": lambda: pct(sim()["held_coverage_mean"]),
    "cascade.cost_x": lambda: f2(sim()["cost_ratio_cascade_to_strong"]),
    "cascade.decided_cost_x": lambda: f2(sim()["cost_per_decided_item_ratio_to_strong"]),
    "cascade.strong": lambda: f3(sim()["strong_alone_agreement_mean"]),
    "cascade.as_predicted": lambda: f0(sim()["held_items_as_predicted"]),
    "cascade.held_items": lambda: f0(sim()["held_items_of_fitted_seeds"]),
    # benchmarks/classifier_throughput.py and benchmarks/ray_throughput.py
    "classifier.ratio_1": lambda: f2(results("classifier")["ratio_1_core"]),
    "classifier.ratio_all": lambda: f2(results("classifier")["ratio_all_cores"]),
    "classifier.judge_1": lambda: f0(results("classifier")["docs_per_second"]["judge_1"]),
    "classifier.core_hours": lambda: f0(results("classifier")["core_hours_per_trillion_tokens"]),
    "classifier.load": lambda: load(results("classifier")["loadavg_before"]),
    "ray.x": lambda: f2(results("ray")["ray_2_over_ray_1"]),
    "ray.load": lambda: load(results("ray")["loadavg_before"]),
    # benchmarks/cost_sheet.py
    "sheet.realtime": lambda: usd(results("sheet")["plans"]["llm_everything_realtime"]["llm_usd"]),
    "sheet.batch": lambda: usd(results("sheet")["plans"]["llm_everything_batch"]["llm_usd"]),
    **{
        f"sheet.generate.{short}": (lambda m=m: money(system(m)["generate_1e12_tokens_usd"]))
        for short, m in SYSTEMS.items()
    },
    **{
        f"sheet.scores_batch.{short}": (lambda m=m: money(judged(m, "none", "batch")))
        for short, m in SYSTEMS.items()
        if short != "gemini15"
    },
    "sheet.scores_realtime.gemini15": lambda: money(
        judged(SYSTEMS["gemini15"], "none", "realtime")
    ),
    "sheet.sample_batch_min": lambda: money(min(sampled("batch"))),
    "sheet.sample_batch_max": lambda: money(max(sampled("batch"))),
    "sheet.core_hours": lambda: f0(
        results("sheet")["plans"]["sample_distil_classify"]["cpu_core_hours"]
    ),
    # benchmarks/embedded_agreement.py
    "embedded.agreement": lambda: pct(results("embedded")["agreement"]["value"]),
    "embedded.no_ties": lambda: pct(results("embedded")["agreement_without_ties"]["value"]),
    "embedded.n": lambda: f0(results("embedded")["n"]),
    # benchmarks/embedded_unjudged.py (the default on the embedded model: short rationales)
    "unjudged.candidates": lambda: f0(unjudged("score candidates")),
    "unjudged.pandalm": lambda: f0(unjudged("calibrate pandalm")),
    "unjudged.xstest": lambda: f0(unjudged("calibrate xstest")),
    # benchmarks/distill_xstest.py
    "distill.rows": lambda: f0(results("distill")["rows"]),
    "distill.share_1": lambda: pct(results("distill")["share_labelled_1"]),
    "distill.held_0": lambda: f0(distilled(0, "n")),
    "distill.train_0": lambda: f0(distilled(0, "train", "data")),
    "distill.precision_0": lambda: f3(distilled(0, "precision")),
    "distill.recall_0": lambda: f3(distilled(0, "recall")),
    **{f"distill.f1_{s}": (lambda s=s: f3(distilled(s, "f1"))) for s in (0, 1, 2)},
    **{f"distill.keep_all_{s}": (lambda s=s: f3(distilled(s, "keep_all_f1"))) for s in (0, 1, 2)},
    **{f"distill.auc_{s}": (lambda s=s: f3(distilled(s, "roc_auc"))) for s in (0, 1, 2)},
    # benchmarks/pairs_calls.py
    "pairs.all_4": lambda: f0(pairs(4, "all")),
    "pairs.adaptive_4": lambda: f1(pairs(4, "adaptive")),
    "pairs.all_8": lambda: f0(pairs(8, "all")),
    "pairs.adaptive_8": lambda: f1(pairs(8, "adaptive")),
    "pairs.all_16": lambda: f0(pairs(16, "all")),
    "pairs.adaptive_16": lambda: f1(pairs(16, "adaptive")),
    "pairs.fewer_4": lambda: f1(pairs(4, "all") / pairs(4, "adaptive")),
    "pairs.fewer_8": lambda: f1(pairs(8, "all") / pairs(8, "adaptive")),
    "pairs.fewer_16": lambda: f1(pairs(16, "all") / pairs(16, "adaptive")),
    # benchmarks/conversations.py
    **{
        f"conv.{name}_{what}": (lambda name=name, k=k, sub=sub: f2(conv_ratio(name, k, sub)))
        for name in ("context", "group")
        for what, k, sub in (
            ("tokens", "input_tokens", None),
            ("list", "usd_list", None),
            ("cached", "usd_cached", None),
        )
    },
    "conv.n": lambda: f0(results("conversations")["data"]["conversations"]),
    "conv.load": lambda: load(results("conversations")["load_average"]["before"]),
    # benchmarks/rewards.py
    "rewards.group_speed": lambda: f2(
        reward("judge")["step_p50_s"] / reward("group")["step_p50_s"]
    ),
    "rewards.group_usd": lambda: f2(
        reward("group")["dollars_per_step"] / reward("judge")["dollars_per_step"]
    ),
    "rewards.floor_share": lambda: f2(
        reward("judge")["server_floor_s"] / reward("judge")["step_p50_s"]
    ),
    "rewards.floor": lambda: f1(reward("judge")["server_floor_s"]),
    "rewards.group_floor": lambda: f1(reward("group")["server_floor_s"]),
    "rewards.tokens": lambda: f0(reward("judge")["output_tokens_per_call"]),
    "rewards.group_tokens": lambda: f0(reward("group")["output_tokens_per_call"]),
    "rewards.judge_p50": lambda: f2(reward("judge")["step_p50_s"]),
}


def reward(name: str) -> dict[str, Any]:
    """A row of benchmarks/rewards.py's results: `plain`, `judge` or `group`."""
    full = {"plain": "plain OpenAI SDK loop", "judge": "judge", "group": "judge group=True"}[name]
    return next(r for r in results("rewards")["results"] if r["name"] == full)


def conv_ratio(name: str, key: str, sub: str | None) -> float:
    """benchmarks/conversations.py's ratios: `context` (a second turn in its context / alone),
    `group` (--turns all --group / one call a turn)."""
    pair = {"context": "in-context / alone", "group": "turns-all-group / turns-all"}[name]
    value = results("conversations")["ratios"][pair][key]
    return float(value if sub is None else value[sub])
