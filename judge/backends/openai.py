"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp's server, Groq, Together, ...).

Server and key (the shared rules are in http_backend.py):
- `base_url=None` means the official API, unless `OPENAI_BASE_URL` is set.
- The official API needs a key (`api_key`, else `OPENAI_API_KEY`); without one: ConfigError.
- A compatible server gets `OPENAI_API_KEY` when set, else a placeholder that local servers ignore.

Servers differ in what they support, so the request degrades, once per backend instance, when a
server answers 400/422 (llama-cpp-python: 500 "validation error") naming the feature: structured
output goes json_schema -> json_object -> the schema as a prompt instruction (the parser stays
strict either way), and `logprobs`, `seed` and `temperature` (which reasoning models refuse) are
dropped. The official API gets `max_completion_tokens` (reasoning models refuse `max_tokens`),
compatible servers `max_tokens` (older vLLM, llama.cpp and Ollama only know that one).

Speed: the answer's JSON is read here (orjson), not into the SDK's pydantic models, and only the
log-probabilities a request asks to keep are kept (Request.logprobs_after). The official API goes
through the SDK client's `post` (on the SDK's aiohttp transport); compatible servers through a
lean aiohttp POST with the same client's headers (lean_http.py), because there the judge's own
CPU sets the pace. Error answers of both paths go through one function (`_rejected`: status,
body, headers), which maps them with http_errors.py and drops refused features.

A prompt too long for the context window (400 context_length_exceeded, 413) or refused by a
content filter (400 code content_filter, finish_reason "content_filter", a `refusal` instead of
content) is a per-item error: that item is unjudged and the run goes on.

SDK retries are off: the runner owns retries, decided by `BackendError.transient`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import openai
import orjson

from judge.backends.base import SCHEMA_INSTRUCTION, Request, Response
from judge.backends.chat_completion import Unreadable, read_completion
from judge.backends.http_backend import HttpBackend
from judge.backends.http_errors import (
    error_codes,
    error_detail,
    garbled_error,
    read_error_body,
    refused_error,
)
from judge.backends.lean_http import LeanPoster
from judge.backends.openai_batch import OpenAIBatch
from judge.errors import BackendError

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


class OpenAIBackend(HttpBackend):
    """A chat model behind the OpenAI Chat Completions API or a compatible server."""

    provider = "openai"
    bills_cache_writes = False
    key_env = API_KEY_ENV
    base_url_env = BASE_URL_ENV
    official_url = OFFICIAL_BASE_URL
    example_model = "gpt-4o-mini"
    missing_key_hint = (
        "export it, or use --base-url for a local OpenAI-compatible server, or -m local/smollm2 "
        "for the embedded model"
    )

    def __init__(self, model: str, *, lean: bool | None = None, **kwargs: Any) -> None:
        """`kwargs`: HttpBackend's (base_url, api_key, timeout, require_key); `lean`: whether
        to use the lean POST (default: for compatible servers)."""
        self._lean_wanted = lean
        self._strict: dict[int, tuple[dict[str, Any], bool]] = {}
        self._schema_mode = _SCHEMA_MODES[0]
        self._dropped: set[str] = set()
        super().__init__(model, **kwargs)
        self.batch: OpenAIBatch | None = OpenAIBatch(self)

    def _connect(self, api_key: str | None, *, require_key: bool) -> None:
        key = api_key or (os.environ.get(self.key_env) if self.key_env else None)
        self._use_key(key, needed=self.key_needed, require_key=require_key)
        self._client = openai.AsyncOpenAI(
            api_key=key or PLACEHOLDER_KEY,
            base_url=self.base_url or self.default_url,
            timeout=self.timeout,
            max_retries=0,
        )
        # Local servers (vLLM, llama.cpp, ...) get the lean POST: there the judge's own CPU sets
        # the pace (lean_http.py). Hosted APIs, rate-limited far below that, keep the SDK's
        # whole request path.
        self._lean = (
            LeanPoster(self._client, _ENDPOINT, self.timeout, self)
            if (self.lean_by_default if self._lean_wanted is None else self._lean_wanted)
            else None
        )

    @property
    def official(self) -> bool:
        """Whether this is OpenAI's own API (max_completion_tokens, top_logprobs <= 20)."""
        return self.base_url is None

    @property
    def key_needed(self) -> bool:
        """Whether a call without a key must fail: the official API needs one."""
        return self.base_url is None

    @property
    def default_url(self) -> str | None:
        """The server when none is given; None: the SDK's own (api.openai.com)."""
        return None

    @property
    def lean_by_default(self) -> bool:
        return self.base_url is not None

    async def aclose(self) -> None:
        if self._lean is not None:
            await self._lean.aclose()
        await self._client.close()

    async def generate(self, request: Request) -> Response:
        self._check_ready()
        for _ in range(_MAX_DEGRADE_STEPS + 1):
            mode = self._schema_mode if request.schema is not None else None
            params = self._params(request, mode, set(self._dropped))
            # Raw JSON in and out: the SDK's pydantic models of a chat completion with
            # log-probabilities cost more CPU than everything else in a verdict.
            payload = orjson.dumps(params)
            if self._lean is not None:
                answer = await self._lean.post(payload)
                body = answer.content
                if answer.status >= 400:
                    status, error_body, headers = (
                        answer.status,
                        read_error_body(body),
                        answer.headers,
                    )
                    error = self._rejected(status, error_body, headers, mode, params)
                    if error is None:
                        continue
                    raise error
            else:
                try:
                    body = await self._client.post(_ENDPOINT, content=payload, cast_to=bytes)
                except openai.APIStatusError as exc:
                    error = self._rejected(
                        exc.status_code, exc.body, exc.response.headers, mode, params
                    )
                    if error is None:
                        continue
                    raise error from None
                except openai.OpenAIError as exc:
                    raise self.sdk_error(exc, openai) from None
            return self._answer(body, request, logprobs="logprobs" in params)
        raise BackendError(f"{self.name}: the server kept rejecting the request", transient=False)

    def _rejected(
        self,
        status: int,
        body: object,
        headers: Mapping[str, str],
        mode: str | None,
        params: dict[str, Any],
    ) -> BackendError | None:
        """The error for an error answer of either path; None once a feature the server
        refused is dropped, so that the request goes again without it."""
        detail = error_detail(body, f"HTTP {status}")
        error = self.status_error(status, detail, headers, error_codes(body))
        # A prompt too long or filtered is about this item, not a feature to drop.
        text = f"{detail} {body}".lower()
        if (
            refuses_request(status, text)
            and not error.per_item
            and self._degrade(text, mode, params)
        ):
            return None
        return error

    def _is_strict(self, schema: dict[str, Any]) -> bool:
        """is_strict_schema, remembered: every item of a run sends the same schema, mostly the
        very same dict (its id is checked against the dict kept alive beside it)."""
        known = self._strict.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        if len(self._strict) > 256:
            self._strict.clear()
        strict = is_strict_schema(schema)
        self._strict[id(schema)] = (schema, strict)
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

    def _degrade(self, text: str, mode: str | None, params: dict[str, Any]) -> bool:
        """Drop the feature a 400 (its text, lower case) names, for this and later requests;
        False if none is named."""
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

    def _answer(self, body: bytes, request: Request, *, logprobs: bool) -> Response:
        """The Response in a 200's body; a refusal or a filtered answer is a per-item error."""
        try:
            keep = request.logprobs_after
            response, refusal = read_completion(body, logprobs=logprobs, keep=keep)
        except Unreadable as exc:
            raise garbled_error(self.name, str(exc)) from None
        # Asking again would get the same refusal: this item is unjudged, the run goes on.
        if response.finish_reason == "content_filter":
            raise refused_error(self.name, "the provider's content filter stopped the answer")
        if refusal and not response.text:
            why = " ".join(str(refusal).split())[:200]
            raise refused_error(self.name, f"the model refused to answer: {why}")
        return response


def refuses_request(status: int, text: str) -> bool:
    """Whether the server refused the request as such (so a feature it names may be dropped).
    llama-cpp-python answers 500, not 422, when a request fails its validation (e.g. a
    response_format of type json_schema)."""
    return status in (400, 422) or (status == 500 and "validation error" in text)


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
