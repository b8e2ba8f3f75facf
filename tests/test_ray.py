"""`--ray` on judge score and judge filter, on a local Ray cluster on 127.0.0.1 (2 CPUs, one for
the module), against the loopback fake OpenAI server (Ray workers are other processes, so the
in-process FakeBackend cannot serve them); and judge.ray.BatchScorer in Dataset.map_batches."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from judge.io import read_rows
from tests import cli
from tests.fakes import FakeOpenAIServer, HandlerResult
from tests.ray_cluster import RAY_ENV, local_cluster, ray_env

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]
ITEM = re.compile(r"answer (\w+) (\d+)")
KEY = "sk-test"  # the fake server takes any key; workers need one in their environment


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    # OPENAI_API_KEY: inherited by the cluster's workers; RAY_ENV: for ray.init in this process.
    added = {"OPENAI_API_KEY": KEY, **RAY_ENV}
    os.environ.update(added)
    try:
        with local_cluster(cpus=2) as address:
            yield address
    finally:
        for name in added:
            os.environ.pop(name, None)


def rows(shard: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{shard}-{i}", "prompt": f"q {i}", "response": f"answer {shard} {i}"}
            for i in range(n)]  # fmt: skip


def write_shard(path: Path, data: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pd.DataFrame(data).to_parquet(path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    return path


def read(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_rows(str(path))]


def judge(*args: str, cwd: Path, extra_env: dict[str, str] | None = None) -> Any:
    env = {"OPENAI_API_KEY": KEY, **(extra_env or {})}
    return cli.judge(*args, cwd=cwd, base_env=ray_env(), env=env, timeout=300)


def model_args(server: FakeOpenAIServer, constitution: Path) -> list[str]:
    return ["-c", str(constitution), "-m", "openai/gpt-test", "--base-url", server.base_url]


def even_is_good(body: dict[str, Any]) -> HandlerResult:
    """Scores 5/5 and 10/10 for items with an even number, 1 and 0 for odd ones."""
    found = ITEM.findall(json.dumps(body.get("messages")))
    good = bool(found) and int(found[-1][1]) % 2 == 0
    return {
        "helpful": {"rationale": "r", "score": 5 if good else 1},
        "honest": {"rationale": "r", "score": 10 if good else 0},
    }


def test_score_shards_one_output_each_and_a_rerun_skips_finished(
    cluster: str, tmp_path: Path, constitution_file: Path
) -> None:
    inputs = {
        "a.jsonl": rows("a", 12),
        "b.parquet": rows("b", 10),
        "c.jsonl": rows("c", 8),
    }
    for name, data in inputs.items():
        write_shard(tmp_path / "in" / name, data)
    with FakeOpenAIServer(handler=even_is_good) as server:
        args = ["score", "in", *model_args(server, constitution_file), "-o", "out"]
        done = judge(*args, "--ray", cluster, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(os.listdir(tmp_path / "out")) == sorted(inputs)
        for name, data in inputs.items():
            got = read(tmp_path / "out" / name)
            assert [r["id"] for r in got] == [r["id"] for r in data]  # each once, in order
            assert all(r["score"] in (0.0, 1.0) for r in got)
        assert "scored 30 candidates (30 judged, 0 not judged)" in done.stderr
        assert "30 calls, 0 from cache" in done.stderr
        assert server.count == 30

        # A re-run skips the finished shards: no call, no file rewritten; a new shard is done.
        mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
        write_shard(tmp_path / "in" / "d.jsonl", rows("d", 4))
        again = judge(*args, "--ray", cluster, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "4 shards on Ray: 1 run now, 3 finished before" in again.stderr
        assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == {
            **mtimes,
            "d.jsonl": (tmp_path / "out" / "d.jsonl").stat().st_mtime_ns,
        }
        assert server.count == 34
        assert "scored 4 candidates" in again.stderr


def test_filter_with_a_judge_over_parquet_shards_with_rejected(
    cluster: str, tmp_path: Path, constitution_file: Path
) -> None:
    for shard in ("x", "y"):
        write_shard(tmp_path / "in" / f"{shard}.parquet", rows(shard, 10))
    with FakeOpenAIServer(handler=even_is_good) as server:
        glob = str(tmp_path / "in" / "*.parquet")
        args = ["filter", glob, *model_args(server, constitution_file)]
        args += ["--min-score", "0.5", "-o", "kept", "--rejected", "dropped", "--ray", cluster]
        done = judge(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for shard in ("x", "y"):
        kept = read(tmp_path / "kept" / f"{shard}.parquet")
        dropped = read(tmp_path / "dropped" / f"{shard}.parquet")
        assert [r["id"] for r in kept] == [f"{shard}-{i}" for i in range(0, 10, 2)]
        assert [r["id"] for r in dropped] == [f"{shard}-{i}" for i in range(1, 10, 2)]
    assert "kept 10 (50.0% of judged), dropped 10, failed 0" in done.stderr


@pytest.mark.parametrize("command", ["score", "filter"])
def test_unreachable_model_fails_the_run_and_its_shard_is_done_again(
    cluster: str, tmp_path: Path, constitution_file: Path, command: str
) -> None:
    write_shard(tmp_path / "in" / "ok.jsonl", rows("ok", 4))
    write_shard(tmp_path / "in" / "bad.jsonl", rows("bad", 4))

    def down_for_bad(body: dict[str, Any]) -> HandlerResult:
        from tests.fakes import Fault

        found = ITEM.findall(json.dumps(body.get("messages")))
        return Fault.status(503) if found and found[-1][0] == "bad" else even_is_good(body)

    with FakeOpenAIServer(handler=down_for_bad) as server:
        args = [command, "in", *model_args(server, constitution_file), "-o", "out"]
        args += ["--max-retries", "0", "--ray", cluster]
        args += ["--min-score", "0.5"] if command == "filter" else []
        done = judge(*args, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "4 not judged" in done.stderr
        assert "1 of 2 shards not written, their runs failed: bad.jsonl." in done.stderr
        if command == "filter":  # the counts are those of the rows written: ok.jsonl's 4
            counts = re.search(r"kept (\d+).*dropped (\d+), failed (\d+)", done.stderr)
            assert counts is not None and sum(map(int, counts.groups())) == 4, done.stderr
            assert "(in the 1 of 2 shards written)" in done.stderr
        assert "every row is written" not in done.stderr
        assert os.listdir(tmp_path / "out") == ["ok.jsonl"]
        server.handler = even_is_good  # the server is back
        again = judge(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 shards on Ray: 1 run now, 1 finished before" in again.stderr
    kept = range(4) if command == "score" else (0, 2)  # filter keeps the even ones' rows
    assert [r["id"] for r in read(tmp_path / "out" / "bad.jsonl")] == [f"bad-{i}" for i in kept]


def test_the_summary_names_the_unwritten_shards_and_a_rerun_redoes_only_those(
    cluster: str, tmp_path: Path, constitution_file: Path
) -> None:
    write_shard(tmp_path / "in" / "ok.jsonl", rows("ok", 3))
    bad = [f"bad{i}.jsonl" for i in range(1, 5)]
    for name in bad:
        write_shard(tmp_path / "in" / name, rows(name.removesuffix(".jsonl"), 2))

    def down_for_bad(body: dict[str, Any]) -> HandlerResult:
        from tests.fakes import Fault

        found = ITEM.findall(json.dumps(body.get("messages")))
        return Fault.status(503) if found[-1][0].startswith("bad") else even_is_good(body)

    with FakeOpenAIServer(handler=down_for_bad) as server:
        args = ["score", "in", *model_args(server, constitution_file), "-o", "out"]
        args += ["--max-retries", "0", "--ray", cluster]
        done = judge(*args, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert (
            "4 of 5 shards not written, their runs failed: bad1.jsonl, bad2.jsonl, bad3.jsonl "
            "and 1 more. Run the same command again to redo only those shards" in done.stderr
        )
        assert "could not be reached for some items. Check the server" in done.stderr
        assert "every row is written" not in done.stderr
        assert os.listdir(tmp_path / "out") == ["ok.jsonl"]
        kept = (tmp_path / "out" / "ok.jsonl").stat().st_mtime_ns
        server.handler = even_is_good  # the server is back
        calls = server.count
        again = judge(*args, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert server.count - calls == 8  # only the unwritten shards' items
    assert "5 shards on Ray: 4 run now, 1 finished before" in again.stderr
    assert "not written" not in again.stderr
    assert sorted(os.listdir(tmp_path / "out")) == sorted(["ok.jsonl", *bad])
    assert (tmp_path / "out" / "ok.jsonl").stat().st_mtime_ns == kept
    for name in bad:
        shard = name.removesuffix(".jsonl")
        assert [r["id"] for r in read(tmp_path / "out" / name)] == [f"{shard}-0", f"{shard}-1"]


def test_a_worker_killed_mid_shard_is_retried_and_no_row_is_lost_or_doubled(
    cluster: str, tmp_path: Path, constitution_file: Path
) -> None:
    write_shard(tmp_path / "in" / "p.jsonl", rows("p", 6))
    write_shard(tmp_path / "in" / "q.jsonl", rows("q", 30))
    marker = tmp_path / "killed"
    with FakeOpenAIServer(handler=even_is_good) as server:
        args = ["score", "in", *model_args(server, constitution_file), "-o", "out"]
        kill = {"JUDGE_RAY_KILL_SHARD": f"q.jsonl:10:{marker}"}
        done = judge(*args, "--ray", cluster, cwd=tmp_path, extra_env=kill)
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # the first attempt ran, and its worker died after 10 rows
    assert [r["id"] for r in read(tmp_path / "out" / "q.jsonl")] == [f"q-{i}" for i in range(30)]
    assert [r["id"] for r in read(tmp_path / "out" / "p.jsonl")] == [f"p-{i}" for i in range(6)]
    assert sorted(os.listdir(tmp_path / "out")) == ["p.jsonl", "q.jsonl"]  # no temp file left
    assert "scored 36 candidates" in done.stderr  # the lost attempt is not counted


def test_one_rate_limit_for_the_whole_cluster(
    cluster: str, tmp_path: Path, constitution_file: Path
) -> None:
    """--rpm 600 over 2 workers: 10 requests a second in all (each worker alone would send 10)."""
    for shard in ("r", "s"):
        write_shard(tmp_path / "in" / f"{shard}.jsonl", rows(shard, 40))
    with FakeOpenAIServer(handler=even_is_good, latency=0.02) as server:
        args = ["score", "in", *model_args(server, constitution_file), "-o", "out"]
        done = judge(*args, "--rpm", "600", "--ray", cluster, cwd=tmp_path)
        times = sorted(r.time for r in server.requests)
    assert done.returncode == 0, done.stderr
    assert len(times) == 80
    # A bucket of one second's worth (10) and 10 a second after it: 70 more take >= 7 s.
    assert times[-1] - times[0] >= 7 * 0.9, times[-1] - times[0]
    for i, start in enumerate(times):  # any 2 seconds: at most 2 x 10 + the bucket of 10
        within = sum(1 for t in times[i:] if t - start <= 2.0)
        assert within <= 31, (i, within)


def test_one_budget_for_the_whole_cluster(
    cluster: str, tmp_path: Path, constitution_file: Path
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai/gpt-test": {"input": 100.0, "output": 100.0}}))
    for shard in ("u", "v"):
        write_shard(tmp_path / "in" / f"{shard}.jsonl", rows(shard, 30))
    with FakeOpenAIServer(handler=even_is_good) as server:
        args = ["score", "in", *model_args(server, constitution_file), "-o", "out"]
        args += ["--prices", str(prices), "--max-cost", "0.5", "--ray", cluster]
        done = judge(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "--max-cost budget was reached" in done.stderr
    assert "shards not written, their runs failed" in done.stderr
    assert "the rows say why" not in done.stderr  # a stopped shard has no rows
    spent = float(re.findall(r"tokens; \$([0-9.]+)", done.stderr)[0])
    assert 0.1 < spent <= 0.5  # both workers' calls together, within the one budget
    assert 0 < server.count < 60


def test_classifier_filter_on_shards_keeps_what_the_plain_run_keeps(
    cluster: str, tmp_path: Path
) -> None:
    pytest.importorskip("fasttext")
    from tests.test_classify import make_model
    from tests.word_corpus import corpus

    model = make_model(tmp_path)
    docs = [{"id": i, "text": r["text"]} for i, r in enumerate(corpus(120, seed=9))]
    write_shard(tmp_path / "in" / "one.parquet", docs[:70])
    write_shard(tmp_path / "in" / "two.jsonl", docs[70:])
    args = ["--classifier", model.path, "--min-prob", "0.5"]
    done = judge("filter", "in", *args, "-o", "kept", "--ray", cluster, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("one.parquet", "two.jsonl"):
        plain = judge("filter", f"in/{name}", *args, "-o", f"plain-{name}", cwd=tmp_path)
        assert plain.returncode == 0, plain.stderr
        on_ray = read(tmp_path / "kept" / name)
        assert on_ray == read(tmp_path / f"plain-{name}")
        assert 0 < len(on_ray) < 70
    assert "2 shards on Ray: 2 run now" in done.stderr


def test_map_batches_scorer(cluster: str, tmp_path: Path, constitution_file: Path) -> None:
    from judge.engine.runner import RunnerConfig
    from judge.engine.settings import Settings
    from judge.ray import BatchScorer, Limits

    with FakeOpenAIServer(handler=even_is_good) as server:
        ray.init(address=cluster, log_to_driver=False)
        try:
            settings = Settings(
                model="openai/gpt-test",
                base_url=server.base_url,
                cache=str(tmp_path / "cache.sqlite"),
                runner=RunnerConfig(concurrency=4, requests_per_minute=6000),
            )
            ds = ray.data.from_items(rows("m", 24))
            scored = ds.map_batches(
                BatchScorer,
                fn_constructor_kwargs={
                    "constitution": str(constitution_file),
                    "settings": settings,
                    "limits": Limits(),
                },
                batch_size=8,
                batch_format="pandas",
                concurrency=2,
            ).take_all()
        finally:
            ray.shutdown()
    assert sorted(r["id"] for r in scored) == sorted(f"m-{i}" for i in range(24))
    for r in scored:
        assert r["score"] == (1.0 if int(r["id"].split("-")[1]) % 2 == 0 else 0.0)
    assert server.count == 24


def test_ray_auto_starts_a_local_instance(tmp_path: Path, constitution_file: Path) -> None:
    write_shard(tmp_path / "in" / "a.jsonl", rows("a", 3))
    with FakeOpenAIServer(handler=even_is_good) as server:
        args = ["score", "in", *model_args(server, constitution_file), "-o", "out"]
        done = judge(*args, "--ray", "auto", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in read(tmp_path / "out" / "a.jsonl")] == ["a-0", "a-1", "a-2"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "out.jsonl"], "the output is a folder"),
        (["-o", "out", "--keep-top", "0.5"], "--keep-top needs every score"),
        (["-o", "out", "--dry-run"], "--dry-run does not go with --ray"),
    ],
)
def test_ray_usage_errors(
    tmp_path: Path, constitution_file: Path, extra: list[str], message: str
) -> None:
    write_shard(tmp_path / "in" / "a.jsonl", rows("a", 2))
    args = ["filter", "in", "-c", str(constitution_file), "-m", "openai/x", *extra]
    if "--keep-top" not in extra:
        args += ["--min-score", "0.5"]
    done = judge(*args, "--ray", "auto", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    empty = judge("score", "nothing-*.jsonl", "-c", str(constitution_file), "-o", "o",
                  "--ray", "auto", cwd=tmp_path)  # fmt: skip
    assert empty.returncode == 2 and "no shards found" in empty.stderr


def test_the_default_path_does_not_import_ray(tmp_path: Path, constitution_file: Path) -> None:
    write_shard(tmp_path / "in.jsonl", rows("a", 2))
    script = (
        "import sys\n"
        "from judge.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    with FakeOpenAIServer(handler=even_is_good) as server:
        args = ["score", "in.jsonl", *model_args(server, constitution_file), "-o", "out.jsonl"]
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=tmp_path,
            env={**ray_env(), "OPENAI_API_KEY": KEY},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert len(read(tmp_path / "out.jsonl")) == 2


def test_scorer_takes_pandas_pyarrow_and_numpy_batches(
    fake_backend: Any, constitution_file: Path
) -> None:
    """The batch kinds map_batches hands over (in this process: FakeBackend, no cluster)."""
    import numpy as np
    import pyarrow as pa

    from judge.engine.settings import Settings
    from judge.ray import BatchScorer

    # 4 on helpful's 1-5 (0.75, weight 3) and on honest's 0-10 (0.4, weight 1)
    score = (3 * 0.75 + 0.4) / 4
    scorer = BatchScorer(constitution_file, settings=Settings(model="fake/judge", use_cache=False))
    frame = pd.DataFrame(rows("k", 3))
    as_pandas = scorer(frame)
    assert isinstance(as_pandas, pd.DataFrame)
    assert list(as_pandas["id"]) == ["k-0", "k-1", "k-2"]
    assert list(as_pandas["score"]) == [score] * 3
    as_arrow = scorer(pa.Table.from_pandas(frame))
    assert isinstance(as_arrow, pa.Table)
    assert as_arrow.column("score").to_pylist() == [score] * 3
    assert as_arrow.column("judge").to_pylist()[0]["model"] == "fake/judge"
    as_numpy = scorer({k: np.array(v) for k, v in frame.to_dict(orient="list").items()})
    assert list(as_numpy["score"]) == [score] * 3
