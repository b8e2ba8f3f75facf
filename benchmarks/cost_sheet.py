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
Writes benchmarks/results/cost_sheet.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.classifier_throughput import commit  # noqa: E402

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
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
