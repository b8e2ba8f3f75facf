"""The plan for judging 10^12 tokens of pretraining text, side by side, from committed results.

    python benchmarks/cost_sheet.py

Reads:
- benchmarks/results/classifier_throughput.json: `judge filter --classifier` end to end on one
  core (documents of 500 words a second), for the CPU core-hours of classifying everything;
- benchmarks/results/cost.json, if present: the dollars of a verdict on a 500-token candidate
  in judge's cheapest mode, real-time and batch (see llm_dollars), for the LLM dollars; without
  it, the figure of the peers benchmark in BENCHMARKS.md ($0.3529 per 1,000 items, real-time,
  gpt-4o-mini list prices), batch at half of it, labelled as such in the output.

Plans, for 10^12 tokens in documents of DOC_TOKENS tokens:
1. an LLM judge on every document, real-time and batch (with a rationale per principle, and
   with the scores only, what a filter needs);
2. judge a sample (SAMPLE documents, as FineWeb-Edu did), distil a classifier from it
   (`judge distill`), classify everything on CPUs: the sample's LLM dollars and the CPU
   core-hours at the measured rate (measured on 500-word documents, scaled by tokens);
3. FineWeb-Edu's published figure: 6,000 H100 hours for its classifier over 15T tokens,
   scaled to 10^12 tokens.
4. the same plans priced for each of the seed's four systems (GPT-4-turbo, Claude 3 Opus,
   Gemini 1.5 Pro, Llama-3-70B on Groq, under their names of the time) and a current cheap judge
   of each provider, from judge/data/prices.json: the tokens a verdict takes in each of judge's
   modes (benchmarks/results/cost.json, counted with gpt-4o-mini's o200k tokenizer) at that
   system's prices, the cheapest mode per level of explanation, real time (cache reads at the
   cached-input rate where the table has one, else at the input rate) and batch (the provider's
   OpenAI-compatible batch API at its share of the list price, no cache credit; none where judge
   has no batch API for it), beside the seed's cost of generating the same 10^12 tokens (output
   price x 10^12, at the seed's own output prices). A system whose input price is unknown gets
   its generation cost only.
Writes benchmarks/results/cost_sheet.json and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.classifier_throughput import commit  # noqa: E402
from judge.backends.presets import provider  # noqa: E402
from judge.engine.prices import Price, PriceTable  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TOKENS = 1e12
DOC_TOKENS = 500  # tokens a document
SAMPLE = 450_000  # documents the LLM judges (FineWeb-Edu: Llama-3-70B rated 450,000 pages)
# The earlier BENCHMARKS.md peers table: judge score, gpt-4o-mini list prices, real-time.
FALLBACK_PER_1K = 0.3529
FALLBACK_SOURCE = (
    "BENCHMARKS.md peers table (judge score, gpt-4o-mini list prices, real-time: $0.3529 per "
    "1,000 items of 1,845 input + 127 output tokens); batch = 50% of it"
)
FINEWEB_EDU_H100_HOURS = 6_000
FINEWEB_EDU_TOKENS = 15e12
# The seed's four systems, under their names of the time, and a current cheap judge of each
# provider with a price in judge/data/prices.json.
SEED_SYSTEMS = (
    "openai/gpt-4-turbo",
    "anthropic/claude-3-opus",
    "gemini/gemini-1.5-pro",
    "groq/llama3-70b-8192",
)
# What the seed says generating with each of its systems costs: USD per million output tokens.
SEED_OUTPUT_PRICES = {
    "openai/gpt-4-turbo": 30.0,
    "anthropic/claude-3-opus": 75.0,
    "gemini/gemini-1.5-pro": 21.0,  # the tier of prompts over 128k tokens
    "groq/llama3-70b-8192": 0.79,
}
CHEAP_JUDGES = (
    "openai/gpt-5-nano",
    "openai/gpt-4o-mini",
    "anthropic/claude-haiku-4-5",
    "gemini/gemini-2.5-flash-lite",
    "groq/openai/gpt-oss-120b",
    "deepseek/deepseek-flash",
    "mistral/mistral-small-latest",
)
# What a verdict explains, most first (benchmarks/peers/cost.py's LEVELS).
LEVELS = ("per principle", "one a verdict", "none")


def llm_dollars(path: Path, level: str = "per principle") -> tuple[dict[str, float], str]:
    """Dollars per 1,000 verdicts on documents of DOC_TOKENS tokens, real-time and batch, and
    where they come from.

    benchmarks/results/cost.json (benchmarks/peers/cost.py) gives, for each level of
    explanation (a rationale per principle, one a verdict, none) and mode, judge's cheapest mode
    at that level and the dollars of 10^12 tokens as 2 x 10^9 candidates of 500 tokens (the
    tokens beyond its data's mean length billed as uncached input): that, per 1,000, is the
    figure here."""
    key = "usd_1T_tokens_as_2e9_candidates_of_500"
    if path.exists() and DOC_TOKENS == 500:
        target = json.loads(path.read_text(encoding="utf-8")).get("target", {}).get(level, {})
        if all(key in target.get(mode, {}) for mode in ("realtime", "batch")):
            per_1k = {mode: target[mode][key] / 2e9 * 1000 for mode in ("realtime", "batch")}
            modes = {target[mode]["cheapest_judge_mode"] for mode in ("realtime", "batch")}
            return per_1k, (
                f"{path.relative_to(ROOT)} target[{level!r}].<mode>.{key} / 2e9 (judge's "
                f"cheapest mode with per-principle scores, rationales {level}: "
                f"{', '.join(sorted(modes))}; gpt-4o-mini list prices, batch at its discount)"
            )
    per_1k = {"realtime": FALLBACK_PER_1K, "batch": FALLBACK_PER_1K / 2}
    return per_1k, FALLBACK_SOURCE


def verdict_usd(mode: dict[str, Any], price: Price, batch_rate: float | None) -> float:
    """USD of one verdict on a DOC_TOKENS-token candidate in `mode` (a judge mode of cost.json)
    at `price`: real time (batch_rate None) with cache reads at the cached rate, or batch at
    batch_rate of the list price without cache credit (as benchmarks/peers/cost.py prices it).
    The tokens beyond the measured candidates' mean length are billed as uncached input."""
    inp = mode["input_tokens_per_verdict"] + (DOC_TOKENS - mode["mean_candidate_tokens"])
    cached = mode["cached_input_tokens_per_verdict"]
    out = mode["output_tokens_per_verdict"]
    if batch_rate is None:
        cached_rate = price.input if price.cached_input is None else price.cached_input
        usd = (inp - cached) * price.input + cached * cached_rate + out * price.output
    else:
        usd = (inp * price.input + out * price.output) * batch_rate
    return usd / 1e6


def system_plans(
    modes: list[dict[str, Any]], price: Price, batch_rate: float | None, core_hours: float
) -> dict[str, Any]:
    """The plans of one system: per level of explanation, judge's cheapest mode real time and
    batch, its dollars for 10^12 tokens, and the sample + distil + classify plan."""
    docs = TOKENS / DOC_TOKENS
    levels: dict[str, Any] = {}
    for level in LEVELS:
        ok = LEVELS[: LEVELS.index(level) + 1]  # explains at least this much
        pool = [m for m in modes if m["rationales"] in ok]
        entry: dict[str, Any] = {}
        for kind in ("realtime", "batch"):
            if kind == "batch" and batch_rate is None:
                entry[kind] = None
                continue
            # A real-time run is not a batch job; any run's tokens priced as a batch job are.
            usable = [m for m in pool if kind == "batch" or "--batch" not in m["name"]]
            rate = batch_rate if kind == "batch" else None
            best = min(usable, key=lambda m: verdict_usd(m, price, rate))
            per = verdict_usd(best, price, rate)
            entry[kind] = {
                "cheapest_judge_mode": best["name"],
                "usd_per_1000_verdicts": per * 1000,
                "llm_usd_1e12_tokens": per * docs,
            }
        levels[level] = entry
    top = levels[LEVELS[0]]
    sample = {
        kind: None if top[kind] is None else top[kind]["usd_per_1000_verdicts"] * SAMPLE / 1000
        for kind in ("realtime", "batch")
    }
    return {
        "llm_everything": levels,
        "sample_distil_classify": {
            "documents_judged_by_llm": SAMPLE,
            "llm_usd_realtime": sample["realtime"],
            "llm_usd_batch": sample["batch"],
            "cpu_core_hours": core_hours,
        },
    }


def systems(cost_path: Path, core_hours: float) -> dict[str, Any]:
    """Every system of SEED_SYSTEMS and CHEAP_JUDGES: its prices and when they were read, the
    seed's generation cost, and its judging plans."""
    data = json.loads(cost_path.read_text(encoding="utf-8"))
    mean = data["meta"]["settings"]["mean_candidate_tokens"]
    modes = [
        {**r, "mean_candidate_tokens": mean}
        for r in data["results"]
        if r["name"].startswith("judge")
    ]
    table = PriceTable()
    out: dict[str, Any] = {}
    for model in (*SEED_SYSTEMS, *CHEAP_JUDGES):
        price = table.lookup(model)
        partial = table.partial.get(model)
        output = SEED_OUTPUT_PRICES.get(model)
        if output is None:
            output = price.output if price is not None else (partial or {}).get("output")
        entry: dict[str, Any] = {
            "seed_system": model in SEED_SYSTEMS,
            "price_per_million": None
            if price is None
            else {"input": price.input, "cached_input": price.cached_input, "output": price.output},
            "price_as_of": price.as_of if price else (partial or {}).get("as_of"),
            "price_source": price.source if price else (partial or {}).get("source"),
            "generate_1e12_tokens_usd": None if output is None else output * TOKENS / 1e6,
        }
        if price is None:
            entry["plans"] = None
            entry["why_no_plans"] = "no complete price (input price not found)"
        else:
            preset = provider(model.split("/", 1)[0])
            has_batch = preset is not None and preset.features.batch is not None
            rate = table.batch_rate(model) if has_batch else None
            entry["batch_rate"] = rate
            entry["plans"] = system_plans(modes, price, rate, core_hours)
        out[model] = entry
    return out


def _usd(x: float | None) -> str:
    if x is None:
        return "-"
    return f"${x / 1e6:,.2f}M" if x >= 1e6 else f"${x:,.0f}"


def print_systems(table: dict[str, Any]) -> None:
    print()
    print(
        f"10^12 candidate tokens ({TOKENS / DOC_TOKENS:,.0f} documents of {DOC_TOKENS} tokens), "
        "per system: generate (the seed: output price x 10^12) | judge every document, "
        "real time / batch, per level of explanation | judge a sample + distil + classify"
    )
    head = f"{'system':<30} {'generate':>10} {'per principle':>21} {'one a verdict':>21}"
    print(head + f" {'scores only':>21} {'sample+distil':>17}")
    for model, e in table.items():
        gen = _usd(e["generate_1e12_tokens_usd"])
        if e["plans"] is None:
            print(f"{model:<30} {gen:>10}   not priced: {e['why_no_plans']}")
            continue
        cells = []
        for level in LEVELS:
            lv = e["plans"]["llm_everything"][level]
            rt = _usd(lv["realtime"]["llm_usd_1e12_tokens"])
            bt = _usd(lv["batch"]["llm_usd_1e12_tokens"]) if lv["batch"] else "-"
            cells.append(f"{rt} / {bt}")
        sample = e["plans"]["sample_distil_classify"]
        sample_text = f"{_usd(sample['llm_usd_realtime'])} / {_usd(sample['llm_usd_batch'])}"
        print(
            f"{model:<30} {gen:>10} {cells[0]:>21} {cells[1]:>21} {cells[2]:>21} {sample_text:>17}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(RESULTS / "cost_sheet.json"))
    args = parser.parse_args()
    throughput = json.loads((RESULTS / "classifier_throughput.json").read_text(encoding="utf-8"))
    per_1k, llm_source = llm_dollars(RESULTS / "cost.json")
    # a pretraining filter needs the scores only: the cheapest mode without rationales
    bare_1k, bare_source = llm_dollars(RESULTS / "cost.json", "none")
    docs = TOKENS / DOC_TOKENS
    words = throughput["words_per_document"]
    tokens_per_word = throughput["tokens_per_word_assumed"]
    # judge filter --classifier end to end on one core, in tokens a second.
    tokens_per_second = throughput["docs_per_second"]["judge_1"] * words * tokens_per_word
    core_hours = TOKENS / tokens_per_second / 3600
    plans = {
        "llm_everything_realtime": {
            "documents_judged_by_llm": docs,
            "llm_usd": docs / 1000 * per_1k["realtime"],
        },
        "llm_everything_batch": {
            "documents_judged_by_llm": docs,
            "llm_usd": docs / 1000 * per_1k["batch"],
        },
        "llm_everything_scores_only": {
            "documents_judged_by_llm": docs,
            "llm_usd_realtime": docs / 1000 * bare_1k["realtime"],
            "llm_usd_batch": docs / 1000 * bare_1k["batch"],
            "source": bare_source,
        },
        "sample_distil_classify": {
            "documents_judged_by_llm": SAMPLE,
            "llm_usd_realtime": SAMPLE / 1000 * per_1k["realtime"],
            "llm_usd_batch": SAMPLE / 1000 * per_1k["batch"],
            "cpu_core_hours": core_hours,
        },
        "fineweb_edu_published": {
            "h100_hours": FINEWEB_EDU_H100_HOURS * TOKENS / FINEWEB_EDU_TOKENS,
            "source": "FineWeb-Edu: 6,000 H100 hours for the classifier over 15T tokens",
        },
    }
    priced = systems(RESULTS / "cost.json", core_hours)
    result = {
        "command": "python benchmarks/cost_sheet.py",
        "commit": commit(),
        "tokens": TOKENS,
        "tokens_per_document": DOC_TOKENS,
        "documents": docs,
        "llm_usd_per_1000_verdicts": per_1k,
        "llm_source": llm_source,
        "classifier_source": "benchmarks/results/classifier_throughput.json "
        f"(commit {throughput.get('commit')}): judge filter --classifier, 1 core, "
        f"{throughput['docs_per_second']['judge_1']:,.0f} documents of {words} words a "
        f"second = {tokens_per_second:,.0f} tokens a second at {tokens_per_word} tokens a word",
        "plans": plans,
        "systems_assumptions": (
            "tokens of a verdict per judge mode as counted in benchmarks/results/cost.json "
            "(o200k tokenizer of gpt-4o-mini; other models' tokenizers count differently), "
            f"candidates of {DOC_TOKENS} tokens (the tokens beyond the measured mean billed as "
            "uncached input), prompt-cache reads as measured with OpenAI's automatic caching "
            "rule, billed at the cached-input rate where the price table has one and at the "
            "input rate otherwise; batch: the provider's OpenAI-compatible batch API at its "
            "share of the list price, no cache credit; prices from judge/data/prices.json with "
            "the date each was read (DeepSeek: peak rates); generation: the seed's measure, "
            "output price x 10^12 tokens"
        ),
        "systems": priced,
    }
    print(f"10^12 tokens = {docs:,.0f} documents of {DOC_TOKENS} tokens")
    print(
        f"LLM $ per 1,000 verdicts on {DOC_TOKENS}-token documents: "
        f"{per_1k['realtime']:.4f} real-time, {per_1k['batch']:.4f} batch"
    )
    print(f"  source: {llm_source}")
    print(f"classifier: {result['classifier_source']}")
    print()
    realtime = plans["llm_everything_realtime"]["llm_usd"]
    batch = plans["llm_everything_batch"]["llm_usd"]
    rows = [
        ("LLM judge on everything, real-time", f"${realtime:,.0f}", "-"),
        ("LLM judge on everything, batch", f"${batch:,.0f}", "-"),
        (
            "LLM judge on everything, scores only",
            f"${plans['llm_everything_scores_only']['llm_usd_realtime']:,.0f} real-time / "
            f"${plans['llm_everything_scores_only']['llm_usd_batch']:,.0f} batch",
            "-",
        ),
        (
            f"judge {SAMPLE:,} docs + distil + classify",
            f"${plans['sample_distil_classify']['llm_usd_realtime']:,.0f} real-time / "
            f"${plans['sample_distil_classify']['llm_usd_batch']:,.0f} batch",
            f"{core_hours:,.0f} CPU core-hours",
        ),
        (
            "FineWeb-Edu (published, scaled)",
            "-",
            f"{plans['fineweb_edu_published']['h100_hours']:,.0f} H100 hours",
        ),
    ]
    print(f"{'plan':<40} {'LLM dollars':<30} compute")
    for plan, usd, compute in rows:
        print(f"{plan:<40} {usd:<30} {compute}")
    print_systems(priced)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
