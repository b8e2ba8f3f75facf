"""The tables BENCHMARKS.md and docs/ show, made from the results files (benchmarks/figures.py
loads them). benchmarks/publish.py puts each between <!--t:KEY--> and <!--/t-->."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.figures import f0, f1, f2, f3, f4, load, money, results, reward, usd


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _when(meta_load: list[float] | None, end: list[float] | None, commit: str | None) -> str:
    said = f"commit {commit}" if commit else "commit not recorded"
    if meta_load:
        said += f", load average {load(meta_load)} at the start"
    if end:
        said += f" and {load(end)} at the end"
    return said + " (1-minute figure, 2 cores)"


def peers() -> str:
    data = results("peers")
    rows = []
    for mode, runs in data["results"].items():
        base = next(r for r in runs if r["tool"] == "judge score")
        for r in runs:
            rows.append(
                [mode, r["tool"], r["version"], f1(r["verdicts_per_s"]),
                 f2(r["verdicts_per_s"] / base["verdicts_per_s"]), f3(r["calls_per_item"]),
                 f3(r["requests_per_item"]), r["lost"],
                 f"{r['unparsed']} ({r.get('declined_empty', 0)})", f1(r["wall_s"])]
            )  # fmt: skip
    meta = data["meta"]
    head = ["server", "tool", "version", "verdicts/s", "x judge speed", "calls/item"]
    head += ["HTTP req/item", "lost", "unparsed (declined)", "wall s"]
    when = _when(meta.get("load_average_start"), meta.get("load_average_end"), meta.get("commit"))
    return _table(head, rows) + f"\n\nRun {meta['date']}, {when}."


def drills() -> str:
    from benchmarks.drills.report import report

    data = results("drills")
    meta = data["meta"]
    return (
        f"Run {meta['date']}, {_when(meta['loadavg'], None, meta['commit'])}.\n\n"
        + report(data).strip()
    )


def throughput() -> str:
    data = results("throughput")
    rows = [
        [r["concurrency"], r["options"] or "default", f0(r["candidates"]),
         f1(r["verdicts_per_s"]), f1(r["verdicts_per_s_with_startup"]), f0(r["ideal_per_s"]),
         f2(r["ratio"]), f2(r["ratio_with_startup"]), f2(r["cpu_ms_per_verdict"])]
        for r in data["throughput"]
    ]  # fmt: skip
    head = ["concurrency", "options", "candidates", "verdicts/s (runner)"]
    head += ["verdicts/s (whole process)", "ideal/s", "ratio (runner)"]
    head += ["ratio (with start-up)", "CPU ms/verdict"]
    c, mem = data["cached_rerun"], data["memory"]
    m = data["machine"]
    return (
        _table(head, rows)
        + f"\n\nCached re-run of {f0(c['candidates'])} candidates: {f1(c['wall_s'])} s wall "
        f"(process start to exit), {c['model_calls']} model calls. Peak RSS: "
        + "; ".join(f"{f0(x['rows'])} rows {f0(x['peak_rss_mb'])} MB" for x in mem)
        + f".\n\nRun {_when(m['load_average_at_start'], m['load_average_at_end'], m['commit'])}."
    )


def throughput_ab() -> str:
    data = results("ab")
    med, ratio = data["median"], data["ratio_after_to_before"]
    before, after = data["commits"]["before"], data["commits"]["after"]
    rows = []
    for mode in ("default", "no-logprobs"):
        for key, what, fmt in (
            ("verdicts_per_s", "verdicts/s", f1),
            ("cpu_ms_per_verdict", "CPU ms a verdict", f2),
        ):
            rows.append(
                [f"{what}, {mode}", fmt(med["before"][mode][key]),
                 fmt(med["after"][mode][key]), f2(ratio[mode][key])]
            )  # fmt: skip
    rows.append(
        ["cached re-run, wall s", f2(med["before"]["cached_rerun_wall_s"]),
         f2(med["after"]["cached_rerun_wall_s"]), f2(ratio["cached_rerun_wall_s"])]
    )  # fmt: skip
    m = data["machine"]
    when = _when(m["load_average_at_start"], m["load_average_at_end"], None)
    head = [f"median of {data['rounds']}", f"before ({before})", f"after ({after})"]
    when = when.removeprefix("commit not recorded, ")
    return _table([*head, "after / before"], rows) + f"\n\nRun at {when}."


def cost() -> str:
    from benchmarks.peers.cost import table

    data = results("cost")
    meta = data["meta"]
    when = _when(meta["load_average_start"], meta["load_average_end"], meta["commit"])
    return table(data["results"]) + f"\n\nRun {meta['started']} to {meta['ended']}, {when}."


def cost_sentences() -> str:
    """The cheapest judge mode at each level of explanation, against each peer, in both set-ups."""
    rows = []
    for which, said in (("cost", "equal (12 tokens)"), ("cost_short", "judge's 5 tokens")):
        for level, t in results(which)["target"].items():
            rt, batch = t["realtime"], t["batch"]
            ratios = rt["ratio_to_peers"]
            rows.append(
                [said, level, f"`{rt['cheapest_judge_mode']}`", f4(rt["usd_per_1000"]),
                 f4(batch["usd_per_1000"])] + [f2(ratios[p]) for p in sorted(ratios)]
            )  # fmt: skip
    peer_names = sorted(results("cost")["target"]["per principle"]["realtime"]["ratio_to_peers"])
    head = ["rationale sentences", "rationales", "judge's cheapest mode", "$/1k real time"]
    head += ["$/1k batch"] + [f"x {p} (real time)" for p in peer_names]
    return _table(head, rows)


def cascade() -> str:
    s = results("cascade")["simulation"]
    ci, true_ci = s["share_meeting_target_ci95"], s["share_meeting_target_true_ci95"]
    rows = [
        ["seeds where a cascade could be certified",
         f"{s['seeds_with_a_cascade']} of {s['seeds']}"],
        ["of those, held-out agreement on decided items >= the target",
         f"{s['seeds_meeting_target_held_out']} ({f0(100 * s['share_meeting_target'])}%, 95% "
         f"interval {f0(100 * ci[0])}-{f0(100 * ci[1])}%; promised >= {s['promise']})"],
        ["of those, true agreement on decided items (all items) >= the target",
         f"{s['seeds_meeting_target_true']} (95% interval {f0(100 * true_ci[0])}-"
         f"{f0(100 * true_ci[1])}%)"],
        ["agreement on decided items, held-out: mean (min)",
         f"{f3(s['held_agreement_mean'])} ({f3(s['held_agreement_min'])})"],
        ["agreement on decided items, true: mean (min)",
         f"{f3(s['true_agreement_mean'])} ({f3(s['true_agreement_min'])})"],
        ["coverage (items decided), held-out mean / true mean",
         f"{f0(100 * s['held_coverage_mean'])}% / {f0(100 * s['true_coverage_mean'])}%"],
        ["cost per item against always asking the strong judge",
         f"{f2(s['cost_ratio_cascade_to_strong'])}x"],
        ["cost per decided item against the strong judge (which decides every item)",
         f"{f2(s['cost_per_decided_item_ratio_to_strong'])}x"],
        ["strong judge alone, held-out agreement", f3(s["strong_alone_agreement_mean"])],
        ["one weak judge / panel of three weak judges (majority), held-out agreement",
         f"{f3(s['weak_alone_agreement_mean'])} / {f3(s['weak_panel_of_3_agreement_mean'])}"],
        ["held-out items decided as benchmarks/cascade_truth.py predicts",
         f"{s['held_items_as_predicted']} of {s['held_items_of_fitted_seeds']}"],
    ]  # fmt: skip
    when = _when(s["loadavg_start"], s.get("loadavg_end"), s["commit"])
    return _table(["", "value"], rows) + f"\n\nSimulation run at {when}."


def cascade_seeds() -> str:
    """Each certified cascade: its held-out figures next to its true ones."""
    rows = []
    for r in results("cascade")["simulation"]["per_seed"]:
        if r.get("held_agreement") is None:
            continue
        weak, strong = (f2(t) if t is not None else "never" for t in r["thresholds"])
        rows.append(
            [r["seed"], weak, strong, f3(r["held_agreement"]), f3(r["true_agreement"]),
             f"{f0(100 * r['held_coverage'])}%", f"{f0(100 * r['true_coverage'])}%",
             f2(r["cascade_cost_per_item"] / r["strong_cost_per_item"])]
        )  # fmt: skip
    head = ["seed", "weak threshold", "strong threshold", "agreement held-out", "agreement true"]
    return _table([*head, "coverage held-out", "coverage true", "cost / strong, per item"], rows)


def ray() -> str:
    d = results("ray")
    rate = d["docs_per_second"]
    rows = [
        ["plain, 1 process", f0(rate["plain_1_beside_ray_1"]), f0(rate["plain_1_beside_ray_2"])],
        ["plain, 2 processes", f0(rate["plain_all_beside_ray_1"]),
         f0(rate["plain_all_beside_ray_2"])],
        ["Ray", f"{f0(rate['ray_1'])} (1 worker)", f"{f0(rate['ray_2'])} (2 workers)"],
    ]  # fmt: skip
    when = _when(d["loadavg_before"], d["loadavg_after"], d["commit"][:7])
    head = ["documents a second", "beside the 1-worker cluster", "beside the 2-worker cluster"]
    return (
        _table(head, rows) + f"\n\nTwo workers do {f2(d['ray_2_over_ray_1'])}x one worker; Ray is "
        f"{f2(d['ray_1_over_plain_1_same_phase'])}x the plain path with 1 worker and "
        f"{f2(d['ray_2_over_plain_all_same_phase'])}x with 2. Run at {when}."
    )


def sheet() -> str:
    p = results("sheet")["plans"]
    s, so = p["sample_distil_classify"], p["llm_everything_scores_only"]
    rows = [
        ["LLM judge on every document, real time", usd(p["llm_everything_realtime"]["llm_usd"]),
         "-"],
        ["LLM judge on every document, batch", usd(p["llm_everything_batch"]["llm_usd"]), "-"],
        ["LLM judge on every document, scores only",
         f"{usd(so['llm_usd_realtime'])} real time / {usd(so['llm_usd_batch'])} batch", "-"],
        [f"judge {f0(s['documents_judged_by_llm'])} documents + `judge distill` + `judge filter "
         "--classifier`", f"{usd(s['llm_usd_realtime'])} real time / {usd(s['llm_usd_batch'])} "
         f"batch", f"{f0(s['cpu_core_hours'])} CPU core-hours"],
        ["FineWeb-Edu, published, scaled to 1T", "-",
         f"{f0(p['fineweb_edu_published']['h100_hours'])} H100 hours"],
    ]  # fmt: skip
    return _table(["plan", "LLM dollars", "compute"], rows)


def sheet_systems() -> str:
    """The plans for 10^12 tokens per system (the seed's four and a cheap judge of each
    provider), beside the seed's cost of generating them."""
    data = results("sheet")
    rows = []
    for model, e in data["systems"].items():
        gen = money(e["generate_1e12_tokens_usd"])
        if e["plans"] is None:
            rows.append([f"`{model}`", e["price_as_of"], gen, "not priced", "-", "-"])
            continue
        levels = e["plans"]["llm_everything"]

        def pair(level: str, levels: dict[str, Any] = levels) -> str:
            real, batch = levels[level]["realtime"], levels[level]["batch"]
            return f"{money(real['llm_usd_1e12_tokens'])} / " + (
                money(batch["llm_usd_1e12_tokens"]) if batch else "-"
            )

        s = e["plans"]["sample_distil_classify"]
        sample = (
            money(s["llm_usd_realtime"])
            + " / "
            + (money(s["llm_usd_batch"]) if s["llm_usd_batch"] is not None else "-")
        )
        rows.append(
            [f"`{model}`", e["price_as_of"], gen, pair("per principle"), pair("none"), sample]
        )
    head = ["system", "price read", "generate 10^12 tokens (seed)"]
    head += ["judge all, rationale per principle", "judge all, scores only"]
    head += ["sample + distil + classify"]
    return _table(head, rows) + f"\n\nRun at commit {(data['commit'] or '')[:7]}."


def classifier() -> str:
    d = results("classifier")
    r = d["docs_per_second"]
    rows = [
        [f"raw fastText, `predict(texts, k=-1)` on batches of {d['raw_batch']}, texts in memory",
         f0(r["raw_1"]), f0(r["raw_all"])],
        [f"`judge filter --classifier` end to end (batches of {d['judge_batch']}; JSON Lines in "
         "and out, start-up included)", f0(r["judge_1"]), f0(r["judge_all"])],
        ["ratio", f"**{f2(d['ratio_1_core'])}**", f"**{f2(d['ratio_all_cores'])}**"],
        ["ratio within each round", ", ".join(f2(x) for x in d["ratio_1_core_by_round"]),
         ", ".join(f2(x) for x in d["ratio_all_cores_by_round"])],
    ]  # fmt: skip
    when = _when(d["loadavg_before"], d["loadavg_after"], (d["commit"] or "")[:7])
    head = ["documents a second", "1 core", f"all cores ({d['cores']})"]
    return (
        _table(head, rows) + f"\n\n{f0(d['documents'])} documents of {d['words_per_document']} "
        f"words, best of {d['rounds']} interleaved rounds, run at {when}."
    )


def pairs() -> str:
    rows = [
        [r["n"], f1(r["noise"]), f1(r["all"]["calls"]), f2(r["all"]["best"]), f2(r["all"]["tau"]),
         f1(r["adaptive"]["calls"]), f2(r["adaptive"]["best"]), f2(r["adaptive"]["tau"])]
        for r in results("pairs")["rows"]
    ]  # fmt: skip
    head = ["N", "noise", "all: calls", "all: best", "all: tau", "adaptive: calls"]
    return _table([*head, "adaptive: best", "adaptive: tau"], rows)


def conversations() -> str:
    d = results("conversations")
    rows = []
    for name, r in d["results"].items():
        usd_ = r["usd_per_1000"]
        rows.append(
            [f"`{name}`", r["judged"], f2(r["calls_per_verdict"]),
             f0(r["input_tokens_per_verdict"]), f0(r["cached_input_tokens_per_verdict"]),
             f0(r["output_tokens_per_verdict"]), f"${f4(usd_['list'])}",
             f"${f4(usd_['realtime'])}"]
        )  # fmt: skip
    head = ["run", "verdicts", "calls a verdict", "input tokens", "cached", "output"]
    when = _when(d["load_average"]["before"], d["load_average"]["after"], d["commit"][:7])
    return _table([*head, "$/1k list", "$/1k cached"], rows) + f"\n\nRun at {when}."


def rewards() -> str:
    d = results("rewards")
    labels = {
        "plain": "plain asyncio loop of OpenAI SDK calls (same requests, same "
        f"{d['setup']['concurrency']} in flight)",
        "judge": "`constitution_reward(...)`",
        "group": "`constitution_reward(..., group=True)`",
    }
    rows = []
    for key, label in labels.items():
        r = reward(key)
        rows.append(
            [label, f1(r["verdicts_per_s"]), f"{f2(r['step_p50_s'])} s",
             f"{f2(r['step_p99_s'])} s", f0(r["calls_per_step"]),
             f"${f4(r['dollars_per_step'])}", f"{f1(r['server_floor_s'])} s", r["unjudged"]]
        )  # fmt: skip
    head = ["reward", "verdicts/s", "step p50", "step p99", "calls a step", "$ a step"]
    m = d["machine"]
    when = _when(m["load_average_at_start"], m["load_average_at_end"], m["commit"])
    return _table([*head, "server's floor", "unjudged"], rows) + f"\n\nRun at {when}."


TABLES: dict[str, Callable[[], str]] = {
    "peers": peers,
    "drills": drills,
    "throughput": throughput,
    "throughput-ab": throughput_ab,
    "cost": cost,
    "cost-sentences": cost_sentences,
    "cascade": cascade,
    "cascade-seeds": cascade_seeds,
    "ray": ray,
    "sheet": sheet,
    "sheet-systems": sheet_systems,
    "classifier": classifier,
    "pairs": pairs,
    "conversations": conversations,
    "rewards": rewards,
}
