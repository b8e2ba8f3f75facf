"""Pair selection and the rows of a DPO preference dataset.

Strategies, on the judged candidates of one prompt (each with a score in [0, 1]):
- `best-worst`: the best against the worst (Self-Rewarding Language Models),
- `best-random`: the best against one of the others drawn at random (UltraFeedback binarized),
- `all`: every pair whose margin is at least --min-margin.
A pair is kept only if the chosen response beats the rejected one by at least the margin (and by
more than nothing: ties never make a pair), their texts differ (after stripping white space), and
the judge, if it compared them directly, preferred the chosen one.

Rows follow TRL's preference format: `prompt`, `chosen`, `rejected` as strings, or in the
conversational form with an explicit prompt (`prompt` a list of messages ending with the user's
turn, `chosen`/`rejected` a list holding the one assistant message), plus provenance columns.
No column is named `completion`, `messages` or `label`, which TRL would read as another format.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.errors import InputError

STRATEGIES = ("best-worst", "best-random", "all")
TIE = 1e-9  # margins at or below this are ties, whatever --min-margin says

Messages = list[dict[str, str]]
Allowed = Callable[[int, int], bool]  # (chosen index, rejected index) -> may they be paired


@dataclass(frozen=True)
class Ranked:
    """A judged candidate of one prompt."""

    index: int  # position among the prompt's responses (chosen_index / rejected_index)
    text: str
    score: float  # in [0, 1], higher is better
    scores: dict[str, float | None] | None = None  # per principle, where known


@dataclass
class Selection:
    pairs: list[tuple[Ranked, Ranked]] = field(default_factory=list)  # (chosen, rejected)
    reason: str | None = None  # why there is no pair


def _same(a: Ranked, b: Ranked) -> bool:
    return a.text.strip() == b.text.strip()


def select(
    candidates: Sequence[Ranked],
    strategy: str = "best-worst",
    *,
    min_margin: float = 0.0,
    rng: random.Random | None = None,
    allowed: Allowed | None = None,
) -> Selection:
    """The preference pairs of one prompt's candidates under a strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    ranked = sorted(candidates, key=lambda c: (-c.score, c.index))
    if len(ranked) < 2:
        return Selection(reason="fewer than 2 judged candidates")
    distinct = {c.text.strip() for c in ranked}
    if len(distinct) < 2:
        return Selection(reason="all judged candidates have the same text")

    def ok(chosen: Ranked, rejected: Ranked) -> bool:
        margin = chosen.score - rejected.score
        return (
            margin > TIE
            and margin >= min_margin
            and not _same(chosen, rejected)
            and (allowed is None or allowed(chosen.index, rejected.index))
        )

    best = ranked[0]
    pairs: list[tuple[Ranked, Ranked]] = []
    if strategy == "best-worst":
        worst = next(c for c in reversed(ranked) if not _same(best, c))
        if ok(best, worst):
            pairs.append((best, worst))
    elif strategy == "best-random":
        pool = [c for c in ranked[1:] if ok(best, c)]
        if pool:
            pairs.append((best, (rng or random.Random(0)).choice(pool)))
    else:
        pairs = [(c, r) for k, c in enumerate(ranked) for r in ranked[k + 1 :] if ok(c, r)]
    return Selection(pairs, None if pairs else "tied, or closer than --min-margin")


# --------------------------------------------------------------------------- rows


def user_prompt(prompt: str | Messages) -> Messages:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def assistant(text: str) -> Messages:
    return [{"role": "assistant", "content": text}]


@dataclass(frozen=True)
class Provenance:
    """Where a pair comes from: the judge, the constitution, the way it was judged."""

    model: str
    constitution: str
    sha256: str
    mode: str  # "score" | "compare"
    calibration: str | None = None


def pair_row(
    prompt: str | Messages,
    chosen: Ranked,
    rejected: Ranked,
    provenance: Provenance,
    *,
    conversational: bool = False,
    prompt_id: str | None = None,
    p_chosen: float | None = None,
) -> dict[str, Any]:
    """One output row. A prompt given as messages needs `conversational`."""
    if conversational:
        row: dict[str, Any] = {
            "prompt": user_prompt(prompt),
            "chosen": assistant(chosen.text),
            "rejected": assistant(rejected.text),
        }
    else:
        if not isinstance(prompt, str):
            raise InputError(
                "the prompt is a list of messages: add --conversational to write TRL's "
                "conversational format"
            )
        row = {"prompt": prompt, "chosen": chosen.text, "rejected": rejected.text}
    row["score_chosen"] = chosen.score
    row["score_rejected"] = rejected.score
    row["margin"] = chosen.score - rejected.score
    if provenance.mode == "compare":
        row["p_chosen"] = p_chosen
    else:
        row["scores_chosen"] = chosen.scores
        row["scores_rejected"] = rejected.scores
    row["chosen_index"] = chosen.index
    row["rejected_index"] = rejected.index
    if prompt_id is not None:
        row["prompt_id"] = prompt_id
    row["judge_model"] = provenance.model
    row["constitution"] = provenance.constitution
    row["constitution_sha256"] = provenance.sha256
    row["mode"] = provenance.mode
    if provenance.calibration is not None:
        row["calibration"] = provenance.calibration
    return row


# --------------------------------------------------------------------------- empty output


def empty_schema(
    *,
    conversational: bool,
    mode: str,
    principles: Sequence[str],
    calibration: bool = False,
    extra: Sequence[str] = (),
    prompt_id: bool = False,
) -> Any:
    """The Arrow schema of the rows `pair_row` writes (plus `extra` float columns), for an
    output with no rows."""
    import pyarrow as pa

    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    text = message if conversational else pa.string()
    fields: list[tuple[str, Any]] = [
        ("prompt", text),
        ("chosen", text),
        ("rejected", text),
        ("score_chosen", pa.float64()),
        ("score_rejected", pa.float64()),
        ("margin", pa.float64()),
    ]
    if mode == "compare":
        fields.append(("p_chosen", pa.float64()))
    else:
        per_principle = pa.struct([(pid, pa.float64()) for pid in principles])
        fields += [("scores_chosen", per_principle), ("scores_rejected", per_principle)]
    fields += [("chosen_index", pa.int64()), ("rejected_index", pa.int64())]
    if prompt_id:
        fields.append(("prompt_id", pa.string()))
    fields += [
        ("judge_model", pa.string()),
        ("constitution", pa.string()),
        ("constitution_sha256", pa.string()),
        ("mode", pa.string()),
    ]
    if calibration:
        fields.append(("calibration", pa.string()))
    fields += [(name, pa.float64()) for name in extra]
    return pa.schema(fields)


def is_folder_output(path: str | None) -> bool:
    """The rule of judge.io.open_writer: no extension (or a trailing /) is a dataset folder."""
    if path is None or path == "-":
        return False
    return path.endswith(("/", os.sep)) or os.path.isdir(path) or not os.path.splitext(path)[1]


def write_empty(path: str | None, schema: Any) -> None:
    """An output with the columns of `schema` and no rows (stdout gets nothing)."""
    if path is None or path == "-":
        return
    import pyarrow as pa

    table = pa.Table.from_pylist([], schema=schema)
    target = path.rstrip("/" + os.sep) or path
    parent = os.path.dirname(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(target)}.{os.getpid()}.empty.tmp")
    suffix = os.path.splitext(path)[1].lower()
    if is_folder_output(path):
        import datasets

        features = datasets.Features.from_arrow_schema(schema)
        empty = datasets.Dataset.from_dict({n: [] for n in schema.names}, features=features)
        bars_were_on = not datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the CLI owns progress output
        try:
            empty.save_to_disk(tmp, num_shards=1)  # zero shards would not load back
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        if os.path.isdir(target):
            shutil.rmtree(target)  # open_writer already refused folders that are no dataset
        os.rename(tmp, target)
        return
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, tmp)
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            if suffix == ".csv":
                f.write(",".join(schema.names) + "\n")
            elif suffix == ".json":
                f.write("[]\n")
    os.replace(tmp, target)
