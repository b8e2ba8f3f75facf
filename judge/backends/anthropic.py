"""Anthropic's Messages API (anthropic SDK 2.x, API version 2026-10-21).

- Key: `api_key`, else `ANTHROPIC_API_KEY`, else `ANTHROPIC_AUTH_TOKEN`; none -> ConfigError.
  The key lives only inside the SDK client: never in identity(), repr() or an error message.
- System messages go to `system` as text blocks; a Message with `cache=True` gets
  `cache_control: {"type": "ephemeral"}` on its block, so the constitution is read from the prompt
  cache after the first call (at most 4 breakpoints are allowed: the last 4 are kept).
- Structured output: `output_config.format` (json_schema; constrained decoding, the schema first
  passed through the SDK's `transform_schema`, which moves unsupported keywords into
  descriptions). Models without it answer 400; the backend then falls back, once per instance, to a
  forced single tool call whose `input_schema` is the schema (the tool input is returned as JSON
  text), and then to the schema as a prompt instruction. The parser stays strict either way.
- Sampling: API version 2026-10-21 refuses `temperature`/`top_p`/`top_k` (even at defaults) and
  the SDK no longer accepts them, so `request.temperature` is not sent; there is no seed and no
  log-probabilities either (`request.logprobs` is ignored).
- Usage: Anthropic's `input_tokens` counts only uncached input. `Response.input_tokens` is the
  total (uncached + cache reads + cache writes), `cached_input_tokens` the cache reads (the same
  meaning as OpenAI's, so pricing can treat both alike) and `cache_write_input_tokens` the cache
  writes (billed at 1.25x the input rate).
- A prompt too long (400 "prompt is too long", 413) or a refusal (stop_reason "refusal") is a
  per-item error: that item is unjudged and the run goes on.

SDK retries are off: the runner owns retries, decided by `BackendError.transient`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anthropic
from anthropic.types import Message as AnthropicMessage
from anthropic.types import TextBlock, ToolUseBlock

from judge.backends.anthropic_batch import AnthropicBatch
from judge.backends.base import SCHEMA_INSTRUCTION, Message, Request, Response
from judge.backends.http_backend import HttpBackend
from judge.backends.http_errors import garbled_error, refused_error
from judge.errors import BackendError

API_KEY_ENV = "ANTHROPIC_API_KEY"
AUTH_TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
OFFICIAL_BASE_URL = "https://api.anthropic.com"
MAX_CACHE_BREAKPOINTS = 4

_SCHEMA_MODES = ("output_config", "tool", "prompt")
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "stop",  # the forced structured-output tool call is a complete answer
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class AnthropicBackend(HttpBackend):
    """A Claude model behind the Anthropic Messages API."""

    provider = "anthropic"
    key_env = API_KEY_ENV
    base_url_env = BASE_URL_ENV
    official_url = OFFICIAL_BASE_URL
    example_model = "claude-haiku-4-5"
    missing_key_hint = (
        "export it (keys: https://console.anthropic.com/), or pick another model with -m"
    )
    # Writing the prompt cache costs 1.25x input: the runner's worst-case estimates count it.
    bills_cache_writes = True

    def __init__(self, model: str, **kwargs: Any) -> None:
        """`kwargs`: HttpBackend's (api_key, base_url, timeout, require_key)."""
        self._schema_mode = _SCHEMA_MODES[0]
        super().__init__(model, **kwargs)
        self.batch = AnthropicBatch(self)

    def _connect(self, api_key: str | None, *, require_key: bool) -> None:
        key = api_key or os.environ.get(API_KEY_ENV)
        token = None if key else os.environ.get(AUTH_TOKEN_ENV)
        self._use_key(key or token, needed=True, require_key=require_key)
        # Passing the credential explicitly also stops the SDK from searching profiles on disk
        # (without one, under require_key=False, a placeholder that is never sent).
        self._client = anthropic.AsyncAnthropic(
            api_key=key or (None if token else "no-key"),
            auth_token=token,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def generate(self, request: Request) -> Response:
        self._check_ready()
        for _ in range(len(_SCHEMA_MODES)):
            mode = self._schema_mode if request.schema is not None else None
            params = self._params(request, mode)
            try:
                message = await self._client.messages.create(**params)
            except anthropic.BadRequestError as exc:
                error = self._error(exc)
                # A prompt too long or filtered is about this item, not a feature to drop.
                if not error.per_item and self._degrade(exc, mode, request.schema):
                    continue
                raise error from None
            except anthropic.AnthropicError as exc:
                raise self._error(exc) from None
            except ValueError as exc:  # JSONDecodeError: a 200 with a garbled body
                raise garbled_error(self.name, exc) from None
            return self._response(message, mode)
        raise BackendError(f"{self.name}: the server kept rejecting the request", transient=False)

    def _params(self, request: Request, mode: str | None) -> dict[str, Any]:
        system, messages = split_messages(request.messages)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
        }
        schema = request.schema
        if schema is not None:
            if mode == "output_config":
                params["output_config"] = {
                    "format": {"type": "json_schema", "schema": api_schema(schema)}
                }
            elif mode == "tool":
                name = tool_name(request.schema_name)
                params["tools"] = [
                    {
                        "name": name,
                        "description": "Record the answer. Call this tool exactly once.",
                        "input_schema": schema,
                    }
                ]
                params["tool_choice"] = {"type": "tool", "name": name}
            else:
                instruction = f"{SCHEMA_INSTRUCTION}\n{json.dumps(schema, ensure_ascii=False)}"
                messages.append(
                    {"role": "user", "content": [{"type": "text", "text": instruction}]}
                )
                merge_turns(messages)
        if system:
            params["system"] = system
        return params

    def _degrade(
        self, exc: anthropic.APIStatusError, mode: str | None, schema: dict[str, Any] | None
    ) -> bool:
        """Fall back to the next structured-output mode if the 400 names the current one."""
        text = f"{exc.api_message or ''} {exc.message}".lower()
        if mode == "output_config":
            named = any(w in text for w in ("output_config", "format", "structured", "schema"))
        elif mode == "tool":
            named = "tool" in text or "input_schema" in text
        else:
            return False
        if not named:
            return False
        following = _SCHEMA_MODES.index(mode) + 1
        if _SCHEMA_MODES[following] == "tool" and (schema or {}).get("type") != "object":
            following += 1  # a tool's input_schema must describe an object
        # Concurrent requests may degrade at once: never move back to a stronger mode.
        self._schema_mode = _SCHEMA_MODES[max(following, _SCHEMA_MODES.index(self._schema_mode))]
        return True

    def _response(self, message: object, mode: str | None) -> Response:
        if not isinstance(message, AnthropicMessage):  # a 200 that is not JSON at all
            raise garbled_error(self.name, "not a message")
        try:
            texts: list[str] = []
            tool_input: object = None
            for block in message.content:
                if isinstance(block, TextBlock):
                    texts.append(block.text)
                elif isinstance(block, ToolUseBlock):
                    tool_input = block.input
            text = "".join(texts)
            if mode == "tool" and tool_input is not None:
                text = json.dumps(tool_input, ensure_ascii=False)
            usage = message.usage
            cache_read = int(usage.cache_read_input_tokens or 0)
            cache_write = int(usage.cache_creation_input_tokens or 0)
            reason = message.stop_reason
            response = Response(
                text=text,
                input_tokens=int(usage.input_tokens or 0) + cache_read + cache_write,
                output_tokens=int(usage.output_tokens or 0),
                cached_input_tokens=cache_read,
                cache_write_input_tokens=cache_write,
                logprobs=None,
                finish_reason=_STOP_REASONS.get(reason, reason) if reason else None,
            )
        except (AttributeError, TypeError, ValueError) as exc:
            # The SDK does not validate bodies: a truncated-but-valid JSON lands here.
            raise garbled_error(self.name, exc) from None
        if reason == "refusal":
            # Asking again would get the same refusal: this item is unjudged, the run goes on.
            raise refused_error(self.name, "the model refused to answer (stop_reason refusal)")
        return response

    def _error(self, exc: anthropic.AnthropicError) -> BackendError:
        return self.sdk_error(exc, anthropic, getattr(exc, "api_message", None))


def split_messages(
    messages: tuple[Message, ...],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System text blocks, and user/assistant turns (same-role neighbours merged into one turn)."""
    cacheable = [i for i, m in enumerate(messages) if m.cache and m.content]
    breakpoints = set(cacheable[-MAX_CACHE_BREAKPOINTS:])
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if not m.content:  # the API refuses empty text blocks
            continue
        block: dict[str, Any] = {"type": "text", "text": m.content}
        if i in breakpoints:
            block["cache_control"] = {"type": "ephemeral"}
        if m.role == "system":
            system.append(block)
        else:
            turns.append(
                {"role": "assistant" if m.role == "assistant" else "user", "content": [block]}
            )
    merge_turns(turns)
    return system, turns


def merge_turns(turns: list[dict[str, Any]]) -> None:
    """Merge consecutive turns of the same role, in place (the API wants them alternating)."""
    merged: list[dict[str, Any]] = []
    for turn in turns:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"] = [*merged[-1]["content"], *turn["content"]]
        else:
            merged.append(turn)
    turns[:] = merged


def api_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as `output_config.format` accepts it (unsupported keywords -> descriptions)."""
    try:
        return anthropic.transform_schema(schema)
    except (ValueError, TypeError, KeyError):
        return schema


def tool_name(name: str) -> str:
    """Tool names must match ^[a-zA-Z0-9_-]{1,64}$."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in name)
    return cleaned.strip("_")[:64] or "answer"
