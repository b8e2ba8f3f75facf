"""--judges FILE and --quorum N (with repeated -m): a panel of judges on score, filter, pairs and
calibrate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from judge.engine.settings import Settings
from judge.panel.members import load_judges
from judge.panel.panel import Panel, make_panel

F = TypeVar("F", bound=Callable[..., Any])


def panel_options(func: F) -> F:
    func = click.option(
        "--quorum",
        type=click.IntRange(1),
        help="A panel's item is judged only when at least this many members gave a verdict "
        "(default: a majority of the members).",
    )(func)
    return click.option(
        "--judges",
        "judges",
        envvar="JUDGE_JUDGES",
        type=click.Path(dir_okay=False),
        help="YAML or JSON file of judges, each with its own model, base_url, api_key_env, "
        "prices and weight: a panel (instead of repeated -m).",
    )(func)


def panel_from(kw: dict[str, Any], settings: Settings) -> Panel | None:
    """The panel the options ask for (removing them from kw), or None for one judge."""
    path = kw.pop("judges", None)
    quorum = kw.pop("quorum", None)
    models = kw.pop("models", None)
    if path and models:
        raise click.UsageError("give the panel's members with --judges FILE or with -m, not both")
    if not path and not models:
        if quorum is not None:
            raise click.UsageError("--quorum is for a panel: repeat -m, or give --judges FILE")
        return None
    return make_panel(load_judges(path) if path else models, settings, quorum)
