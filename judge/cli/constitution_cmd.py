"""`judge constitution check|show`: validate and inspect constitution files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from judge.cli.help import Sectioned
from judge.constitution import Constitution, Principle, Problem, load_checked


@click.group()
def constitution() -> None:
    """Check and inspect constitution files (format: the README, "Constitution format")."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _targets(arg: str) -> list[str] | Problem:
    """The files an argument names: itself, or the *.md files directly inside a directory."""
    p = Path(arg)
    if not p.is_dir():
        return [arg]
    files = sorted(str(f) for f in p.glob("*.md") if f.is_file())
    return files or Problem(arg, None, "no constitution files (*.md) in this directory")


@constitution.command(cls=Sectioned, short_help="Validate constitution files.")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--strict", is_flag=True, help="Fail (exit 2) on warnings too.")
def check(files: tuple[str, ...], strict: bool) -> None:
    """Validate constitution files; print FILE:LINE: message for each problem.

    A directory stands for the *.md files directly inside it. Exit status: 0 when every file is
    valid (warnings allowed unless --strict), 2 otherwise.
    """
    checked = 0
    problems: list[Problem] = []
    for arg in files:
        targets = _targets(arg)
        if isinstance(targets, Problem):
            click.echo(str(targets))
            problems.append(targets)
            continue
        for path in targets:
            checked += 1
            found = load_checked(path)[1]
            for problem in found:
                click.echo(str(problem))
            problems += found
    warnings = sum(p.level == "warning" for p in problems)
    summary = f"{_plural(checked, 'file')} checked, {_plural(len(problems), 'problem')}"
    if warnings:
        summary += f" ({_plural(warnings, 'warning')})"
    click.echo(summary, err=True)
    if len(problems) > warnings or (strict and warnings):
        raise SystemExit(2)


@constitution.command(cls=Sectioned, short_help="Print a parsed constitution (text or JSON).")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed constitution as JSON.")
def show(file: str, as_json: bool) -> None:
    """Print a parsed constitution: its header, principles, rubrics and requests.

    Problems go to stderr as FILE:LINE: message; exit status 2 when the file is not valid.
    """
    c, problems = load_checked(file)
    for problem in problems:
        click.echo(str(problem), err=True)
    if c is None:
        raise SystemExit(2)
    if as_json:
        click.echo(json.dumps(c.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        click.echo(describe(c), nl=False)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _principle(p: Principle, default_scale: str) -> str:
    own = "own scale" if str(p.scale) != default_scale else "scale"
    facts = [f"weight {p.weight:g}", f"{own} {p.scale}"]
    if p.requires:
        facts.append(f"requires {', '.join(p.requires)}")
    if p.verify is not None:
        facts.append(f"checked by code: verify {p.verify.spec()}")
    if p.critique and p.revision:
        facts.append("critique + revision")
    elif p.critique or p.revision:
        facts.append("critique only" if p.critique else "revision only")
    head = f"## {p.id}" + (f": {p.title}" if p.title else "") + f"  ({', '.join(facts)})"
    out = [head, _indent(p.statement)]
    if p.rubric:
        out.append("  rubric:")
        out += [f"    {level}: {text}" for level, text in sorted(p.rubric.items())]
    for label, text in (("critique", p.critique), ("revision", p.revision)):
        if text:
            out += [f"  {label}:", _indent(text)]
    return "\n".join(out)


def describe(c: Constitution) -> str:
    """A human-readable summary of a constitution (what `show` prints)."""
    rows = [("name", c.name)]
    for key, value in (("title", c.title), ("description", c.description)):
        if value:
            rows.append((key, value))
    rows += [
        ("version", c.version or "-"),
        ("file", c.path or "-"),
        ("sha256", c.sha256),
        ("scale", f"{c.scale} (default for principles)"),
        ("principles", f"{len(c.principles)} ({len(c.critique_principles())} with critique)"),
    ]
    width = max(len(k) for k, _ in rows) + 2
    out = [f"{k + ':':<{width}}{v}" for k, v in rows]
    if c.preamble:
        out += ["", "preamble:", _indent(c.preamble)]
    for p in c.principles:
        out += ["", _principle(p, str(c.scale))]
    return "\n".join(out) + "\n"
