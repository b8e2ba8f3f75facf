"""`judge constitution check|show` through click's CliRunner."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner, Result

from judge.cli.constitution_cmd import constitution

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "constitutions"
SHIPPED = sorted(str(p) for p in SHIPPED_DIR.glob("*.md"))

REPEATED = """\
name: repeated

## clear

Judge clarity.

## clear

Judge clarity again.
"""


def run(*args: str) -> Result:
    result = CliRunner().invoke(constitution, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def write(tmp_path: Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return str(path)


def test_check_passes_on_the_shipped_constitutions() -> None:
    result = run("check", *SHIPPED)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"{len(SHIPPED)} files checked, 0 problems\n"


def test_check_reads_the_md_files_of_a_directory() -> None:
    result = run("check", str(SHIPPED_DIR))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"{len(SHIPPED)} files checked, 0 problems\n"


def test_check_reports_a_repeated_principle(tmp_path: Path) -> None:
    path = write(tmp_path, "repeated.md", REPEATED)
    result = run("check", path)
    assert result.exit_code == 2
    assert result.stdout == f"{path}:7: duplicate principle id `clear` (first on line 3)\n"
    assert result.stderr == "1 file checked, 1 problem\n"


def test_check_reports_an_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.md", b"")
    result = run("check", path)
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{path}:1: empty file; a constitution needs")


def test_check_reports_a_binary_file(tmp_path: Path) -> None:
    path = write(tmp_path, "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run("check", path)
    assert result.exit_code == 2
    assert result.stdout == f"{path}:1: not a text file (contains NUL bytes)\n"


def test_check_reports_a_missing_file_and_goes_on(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.md")
    result = run("check", missing, SHIPPED[0])
    assert result.exit_code == 2
    assert result.stdout == f"{missing}: no such file\n"
    assert result.stderr == "2 files checked, 1 problem\n"


def test_check_a_directory_without_constitutions(tmp_path: Path) -> None:
    result = run("check", str(tmp_path))
    assert result.exit_code == 2
    assert result.stdout == f"{tmp_path}: no constitution files (*.md) in this directory\n"


def test_check_lists_every_problem_of_every_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.md", "name: Bad\n\n## a\nweight: x\n\n### Rubric\n9: nine\n")
    repeated = write(tmp_path, "repeated.md", REPEATED)
    result = run("check", bad, repeated, *SHIPPED)
    assert result.exit_code == 2
    assert [line.split(": ")[0] for line in result.stdout.splitlines()] == [
        f"{bad}:1",
        f"{bad}:3",
        f"{bad}:4",
        f"{bad}:7",
        f"{repeated}:7",
    ]
    assert result.stderr == f"{2 + len(SHIPPED)} files checked, 5 problems\n"


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "w.md", "name: w\n\n## a\n\nText.\n\n### Critique\nFind faults.\n")
    result = run("check", path)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{path}:3: warning: principle `a` has a `### Critique`")
    assert result.stderr == "1 file checked, 1 problem (1 warning)\n"
    assert run("check", "--strict", path).exit_code == 2


def test_show_json_is_the_parsed_constitution() -> None:
    path = str(SHIPPED_DIR / "helpful-honest-harmless.md")
    result = run("show", path, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "helpful-honest-harmless"
    assert data["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert data["path"] == path
    helpful = data["principles"][0]
    assert helpful["id"] == "helpful" and helpful["weight"] == 2.0
    assert set(helpful["rubric"]) == {"1", "2", "3", "4", "5"}
    assert result.stderr == ""


def test_show_prints_a_readable_summary() -> None:
    path = str(SHIPPED_DIR / "pretraining-quality.md")
    result = run("show", path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("name:        pretraining-quality\n")
    assert f"sha256:      {hashlib.sha256(Path(path).read_bytes()).hexdigest()}\n" in out
    assert "## educational-value: Educational value  (weight 2, scale 0-5)\n" in out
    assert "    0: No educational content" in out


def test_show_reports_problems_on_stderr(tmp_path: Path) -> None:
    path = write(tmp_path, "repeated.md", REPEATED)
    result = run("show", path, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}:7: duplicate principle id `clear` (first on line 3)\n"
    missing = run("show", str(tmp_path / "missing.md"))
    assert missing.exit_code == 2
    assert missing.stderr == f"{tmp_path / 'missing.md'}: no such file\n"


def test_through_the_main_command(tmp_path: Path) -> None:
    from judge.cli import main

    path = write(tmp_path, "repeated.md", REPEATED)
    result = CliRunner().invoke(main, ["constitution", "check", path, *SHIPPED])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stdout == f"{path}:7: duplicate principle id `clear` (first on line 3)\n"
    ok = CliRunner().invoke(main, ["constitution", "show", "--json", SHIPPED[0]])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["path"] == SHIPPED[0]


HHH = Path(__file__).parent.parent / "constitutions" / "helpful-honest-harmless.md"


def test_a_deleted_rubric_heading_is_found(tmp_path: Path) -> None:
    text = HHH.read_text(encoding="utf-8").replace("### Rubric\n", "", 1)
    path = write(tmp_path, "c.md", text)
    result = run("check", "--strict", path)
    assert result.exit_code == 2
    assert "looks like a rubric level inside the statement of `helpful`" in result.output
    assert "`### Rubric` heading missing" in result.output


def test_one_bad_rubric_line_is_one_problem(tmp_path: Path) -> None:
    # A bad level line whose text goes on over the next line: that line is part of the same
    # problem, not a second "expected a rubric line".
    text = HHH.read_text(encoding="utf-8").replace("\n2: ", "\n2 - ", 1)
    path = write(tmp_path, "c.md", text)
    result = run("check", path)
    assert result.exit_code == 2
    assert "looks like a rubric level but is not `N: text`" in result.output
    assert "expected a rubric line" not in result.output
    assert "1 problem" in result.output and "2 problems" not in result.output


def test_a_level_out_of_the_scale_is_one_problem(tmp_path: Path) -> None:
    text = HHH.read_text(encoding="utf-8").replace("\n2: ", "\n9: ", 1)
    result = run("check", write(tmp_path, "c.md", text))
    assert "rubric level 9 is outside the scale" in result.output
    assert "expected a rubric line" not in result.output and "1 problem" in result.output
