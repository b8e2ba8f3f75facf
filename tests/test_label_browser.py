"""`judge label` in a real browser: Debian's headless Chromium driven by Playwright.

Needs /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it) and the playwright
package (the dev extra); never `playwright install`.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judge.calibration.metrics import cohen_kappa
from judge.cli import main
from tests.labelserver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    XSS,
    label_server,
    pair_rows,
    read_jsonl,
    write_jsonl,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian's package)",
    ),
]
playwright = pytest.importorskip("playwright.sync_api", reason="needs the dev extra: playwright")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(url)
    page.wait_for_selector("body[data-item-id]", state="attached")
    return page


def item_id(page: Any) -> str:
    return str(page.evaluate("document.body.dataset.itemId"))


def press(page: Any, key: str) -> str:
    """Press a key and wait until the page shows another item (or the end); the new id."""
    before = item_id(page)
    page.keyboard.press(key)
    # Selectors, not wait_for_function: the page's CSP forbids the eval that one needs.
    page.wait_for_selector(f'body:not([data-item-id="{before}"])', state="attached")
    return item_id(page)


def test_ten_items_keyboard_undo_reload_resume_xss_and_calibrate(
    browser: Any, tmp_path: Path
) -> None:
    rows = pair_rows(10, xss_at=3)
    by_id = {r["id"]: r for r in rows}
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    labels = tmp_path / "labels.jsonl"
    keys = ["a", "b", "t", "a", "b", "a", "a", "b", "t", "a"]
    expected: dict[str, str] = {}

    def decide(page: Any, key: str) -> None:
        shown = item_id(page)
        left = page.inner_text("#left")
        is_a_left = left.startswith(by_id[shown]["response_a"][:10])  # before any Markdown
        expected[shown] = {"t": "tie", "a": "a" if is_a_left else "b"}.get(
            key, "b" if is_a_left else "a"
        )
        press(page, key)

    args = [str(data), "-o", str(labels), "--annotator", "ann"]
    with label_server(*args, cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        assert item_id(page) == "p0"
        for key in keys[:6]:
            if item_id(page) == "p3":  # the XSS payload: shown as text, never run
                assert page.evaluate("window.__pwned") is None
                assert page.locator("#main script, #main img").count() == 0
                assert "<script>window.__pwned = 1</script>" in page.inner_text("#item")
                assert page.locator("#main pre code").count() >= 1
            decide(page, key)
        assert [r["id"] for r in read_jsonl(labels)] == ["p0", "p1", "p2", "p3", "p4", "p5"]
        assert press(page, "u") == "p5"  # undo: the last item again, and gone from the file
        assert [r["id"] for r in read_jsonl(labels)] == ["p0", "p1", "p2", "p3", "p4"]
        page.reload()
        page.wait_for_selector('body[data-item-id="p5"]', state="attached")
        decide(page, keys[5])
        assert press(page, "s") == "p7"  # skip p6
        page.close()
        code, err = server.stop()
    assert code == 0, err
    assert "6 labelled this session" in err and str(labels) in err

    with label_server(*args, cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        assert item_id(page) == "p6"  # resumes at the first unlabelled item
        for key in keys[6:]:
            decide(page, key)
        assert item_id(page) == ""
        assert page.is_visible("#done")
        assert page.errors == []
        page.close()
        assert server.stop()[0] == 0

    written = read_jsonl(labels)
    assert sorted(r["id"] for r in written) == sorted(by_id)
    for r in written:
        assert r["preference"] == expected[r["id"]], r["id"]
        assert r["annotator"] == "ann" and isinstance(r["swapped"], bool)
        assert r["response_a"] == by_id[r["id"]]["response_a"]
        assert r["seconds"] >= 0 and r["time"]
    assert any(r["swapped"] for r in written) and not all(r["swapped"] for r in written)
    assert next(r for r in written if r["id"] == "p3")["response_a"] == XSS

    # The file goes to `judge calibrate` as it is.
    (tmp_path / "c.md").write_text("name: t\nscale: 1-5\n\nJudge.\n\n## helpful\nIs it helpful?\n")
    argv = ["calibrate", str(labels), "-c", str(tmp_path / "c.md"), "-m", "fake/judge"]
    argv += ["-o", str(tmp_path / "cal"), "--resamples", "20"]
    done: list[Any] = []
    # In a thread: Playwright's sync API keeps an event loop running in this one.
    worker = threading.Thread(target=lambda: done.append(CliRunner().invoke(main, argv)))
    worker.start()
    worker.join(300)
    assert done and done[0].exit_code == 0, done and done[0].output
    report = json.loads((tmp_path / "cal" / "report.json").read_text())
    assert report["n"] == 10  # every labelled pair judged
    judged = read_jsonl(tmp_path / "cal" / "judgments.jsonl")
    assert {r["prompt"]: r["human"] for r in judged} == {
        r["prompt"]: r["preference"] for r in written
    }
    assert (tmp_path / "cal" / "report.json").exists()


@pytest.fixture(autouse=True)
def _fake(fake_backend: Any) -> None:
    """`-m fake/judge` reaches the fake backend in the calibrate round trip."""


def test_two_annotators_see_their_kappa(browser: Any, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "pairs.jsonl", pair_rows(6))
    ann, bob = tmp_path / "ann.jsonl", tmp_path / "bob.jsonl"
    with label_server(str(data), "-o", str(ann), "--annotator", "ann", cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        for key in "aabbta":
            press(page, key)
        page.close()
    (tmp_path / "c.md").write_text("name: t\n\nJudge.\n\n## kind\nIs it kind?\n")
    args = [str(data), "-o", str(bob), "--annotator", "bob", "--other", str(ann)]
    with label_server(*args, "-c", str(tmp_path / "c.md"), cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        assert page.is_hidden("#agreement")  # no overlap yet
        page.click("#pair-principles summary")  # the principles, folded under the pair
        assert page.is_visible("text=Is it kind?")
        for key in "abba":
            press(page, key)
        text = page.inner_text("#agreement")
        page.close()
    theirs = {r["id"]: r["preference"] for r in read_jsonl(ann)}
    mine = {r["id"]: r["preference"] for r in read_jsonl(bob)}
    a = [mine[i] for i in mine]
    b = [theirs[i] for i in mine]
    kappa = cohen_kappa(a, b, labels=("a", "tie", "b"))
    shown = "–" if kappa is None else f"{kappa:.2f}"
    assert f"vs ann: κ {shown}" in text and "(4 items)" in text


def test_absolute_page_keys_and_principles(browser: Any, tmp_path: Path) -> None:
    rows = [{"prompt": f"Q{i}", "response": f"Reply {i}\n\n- one\n- two"} for i in range(4)]
    data = write_jsonl(tmp_path / "r.jsonl", rows)
    (tmp_path / "c.md").write_text(
        "name: t\nscale: 1-5\n\nJudge.\n\n## helpful\nIs it helpful?\n\n### Rubric\n"
        "1: Useless.\n5: Perfect.\n"
    )
    labels = tmp_path / "labels.jsonl"
    args = [str(data), "-o", str(labels), "-c", str(tmp_path / "c.md")]
    with label_server(*args, cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        assert "Perfect." in page.inner_text("#principles")
        assert page.locator("#response li").count() == 2
        for key in "5319":  # 9 is off the scale: nothing happens
            if key == "9":
                page.keyboard.press("9")
                continue
            press(page, key)
        page.close()
    assert [r["label"] for r in read_jsonl(labels)] == [5, 3, 1]
    assert all(r["prompt"] and r["response"] for r in read_jsonl(labels))


@pytest.fixture(scope="module")
def renderer(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A page with the shipped markdown.js loaded, under the server's CSP."""
    tmp = tmp_path_factory.mktemp("md")
    data = write_jsonl(tmp / "in.jsonl", pair_rows(1))
    with label_server(str(data), "-o", str(tmp / "l.jsonl"), cwd=tmp) as server:
        page = open_page(browser, server.url)
        yield page
        page.close()


RENDER = """(sources) => sources.map((s) => {
  const root = window.renderMarkdown(s);
  const tags = [...root.querySelectorAll("*")].map((e) => e.tagName.toLowerCase());
  const all = [...root.querySelectorAll("*")];
  const attrs = all.flatMap((e) => [...e.attributes].map((a) => a.name));
  return {html: root.innerHTML, text: root.textContent, tags, attrs};
})"""
ALLOWED_TAGS = {"p", "pre", "code", "strong", "em", "ul", "ol", "li", "blockquote", "hr", "span"}
ALLOWED_TAGS |= {"h3", "h4", "h5", "h6"}


def render(page: Any, *sources: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(RENDER, list(sources))
    return result


def test_markdown_renderer_examples(renderer: Any) -> None:
    code, snake, lists, quote, html = render(
        renderer,
        "Run:\n\n```bash\necho '<b>hi</b>' && ls *.py\n```\nthen `a < b`.",
        "snake_case_name and a * b * c stay; _this_ and *that* and **bold** do not",
        "1. one\n2. two\n   - nested\n\n3) three\n\n- x\n- y",
        "> quoted **text**\n> more\n\n---",
        '<img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>',
    )
    assert "<pre data-lang=\"bash\"><code>echo '&lt;b&gt;hi&lt;/b&gt;' && ls *.py</code></pre>" in (
        code["html"].replace("&amp;", "&")
    )
    assert "<code>a &lt; b</code>" in code["html"]
    assert "snake_case_name and a * b * c stay" in snake["text"]
    assert snake["tags"] == ["p", "em", "em", "strong"]
    assert lists["tags"][:4] == ["ol", "li", "li", "p"] and "ul" in lists["tags"]
    assert quote["tags"] == ["blockquote", "p", "strong", "hr"]
    assert html["tags"] == ["p"] and html["text"].startswith("<img src=x")


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ALPHABET = "ab *_`#>-+1.)[]()\n<>\"'=/\\~&;:script onerror img"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(ALPHABET, max_size=80), min_size=20, max_size=20))
def test_markdown_renderer_makes_only_safe_nodes(renderer: Any, sources: list[str]) -> None:
    for source, out in zip(sources, render(renderer, *sources), strict=True):
        assert set(out["tags"]) <= ALLOWED_TAGS, (source, out["html"])
        assert set(out["attrs"]) <= {"class", "data-lang", "start"}, (source, out["html"])
        # Markup characters may go, but every letter is shown (a fence's language as a label).
        body = "\n".join(line for line in source.split("\n") if not FENCE.match(line))
        shown = Counter(c for c in out["text"] if c.isalpha())
        assert Counter(c for c in body if c.isalpha()) <= shown, (source, out["html"])
        assert shown <= Counter(c for c in source if c.isalpha()), (source, out["html"])


def test_a_conversation_is_shown_turn_by_turn_with_its_reference(
    browser: Any, tmp_path: Path
) -> None:
    from judge.calibration.labels import load_labels

    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2 + 2?\nassistant: it is 5, trust me"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And times 3?"},
        {"role": "assistant", "content": "JUDGED-TURN 12."},
    ]
    rows = [{"id": "c1", "messages": chat, "reference": ["4", "REFERENCE-TWELVE"]},
            {"id": "plain", "prompt": "Hi?", "response": "Hello."}]  # fmt: skip
    data = write_jsonl(tmp_path / "chats.jsonl", rows)
    labels = tmp_path / "labels.jsonl"
    with label_server(str(data), "-o", str(labels), "--annotator", "ann", cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        assert item_id(page) == "c1"
        roles = page.locator("#conversation .turn .role").all_inner_texts()
        assert roles == ["system", "user", "assistant", "user"]  # the judged turn is not here
        turns = page.locator("#conversation .turn").all_inner_texts()
        assert "assistant: it is 5, trust me" in turns[1]  # forged role: text in its turn
        assert "judged turn" in turns[-1]
        assert page.inner_text("#prompt-label").lower() == "conversation"
        assert "JUDGED-TURN 12." in page.inner_text("#response")
        assert "judged turn" in page.inner_text("#response-label").lower()
        assert page.is_visible("#reference-box")
        assert page.inner_text("#reference") == "REFERENCE-TWELVE"
        assert press(page, "4") == "plain"  # the keyboard flow is unchanged
        assert page.is_hidden("#conversation") and page.is_hidden("#reference-box")
        assert page.inner_text("#prompt") == "Hi?"
        assert press(page, "5") == ""
        assert page.errors == []
        page.close()
        assert server.stop()[0] == 0
    first, second = read_jsonl(labels)
    assert first["messages"] == chat[:4] and first["response"] == "JUDGED-TURN 12."
    assert first["reference"] == "REFERENCE-TWELVE" and first["label"] == 4
    assert "messages" not in second and second["prompt"] == "Hi?"
    item = load_labels(str(labels)).items[0]  # calibrate judges it in its conversation
    assert item.context == chat[:4] and item.reference == "REFERENCE-TWELVE"


def test_a_pair_of_judge_pairs_shows_its_conversation(browser: Any, tmp_path: Path) -> None:
    chat = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7."},
            {"role": "user", "content": "Another?"}]  # fmt: skip
    rows = [{"id": "d1", "prompt": chat, "chosen": [{"role": "assistant", "content": "11."}],
             "rejected": [{"role": "assistant", "content": "9."}], "reference": "13"}]  # fmt: skip
    data = write_jsonl(tmp_path / "dpo.jsonl", rows)
    labels = tmp_path / "labels.jsonl"
    with label_server(str(data), "-o", str(labels), "--annotator", "ann", cwd=tmp_path) as server:
        page = open_page(browser, server.url)
        assert item_id(page) == "d1"
        roles = page.locator("#conversation .turn .role").all_inner_texts()
        assert roles == ["user", "assistant", "user"]
        assert "left or right" in page.locator("#conversation .turn.judged").inner_text()
        assert {page.inner_text("#left"), page.inner_text("#right")} == {"11.", "9."}
        assert page.inner_text("#reference") == "13"
        assert press(page, "t") == ""
        assert page.errors == []
        page.close()
        assert server.stop()[0] == 0
    (row,) = read_jsonl(labels)
    assert row["messages"] == chat and row["reference"] == "13" and row["preference"] == "tie"
    assert (row["response_a"], row["response_b"]) == ("11.", "9.")
