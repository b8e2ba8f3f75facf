"""`judge models`: the providers judge knows by name, their key variables (set or not, never the
value), base URLs and features, and the models of the price table with their prices."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from judge.backends.presets import Provider, providers
from judge.cli.help import Sectioned
from judge.engine.prices import STALE_AFTER_DAYS, Price, PriceTable
from judge.errors import ConfigError


def _price(model: str, price: Price, batch_rate: float, with_batch: bool) -> dict[str, Any]:
    batch = price.scaled(batch_rate) if with_batch else None
    return {
        "model": model,
        "input": price.input,
        "cached_input": price.cached_input,
        "output": price.output,
        "batch": None if batch is None else {"input": batch.input, "output": batch.output},
        "as_of": price.as_of,
        "stale": price.stale(),
        "source": price.source,
    }


def describe(p: Provider, table: PriceTable) -> dict[str, Any]:
    """One provider as `judge models --json` shows it."""
    prefix = f"{p.name}/"
    models = [
        _price(m, price, table.batch_rate(m), p.features.batch is not None)
        for m, price in sorted(table.prices.items())
        if m.startswith(prefix) and m != prefix
    ]
    models += [
        {"model": m, **entry, "stale": None}
        for m, entry in sorted(table.partial.items())
        if m.startswith(prefix)
    ]
    features = p.features.model_dump()
    return {
        "name": p.name,
        "title": p.title,
        "api": p.api,
        "base_url": p.base_url,
        "key_env": p.key_env,
        "key_set": bool(p.key_env and os.environ.get(p.key_env)),
        "features": features,
        "notes": p.notes,
        "docs": p.docs,
        "read": p.read,
        "models": models,
    }


def _money(x: float | None) -> str:
    return "?" if x is None else f"{x:g}"


def _text(entry: dict[str, Any]) -> list[str]:
    key = entry["key_env"]
    key_text = "no key" if key is None else f"{key} ({'set' if entry['key_set'] else 'not set'})"
    f = entry["features"]
    batch = f["batch"]
    batch_text = "none" if batch is None else f"{batch['discount']:g} of the list price"
    lines = [
        f"{entry['name']}/  {entry['title']}",
        f"  url: {entry['base_url'] or 'in-process'}; key: {key_text}",
        f"  features: {f['structured_output']} output; "
        f"{'log-probabilities' if f['logprobs'] else 'no log-probabilities'}; "
        f"batch API: {batch_text}; "
        f"rate-limit headers: {'yes' if f['rate_limit_headers'] else 'no'}",
        f"  prompt cache: {f['prompt_cache']}",
    ]
    if entry["notes"]:
        lines.append(f"  notes: {entry['notes']}")
    for m in entry["models"]:
        old = f" (over {STALE_AFTER_DAYS} days old)" if m.get("stale") else ""
        lines.append(
            f"  {m['model']}: in {_money(m.get('input'))}, cached in "
            f"{_money(m.get('cached_input'))}, out {_money(m.get('output'))} USD per 1M tokens"
            + (
                f"; batch {_money(m['batch']['input'])} / {_money(m['batch']['output'])}"
                if m.get("batch")
                else ""
            )
            + f"; read {m.get('as_of') or '?'}{old}"
        )
    return lines


@click.command(cls=Sectioned, short_help="Providers, key variables, models, prices and features.")
@click.argument("names", nargs=-1, metavar="[PROVIDER]...")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option(
    "--prices",
    type=click.Path(dir_okay=False),
    envvar="JUDGE_PRICES",
    help="A price file that adds to or overrides the built-in prices.",
)
def models(names: tuple[str, ...], as_json: bool, prices: str | None) -> None:
    """List the providers judge knows by name (-m PROVIDER/NAME): base URL, the variable that
    holds the key (whether it is set, never its value), what the judge asks of the provider, and
    the models of the price table (USD per million tokens, with the date each price was read).

    Any other OpenAI-compatible server works with -m NAME --base-url URL."""
    table = PriceTable(prices)
    known = {p.name: p for p in providers()}
    unknown = [n for n in names if n.rstrip("/") not in known]
    if unknown:
        raise ConfigError(f"unknown provider {unknown[0]!r}; known providers: {', '.join(known)}")
    chosen = [known[n.rstrip("/")] for n in names] or list(known.values())
    entries = [describe(p, table) for p in chosen]
    if as_json:
        click.echo(json.dumps({"providers": entries}, indent=2))
        return
    for i, entry in enumerate(entries):
        if i:
            click.echo()
        click.echo("\n".join(_text(entry)))
