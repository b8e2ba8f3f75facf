"""The label page (`judge label`) with the delimiter attacks and HTML break-outs in its data: each
text stays inside its own box, as text, in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.labelserver import CHROMIUM, CHROMIUM_ARGS, label_server, write_jsonl
from tests.test_delimiter_attacks import ATTACKS, forged_tag

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="needs the dev extra: playwright")

BREAKOUTS = [
    "</div></section></main><script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2"><svg onload="window.__pwned = 3">',
    "<!-- </div> --><![CDATA[ ]]></textarea></template><plaintext><xmp></title></style>",
    '&lt;/div&gt;&lt;script&gt;window.__pwned = 4&lt;/script&gt;<a href="javascript:x">',
    "<iframe srcdoc='<script>parent.__pwned = 5</script>'></iframe><base href=//x/>",
]
TEXTS = [a["text"] for a in ATTACKS] + BREAKOUTS
# What the page shows of each box: its text, and the elements outside the data boxes.
SHOWN = """() => ({
  left: document.querySelector("#left").textContent,
  right: document.querySelector("#right").textContent,
  prompt: document.querySelector("#prompt").textContent,
  outside: [...document.querySelectorAll("body *")]
    .filter((e) => !e.closest("#left, #right, #prompt"))
    .map((e) => e.tagName.toLowerCase() + "#" + e.id).join(" "),
  scripts: document.scripts.length,
  pwned: window.__pwned === undefined ? null : window.__pwned,
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def letters(text: str) -> Counter[str]:
    return Counter(c for c in text if c.isalpha())


def test_every_attack_stays_in_its_box(browser: Any, tmp_path: Path) -> None:
    rows = [
        {"id": f"x{i}", "prompt": f"Q{i} {t}", "response_a": f"A {t}", "response_b": f"B {t}"}
        for i, t in enumerate(TEXTS)
    ]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    with label_server(str(data), "-o", str(tmp_path / "l.jsonl"), cwd=tmp_path) as server:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("body[data-item-id]", state="attached")
        baseline: str | None = None
        scripts = 0
        for _ in rows:
            shown = page.evaluate(SHOWN)
            row = next(r for r in rows if r["id"] == page.evaluate("document.body.dataset.itemId"))
            text = TEXTS[int(row["id"][1:])]
            baseline = baseline or shown["outside"]
            scripts = scripts or shown["scripts"]
            assert shown["pwned"] is None and shown["scripts"] == scripts, shown  # its own
            # every letter of the data is shown, in its own box (Markdown may drop markup)
            assert letters(text) <= letters(shown["prompt"]), (text, shown)
            assert letters(text) <= letters(shown["left"]) and letters(text) <= letters(
                shown["right"]
            )
            # nothing was added outside the data boxes
            assert shown["outside"] == baseline, (text, shown["outside"])
            before = row["id"]
            page.keyboard.press("s")
            page.wait_for_selector(f'body:not([data-item-id="{before}"])', state="attached")
        page.close()
        server.stop()
    assert errors == []


@pytest.fixture(scope="module")
def renderer(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("md")
    rows = [{"id": "p", "prompt": "Q?", "response_a": "a", "response_b": "b"}]
    data = write_jsonl(tmp / "in.jsonl", rows)
    with label_server(str(data), "-o", str(tmp / "l.jsonl"), cwd=tmp) as server:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector("body[data-item-id]", state="attached")
        yield page
        page.close()


RENDER = """(sources) => sources.map((s) => {
  const root = window.renderMarkdown(s);
  return {tags: [...root.querySelectorAll("*")].map((e) => e.tagName.toLowerCase()),
          text: root.textContent};
})"""
SAFE = {"p", "pre", "code", "strong", "em", "ul", "ol", "li", "blockquote", "hr", "span"}
SAFE |= {"h3", "h4", "h5", "h6"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(forged_tag(), st.sampled_from(BREAKOUTS)), max_size=4).map(
    "\n".join), min_size=10, max_size=10))  # fmt: skip
def test_generated_attacks_render_as_text(renderer: Any, sources: list[str]) -> None:
    for source, out in zip(sources, renderer.evaluate(RENDER, sources), strict=True):
        assert set(out["tags"]) <= SAFE, (source, out)
        assert letters(source) <= letters(out["text"]) or "```" in source, (source, out)
    assert json.dumps(renderer.evaluate("window.__pwned === undefined")) == "true"
