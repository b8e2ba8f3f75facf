"""`judge distill`: train a fastText classifier on a judge's verdicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click

from judge.calibration import load_for
from judge.cli.common import F, field_options, number, rule_options, seed_option
from judge.cli.flags import fields_of
from judge.cli.help import Sectioned
from judge.distill import DistillOptions, FastTextSettings, choose_rule, distill
from judge.options import options_of

# The default of each number option: its field's in DistillOptions or FastTextSettings.
_DEFAULTS = {
    f.name: f.default
    for cls in (DistillOptions, FastTextSettings)
    for f in dataclasses.fields(cls)
    if f.default is not dataclasses.MISSING
}


def _option(name: str, kind: click.ParamType, help: str) -> Callable[[F], F]:
    """--held-out for the field held_out: a number() with the field's default."""
    return number("--" + name.replace("_", "-"), kind, _DEFAULTS[name], help)


@click.command("distill", cls=Sectioned)
@click.argument("scored_path", metavar="SCORED")
@click.option("-o", "--output", "out_dir", required=True, help="MODEL_DIR to write.")
@rule_options("Label keep")
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    help="calibration.json from judge calibrate (absolute labels), for --target-precision.",
)
@click.option(
    "--score-field",
    default="score",
    show_default=True,
    help="The field the label rule reads: the judge's score, or e.g. a human label.",
)
@_option(
    "held_out",
    click.FloatRange(0, 1, max_open=True),
    "Fraction of the judged rows held out (seeded) to measure agreement with the judge.",
)
@seed_option("Seed of the held-out split and of fastText.")
@_option(
    "min_prob",
    click.FloatRange(0, 1),
    "The P(keep) threshold the held-out precision, recall and F1 are reported at.",
)
@click.option(
    "--newline-replacement",
    default="",
    show_default=True,
    help="What newlines become in the text fastText reads (datatrove's newline_replacement; "
    "the filter there must use the same).",
)
@_option(
    "lr",
    click.FloatRange(0, min_open=True),
    "Learning rate (fastText's own default, 0.1, leaves P(keep) near 0.5 on long documents; "
    "a run that diverges is retried with a lower one).",
)
@_option(
    "epoch",
    click.IntRange(1),
    "Passes over the training rows (default: about 50,000 steps, 5 to 50 passes).",
)
@_option(
    "dim",
    click.IntRange(1),
    "Size of the word vectors; with --bucket it sets the model's size (about 4 x dim x "
    "(bucket + words) bytes).",
)
@_option(
    "word_ngrams",
    click.IntRange(1),
    "Longest word n-gram used as a feature (2: words and bigrams, as DCLM's filter).",
)
@_option(
    "min_count",
    click.IntRange(1),
    "Words seen fewer times than this in the training rows are left out.",
)
@_option(
    "bucket",
    click.IntRange(1),
    "Rows of the hashed n-gram table (most of the model's size: rows x dim x 4 bytes). "
    "Default: the training words, 2,000 to 200,000.",
)
@_option(
    "threads", click.IntRange(1), "fastText training threads; only 1 is reproducible for a seed."
)
@_option("min_class", click.IntRange(1), "Fewest training rows of each label.")
@click.option(
    "--force",
    is_flag=True,
    help="Write the classifier even if it does not beat chance or keeping everything on the "
    "held-out rows, or fastText's install is mixed.",
)
@field_options
def distill_(**kw: Any) -> None:
    """Train a fastText classifier that mimics a judge, from SCORED (judge score or judge
    filter output), and write it to MODEL_DIR (model.bin, meta.json, report.md).

    Each judged row is labelled __label__keep or __label__drop by one rule (--min-score,
    --keep-top or --target-precision); a seeded held-out split reports the classifier's
    agreement with the judge. Use the model with judge filter --classifier MODEL_DIR, or in
    datatrove and NeMo Curator (see docs/distill.md).
    """
    calibration = None
    if kw["calibration_path"]:
        calibration, warnings = load_for(kw["calibration_path"], kind="absolute")
        for warning in warnings:
            click.echo(f"judge: warning: {warning}", err=True)
    rule = choose_rule(
        min_score=kw["min_score"],
        keep_top=kw["keep_top"],
        target_precision=kw["target_precision"],
        calibration=calibration,
    )
    settings = options_of(FastTextSettings, kw)  # --seed seeds fastText too, as the help says
    options = options_of(DistillOptions, kw, rule=rule, fields=fields_of(kw), fasttext=settings)
    result = distill(kw["scored_path"], kw["out_dir"], options)
    meta = result.meta
    m, data = meta["metrics"], meta["data"]
    for warning in meta.get("warnings", []):
        click.echo(f"judge: warning: {warning}", err=True)
    if meta["training"]["attempts"] > 1:
        click.echo(
            f"judge: fastText diverged (NaN); trained with lr {meta['fasttext']['lr']:g} "
            f"after {meta['training']['attempts']} attempts",
            err=True,
        )
    if meta["other_constitutions"]:
        click.echo(
            "judge: warning: SCORED mixes verdicts under several constitutions (see meta.json)",
            err=True,
        )

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    click.echo(
        f"judge: distilled {data['train']} rows ({data['keep']} keep, {data['drop']} drop in "
        f"all; {rule.text()}) into {kw['out_dir']}",
        err=True,
    )
    click.echo(
        f"judge: held out {m['n']}: at P(keep) >= {m['min_prob']:g} precision "
        f"{f(m['precision'])}, recall {f(m['recall'])}, F1 {f(m['f1'])} (keeping all: "
        f"{f(m.get('keep_all_f1'))}); ROC AUC "
        f"{f(m['roc_auc'])}; Spearman with the judge's score {f(m['spearman'])}",
        err=True,
    )
