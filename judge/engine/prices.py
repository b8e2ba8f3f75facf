"""Prices per model, cost of a call, estimates for --dry-run, and the --max-cost guard."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from judge.errors import ConfigError

# Anthropic bills prompt-cache writes (5-minute cache) at 1.25x the input rate; a price file entry
# may give `cache_write` for providers that bill otherwise.
CACHE_WRITE_MULTIPLIER = 1.25

# Without a tokenizer for every provider, estimates count about four characters per token, the
# usual figure for English text with BPE tokenizers. Estimates say so wherever they are shown.
CHARS_PER_TOKEN = 4.0

# The price file's entry of batch discounts (see PriceTable.batch_rate).
BATCH_KEY = "batch"
# A price read longer ago than this is reported as old by --dry-run and `judge models`.
STALE_AFTER_DAYS = 180


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float
    cached_input: float | None = None  # cache reads; default: the input rate
    cache_write: float | None = None  # cache writes; default: 1.25x the input rate
    # When the price was read (YYYY, YYYY-MM or YYYY-MM-DD) and where: metadata, not a rate.
    as_of: str | None = field(default=None, compare=False)
    source: str | None = field(default=None, compare=False)

    def age_days(self, today: dt.date | None = None) -> int | None:
        """Days since the price was read (from the start of a month or year given alone)."""
        if not self.as_of:
            return None
        parts = [int(x) for x in self.as_of.split("-")] + [1, 1]
        read = dt.date(parts[0], parts[1], parts[2])
        return ((today or dt.date.today()) - read).days

    def stale(self, today: dt.date | None = None) -> bool:
        age = self.age_days(today)
        return age is not None and age > STALE_AFTER_DAYS

    def scaled(self, rate: float) -> Price:
        """Every rate times `rate` (a batch discount: 0.5)."""
        write = (
            self.cache_write
            if self.cache_write is not None
            else self.input * CACHE_WRITE_MULTIPLIER
        )
        return replace(
            self,
            input=self.input * rate,
            output=self.output * rate,
            cached_input=None if self.cached_input is None else self.cached_input * rate,
            cache_write=write * rate,
        )

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_write_input_tokens: int = 0,
    ) -> float:
        """USD for a call; cache reads and writes are parts of `input_tokens`."""
        cached = min(cached_input_tokens, input_tokens)
        written = min(cache_write_input_tokens, input_tokens - cached)
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        write_rate = (
            self.cache_write
            if self.cache_write is not None
            else self.input * CACHE_WRITE_MULTIPLIER
        )
        return (
            (input_tokens - cached - written) * self.input
            + cached * cached_rate
            + written * write_rate
            + output_tokens * self.output
        ) / 1_000_000


def _parse_table(data: Any, source: str) -> tuple[dict[str, Price], dict[str, dict[str, Any]]]:
    """The complete prices, and the entries whose input price is null (not found: shown by
    `judge models`, never used to price a call)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a price file is a JSON object of model -> prices")
    table: dict[str, Price] = {}
    partial: dict[str, dict[str, Any]] = {}
    for model, entry in data.items():
        if model.startswith("_") or model == BATCH_KEY:
            continue
        if isinstance(entry, dict) and entry.get("input", 0) is None:
            partial[model] = dict(entry)
            continue
        try:
            table[model] = Price(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cached_input=_optional(entry, "cached_input"),
                cache_write=_optional(entry, "cache_write"),
                as_of=_text(entry, "as_of"),
                source=_text(entry, "source"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{source}: model {model!r} needs numeric 'input' and 'output' prices "
                f"(USD per million tokens), optionally 'cached_input' and 'cache_write', "
                f"'as_of' (YYYY-MM-DD) and 'source': {exc}"
            ) from exc
    return table, partial


def _batch_rates(data: Any, source: str) -> dict[str, float]:
    """The `batch` entry: provider/model prefix -> the share of the list price a batch call
    costs (0.5: half price)."""
    rates = data.get(BATCH_KEY) if isinstance(data, dict) else None
    if rates is None:
        return {}
    try:
        out = {str(k): float(v) for k, v in rates.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: '{BATCH_KEY}' maps provider/model prefixes to the share of the list price "
            f'a batch call costs, e.g. {{"openai/": 0.5}}: {exc}'
        ) from exc
    if any(not 0 <= v <= 1 for v in out.values()):
        raise ConfigError(f"{source}: '{BATCH_KEY}' rates are between 0 and 1 (0.5: half price)")
    return out


def _optional(entry: Any, key: str) -> float | None:
    value = entry.get(key)
    return None if value is None else float(value)


def _text(entry: Any, key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if key == "as_of":
        dt.date(*([int(x) for x in str(value).split("-")] + [1, 1])[:3])  # ValueError if not
    return str(value)


def _preset_batch_rates() -> dict[str, float]:
    """The batch discounts of the provider table (judge/data/providers.json)."""
    from judge.backends.presets import providers

    return {f"{p.name}/": p.features.batch.discount for p in providers() if p.features.batch}


class PriceTable:
    def __init__(self, extra_file: str | Path | None = None) -> None:
        text = resources.files("judge").joinpath("data/prices.json").read_text("utf-8")
        builtin = json.loads(text)
        self.prices, self.partial = _parse_table(builtin, "built-in price table")
        shipped = _batch_rates(builtin, "built-in price table")
        self.batch_rates = {**_preset_batch_rates(), **shipped}
        extra = extra_file or os.environ.get("JUDGE_PRICES")
        if extra:
            try:
                data = json.loads(Path(extra).read_text("utf-8"))
            except OSError as exc:
                raise ConfigError(f"{extra}: cannot read the price file: {exc}") from exc
            except ValueError as exc:
                raise ConfigError(f"{extra}: the price file is not valid JSON: {exc}") from exc
            prices, partial = _parse_table(data, str(extra))
            self.prices.update(prices)
            self.partial.update(partial)
            self.batch_rates.update(_batch_rates(data, str(extra)))

    def lookup(self, model: str) -> Price | None:
        """The price of `provider/name`, by its longest matching prefix; None when unknown."""
        best: str | None = None
        for key in self.prices:
            if model.startswith(key) and (best is None or len(key) > len(best)):
                best = key
        return None if best is None else self.prices[best]

    def batch_rate(self, model: str) -> float:
        """The share of the list price a batch call of `model` costs, by the longest matching
        prefix (OpenAI and Anthropic: 0.5); 1.0 when the table has none."""
        best = max((k for k in self.batch_rates if model.startswith(k)), key=len, default=None)
        return 1.0 if best is None else self.batch_rates[best]


def estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN))
