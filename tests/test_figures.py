"""Every benchmark figure the README and BENCHMARKS.md quote is read from a committed results
file (benchmarks/publish.py, benchmarks/figures.py): a marked figure that differs from its file,
or a number typed into a quoting section by hand, fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import publish
from benchmarks.figures import FIGURES, RESULTS, ROOT
from benchmarks.tables import TABLES


def test_every_quoted_figure_and_table_is_what_its_results_file_holds() -> None:
    assert publish.problems() == []


def test_every_figure_and_table_resolves_in_a_committed_results_file() -> None:
    for path in RESULTS.values():
        assert (ROOT / path).is_file(), path
    for key, figure in FIGURES.items():
        assert figure().strip(), key
    for key, table in TABLES.items():
        assert table().count("|") > 4, key


def test_the_quoting_sections_mark_their_figures() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, heading in publish.QUOTING:
        text = publish.section((ROOT / name).read_text(encoding="utf-8"), heading)
        assert text.count("<!--f:") >= 5, (name, heading)
    # the figures the audit found without a results file are gone
    for gone in ("3.8x", "$0.35", "1,845", "2.0x and 2.9x", "31.1 s", "51.2 MB", "24.8 ms"):
        assert gone not in readme


def test_a_figure_typed_by_hand_or_out_of_date_is_caught() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = publish.section(readme, "## Benchmarks")
    assert publish.unmarked_numbers(section) == []
    typed = section + "\n- judge costs 3.8x PrometheusEval, $0.35 per 1,000 items.\n"
    assert publish.unmarked_numbers(typed) == ["3.8", "0.35"]
    assert publish.unmarked_numbers("set-up only: 600 rpm, `--group-size 32`, 2 cores") == []
    key = next(iter(FIGURES))
    stale = f"<!--f:{key}-->not the value<!--/f--> and <!--f:no.such-->1<!--/f-->"
    found = publish.differences(stale)
    assert len(found) == 2 and "no.such" in found[1]
    table = next(iter(TABLES))
    assert publish.differences(f"<!--t:{table}-->\n| a |\n<!--/t-->")


def test_write_renders_the_figures_from_the_results(tmp_path: Path) -> None:
    key = "pairs.all_8"
    text = f"calls: <!--f:{key}-->?<!--/f-->\n<!--t:pairs-->\nold\n<!--/t-->\n"
    rendered = publish.render(text)
    assert f"<!--f:{key}-->{FIGURES[key]()}<!--/f-->" in rendered
    assert publish.differences(rendered) == []


def test_commits_lists_the_commit_of_every_results_file() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "benchmarks/publish.py", "--commits"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(publish.COMMITS)
    assert all(("HEAD" in line) for line in lines)
    assert all(line.split()[1] != "(none" for line in lines)  # every file records its commit
    assert all(line.endswith(("HEAD", "unchanged since", "re-run it")) for line in lines), lines


def _git(*args: str) -> str:
    import subprocess

    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_every_results_file_names_the_code_it_measures() -> None:
    assert set(publish.MEASURES) == set(publish.COMMITS)
    for name, paths in publish.MEASURES.items():
        assert paths, name
        for path in paths:  # each names files in the repository (a typo would match nothing)
            assert _git("ls-files", "--", path), (name, path)


def test_commits_tells_whether_the_measured_code_changed(monkeypatch: Any) -> None:
    # A recent commit that changed code outside benchmarks/: its parent ran "the benchmark".
    commit = next(
        c
        for c in _git("log", "-n", "200", "--no-merges", "--format=%h").split()
        if any(not p.startswith("benchmarks/") for p in _diff(f"{c}~1", c))
    )
    changed = next(p for p in _diff(f"{commit}~1", commit) if not p.startswith("benchmarks/"))
    unchanged = next(p for p in _git("ls-files").split() if p not in _diff(f"{commit}~1", commit))
    monkeypatch.setattr(
        publish, "commit_of", lambda name: _git("rev-parse", "--short=7", f"{commit}~1")
    )
    monkeypatch.setitem(publish.MEASURES, "pairs", (unchanged,))
    assert publish.since("pairs", commit) == "not HEAD; measured code unchanged since"
    monkeypatch.setitem(publish.MEASURES, "pairs", (unchanged, changed))
    assert publish.since("pairs", commit) == "not HEAD; measured code changed: re-run it"


def _diff(a: str, b: str) -> list[str]:
    return _git("diff", "--name-only", a, b).split()


def test_writing_a_results_file_is_no_change_to_the_code_it_measures(monkeypatch: Any) -> None:
    # peers' results file lives inside benchmarks/peers/, which MEASURES names as measured code.
    results = publish.RESULTS["peers"]
    commit = next(
        c
        for c in _git("log", "-n", "400", "--no-merges", "--format=%h").split()
        if [p for p in _diff(f"{c}~1", c) if p.startswith("benchmarks/peers/")] == [results]
    )
    monkeypatch.setattr(
        publish, "commit_of", lambda name: _git("rev-parse", "--short=7", f"{commit}~1")
    )
    monkeypatch.setitem(publish.MEASURES, "peers", ("benchmarks/peers",))
    assert publish.since("peers", commit) == "not HEAD; measured code unchanged since"
