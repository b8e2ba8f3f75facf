"""Writing rows to any supported output, chosen by the path's extension.

Every file output is written to a hidden temporary name next to it (see tempfiles) and moved
into place at `close()`, so a crash never leaves a half-written output (and the input may
safely be the output)."""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol

from judge.errors import InputError, OutputError
from judge.io.arrow import _arrow_batches, _infer_schema
from judge.io.tempfiles import _remove_stale_temps, _temp_name, replace_folder
from judge.io.values import _csv_cell, _dumps, spooled_row


class RowWriter(Protocol):
    """Writes rows to one output; a context manager that aborts on an exception."""

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def __enter__(self) -> RowWriter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def open_writer(path: str | None) -> RowWriter:
    """A writer chosen by the output's extension (see the module docstring). Its file is
    created at once, so an output that cannot be written fails here, before any model call."""
    try:
        return _open_writer(path)
    except OSError as exc:
        raise unwritable(path or "-", exc) from None


def unwritable(path: str, exc: OSError) -> InputError:
    """An output that cannot be created, as a bad-usage error (exit 2) that says why."""
    why = exc.strerror or str(exc)
    return InputError(f"cannot write the output here: {why}; choose a writable path", where=path)


def check_writable(path: str, *, folder: bool = False) -> None:
    """Refuse an output that cannot be written, before the work that would fill it, and leave
    nothing behind: a probe file is made and removed in the nearest folder that exists on the
    way to it (where the missing ones would be made). `folder`: the output is a folder."""
    path = os.fspath(path)
    if os.path.isdir(path) and not folder:
        raise InputError("is a folder; give a file name", where=path)
    if os.path.isfile(path) and folder:
        raise InputError("exists and is a file; give a folder", where=path)
    base = os.path.abspath(path if folder else os.path.dirname(os.path.abspath(path)))
    while not os.path.exists(base):
        base = os.path.dirname(base)
    try:
        if not os.path.isdir(base):
            raise NotADirectoryError(errno.ENOTDIR, f"{base} is a file, not a folder")
        probe = _temp_name(os.path.join(base, "probe"))
        with open(probe, "x"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise unwritable(path, exc) from None


def _failed_write(path: str, exc: OSError) -> OutputError:
    why = exc.strerror or str(exc)
    return OutputError(
        f"{path}: writing the output failed: {why}; the previous output (if any) is left as "
        "it was, and the cache keeps the verdicts paid for: fix it and run the same command again"
    )


def _open_writer(path: str | None) -> RowWriter:
    if path is None or path == "-":
        return _StdoutWriter()
    path = os.fspath(path)
    if _is_special(path):
        # /dev/null, a named pipe: written to as it is, JSON Lines, never replaced by a file
        # moved into its place.
        return _DeviceWriter(path)
    suffix = os.path.splitext(path)[1].lower()
    writers: dict[str, type[_FileWriter]] = {
        ".jsonl": _FileWriter,
        ".ndjson": _FileWriter,
        ".json": _JsonArrayWriter,
        ".csv": _CsvWriter,
        ".parquet": _ParquetWriter,
    }
    if is_folder_output(path):
        return _DatasetWriter(path.rstrip("/" + os.sep) or path)
    if suffix not in writers:
        raise InputError(
            f"unsupported output format {suffix!r}: use .jsonl, .ndjson, .json, .csv, .parquet, "
            "or a folder name without an extension (or ending in /) for a Hugging Face dataset",
            where=path,
        )
    return writers[suffix](path)


def is_folder_output(path: str | None) -> bool:
    """Whether `path` names a dataset folder output: a folder that exists, whatever its name
    (`run.v2`), a path ending in /, or a name without an extension. stdout is no folder."""
    if path is None or path == "-":
        return False
    path = os.fspath(path)
    if _is_special(path):
        return False
    return path.endswith(("/", os.sep)) or os.path.isdir(path) or not os.path.splitext(path)[1]


def _is_special(path: str) -> bool:
    """A device or a named pipe (`/dev/null`, `<(...)`): neither a file nor a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_rows(path: str | None, rows: Iterable[dict[str, Any]]) -> int:
    """Write all rows to `path` (see open_writer); return how many were written."""
    count = 0
    with open_writer(path) as writer:
        for row in rows:
            writer.write(row)
            count += 1
    return count


class _BaseWriter:
    def write(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _BaseWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _StdoutWriter(_BaseWriter):
    """JSON Lines on stdout, flushed per line so that a pipe sees each row as it is judged."""

    def write(self, row: dict[str, Any]) -> None:
        line = _dumps(row) + "\n"
        stream = sys.stdout
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
        buffer = getattr(stream, "buffer", None)
        try:
            if encoding != "utf8" and buffer is not None:
                stream.flush()  # we write UTF-8 whatever the locale says
                buffer.write(line.encode("utf-8"))
                buffer.flush()
            else:
                stream.write(line)
                stream.flush()
        except BrokenPipeError:
            raise  # the reader left (`| head`): not a failure of ours
        except OSError as exc:
            raise _failed_write("stdout", exc) from None

    def close(self) -> None:
        sys.stdout.flush()

    def abort(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()


class _DeviceWriter(_StdoutWriter):
    """JSON Lines written straight into a device or a named pipe."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: dict[str, Any]) -> None:
        try:
            self._stream.write(_dumps(row) + "\n")
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _failed_write(self._path, exc) from None

    def close(self) -> None:
        if not self._stream.closed:
            try:
                self._stream.close()
            except OSError as exc:
                raise _failed_write(self._path, exc) from None

    def abort(self) -> None:
        self.close()


class _FileWriter(_BaseWriter):
    """JSON Lines to a temporary file, moved into place at close(). Subclasses convert it."""

    _folder = False  # True for outputs that are folders (a Hugging Face dataset)

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.isdir(path) and not self._folder:
            raise InputError("is a folder; give a file name for this format", where=path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        _remove_stale_temps(path)  # a run killed with SIGKILL could not remove its own
        self._temps: list[str] = []
        self._tmp = self._new_temp(path)
        self._file = open(self._tmp, "x", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._done = False
        self.count = 0

    def _new_temp(self, path: str, suffix: str = ".tmp") -> str:
        name = _temp_name(path, suffix)
        self._temps.append(name)
        return name

    def write(self, row: dict[str, Any]) -> None:
        if self._done:
            raise ValueError(f"writing to {self.path} after it was closed")
        try:
            self._write_line(_dumps(row))
        except OSError as exc:
            self.abort()
            raise _failed_write(self.path, exc) from None
        self.count += 1

    def _write_line(self, line: str) -> None:
        self._file.write(line + "\n")

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
            self._finish()
        except OSError as exc:
            self._remove_temps()
            raise _failed_write(self.path, exc) from None
        except BaseException:
            self._remove_temps()
            raise
        self._remove_temps()

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        self._remove_temps()

    def _finish(self) -> None:
        os.replace(self._tmp, self.path)

    def _remove_temps(self) -> None:
        for name in self._temps:
            if os.path.isdir(name):
                shutil.rmtree(name, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(name)


class _JsonArrayWriter(_FileWriter):
    """A JSON array, one object per line, streamed (no spool needed)."""

    def _write_line(self, line: str) -> None:
        self._file.write(("[\n" if self.count == 0 else ",\n") + line)

    def _finish(self) -> None:
        with open(self._tmp, "a", encoding="utf-8", newline="\n") as f:
            f.write("\n]\n" if self.count else "[]\n")
        os.replace(self._tmp, self.path)


def _spool_rows(spool: str) -> Iterator[dict[str, Any]]:
    with open(spool, encoding="utf-8") as f:
        for line in f:
            yield spooled_row(line)


class _CsvWriter(_FileWriter):
    """CSV with the union of all keys as header; nested values are JSON text in the cell."""

    def _finish(self) -> None:
        keys: dict[str, None] = {}
        for row in _spool_rows(self._tmp):
            keys.update(dict.fromkeys(row))
        out = self._new_temp(self.path, ".csv.tmp")
        with open(out, "x", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            if keys:
                writer.writerow(keys)
            for row in _spool_rows(self._tmp):
                writer.writerow([_csv_cell(row.get(key)) for key in keys])
        os.replace(out, self.path)


class _ParquetWriter(_FileWriter):
    def _finish(self) -> None:
        import pyarrow.parquet as pq

        out = self._new_temp(self.path, ".parquet.tmp")
        schema, text_columns = _infer_schema(self._tmp, "Parquet")
        with pq.ParquetWriter(out, schema) as writer:
            for table in _arrow_batches(self._tmp, schema, text_columns):
                writer.write_table(table)
        os.replace(out, self.path)


class _DatasetWriter(_FileWriter):
    """A Hugging Face dataset folder: the spool becomes an Arrow file, then save_to_disk."""

    _folder = True

    def __init__(self, path: str) -> None:
        if os.path.isfile(path):
            raise InputError(
                "exists and is a file; a path without an extension writes a Hugging Face "
                "dataset folder (add .jsonl, .parquet, ... to write a file)",
                where=path,
            )
        if os.path.isdir(path) and os.listdir(path) and not _is_dataset_folder(path):
            # Never replace a folder that holds something else.
            raise InputError(
                "the folder exists and is not a Hugging Face dataset; choose a new folder",
                where=path,
            )
        super().__init__(path)

    def _finish(self) -> None:
        import datasets
        import pyarrow as pa

        work = self._new_temp(self.path, ".dataset.tmp")
        os.makedirs(work)
        arrow_file = os.path.join(work, "data.arrow")
        schema, text_columns = _infer_schema(self._tmp, "a dataset folder")
        with pa.OSFile(arrow_file, "wb") as sink, pa.ipc.new_stream(sink, schema) as stream:
            for table in _arrow_batches(self._tmp, schema, text_columns):
                stream.write_table(table)
        saved = os.path.join(work, "saved")
        bars_were_on = not datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the CLI owns progress output
        try:
            dataset = datasets.Dataset.from_file(arrow_file)
            dataset.save_to_disk(saved)
            del dataset
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        replace_folder(saved, self.path)


def _is_dataset_folder(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, n)) for n in ("state.json", "dataset_dict.json"))
