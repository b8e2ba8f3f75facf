"""HTTP error mapping shared by the provider backends: status, body and headers -> BackendError.

Provider-neutral on purpose (no SDK import), so loading one backend never loads another's SDK.
The kind of a BackendError decides what the runner does: `transient` is retried, `per_item`
makes that one item unjudged and the run goes on, anything else stops the run at once.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from judge.errors import BackendError

_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")
# The user info of a URL (scheme://user:password@host), and the values of query parameters whose
# names say they hold a secret (key, api-key, api_key, token, access_token, auth, password, sig...).
_URL_USER = re.compile(r"(?<=://)[^/?#@\s]+@")
_SECRET_PARAM = re.compile(
    r"([?&;][^=&#\s]*(?:key|token|auth|pass|pwd|secret|sig|credential|session)[^=&#\s]*=)"
    r"[^&#\s]*",
    re.IGNORECASE,
)

# Error codes (OpenAI `error.code`, Anthropic `error.type`, llama.cpp `error.type`) and message
# wordings that say this one prompt is too long for the model. Servers word it in many ways:
# OpenAI, vLLM and llama-cpp-python "maximum context length is N tokens", Anthropic "prompt is too
# long", llama.cpp "exceeds the available context size", TGI "inputs tokens + max_new_tokens".
_TOO_LONG_CODES = frozenset(
    {
        "context_length_exceeded",
        "string_above_max_length",
        "exceed_context_size_error",
        "request_too_large",
    }
)
_TOO_LONG_TEXT = re.compile(
    r"context[ _](?:length|window|size)|maximum context|prompt is too long"
    r"|(?:input|prompt|message|content|string|text)s? (?:is |are )?too (?:long|large)"
    r"|too many (?:input )?tokens|reduce the length"
    r"|exceeds? the (?:available |maximum )?context|inputs.{0,10}tokens \+ .{0,20}max_new_tokens",
    re.IGNORECASE,
)
# Refusals by a content filter (OpenAI/Azure `code: content_filter`).
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_FILTER_TEXT = re.compile(
    r"content[ _](?:filter|management policy)|responsible ?ai policy", re.IGNORECASE
)


# Self-hosted servers start with a short context by default (llama-cpp-python's server: 2,048
# tokens, less than the shipped constitution's prompt): the fix is often the server's own flag.
TOO_LONG_FIX = (
    "shorten it (--max-chars), or use a model with a longer context; a self-hosted server can "
    "be started with a longer one (llama-cpp-python: --n_ctx 8192; llama.cpp's llama-server: "
    "--ctx-size 8192; vLLM: --max-model-len 8192)"
)


# How providers' keys begin (OpenAI, Anthropic, Groq, xAI, Hugging Face, Google, Replicate, ...).
_WORD_BREAK = re.compile(r"[^A-Za-z0-9]+")
_KEY_PREFIXES = ("sk-", "sk_", "gsk_", "xai-", "hf_", "AIza", "r8_", "pplx-", "fw_", "nvapi-")


def looks_like_key(value: str) -> bool:
    """Whether a value that should be a name (of a variable, a model) looks like a secret
    instead: a provider's key prefix, or a run of 20 or more letters and digits, of mixed case
    and with digits, and no word break (names are words: Llama-3.1-8B-Instruct, MY_KEY)."""
    text = value.strip()
    if text.startswith(_KEY_PREFIXES) or _KEY_PATTERN.search(text):
        return True
    return any(
        len(run) >= 20
        and any(c.islower() for c in run)
        and any(c.isupper() for c in run)
        and any(c.isdigit() for c in run)
        for run in _WORD_BREAK.split(text)
    )


_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-.]{24,}")


def hide_keys(text: str) -> str:
    """Any message with what looks like a key taken out (redact, and long key-like tokens):
    for the last line of defence, where an error meets the terminal."""
    text = redact(text)
    return _LONG_TOKEN.sub(
        lambda m: "[not shown: looks like a key]" if looks_like_key(m.group(0)) else m.group(0),
        text,
    )


def redact(text: str, secret: str | None = None) -> str:
    """Remove the key, anything shaped like one (servers echo masked keys on 401), and the
    credentials a URL may carry (user info, key-like query parameters)."""
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _URL_USER.sub("[redacted]@", text)
    text = _SECRET_PARAM.sub(r"\1[redacted]", text)
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


def error_codes(body: object) -> frozenset[str]:
    """The machine-readable codes of an error body: `code` and `type`, with or without the
    outer `error` object (the OpenAI SDK strips it, the Anthropic SDK keeps it)."""
    if not isinstance(body, Mapping):
        return frozenset()
    inner = body.get("error", body)
    if not isinstance(inner, Mapping):
        return frozenset()
    found = [inner.get("code"), inner.get("type"), body.get("type")]
    details = inner.get("details")
    if isinstance(details, Mapping):
        found.append(details.get("error_code"))
    return frozenset(str(c).lower() for c in found if isinstance(c, str | int) and str(c))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def rate_limit_reset_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until an exhausted rate limit resets, from the `x-ratelimit-*` headers OpenAI and
    Groq send (`x-ratelimit-remaining-requests: 0`, `x-ratelimit-reset-requests: 6m0s`; the same
    for tokens); None when no limit is exhausted or the headers are absent."""
    waits = []
    for kind in ("requests", "tokens"):
        if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() != "0":
            continue
        raw = headers.get(f"x-ratelimit-reset-{kind}", "").strip()
        parts = _DURATION.findall(raw)
        if parts and "".join(n + u for n, u in parts) == raw:
            waits.append(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
        else:
            try:
                value = float(raw)  # plain seconds
            except ValueError:
                continue
            if math.isfinite(value):
                waits.append(value)
    return max(0.0, max(waits)) if waits else None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date, or
    else from the reset of an exhausted `x-ratelimit-*` limit."""
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
        return rate_limit_reset_seconds(headers)
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


def is_too_long(status: int, detail: str, codes: Iterable[str] = ()) -> bool:
    """Whether an error says that this item's prompt does not fit the model."""
    if status == 413:
        return True
    return status in (400, 422) and (
        bool(_TOO_LONG_CODES.intersection(codes)) or bool(_TOO_LONG_TEXT.search(detail))
    )


def is_content_filtered(status: int, detail: str, codes: Iterable[str] = ()) -> bool:
    """Whether an error says that a content filter refused this item."""
    return status == 400 and (
        bool(_FILTER_CODES.intersection(codes)) or bool(_FILTER_TEXT.search(detail))
    )


def error_from_status(
    status: int,
    detail: str,
    headers: Mapping[str, str],
    *,
    name: str,
    key_env: str,
    server: str | None = None,
    codes: Iterable[str] = (),
) -> BackendError:
    """Map an HTTP error status to a BackendError; `detail` must already be redacted."""
    model = name.split("/", 1)[-1]
    codes = frozenset(codes)
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
    if is_too_long(status, detail, codes):
        return BackendError(
            f"{name}: this item is too long for the model (HTTP {status}): {detail}; "
            f"{TOO_LONG_FIX}",
            per_item=True,
            kind="too_long",
        )
    if is_content_filtered(status, detail, codes):
        return BackendError(
            f"{name}: the provider's content filter refused this item (HTTP {status}): {detail}",
            per_item=True,
        )
    return BackendError(
        f"{name}: the request was rejected (HTTP {status}): {detail}", transient=False
    )


def refused_error(name: str, why: str) -> BackendError:
    """A 200 whose answer the model or a content filter withheld: this item only."""
    return BackendError(f"{name}: no verdict for this item: {why}", per_item=True)


def garbled_error(name: str, detail: object) -> BackendError:
    return BackendError(
        f"{name}: the server sent a malformed answer ({detail})", transient=True, billed=True
    )


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe_cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(exc) if cause is None else describe(cause)


def refused_connection(exc: BaseException) -> bool:
    """Whether an error's causes include a refused or reset connection: the aiohttp transport
    reports a refused connection as a connect *timeout*, which would name the wrong problem."""
    seen: BaseException | None = exc
    for _ in range(8):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if seen is None:
            return False
        if isinstance(seen, ConnectionError) or type(seen).__name__ == "ClientConnectorError":
            return True
    return False


# Errors of the connect phase: the request was never sent, so nothing can have been billed.
_CONNECT_ERRORS = frozenset(
    {
        "ConnectionRefusedError",
        "ClientConnectorError",
        "ConnectError",
        "ConnectTimeout",
        "ConnectionTimeoutError",
    }
)


def never_sent(exc: BaseException) -> bool:
    """Whether a transport error happened before the request was sent (connection refused,
    host unreachable): only then can the provider not have billed it."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if any(t.__name__ in _CONNECT_ERRORS for t in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def read_error_body(content: bytes) -> object:
    """An error answer's body as the SDKs read it: the JSON value, else the text."""
    text = content.decode("utf-8", "replace").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text
