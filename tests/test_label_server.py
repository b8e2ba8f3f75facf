"""`judge label`'s server as a real subprocess: concurrent pages, SIGKILL, Ctrl-C, security."""

from __future__ import annotations

import json
import re
import signal
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.labelserver import label_server, pair_rows, read_jsonl, write_jsonl

pytestmark = pytest.mark.slow


def test_concurrent_clicks_from_two_pages(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", pair_rows(20))
    labels = tmp_path / "labels.jsonl"
    with label_server(str(data), "-o", str(labels), cwd=tmp_path) as server:
        # Both pages click the same item at the same moment: one decision is written.
        first = server.state("one")["item"]["id"]
        barrier = threading.Barrier(2)

        def click(page: str, choice: str) -> dict:
            barrier.wait()
            return server.post("decide", {"page": page, "id": first, "choice": choice})

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(click, ["one", "two"], ["left", "right"]))
        assert sum("notice" in a for a in answers) == 1
        assert [r["id"] for r in read_jsonl(labels)] == [first]

        # Then two pages label as fast as they can: each item once, none lost.
        def label_all(page: str) -> list[str]:
            done = []
            while (item := server.state(page)["item"]) is not None:
                answer = server.post("decide", {"page": page, "id": item["id"], "choice": "tie"})
                if "notice" not in answer:
                    done.append(item["id"])
            return done

        with ThreadPoolExecutor(2) as pool:
            one, two = pool.map(label_all, ["one", "two"])
        assert one and two and not set(one) & set(two)  # the pages got different items
    rows = read_jsonl(labels)
    assert sorted(r["id"] for r in rows) == sorted(f"p{i}" for i in range(20))


def test_sigkill_loses_no_acknowledged_decision(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", pair_rows(200))
    labels = tmp_path / "labels.jsonl"
    acknowledged: list[str] = []
    with label_server(str(data), "-o", str(labels), cwd=tmp_path) as server:

        def keep_labelling() -> None:
            try:
                while True:
                    item = server.state("k")["item"]
                    server.post("decide", {"page": "k", "id": item["id"], "choice": "left"})
                    acknowledged.append(item["id"])
            except (OSError, urllib.error.URLError):
                return  # the server is gone

        worker = threading.Thread(target=keep_labelling)
        worker.start()
        while len(acknowledged) < 15:
            worker.join(0.01)
        server.proc.send_signal(signal.SIGKILL)
        worker.join(60)
        assert server.proc.wait(30) == -signal.SIGKILL
    written = [r["id"] for r in read_jsonl(labels)]  # every line whole JSON
    assert set(acknowledged) <= set(written)
    assert len(written) <= len(acknowledged) + 1  # at most the one in flight
    with label_server(str(data), "-o", str(labels), cwd=tmp_path) as server:
        state = server.state("again")
        assert state["progress"]["done"] == len(written)
        assert state["item"]["id"] == f"p{len(written)}"  # resumes right after
        code, err = server.stop()
    assert code == 0 and re.search(r"0 labelled this session, \d+ left; labels in", err)


def test_loopback_only_strict_headers_and_json_only(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", pair_rows(2))
    with label_server(str(data), "-o", str(tmp_path / "l.jsonl"), cwd=tmp_path) as server:
        with urllib.request.urlopen(server.url) as page:
            csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe" not in csp
        rebinding = urllib.request.Request(server.url + "api/state", headers={"Host": "evil.test"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(rebinding)
        assert err.value.code == 403
        form = urllib.request.Request(
            server.url + "api/decide",
            data=b"page=x&id=p0&choice=left",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(form)
        assert err.value.code == 415
        for path in ("static/../server.py", "static/nope.js"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(server.url + path)
            assert err.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as err:
            server.post("decide", {"page": "x", "id": "p0", "choice": "sideways"})
        assert (
            err.value.code == 400 and "left, right or tie" in json.loads(err.value.read())["error"]
        )


def test_another_host_needs_the_token(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", pair_rows(2))
    args = [str(data), "-o", str(tmp_path / "l.jsonl"), "--host", "0.0.0.0", "--allow-remote"]
    with label_server(*args, cwd=tmp_path) as server:
        m = re.fullmatch(r"http://0\.0\.0\.0:(\d+)/\?token=([\w-]{20,})", server.url)
        assert m, server.url
        base = f"http://127.0.0.1:{m.group(1)}/"
        for path in ("", "api/state"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path)
            assert err.value.code == 403
        with urllib.request.urlopen(base + f"?token={m.group(2)}") as page:
            assert page.status == 200
        request = urllib.request.Request(
            base + "api/state",
            data=b"{}",
            headers={"X-Token": m.group(2), "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as state:
            assert json.loads(state.read())["item"]["id"] == "p0"


def _raw_post(url: str, body: bytes, **headers: str) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_hostile_requests_change_nothing_and_print_one_line(tmp_path: Path) -> None:
    """Issue 21, section 5: deep JSON is a 400, reading the state reserves nothing by GET,
    cross-site POSTs are refused, malformed HTTP is one line on the terminal."""
    import socket

    data = write_jsonl(tmp_path / "in.jsonl", pair_rows(3))
    labels = tmp_path / "l.jsonl"
    with label_server(str(data), "-o", str(labels), cwd=tmp_path) as server:
        deep = b"[" * 30_000 + b"]" * 30_000
        assert _raw_post(server.url + "api/decide", deep) == 400
        # A cross-site <img src=/api/state> cannot reserve an item: GET is no route for it.
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + "api/state?page=img")
        assert err.value.code == 405
        decide = json.dumps({"page": "x", "id": "p0", "choice": "left"}).encode()
        assert _raw_post(server.url + "api/decide", decide, Origin="http://evil.test") == 403
        assert (
            _raw_post(server.url + "api/decide", decide, **{"Sec-Fetch-Site": "cross-site"}) == 403
        )
        assert _raw_post(server.url + "api/undo", b"{}", **{"Sec-Fetch-Site": "same-site"}) == 403
        assert read_jsonl(labels) == []
        origin = server.url.rstrip("/")
        assert _raw_post(server.url + "api/decide", decide, Origin=origin) == 200
        assert [r["id"] for r in read_jsonl(labels)] == ["p0"]
        host, port = server.url.split("//")[1].rstrip("/").split(":")
        for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"):
            with socket.create_connection((host, int(port)), timeout=10) as s:
                s.sendall(junk)
                assert s.recv(100).startswith(b"HTTP/1.")
        assert server.state("y")["item"] is not None  # still serving
        code, err_text = server.stop()
    assert code == 0 and "Traceback" not in err_text, err_text
    logged = [line for line in err_text.splitlines() if "Error handling request" in line]
    assert logged and all(line.startswith("judge label: ") for line in logged), err_text
