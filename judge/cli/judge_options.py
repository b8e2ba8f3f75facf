"""Who judges, on score, filter, pairs and calibrate: the model options (-m, repeatable), --batch,
a panel (--judges, --quorum) and a cascade (--cascade). judge.cli.common.judges_of turns them
into judge.tasks.judges.Judges."""

from __future__ import annotations

import click

from judge.cli.common import batch_options, model_options, stack

panel_options = stack(
    click.option(
        "--judges",
        "judges",
        envvar="JUDGE_JUDGES",
        type=click.Path(dir_okay=False),
        help="YAML or JSON file of judges, each with its own model, base_url, api_key_env, "
        "prices and weight: a panel (instead of repeated -m).",
    ),
    click.option(
        "--quorum",
        type=click.IntRange(1),
        help="A panel's item is judged only when at least this many members gave a verdict "
        "(default: a majority of the members).",
    ),
)

cascade_option = click.option(
    "--cascade",
    "cascade_path",
    metavar="FILE",
    help="cascade.json from judge calibrate --escalate-to: ask its first judge, escalate while "
    "the judge's confidence is below its threshold, abstain when the last is not confident "
    "(its judges replace -m; --base-url and the other model options apply to all).",
)

judge_options = stack(model_options, batch_options, panel_options, cascade_option)
