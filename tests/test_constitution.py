"""The constitution format: parser, validator, renderer and the shipped constitutions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.constitution import (
    Constitution,
    ConstitutionError,
    Principle,
    Problem,
    Scale,
    check_file,
    check_text,
    load,
    load_checked,
    parse,
    render,
)
from judge.errors import InputError

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "constitutions").glob("*.md"))

GOOD = """\
# A title

name: demo
description: A small constitution.
version: 2
scale: 1-5

You are a judge.

## helpful
title: Helpful
weight: 2

Judge helpfulness.

### Rubric
1: Useless.
5: Perfect.

### Critique
Say what is unhelpful.

### Revision
Make it helpful.

## honest
scale: 0-10

Judge honesty.
"""


def found(text: str) -> list[str]:
    """Problems as `LINE: message` (errors) or `LINE: warning: message`."""
    return [str(p).removeprefix("<string>:") for p in check_text(text)]


def only(text: str) -> str:
    problems = found(text)
    assert len(problems) == 1, problems
    return problems[0]


def doc(*principles: str, header: str = "name: demo") -> str:
    return header + "\n\n" + "\n".join(principles)


# -- what a valid file means ------------------------------------------------------------------


def test_good_file_parses_into_the_models() -> None:
    c = parse(GOOD)
    assert (c.name, c.title, c.description, c.version) == (
        "demo",
        "A title",
        "A small constitution.",
        "2",
    )
    assert c.scale == Scale(low=1, high=5)
    assert c.preamble == "You are a judge."
    helpful, honest = c.principles
    assert helpful == Principle(
        id="helpful",
        title="Helpful",
        weight=2.0,
        scale=Scale(low=1, high=5),
        statement="Judge helpfulness.",
        rubric={1: "Useless.", 5: "Perfect."},
        critique="Say what is unhelpful.",
        revision="Make it helpful.",
        line=10,
    )
    assert honest.scale == Scale(low=0, high=10)
    assert honest.weight == 1.0 and honest.rubric == {} and honest.critique is None
    assert honest.line == 26
    assert c.critique_principles() == [helpful]
    assert check_text(GOOD) == []


def test_scales_may_have_up_to_101_levels() -> None:
    c = parse(doc("## a\nscale: 1-101\n\nText.", header="name: x\nscale: 0-100"))
    assert c.scale == Scale(low=0, high=100)
    assert c.principles[0].scale == Scale(low=1, high=101)


def test_principles_inherit_the_header_scale() -> None:
    c = parse(doc("## a\n\nText.", header="name: x\nscale: 0-5"))
    assert c.principles[0].scale == Scale(low=0, high=5)
    c = parse(doc("## a\n\nText."))
    assert c.scale == Scale(low=1, high=5) and c.principles[0].scale == c.scale


def test_comments_are_ignored_and_line_numbers_kept() -> None:
    text = (
        "name: x\n"
        "<!-- a comment line inside the header does not end it -->\n"
        "scale: 0-5\n"
        "\n"
        "Preamble <!-- inline --> text.\n"
        "<!--\n"
        "## commented-out\n"
        "\n"
        "-->\n"
        "## a\n"
        "\n"
        "Statement.\n"
        "### Rubric\n"
        "9: out of scale\n"
    )
    assert found(text) == ["14: rubric level 9 is outside the scale 0-5"]
    c = parse(text.replace("9: out", "5: in"))
    assert c.preamble == "Preamble  text."
    assert [p.id for p in c.principles] == ["a"] and c.principles[0].line == 10


def test_fenced_code_is_text_not_grammar() -> None:
    statement = "Look at this:\n\n```python\n## not a principle\n### Rubric\n<!-- kept -->\n```"
    c = parse(doc("## a\n\n" + statement))
    assert c.principles[0].statement == statement


def test_markdown_niceties() -> None:
    text = (
        "\ufeffname: x\r\n\r\n## a ##\r\n\r\nFirst.\r\n\r\n#### a deeper heading is text\r\n"
        "### RUBRIC\r\n- 1: Bad,\r\n  really bad.\r\n* 5: Good.\r\n"
    )
    c = parse(text)
    p = c.principles[0]
    assert p.id == "a"
    assert p.statement == "First.\n\n#### a deeper heading is text"
    assert p.rubric == {1: "Bad, really bad.", 5: "Good."}


def test_statement_may_follow_the_heading_directly() -> None:
    assert parse(doc("## a\nJudge this.")).principles[0].statement == "Judge this."


def test_keys_are_case_insensitive_and_weights_are_numbers() -> None:
    c = parse("Name: x\nScale: 1-10\n\n## a\nWeight: 0.25\nTITLE: A\n\nText.")
    assert c.scale == Scale(low=1, high=10)
    assert (c.principles[0].weight, c.principles[0].title) == (0.25, "A")


def test_sha256_of_a_string_is_of_its_utf8_bytes() -> None:
    text = doc("## a\n\nNaïve café.")
    assert parse(text).sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert parse(text, sha256="abc").sha256 == "abc"
    assert parse(text).path is None
    assert parse(text, path="x.md").path == "x.md"


# -- every error kind, with its line -----------------------------------------------------------


def test_duplicate_principle_names_the_first_line() -> None:
    text = doc("## a\n\nOne.\n", "## b\n\nTwo.\n", "## a\n\nThree.")
    assert only(text) == "11: duplicate principle id `a` (first on line 3)"


def test_empty_statement() -> None:
    assert only(doc("## a\nweight: 2\n\n### Critique\nx\n### Revision\ny")) == (
        "3: principle `a` has no statement; write under the heading what the judge should look for"
    )
    assert only(doc("## a\n\n## b\n\nText.")).startswith("3: principle `a` has no statement")


def test_unknown_attribute_names_the_known_ones() -> None:
    assert only(doc("## a\ntitle: A\ncolour: red\n\nText.")) == (
        "5: unknown attribute `colour`; known attributes: title, weight, scale, verify, requires"
    )


@pytest.mark.parametrize("weight", ["0", "-1", "heavy", "nan", "inf", "1e999"])
def test_bad_weight(weight: str) -> None:
    assert only(doc(f"## a\nweight: {weight}\n\nText.")).startswith(f"4: bad weight `{weight}`")


@pytest.mark.parametrize("scale", ["5-1", "3-3", "a-b", "1..5", "-1-5", "1-5-7", "0-101"])
def test_bad_scale_in_header_and_attribute(scale: str) -> None:
    message = (
        f"bad scale `{scale}`: write LOW-HIGH with whole numbers, LOW < HIGH and at most 101 "
        "levels, e.g. `1-5`"
    )
    assert only(doc("## a\n\nText.", header=f"name: x\nscale: {scale}")) == f"2: {message}"
    assert only(doc(f"## a\nscale: {scale}\n\nText.")) == f"4: {message}"


def test_rubric_levels_must_be_on_the_scale_and_unique() -> None:
    text = doc("## a\nscale: 0-3\n\nText.\n\n### Rubric\n0: z\n4: four\n-1: neg\n0: again\n")
    assert found(text) == [
        "10: rubric level 4 is outside the scale 0-3",
        "11: rubric level -1 is outside the scale 0-3",
        "12: rubric level 0 twice (first on line 9)",
    ]
    # The header's scale applies to principles without their own.
    text = doc("## a\n\nText.\n### Rubric\n6: six", header="name: x\nscale: 1-5")
    assert only(text) == "8: rubric level 6 is outside the scale 1-5"


def test_rubric_lines_are_n_colon_text() -> None:
    text = doc("## a\n\nText.\n### Rubric\nGood answers:\n1: bad\n\nmore about 1\n3:\n")
    assert found(text) == [
        "7: expected a rubric line `N: what N means` (N on the scale 1-5)",
        "10: expected a rubric line `N: what N means` (N on the scale 1-5)",
        "11: rubric level 3 has no description",
    ]
    assert only(doc("## a\n\nText.\n### Rubric\n\n## b\n\nB.")) == (
        "6: `### Rubric` has no levels; write lines like `1: ...`"
    )


def test_no_principles() -> None:
    assert only("name: x\n\nJust a preamble.") == (
        "1: no principles: add at least one `## id` section with a statement"
    )


def test_missing_name() -> None:
    assert only("# Title\n\ndescription: d\n\n## a\n\nText.") == (
        "3: missing `name:` in the header; start the file with a line such as "
        "`name: my-constitution`"
    )
    assert only("You are a judge.\n\n## a\n\nText.").startswith("1: missing `name:`")


def test_header_problems() -> None:
    text = "name: Not A Slug\nauthor: me\nname: again\nversion:\nrole is judge\n\n## a\n\nText."
    assert found(text) == [
        "1: name `Not A Slug` must be a slug: lowercase letters, digits, -, _",
        "2: unknown header key `author`; known header keys: name, description, version, scale",
        "3: duplicate header key `name` (first on line 1)",
        "4: `version:` has no value",
        "5: expected `key: value`: header key lines run up to the first blank line; leave one "
        "before other text",
    ]


def test_heading_problems() -> None:
    text = doc("## Helpful\n\nA.\n", "##b\n", "## \n", "## c\n\nC.\n### Examples\nx\n")
    assert found(text) == [
        "3: principle id `Helpful` must be a slug: lowercase letters, digits, - and _, starting "
        "with a letter or digit (put a display name in `title:`)",
        "7: write `## b` with a space after `##`",
        "9: `##` heading without a principle id",
        "14: unknown sub-section `### Examples`; known: Rubric, Critique, Revision, Schema",
    ]


def test_sub_section_problems() -> None:
    text = doc(
        "### Rubric\n1: orphan\n",
        "## a\n\nA.\n### Critique\nC.\n### critique\nAgain.\n### Revision\n\n",
    )
    assert found(text) == [
        "3: `### Rubric` outside a principle; put it under a `## id` heading",
        "11: duplicate `### critique` (first on line 9)",
        "13: `### Revision` is empty; write the request or remove it",
    ]


def test_unclosed_comment_and_fence() -> None:
    assert only(doc("## a\n\nText.\n<!-- never closed\n\n## b\n\nB.")) == (
        "6: this `<!--` comment is never closed; end it with `-->`"
    )
    assert only(doc("## a\n\nText.\n~~~~\ncode\n~~~\n")) == (
        "6: this code fence is never closed; end it with a line of ~~~~"
    )


def test_not_text_and_empty() -> None:
    assert only("name: x\x00\n") == (
        "1: not a text file (contains NUL bytes); a constitution is UTF-8 text"
    )
    for text in ("", " \n\n\t\n"):
        assert only(text) == (
            "1: empty file; a constitution needs a header with `name:` and at least one "
            '`## id` principle (see the README, section "Constitution format")'
        )


def test_every_problem_is_reported_in_line_order() -> None:
    text = doc("## a\nweight: 0\n\n", "## a\n\nB.\n### Rubric\n7: x", header="name: x\nfoo: 1")
    assert [p.split(":")[0] for p in found(text)] == ["2", "4", "5", "8", "12"]
    with pytest.raises(ConstitutionError) as info:
        parse(text, path="c.md")
    err = info.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert len(err.problems) == 5 and err.where == "c.md:2"
    assert str(err).splitlines() == ["c.md: 5 errors"] + [str(p) for p in err.problems]
    assert all(line.startswith("c.md:") for line in str(err).splitlines())


def test_a_single_problem_is_the_whole_message() -> None:
    with pytest.raises(ConstitutionError) as info:
        parse("name: x\n", path="c.md")
    assert str(info.value) == (
        "c.md:1: no principles: add at least one `## id` section with a statement"
    )


# -- warnings ------------------------------------------------------------------------------------


def test_warnings_do_not_stop_parsing() -> None:
    text = doc(
        "## a\n\nweight: 2\n\nText.\n### Critique\nC.",
        header="name: x\n\nscale: 0-5\n\nPreamble.",
    )
    assert found(text) == [
        "3: warning: `scale: 0-5` is read as text of the preamble; key lines must come before "
        "the first blank line",
        "7: warning: principle `a` has a `### Critique` but no `### Revision`; critique and "
        "revision use only principles that have both",
        "9: warning: `weight: 2` is read as text of the statement of `a`; key lines must come "
        "before the first blank line",
    ]
    c = parse(text)
    assert c.scale == Scale() and c.principles[0].weight == 1.0
    assert c.critique_principles() == []


# -- files ---------------------------------------------------------------------------------------


def test_load_hashes_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "c.md"
    data = GOOD.replace("\n", "\r\n").encode("utf-8")
    path.write_bytes(data)
    c = load(path)
    assert c.sha256 == hashlib.sha256(data).hexdigest()
    assert c.path == str(path)
    assert c.model_dump(exclude={"sha256", "path"}) == parse(GOOD).model_dump(
        exclude={"sha256", "path"}
    )
    assert check_file(path) == []


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    assert check_file(missing) == [Problem(str(missing), None, "no such file")]
    with pytest.raises(ConstitutionError) as info:
        load(missing)
    assert str(info.value) == f"{missing}: no such file"
    assert info.value.where == str(missing)
    assert [str(p) for p in check_file(tmp_path)] == [
        f"{tmp_path}: is a directory, not a constitution file"
    ]


def test_binary_files_are_not_text(tmp_path: Path) -> None:
    nul = tmp_path / "nul.md"
    nul.write_bytes(b"name: x\n\n## a\n\n\x00\x01\x02")
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes("name: x\n\n## a\n\nCaf\u00e9.\n".encode("latin-1"))
    assert [str(p) for p in check_file(nul)] == [f"{nul}:1: not a text file (contains NUL bytes)"]
    assert [str(p) for p in check_file(latin1)] == [
        f"{latin1}:1: not a text file (invalid UTF-8 on line 5, byte 18; save the file as UTF-8)"
    ]
    c, problems = load_checked(latin1)
    assert c is None and len(problems) == 1


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(ConstitutionError, match=r"empty\.md:1: empty file; a constitution needs"):
        load(path)


# -- render --------------------------------------------------------------------------------------


def comparable(c: Constitution) -> dict[str, object]:
    data = c.model_dump(exclude={"path", "sha256"})
    for p in data["principles"]:
        del p["line"]
    return data


def test_render_round_trips_and_is_canonical() -> None:
    c = parse(GOOD)
    text = render(c)
    assert comparable(parse(text)) == comparable(c)
    assert render(parse(text)) == text
    assert text.startswith("# A title\n\nname: demo\n")
    assert "weight: 2\n" in text and "scale: 0-10\n" in text and "1: Useless.\n5: Perfect." in text


def _plain_line(s: str) -> bool:
    """No line the grammar would read as a heading, a fence or a comment."""
    return not s.lstrip().startswith(("#", "```", "~~~")) and "<!--" not in s


_chars = st.characters(blacklist_categories=("Cs", "Cc"))
_slug = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True)
_one_line = (
    st.text(_chars, min_size=1, max_size=30)
    .map(str.strip)
    .filter(lambda s: bool(s) and _plain_line(s) and not s.endswith("#"))
)
_line = st.text(_chars, max_size=40).map(str.rstrip).filter(_plain_line)


@st.composite
def _body(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_line, min_size=1, max_size=6))
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) if lines else draw(_one_line)


@st.composite
def _scale(draw: st.DrawFn) -> Scale:
    low = draw(st.integers(0, 5))
    return Scale(low=low, high=draw(st.integers(low + 1, low + 10)))


@st.composite
def _principle(draw: st.DrawFn, pid: str, default: Scale) -> Principle:
    scale = draw(st.one_of(st.just(default), _scale()))
    levels = draw(st.sets(st.integers(scale.low, scale.high)))
    critique = draw(st.one_of(st.none(), _body()))
    return Principle(
        id=pid,
        title=draw(st.one_of(st.none(), _one_line)),
        weight=draw(st.one_of(st.just(1.0), st.floats(1e-6, 1e6), st.integers(1, 9).map(float))),
        scale=scale,
        statement=draw(_body()),
        rubric={level: draw(_one_line) for level in levels},
        critique=critique,
        revision=None if critique is None else draw(_body()),
    )


@st.composite
def _constitution(draw: st.DrawFn) -> Constitution:
    scale = draw(_scale())
    ids = draw(st.lists(_slug, min_size=1, max_size=4, unique=True))
    return Constitution(
        name=draw(_slug),
        title=draw(st.one_of(st.none(), _one_line)),
        description=draw(st.one_of(st.none(), _one_line)),
        version=draw(st.one_of(st.none(), _one_line)),
        scale=scale,
        preamble=draw(st.one_of(st.just(""), _body())),
        principles=[draw(_principle(pid, scale)) for pid in ids],
        sha256="",
    )


@settings(max_examples=200, deadline=None)
@given(_constitution())
def test_render_then_parse_gives_the_same_constitution(c: Constitution) -> None:
    text = render(c)
    assert [p for p in check_text(text) if p.level == "error"] == []
    back = parse(text)
    assert comparable(back) == comparable(c)
    assert render(back) == text


# -- the shipped constitutions ---------------------------------------------------------------------


def test_the_shipped_constitutions_exist() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"helpful-honest-harmless", "pretraining-quality", "code-answers"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_constitution_is_clean(path: Path) -> None:
    assert check_file(path) == []  # no errors and no warnings
    c = load(path)
    assert c.name == path.stem
    assert c.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert c.description and c.preamble and len(c.principles) >= 3
    for p in c.principles:
        # Every level of every scale is described: small judges need the anchors (a verifier
        # principle is checked by code: it has no rubric).
        levels = [] if p.verify else list(range(p.scale.low, p.scale.high + 1))
        assert sorted(p.rubric) == levels, p.id
        assert p.title and len(p.statement) > 200, p.id
    assert comparable(parse(render(c))) == comparable(c)


def test_shipped_constitutions_have_their_intended_shape() -> None:
    by_name = {c.name: c for c in (load(p) for p in SHIPPED)}
    hhh = by_name["helpful-honest-harmless"]
    assert {"helpful", "honest", "harmless"} <= {p.id for p in hhh.principles}
    assert "over-refus" in hhh.principle("helpful").statement.lower() or (
        "refusing" in hhh.principle("helpful").statement.lower()
    )
    pre = by_name["pretraining-quality"]
    assert all(p.scale == Scale(low=0, high=5) for p in pre.principles)
    assert "additive" in pre.preamble
    for name in ("helpful-honest-harmless", "code-answers"):
        c = by_name[name]
        assert c.critique_principles() == c.principles, name
    graded = by_name["reference-graded"]
    assert [p.requires for p in graded.principles] == [["reference"], [], []]
    assert graded.scale == Scale(low=1, high=10)  # MT-bench's


# -- slips that used to merge silently into the text above -----------------------------------------


def test_attribute_lines_inside_a_text_are_errors() -> None:
    # A deleted `## b` heading: b's attributes would become part of a's statement.
    text = doc("## a\ntitle: A\n\nJudge a.\nNote: be kind.\n\ntitle: B\nweight: 3\n\nJudge b.")
    fix = (
        "attribute lines go right under a `## id` heading: if a principle starts here, add its "
        "`## id` heading above, else reword the line"
    )
    assert found(text) == [
        f"9: `title: B` is inside the statement of `a`; {fix}",
        f"10: `weight: 3` is inside the statement of `a`; {fix}",
    ]
    in_section = doc("## a\n\nJudge a.\n### Critique\nSay why.\n\nscale: 1-5\n### Revision\nFix.")
    assert only(in_section) == f"9: `scale: 1-5` is inside the `### Critique` of `a`; {fix}"


def test_rubric_lines_that_look_like_levels_are_errors() -> None:
    text = doc(
        "## a\n\nText.\n### Rubric\n1: bad\n   still bad: 2 - 3 bugs, one or two.\n"
        "3: ok\nfour: good\n4 - Correct\n- 5. Perfect\n2) meh"
    )
    msg = (
        "looks like a rubric level but is not `N: text`; start it with `{}:` (a whole number on "
        "the scale 1-5 and a colon), or reword it if it goes on the level above"
    )
    assert found(text) == [
        f"10: `four: good` {msg.format(4)}",
        f"11: `4 - Correct` {msg.format(4)}",
        f"12: `- 5. Perfect` {msg.format(5)}",
        f"13: `2) meh` {msg.format(2)}",
    ]
    # Prose continuations, numbers inside them included, stay part of their level.
    c = parse(
        doc("## a\n\nText.\n### Rubric\n1: bad,\n  one of the worst.\n2: 3.5 points\n  2 or more")
    )
    assert c.principles[0].rubric == {1: "bad, one of the worst.", 2: "3.5 points 2 or more"}
