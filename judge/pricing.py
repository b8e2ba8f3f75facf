"""Prices per model, cost of a call, estimates for --dry-run, and the --max-cost guard."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from judge.errors import ConfigError

# Without a tokenizer for every provider, estimates count about four characters per token, the
# usual figure for English text with BPE tokenizers. Estimates say so wherever they are shown.
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float
    cached_input: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        return (
            (input_tokens - cached) * self.input
            + cached * cached_rate
            + output_tokens * self.output
        ) / 1_000_000


def _parse_table(data: Any, source: str) -> dict[str, Price]:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a price file is a JSON object of model -> prices")
    table: dict[str, Price] = {}
    for model, entry in data.items():
        if model.startswith("_"):
            continue
        try:
            table[model] = Price(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cached_input=None
                if entry.get("cached_input") is None
                else float(entry["cached_input"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{source}: model {model!r} needs numeric 'input' and 'output' prices "
                f"(USD per million tokens), optionally 'cached_input': {exc}"
            ) from exc
    return table


class PriceTable:
    def __init__(self, extra_file: str | Path | None = None) -> None:
        text = resources.files("judge").joinpath("data/prices.json").read_text("utf-8")
        self.prices = _parse_table(json.loads(text), "built-in price table")
        extra = extra_file or os.environ.get("JUDGE_PRICES")
        if extra:
            try:
                data = json.loads(Path(extra).read_text("utf-8"))
            except OSError as exc:
                raise ConfigError(f"{extra}: cannot read the price file: {exc}") from exc
            except ValueError as exc:
                raise ConfigError(f"{extra}: the price file is not valid JSON: {exc}") from exc
            self.prices.update(_parse_table(data, str(extra)))

    def lookup(self, model: str) -> Price | None:
        """The price of `provider/name`, by its longest matching prefix; None when unknown."""
        best: str | None = None
        for key in self.prices:
            if model.startswith(key) and (best is None or len(key) > len(best)):
                best = key
        return None if best is None else self.prices[best]


def estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN))
