"""`judge label`: make the human-labelled set for `judge calibrate` in a local web page."""

from __future__ import annotations

import asyncio
import getpass
import re
import secrets
import sys
import webbrowser
from typing import Any

import click

from judge.cli.common import constitution_flag, input_command, number, seed_option
from judge.errors import InputError
from judge.label.items import load_items
from judge.label.select import METHODS, select
from judge.label.server import LOOPBACK, make_app, serve
from judge.label.session import Session
from judge.label.store import LabelStore

DEFAULT_PORT = 8765


def _default_annotator() -> str:
    try:
        return getpass.getuser() or "annotator"
    except (KeyError, OSError):  # no user name in a bare container
        return "annotator"


def _scale(spec: str | None, kw_constitution: Any) -> tuple[int, int]:
    if spec is None:
        if kw_constitution is not None:
            return kw_constitution.scale.low, kw_constitution.scale.high
        return 1, 5
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", spec)
    if m is None or int(m.group(1)) >= int(m.group(2)):
        raise InputError(f"bad --scale {spec!r}: write LOW-HIGH, e.g. 1-5")
    return int(m.group(1)), int(m.group(2))


@input_command()
@click.option(
    "-o", "--output", "output", required=True, help="Labels file (.jsonl): created or continued."
)
@click.option(
    "--kind",
    type=click.Choice(["auto", "pairwise", "absolute"]),
    default="auto",
    show_default=True,
    help="pairwise: which of two responses is better; absolute: rate one response "
    "(auto: pairwise when rows have response_a/response_b or chosen/rejected).",
)
@click.option(
    "--annotator", default=_default_annotator, show_default="your user name", help="Your name."
)
@constitution_flag(
    "Constitution whose principles and rubrics the page shows for reference.", required=False
)
@click.option("--scale", help="Rating scale LOW-HIGH (default: the constitution's, else 1-5).")
@click.option(
    "--select",
    "method",
    type=click.Choice(METHODS),
    help="Order of the items: uncertain (the judge least sure first), disagree (panel "
    "members disagree), stratified (spread over the judge's scores), random (seeded). "
    "Default: uncertain with --judgments, else input order.",
)
@click.option(
    "--judgments", help="The judge's verdicts on INPUT: output of judge score, pairs or calibrate."
)
@number("--sample", click.IntRange(1), help="Label only the first N items chosen.")
@seed_option("Seed for the left/right order and --select random.")
@click.option(
    "--other",
    "others",
    multiple=True,
    help="Another annotator's labels file: the page shows your agreement (repeatable).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other machines can reach; the URL then carries a random token.",
)
@number(
    "--port",
    click.IntRange(0, 65535),
    help=f"Port (default {DEFAULT_PORT}, or a free one if it is taken; 0: any free port).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL; do not open a browser.")
def label(**kw: Any) -> None:
    """Label INPUT by hand in a local web page, for `judge calibrate`.

    Pairwise: keys a (left better), b (right better), t (tie); absolute: keys 1-5.
    s skips, u undoes. Every decision is saved at once to the --output file, which
    `judge calibrate` reads as it is; run the same command again to continue.
    """
    from judge.constitution import load

    host = kw["host"]
    if host not in LOOPBACK and not kw["allow_remote"]:
        raise InputError(
            f"--host {host} lets other machines reach the page and its texts: add "
            "--allow-remote to mean it (the URL then carries a random token)"
        )
    if kw["method"] == "disagree" and not kw["judgments"]:
        raise InputError("--select disagree needs --judgments FILE with a panel's verdicts")
    constitution = load(kw["constitution_path"]) if kw["constitution_path"] else None
    scale = _scale(kw["scale"], constitution)
    path = kw["input_path"]
    kind, items = load_items(path, None if kw["kind"] == "auto" else kw["kind"], seed=kw["seed"])
    method = kw["method"] or ("uncertain" if kw["judgments"] else None)
    chosen = select(items, method, kw["judgments"], sample=kw["sample"], seed=kw["seed"])
    store = LabelStore(kw["output"])
    session = Session(
        chosen.items,
        store,
        kw["annotator"],
        kind,
        scale=scale,
        constitution=constitution,
        others=kw["others"],
    )
    token = "" if host in LOOPBACK else secrets.token_urlsafe(18)
    done = session.progress()["done"]
    say = _say
    order = f", ordered: {method}" if method else ""
    say(
        f"judge label: {len(chosen.items)} {kind} items from {path}{order}; "
        f"{done} already labelled by {kw['annotator']} in {kw['output']}"
    )
    for note in chosen.notes:
        say(f"judge label: note: {note}")

    def ready(port: int) -> None:
        shown = "127.0.0.1" if host in ("127.0.0.1", "localhost") else host
        shown = f"[{shown}]" if ":" in shown else shown
        url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        say(f"judge label: open {url}  (Ctrl-C to stop)")
        if not kw["no_browser"]:
            webbrowser.open(url)

    port = kw["port"]
    app = make_app(session, token)
    asyncio.run(
        serve(
            app,
            host,
            DEFAULT_PORT if port is None else port,
            ready,
            fallback=port is None,
            on_error=lambda line: say(f"judge label: {line}"),
        )
    )
    left = session.progress()["left"]
    say(
        f"judge label: {session.labelled_now} labelled this session, {left} left; "
        f"labels in {kw['output']}"
    )


def _say(text: str) -> None:
    click.echo(text, err=True)
    sys.stderr.flush()
