"""Regenerate the module map of docs/architecture.md from the code: one row per module of
`judge/`, with the first sentence of its docstring. Run it after adding or moving a module:

    python scripts/architecture.py

tests/test_docs.py checks that every module the page names exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
START, END = "<!-- modules -->", "<!-- /modules -->"


def first_sentence(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    text = " ".join(doc.split())
    sentence = re.split(r"(?<=[a-z0-9)`])\. ", text, maxsplit=1)[0].rstrip(".")
    return sentence.replace("|", "\\|")


def table() -> str:
    rows = ["| module | what |", "| --- | --- |"]
    for path in sorted((ROOT / "judge").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if path.name == "__init__.py" and path.parent.name != "judge":
            name = f"{rel.parent.as_posix()}/"
        else:
            name = rel.as_posix()
        rows.append(f"| `{name}` | {first_sentence(path)} |")
    return "\n".join(rows)


def main() -> None:
    page = PAGE.read_text(encoding="utf-8")
    before, rest = page.split(START, 1)
    _, after = rest.split(END, 1)
    PAGE.write_text(f"{before}{START}\n\n{table()}\n\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main()
