"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp's server, Groq, Together, ...).

Server and key:
- `base_url=None` means the official API, unless `OPENAI_BASE_URL` is set: the SDK sends requests
  there anyway, so it is treated exactly as if passed as `base_url` (and `identity()`, hence the
  cache key, names the server that really answers).
- The official API needs a key (`api_key`, else `OPENAI_API_KEY`); without one: ConfigError.
- A compatible server gets `OPENAI_API_KEY` when set, else a placeholder that local servers ignore.
The key lives only inside the SDK client: never in identity(), repr() or an error message.

Servers differ in what they support, so the request degrades, once per backend instance, when a
server answers 400/422 naming the feature: structured output goes json_schema -> json_object ->
the schema as a prompt instruction (the parser stays strict either way), and `logprobs`, `seed`
and `temperature` (which reasoning models refuse) are dropped. The official API gets
`max_completion_tokens` (reasoning models refuse `max_tokens`), compatible servers `max_tokens`
(older vLLM, llama.cpp and Ollama only know that one).

SDK retries are off: the runner owns retries, decided by `BackendError.transient`.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import ChoiceLogprobs

from judge.backends.base import Request, Response, TokenLogprob
from judge.errors import BackendError, ConfigError

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
OFFICIAL_BASE_URL = "https://api.openai.com/v1"
# Sent to compatible servers when no key is set; they ignore it, the SDK insists on one.
PLACEHOLDER_KEY = "no-key-needed"
SCHEMA_INSTRUCTION = "Answer with only a JSON object that follows this JSON schema:"

# Structured-output modes, strongest first; a backend only ever moves right.
_SCHEMA_MODES = ("json_schema", "json_object", "prompt")
# Request parameters a server may refuse; each is dropped once the server says so.
_DROPPABLE = ("logprobs", "seed", "temperature")
_MAX_DEGRADE_STEPS = len(_SCHEMA_MODES) + len(_DROPPABLE)


class OpenAIBackend:
    """A chat model behind the OpenAI Chat Completions API or a compatible server."""

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        if not model:
            raise ConfigError("missing model name: write openai/NAME, e.g. openai/gpt-4o-mini")
        self.model = model
        self.timeout = timeout
        url = (base_url or os.environ.get(BASE_URL_ENV) or "").strip().rstrip("/")
        self.base_url: str | None = None if url in ("", OFFICIAL_BASE_URL) else url
        key = api_key or os.environ.get(API_KEY_ENV)
        if not key:
            if self.base_url is None:
                raise ConfigError(
                    f"{API_KEY_ENV} is not set; export it, or use --base-url for a local "
                    "OpenAI-compatible server, or -m local/smollm2 for the embedded model"
                )
            key = PLACEHOLDER_KEY
        self._client = openai.AsyncOpenAI(
            api_key=key, base_url=self.base_url, timeout=timeout, max_retries=0
        )
        self._schema_mode = _SCHEMA_MODES[0]
        self._dropped: set[str] = set()

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def official(self) -> bool:
        return self.base_url is None

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.base_url is not None:
            ident["base_url"] = self.base_url
        return ident

    def __repr__(self) -> str:
        server = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAIBackend(model={self.model!r}{server})"

    async def aclose(self) -> None:
        await self._client.close()

    async def generate(self, request: Request) -> Response:
        for _ in range(_MAX_DEGRADE_STEPS + 1):
            mode = self._schema_mode if request.schema is not None else None
            params = self._params(request, mode, set(self._dropped))
            try:
                completion = await self._client.chat.completions.create(**params)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self._degrade(exc, mode, params):
                    continue
                raise self._error(exc) from None
            except openai.OpenAIError as exc:
                raise self._error(exc) from None
            except ValueError as exc:  # JSONDecodeError: a 200 with a garbled body
                raise garbled_error(self.name, exc) from None
            return self._response(completion, wants_logprobs="logprobs" in params)
        raise BackendError(f"{self.name}: the server kept rejecting the request", transient=False)

    def _params(self, request: Request, mode: str | None, dropped: set[str]) -> dict[str, Any]:
        messages: list[dict[str, Any]] = [
            {"role": m.role, "content": m.content} for m in request.messages
        ]
        params: dict[str, Any] = {"model": self.model, "messages": messages}
        tokens_param = "max_completion_tokens" if self.official else "max_tokens"
        params[tokens_param] = request.max_tokens
        if "temperature" not in dropped:
            params["temperature"] = request.temperature
        if request.seed is not None and "seed" not in dropped:
            params["seed"] = request.seed
        if request.logprobs is not None and "logprobs" not in dropped:
            params["logprobs"] = True
            # The official API caps top_logprobs at 20; other servers set their own limits.
            params["top_logprobs"] = (
                min(request.logprobs, 20) if self.official else request.logprobs
            )
        if request.schema is not None:
            if mode == "json_schema":
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": schema_name(request.schema_name),
                        "schema": request.schema,
                        "strict": is_strict_schema(request.schema),
                    },
                }
            else:
                if mode == "json_object":
                    params["response_format"] = {"type": "json_object"}
                append_schema_instruction(messages, request.schema)
        return params

    def _degrade(
        self, exc: openai.APIStatusError, mode: str | None, params: dict[str, Any]
    ) -> bool:
        """Drop the feature a 400 names, for this and later requests; False if none is named."""
        text = f"{exc.message} {getattr(exc, 'param', '') or ''}".lower()
        if mode in ("json_schema", "json_object") and ("response_format" in text or mode in text):
            following = _SCHEMA_MODES[_SCHEMA_MODES.index(mode) + 1]
            # Concurrent requests may degrade at once: never move back to a stronger mode.
            current = _SCHEMA_MODES.index(self._schema_mode)
            self._schema_mode = _SCHEMA_MODES[max(current, _SCHEMA_MODES.index(following))]
            return True
        for feature in _DROPPABLE:
            # "top_logprobs" names logprobs too; "exceeded" must not name "seed".
            if feature in params and re.search(rf"(?<![a-z]){feature}(?![a-z])", text):
                self._dropped.add(feature)
                return True
        return False

    def _response(self, completion: object, *, wants_logprobs: bool) -> Response:
        if not isinstance(completion, ChatCompletion):  # a 200 that is not JSON at all
            raise garbled_error(self.name, "not a chat completion")
        try:
            choice = completion.choices[0]
            text = choice.message.content or ""
            finish: str | None = choice.finish_reason
            if not text and getattr(choice.message, "refusal", None):
                finish = "refusal"
            usage = completion.usage
            details = usage.prompt_tokens_details if usage is not None else None
            return Response(
                text=text,
                input_tokens=int(usage.prompt_tokens or 0) if usage else 0,
                output_tokens=int(usage.completion_tokens or 0) if usage else 0,
                cached_input_tokens=int(details.cached_tokens or 0) if details else 0,
                logprobs=map_logprobs(choice.logprobs) if wants_logprobs else None,
                finish_reason=finish,
            )
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            # The SDK does not validate bodies: a truncated-but-valid JSON lands here.
            raise garbled_error(self.name, exc) from None

    def _error(self, exc: openai.OpenAIError) -> BackendError:
        secret = self._client.api_key
        server = self.base_url or OFFICIAL_BASE_URL
        if isinstance(exc, openai.APIStatusError):
            return error_from_status(
                exc.status_code,
                redact(error_detail(exc.body, exc.message), secret),
                exc.response.headers,
                name=self.name,
                key_env=API_KEY_ENV,
                server=self.base_url,
            )
        if isinstance(exc, openai.APITimeoutError):
            return BackendError(
                f"{self.name}: no answer from {server} within {self.timeout:g} s", transient=True
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = redact(describe_cause(exc), secret)
            return BackendError(
                f"{self.name}: connection to {server} failed: {cause}", transient=True
            )
        if isinstance(exc, openai.APIResponseValidationError):
            return garbled_error(self.name, exc.message)
        return BackendError(f"{self.name}: {redact(str(exc), secret)}", transient=False)


def map_logprobs(logprobs: ChoiceLogprobs | None) -> list[TokenLogprob] | None:
    if logprobs is None or logprobs.content is None:
        return None
    return [
        TokenLogprob(
            token=t.token,
            logprob=float(t.logprob),
            top={a.token: float(a.logprob) for a in (t.top_logprobs or [])},
        )
        for t in logprobs.content
    ]


def schema_name(name: str) -> str:
    """OpenAI wants ^[a-zA-Z0-9_-]{1,64}$ as the schema's name."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:64]
    return cleaned or "answer"


def is_strict_schema(schema: Any) -> bool:
    """True if OpenAI's strict mode accepts the schema: every object closes its properties
    (`additionalProperties: false`) and requires all of them. Other schemas go non-strict."""
    if not isinstance(schema, dict):
        return True
    subschemas: list[Any] = []
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False or not isinstance(props, dict):
            return False
        if set(schema.get("required", [])) != set(props):
            return False
        subschemas.extend(props.values())
    for key in ("items", "not"):
        subschemas.append(schema.get(key))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        subschemas.extend(schema.get(key) or [])
    for key in ("$defs", "definitions"):
        subschemas.extend((schema.get(key) or {}).values())
    return all(is_strict_schema(s) for s in subschemas)


def append_schema_instruction(messages: list[dict[str, Any]], schema: dict[str, Any]) -> None:
    """Ask for the schema in words, on the last user message (or a new one)."""
    instruction = f"{SCHEMA_INSTRUCTION}\n{json.dumps(schema, ensure_ascii=False)}"
    for message in reversed(messages):
        if message["role"] == "user":
            message["content"] = f"{message['content']}\n\n{instruction}"
            return
    messages.append({"role": "user", "content": instruction})


# --- Error mapping shared with the Anthropic backend (provider-neutral: status, body, headers).

_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, secret: str | None = None) -> str:
    """Remove the key, and anything shaped like one (servers echo masked keys on 401)."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


def error_detail(body: object, fallback: str, limit: int = 300) -> str:
    """The server's own message from an error body, on one line, trimmed."""
    message: object = None
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, Mapping) else inner
    elif isinstance(body, str):
        message = body
    text = " ".join(str(message or fallback).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
            if math.isfinite(value):
                return max(0.0, value)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return max(0.0, value) if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_status(
    status: int,
    detail: str,
    headers: Mapping[str, str],
    *,
    name: str,
    key_env: str,
    server: str | None = None,
) -> BackendError:
    """Map an HTTP error status to a BackendError; `detail` must already be redacted."""
    model = name.split("/", 1)[-1]
    if status == 401:
        # The server's text is left out on purpose: it is where keys get echoed back.
        return BackendError(
            f"{name}: the API key was refused (HTTP 401); check {key_env}", transient=False
        )
    if status == 403:
        return BackendError(
            f"{name}: permission denied (HTTP 403): {detail}; check that the key in {key_env} "
            f"may use model {model!r}",
            transient=False,
        )
    if status == 404:
        hint = f" and the server URL {server}" if server else ""
        return BackendError(
            f"{name}: model {model!r} was not found (HTTP 404): {detail}; check the model "
            f"name{hint}",
            transient=False,
        )
    if status in (408, 409, 425, 429) or status >= 500:
        return BackendError(
            f"{name}: HTTP {status}: {detail}",
            transient=True,
            retry_after=retry_after_seconds(headers),
        )
    return BackendError(
        f"{name}: the request was rejected (HTTP {status}): {detail}", transient=False
    )


def garbled_error(name: str, detail: object) -> BackendError:
    return BackendError(f"{name}: the server sent a malformed answer ({detail})", transient=True)


def describe_cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return str(exc)
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
