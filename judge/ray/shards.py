"""The shards of a `--ray` run: INPUT a folder or a glob of shard files, OUTPUT a folder that gets
one output shard per input shard, under the same name (so in the same format).

A shard is finished when its output file exists: every output is written to a hidden temporary
name and moved into place when complete (judge.io.tempfiles), so an output that exists is
whole. A re-run skips finished shards and rewrites nothing; a shard that was cut off is done
again from the start (with an LLM judge its verdicts come from the cache). Needs no Ray.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

from judge.errors import InputError
from judge.io import RowWriter, open_writer

SHARD_SUFFIXES = (".parquet", ".jsonl", ".ndjson", ".json", ".csv")


@dataclass(frozen=True)
class Shard:
    """One input shard and where its rows go (`rejected`: judge filter --rejected DIR)."""

    input: str
    output: str
    rejected: str | None = None
    kill_after: int | None = None  # test hook (judge.ray.cluster.KILL_ENV): die after N rows

    @property
    def name(self) -> str:
        return os.path.basename(self.input)

    @property
    def finished(self) -> bool:
        outputs = [self.output] if self.rejected is None else [self.output, self.rejected]
        return all(os.path.exists(path) for path in outputs)


def input_shards(pattern: str) -> list[str]:
    """The shard files of INPUT (a folder: its shard files; else a glob), sorted by name.

    Hidden files (a writer's temporary files start with a dot) are never shards."""
    if os.path.isdir(pattern):
        found = [os.path.join(pattern, name) for name in os.listdir(pattern)]
    else:
        found = glob.glob(pattern)
    shards = sorted(
        p
        for p in found
        if os.path.isfile(p)
        and not os.path.basename(p).startswith(".")
        and os.path.splitext(p)[1].lower() in SHARD_SUFFIXES
    )
    if not shards:
        raise InputError(
            f"no shards found (with {{opt:ray}}, INPUT is a folder or a glob of "
            f"{', '.join(SHARD_SUFFIXES)} files)",
            where=pattern,
        )
    names: dict[str, str] = {}
    for path in shards:
        name = os.path.basename(path)
        if name in names:
            raise InputError(
                f"two shards are named {name} ({names[name]} and {path}): each output shard "
                "takes its input's name, so names must differ",
                where=pattern,
            )
        names[name] = path
    return shards


def plan_shards(pattern: str, output: str | None, rejected: str | None = None) -> list[Shard]:
    """Every shard of INPUT with its outputs in the OUTPUT folder (and the --rejected folder)."""
    if not output or output == "-":
        raise InputError(
            "with {opt:ray}, {opt:output} is a folder: one output shard per input shard"
        )
    folders = [output] if rejected is None else [output, rejected]
    for folder in folders:
        if os.path.splitext(folder.rstrip("/" + os.sep))[1].lower() in SHARD_SUFFIXES:
            raise InputError(
                "with {opt:ray} the output is a folder (one output shard per input shard), not a "
                "file: give a folder name without an extension",
                where=folder,
            )
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise InputError(
                "with {opt:ray} the output must be a folder; this is a file", where=folder
            )
    shards = []
    for path in input_shards(pattern):
        name = os.path.basename(path)
        where = None if rejected is None else os.path.join(rejected, name)
        shards.append(Shard(path, os.path.join(output, name), where))
    for shard in shards:
        outs = [shard.output] if shard.rejected is None else [shard.output, shard.rejected]
        if os.path.abspath(shard.input) in [os.path.abspath(p) for p in outs]:
            raise InputError("the output folder is the input folder", where=output)
    return shards


def unwritten(shards: list[Shard]) -> list[Shard]:
    """The shards whose outputs are not there after a run (their runs failed): a re-run does
    them, and only them."""
    return [s for s in shards if not s.finished]


def open_output(shard: Shard, path: str) -> RowWriter:
    """The writer of one of the shard's outputs (atomic: see judge.io.writers)."""
    writer = open_writer(path)
    if shard.kill_after is not None and path == shard.output:
        return _Dying(writer, shard.kill_after)  # type: ignore[return-value]
    return writer


class _Dying:
    """A writer whose process dies after `rows` rows, as a killed worker does (tests only)."""

    def __init__(self, writer: RowWriter, rows: int) -> None:
        self.writer, self.rows = writer, rows

    def write(self, row: dict[str, Any]) -> None:
        self.writer.write(row)
        self.rows -= 1
        if self.rows <= 0:
            os._exit(1)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()
