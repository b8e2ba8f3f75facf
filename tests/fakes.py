"""Fake OpenAI and Anthropic servers: real HTTP/1.1 on 127.0.0.1, served from a background thread.

They speak the wire format the real SDKs expect, and do on demand what real servers do only on bad
days: rate limits, 5xx, stalls past the client's timeout, connection resets, truncated or garbled
bodies. Every request is recorded for assertions.

    with FakeOpenAIServer(handler=lambda body: {"score": 4}) as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, api_key="sk-test")
        ...
        assert server.count == 1 and server.last_body["model"] == "gpt-test"

    server.script(Fault.rate_limit(retry_after=2), None, Fault.reset())  # the next 3 requests
    FakeOpenAIServer(fault_rates={Fault.status(500): 0.05}, latency=0.1, rpm=600)  # load tests
    FakeOpenAIServer(unsupported={"json_schema", "logprobs"})  # a server without those features

Faults: `Fault.status(code, message, retry_after)`, `rate_limit`, `delay(seconds)` (stall past the
client's timeout), `reset` (TCP RST, no response), `truncate` (half the promised body), `garble`
(invalid JSON in a 200), `raw(body)` (any body, e.g. JSON of the wrong shape or an HTML page).
`count` is every request received, `answered` the complete 200s; `requests`/`bodies`/`last_body`
hold what was sent (headers included).

A handler gets the request body (a dict) and returns the answer: a `str` (the text), a `dict` or
`list` (sent as JSON text), a `Reply` (text plus finish reason, log-probabilities, usage), a
`Fault`, or None for the default answer. The default answer (`auto_reply`) is a valid instance of
the JSON schema the request asks for, whichever way it asks (response_format, output_config,
a forced tool, or the schema written into the prompt), else "OK".

Usage counts tokens as words and punctuation marks, and simulates prefix caching: OpenAI's
`cached_tokens` count a system message seen before, Anthropic's cache fields count the blocks up
to the last `cache_control` breakpoint (written on first sight, read afterwards).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import Self

from tests.fake_batches import FakeBatches

# --- What a request gets back -------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A misbehaviour to inject instead of (or before) a normal answer."""

    kind: str  # "status" | "delay" | "reset" | "truncate" | "garble" | "raw"
    code: int = 0
    message: str = ""
    retry_after: str | None = None  # sent as Retry-After (seconds or an HTTP date)
    seconds: float = 0.0
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def status(cls, code: int, message: str = "", retry_after: float | str | None = None) -> Fault:
        """An HTTP error with the provider's error body."""
        after = None if retry_after is None else str(retry_after)
        return cls(
            "status", code=code, message=message or _REASONS.get(code, "error"), retry_after=after
        )

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = 1) -> Fault:
        return cls.status(429, "Rate limit reached for requests", retry_after)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Stall, then answer normally (a client with a shorter timeout gives up first)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then drop the connection with a TCP reset and no response."""
        return cls("reset")

    @classmethod
    def truncate(cls) -> Fault:
        """Send the headers and half the body promised by Content-Length, then close."""
        return cls("truncate")

    @classmethod
    def garble(cls) -> Fault:
        """A complete 200 response whose JSON body is cut short (invalid JSON)."""
        return cls("garble")

    @classmethod
    def raw(
        cls, body: str | bytes, *, code: int = 200, content_type: str = "application/json"
    ) -> Fault:
        """Any body at all, e.g. valid JSON of the wrong shape, or an HTML page."""
        data = body.encode() if isinstance(body, str) else body
        return cls("raw", code=code, body=data, content_type=content_type)


@dataclass
class Reply:
    """A normal answer. Usage fields left None are counted from the request and the text."""

    text: str = "OK"
    finish_reason: str | None = None  # provider's own value; default "stop" / "end_turn"
    # (token, logprob, {alternative: logprob}); OpenAI only; synthesized when asked and None.
    logprobs: list[tuple[str, float, dict[str, float]]] | None = None
    input_tokens: int | None = None  # OpenAI: prompt_tokens; Anthropic: uncached input_tokens
    output_tokens: int | None = None
    cached_tokens: int | None = None  # OpenAI: cached_tokens; Anthropic: cache_read_input_tokens
    cache_write_tokens: int | None = None  # Anthropic: cache_creation_input_tokens
    delay: float = 0.0  # extra seconds before this answer


HandlerResult = str | dict[str, Any] | list[Any] | Reply | Fault | None
Handler = Callable[[dict[str, Any]], HandlerResult]


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or the raw text when it was not JSON
    time: float = field(default_factory=time.monotonic)


_REASONS = {
    400: "Bad request",
    401: "Invalid authentication",
    403: "Permission denied",
    404: "Not found",
    408: "Request timeout",
    409: "Conflict",
    429: "Rate limit reached",
    500: "The server had an error while processing your request",
    502: "Bad gateway",
    503: "The engine is currently overloaded, please try again later",
    529: "Overloaded",
}

# --- Helpers for handlers -------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SCHEMA_MARKER = "JSON schema:"


def count_tokens(text: str) -> int:
    """A rough token count: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of text parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(body: Mapping[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def requested_schema(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks its answer to follow, however it asks, or None."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return schema
    config = body.get("output_config")
    if isinstance(config, dict) and isinstance(config.get("format"), dict):
        schema = config["format"].get("schema")
        if isinstance(schema, dict):
            return schema
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        for tool in body.get("tools") or []:
            if tool.get("name") == choice.get("name") and isinstance(
                tool.get("input_schema"), dict
            ):
                return dict(tool["input_schema"])
    text = last_user_text(body)
    at = text.rfind(_SCHEMA_MARKER)
    if at >= 0:
        with contextlib.suppress(ValueError):
            schema, _ = json.JSONDecoder().raw_decode(text[at + len(_SCHEMA_MARKER) :].lstrip())
            if isinstance(schema, dict):
                return schema
    return None


def example_for_schema(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A small valid instance of a JSON schema (numbers at their minimum, strings "ok")."""
    root = root if root is not None else schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return example_for_schema(target, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_for_schema(schema[key][0], root)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: example_for_schema(sub, root) for name, sub in props.items()}
    if kind == "array":
        item = example_for_schema(schema.get("items") or {}, root)
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        if low is None:
            value: float = min(1, schema.get("maximum", 1))
        else:
            value = low + (1 if "minimum" not in schema else 0)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "ok" * max(1, math.ceil(int(schema.get("minLength", 0)) / 2))


def auto_reply(body: Mapping[str, Any]) -> str:
    """The default answer: an instance of the requested schema, else "OK"."""
    schema = requested_schema(body)
    return "OK" if schema is None else json.dumps(example_for_schema(schema))


# --- The server ---------------------------------------------------------------------------------


class _Bucket:
    """A token bucket: `rpm` requests a minute, bursts up to `burst`."""

    def __init__(self, rpm: float, burst: float | None) -> None:
        self.rate = rpm / 60.0
        self.capacity = burst if burst is not None else max(1.0, self.rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 if a request may pass now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog (5) drops bursts of concurrent connects
    fake: _FakeServer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    timeout = 60  # idle keep-alive connections end eventually
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        self.raw = raw
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        try:
            self.server.fake._serve(self, body)
        except OSError:  # the client went away (e.g. it timed out first)
            self.close_connection = True

    def do_GET(self) -> None:
        fake = self.server.fake
        fake._record(self, None)
        path = self.path.split("?")[0]
        if fake.batches.handles(path):
            fake.batches.serve(self, "GET", path, None, b"")
            return
        self.send_json(404, self.server.fake.error_body(404, f"no route for GET {self.path}"))

    def send_json(
        self,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        cut: bool = False,
        content_type: str = "application/json",
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        self.wfile.flush()
        if cut:
            self.close_connection = True

    def reset_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            # SO_LINGER 0: close() sends RST instead of FIN, like a crashed proxy.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class _FakeServer:
    """Shared machinery; subclasses give the endpoint and the provider's JSON shapes."""

    endpoint = ""
    url_suffix = ""
    default_unsupported: tuple[str, ...] = ()
    batch_provider = ""  # the batch API it fakes (tests/fake_batches.py)

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        latency: float = 0.0,
        rpm: float | None = None,
        burst: float | None = None,
        faults: Iterable[Fault | None] = (),
        fault_rates: Mapping[Fault, float] | None = None,
        seed: int = 0,
        api_key: str | None = None,
        models: Iterable[str] | None = None,
        unsupported: Iterable[str] | None = None,
    ) -> None:
        """
        handler: decides each answer from the request body (default: `auto_reply`).
        latency: seconds every request waits before it is answered (concurrently).
        rpm, burst: a token-bucket rate limit; above it, 429 with Retry-After and retry-after-ms.
        faults: a script, one entry per request in order (None: answer normally); see `script`.
        fault_rates: random faults, {Fault: probability}, drawn from a RNG seeded with `seed`.
        api_key: when set, other keys get 401 (the message echoes a masked key, like OpenAI's).
        models: when set, other model names get 404.
        unsupported: request features the server refuses with 400 (e.g. "json_schema",
            "json_object", "logprobs", "seed", "output_config", "tools", or any body field).
        """
        self.handler = handler
        self.latency = latency
        self.api_key = api_key
        self.models = None if models is None else set(models)
        self.unsupported = set(self.default_unsupported if unsupported is None else unsupported)
        self.fault_rates = dict(fault_rates or {})
        self._bucket = _Bucket(rpm, burst) if rpm else None
        self._rng = random.Random(seed)
        self._script: deque[Fault | None] = deque(faults)
        self._lock = threading.Lock()
        self._records: list[Recorded] = []
        self._answered = 0
        self._rate_limited = 0
        self._seen_prefixes: set[str] = set()
        self._connections: set[socket.socket] = set()
        self.connections_opened = 0  # every TCP connection accepted (a client's pool reuses them)
        self._stopping = threading.Event()
        self.batches = FakeBatches(self, self.batch_provider)
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- public API

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.url_suffix}"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._records)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    @property
    def last_body(self) -> Any:
        records = self.requests
        if not records:
            raise AssertionError("the fake server has received no request")
        return records[-1].body

    @property
    def count(self) -> int:
        """Requests received, faulted ones included."""
        with self._lock:
            return len(self._records)

    @property
    def rate_limited(self) -> int:
        """Requests answered 429 by the rate limit (rpm, burst)."""
        with self._lock:
            return self._rate_limited

    @property
    def answered(self) -> int:
        """Requests answered with a 200 and a complete, valid body."""
        with self._lock:
            return self._answered

    def script(self, *faults: Fault | None) -> None:
        """Queue faults for the next requests, one each, in order (None: answer normally)."""
        with self._lock:
            self._script.extend(faults)

    def clear(self) -> None:
        """Forget recorded requests, the fault script and the simulated prompt cache."""
        with self._lock:
            self._records.clear()
            self._script.clear()
            self._seen_prefixes.clear()
            self._answered = 0

    def close(self) -> None:
        self._stopping.set()  # wakes handlers stalled in a delay
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url})"

    # -- provider-specific, overridden

    def error_body(self, code: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def refusal(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """An HTTP error for a request this server refuses (bad shape, unsupported feature)."""
        raise NotImplementedError

    def answer(self, body: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
        raise NotImplementedError

    # -- request processing

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
                self.connections_opened += 1
            else:
                self._connections.discard(conn)

    def _record(self, h: _Handler, body: Any) -> None:
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self._records.append(Recorded(h.command, h.path, headers, body))

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self.fault_rates:
                draw = self._rng.random()
                for fault, rate in self.fault_rates.items():
                    draw -= rate
                    if draw < 0:
                        return fault
        return None

    def line_answer(self, body: dict[str, Any]) -> tuple[int, Any]:
        """A batch line's status and body, as this server would answer the request (its
        handler; a `Fault.status` is an error line, other faults are ignored)."""
        problem = self._model_problem(body) or self.refusal(body)
        if problem is not None:
            return problem[0], self.error_body(*problem)
        result = (self.handler or auto_reply)(body)
        if isinstance(result, Fault):
            if result.kind == "status":
                return result.code, self.error_body(result.code, result.message)
            result = None
        reply = self._as_reply(result, body)
        with self._lock:
            self._answered += 1
            serial = len(self._records)
        return 200, self.answer(body, reply, serial)

    def _serve(self, h: _Handler, body: Any) -> None:
        self._record(h, body)
        self._sleep(self.latency)
        path = h.path.split("?")[0]
        if self.batches.handles(path):
            self.batches.serve(h, "POST", path, body, h.raw)
            return
        if path != self.endpoint:
            h.send_json(404, self.error_body(404, f"no route for POST {h.path}"))
            return
        fault = self._next_fault()
        if fault is not None and fault.kind == "delay":
            self._sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind in ("status", "reset", "garble", "raw"):
            self._send_fault(h, fault)
            return
        if self._bucket is not None:
            with self._lock:
                wait = self._bucket.take()
                self._rate_limited += wait > 0
            if wait > 0:
                headers = {
                    "Retry-After": str(math.ceil(wait)),
                    "retry-after-ms": str(math.ceil(wait * 1000)),
                }
                h.send_json(429, self.error_body(429, "Rate limit reached for requests"), headers)
                return
        if not isinstance(body, dict):
            h.send_json(
                400, self.error_body(400, "We could not parse the JSON body of your request.")
            )
            return
        problem = self._auth_problem(h) or self._model_problem(body) or self.refusal(body)
        if problem is not None:
            h.send_json(problem[0], self.error_body(*problem))
            return
        result = (self.handler or auto_reply)(body)
        if isinstance(result, Fault):
            if result.kind not in ("delay", "truncate"):
                self._send_fault(h, result)
                return
            self._sleep(result.seconds)
            fault = result if result.kind == "truncate" else fault
            result = None
        reply = self._as_reply(result, body)
        self._sleep(reply.delay)
        if self._stopping.is_set():  # closed while this request stalled: the server is gone
            h.reset_connection()
            return
        with self._lock:
            self._answered += 0 if fault is not None else 1
            serial = len(self._records)
        payload = self.answer(body, reply, serial)
        h.send_json(200, payload, cut=fault is not None)  # only a "truncate" fault is left here

    def _send_fault(self, h: _Handler, fault: Fault) -> None:
        if fault.kind == "reset":
            h.reset_connection()
        elif fault.kind == "garble":
            h.send_json(200, b'{"id": "garbled", "choices": [{"index": 0, "mess')
        elif fault.kind == "raw":
            h.send_json(fault.code, fault.body, content_type=fault.content_type)
        else:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            h.send_json(fault.code, self.error_body(fault.code, fault.message), headers)

    def _auth_problem(self, h: _Handler) -> tuple[int, str] | None:
        if self.api_key is None:
            return None
        sent = h.headers.get("x-api-key") or ""
        auth = h.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            sent = sent or auth[7:].strip()
        if sent == self.api_key:
            return None
        masked = f"{sent[:3]}{'*' * max(0, len(sent) - 7)}{sent[-4:]}" if len(sent) > 7 else "***"
        return 401, f"Incorrect API key provided: {masked}. You can find your API key in settings."

    def _model_problem(self, body: dict[str, Any]) -> tuple[int, str] | None:
        model = body.get("model")
        if self.models is None or model in self.models:
            return None
        return 404, f"The model `{model}` does not exist or you do not have access to it."

    def _as_reply(self, result: HandlerResult, body: dict[str, Any]) -> Reply:
        if isinstance(result, Reply):
            return result
        if result is None:
            return Reply(auto_reply(body))
        if isinstance(result, str):
            return Reply(result)
        return Reply(json.dumps(result))

    def _prefix_seen(self, model: str, texts: list[str]) -> bool:
        """Whether this prompt prefix was seen before (and remember it now)."""
        key = hashlib.sha256(json.dumps([model, texts]).encode()).hexdigest()
        with self._lock:
            seen = key in self._seen_prefixes
            self._seen_prefixes.add(key)
        return seen


class FakeOpenAIServer(_FakeServer):
    """POST /v1/chat/completions, answered with OpenAI-shaped chat.completion objects."""

    endpoint = "/v1/chat/completions"
    url_suffix = "/v1"
    batch_provider = "openai"

    def error_body(self, code: int, message: str) -> dict[str, Any]:
        kinds = {401: "invalid_request_error", 404: "invalid_request_error", 429: "requests"}
        codes = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
        kind = kinds.get(code, "server_error" if code >= 500 else "invalid_request_error")
        param = None
        match = re.search(r"(?:argument supplied|response_format|param): ?(\w+)", message)
        if match:
            param = match.group(1)
        return {
            "error": {"message": message, "type": kind, "param": param, "code": codes.get(code)}
        }

    def refusal(self, body: dict[str, Any]) -> tuple[int, str] | None:
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, "'messages' is a required property"
        fmt = body.get("response_format")
        fmt_type = fmt.get("type") if isinstance(fmt, dict) else None
        for feature in sorted(self.unsupported):
            if feature in ("json_schema", "json_object"):
                if fmt_type == feature:
                    return 400, (
                        f"Invalid parameter: 'response_format' of type '{feature}' "
                        "is not supported with this model."
                    )
            elif feature in body:
                return 400, f"Unrecognized request argument supplied: {feature}"
        return None

    def answer(self, body: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
        messages = [m for m in body["messages"] if isinstance(m, dict)]
        texts = [text_of(m.get("content")) for m in messages]
        prompt = (
            reply.input_tokens if reply.input_tokens is not None else sum(map(count_tokens, texts))
        )
        cached = reply.cached_tokens
        if cached is None:
            cached = 0
            system_first = messages and messages[0].get("role") in ("system", "developer")
            if system_first and self._prefix_seen(str(body.get("model")), texts[:1]):
                cached = count_tokens(texts[0])
        completion = (
            reply.output_tokens if reply.output_tokens is not None else count_tokens(reply.text)
        )
        logprobs = None
        if body.get("logprobs"):
            top_k = int(body.get("top_logprobs") or 0)
            entries = (
                reply.logprobs if reply.logprobs is not None else synth_logprobs(reply.text, top_k)
            )
            logprobs = {
                "content": [
                    {
                        "token": token,
                        "logprob": lp,
                        "bytes": list(token.encode()),
                        "top_logprobs": [
                            {"token": t, "logprob": v, "bytes": list(t.encode())}
                            for t, v in list(top.items())[:top_k]
                        ],
                    }
                    for token, lp, top in entries
                ],
                "refusal": None,
            }
        return {
            "id": f"chatcmpl-fake-{serial}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "logprobs": logprobs,
                    "finish_reason": reply.finish_reason or "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }


def synth_logprobs(text: str, top_k: int) -> list[tuple[str, float, dict[str, float]]]:
    """Plausible log-probabilities: each token at p=0.9; a digit's alternatives are its
    neighbours (so expected scores come out close to the chosen one)."""
    entries = []
    main = math.log(0.9)
    for token in re.findall(r"\s*(?:\w+|[^\w\s])|\s+", text):
        top = {token: main}
        core = token.strip()
        for i in range(1, top_k):
            alt = token.replace(core, str(int(core) + i)) if core.isdigit() else f"{token}~{i}"
            top[alt] = math.log(0.1 / (top_k - 1))
        entries.append((token, main, top if top_k > 0 else {}))
    return entries


class FakeAnthropicServer(_FakeServer):
    """POST /v1/messages, answered with Anthropic-shaped message objects.

    Like API version 2026-10-21 it refuses temperature/top_p/top_k by default (pass `unsupported`
    to change that). A forced tool call (tool_choice {"type": "tool"}) is answered with a tool_use
    block whose input is the reply text parsed as JSON.
    """

    endpoint = "/v1/messages"
    url_suffix = ""
    batch_provider = "anthropic"
    default_unsupported = ("temperature", "top_p", "top_k")

    def error_body(self, code: int, message: str) -> dict[str, Any]:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        kind = kinds.get(code, "api_error" if code >= 500 else "invalid_request_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": "req_fake",
        }

    def refusal(self, body: dict[str, Any]) -> tuple[int, str] | None:
        if not isinstance(body.get("max_tokens"), int):
            return 400, "max_tokens: Field required"
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, "messages: Field required"
        for feature in sorted(self.unsupported):
            if feature in body:
                if feature == "output_config":
                    model = body.get("model")
                    return (
                        400,
                        f"output_config.format: structured outputs are not supported by {model}",
                    )
                if feature == "tools":
                    return 400, "tools: tool use is not supported by this model"
                return 400, f"{feature}: Extra inputs are not permitted"
        return None

    def answer(self, body: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
        blocks = _blocks(body.get("system"))
        for message in body["messages"]:
            blocks.extend(_blocks(message.get("content") if isinstance(message, dict) else None))
        texts = [b.get("text", "") for b in blocks]
        total = sum(map(count_tokens, texts))
        marks = [i for i, b in enumerate(blocks) if b.get("cache_control")]
        prefix = sum(map(count_tokens, texts[: marks[-1] + 1])) if marks else 0
        read = write = 0
        if marks:
            if self._prefix_seen(str(body.get("model")), texts[: marks[-1] + 1]):
                read = prefix
            else:
                write = prefix
        read = reply.cached_tokens if reply.cached_tokens is not None else read
        write = reply.cache_write_tokens if reply.cache_write_tokens is not None else write
        uncached = reply.input_tokens if reply.input_tokens is not None else total - prefix
        output = (
            reply.output_tokens if reply.output_tokens is not None else count_tokens(reply.text)
        )
        choice = body.get("tool_choice")
        content: list[dict[str, Any]]
        if isinstance(choice, dict) and choice.get("type") == "tool":
            try:
                tool_input = json.loads(reply.text)
            except ValueError:
                tool_input = None
            if not isinstance(tool_input, dict):
                tool_input = {"answer": reply.text}
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_fake_{serial}",
                    "name": choice.get("name"),
                    "input": tool_input,
                }
            ]
            stop = reply.finish_reason or "tool_use"
        else:
            content = [{"type": "text", "text": reply.text}]
            stop = reply.finish_reason or "end_turn"
        return {
            "id": f"msg_fake_{serial}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": uncached,
                "output_tokens": output,
                "cache_creation_input_tokens": write,
                "cache_read_input_tokens": read,
            },
        }


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []
