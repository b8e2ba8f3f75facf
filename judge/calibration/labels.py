"""Human label files for `judge calibrate`: pairwise preferences and absolute ratings.

Three shapes, detected from the first row's fields (or forced with `kind`):

- pairwise: `prompt`, `response_a`, `response_b` and a preference (`preference`,
  `human_preference`, `winner` or `label`): `a`, `b` or `tie` in any case; also `1`/`2`/`0`
  (PandaLM's votes: 1 = response_a, 2 = response_b, 0 = tie), `model_a`/`model_b` and
  `tie (bothbad)` (Chatbot Arena), `response_a`/`response_b`. Other codes: `label_map`.
- DPO-style: `prompt`, `chosen`, `rejected`; chosen is preferred. The judge sees them as a and b in
  a seeded random order (from a hash of the seed and the texts, so it does not depend on row
  order), recorded in `PairItem.swapped`.
- absolute: `prompt` (optional) and `response` or `text`, with a numeric label (`label`,
  `human_score`, `human_label` or `rating`).

Several annotators: a list in the label field, or a separate annotators field (`annotators`,
`votes`, `meta.votes`, `meta.annotators`; a dotted name reaches into nested objects). The main
label is then the majority (for pairwise labels with no single most common vote: `tie`; for
numbers with no single most common value: the lower median), unless the row also has a main label.
The file is read into memory: label sets are small, and every metric needs all of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from judge.calibration.votes import number_majority, pair_majority
from judge.errors import InputError
from judge.io import conversations as convo
from judge.io import describe, read_rows

Kind = Literal["pairwise", "absolute"]
PREFERENCES = ("a", "b", "tie")
PAIRWISE_LABEL_FIELDS = ("preference", "human_preference", "winner", "label")
ABSOLUTE_LABEL_FIELDS = ("label", "human_score", "human_label", "rating")
ANNOTATOR_FIELDS = ("annotators", "votes", "meta.votes", "meta.annotators")
PREFERENCE_CODES: dict[str, str] = {
    "a": "a",
    "b": "b",
    "tie": "tie",
    "1": "a",
    "2": "b",
    "0": "tie",
    "response_a": "a",
    "response_b": "b",
    "model_a": "a",
    "model_b": "b",
    "tie (bothbad)": "tie",
}
_MISSING = object()


@dataclass(frozen=True)
class LabelFields:
    """Field names in the label file; None means: detect from the usual names."""

    prompt: str = "prompt"
    response_a: str = "response_a"
    response_b: str = "response_b"
    chosen: str = "chosen"
    rejected: str = "rejected"
    response: str = "response"
    text: str = "text"
    label: str | None = None
    annotators: str | None = None


@dataclass
class PairItem:
    index: int
    where: str  # FILE:LINE, for messages and for judgments.jsonl
    prompt: str | None
    response_a: str  # as shown to the judge first
    response_b: str
    preference: str  # the humans' (majority) preference: "a", "b" or "tie"
    annotators: list[str] | None = None
    swapped: bool = False  # DPO rows: True when `chosen` is shown as b
    row: dict[str, Any] = field(default_factory=dict)
    context: list[dict[str, str]] | None = None  # a prompt given as messages
    reference: str | None = None


@dataclass
class AbsoluteItem:
    index: int
    where: str
    prompt: str | None
    response: str
    label: float
    annotators: list[float] | None = None
    is_document: bool = False
    row: dict[str, Any] = field(default_factory=dict)
    context: list[dict[str, str]] | None = None  # a prompt given as messages
    reference: str | None = None


LabelItem = PairItem | AbsoluteItem


@dataclass
class LabelSet:
    kind: Kind
    shape: str  # "preference", "dpo" or "absolute"
    items: list[LabelItem]
    fields: dict[str, str]  # role -> the field actually read, for the report

    def pairs(self) -> list[PairItem]:
        return [i for i in self.items if isinstance(i, PairItem)]

    def absolutes(self) -> list[AbsoluteItem]:
        return [i for i in self.items if isinstance(i, AbsoluteItem)]

    @property
    def has_annotators(self) -> bool:
        return any(i.annotators and len(i.annotators) > 1 for i in self.items)


def get_field(row: dict[str, Any], name: str) -> Any:
    """row[name], or for a dotted name the nested value (a literal key with dots wins)."""
    if name in row:
        return row[name]
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def has_field(row: dict[str, Any], name: str) -> bool:
    return get_field(row, name) is not _MISSING


def parse_label_map(spec: str | None) -> dict[str, str]:
    """`--label-map "0=a,1=b"` -> {"0": "a", "1": "b"}."""
    out: dict[str, str] = {}
    if not spec:
        return out
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        value = value.strip().lower()
        if not sep or not key.strip() or value not in PREFERENCES:
            raise InputError(
                f"bad {{opt:label_map}} entry {part.strip()!r}: write VALUE=a, VALUE=b or "
                "VALUE=tie, "
                'separated by commas, e.g. {opt:label_map} "0=a,1=b"'
            )
        out[key.strip().lower()] = value
    return out


def dpo_swapped(seed: int, prompt: str | None, chosen: str, rejected: str) -> bool:
    """Whether `chosen` is shown second: a coin flip fixed by the seed and the texts."""
    blob = json.dumps([seed, prompt, chosen, rejected], ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    return hashlib.sha256(blob).digest()[0] % 2 == 1


def _keys(row: dict[str, Any]) -> str:
    keys = ", ".join(str(k) for k in list(row)[:12])
    return f"the row has: {keys}" + (" ..." if len(row) > 12 else "")


def _text(row: dict[str, Any], name: str, where: str, *, optional: bool = False) -> str | None:
    value = get_field(row, name)
    if value is _MISSING or value is None:
        if optional:
            return None
        raise InputError(
            f"no {name!r} field ({_keys(row)}); map yours with the field options", where
        )
    try:  # a response may be an assistant message (TRL's conversational chosen/rejected)
        return value if isinstance(value, str) else convo.answer_value(value, name)
    except convo.ConversationError:
        raise InputError(f"{name!r} is a {type(value).__name__}, expected text", where) from None


def _prompt(row: dict[str, Any], name: str, where: str) -> tuple[str | None, Any, str | None]:
    """(the prompt's text, its messages or None, the reference): the prompt field, or
    `messages` ending with the user's turn (judge.io.conversations)."""
    value = get_field(row, name)
    if value in (_MISSING, None) and isinstance(row.get("messages"), list):
        name, value = "messages", row["messages"]
    ref = row.get("reference") if isinstance(row.get("reference"), str) else None
    try:
        text, context = convo.prompt_value(value, name) if isinstance(value, list) else (None, None)
    except convo.ConversationError as e:
        raise InputError(str(e), where) from None
    return text or _text(row, name, where, optional=True), context, ref or None


def _as_list(value: Any) -> list[Any] | None:
    """A list of votes, also from CSV, where a list arrives as JSON text."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


class _Reader:
    """Reads rows once the fields are known (decided from the first row)."""

    def __init__(self, fields: LabelFields, label_map: dict[str, str], seed: int) -> None:
        self.fields = fields
        self.label_map = label_map
        self.seed = seed
        self.label: str | None = None  # the main label's field; None: the annotators' majority
        self.annotators: str | None = None
        self.numeric_codes: set[str] = set()  # preference codes seen as numbers, for the 0/1 check
        self.numeric_where = ""

    def choose_fields(self, row: dict[str, Any], where: str, candidates: tuple[str, ...]) -> None:
        f = self.fields
        if f.label is not None:
            if not has_field(row, f.label):
                raise InputError(f"no label field {f.label!r} ({_keys(row)})", where)
            self.label = f.label
        else:
            self.label = next((n for n in candidates if has_field(row, n)), None)
        if f.annotators is not None:
            if not has_field(row, f.annotators):
                raise InputError(f"no annotators field {f.annotators!r} ({_keys(row)})", where)
            self.annotators = f.annotators
        elif self.label is not None and _as_list(get_field(row, self.label)) is not None:
            self.annotators = self.label  # a list of labels in the label field
        else:
            # Guessed names only count when they hold a list (a `votes` count is no annotators).
            self.annotators = next(
                (n for n in ANNOTATOR_FIELDS if _as_list(get_field(row, n)) is not None), None
            )
        if self.label is None and self.annotators is None:
            raise InputError(
                f"no label field: looked for {', '.join(candidates)} ({_keys(row)}); "
                "name yours with {opt:label_field}",
                where,
            )

    def used(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.label is not None and self.label != self.annotators:
            out["label"] = self.label
        if self.annotators is not None:
            out["annotators"] = self.annotators
        return out

    def votes(self, row: dict[str, Any], where: str) -> list[Any] | None:
        if self.annotators is None:
            return None
        value = get_field(row, self.annotators)
        if value is _MISSING or value is None:
            if self.label is None or self.label == self.annotators:
                raise InputError(f"no labels in {self.annotators!r} ({_keys(row)})", where)
            return None  # this row has its main label only
        votes = _as_list(value)
        if votes is None and self.annotators == self.label:
            votes = [value]  # one label where other rows list several
        if votes is None:
            raise InputError(
                f"{self.annotators!r} is {value!r}, not a list of labels (one per annotator)", where
            )
        if not votes:
            raise InputError(f"{self.annotators!r} is an empty list: no labels", where)
        return votes

    def main(self, row: dict[str, Any], where: str) -> Any:
        """The main label's raw value, or _MISSING when it comes from the annotators."""
        if self.label is None or self.label == self.annotators:
            return _MISSING
        value = get_field(row, self.label)
        if value is _MISSING:
            raise InputError(f"no label field {self.label!r} ({_keys(row)})", where)
        return value

    def preference(self, value: Any, name: str, where: str) -> str:
        if isinstance(value, bool) or value is None:
            raise InputError(f"{name!r} is {value!r}, expected a, b or tie", where)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        key = str(value).strip().lower()
        if key in self.label_map:
            return self.label_map[key]
        if key in PREFERENCE_CODES:
            if key in ("0", "1", "2"):
                self.numeric_codes.add(key)
                self.numeric_where = self.numeric_where or where
            return PREFERENCE_CODES[key]
        raise InputError(
            f"{name!r} is {value!r}; a preference is a, b or tie (any case), 1, 2 or 0 "
            "(1 = response_a, 2 = response_b, 0 = tie), model_a or model_b; map other codes "
            'with {opt:label_map}, e.g. {opt:label_map} "first=a,second=b,same=tie"',
            where,
        )

    def number(self, value: Any, name: str, where: str) -> float:
        if isinstance(value, bool):
            return float(value)
        number = float("nan")
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value.strip())
        if not math.isfinite(number):
            raise InputError(f"{name!r} is {value!r}, expected a number", where)
        return number


def detect_kind(row: dict[str, Any], fields: LabelFields) -> tuple[Kind, str]:
    if has_field(row, fields.response_a) and has_field(row, fields.response_b):
        return "pairwise", "preference"
    if has_field(row, fields.chosen) and has_field(row, fields.rejected):
        return "pairwise", "dpo"
    if has_field(row, fields.response) or has_field(row, fields.text):
        return "absolute", "absolute"
    raise InputError(
        f"cannot tell the kind of labels ({_keys(row)}): give {fields.response_a} + "
        f"{fields.response_b} + a preference, {fields.chosen} + {fields.rejected}, or "
        f"{fields.response} (or {fields.text}) + a numeric label; map yours with "
        f"{{opt:prompt_field}}, "
        "{opt:response_a_field}, {opt:response_b_field}, {opt:chosen_field}, {opt:rejected_field}, "
        "{opt:response_field}, {opt:text_field}, {opt:label_field}"
    )


def load_labels(
    path: str,
    fields: LabelFields | None = None,
    *,
    kind: Kind | None = None,
    label_map: dict[str, str] | None = None,
    seed: int = 0,
    rows: Iterable[tuple[int, Any]] | None = None,
) -> LabelSet:
    """Read a label file (or `rows`, with `path` naming them in messages); InputError naming
    FILE:LINE and the row's fields for a bad row."""
    fields = fields or LabelFields()
    reader = _Reader(fields, label_map or {}, seed)
    items: list[LabelItem] = []
    shape = ""
    used: dict[str, str] = {}
    for line, row in read_rows(path) if rows is None else rows:
        where = describe(path, line)
        if not isinstance(row, dict):
            raise InputError("expected an object with named fields", where)
        if not shape:
            detected, shape = detect_kind(row, fields)
            if kind is not None and kind != detected:
                shape = _forced_shape(row, fields, kind, where)
            if shape != "dpo":
                names = ABSOLUTE_LABEL_FIELDS if shape == "absolute" else PAIRWISE_LABEL_FIELDS
                reader.choose_fields(row, where, names)
        index = len(items)
        if shape == "absolute":
            items.append(_absolute(reader, row, index, where, used))
        else:
            items.append(_pair(reader, row, index, where, shape, used))
    if reader.numeric_codes and reader.numeric_codes <= {"0", "1"} and not reader.label_map:
        raise InputError(
            "the preferences are only the numbers 0 and 1; numbers are read as 1 = response_a, "
            "2 = response_b, 0 = tie (as in PandaLM). If yours mean 0 = response_a and "
            '1 = response_b, say so with {opt:label_map} "0=a,1=b"',
            reader.numeric_where,
        )
    used.update(reader.used())
    return LabelSet(
        kind="absolute" if shape == "absolute" else "pairwise",
        shape=shape,
        items=items,
        fields=used,
    )


def _forced_shape(row: dict[str, Any], fields: LabelFields, kind: Kind, where: str) -> str:
    """The shape of `kind` that the row has (detection chose the other kind)."""
    f = fields
    if kind == "absolute":
        has, shape = has_field(row, f.response) or has_field(row, f.text), "absolute"
        needs = f"a {f.response!r} or {f.text!r} field"
    else:
        has, shape = has_field(row, f.chosen) and has_field(row, f.rejected), "dpo"
        needs = f"{f.response_a!r} and {f.response_b!r}, or {f.chosen!r} and {f.rejected!r}"
    if not has:
        raise InputError(f"{{opt:kind}} {kind} needs {needs} ({_keys(row)})", where)
    return shape


def _pair(
    reader: _Reader, row: dict[str, Any], index: int, where: str, shape: str, used: dict[str, str]
) -> PairItem:
    f = reader.fields
    prompt, context, reference = _prompt(row, f.prompt, where)
    more = {"context": context, "reference": reference}
    if shape == "dpo":
        chosen = _text(row, f.chosen, where) or ""
        rejected = _text(row, f.rejected, where) or ""
        swapped = dpo_swapped(reader.seed, prompt, chosen, rejected)
        used.update(prompt=f.prompt, chosen=f.chosen, rejected=f.rejected)
        a, b = (rejected, chosen) if swapped else (chosen, rejected)
        return PairItem(
            index, where, prompt, a, b, "b" if swapped else "a", None, swapped, row, **more
        )
    a = _text(row, f.response_a, where) or ""
    b = _text(row, f.response_b, where) or ""
    used.update(prompt=f.prompt, response_a=f.response_a, response_b=f.response_b)
    raw = reader.votes(row, where)
    name = str(reader.annotators)
    votes = None if raw is None else [reader.preference(v, name, where) for v in raw]
    main = reader.main(row, where)
    if main is _MISSING:
        assert votes is not None  # reader.votes raises when neither is there
        preference = pair_majority(votes)
    else:
        preference = reader.preference(main, str(reader.label), where)
    return PairItem(index, where, prompt, a, b, preference, votes, False, row, **more)


def _absolute(
    reader: _Reader, row: dict[str, Any], index: int, where: str, used: dict[str, str]
) -> AbsoluteItem:
    f = reader.fields
    prompt, context, reference = _prompt(row, f.prompt, where)
    name = f.response if has_field(row, f.response) else f.text
    response = _text(row, name, where) or ""
    used.update(prompt=f.prompt, response=name)
    raw = reader.votes(row, where)
    votes = None if raw is None else [reader.number(v, str(reader.annotators), where) for v in raw]
    main = reader.main(row, where)
    if main is _MISSING:
        assert votes is not None
        label = number_majority(votes)
    else:
        label = reader.number(main, str(reader.label), where)
    return AbsoluteItem(
        index, where, prompt, response, label, votes, prompt is None, row, context, reference
    )
