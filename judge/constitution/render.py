"""The canonical text of a constitution."""

from __future__ import annotations

import json

from judge.constitution.model import Constitution


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def render(c: Constitution) -> str:
    """The canonical text of a constitution; parsing it gives back an equal one (but for
    path, sha256 and line numbers)."""
    out: list[str] = []
    if c.title:
        out += [f"# {c.title}", ""]
    out.append(f"name: {c.name}")
    if c.description:
        out.append(f"description: {c.description}")
    if c.version:
        out.append(f"version: {c.version}")
    out += [f"scale: {c.scale}", ""]
    if c.preamble:
        out += [c.preamble, ""]
    for p in c.principles:
        out.append(f"## {p.id}")
        if p.title:
            out.append(f"title: {p.title}")
        if p.weight != 1.0:
            out.append(f"weight: {_number(p.weight)}")
        if p.scale != c.scale:
            out.append(f"scale: {p.scale}")
        if p.requires:
            out.append(f"requires: {', '.join(p.requires)}")
        if p.verify is not None:
            out.append(f"verify: {p.verify.spec()}")
        out += ["", p.statement, ""]
        if p.rubric:
            out.append("### Rubric")
            out += [
                f"{level}: {' '.join(p.rubric[level].splitlines())}" for level in sorted(p.rubric)
            ]
            out.append("")
        for heading, text in (("Critique", p.critique), ("Revision", p.revision)):
            if text:
                out += [f"### {heading}", "", text, ""]
        if p.verify is not None and p.verify.json_schema is not None:
            schema = json.dumps(p.verify.json_schema, indent=2, ensure_ascii=False)
            out += ["### Schema", "", "```json", schema, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"
