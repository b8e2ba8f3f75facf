"""Model providers by name, as data: judge/data/providers.json, one entry per provider.

An entry says where the provider answers (base URL), which environment variable holds its key,
and what it supports (structured output, log-probabilities, prompt caching, a batch API, rate-limit
headers). Entries with `api: openai-compatible` are presets of the OpenAI backend
(judge.backends.preset_backend): `-m groq/NAME` is the OpenAI backend at Groq's URL with
GROQ_API_KEY, asking only for what Groq supports. Adding such a provider is one entry in the file.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from judge.errors import ConfigError

OPENAI_COMPATIBLE = "openai-compatible"
SchemaMode = Literal["json_schema", "json_object", "prompt"]


class Batch(BaseModel):
    """An OpenAI-compatible batch API (/files + /batches) and what a call through it costs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    discount: float = Field(gt=0, le=1)  # the share of the list price (0.5: half price)


class Features(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    structured_output: SchemaMode  # the strongest response_format the judge asks for
    logprobs: bool  # whether the judge asks for token log-probabilities
    prompt_cache: str  # how a repeated prefix is cached and billed, in words
    batch: Batch | None  # None: --batch is refused before any call
    rate_limit_headers: bool  # x-ratelimit-* headers on answers


class Provider(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")  # as written before the / in -m
    title: str
    api: Literal["openai", "anthropic", "local", "openai-compatible"]
    base_url: str | None  # None: in-process
    key_env: str | None  # None: no key (local servers)
    features: Features
    docs: list[str]  # the pages the entry was checked against
    read: str  # when they were read (YYYY-MM-DD)
    notes: str = ""

    @property
    def url(self) -> str | None:
        """The base URL as the backends compare it (no trailing slash)."""
        return None if self.base_url is None else self.base_url.rstrip("/")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(alias="_comment")
    providers: list[Provider]


@cache
def providers() -> tuple[Provider, ...]:
    """Every provider of the shipped table, in its order."""
    text = resources.files("judge").joinpath("data/providers.json").read_text("utf-8")
    try:
        table = _Table.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"judge/data/providers.json: not a valid provider table: {exc}") from None
    names = [p.name for p in table.providers]
    if len(set(names)) != len(names):
        raise ConfigError("judge/data/providers.json names a provider twice")
    return tuple(table.providers)


def provider(name: str) -> Provider | None:
    return next((p for p in providers() if p.name == name), None)


def presets() -> tuple[Provider, ...]:
    """The providers reached through the OpenAI backend at their own URL."""
    return tuple(p for p in providers() if p.api == OPENAI_COMPATIBLE)
