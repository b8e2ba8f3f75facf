"""Which of a group's candidates `judge pairs` judges: each distinct text once, none empty."""

from __future__ import annotations

from typing import NamedTuple

from judge.records import Candidate
from judge.tasks.pairs.groups import Group, response_index

Todo = list[tuple[int, Candidate]]  # (response index, candidate) of a group's judged texts


class Distinct(NamedTuple):
    """A group's candidates to judge, and how many had no text or repeated an earlier one."""

    todo: Todo
    empty: int
    dupes: int


def distinct(group: Group) -> Distinct:
    """(response index, candidate) to judge, candidates with no text, duplicates."""
    out: list[tuple[int, Candidate]] = []
    texts: set[str] = set()
    empty = dupes = 0
    for position, cand in enumerate(group.candidates):
        if cand.note:
            empty += 1
            continue
        text = cand.response.strip()
        if text in texts:
            dupes += 1
            continue
        texts.add(text)
        out.append((response_index(cand, position), cand))
    if len({i for i, _ in out}) < len(out):  # response_index fields that repeat: positions
        positions = {id(c): p for p, c in enumerate(group.candidates)}
        out = [(positions[id(c)], c) for _, c in out]
    return Distinct(out, empty, dupes)


def not_judged(group: Group) -> list[str]:
    """Why candidates of `group` were not judged before any call (an empty response): the
    summary's reasons add up to its count of candidates not judged."""
    return [c.note for c in group.candidates if c.note]
