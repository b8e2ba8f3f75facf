"""What the HTTP backends (openai.py, anthropic.py) share: the model name, the server URL and the
key, identity/name/repr, and the mapping of failures to BackendError.

- The server is `base_url`, else the provider's `*_BASE_URL` variable (its SDK would send requests
  there anyway, so identity(), hence the cache key, names the server that really answers); the
  official URL counts as none. A URL with a user name or password is refused (ConfigError): the
  credential belongs in the key variable, and a URL gets printed.
- The key lives only inside the SDK client: never in identity(), repr() or an error message; URLs
  in all of those have user info and key-like query parameters redacted (http_errors.redact).
- `require_key=False` (a --dry-run calls nothing) builds the backend without a key; its first
  call then fails with the message a missing key gives.

Provider-neutral: the SDK module is passed in, so loading one backend never loads another's SDK.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from judge.backends.http_errors import (
    describe,
    describe_cause,
    error_codes,
    error_detail,
    error_from_status,
    garbled_error,
    never_sent,
    redact,
    refused_connection,
)
from judge.errors import BackendError, ConfigError


class HttpBackend:
    """Set-up and error mapping for a model behind a provider's HTTP API."""

    provider = ""
    key_env = ""  # the variable named when the key is missing or refused
    base_url_env = ""
    official_url = ""
    example_model = ""
    missing_key_hint = ""  # after "KEY_ENV is not set; "

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        require_key: bool = True,
    ) -> None:
        if not model:
            raise ConfigError(
                f"missing model name: write {self.provider}/NAME, "
                f"e.g. {self.provider}/{self.example_model}"
            )
        self.model = model
        self.timeout = timeout
        url = (base_url or os.environ.get(self.base_url_env) or "").strip().rstrip("/")
        try:
            netloc = urlsplit(url).netloc
        except ValueError as exc:
            raise ConfigError(
                f"the server URL {redact(url)} ({{opt:base_url}} or {self.base_url_env}) is not "
                "a URL: "
                f"{exc}"
            ) from None
        if "@" in netloc:
            raise ConfigError(
                f"the server URL {redact(url)} ({{opt:base_url}} or {self.base_url_env}) "
                "carries a user "
                f"name or password; give the URL without 'user:password@' and put the key in "
                f"{self.key_env} (sent as an Authorization header)"
            )
        self.base_url: str | None = None if url in ("", self.official_url) else url
        # As it may be shown (key-like query values redacted); computed once: identity() is
        # part of every call's cache key.
        self.shown_url = None if self.base_url is None else redact(self.base_url)
        self._secret: str | None = None
        self._missing_key: str | None = None
        self._connect(api_key, require_key=require_key)

    def _connect(self, api_key: str | None, *, require_key: bool) -> None:
        """Find the key (calling _use_key) and build the SDK client."""
        raise NotImplementedError

    def _use_key(self, key: str | None, *, needed: bool, require_key: bool) -> None:
        """Remember the key (to redact it); without one where one is needed: ConfigError, or,
        with require_key=False, an error at the first call."""
        self._secret = key
        if key or not needed:
            return
        message = f"{self.key_env} is not set; {self.missing_key_hint}"
        if require_key:
            raise ConfigError(message)
        self._missing_key = message

    def _check_ready(self) -> None:
        if self._missing_key is not None:
            raise BackendError(f"{self.name}: {self._missing_key}", transient=False)

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def server(self) -> str:
        """The server's URL as it may be shown."""
        return self.shown_url or self.official_url

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.shown_url is not None:
            ident["base_url"] = self.shown_url
        return ident

    def __repr__(self) -> str:
        server = f", base_url={self.shown_url!r}" if self.shown_url else ""
        return f"{type(self).__name__}(model={self.model!r}{server})"

    def status_error(
        self, status: int, detail: str, headers: Mapping[str, str], codes: Iterable[str] = ()
    ) -> BackendError:
        """An HTTP error answer as a BackendError (error_from_status), secrets redacted."""
        return error_from_status(
            status,
            redact(detail, self._secret),
            headers,
            name=self.name,
            key_env=self.key_env,
            server=self.shown_url,
            codes=codes,
        )

    def timeout_error(self, exc: BaseException | None = None) -> BackendError:
        """`exc`: the transport's error, to tell whether the request was sent (billed)."""
        return BackendError(
            f"{self.name}: no answer from {self.server} within {self.timeout:g} s",
            transient=True,
            billed=exc is None or not never_sent(exc),
        )

    def connection_error(self, cause: str, exc: BaseException | None = None) -> BackendError:
        return BackendError(
            f"{self.name}: connection to {self.server} failed: {redact(cause, self._secret)}",
            transient=True,
            billed=exc is None or not never_sent(exc),
        )

    def transport_error(self, exc: BaseException) -> BackendError:
        """A request that got no HTTP answer (timeout, refused or broken connection)."""
        if isinstance(exc, TimeoutError | asyncio.TimeoutError) and not refused_connection(exc):
            return self.timeout_error(exc)
        return self.connection_error(describe(exc), exc)

    def sdk_error(self, exc: Exception, sdk: ModuleType, detail: str | None = None) -> BackendError:
        """An exception of the openai or anthropic SDK (the same family of types) as a
        BackendError; `detail` overrides the message read from an error answer's body."""
        if isinstance(exc, sdk.APIStatusError):
            return self.status_error(
                exc.status_code,
                detail or error_detail(exc.body, exc.message),
                exc.response.headers,
                error_codes(exc.body),
            )
        if isinstance(exc, sdk.APITimeoutError) and not refused_connection(exc):
            return self.timeout_error(exc)
        if isinstance(exc, sdk.APIConnectionError):
            return self.connection_error(describe_cause(exc), exc)
        if isinstance(exc, sdk.APIResponseValidationError):
            return garbled_error(self.name, exc.message)
        return BackendError(f"{self.name}: {redact(str(exc), self._secret)}", transient=False)
