"""The things to label, read from the input: pairs of responses, or single responses.

Pairwise items come from rows with `response_a` + `response_b`, DPO rows with `chosen` +
`rejected` (kept in that order as response_a, response_b), or a `responses` list (every pair of
its responses). Absolute items come from `prompt` + `response`, a `responses` list (one item per
response) or a `text` document, read by judge.io's candidate reader like every other command.

An item's `id` is the row's `id` (with `/i` or `/i-j` for a response of a list) or else a hash
of its texts; `key` is a hash of the texts only (a pair's two responses in either order), so
a judgments file from `judge score`, `pairs` or `calibrate` finds its items by content.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from judge.calibration.labels import dpo_swapped
from judge.errors import InputError
from judge.io import conversations as convo
from judge.io import describe, iter_candidates, read_rows

Kind = Literal["pairwise", "absolute"]


@dataclass
class Item:
    id: str
    key: str
    where: str  # FILE:LINE of its row
    prompt: str | None
    response_a: str = ""  # pairwise
    response_b: str = ""
    response: str = ""  # absolute
    is_document: bool = False
    swapped: bool = False  # pairwise: response_a is shown on the right
    pair: bool = False
    context: list[dict[str, str]] | None = None  # a conversation before the judged turn
    reference: str | None = None

    def public(self) -> dict[str, Any]:
        """What the page shows: a pair in display order (left, right), never which is which;
        a conversation turn by turn (`context`), and the reference answer."""
        out: dict[str, Any] = {"id": self.id, "prompt": self.prompt}
        out.update(context=self.context, reference=self.reference)
        if self.pair:
            left, right = (
                (self.response_b, self.response_a)
                if self.swapped
                else (self.response_a, self.response_b)
            )
            out.update(left=left, right=right)
        else:
            out.update(response=self.response, document=self.is_document)
        return out


def content_key(prompt: Any, *texts: Any) -> str:
    """The same for the same prompt and texts; a pair's texts in either order."""
    parts = sorted(json.dumps(t, ensure_ascii=False) for t in texts) if len(texts) > 1 else texts
    blob = json.dumps([prompt, *parts], ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(blob).hexdigest()[:16]


def detect_kind(row: Any) -> Kind:
    """pairwise when the row has response_a + response_b or chosen + rejected."""
    if isinstance(row, dict) and (
        ("response_a" in row and "response_b" in row) or ("chosen" in row and "rejected" in row)
    ):
        return "pairwise"
    return "absolute"


def load_items(path: str, kind: Kind | None = None, seed: int = 0) -> tuple[Kind, list[Item]]:
    """The kind (detected from the first row when None) and every item, in input order;
    InputError with FILE:LINE for a bad row. The input is read once (it may be stdin)."""
    rows = list(read_rows(path))
    kind = kind or detect_kind(rows[0][1])
    items = list(_pairs(path, rows, seed) if kind == "pairwise" else _absolutes(path, rows))
    seen: dict[str, int] = {}
    for item in items:  # a repeated id (or repeated texts) gets #2, #3, ...
        n = seen.get(item.id, 0) + 1
        seen[item.id] = n
        if n > 1:
            item.id = f"{item.id}#{n}"
    return kind, items


def _row_id(row: dict[str, Any]) -> str | None:
    value = row.get("id")
    if value is None or isinstance(value, (dict, list)) or str(value) == "":
        return None
    return str(value)


def _text(row: dict[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if value is not None and not isinstance(value, str):  # an assistant message (TRL's form)
        try:
            return convo.answer_value(value, name)
        except convo.ConversationError:
            pass
    if not isinstance(value, str):
        kind = "missing" if value is None else f"a {type(value).__name__}"
        raise InputError(f"{name!r} is {kind}, expected text", where)
    return value


def _prompt(row: dict[str, Any], where: str) -> tuple[str | None, list[dict[str, str]] | None]:
    """The prompt's text, and its messages when it is a conversation (`prompt` or `messages`
    ending with the user's turn, as `judge pairs` reads and writes them)."""
    name, value = "prompt", row.get("prompt")
    if value in (None, "") and isinstance(row.get("messages"), list):
        name, value = "messages", row["messages"]
    if value is None or value == "":
        return None, None
    try:
        return convo.prompt_value(value, name)
    except convo.ConversationError as e:
        raise InputError(str(e), where) from None


def _reference(row: dict[str, Any]) -> str | None:
    value = row.get("reference")
    return value if isinstance(value, str) and value else None


def _responses(row: dict[str, Any], where: str) -> list[str] | None:
    value = row.get("responses")
    if isinstance(value, str) and value.strip().startswith("["):  # CSV: a JSON array as text
        try:
            value = json.loads(value)
        except ValueError:
            raise InputError("'responses' is not a JSON array of texts", where) from None
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("'responses' must be a list of texts", where)
    return value


def _pairs(path: str, rows: list[tuple[int, Any]], seed: int) -> Iterator[Item]:
    for line, row in rows:
        where = describe(path, line)
        if not isinstance(row, dict):
            raise InputError("expected an object with named fields", where)
        prompt, context = _prompt(row, where)
        rid = _row_id(row)
        found: list[tuple[str | None, str, str]]
        if row.get("response_a") is not None or row.get("response_b") is not None:
            found = [(None, _text(row, "response_a", where), _text(row, "response_b", where))]
        elif row.get("chosen") is not None or row.get("rejected") is not None:
            found = [(None, _text(row, "chosen", where), _text(row, "rejected", where))]
        elif (responses := _responses(row, where)) is not None:
            found = [
                (f"{i}-{j}", responses[i], responses[j])
                for i, j in itertools.combinations(range(len(responses)), 2)
            ]
        else:
            keys = ", ".join(list(row)[:12])
            raise InputError(
                "a pair needs response_a and response_b, chosen and rejected, or a responses "
                f"list (the row has: {keys}); for single responses use {{opt:kind}} absolute",
                where,
            )
        for suffix, a, b in found:
            key = content_key(prompt, a, b)
            base = rid if rid is not None else f"h{content_key(prompt, a, b, 'pair')}"
            yield Item(
                id=base if suffix is None else f"{base}/{suffix}",
                key=key,
                where=where,
                prompt=prompt,
                response_a=a,
                response_b=b,
                swapped=dpo_swapped(seed, prompt, a, b),
                pair=True,
                context=context,
                reference=_reference(row),
            )


def _absolutes(path: str, rows: list[tuple[int, Any]]) -> Iterator[Item]:
    for cand in iter_candidates(path, rows=rows):
        where = describe(path, cand.row_index)
        rid = _row_id(cand.row)
        key = content_key(cand.prompt, cand.response)
        base = rid if rid is not None else f"h{key}"
        yield Item(
            id=base if cand.response_index is None else f"{base}/{cand.response_index}",
            key=key,
            where=where,
            prompt=cand.prompt,
            response=cand.response,
            is_document=cand.is_document,
            context=cand.context,
            reference=cand.reference,
        )
