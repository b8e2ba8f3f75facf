"""The reward server behind `judge serve`: rewards over HTTP for trainers in other processes.

    POST /v1/rewards   {"prompts": [...], "completions": [...], "reference": [...], ...}
                       -> {"rewards": [...], "details": [...]}   (in order; null: not judged)
    POST /get_reward   OpenRLHF's remote reward model: {"query": [...], "prompts": [...],
                       "labels": [...]} -> {"rewards": [...], "scores": [...], "extra_logs": {}}
    GET  /health       {"ok": true, "constitution": ..., "model": ..., "spent": {...}}

Every request shares one judge: one cache, one --max-cost budget, one set of limits. Errors are
JSON `{"error": {"type": ..., "message": ...}}`: 400 bad body, 401 no or wrong token, 413 too
large, 402 the budget is reached, 502 the judge model failed.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from judge.errors import BackendError, InputError, JudgeError
from judge.rewards.core import Reward, RewardCore
from judge.rewards.inputs import REFERENCE

CORE = web.AppKey("core", RewardCore)
LIMITS = web.AppKey("limits", dict)
MAX_BYTES = 32 * 1024 * 1024
MAX_BATCH = 4096


def _error(status: int, kind: str, message: str, **headers: str) -> web.Response:
    body = {"error": {"type": kind, "message": message}}
    return web.json_response(body, status=status, headers=headers or None)


class Refused(Exception):
    """A request answered with an error status (the handlers raise it, the middleware answers)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[LIMITS]["token"]
    if token and request.path != "/health":
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            why = "missing" if not given else "wrong"
            return _error(
                401,
                "unauthorized",
                f"{why} token: send the header `Authorization: Bearer TOKEN` with the --token "
                "judge serve was started with",
                **{"WWW-Authenticate": "Bearer"},
            )
    try:
        return await handler(request)
    except Refused as exc:
        return _error(exc.status, exc.kind, exc.message)
    except InputError as exc:
        return _error(400, "bad_request", str(exc))
    except BackendError as exc:
        return _error(502, "judge_failed", f"the judge model failed: {exc}")
    except JudgeError as exc:
        return _error(500, "error", str(exc))


async def _body(request: web.Request) -> dict[str, Any]:
    limit = request.app[LIMITS]["max_bytes"]
    if request.content_length is not None and request.content_length > limit:
        raise Refused(
            413,
            "too_large",
            f"the body is {request.content_length} bytes; the limit is {limit} (--max-bytes): "
            "send fewer completions a request",
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Refused(
            413,
            "too_large",
            f"the body is over {limit} bytes (--max-bytes): send fewer completions a request",
        ) from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Refused(400, "bad_request", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Refused(400, "bad_request", "the body must be a JSON object")
    return data


def _list(data: dict[str, Any], key: str, n: int | None = None) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise Refused(
            400,
            "bad_request",
            f"`{key}` must be a list"
            + (" (required)" if value is None else f", got {type(value).__name__}"),
        )
    if n is not None and len(value) != n:
        raise Refused(
            400, "bad_request", f"`{key}` has {len(value)} items; expected {n}, one a completion"
        )
    return value


def _check_batch(request: web.Request, n: int) -> None:
    limit = request.app[LIMITS]["max_batch"]
    if n > limit:
        raise Refused(
            413,
            "too_large",
            f"{n} completions in one request; the limit is {limit} (--max-batch): split the batch",
        )


async def _judge(
    request: web.Request, prompts: list[Any], completions: list[Any], columns: dict[str, Any]
) -> list[Reward]:
    core = request.app[CORE]
    found = await core.rewards(prompts, completions, columns)
    if any(r.reward is None for r in found) and core.verdicts.budget_reached():
        spent = core.spent().cost_usd or 0.0
        raise Refused(
            402,
            "budget_reached",
            f"the --max-cost budget is reached (spent ${spent:.4f}): judge serve answers no "
            "request that needs a model call; restart it with a higher --max-cost (cached "
            "verdicts are not paid again)",
        )
    return found


async def rewards(request: web.Request) -> web.Response:
    data = await _body(request)
    completions = _list(data, "completions")
    prompts = _list(data, "prompts", len(completions))
    _check_batch(request, len(completions))
    columns = {
        k: _list(data, k, len(completions)) for k in data if k not in ("prompts", "completions")
    }
    found = await _judge(request, prompts, completions, columns)
    return web.json_response(
        {"rewards": [r.reward for r in found], "details": [r.detail() for r in found]}
    )


async def get_reward(request: web.Request) -> web.Response:
    """OpenRLHF: `query` is the prompt and the response decoded together; the response is what
    follows the prompt. `labels` are the reference answers."""
    data = await _body(request)
    queries = _list(data, "query")
    prompts = _list(data, "prompts", len(queries)) if "prompts" in data else [""] * len(queries)
    _check_batch(request, len(queries))
    completions = []
    for i, (q, p) in enumerate(zip(queries, prompts, strict=True)):
        if not isinstance(q, str) or not isinstance(p, str):
            raise Refused(400, "bad_request", f"query[{i}] and prompts[{i}] must be strings")
        completions.append(q[len(p) :] if p and q.startswith(p) else q)
    columns = {REFERENCE: _list(data, "labels", len(queries))} if "labels" in data else {}
    found = await _judge(request, prompts, completions, columns)
    values = [r.reward for r in found]
    return web.json_response({"rewards": values, "scores": values, "extra_logs": {}})


async def health(request: web.Request) -> web.Response:
    core = request.app[CORE]
    c = core.constitution
    body = {
        "ok": True,
        "constitution": {"name": c.name, "sha256": c.sha256},
        "spent": core.spent().model_dump(),
    }
    return web.json_response(body)


def make_app(
    core: RewardCore, *, token: str = "", max_bytes: int = MAX_BYTES, max_batch: int = MAX_BATCH
) -> web.Application:
    # aiohttp's own limit sits above ours, so that ours answers with its JSON error
    app = web.Application(middlewares=[_guard], client_max_size=max_bytes + 1)
    app[CORE] = core
    app[LIMITS] = {"token": token, "max_bytes": max_bytes, "max_batch": max_batch}
    app.router.add_post("/v1/rewards", rewards)
    app.router.add_post("/get_reward", get_reward)
    app.router.add_get("/health", health)

    async def close(app: web.Application) -> None:
        await core.verdicts.aclose()

    app.on_cleanup.append(close)
    return app
