"""Check, or rewrite, the benchmark figures and tables the documentation quotes, from the results
files that hold them.

A figure quoted in the text sits between markers, `<!--f:KEY-->0.58<!--/f-->`, and a generated
table between `<!--t:KEY-->` and `<!--/t-->`, each on a line of its own; KEY names an entry of
benchmarks/figures.py (FIGURES: where in which results file, how it is written) or of
benchmarks/tables.py (TABLES). The markers are HTML comments: invisible on GitHub and in the site.

    python benchmarks/publish.py           # check: every figure that differs; exit 1 if any
    python benchmarks/publish.py --write   # rewrite them from the results files
    python benchmarks/publish.py --commits # the commit each results file ran at, and whether
                                           # the code it measures (MEASURES) changed since

In the sections that quote benchmarks (QUOTING below), every number outside the markers must be
one of the section's stated set-up values (NOT_MEASURED): a number there that no results file
holds is an error, so a figure cannot be typed in by hand.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.figures import COMMITS, FIGURES, RESULTS, clear, commit_of  # noqa: E402
from benchmarks.tables import TABLES  # noqa: E402

FILES = (
    "README.md",
    "BENCHMARKS.md",
    "docs/distill.md",
    "docs/pairs.md",
    "docs/cascade.md",
    "docs/backends.md",
    "docs/formats.md",
)
# What each results file measures: the code whose change can change its numbers (git pathspecs).
# `--commits` tells, per file, whether any of it changed since the commit the file ran at.
HHH = "constitutions/helpful-honest-harmless.md"
# A `judge` command run end to end: prompts, parsing, the run's calls (re-asks), the options.
JUDGING = (
    "judge/judging", "judge/constitution", "judge/tasks", "judge/engine", "judge/io",
    "judge/cli", "judge/data", "judge/records.py", "judge/options.py", "judge/keywords.py",
    "judge/commands.py", "judge/errors.py",
)  # fmt: skip
# ... through the OpenAI backend: the request body, what is counted of the answer.
OPENAI = (
    "judge/backends/base.py", "judge/backends/openai.py", "judge/backends/chat_completion.py",
    "judge/backends/http_backend.py", "judge/backends/http_errors.py",
    "judge/backends/lean_http.py", "judge/backends/registry.py", "judge/backends/presets.py",
)  # fmt: skip
# ... through the embedded model.
LOCAL = (
    "judge/backends/base.py", "judge/backends/local.py", "judge/backends/local_chat.py",
    "judge/backends/registry.py",
)  # fmt: skip
COST_SERVER = (
    "benchmarks/peers/cost_server.py", "benchmarks/peers/server.py", "benchmarks/peers/run.py",
    "tests/fakes.py", HHH,
)  # fmt: skip
# A wall time depends on all of judge (start-up imports included) and on the machine.
MEASURES: dict[str, tuple[str, ...]] = {
    "peers": ("judge", "benchmarks/peers", "pyproject.toml"),
    "drills": ("judge", "benchmarks/drills", "tests/fakes.py"),
    "throughput": ("judge", "benchmarks/throughput.py", "benchmarks/loopback_server.py"),
    "classifier": ("judge", "benchmarks/classifier_throughput.py"),
    "ray": ("judge", "benchmarks/ray_throughput.py", "benchmarks/loopback_server.py"),
    # Token and call counts of judge's modes and of the peers (their drivers; the peers' own
    # code is the pinned versions in benchmarks/.venvs).
    "cost": (*JUDGING, *OPENAI, *COST_SERVER, "benchmarks/peers/cost.py",
             "benchmarks/peers/drive_alpaca_eval.py", "benchmarks/peers/drive_distilabel.py"),
    "cost_short": (*JUDGING, *OPENAI, *COST_SERVER, "benchmarks/peers/cost.py",
                   "benchmarks/peers/drive_alpaca_eval.py", "benchmarks/peers/drive_distilabel.py"),
    "cascade": (*JUDGING, *OPENAI, *LOCAL, "judge/cascade", "judge/calibration",
                "benchmarks/cascade_fidelity.py", "benchmarks/cascade_sim.py",
                "benchmarks/cascade_truth.py", "tests/fakes.py", HHH),
    # Arithmetic on other results files and the price table.
    "sheet": ("benchmarks/cost_sheet.py", "judge/engine/prices.py", "judge/data/prices.json",
              "judge/backends/presets.py", "benchmarks/results/cost.json",
              "benchmarks/results/classifier_throughput.json"),
    # PairMaker with a fake backend: calls per prompt.
    "pairs": ("judge/tasks/pairs", "judge/judging", "judge/constitution", "judge/engine",
              "judge/io", "judge/backends/base.py", "judge/testing.py",
              "benchmarks/pairs_calls.py", "tests/quality_judge.py"),
    "embedded": (*JUDGING, *LOCAL, "benchmarks/embedded_agreement.py", HHH),
    "unjudged": (*JUDGING, *LOCAL, "benchmarks/embedded_unjudged.py", HHH),
    # fastText trained on human labels: the held-out metrics.
    "distill": ("judge/distill", "judge/cli/distill_cmd.py", "judge/io",
                "benchmarks/distill_xstest.py"),
    "conversations": (*JUDGING, *OPENAI, *COST_SERVER, "benchmarks/conversations.py",
                      "benchmarks/peers/cost.py"),
    "rewards": ("judge", "benchmarks/rewards.py", "benchmarks/loopback_server.py",
                "benchmarks/throughput.py"),
}  # fmt: skip

FIGURE = re.compile(r"<!--f:([\w.-]+)-->([^<\n]*)<!--/f-->")  # a figure is inline
TABLE = re.compile(r"<!--t:([\w.-]+)-->\n(.*?)\n?<!--/t-->", re.S)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")

# (file, heading of a section) whose numbers must all be marked figures or stated set-up values
QUOTING = (
    ("README.md", "## Benchmarks"),
    ("README.md", "## At scale"),
    ("BENCHMARKS.md", "## Headline"),
)
# The set-up values those sections state (what was run, not what was measured); each phrase is
# removed before the numbers left are counted.
NOT_MEASURED = (
    "gpt-4o-mini", "10^12", "10^8", "2-core", "2 cores", "1,000 candidates", "100 ms",
    "concurrency 16", "concurrency 1, 8 and 64", "600 requests/minute", "600 requests a minute",
    "600 rpm", "0%, 10% and 30%", "per 1,000", "1,000 items", "12-token", "5-token",
    "ten-word", "8 responses", "batch of 16", "300 items", "the limit allows 30 s",
    "10,000 candidates", "100,000 rows", "1,000,000 rows", "10,000 to 1,000,000 rows",
    "N = 4", "N = 8", "N = 16", "at least 0.8", "0.8 with probability 0.9", "reached 0.8",
    "at least 90%", "95%", "500 words", "batches of 64", "1 core", "on 2", "2 workers",
    "one worker", "1T", "500-token", "200 labelled pairs", "150 held-out pairs", "OpenAI's",
    "1-minute", "above 2", "5xx", "429s", "429", "32 candidates", "at 64",
)  # fmt: skip


def _value(kind: str, key: str) -> str:
    """A figure or table as its results file gives it; "" when the file does not hold it."""
    table = FIGURES if kind == "f" else TABLES
    if key not in table:
        return ""
    try:
        return table[key]()
    except (KeyError, IndexError, StopIteration, FileNotFoundError, TypeError):
        return ""


def render(text: str) -> str:
    """The text with every marked figure and table rewritten from the results files (one that
    the files do not hold is left as it is, and `differences` names it)."""

    def figure(m: re.Match[str]) -> str:
        return f"<!--f:{m[1]}-->{_value('f', m[1]) or m[2]}<!--/f-->"

    def table(m: re.Match[str]) -> str:
        return f"<!--t:{m[1]}-->\n{_value('t', m[1]) or m[2]}\n<!--/t-->"

    return TABLE.sub(table, FIGURE.sub(figure, text))


def differences(text: str) -> list[str]:
    """Each marked figure or table whose text is not what its results file gives now."""
    out = []
    for m in FIGURE.finditer(text):
        now = _value("f", m[1])
        if m[1] not in FIGURES:
            out.append(f"unknown figure {m[1]!r}")
        elif not now:
            out.append(f"figure {m[1]}: its results file does not hold it")
        elif m[2] != now:
            out.append(f"figure {m[1]}: the text says {m[2]!r}, the results give {now!r}")
    for m in TABLE.finditer(text):
        now = _value("t", m[1])
        if m[1] not in TABLES:
            out.append(f"unknown table {m[1]!r}")
        elif not now:
            out.append(f"table {m[1]}: its results file does not hold it")
        elif m[2].strip() != now.strip():
            out.append(f"table {m[1]}: differs from its results file")
    return out


def section(text: str, heading: str) -> str:
    """From the line starting with `heading` to the next heading of the same level."""
    level = heading.split()[0]
    start = next((i for i, line in enumerate(text.splitlines()) if line.startswith(heading)), None)
    if start is None:
        raise ValueError(f"no section {heading!r}")
    lines = text.splitlines()[start:]
    end = next((i for i, line in enumerate(lines[1:], 1) if line.split(" ")[0] == level), None)
    return "\n".join(lines[:end])


def unmarked_numbers(text: str) -> list[str]:
    """Numbers in `text` that are neither a marked figure nor a stated set-up value (code spans
    and link targets are not prose: commands and paths)."""
    text = FIGURE.sub(" ", text)
    text = TABLE.sub(" ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"^#+ .*$", " ", text, flags=re.M)  # headings
    text = re.sub(r"\s+", " ", text)  # a phrase may be broken over lines
    text = re.sub(r"\bsections? \d+(?:, \d+)*", " ", text)  # references to BENCHMARKS.md
    for phrase in sorted(NOT_MEASURED, key=len, reverse=True):  # the longest first
        text = text.replace(phrase, " ")
    return NUMBER.findall(text)


def problems() -> list[str]:
    clear()
    out = []
    for name in FILES:
        text = (ROOT / name).read_text(encoding="utf-8")
        out += [f"{name}: {d}" for d in differences(text)]
    for name, heading in QUOTING:
        text = section((ROOT / name).read_text(encoding="utf-8"), heading)
        for number in unmarked_numbers(text):
            out.append(f"{name}, {heading!r}: {number!r} is no marked figure from a results file")
    return out


def since(name: str, head: str) -> str:
    """Whether the code results file `name` measures (MEASURES) changed between the commit it
    ran at and `head`."""
    ran = commit_of(name)
    if not ran:
        return "no commit recorded: re-run it"
    if ran == head:
        return "HEAD"
    if "+" in ran:
        return "ran on uncommitted changes: re-run it"
    code = [p for p in MEASURES[name] if not p.startswith("benchmarks/results/")]
    inputs = [p for p in MEASURES[name] if p.startswith("benchmarks/results/")]
    # Results read as input count from the commit that wrote this file (it ran before then).
    wrote = _git("log", "-1", "--format=%h", "--", RESULTS[name]).stdout.strip()
    # The results file itself sits in some of these folders: writing it changes no measured code.
    mine = f":(exclude){RESULTS[name]}"
    diffs = [_git("diff", "--quiet", ran, head, "--", *code, mine)]
    if inputs:
        diffs.append(_git("diff", "--quiet", wrote or ran, head, "--", *inputs))
    failed = [d.stderr.strip() for d in diffs if d.returncode not in (0, 1)]
    if failed:
        return f"unknown commit: re-run it ({failed[0]})"
    if any(d.returncode == 1 for d in diffs):
        return "not HEAD; measured code changed: re-run it"
    return "not HEAD; measured code unchanged since"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite the figures and tables")
    ap.add_argument("--commits", action="store_true", help="list each results file's commit")
    args = ap.parse_args()
    if args.commits:
        head = _git("rev-parse", "--short=7", "HEAD").stdout.strip()
        for name in COMMITS:
            ran = commit_of(name) or "(none recorded)"
            print(f"{name:<13} {ran:<15} {since(name, head)}")
        return 0
    if args.write:
        clear()
        for name in FILES:
            path = ROOT / name
            text = path.read_text(encoding="utf-8")
            new = render(text)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"updated {name}")
    found = problems()
    for p in found:
        print(p, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
