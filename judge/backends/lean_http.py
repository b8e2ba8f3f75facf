"""The chat-completions POST straight on aiohttp, for OpenAI-compatible servers.

Why: the SDK's request path (request options, header merging, request and URL objects) costs
about 1 ms of CPU per call, more than half of all the work in a verdict. Against a local vLLM or
llama.cpp server at 64 calls in flight on 2 cores, the judge process, not the server, set the pace
(benchmarks/throughput.py: 350 verdicts/s through the SDK, 500+ this way).

What stays the SDK's: the client is still built by `openai.AsyncOpenAI` (key, organization and
project headers, user agent, base URL); this posts the same JSON body with that client's own
headers to the same URL. Every answer, error statuses included, is returned as it came (the
backend reads error answers of both paths with one function); a request that gets no answer
raises the backend's own BackendError (HttpBackend.transport_error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import NamedTuple

import aiohttp
import openai

from judge.backends.http_backend import HttpBackend


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]
    content: bytes


class LeanPoster:
    """POSTs JSON bodies to one endpoint of the server an SDK client points at."""

    def __init__(
        self, client: openai.AsyncOpenAI, path: str, timeout: float, backend: HttpBackend
    ) -> None:
        self._client = client
        self._path = path
        self._backend = backend
        self.url = ""
        # The SDK's own split: a short connect timeout, the whole call bounded by `timeout`.
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            # A session belongs to one event loop; a backend may outlive one `asyncio.run`.
            # URL and headers are read from the client now, as the SDK reads them per call.
            client = self._client
            self.url = str(client.base_url).rstrip("/") + self._path
            headers = {k: v for k, v in client.default_headers.items() if isinstance(v, str)}
            headers.update({k: v for k, v in client.auth_headers.items() if isinstance(v, str)})
            self._session = aiohttp.ClientSession(
                # No cap of its own: the runner bounds the calls in flight.
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                timeout=self._timeout,
                headers=headers,
                # As the SDK's httpx client does: HTTP(S)_PROXY, NO_PROXY and .netrc apply.
                trust_env=True,
            )
            self._loop = loop
        return self._session

    async def post(self, body: bytes) -> Answer:
        """The server's answer, whatever its status; no answer at all raises BackendError."""
        session = self._open()
        try:
            async with session.post(self.url, data=body) as answer:
                content = await answer.read()
                return Answer(answer.status, answer.headers, content)
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self._backend.transport_error(exc) from None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
