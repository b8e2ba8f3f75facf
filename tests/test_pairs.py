"""Pair selection (properties), grouping, the pairs pipeline with fake judges, and the export."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.calibration import Calibration, CalibrationError, ProbabilityMap
from judge.constitution import Constitution, parse
from judge.engine.runner import Runner
from judge.errors import InputError
from judge.io import FieldMap, open_writer
from judge.judging.comparison import CompareOptions
from judge.tasks.pairs.groups import iter_groups
from judge.tasks.pairs.pipeline import PairMaker, PairsOptions
from judge.tasks.pairs.results import GroupResult, PairsStats
from judge.tasks.pairs.rows import empty_schema, write_empty
from judge.tasks.pairs.selection import STRATEGIES, TIE, Ranked, select
from judge.testing import FakeBackend
from tests.quality_judge import QualityJudge

CONSTITUTION = """name: test-pairs

## helpful
Answers the question.

## honest
scale: 0-10

Says only true things.
"""


def constitution() -> Constitution:
    return parse(CONSTITUTION)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- selection

candidate_lists = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", " a ", "d", "e"]), st.floats(0, 1)),
    max_size=8,
).map(lambda xs: [Ranked(i, text, score) for i, (text, score) in enumerate(xs)])


@settings(max_examples=300, deadline=None)
@given(
    candidate_lists,
    st.sampled_from(STRATEGIES),
    st.floats(0, 1),
    st.integers(0, 3),
)
def test_selected_pairs_respect_the_rules(
    candidates: list[Ranked], strategy: str, min_margin: float, seed: int
) -> None:
    sel = select(candidates, strategy, min_margin=min_margin, rng=random.Random(seed))
    assert bool(sel.pairs) != bool(sel.reason)
    keys = [(c.index, r.index) for c, r in sel.pairs]
    assert len(keys) == len(set(keys))
    for chosen, rejected in sel.pairs:
        assert chosen in candidates and rejected in candidates
        assert chosen.text.strip() != rejected.text.strip()
        assert chosen.score - rejected.score >= min_margin
        assert chosen.score > rejected.score
    if strategy != "all":
        assert len(sel.pairs) <= 1
        if sel.pairs:
            assert sel.pairs[0][0].score == max(c.score for c in candidates)
    else:  # every admissible pair is there
        admissible = {
            (c.index, r.index)
            for c in candidates
            for r in candidates
            if c.text.strip() != r.text.strip()
            and c.score - r.score >= min_margin
            and c.score - r.score > TIE  # float noise is a tie, not a preference
        }
        assert set(keys) == admissible


def test_best_worst_and_best_random() -> None:
    cands = [Ranked(0, "x", 0.5), Ranked(1, "y", 0.9), Ranked(2, "z", 0.1), Ranked(3, "y ", 0.0)]
    ((best, worst),) = select(cands, "best-worst").pairs
    assert (best.index, worst.index) == (1, 2)  # index 3 has the best's text: never paired
    drawn = {
        select(cands, "best-random", rng=random.Random(s)).pairs[0][1].index for s in range(40)
    }
    assert drawn == {0, 2}
    assert (
        select(cands, "best-random", rng=random.Random(7)).pairs
        == select(cands, "best-random", rng=random.Random(7)).pairs
    )
    assert select(cands, "best-worst", min_margin=0.9).reason == "tied, or closer than --min-margin"
    assert select([Ranked(0, "x", 0.5), Ranked(1, "y", 0.5)], "all").pairs == []
    assert select([Ranked(0, "x", 0.5)], "all").reason == "fewer than 2 judged candidates"
    veto = select(cands, "best-worst", allowed=lambda c, r: False)
    assert veto.pairs == []
    with pytest.raises(ValueError):
        select(cands, "worst-best")


# --------------------------------------------------------------------------- groups


def test_groups_from_lists_and_from_consecutive_rows(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": 1, "prompt": "P1", "responses": ["a", "b"]},
            {"id": 2, "prompt": "P1", "responses": ["c"]},  # its own group: another row
            {"id": 3, "prompt": "P2", "response": "d"},
            {"id": 3, "prompt": "P2", "response": "e", "response_index": 4},
            {"id": 5, "prompt": "P3", "response": "f"},
        ],
    )
    groups = list(iter_groups(path, FieldMap()))
    assert [(g.prompt, g.prompt_id, [c.response for c in g.candidates]) for g in groups] == [
        ("P1", "1", ["a", "b"]),
        ("P1", "2", ["c"]),
        ("P2", "3", ["d", "e"]),
        ("P3", "5", ["f"]),
    ]
    assert groups[2].where.endswith("in.jsonl:3")


def test_a_prompt_split_over_distant_rows_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"prompt": "P1", "response": "a"},
            {"prompt": "P2", "response": "b"},
            {"prompt": "P1", "response": "c"},
        ],
    )
    with pytest.raises(InputError, match=r"in.jsonl:1.*next to each other") as info:
        list(iter_groups(path, FieldMap()))
    assert info.value.where is not None and info.value.where.endswith(":3")


def test_chat_prompts_and_documents(tmp_path: Path) -> None:
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?", "name": "u"},
    ]
    path = write_jsonl(tmp_path / "chat.jsonl", [{"prompt": chat, "responses": ["x", "y"]}])
    (g,) = iter_groups(path, FieldMap())
    assert g.prompt_value == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
    ]
    assert "System: Be brief." in g.prompt and "User: Hi?" in g.prompt
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [{"prompt": [{"role": "assistant", "content": "x"}], "responses": ["a"]}],
    )
    with pytest.raises(InputError, match="end with the user's turn"):
        list(iter_groups(bad, FieldMap()))
    docs = write_jsonl(tmp_path / "docs.jsonl", [{"text": "a document"}])
    with pytest.raises(InputError, match="needs a prompt"):
        list(iter_groups(docs, FieldMap()))


# --------------------------------------------------------------------------- pipeline


def make(answer: Any, tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> Any:
    backend = FakeBackend(answer=answer)
    runner = Runner(backend)
    compare_options = options.pop("compare_options", None)
    options.setdefault("conversational", False)  # string rows (the standard form) read easier
    maker = PairMaker(
        constitution(),
        PairsOptions(**options),
        compare_options=compare_options,
        model=backend.name,
    )
    path = write_jsonl(tmp_path / "in.jsonl", rows)

    async def go() -> list[GroupResult]:
        groups = iter_groups(path, FieldMap())
        return [r async for _, r in runner.run(groups, lambda g: maker.judge(runner, g))]

    results = asyncio.run(go())
    stats = PairsStats()
    for r in results:
        stats.add(r)
    return results, stats, backend, runner


def first_position(request: Any) -> str:
    return json.dumps({"rationale": "the first one", "winner": "A"})


@pytest.mark.parametrize("comparisons", ["all", "adaptive"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_judge_that_prefers_the_first_position_never_makes_a_pair(
    tmp_path: Path, comparisons: str, strategy: str
) -> None:
    rows = [
        {"prompt": "P1", "responses": ["same text", "same text ", "same text"]},
        {"prompt": "P2", "responses": ["equal q=1", "equal too q=1", "also equal q=1"]},
        {"prompt": "P3", "responses": ["good q=5", "bad q=1"]},
    ]
    results, stats, _, _ = make(
        first_position,
        tmp_path,
        rows,
        mode="compare",
        comparisons=comparisons,
        strategy=strategy,
        min_margin=0.0,
    )
    assert stats.pairs == 0
    assert stats.comparisons > 0 and stats.flips == stats.comparisons == stats.ties
    assert stats.flip_rate == 1.0 and stats.first_position_rate == 1.0
    assert results[0].duplicates == 2 and results[0].comparisons == []  # identical: never judged
    assert results[0].reason == "fewer than 2 judged candidates"


def test_compare_mode_finds_the_best_and_worst(tmp_path: Path) -> None:
    responses = [f"answer q={q}" for q in (3, 7, 1, 5, 6, 2, 8, 4)]
    results, stats, _, runner = make(
        QualityJudge(),
        tmp_path,
        [{"id": "x", "prompt": "P", "responses": responses}],
        mode="compare",
    )
    (row,) = results[0].rows
    assert (row["chosen"], row["rejected"]) == ("answer q=8", "answer q=1")
    assert (row["chosen_index"], row["rejected_index"]) == (6, 2)
    assert row["p_chosen"] == 1.0 and row["margin"] > 0.5 and row["mode"] == "compare"
    assert row["prompt_id"] == "x" and row["judge_model"] == "fake/judge"
    assert stats.comparisons == 28 and runner.stats.calls == 56 and stats.flips == 0
    assert "scores_chosen" not in row


def test_adaptive_uses_fewer_calls_and_finds_the_same_pair(tmp_path: Path) -> None:
    responses = [f"answer q={q}" for q in (3, 7, 1, 5, 6, 2, 8, 4)]
    rows = [{"prompt": "P", "responses": responses}]
    full, _, _, all_runner = make(QualityJudge(), tmp_path, rows, mode="compare")
    fast, _, _, adaptive_runner = make(
        QualityJudge(), tmp_path, rows, mode="compare", comparisons="adaptive"
    )
    assert adaptive_runner.stats.calls <= 2 * 17 < all_runner.stats.calls == 56
    assert fast[0].rows[0]["chosen"] == full[0].rows[0]["chosen"] == "answer q=8"
    assert fast[0].rows[0]["rejected"] == "answer q=1"


def test_score_mode_pairs_by_score_and_reports_failures(tmp_path: Path) -> None:
    rows = [
        {"prompt": "P1", "responses": ["top q=5", "low q=1", "mid q=3", ""]},
        {"prompt": "P2", "responses": ["", "  "]},  # every candidate fails
        {"prompt": "P3", "responses": ["q=2 one", "q=2 two"]},  # a tie
    ]
    results, stats, backend, _ = make(QualityJudge(), tmp_path, rows, strategy="all")
    pairs = [(r["chosen"], r["rejected"]) for r in results[0].rows]
    assert pairs == [("top q=5", "mid q=3"), ("top q=5", "low q=1"), ("mid q=3", "low q=1")]
    row = results[0].rows[0]
    assert row["scores_chosen"] == {"helpful": 5.0, "honest": 5.0}
    assert row["score_chosen"] == pytest.approx(0.75) and row["mode"] == "score"
    assert stats.prompts_all_failed == 1 and results[1].all_failed
    assert stats.no_pair_reasons == {
        "all candidates failed": 1,
        "tied, or closer than --min-margin": 1,
    }
    assert len(backend.requests) == 5  # empty responses cost nothing


def test_scores_already_in_the_input_need_no_model(tmp_path: Path) -> None:
    judge = {"model": "openai/x", "constitution": {"name": "other", "sha256": "f" * 64}}
    rows = [
        {"prompt": "P", "response": "a", "response_index": 0, "score": 0.9, "judge": judge},
        {"prompt": "P", "response": "b", "response_index": 1, "score": None, "judge": judge},
        {"prompt": "P", "response": "c", "response_index": 2, "score": 0.2, "judge": judge},
    ]
    path = write_jsonl(tmp_path / "scored.jsonl", rows)
    maker = PairMaker(constitution(), PairsOptions(conversational=False))
    (group,) = iter_groups(path, FieldMap())
    result = maker.from_scores(group, path)
    (row,) = result.rows
    assert (row["chosen"], row["rejected"], row["rejected_index"]) == ("a", "c", 2)
    assert row["judge_model"] == "openai/x" and row["constitution_sha256"] == "f" * 64
    assert result.failed == 1
    csv = tmp_path / "scored.csv"  # as `judge score -o scored.csv` writes it
    csv.write_text('prompt,response,score,scores\nP,a,0.8,"{""h"": 4}"\nP,b,,\nP,c,0.3,\n')
    (row,) = maker.from_scores(next(iter_groups(str(csv), FieldMap())), str(csv)).rows
    assert (row["chosen"], row["rejected"], row["scores_chosen"]) == ("a", "c", {"h": 4})
    rows[2]["score"] = 7
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError, match=r"number in \[0, 1\]"):
        maker.from_scores(next(iter_groups(path, FieldMap())), path)


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.lists(st.tuples(st.sampled_from(["x", "y", "z", ""]), st.integers(0, 6)), max_size=5),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.sampled_from(STRATEGIES), st.sampled_from(["score", "compare"]))
def test_no_pair_comes_from_outside_the_input(
    tmp_path_factory: pytest.TempPathFactory, spec: Any, strategy: str, mode: str
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    rows = [
        {"prompt": p, "responses": [f"{t} q={q}" if t else "" for t, q in resp]} for p, resp in spec
    ]
    results, stats, _, _ = make(QualityJudge(), tmp, rows, mode=mode, strategy=strategy)
    for row_in, result in zip(rows, results, strict=True):
        for out in result.rows:
            assert out["prompt"] == row_in["prompt"] + "\n\n"  # the standard form's separator
            assert out["chosen"] in row_in["responses"] and out["rejected"] in row_in["responses"]
            assert out["chosen"].strip() != out["rejected"].strip()
            assert row_in["responses"][out["chosen_index"]] == out["chosen"]
            assert out["margin"] >= 0.1
    assert stats.prompts == len(rows)


def test_sampled_principles_make_one_principle_calls(tmp_path: Path) -> None:
    rows = [{"prompt": "P", "responses": ["a q=1", "b q=2", "c q=3"]}]
    _, _, backend, _ = make(
        QualityJudge(),
        tmp_path,
        rows,
        mode="compare",
        compare_options=CompareOptions(principles="sample", seed=3),
    )
    assert all(r.messages[0].content.count("## ") == 1 for r in backend.requests)


# --------------------------------------------------------------------------- export


def load_dataset(path: Path) -> Any:
    import datasets

    return datasets.load_from_disk(str(path))


def trl_preference_check(example: dict[str, Any], conversational: bool) -> None:
    """What TRL's data utilities require of a preference example with an explicit prompt."""
    supported = {"prompt", "chosen", "rejected", "completion", "messages", "label"}
    assert {k for k in example if k in supported} == {"prompt", "chosen", "rejected"}
    if not conversational:
        assert all(isinstance(example[k], str) for k in ("prompt", "chosen", "rejected"))
        return
    for key in ("prompt", "chosen", "rejected"):
        assert isinstance(example[key], list) and example[key]
        assert all(set(m) == {"role", "content"} for m in example[key])
        assert all(isinstance(m["content"], str) for m in example[key])
    assert example["prompt"][-1]["role"] == "user"
    assert [m["role"] for m in example["chosen"]] == ["assistant"]
    assert [m["role"] for m in example["rejected"]] == ["assistant"]


@pytest.mark.parametrize("conversational", [False, True])
def test_rows_load_as_a_dataset_with_trl_types(tmp_path: Path, conversational: bool) -> None:
    rows = [{"prompt": "P", "responses": ["best q=5", "worst q=1", "mid q=3"]}]
    results, _, _, _ = make(
        QualityJudge(), tmp_path, rows, strategy="all", conversational=conversational
    )
    out = tmp_path / "pairs"
    with open_writer(str(out)) as writer:
        for row in results[0].rows:
            writer.write(row)
    ds = load_dataset(out)
    assert len(ds) == 3
    for example in ds:
        trl_preference_check(example, conversational)
    if conversational:
        assert ds[0]["prompt"] == [{"role": "user", "content": "P"}]
        assert ds[0]["chosen"] == [{"role": "assistant", "content": "best q=5"}]
    assert ds.features["score_chosen"].dtype == "float64"


@pytest.mark.parametrize("name", ["empty", "empty.parquet", "empty.jsonl", "empty.csv"])
@pytest.mark.parametrize("conversational", [False, True])
def test_an_empty_output_still_has_the_columns(
    tmp_path: Path, name: str, conversational: bool
) -> None:
    schema = empty_schema(conversational=conversational, mode="score", principles=["a", "b"])
    path = tmp_path / name
    write_empty(str(path), schema)
    if name == "empty":
        ds = load_dataset(path)
        assert len(ds) == 0 and ds.column_names[:3] == ["prompt", "chosen", "rejected"]
        assert "scores_chosen" in ds.column_names
        if conversational:
            assert ds.features["chosen"].feature["role"].dtype == "string"
    elif name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        assert table.num_rows == 0 and table.schema.names[:3] == ["prompt", "chosen", "rejected"]
    elif name.endswith(".csv"):
        assert path.read_text().startswith("prompt,chosen,rejected,score_chosen")
    else:
        assert path.read_text() == ""


def pairwise_calibration(input_: str) -> Calibration:
    return Calibration(
        kind="pairwise",
        input=input_,
        map=ProbabilityMap("logistic", coef=4.0, intercept=0.0),
        n=100,
        model="fake/judge",
        constitution={"name": "test-pairs", "sha256": "0"},
        source="cal.json",
    )


def test_a_calibration_adds_the_calibrated_probability(tmp_path: Path) -> None:
    rows = [{"prompt": "P", "responses": ["best q=5", "worst q=1"]}]
    backend = FakeBackend(answer=QualityJudge())
    maker = PairMaker(constitution(), calibration=pairwise_calibration("margin"))
    path = write_jsonl(tmp_path / "in.jsonl", rows)

    async def go() -> list[GroupResult]:
        runner = Runner(backend)
        groups = iter_groups(path, FieldMap())
        return [r async for _, r in runner.run(groups, lambda g: maker.judge(runner, g))]

    (row,) = asyncio.run(go())[0].rows
    assert row["p_calibrated"] == pytest.approx(1 / (1 + 2.718281828 ** (-4 * row["margin"])))
    with pytest.raises(CalibrationError, match="mode= compare"):
        PairMaker(constitution(), calibration=pairwise_calibration("p_a"))
    with pytest.raises(CalibrationError, match="mode= score"):
        PairMaker(
            constitution(), PairsOptions(mode="compare"), calibration=pairwise_calibration("margin")
        )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12), st.sampled_from(["\n\n", "\n", "\n### Response:\n", " "]))
def test_a_standard_prompt_ends_with_the_separator_once(prompt: str, separator: str) -> None:
    from judge.tasks.pairs.rows import with_separator

    out = with_separator(prompt, separator)
    if not prompt.strip():
        assert out == prompt  # nothing to separate
        return
    # Unchanged if it already ends with the separator; else its trailing white space (a newline
    # the user left) gives way to the separator, which is never doubled.
    assert out == (prompt if prompt.endswith(separator) else prompt.rstrip() + separator)
    assert with_separator(out, separator) == out
