"""A loopback judge whose scores are known: every principle of a completion scores
`known_score(text)`, one call a completion or one a group (shared by the reward tests).

Kept free of judge imports: the TRL test's own venv reads it too."""

from __future__ import annotations

import json
import re
from typing import Any

CONSTITUTION = """name: known
scale: 1-5

## quality

How good the completion is.
"""
# Tag names carry the request's code: <candidate_response_3f9a61c2 id="2">
_ONE = re.compile(r"<candidate_response_(\w+)>\n(.*?)\n</candidate_response_\1>", re.S)
_MANY = re.compile(r'<candidate_response_(\w+) id="(\d+)">\n(.*?)\n</candidate_response_\1>', re.S)


def known_score(text: str) -> int:
    """The judge's score of a completion: 1-5 from its length."""
    return 1 + len(text) % 5


def known_reward(text: str) -> float:
    """The reward judge gives it: the score normalized on the 1-5 scale."""
    return (known_score(text) - 1) / 4


def _user(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The judge's answer to a score request: one verdict, or one per `response_N` of a group."""
    user = _user(body)
    many = _MANY.findall(user)
    if many:
        return {f"response_{k}": _verdict(text) for _, k, text in many}
    found = _ONE.search(user)
    return _verdict(found.group(2) if found else "")


def _verdict(text: str) -> dict[str, Any]:
    return {"quality": {"rationale": "known", "score": known_score(text)}}


def dumps(body: dict[str, Any]) -> str:
    return json.dumps(answer(body))
