"""`judge serve`: the constitution as an HTTP reward server (judge.rewards.server)."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from judge.calibration import load_for
from judge.cli.common import constitution_flag, model_options, number
from judge.cli.flags import one_judge, settings_of
from judge.cli.help import Sectioned
from judge.constitution import load
from judge.label.server import LOOPBACK
from judge.label.server import serve as serve_app
from judge.records import Usage
from judge.rewards.core import RewardCore, only
from judge.rewards.server import MAX_BATCH, MAX_BYTES, make_app
from judge.rewards.verdicts import Judging
from judge.session import Session

DEFAULT_PORT = 8377


@click.command(cls=Sectioned)
@constitution_flag("Constitution file.", type=click.Path())
@model_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@number("--port", click.IntRange(0, 65535), DEFAULT_PORT, "Port (0: any free port).")
@click.option(
    "--token",
    envvar="JUDGE_SERVE_TOKEN",
    default="",
    help="Require `Authorization: Bearer TOKEN` on every request (401 otherwise).",
)
@click.option(
    "--group", is_flag=True, help="Judge a request's completions of one prompt in one call."
)
@click.option(
    "--pairwise",
    is_flag=True,
    help="Rewards are win rates against the other completions of the same prompt (compare mode).",
)
@click.option("--principle", help="Reward one principle's score alone.")
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(exists=True, dir_okay=False),
    help="calibration.json (absolute labels): rewards are calibrated scores.",
)
@click.option(
    "--reference-field",
    default="reference",
    show_default=True,
    help="Request field of the reference answers (`verify: answer` principles).",
)
@number("--max-batch", click.IntRange(1), MAX_BATCH, "Most completions one request may hold.")
@number("--max-bytes", click.IntRange(1024), MAX_BYTES, "Largest request body, in bytes.")
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    help="Seconds SIGTERM or Ctrl-C waits for requests in flight before it cancels them. "
    "Default: --timeout, the longest a model call waits.",
)
def serve(**kw: Any) -> None:
    """Serve rewards over HTTP: POST /v1/rewards and OpenRLHF's POST /get_reward.

    Every request shares one judge (cache, --max-cost budget, limits). SIGTERM or Ctrl-C stops
    taking requests and answers the ones in flight (for up to --drain-timeout seconds) before
    exiting. See docs/rewards.md.
    """
    if kw.pop("dry_run"):
        raise click.UsageError("judge serve makes calls as requests come: it has no --dry-run")
    kw.pop("quiet")
    one_judge(kw)
    settings = settings_of(kw)  # no --batch here: calls are made as requests come
    constitution = only(load(kw["constitution_path"]), kw["principle"])
    calibration = None
    if kw["calibration_path"]:
        calibration, warnings = load_for(
            kw["calibration_path"], kind="absolute", sha256=constitution.sha256
        )
        for warning in warnings:
            click.echo(f"judge: warning: {warning}", err=True)
    token, host = kw["token"], kw["host"]
    drain = settings.timeout if kw["drain_timeout"] is None else kw["drain_timeout"]
    if host not in LOOPBACK and not token:
        click.echo(
            f"judge: warning: listening on {host} without --token: anyone who reaches this "
            "address can spend your judge budget",
            err=True,
        )

    def ready(port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        click.echo(
            f"judge serve: {constitution.name} with {settings.model} on http://{shown}:{port} "
            f"(POST /v1/rewards, POST /get_reward); SIGTERM drains for up to {drain:g} s",
            err=True,
        )

    async def run() -> Usage:
        # one Session for the server's lifetime: every request shares its connections, cache,
        # limits and budget; it closes them after the last request is answered
        async with Session(settings=settings) as session:
            verdicts = Judging(constitution, session)
            core = RewardCore(
                verdicts,
                group=kw["group"],
                pairwise=kw["pairwise"],
                calibration=calibration,
                reference=kw["reference_field"],
            )
            app = make_app(core, token=token, max_bytes=kw["max_bytes"], max_batch=kw["max_batch"])
            await serve_app(app, host, kw["port"], ready, drain=drain)
            return core.spent()

    spent = asyncio.run(run())
    cost = "" if spent.cost_usd is None else f", ${spent.cost_usd:.4f}"
    click.echo(f"judge serve: stopped after {spent.calls} model calls{cost}", err=True)
