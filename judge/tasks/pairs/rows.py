"""The rows of a DPO preference dataset (TRL's preference format), and an empty dataset's schema.

Rows follow TRL's preference format, by default in the conversational form with an explicit
prompt (`prompt` a list of messages ending with the user's turn, `chosen`/`rejected` a list holding
the one assistant message), plus provenance columns. The standard form has `prompt`, `chosen`,
`rejected` as strings; TRL trains on `prompt + chosen` as one text, so the prompt ends with a
separator (a blank line by default) that makes the join read as a turn boundary, not as one
sentence running on into the response.
No column is named `completion`, `messages` or `label`, which TRL would read as another format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from judge.io.conversations import SEPARATOR as CONVERSATION_SEPARATOR
from judge.io.conversations import transcript
from judge.io.tempfiles import (
    atomic_path,
    remove_work_folder,
    replace_folder,
    work_folder,
    write_text_atomic,
)
from judge.io.writers import is_folder_output
from judge.tasks.pairs.selection import Ranked

Messages = list[dict[str, str]]
FORMATS = ("conversational", "standard")
SEPARATOR = "\n\n"


def with_separator(prompt: str, separator: str = SEPARATOR) -> str:
    """The prompt of a standard-form row: it ends with `separator`, once. A prompt that already
    ends with white space has it replaced (not doubled); an empty separator leaves it as is."""
    if not separator or prompt.endswith(separator) or not prompt.strip():
        return prompt
    return prompt.rstrip() + separator


def standard_prompt(prompt: str | Messages) -> str:
    """The prompt of a standard-form row as text: a conversation is its transcript (`Role:
    content` paragraphs, judge.io.conversations), ending with the `Assistant:` label that the
    chosen or rejected turn then completes; a lone user turn is its text, as a prompt is."""
    if isinstance(prompt, str):
        return prompt
    text = transcript(prompt)
    if len(prompt) == 1 and prompt[0]["role"] == "user":
        return text
    return text + CONVERSATION_SEPARATOR + "Assistant:"


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
    conversational: bool = True,
    separator: str = SEPARATOR,
    prompt_id: str | None = None,
    p_chosen: float | None = None,
    judge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One output row, in the conversational form or (not `conversational`) the standard one,
    whose prompt ends with `separator` (a conversation's: its transcript, standard_prompt).
    """
    if conversational:
        row: dict[str, Any] = {
            "prompt": user_prompt(prompt),
            "chosen": assistant(chosen.text),
            "rejected": assistant(rejected.text),
        }
    else:
        row = {
            "prompt": with_separator(standard_prompt(prompt), separator),
            "chosen": chosen.text,
            "rejected": rejected.text,
        }
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
    if judge is not None:  # a panel's member verdicts and confidence
        row["judge"] = judge
    return row


def scored_panel(chosen: Ranked, rejected: Ranked) -> dict[str, Any]:
    """A panel's members on the two responses, and the lower of their two confidences."""
    both = [c for c in (chosen.confidence, rejected.confidence) if c is not None]
    return {
        "panel": {"chosen": chosen.panel, "rejected": rejected.panel},
        "confidence": min(both) if both else None,
    }


def decided(chosen: Ranked, rejected: Ranked) -> dict[str, Any]:
    """--cascade in score mode: the judges that scored the two responses, and the lower of
    their two confidences."""
    both = [c for c in (chosen.confidence, rejected.confidence) if c is not None]
    return {
        "confidence": min(both) if len(both) == 2 else None,
        "decided_by": ", ".join(dict.fromkeys(str(r.decided_by) for r in (chosen, rejected))),
    }


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


def write_empty(path: str | None, schema: Any) -> None:
    """An output with the columns of `schema` and no rows (stdout gets nothing)."""
    if path is None or path == "-":
        return
    import pyarrow as pa

    table = pa.Table.from_pylist([], schema=schema)
    target = path.rstrip("/" + os.sep) or path
    if is_folder_output(path):
        import datasets

        features = datasets.Features.from_arrow_schema(schema)
        empty = datasets.Dataset.from_dict({n: [] for n in schema.names}, features=features)
        bars_were_on = not datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the CLI owns progress output
        saved = work_folder(target, ".dataset.tmp")
        try:
            empty.save_to_disk(os.path.join(saved, "saved"), num_shards=1)  # 0 would not load
            # open_writer already refused folders that are no dataset
            replace_folder(os.path.join(saved, "saved"), target)
        finally:
            remove_work_folder(saved)
            if bars_were_on:
                datasets.enable_progress_bars()
        return
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        with atomic_path(target) as tmp:
            pq.write_table(table, tmp)
        return
    header = {".csv": ",".join(schema.names) + "\n", ".json": "[]\n"}
    write_text_atomic(target, header.get(suffix, ""))


# -- reading the rows of judge score (pairs from scores already in the input) --


def number_of(value: Any) -> float | str | None:
    """A score as written: a number, or number text (CSV), or null / an empty CSV cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return str(value)


def object_of(value: Any) -> dict[str, Any] | None:
    """An object field of a scored row (JSON text in CSV), or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def per_principle_of(row: dict[str, Any]) -> dict[str, float | None] | None:
    return object_of(row.get("scores"))
