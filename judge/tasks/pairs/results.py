"""What judging one prompt group gave (GroupResult), and the counts over a run (PairsStats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judge.records import Comparison, Usage
from judge.tasks.pairs.groups import Group
from judge.tasks.pairs.selection import Ranked


@dataclass
class GroupResult:
    group: Group
    rows: list[dict[str, Any]]
    candidates: int  # in the input
    judged: int  # distinct candidates with a verdict
    failed: int  # candidates with no verdict (empty, or the judge failed)
    duplicates: int  # candidates whose text repeats an earlier one of the same prompt
    comparisons: list[Comparison] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    reason: str | None = None  # why the prompt gave no pair
    errors: list[str] = field(default_factory=list)
    ranked: list[Ranked] = field(default_factory=list)  # the judged candidates, with scores

    @property
    def all_failed(self) -> bool:
        return self.judged == 0 and self.failed > 0


@dataclass
class PairsStats:
    """Counts for the summary and the dataset card."""

    prompts: int = 0
    candidates: int = 0
    judged: int = 0
    failed: int = 0
    duplicates: int = 0
    prompts_all_failed: int = 0
    prompts_without_pair: int = 0
    no_pair_reasons: dict[str, int] = field(default_factory=dict)
    pairs: int = 0
    comparisons: int = 0  # judged in both orders
    comparisons_failed: int = 0
    ties: int = 0  # comparisons whose verdict is a tie (flipped ones included)
    flips: int = 0  # comparisons whose verdict changed with the order
    first_position_wins: int = 0  # orderings won by the response shown first
    usage: Usage = field(default_factory=Usage)
    errors: dict[str, int] = field(default_factory=dict)
    judges: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (model, name, sha)
    ids: bool = False  # some prompt had an id (so the output has a prompt_id column)

    def add(self, r: GroupResult) -> None:
        self.prompts += 1
        self.ids = self.ids or r.group.prompt_id is not None
        self.candidates += r.candidates
        self.judged += r.judged
        self.failed += r.failed
        self.duplicates += r.duplicates
        self.prompts_all_failed += r.all_failed
        self.pairs += len(r.rows)
        for row in r.rows:
            who = (row["judge_model"], row["constitution"], row["constitution_sha256"])
            self.judges[who] = self.judges.get(who, 0) + 1
        if not r.rows:
            self.prompts_without_pair += 1
            reason = "all candidates failed" if r.all_failed else (r.reason or "no pair")
            self.no_pair_reasons[reason] = self.no_pair_reasons.get(reason, 0) + 1
        for c in r.comparisons:
            if c.p_a is None:
                self.comparisons_failed += 1
                continue
            self.comparisons += 1
            self.ties += c.winner == "tie"
            self.flips += c.flipped
            self.first_position_wins += c.first_position_wins
        self.usage = self.usage + r.usage
        for e in r.errors:
            self.errors[e] = self.errors.get(e, 0) + 1

    @property
    def flip_rate(self) -> float | None:
        return self.flips / self.comparisons if self.comparisons else None

    @property
    def first_position_rate(self) -> float | None:
        """Share of orderings won by the first-shown response; 0.5 is unbiased (ties count 0)."""
        return self.first_position_wins / (2 * self.comparisons) if self.comparisons else None
