"""Judges with their own endpoints: a panel or a cascade mixes providers (a local vLLM and a
paid API), so each member has its own model, server, key variable, price and weight.

A judges file is YAML or JSON: a list of members (or `{"judges": [...]}`), each

    - name: fast                      # optional; default: the model; unique in the file
      model: openai/Qwen2.5-7B        # PROVIDER/NAME, as after -m
      base_url: http://localhost:8000/v1   # optional: an OpenAI-compatible server
      api_key_env: VLLM_KEY           # optional: the variable that holds this member's key
      prices: {input: 0.1, output: 0.3}    # optional: USD per million tokens
      weight: 1                       # optional: its vote in the panel (> 0)
      concurrency: 4                  # optional: its calls in flight (default --concurrency)

Repeating -m is the shorthand for members that share every other option.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from judge.backends.http_errors import looks_like_key
from judge.engine.prices import Price
from judge.engine.runner import Runner
from judge.engine.settings import Settings, key_env_problem, make_runner
from judge.errors import ConfigError

FIELDS = ("name", "model", "base_url", "api_key_env", "prices", "weight", "concurrency")


@dataclass(frozen=True)
class Judge:
    """One judge: which model, where, with which key, at what price, with what vote."""

    name: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None  # the environment variable holding the key
    prices: Price | None = None  # USD per million tokens; None: the price table's
    weight: float = 1.0
    concurrency: int | None = None  # None: the shared --concurrency


def load_judges(path: str | Path) -> list[Judge]:
    """The members of a judges file (YAML or JSON); ConfigError naming the member, the field
    and the fix for anything wrong."""
    import yaml

    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the judges file: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if where.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: not valid YAML or JSON: {exc}") from None
    if isinstance(data, dict) and set(data) == {"judges"}:
        data = data["judges"]
    if not isinstance(data, list) or not data:
        raise ConfigError(
            f"{where}: a judges file is a non-empty list of members, each with at least "
            "`model: PROVIDER/NAME` (or an object {judges: [...]})"
        )
    judges = [_member(entry, i, where) for i, entry in enumerate(data, 1)]
    seen: set[str] = set()
    for j in judges:
        if j.name in seen:
            raise ConfigError(
                f"{where}: two members are named {j.name!r}; give each a distinct `name:`"
            )
        seen.add(j.name)
    return judges


def _member(entry: Any, number: int, where: str) -> Judge:
    if isinstance(entry, str):
        entry = {"model": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: member {number} is not an object with `model: PROVIDER/NAME`")
    label = f"member {number}" + (
        f" ({entry['name']})" if isinstance(entry.get("name"), str) else ""
    )

    def bad(field: str, fix: str) -> ConfigError:
        return ConfigError(hide_keys(f"{where}: {label}: field `{field}`: {fix}", entry))

    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise bad(unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")
    model = entry.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad("model", "missing or empty; write the model as PROVIDER/NAME")
    text: dict[str, str | None] = {}
    for field in ("name", "base_url", "api_key_env"):
        value = entry.get(field)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise bad(field, "must be a non-empty string")
        text[field] = value.strip() if isinstance(value, str) else None
    problem = text["api_key_env"] and key_env_problem(text["api_key_env"])
    if problem:
        raise bad("api_key_env", problem)
    weight = entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise bad("weight", f"must be a number > 0, got {weight!r}")
    if not math.isfinite(weight):
        raise bad("weight", f"must be finite, got {weight!r}")
    concurrency = entry.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise bad("concurrency", f"must be an integer >= 1, got {concurrency!r}")
    return Judge(
        name=text["name"] or model.strip(),
        model=model.strip(),
        base_url=text["base_url"],
        api_key_env=text["api_key_env"],
        prices=_prices(entry.get("prices"), bad),
        weight=float(weight),
        concurrency=concurrency,
    )


def hide_keys(message: str, entry: dict[str, Any]) -> str:
    """The message with every value of the entry that looks like a key taken out."""
    for value in [*entry, *entry.values()]:
        text = str(value)
        if len(text) >= 8 and looks_like_key(text):
            message = message.replace(text, "[a value that looks like a key, not shown]")
    return message


def _prices(value: Any, bad: Any) -> Price | None:
    if value is None:
        return None
    fix = "write {input: USD per 1M input tokens, output: USD per 1M output tokens}"
    if not isinstance(value, dict) or set(value) - {"input", "output", "cached_input"}:
        raise bad("prices", fix)
    numbers: dict[str, float] = {}
    for key in ("input", "output", "cached_input"):
        v = value.get(key)
        if v is None and key == "cached_input":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or not math.isfinite(v):
            raise bad("prices", f"{key} must be a number >= 0, got {v!r}; {fix}")
        numbers[key] = float(v)
    return Price(numbers["input"], numbers["output"], numbers.get("cached_input"))


def judges_from_models(models: Sequence[str], settings: Settings) -> list[Judge]:
    """The -m A -m B shorthand: members that share the other options (--base-url, ...). A
    model given twice gets a numbered name, so both votes count."""
    judges: list[Judge] = []
    counts: dict[str, int] = {}
    for model in models:
        counts[model] = counts.get(model, 0) + 1
        name = model if counts[model] == 1 else f"{model}#{counts[model]}"
        judges.append(Judge(name=name, model=model, base_url=settings.base_url))
    return judges


def settings_for(judge: Judge, settings: Settings) -> Settings:
    """The Settings of one member: the shared ones with its model, server, key, price and
    concurrency (make_runner / make_backend then build its backend and runner)."""
    runner = settings.runner
    if judge.concurrency is not None:
        runner = replace(runner, concurrency=judge.concurrency)
    problem = judge.api_key_env and key_env_problem(judge.api_key_env)
    if problem:
        raise ConfigError(f"judge {judge.name!r}: api_key_env: {problem}")
    if judge.api_key_env and settings.require_key and not os.environ.get(judge.api_key_env):
        raise ConfigError(
            f"judge {judge.name!r}: {judge.api_key_env} (its api_key_env) is not set; export "
            "it with the member's key, or drop api_key_env to use the provider's usual variable"
        )
    return replace(
        settings,
        model=judge.model,
        base_url=judge.base_url,
        api_key_env=judge.api_key_env,
        price=judge.prices,
        runner=runner,
    )


def runner_for(judge: Judge, settings: Settings) -> Runner:
    """A member's runner (its own backend, the shared cache file and limits)."""
    try:
        return make_runner(settings_for(judge, settings), require_key=settings.require_key)
    except ConfigError as exc:
        if exc.template.startswith(f"judge {judge.name!r}"):
            raise
        raise ConfigError(f"judge {judge.name!r}: {exc.template}") from None
