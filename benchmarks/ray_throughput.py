"""`judge filter --classifier` through Ray with 1 and 2 workers, and without Ray, side by side.

    python benchmarks/ray_throughput.py            # 60,000 documents of 500 words, 6 shards
    python benchmarks/ray_throughput.py --quick    # 3,000 documents, 1 round

The documents and the classifier are those of benchmarks/classifier_throughput.py (seeded). The
documents are written as shards (JSON Lines) and, for the plain path, as one file. Then, in one
run, `--rounds` times each:
- plain, 1 process: `judge filter docs.jsonl --classifier M --min-prob 0.5 --processes 1`;
- plain, all cores: the same with one process a core (both plain runs are measured beside
  each cluster, so that a phase slowed down by the machine's other programs shows);
- Ray, 1 worker: `judge filter shards/ --classifier M --min-prob 0.5 -o OUT --ray ADDRESS` on a
  local cluster started with `ray start --head --num-cpus 1` (127.0.0.1);
- Ray, 2 workers: the same on a cluster with `--num-cpus 2`.
Each figure is the wall time of the whole command (start-up, joining the cluster, reading and
writing included); the cluster is started before and stopped after its rounds (one cluster at a
time). The best round of each is kept (the machine is shared). The load average before and after
is in the results. Results: a table on stdout, benchmarks/results/ray_throughput.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.classifier_throughput import (  # noqa: E402
    WORDS,
    commit,
    documents,
    train_classifier,
    usable_cores,
    write_docs,
)
from tests.ray_cluster import local_cluster, ray_env  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "ray_throughput.json"


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=ray_env())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 documents, 1 round")
    parser.add_argument("--docs", type=int, default=60_000)
    parser.add_argument("--shards", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    n, rounds = (3_000, 1) if args.quick else (args.docs, args.rounds)
    cores = usable_cores()
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs = documents(n)
        whole = write_docs(os.path.join(tmp, "docs.jsonl"), docs, range(n))
        shards = os.path.join(tmp, "shards")
        os.mkdir(shards)
        per = -(-n // args.shards)
        for s in range(args.shards):
            part = os.path.join(shards, f"part-{s:03d}.jsonl")
            write_docs(part, docs, range(s * per, min(n, (s + 1) * per)))
        model, _ = train_classifier(tmp)
        base = [sys.executable, "-m", "judge", "filter"]
        rule = ["--classifier", model, "--min-prob", "0.5"]
        out = os.path.join(tmp, "out")

        def plain(processes: int) -> float:
            return timed([*base, whole, *rule, "--processes", str(processes), "-o", out + ".jsonl"])

        def on_ray(address: str) -> float:
            shutil.rmtree(out, ignore_errors=True)  # every round does every shard
            return timed([*base, shards, *rule, "-o", out, "--ray", address, "-q"])

        # One cluster at a time; the plain runs go in both phases, so that each Ray figure has
        # plain figures measured beside it (the machine is shared: a phase may be slowed down).
        for workers in (1, 2):
            with local_cluster(cpus=workers) as address:
                on_ray(address)  # warm-up: the workers and the model are loaded once
                for _ in range(rounds):
                    for name, run in (
                        ("plain_1", lambda: plain(1)),
                        ("plain_all", lambda: plain(cores)),
                        ("ray", lambda: on_ray(address)),
                    ):
                        key = f"ray_{workers}" if name == "ray" else f"{name}_beside_ray_{workers}"
                        runs.setdefault(key, []).append(n / run())
    load_after = os.getloadavg()
    best = {k: max(v) for k, v in runs.items()}
    for name in ("plain_1", "plain_all"):  # the best of both phases
        best[name] = max(best[f"{name}_beside_ray_1"], best[f"{name}_beside_ray_2"])
    result = {
        "command": "python benchmarks/ray_throughput.py" + (" --quick" if args.quick else ""),
        "commit": commit(),
        "documents": n,
        "shards": args.shards,
        "words_per_document": WORDS,
        "rounds": rounds,
        "cores": cores,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "docs_per_second": {k: round(v, 1) for k, v in best.items()},
        "all_rounds": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "ray_2_over_ray_1": round(best["ray_2"] / best["ray_1"], 3),
        # Within each phase: Ray against the plain path with as many processes as workers.
        "ray_1_over_plain_1_same_phase": round(best["ray_1"] / best["plain_1_beside_ray_1"], 3),
        "ray_2_over_plain_all_same_phase": round(best["ray_2"] / best["plain_all_beside_ray_2"], 3),
    }
    print(
        f"{n} documents of {WORDS} words in {args.shards} shards; {cores} cores; load average "
        f"{load_before} before, {load_after} after"
    )
    print(f"{'':<24}{'beside 1 worker':>16}{'beside 2 workers':>18}")
    for name, label in (
        ("plain_1", "plain, 1 process"),
        ("plain_all", f"plain, {cores} processes"),
    ):
        one, two = best[f"{name}_beside_ray_1"], best[f"{name}_beside_ray_2"]
        print(f"{label:<24}{one:>12,.0f}/s{two:>14,.0f}/s")
    print(f"{'Ray':<24}{best['ray_1']:>12,.0f}/s{best['ray_2']:>14,.0f}/s")
    print(f"Ray 2 workers / 1 worker: {result['ray_2_over_ray_1']:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
