"""`judge pairs` on conversations: a conversation ending with the user's turn plus responses, or
conversations that share every turn before their last; TRL's forms of the rows; the comparisons'
prompt (the conversation turn by turn, the reference once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from judge.testing import FakeBackend, without_codes
from tests.test_pairs import trl_preference_check
from tests.test_pairs_cli import invoke, judge, out_rows, write_jsonl

__all__ = ["judge"]  # the fixture, used by name

CONTEXT = [
    {"role": "system", "content": "Be kind."},
    {"role": "user", "content": "FIRST"},
    {"role": "assistant", "content": "EARLIER"},
    {"role": "user", "content": "SECOND"},
]


def ending(answer: str) -> list[dict[str, Any]]:
    return [*CONTEXT, {"role": "assistant", "content": answer}]


def test_messages_plus_responses_give_trl_rows_in_both_forms(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    row = {"id": "c", "messages": CONTEXT,
           "responses": ["good q=5", {"role": "assistant", "content": "bad q=1"}]}  # fmt: skip
    src = write_jsonl(tmp_path / "in.jsonl", [row])
    out = tmp_path / "pairs"
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "-o", out)
    assert result.exit_code == 0, result.output
    (example,) = datasets.load_from_disk(str(out))
    trl_preference_check(example, conversational=True)
    assert example["prompt"] == CONTEXT  # every message before the judged turn
    assert example["chosen"] == [{"role": "assistant", "content": "good q=5"}]
    assert example["rejected"] == [{"role": "assistant", "content": "bad q=1"}]
    plain = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--format", "standard")
    assert plain.exit_code == 0, plain.output
    (flat,) = out_rows(plain.stdout)
    trl_preference_check(flat, conversational=False)
    assert flat["prompt"] == (
        "System: Be kind.\n\nUser: FIRST\n\nAssistant: EARLIER\n\nUser: SECOND\n\nAssistant:\n\n"
    )
    assert (flat["chosen"], flat["rejected"]) == ("good q=5", "bad q=1")


def test_conversations_sharing_their_turns_make_one_group(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    rows = [{"messages": ending("mid q=3")}, {"messages": ending("best q=5")},
            {"messages": ending("worst q=1")},
            {"messages": [{"role": "user", "content": "OTHER"},
                          {"role": "assistant", "content": "x q=2"}]}]  # fmt: skip
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--strategy", "all")
    assert result.exit_code == 0, result.output
    got = out_rows(result.stdout)
    assert len(got) == 3  # the three answers to the shared context; OTHER has one answer
    assert all(r["prompt"] == CONTEXT for r in got)
    assert {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in got} == {
        ("best q=5", "mid q=3"),
        ("best q=5", "worst q=1"),
        ("mid q=3", "worst q=1"),
    }


def test_compare_mode_shows_the_conversation_by_turn_and_the_reference_once(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend
) -> None:
    row = {"messages": CONTEXT, "responses": ["good q=5", "bad q=1"], "reference": "REF-ANSWER"}
    src = write_jsonl(tmp_path / "in.jsonl", [row])
    result = invoke(src, "-c", constitution_file, "-m", "fake/judge", "--mode", "compare")
    assert result.exit_code == 0, result.output
    assert judge.requests
    for request in judge.requests:
        user = without_codes(request.messages[-1].content)
        assert user.count("REF-ANSWER") == 1 and user.count("<reference>") == 1
        assert user.index("<context_system>") < user.index("<context_user>")
        assert user.index("</reference>") < user.index("<response_a>")
        assert "SECOND" in user and "<candidate_prompt>" not in user
        assert "<reference>" in request.messages[0].content


def test_calibrate_reads_conversational_labels_and_judges_them_in_context(tmp_path: Path) -> None:
    from judge.calibration.labels import load_labels
    from judge.constitution import load
    from judge.tasks.calibrate import JudgeSetup, LabelJudge

    rows = [
        {"prompt": CONTEXT, "chosen": [{"role": "assistant", "content": "GOOD"}],
         "rejected": [{"role": "assistant", "content": "BAD"}], "reference": "REF-ANSWER"},
        {"messages": CONTEXT, "response": "ONE", "label": 1},
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "labels.jsonl", rows[:1])
    (pair,) = load_labels(path).items
    assert pair.context == CONTEXT and pair.reference == "REF-ANSWER"
    assert {pair.response_a, pair.response_b} == {"GOOD", "BAD"}
    (absolute,) = load_labels(write_jsonl(tmp_path / "abs.jsonl", rows[1:])).items
    assert absolute.context == CONTEXT and absolute.response == "ONE"
    hhh = load(Path(__file__).resolve().parents[1] / "constitutions" / "helpful-honest-harmless.md")
    for mode in ("score", "compare"):
        for request in LabelJudge(hhh, JudgeSetup(mode=mode)).requests(pair):
            user = without_codes(request.messages[-1].content)
            assert "<context_assistant>\nEARLIER\n</context_assistant>" in user
            assert user.count("<reference>\nREF-ANSWER\n</reference>") == 1
