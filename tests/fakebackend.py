"""A backend whose answers the test controls, for scoring and runner tests without a server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from judge.backends.base import Request, Response

Answer = Callable[[Request], "str | Response | BaseException"]


def all_principles(score: int = 4, rationale: str = "fine") -> Answer:
    """An answer giving `score` to every principle the request's schema asks for."""

    def answer(request: Request) -> str:
        assert request.schema is not None
        ids = request.schema["required"]
        return json.dumps({pid: {"rationale": rationale, "score": score} for pid in ids})

    return answer


class FakeBackend:
    provider = "fake"

    def __init__(self, model: str = "judge", answer: Answer | None = None, latency: float = 0.0):
        self.model = model
        self.answer = answer or all_principles()
        self.latency = latency
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def name(self) -> str:
        return f"fake/{self.model}"

    def identity(self) -> dict[str, Any]:
        return {"provider": "fake", "model": self.model}

    async def generate(self, request: Request) -> Response:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            out = self.answer(request)
        finally:
            self.in_flight -= 1
        if isinstance(out, BaseException):
            raise out
        if isinstance(out, Response):
            return out
        words = sum(len(m.content.split()) for m in request.messages)
        return Response(
            text=out, input_tokens=words, output_tokens=len(out.split()), finish_reason="stop"
        )

    async def aclose(self) -> None:
        return None
