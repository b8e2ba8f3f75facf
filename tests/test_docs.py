"""The documentation stays true: the CLI reference covers every command, the README stays a
front page, and its links into docs/ point at pages that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README_MAX_LINES = 400


def listed_commands(*group: str) -> list[str]:
    """The command names in the `Commands:` section of `judge ... --help`, as a user sees it."""
    out = subprocess.run(
        [sys.executable, "-m", "judge", *group, "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    section = out.split("\nCommands:\n", 1)[1] if "\nCommands:\n" in out else ""
    return re.findall(r"^  (\S+)", section, re.MULTILINE)


def all_commands() -> list[str]:
    """`score`, ..., `constitution`, `constitution check`, ...: every command, nested ones too."""
    found: list[str] = []
    todo: list[tuple[str, ...]] = [()]
    while todo:
        group = todo.pop(0)
        for name in listed_commands(*group):
            found.append(" ".join((*group, name)))
            todo.append((*group, name))
    return found


RENDER = """
import sys, markdown
source = open("docs/cli.md", encoding="utf-8").read()
sys.stdout.write(markdown.markdown(source, extensions=["attr_list", "tables", "mkdocs-click"]))
"""


def rendered_cli_reference() -> str:
    """docs/cli.md as the site renders it: mkdocs-click expands the directive from the code.

    In a fresh interpreter, as `mkdocs build` runs: here other tests have already loaded some of
    the lazily imported commands, and mkdocs-click then lists only those."""
    return subprocess.run(
        [sys.executable, "-c", RENDER], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout


def test_every_command_has_a_section_in_the_cli_reference() -> None:
    commands = all_commands()
    assert {"score", "filter", "pairs", "calibrate", "revise", "constitution check"} <= set(
        commands
    )
    html = rendered_cli_reference()
    headings = {
        re.sub(r"<[^>]+>", "", h).strip()
        for h in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", html, re.DOTALL)
    }
    missing = [c for c in commands if f"judge {c}" not in headings]
    assert not missing, f"docs/cli.md has no section for: {missing}"


def test_cli_reference_shows_every_option_of_every_command() -> None:
    """The generated page holds each command's options (spot-check: one per command)."""
    html = rendered_cli_reference()
    for option in ("--per-principle", "--keep-top", "--comparisons", "--tie-margin", "--rounds"):
        assert option in html, option


def test_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", ["README.md", "BENCHMARKS.md"])
def test_relative_links_point_at_files_that_exist(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"{page} links to missing files: {missing}"


def test_every_docs_page_is_in_the_nav() -> None:
    """mkdocs only warns (not fails) on a page left out of the nav: catch it here."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    missing = [p for p in pages if f": {p}" not in config]
    assert not missing, f"pages missing from the nav in mkdocs.yml: {missing}"


def test_every_exported_name_resolves() -> None:
    """`import judge` exports what `__all__` names (the API page is built from that list)."""
    out = subprocess.run(
        [sys.executable, "-c", "import judge\nfor n in judge.__all__: getattr(judge, n)"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr


def test_every_module_the_architecture_page_names_exists() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(judge/[\w/]+(?:\.py)?)`", page))
    tree = page.split("```\njudge/\n", 1)[1].split("```", 1)[0]
    for line in tree.splitlines():
        # `  engine/   runner, ...` and `  session.py  Session: ...`: the names before the text.
        head = line[:23].strip()
        for name in re.findall(r"([\w]+/|[\w]+\.py)", head):
            named.add(f"judge/{name}")
    missing = sorted(n for n in named if not (ROOT / n.rstrip("/")).exists())
    assert len(named) > 100 and missing == []
