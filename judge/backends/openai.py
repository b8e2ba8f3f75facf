"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp's server, Groq, Together, ...).

Server and key:
- `base_url=None` means the official API, unless `OPENAI_BASE_URL` is set: the SDK sends requests
  there anyway, so it is treated exactly as if passed as `base_url` (and `identity()`, hence the
  cache key, names the server that really answers).
- The official API needs a key (`api_key`, else `OPENAI_API_KEY`); without one: ConfigError.
- A compatible server gets `OPENAI_API_KEY` when set, else a placeholder that local servers ignore.
The key lives only inside the SDK client: never in identity(), repr() or an error message.

Servers differ in what they support, so the request degrades, once per backend instance, when a
server answers 400/422 (llama-cpp-python: 500 "validation error") naming the feature: structured
output goes json_schema -> json_object -> the schema as a prompt instruction (the parser stays
strict either way), and `logprobs`, `seed` and `temperature` (which reasoning models refuse) are
dropped. The official API gets `max_completion_tokens` (reasoning models refuse `max_tokens`),
compatible servers `max_tokens` (older vLLM, llama.cpp and Ollama only know that one).

Speed: calls go through the SDK client's `post` (its auth, base URL, timeouts and error types)
with the JSON answer read here, and spread over several SDK clients at high concurrency; see the
comments at `_ENDPOINT` and in `generate`.

A prompt too long for the context window (400 context_length_exceeded, 413) or refused by a
content filter (400 code content_filter, finish_reason "content_filter", a `refusal` instead of
content) is a per-item error: that item is unjudged and the run goes on.

SDK retries are off: the runner owns retries, decided by `BackendError.transient`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import openai

from judge.backends.base import SCHEMA_INSTRUCTION, Request, Response, TokenLogprob
from judge.backends.http_errors import (
    describe_cause,
    error_codes,
    error_detail,
    error_from_status,
    garbled_error,
    redact,
    refused_error,
)
from judge.errors import BackendError, ConfigError

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
OFFICIAL_BASE_URL = "https://api.openai.com/v1"
# Sent to compatible servers when no key is set; they ignore it, the SDK insists on one.
PLACEHOLDER_KEY = "no-key-needed"

# Structured-output modes, strongest first; a backend only ever moves right.
_SCHEMA_MODES = ("json_schema", "json_object", "prompt")
# Request parameters a server may refuse; each is dropped once the server says so.
_DROPPABLE = ("logprobs", "seed", "temperature")
_MAX_DEGRADE_STEPS = len(_SCHEMA_MODES) + len(_DROPPABLE)
_ENDPOINT = "/chat/completions"
# An HTTP connection pool (httpcore) scans all its connections on every request and response, so
# its CPU cost per call grows with its size: at 64 calls in flight the client, not the server,
# capped throughput. Calls spread over several SDK clients of about this many calls in flight
# each, added as concurrency grows.
_CALLS_PER_CLIENT = 8
_MAX_CLIENTS = 64


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
        self._clients = [self._client]
        self._busy = [0]  # calls in flight per client
        self._strict: dict[str, bool] = {}
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
        for client in self._clients:
            await client.close()

    def _pick_client(self) -> int:
        """The least busy client, or a new one when every client has enough calls in flight."""
        i = min(range(len(self._busy)), key=self._busy.__getitem__)
        if self._busy[i] >= _CALLS_PER_CLIENT and len(self._clients) < _MAX_CLIENTS:
            # A copy has the same key, server and timeout, and its own connection pool.
            self._clients.append(self._client.copy(http_client=openai.DefaultAsyncHttpxClient()))
            self._busy.append(0)
            i = len(self._clients) - 1
        return i

    async def generate(self, request: Request) -> Response:
        for _ in range(_MAX_DEGRADE_STEPS + 1):
            mode = self._schema_mode if request.schema is not None else None
            params = self._params(request, mode, set(self._dropped))
            try:
                # The SDK's own client (auth, base URL, timeouts, error types), without its
                # per-call walk over the parameters and the pydantic models of the answer: with
                # log-probabilities those cost more CPU than everything else in a verdict, and
                # capped throughput at high concurrency (benchmarks/throughput.py).
                which = self._pick_client()
                self._busy[which] += 1
                try:
                    body = await self._clients[which].post(_ENDPOINT, body=params, cast_to=bytes)
                finally:
                    self._busy[which] -= 1
                data = json.loads(body)
            except openai.APIStatusError as exc:
                error = self._error(exc)
                # A prompt too long or filtered is about this item, not a feature to drop.
                if refuses_request(exc) and not error.per_item and self._degrade(exc, mode, params):
                    continue
                raise error from None
            except openai.OpenAIError as exc:
                raise self._error(exc) from None
            except ValueError as exc:  # JSONDecodeError: a 200 with a garbled body
                raise garbled_error(self.name, exc) from None
            return self._response(data, wants_logprobs="logprobs" in params)
        raise BackendError(f"{self.name}: the server kept rejecting the request", transient=False)

    def _is_strict(self, schema: dict[str, Any]) -> bool:
        """is_strict_schema, remembered: every item of a run sends the same schema."""
        key = json.dumps(schema, sort_keys=True, default=str)
        strict = self._strict.get(key)
        if strict is None:
            if len(self._strict) > 256:
                self._strict.clear()
            strict = self._strict[key] = is_strict_schema(schema)
        return strict

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
                        "strict": self._is_strict(request.schema),
                    },
                }
            else:
                if mode == "json_object":
                    fmt: dict[str, Any] = {"type": "json_object"}
                    if not self.official:
                        # llama.cpp's servers, Together and Fireworks constrain the output to a
                        # schema given here; other compatible servers ignore the key.
                        fmt["schema"] = request.schema
                    params["response_format"] = fmt
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

    def _response(self, data: Any, *, wants_logprobs: bool) -> Response:
        """A Response from the chat.completion JSON object; a wrong shape is a malformed answer."""
        try:
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}, not text")
            finish = choice.get("finish_reason")
            refusal = message.get("refusal")
            usage = data.get("usage") or {}
            details = usage.get("prompt_tokens_details") or {}
            response = Response(
                text=text,
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                cached_input_tokens=int(details.get("cached_tokens") or 0),
                logprobs=map_logprobs(choice.get("logprobs")) if wants_logprobs else None,
                finish_reason=finish if isinstance(finish, str) else None,
            )
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise garbled_error(self.name, f"not a chat completion: {exc!r}") from None
        # Asking again would get the same refusal: this item is unjudged, the run goes on.
        if finish == "content_filter":
            raise refused_error(self.name, "the provider's content filter stopped the answer")
        if refusal and not text:
            why = " ".join(str(refusal).split())[:200]
            raise refused_error(self.name, f"the model refused to answer: {why}")
        return response

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
                codes=error_codes(exc.body),
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


def refuses_request(exc: openai.APIStatusError) -> bool:
    """Whether the server refused the request as such (so a feature it names may be dropped).
    llama-cpp-python answers 500, not 422, when a request fails its validation (e.g. a
    response_format of type json_schema)."""
    if exc.status_code in (400, 422):
        return True
    return exc.status_code == 500 and "validation error" in str(exc.message).lower()


def map_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    """TokenLogprobs from a choice's `logprobs` object (None when the server sent none)."""
    content = logprobs.get("content") if logprobs else None
    if content is None:
        return None
    # Positional arguments: this runs for every output token of every verdict.
    return [
        TokenLogprob(
            t["token"],
            float(t["logprob"]),
            {a["token"]: float(a["logprob"]) for a in (t.get("top_logprobs") or ())},
        )
        for t in content
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
