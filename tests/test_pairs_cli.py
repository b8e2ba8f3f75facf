"""`judge pairs` through click: outputs, the card, empty results, dry runs, the hub push."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import pytest
from click.testing import CliRunner

from judge.cli import _Group
from judge.cli.pairs_cmd import pairs
from judge.testing import FakeBackend
from tests.quality_judge import QualityJudge

cli = _Group(name="judge", commands={"pairs": pairs})

ROWS = [
    {"id": "a", "prompt": "Q1?", "responses": ["best q=5", "mid q=3", "worst q=1", "worst q=1 "]},
    {"id": "b", "prompt": "Q2?", "responses": ["one q=2", "two q=2"]},
    {"id": "c", "prompt": "Q3?", "responses": ["", ""]},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def invoke(*args: Any, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["pairs", *map(str, args)], input=input, catch_exceptions=False)


def out_rows(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def judge(fake_backend: FakeBackend) -> FakeBackend:
    fake_backend.answer = QualityJudge()
    return fake_backend


def test_pairs_to_a_dataset_folder_with_its_card(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "pairs"
    result = invoke(
        src, "-c", constitution_file, "-m", "fake/judge", "-o", out, "--format", "standard"
    )
    assert result.exit_code == 0, result.output
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 1
    assert (ds[0]["prompt"], ds[0]["chosen"], ds[0]["rejected"], ds[0]["prompt_id"]) == (
        "Q1?\n\n",
        "best q=5",
        "worst q=1",
        "a",
    )
    assert ds[0]["constitution"] == "tiny" and ds[0]["judge_model"] == "fake/judge"
    card = (out / "README.md").read_text()
    assert "constitution_sha256" in card and "| pairs | 1 |" in card and "`helpful`" in card
    assert "Not measured" in card  # score mode: no position bias to report
    err = result.stderr
    assert "3 prompts, 8 candidates: 5 judged, 2 not judged, 1 duplicate text" in err
    assert "pairs: 1" in err and "all candidates failed: 1" in err
    assert "5 calls" in err
    assert len(judge.requests) == 5


def test_compare_mode_reports_position_bias(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    judge.answer = QualityJudge(first_bias=0.5, seed=1)
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    card = tmp_path / "card.md"
    result = invoke(
        src, "-c", constitution_file, "-m", "fake/judge", "--mode", "compare", "--card", card
    )
    assert result.exit_code == 0, result.output
    assert "3 comparisons in both orders" in result.stderr
    assert "position bias:" in result.stderr and "first-shown response won" in result.stderr
    text = card.read_text()
    assert "verdicts that flipped when the order was swapped" in text
    assert "| comparisons (each in both orders) | 3 |" in text


def test_scored_input_needs_no_model_call(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    info = {"model": "openai/gpt-x", "constitution": {"name": "tiny", "sha256": "0" * 64}}
    rows = [
        {"prompt": "P", "response": r, "response_index": i, "score": s, "judge": info}
        for i, (r, s) in enumerate([("good", 0.9), ("bad", 0.1), ("meh", 0.5)])
    ]
    src = write_jsonl(tmp_path / "scored.jsonl", rows)
    result = invoke(
        src, "-c", constitution_file, "-o", tmp_path / "p.jsonl", "--format", "standard"
    )
    assert result.exit_code == 0, result.output
    (row,) = out_rows((tmp_path / "p.jsonl").read_text())
    assert (row["prompt"], row["chosen"], row["rejected"]) == ("P\n\n", "good", "bad")
    assert row["judge_model"] == "openai/gpt-x"
    assert judge.requests == []
    assert "no model call" in result.stderr and "was scored under constitution" in result.stderr
    assert "judge: 1 prompt, 3 candidates: 3 judged, 0 not judged, 0 duplicate texts" in (
        result.stderr
    )
    again = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--rescore")
    assert again.exit_code == 0 and len(judge.requests) == 3


def test_no_surviving_pair_still_writes_an_empty_dataset(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[1:])
    out = tmp_path / "empty"
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "-o", out, "--conversational")
    assert result.exit_code == 0, result.output
    assert "no pair survived" in result.stderr and "closer than --min-margin: 1" in result.stderr
    assert result.stderr.count("prompts without a pair") == 1  # said once, not twice
    assert "2 prompts, 4 candidates" in result.stderr
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 0
    # the same columns and types as a dataset with pairs
    full = tmp_path / "full"
    src_full = write_jsonl(tmp_path / "full.jsonl", ROWS[:1])
    assert invoke(src_full, "-c", constitution_file, "-m", "fake/judge", "-o", full,
                  "--conversational").exit_code == 0  # fmt: skip
    full_ds = datasets.load_from_disk(str(full))
    assert ds.features == full_ds.features
    assert (out / "README.md").exists()


def test_conversational_chat_prompts(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    chat = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": chat, "responses": ["a q=5", "b q=1"]}])
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--conversational")
    assert result.exit_code == 0, result.output
    (row,) = out_rows(result.stdout)
    assert row["prompt"] == chat
    assert row["chosen"] == [{"role": "assistant", "content": "a q=5"}]
    plain = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--format", "standard")
    assert plain.exit_code == 0, plain.output
    (row,) = out_rows(plain.stdout)  # the conversation's transcript, then the assistant's label
    assert row["prompt"] == "System: Be kind.\n\nUser: Hi\n\nAssistant:\n\n"
    assert row["chosen"] == "a q=5"


def test_dry_run_counts_calls_and_makes_none(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--dry-run")
    assert result.exit_code == 0 and "3 prompts -> 5 calls" in result.stderr
    result = invoke(
        src, "-c", constitution_file, "-m", "fake/judge", "--dry-run", "--mode", "compare"
    )
    assert "3 prompts -> 8 calls" in result.stderr  # 3 pairs + 1 pair, both orders
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--dry-run",
                    "--mode", "compare", "--comparisons", "adaptive")  # fmt: skip
    assert "-> 8 calls (adaptive: the worst case of the sort)" in result.stderr
    assert judge.requests == []


def test_bad_input_is_exit_2_with_the_place(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a document"}])
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge")
    assert result.exit_code == 2 and "in.jsonl:1" in result.stderr
    assert "needs a prompt" in result.stderr
    mixed = invoke(src, "-c", constitution_file, "--comparisons", "adaptive")
    assert mixed.exit_code == 2 and "--comparisons adaptive needs --mode compare" in mixed.stderr
    assert judge.requests == []


def test_push_to_hub_pushes_the_data_then_the_card(
    tmp_path: Path,
    constitution_file: Path,
    judge: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, Any]] = []

    def push_data(self: datasets.Dataset, repo: str, **kw: Any) -> None:
        calls.append(("data", (repo, len(self), self.column_names, kw.get("private"))))

    def load_card(repo: str, **kw: Any) -> huggingface_hub.DatasetCard:
        calls.append(("load", repo))
        return huggingface_hub.DatasetCard("---\nconfigs:\n- config_name: default\n---\nold\n")

    def push_card(self: huggingface_hub.DatasetCard, repo: str, **kw: Any) -> None:
        calls.append(("card", (repo, str(self), kw.get("repo_type"))))

    monkeypatch.setattr(datasets.Dataset, "push_to_hub", push_data)
    monkeypatch.setattr(huggingface_hub.DatasetCard, "load", staticmethod(load_card))
    monkeypatch.setattr(huggingface_hub.DatasetCard, "push_to_hub", push_card)
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = invoke(
        src, "-c", constitution_file, "-m", "fake/judge", "--push-to-hub", "me/pairs", "--private"
    )
    assert result.exit_code == 0, result.output
    assert [c[0] for c in calls] == ["data", "load", "card"]
    repo, n, columns, private = calls[0][1]
    assert (repo, n, private) == ("me/pairs", 1, True)
    assert columns[:3] == ["prompt", "chosen", "rejected"]
    _, card, repo_type = calls[2][1]
    assert repo_type == "dataset"
    assert "config_name: default" in card and "- dpo" in card  # datasets' metadata kept
    assert 'load_dataset("me/pairs", split="train")' in card
    assert "pushed 1 pair to" in result.stderr
    assert len(out_rows(result.stdout)) == 1  # stdout still gets the rows


def test_a_failed_push_is_a_clear_error(
    tmp_path: Path,
    constitution_file: Path,
    judge: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: datasets.Dataset, repo: str, **kw: Any) -> None:
        raise PermissionError("401 Unauthorized")

    monkeypatch.setattr(datasets.Dataset, "push_to_hub", refuse)
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    out = tmp_path / "p.parquet"
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "-o", out,
                    "--push-to-hub", "me/pairs")  # fmt: skip
    assert result.exit_code == 1
    assert "hf auth login" in result.stderr and "401 Unauthorized" in result.stderr
    assert out.exists()  # the local output is kept


def test_the_card_records_constitution_judge_counts_bias_and_calibration(
    constitution_file: Path,
) -> None:
    from judge.constitution import load
    from judge.tasks.pairs.card import CardInfo, dataset_card
    from judge.tasks.pairs.pipeline import PairsOptions
    from judge.tasks.pairs.results import PairsStats

    stats = PairsStats(prompts=7, candidates=50, pairs=6, comparisons=40, flips=10)
    stats.first_position_wins = 50
    info = CardInfo(
        constitution=load(constitution_file),
        model="openai/gpt-4o-mini",
        options=PairsOptions(mode="compare", comparisons="adaptive", strategy="all"),
        stats=stats,
        principles="sample",
        calls=80,
        calibration="cal.json: pairwise, maps p_a with a logistic fit on 200 labels",
    )
    card = dataset_card(info, "me/pairs")
    assert card.startswith("---\ntags:\n- dpo\n")
    sha = load(constitution_file).sha256
    for needed in [
        "`tiny`", sha, "| `helpful` | 3 | 1-5 | Is it helpful? |", "| `honest` | 1 | 0-10 |",
        "model: `openai/gpt-4o-mini`", "merge sort", "one drawn per comparison",
        "| prompts | 7 |", "| pairs | 6 |", "| comparisons (each in both orders) | 40 |",
        "flipped when the order was swapped: 25.0% (10 of 40)",
        "won by the response shown first: 62.5%",
        "calibration: cal.json: pairwise", 'load_dataset("me/pairs", split="train")',
    ]:  # fmt: skip
        assert needed in card, needed


def test_default_rows_are_conversational_and_standard_prompts_end_with_a_separator(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    rows = [
        {"id": "a", "prompt": "Q1?", "responses": ["best q=5", "worst q=1"]},
        {"id": "b", "prompt": "Q2?\n", "responses": ["best q=5", "worst q=1"]},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    card = tmp_path / "card.md"
    default = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--card", card)
    assert default.exit_code == 0, default.output
    first = out_rows(default.stdout)[0]
    assert first["prompt"] == [{"role": "user", "content": "Q1?"}]
    assert first["chosen"] == [{"role": "assistant", "content": "best q=5"}]
    assert "lists of messages" in card.read_text()
    # The deprecated flag still means the default.
    alias = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--conversational")
    assert out_rows(alias.stdout) == out_rows(default.stdout)

    standard = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--format", "standard")
    assert standard.exit_code == 0, standard.output
    # TRL trains on prompt + chosen: a blank line marks the turn, never doubled.
    texts = [r["prompt"] + r["chosen"] for r in out_rows(standard.stdout)]
    assert texts == ["Q1?\n\nbest q=5", "Q2?\n\nbest q=5"]
    own = invoke(
        src, "-c", constitution_file, "-m", "fake/judge", "--format", "standard",
        "--separator", r"\n### Response:\n", "--card", card,
    )  # fmt: skip
    assert [r["prompt"] for r in out_rows(own.stdout)] == [
        "Q1?\n### Response:\n",
        "Q2?\n### Response:\n",
    ]
    assert 'ends with the separator "\\n### Response:\\n"' in card.read_text()

    for bad in (["--separator", "\n"], ["--conversational", "--format", "standard"]):
        result = invoke(src, "-c", constitution_file, "-m", "fake/judge", *bad)
        assert result.exit_code == 2
        assert "--separator is for --format standard" in result.stderr or (
            "contradict" in result.stderr
        )


def test_a_budget_stop_is_not_pushed_unless_allowed(
    tmp_path: Path,
    constitution_file: Path,
    judge: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed: list[int] = []
    monkeypatch.setattr(
        datasets.Dataset, "push_to_hub", lambda self, repo, **kw: pushed.append(len(self))
    )
    monkeypatch.setattr(huggingface_hub.DatasetCard, "load", staticmethod(lambda repo, **kw: 1 / 0))
    monkeypatch.setattr(huggingface_hub.DatasetCard, "push_to_hub", lambda self, repo, **kw: None)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake/": {"input": 1000.0, "output": 1000.0}}))
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "p.jsonl"
    budget = ["--prices", prices, "--concurrency", "1", "--max-cost", "0.5"]
    args = [src, "-c", constitution_file, "-m", "fake/judge", *budget, "--push-to-hub", "me/pairs",
            "-o", out]  # fmt: skip
    refused = invoke(*args)
    assert refused.exit_code == 1
    assert "not pushing to me/pairs" in refused.stderr and "--allow-partial" in refused.stderr
    assert pushed == [] and out.exists()  # the local output is still written
    allowed = invoke(*args, "--allow-partial", "--no-cache")
    assert allowed.exit_code == 1  # still a budget stop, but pushed as asked
    assert len(pushed) == 1 and "pushed" in allowed.stderr


def test_the_push_is_staged_next_to_a_file_output_and_removed(
    tmp_path: Path,
    constitution_file: Path,
    judge: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staged: list[Path] = []
    monkeypatch.setattr(
        datasets.Dataset,
        "push_to_hub",
        lambda self, repo, **kw: staged.append(Path(self.cache_files[0]["filename"])),
    )
    monkeypatch.setattr(huggingface_hub.DatasetCard, "load", staticmethod(lambda repo, **kw: 1 / 0))
    monkeypatch.setattr(huggingface_hub.DatasetCard, "push_to_hub", lambda self, repo, **kw: None)
    out = tmp_path / "runs" / "p.parquet"
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "-o", out,
                    "--push-to-hub", "me/pairs")  # fmt: skip
    assert result.exit_code == 0, result.output
    (data,) = staged
    stage = next(p for p in data.parents if p.name.endswith(".stage.tmp"))
    assert stage.parent == out.parent and stage.name.startswith(".p.parquet.")
    assert os.listdir(out.parent) == ["p.parquet"]  # the staged copy is gone


def test_summaries_say_one_thing_in_the_singular() -> None:
    from judge.engine.stats import RunStats
    from judge.tasks.summary import plural
    from judge.tasks.summary import run_summary as summary

    def retries(n: int) -> str:
        return plural(n, "retry", "retries")

    assert [plural(n, "candidate") for n in (0, 1, 2)] == [
        "0 candidates",
        "1 candidate",
        "2 candidates",
    ]
    assert (retries(1), retries(3)) == ("1 retry", "3 retries")
    stats = RunStats(done=1, calls=1)
    line = summary("scored", stats)
    assert "scored 1 candidate (" in line and "; 1 call, 0 from cache" in line
    assert "revised 1 item (" in summary("revised", stats, "items")
