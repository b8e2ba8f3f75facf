"""The chat-completions POST straight on aiohttp, for OpenAI-compatible servers.

Why: the SDK's request path (request options, header merging, httpx2 request and URL objects)
costs about 1 ms of CPU per call, more than half of all the work in a verdict. Against a local
vLLM or llama.cpp server at 64 calls in flight on 2 cores, the judge process, not the server,
set the pace (benchmarks/throughput.py: 350 verdicts/s through the SDK, 500+ this way).

What stays the SDK's: the client is still built by `openai.AsyncOpenAI` (key, organization and
project headers, user agent, base URL), this posts the same JSON body with that client's own
headers to the same URL, and every failure is raised as the SDK's own exception type, built by
the SDK from the response, so the backend handles both paths with one piece of code.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx2
import openai


class LeanPoster:
    """POSTs JSON bodies to one endpoint of the server an SDK client points at."""

    def __init__(self, client: openai.AsyncOpenAI, path: str, timeout: float) -> None:
        self._client = client
        self._path = path
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

    async def post(self, body: bytes) -> bytes:
        """The answer's body; a status >= 400 or a failed connection raises as the SDK would."""
        session = self._open()
        try:
            async with session.post(self.url, data=body) as answer:
                content = await answer.read()
                if answer.status < 400:
                    return content
                status, headers = answer.status, list(answer.headers.items())
        except asyncio.TimeoutError as exc:
            raise openai.APITimeoutError(request=self._request()) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise openai.APIConnectionError(message=str(exc), request=self._request()) from exc
        failed = httpx2.Response(status, headers=headers, content=content, request=self._request())
        raise self._client._make_status_error_from_response(failed)

    def _request(self) -> Any:
        return httpx2.Request("POST", self.url)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
