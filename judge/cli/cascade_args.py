"""--cascade FILE on score, filter, pairs and calibrate: the option and the judges it opens."""

from __future__ import annotations

from typing import Any

import click

from judge.cascade.model import load
from judge.cascade.run import CascadeRun, check_mode, open_cascade
from judge.constitution import Constitution
from judge.engine.settings import Settings

cascade_option = click.option(
    "--cascade",
    "cascade_path",
    metavar="FILE",
    help="cascade.json from judge calibrate --escalate-to: ask its first judge, escalate while "
    "the judge's confidence is below its threshold, abstain when the last is not confident "
    "(its judges replace -m; --base-url and the other model options apply to all).",
)


def cascade_from(
    kw: dict[str, Any],
    settings: Settings,
    mode: str,
    constitution: Constitution,
    *,
    panel: bool = False,
) -> CascadeRun | None:
    """The cascade --cascade names, opened with the shared settings; None without it."""
    path = kw.pop("cascade_path", None)
    if not path:
        return None
    if panel:
        raise click.UsageError(
            "--cascade names its own judges; drop the panel (-m repeated or --judges), or the "
            "cascade"
        )
    cascade = load(path)
    check_mode(cascade, mode, path)
    sha = cascade.constitution.get("sha256")
    if sha and sha != constitution.sha256:
        click.echo(
            f"judge: warning: {path} was fitted under another constitution (sha256 "
            f"{str(sha)[:12]}, not {constitution.sha256[:12]}): its thresholds may not hold",
            err=True,
        )
    return open_cascade(cascade, settings, require_key=not kw.get("dry_run", False))
