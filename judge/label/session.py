"""One labelling session: which item a page shows, decisions, skips, undo, progress, agreement.

The labels file is the truth: what this annotator has labelled is read from it, so a reopened
session continues at the first unlabelled item, and two pages (or two servers on one file) never
label an item twice. A page holds its item for a while (a lease) so that two pages of the same
annotator get different items. Skips live only in this session: a skipped item comes back when
the others are done, and on the next start.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from judge.calibration.metrics import cohen_kappa
from judge.constitution import Constitution
from judge.errors import InputError
from judge.io import read_rows
from judge.label.items import Item, Kind
from judge.label.store import LabelStore

LEASE_SECONDS = 600.0
MAX_SECONDS = 3600.0  # a decision's time is capped: a page left open overnight is no data
PAIR_CHOICES = ("left", "right", "tie")


@dataclass
class Session:
    items: Sequence[Item]
    store: LabelStore
    annotator: str
    kind: Kind
    scale: tuple[int, int] = (1, 5)
    constitution: Constitution | None = None
    others: Sequence[str] = ()  # other annotators' label files, for agreement
    labelled_now: int = 0  # decisions made (and not undone) in this session
    skipped: set[str] = field(default_factory=set)
    leases: dict[str, tuple[str, float]] = field(default_factory=dict)  # page -> (id, when)
    pins: dict[str, str] = field(default_factory=dict)  # page -> id to show next (after undo)
    # page -> its ("label"|"skip", id) actions: a page undoes only its own. A page is named by
    # a random token it keeps (app.js), so no other page can undo for it.
    undo_stacks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {item.id: item for item in self.items}
        self._mine_cache: tuple[int, int, dict[str, dict[str, Any]]] = (-1, 0, {})
        self._seconds: list[float] = []  # sorted: the times of this annotator's decisions
        self._theirs: list[dict[str, Any]] = []  # the file's rows of other annotators
        self._first = 0  # no item before this index is unlabelled (see _current)
        for path in self.others:
            _read_other(path)  # a bad file stops the start, with FILE:LINE

    # ------------------------------------------------------------------ reading the file

    def _mine(self, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """This annotator's rows by id, updated with the rows read since the last call (the
        store's list only grows until its generation changes), so 10,000 labels cost what 10
        do."""
        generation, seen, mine = self._mine_cache
        if generation != self.store.generation or seen > len(rows):
            seen, mine = 0, {}
            self._seconds, self._theirs, self._first = [], [], 0
        for r in rows[seen:]:
            if str(r.get("id")) not in self.by_id:
                continue
            if str(r.get("annotator") or "") != self.annotator:
                self._theirs.append(r)
                continue
            mine[str(r.get("id"))] = r
            took = r.get("seconds")
            if isinstance(took, (int, float)) and not isinstance(took, bool) and took > 0:
                bisect.insort(self._seconds, float(took))
        self._mine_cache = (self.store.generation, len(rows), mine)
        return mine

    def _current(self, page: str, mine: dict[str, dict[str, Any]]) -> Item | None:
        pinned = self.pins.get(page)
        if pinned is not None and pinned not in mine:
            return self.by_id[pinned]
        self.pins.pop(page, None)
        now = time.monotonic()
        held = {i for p, (i, t) in self.leases.items() if p != page and now - t < LEASE_SECONDS}
        own = self.leases.get(page)
        if own is not None and own[0] not in mine and own[0] not in self.skipped:
            return self.by_id[own[0]]
        # Items before the first unlabelled one need no look (mine only grows, until the
        # file is read again, which starts the count over: _mine).
        while self._first < len(self.items) and self.items[self._first].id in mine:
            self._first += 1
        for blocked in (self.skipped | held, held, set()):
            for item in itertools.islice(self.items, self._first, None):
                if item.id not in mine and item.id not in blocked:
                    if item.id in self.skipped:  # the rest is done: skipped items come back
                        self.skipped.clear()
                    self.leases[page] = (item.id, now)
                    return item
        return None

    # ------------------------------------------------------------------ actions

    def state(self, page: str) -> dict[str, Any]:
        rows = self.store.rows()
        mine = self._mine(rows)
        item = self._current(page, mine)
        return {
            "kind": self.kind,
            "annotator": self.annotator,
            "scale": list(self.scale),
            "principles": self._principles(),
            "item": None if item is None else item.public(),
            "progress": self._progress(mine),
            "agreement": self._agreement(rows, mine),
            "can_undo": bool(self.undo_stacks.get(page)),
        }

    def progress(self) -> dict[str, Any]:
        """Done, left and the pace, without giving any page an item."""
        return self._progress(self._mine(self.store.rows()))

    def decide(self, page: str, item_id: str, choice: str, seconds: float) -> bool:
        """Write a decision; False when it was already decided (by another page)."""
        item = self._item(item_id)
        row: dict[str, Any] = {"id": item.id}
        if self.kind == "pairwise":
            if choice not in PAIR_CHOICES:
                raise InputError(f"a pairwise choice is left, right or tie, not {choice!r}")
            left, right = ("b", "a") if item.swapped else ("a", "b")
            preference = {"left": left, "right": right, "tie": "tie"}[choice]
            row.update(_asked(item), response_a=item.response_a)
            row.update(response_b=item.response_b, preference=preference)
        else:
            low, high = self.scale
            if not choice.isdigit() or not low <= int(choice) <= high:
                raise InputError(f"a rating is a whole number from {low} to {high}")
            if item.is_document:
                row["text"] = item.response
            else:
                row.update(_asked(item), response=item.response)
            row["label"] = int(choice)
        row["annotator"] = self.annotator
        if self.kind == "pairwise":
            row["swapped"] = item.swapped
        row["seconds"] = round(min(MAX_SECONDS, max(0.0, seconds)), 1)
        row["time"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        row["source"] = item.where
        self.leases.pop(page, None)
        if not self.store.add(row):
            return False
        self.labelled_now += 1
        self.undo_stacks.setdefault(page, []).append(("label", item.id))
        return True

    def skip(self, page: str, item_id: str) -> None:
        self._item(item_id)
        self.skipped.add(item_id)
        self.leases.pop(page, None)
        self.pins.pop(page, None)
        self.undo_stacks.setdefault(page, []).append(("skip", item_id))

    def undo(self, page: str) -> str | None:
        """Take back this page's last decision or skip: the item shows again."""
        stack = self.undo_stacks.get(page)
        if not stack:
            return None
        action, item_id = stack.pop()
        if action == "label" and self.store.remove(item_id, self.annotator) is not None:
            self.labelled_now -= 1
        self.skipped.discard(item_id)
        self.pins[page] = item_id
        return item_id

    def _item(self, item_id: str) -> Item:
        if item_id not in self.by_id:
            raise InputError(f"no item {item_id!r} in this session")
        return self.by_id[item_id]

    # ------------------------------------------------------------------ what the page shows

    def _principles(self) -> list[dict[str, Any]]:
        if self.constitution is None:
            return []
        return [
            {
                "id": p.id,
                "title": p.title or p.id,
                "statement": p.statement,
                "scale": str(p.scale),
                "rubric": [[level, text] for level, text in sorted(p.rubric.items())],
            }
            for p in self.constitution.principles
        ]

    def _progress(self, mine: dict[str, dict[str, Any]]) -> dict[str, Any]:
        done = len(mine)
        left = len(self.items) - done
        seconds = self._seconds  # kept by _mine, which every caller has just called
        per_item = statistics.median(seconds) if seconds else None
        return {
            "done": done,
            "left": left,
            "total": len(self.items),
            "session": self.labelled_now,
            "skipped": len(self.skipped),
            "per_minute": None if not per_item else round(60.0 / per_item, 1),
            "eta_seconds": None if per_item is None else round(left * per_item),
        }

    def _agreement(
        self, rows: list[dict[str, Any]], mine: dict[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Cohen's kappa between this annotator and each other one, on the items both labelled."""
        theirs: dict[str, dict[str, Any]] = {}
        rows = list(self._theirs)  # the file's rows of others, kept by _mine
        for path in self.others:
            try:
                rows = rows + _read_other(path)
            except InputError:
                continue  # a file being rewritten by its own server: next time
        for r in rows:
            who = str(r.get("annotator") or "")
            if who != self.annotator and str(r.get("id")) in mine:
                theirs.setdefault(who, {})[str(r.get("id"))] = r
        out = []
        for who, labels in sorted(theirs.items()):
            pairs = [(_value(mine[i], self.kind), _value(r, self.kind)) for i, r in labels.items()]
            pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
            if not pairs:
                continue
            a, b = [p[0] for p in pairs], [p[1] for p in pairs]
            if self.kind == "pairwise":
                kappa = cohen_kappa(a, b, labels=("a", "tie", "b"))
            else:
                levels = sorted(set(a) | set(b) | set(map(float, range(*self._span()))))
                kappa = cohen_kappa(a, b, weights="quadratic", labels=levels)
            same = sum(x == y for x, y in pairs) / len(pairs)
            out.append(
                {"annotator": who or "(none)", "n": len(pairs), "kappa": kappa, "same": same}
            )
        return out

    def _span(self) -> tuple[int, int]:
        return self.scale[0], self.scale[1] + 1


def _value(row: dict[str, Any], kind: Kind) -> Any:
    if kind == "pairwise":
        v = str(row.get("preference", "")).strip().lower()
        return v if v in ("a", "b", "tie") else None
    label = row.get("label")
    return float(label) if isinstance(label, (int, float)) and not isinstance(label, bool) else None


def _read_other(path: str) -> list[dict[str, Any]]:
    return [row for _, row in read_rows(path) if isinstance(row, dict)]


def _asked(item: Item) -> dict[str, Any]:
    """A label row's request, as calibrate reads it: the prompt, or the conversation before
    the judged turn (`messages`, ending with the user's turn), and the reference answer."""
    out: dict[str, Any] = (
        {"prompt": item.prompt} if item.context is None else {"messages": item.context}
    )
    if item.reference is not None:
        out["reference"] = item.reference
    return out
