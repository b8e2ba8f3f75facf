"""Read and write every supported format, streaming, and turn rows into candidates.

Inputs: `.jsonl`/`.ndjson`, `.json` (an array of objects, or JSON Lines content), `.csv`,
`.parquet`, a Hugging Face dataset folder (`save_to_disk` output) and `-` (JSON Lines on stdin).
Outputs are chosen by the path's extension; a path with no extension (or ending in `/`) is a
Hugging Face dataset folder.

Round trips: JSON Lines and `.json` give back exactly the rows written (after the conversions of
`_jsonable`: numpy values become Python values, datetimes ISO text, bytes UTF-8 or base64 text,
NaN and infinities null). CSV gives back every value as a string: nested values as JSON text,
null as an empty cell, booleans as `true`/`false`. Parquet and dataset folders are columnar: a key
missing from a row comes back as null, integers in a column that also holds floats come back as
floats, an empty object comes back as null (Parquet cannot store an empty struct), and a column
whose values have incompatible types (text in one row, a number in another) is stored as text,
like CSV.

Every file output is written to a temporary name next to it and moved into place at `close()`, so
a crash never leaves a half-written output (and the input may safely be the output).

Modules: readers (choose the format, FILE:LINE places), text_input (JSON Lines, stdin, CSV),
json_input (JSON arrays), columnar_input (Parquet, dataset folders), candidates (rows ->
Candidate), conversations (chat messages, references), writers (outputs), tempfiles (the hidden
temp names), values (values as JSON), arrow (spool -> Arrow for columnar outputs).
"""

from __future__ import annotations

from judge.io.arrow import _BATCH_ROWS as _BATCH_ROWS
from judge.io.candidates import FieldMap, input_row, iter_candidates
from judge.io.readers import count_rows, describe, read_rows
from judge.io.tempfiles import atomic_path, write_text_atomic
from judge.io.text_input import STDIN_NAME
from judge.io.writers import (
    RowWriter,
    check_writable,
    is_folder_output,
    open_writer,
    write_rows,
)

__all__ = [
    "STDIN_NAME",
    "FieldMap",
    "RowWriter",
    "atomic_path",
    "check_writable",
    "count_rows",
    "describe",
    "input_row",
    "is_folder_output",
    "iter_candidates",
    "open_writer",
    "read_rows",
    "write_rows",
    "write_text_atomic",
]
