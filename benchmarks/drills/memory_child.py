"""`judge score` in this process with an instant in-process backend (`mem/judge`), for the memory
drill: no HTTP, so a million calls take minutes, and everything else (reading, the runner window,
scoring, writing) is the real code path. Nothing is recorded per request."""

from __future__ import annotations

import json
import sys
from typing import Any

from judge.backends import registry
from judge.backends.base import Request, Response


class InstantBackend:
    provider = "mem"
    model = "judge"

    @property
    def name(self) -> str:
        return "mem/judge"

    def identity(self) -> dict[str, Any]:
        return {"provider": "mem", "model": "judge"}

    async def generate(self, request: Request) -> Response:
        assert request.schema is not None
        text = json.dumps({p: {"rationale": "ok", "score": 4} for p in request.schema["required"]})
        return Response(text=text, input_tokens=1000, output_tokens=40, finish_reason="stop")

    async def aclose(self) -> None:
        return None


if __name__ == "__main__":
    registry.register("mem", lambda name, **kw: InstantBackend())
    from judge.cli import main

    main(sys.argv[1:])
