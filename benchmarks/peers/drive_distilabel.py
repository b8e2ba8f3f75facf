"""Run distilabel's UltraFeedback or PrometheusEval task over the benchmark's candidates.

Runs inside the benchmark's own distilabel virtual environment (made by run.py), never in the
project's. Concurrency is distilabel's documented knob: a task's `input_batch_size` (every input
of a batch is sent at once, asyncio.gather in `AsyncLLM._agenerate`). Retries are the OpenAI SDK's
(`OpenAILLM(max_retries=6)`, distilabel's default), which honour Retry-After.

    python drive_distilabel.py TASK INPUT.json BASE_URL MODEL CONCURRENCY RESULT.json

TASK is prometheus, ultrafeedback (the overall-rating aspect) or ultrafeedback:ASPECT.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    task_name, input_path, base_url, model, concurrency, result_path = sys.argv[1:7]
    # "ultrafeedback:helpfulness": one of UltraFeedback's aspects (default: overall-rating)
    task_name, _, aspect = task_name.partition(":")
    batch = int(concurrency)
    rows = json.loads(Path(input_path).read_text(encoding="utf-8"))
    started = time.monotonic()

    import distilabel
    from distilabel.models import OpenAILLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import PrometheusEval, UltraFeedback

    with Pipeline(name=f"peers-{task_name}") as pipeline:
        load = LoadDataFromDicts(data=rows, batch_size=batch)
        llm = OpenAILLM(
            model=model,
            base_url=base_url,
            api_key="sk-bench",
            max_retries=6,
            timeout=120,
            generation_kwargs={"max_new_tokens": 512, "temperature": 0.0},
        )
        if task_name == "ultrafeedback":
            task = UltraFeedback(llm=llm, aspect=aspect or "overall-rating", input_batch_size=batch)
        else:
            task = PrometheusEval(
                llm=llm,
                mode="absolute",
                rubric="helpfulness",
                reference=False,
                input_batch_size=batch,
            )
        load >> task
    distiset = pipeline.run(use_cache=False)
    out = list(distiset["default"]["train"])
    wall = time.monotonic() - started

    if task_name == "ultrafeedback":
        items = sum(len(r["generations"]) for r in rows)
        got = [x for r in out for x in (r.get("ratings") or [None] * len(r["generations"]))]
        ids = [i for r in out for i in r["ids"]]
    else:
        items = len(rows)
        got = [r.get("result") for r in out]
        ids = [r["id"] for r in out]
    judged = sum(1 for x in got if x is not None)
    result = {
        "tool": f"distilabel {task_name}" + (f" {aspect}" if aspect else ""),
        "version": distilabel.__version__,
        "items": items,
        "returned": len(got),
        "judged": judged,
        "unparsed": len(got) - judged,
        "lost": items - len(set(ids)),
        "wall_s": wall,
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
