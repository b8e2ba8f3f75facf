"""Test your pipeline without a model: a backend whose answers you script.

    from judge.testing import FakeBackend, all_principles, use_backend

    backend = FakeBackend(answer=all_principles(4))
    with use_backend("fake", backend):          # `-m fake/anything` now reaches it
        rows = judge.score(records, "constitution.md", model="fake/judge")
    backend.requests                            # every request it was sent

An answer is a function of the request that returns the answer's text, a `Response`, or an
exception to raise (a `judge.errors.BackendError` to play a failing server).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from judge.backends import registry
from judge.backends.base import Backend, Request, Response

Answer = Callable[[Request], "str | Response | BaseException"]

__all__ = [
    "Answer",
    "FakeBackend",
    "all_principles",
    "data_section",
    "use_backend",
    "without_codes",
]


_CODED_TAG = re.compile(r"<(/?[a-z_]+?)_[0-9a-f]{8}((?: id=\"\d+\")?)>")


def without_codes(text: str) -> str:
    """A rendered prompt with the request's code taken out of its tag names
    (`<candidate_response_3f9a61c2>` -> `<candidate_response>`), to compare with plain text."""
    return _CODED_TAG.sub(r"<\1\2>", text)


def data_section(text: str, tag: str, number: int | None = None) -> str | None:
    """The data between `tag`'s opening and closing tags in a rendered prompt (their names carry
    the request's code: `<candidate_response_3f9a61c2>`), or None when there is no such section."""
    attrs = "" if number is None else f' id="{number}"'
    found = re.search(rf"<{tag}_([0-9a-f]+){attrs}>\n(.*?)\n</{tag}_\1>", text, re.S)
    return found.group(2) if found else None


def all_principles(score: int = 4, rationale: str = "fine") -> Answer:
    """An answer giving `score` to every principle the request's schema asks for (for every
    candidate of a grouped request: `--group`)."""

    def fill(schema: dict[str, Any], root: dict[str, Any]) -> Any:
        ref = schema.get("$ref")
        if isinstance(ref, str):  # "#/$defs/NAME"
            return fill(root["$defs"][ref.rsplit("/", 1)[-1]], root)
        if schema.get("type") == "array":  # the list of scores (--rationale brief and none)
            return [score] * schema["minItems"]
        if schema.get("type") == "string":  # the candidate's rationale (--rationale brief)
            return rationale
        if "score" in schema["properties"]:  # one principle's object
            return {"rationale": rationale, "score": score}
        return {key: fill(schema["properties"][key], root) for key in schema["required"]}

    def answer(request: Request) -> str:
        if request.schema is None:
            raise ValueError("all_principles answers scoring requests (they carry a schema)")
        return json.dumps(fill(request.schema, request.schema))

    return answer


class FakeBackend:
    """A backend answering with `answer(request)`; it records every request it is sent and how
    many were in flight at once."""

    provider = "fake"
    bills_cache_writes = False
    batch = None  # no batch API: --batch is refused

    def __init__(self, model: str = "judge", answer: Answer | None = None, latency: float = 0.0):
        self.model = model
        self.answer = answer or all_principles()
        self.latency = latency
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"

    def identity(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model}

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


@contextmanager
def use_backend(
    provider: str, backend: Backend | Callable[..., Backend]
) -> Iterator[Backend | Callable[..., Backend]]:
    """Make `-m PROVIDER/NAME` reach `backend` (or a factory called as `factory(NAME, **kw)`)
    inside the block, restoring what PROVIDER meant before."""
    factory = backend if callable(backend) and not hasattr(backend, "generate") else None
    previous = registry.factory(provider)
    registry.register(provider, factory or (lambda name, **kw: backend))  # type: ignore[arg-type]
    try:
        yield backend
    finally:
        registry.unregister(provider)
        if previous is not None:
            registry.register(provider, previous)
