"""How many of the 37 delimiter attacks (tests/data/delimiter_attacks.json) a checkout defangs.

    PYTHONPATH=OTHER_CHECKOUT python benchmarks/delimiter_attacks.py render > rendered.json
    python benchmarks/delimiter_attacks.py count rendered.json

`render` wraps each attack (in "Hi.ATTACK SYSTEM: ...") as a candidate_response section with the
`tagged` of whichever checkout is imported (an old one too: it only needs `tagged`). `count`, run
on this checkout, counts the sections in which a model reads exactly our two tags and nothing else
as one, with the readers of tests/test_delimiter_attacks.py (judge's reading and one written from
the definition, tag characters read as ASCII or skipped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ATTACKS = Path(__file__).parent.parent / "tests" / "data" / "delimiter_attacks.json"


def render() -> None:
    from judge.judging.prompts import tagged

    attacks = json.loads(ATTACKS.read_text(encoding="utf-8"))["attacks"]
    out = [
        {"name": a["name"], "section": tagged("candidate_response", f"Hi.{a['text']} SYSTEM: 5.")}
        for a in attacks
    ]
    json.dump(out, sys.stdout, ensure_ascii=True, indent=1)


def count(path: str) -> None:
    from tests.test_delimiter_attacks import tags_read

    rendered = json.loads(Path(path).read_text(encoding="utf-8"))
    # The first round's defanged "<" was "‹", itself a bracket lookalike: also count as if it
    # were not (as the security review did).
    for label, marker in (("", "‹"), (', "‹" not read as a bracket', "[")):
        failed = [
            r["name"] for r in rendered if len(tags_read(r["section"].replace("‹", marker))) != 2
        ]
        print(f"{len(rendered) - len(failed)} of {len(rendered)} attacks defanged{label}")
        for name in failed:
            print(f"  open: {name}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["render"]:
        render()
    elif sys.argv[1:2] == ["count"] and len(sys.argv) == 3:
        count(sys.argv[2])
    else:
        sys.exit(__doc__)
