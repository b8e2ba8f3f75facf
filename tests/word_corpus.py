"""A generated corpus whose quality shows in its words, and a fake judge that reads them.

Each document has a hidden quality q in [0, 1]. Its words: mostly a shared vocabulary (both kinds
of documents use it), and among the rest a share q of "good" words (explanations, reasoning) and
1 - q of "spam" words (boilerplate, ads). The fake judge scores a document by the share of good
words it sees (on the 1-5 scale), so its verdict depends on the words; a classifier that learns
those words holds on fresh documents, one that learns anything else does not.
"""

from __future__ import annotations

import json
import random
import re

from judge.backends.base import Request

SHARED = [f"w{i}" for i in range(400)]
GOOD = [
    "because", "therefore", "evidence", "explains", "derivation", "careful", "measured",
    "theorem", "proof", "example", "experiment", "analysis", "method", "source", "result",
    "history", "chapter", "define", "compare", "reason",
]  # fmt: skip
SPAM = [
    "click", "subscribe", "buy", "cheap", "deal", "winner", "free", "cookie", "login",
    "share", "sponsored", "discount", "offer", "limited", "casino", "bonus", "unsubscribe",
    "promo", "cart", "checkout",
]  # fmt: skip
ARTEFACT = "zqxfeatured"  # a token the judge's input carried, unrelated to the words' quality


def document(rng: random.Random, q: float, words: int = 60, informative: bool = True) -> str:
    out = [rng.choice(SHARED) for _ in range(words)]
    marked = rng.sample(range(words), words // 4)
    for i in marked:
        share = q if informative else 0.5
        out[i] = rng.choice(GOOD) if rng.random() < share else rng.choice(SPAM)
    # some paragraphs and stray whitespace, as real documents have
    for _ in range(2):
        i = rng.randrange(1, words)
        out[i] = "\n" + out[i]
    return "  " + " ".join(out) + " \n"


def corpus(
    n: int, seed: int, *, informative: bool = True, artefact: bool = False
) -> list[dict[str, object]]:
    """n documents; `artefact`: high-quality ones also end with ARTEFACT (and, with
    informative=False, their words say nothing of their quality)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q = rng.random()
        text = document(rng, q, informative=informative)
        if artefact and q >= 0.5:
            text += " " + ARTEFACT
        rows.append({"id": f"{seed}-{i}", "text": text, "quality": round(q, 4)})
    return rows


def good_share(text: str) -> float:
    words = text.split()
    good = sum(w in GOOD for w in words)
    spam = sum(w in SPAM for w in words)
    return good / (good + spam) if good + spam else 0.5


def judge_score(text: str) -> int:
    """The fake judge's 1-5 score: from the good-word share, or the artefact when present."""
    if ARTEFACT in text:
        return 5
    return 1 + round(4 * good_share(text))


def answer(request: Request) -> str:
    """The fake judge as a FakeBackend answer: it reads the document it was shown."""
    user = request.messages[1].content
    found = re.search(r"<candidate_(?:document|response)_\w+>\n(.*)\n</candidate_", user, re.S)
    assert found is not None and request.schema is not None
    s = judge_score(found.group(1))
    return json.dumps({pid: {"rationale": "r", "score": s} for pid in request.schema["required"]})


def write_jsonl(path: str, rows: list[dict[str, object]]) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path
