"""Run AlpacaEval's weighted GPT-4o-mini annotator over the benchmark's candidates.

Runs inside the benchmark's own alpaca-eval virtual environment (made by run.py). Each candidate
is compared with the prompt's human-written reference (AlpacaEval's own design: a model output
against a reference output, one call per pair). Concurrency is AlpacaEval's documented knob,
the OPENAI_MAX_CONCURRENCY environment variable (threads); retries are its own loop (10 tries,
2 s apart, on rate-limit errors) over the OpenAI SDK's default retries.

    python drive_alpaca_eval.py INPUT.json RESULT.json
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path


def main() -> None:
    input_path, result_path = sys.argv[1:3]
    pairs = json.loads(Path(input_path).read_text(encoding="utf-8"))
    started = time.monotonic()

    import alpaca_eval
    from alpaca_eval.annotators import PairwiseAnnotator

    annotator = PairwiseAnnotator(
        annotators_config="weighted_alpaca_eval_gpt-4o-mini-2024-07-18", caching_path=None
    )
    out = annotator.annotate_pairs(pairs)
    wall = time.monotonic() - started
    prefs = [r.get("preference") for r in out]
    judged = sum(1 for p in prefs if p is not None and not (isinstance(p, float) and math.isnan(p)))
    result = {
        "tool": "alpaca-eval weighted_alpaca_eval_gpt-4o-mini",
        "version": alpaca_eval.__version__,
        "items": len(pairs),
        "returned": len(out),
        "judged": judged,
        "unparsed": len(out) - judged,
        "lost": len(pairs) - len(out),
        "wall_s": wall,
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
