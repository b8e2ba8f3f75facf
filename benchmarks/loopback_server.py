"""A fast OpenAI-compatible loopback server for throughput benchmarks: raw asyncio HTTP/1.1.

Every POST /v1/chat/completions waits `--latency` seconds (concurrently, like a real API; the time
to first token) plus `--per-token` seconds for each output token (0 by default), and answers a
chat.completion whose content is a valid instance of the requested JSON schema, with
token log-probabilities when asked and usage counts. GET /stats gives the number of completions
served. Run it in its own process so that it never competes with the client for the GIL:

    python benchmarks/loopback_server.py --latency 0.1   # prints "PORT <n>" when listening
    python benchmarks/loopback_server.py --latency 0.2 --per-token 0.01   # 100 tokens a second

tests/fakes.py has the full-featured fake (faults, rate limits, every request recorded); this one
does nothing per request beyond what an answer needs, so that it sustains thousands of requests a
second on one core: answers are cached per schema, only the id changes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import time
from typing import Any

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")


def example_for_schema(schema: Any, root: Any = None) -> Any:
    """A small valid instance of a JSON schema: the last enum value, fixed strings, minimums;
    `$ref`s into the schema's `$defs` are followed (grouped verdicts use them)."""
    if not isinstance(schema, dict):
        return None
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return example_for_schema(target, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][-1] if len(schema["enum"]) > 1 else schema["enum"][0]
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
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "The response meets this principle well."


def requested_schema(body: dict[str, Any]) -> Any:
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema")
        return fmt.get("schema")
    return None


def logprobs_for(text: str, top_k: int) -> dict[str, Any]:
    """Each token at p=0.9; a digit's alternatives are its neighbours (expected scores work)."""
    main = math.log(0.9)
    content = []
    for token in _TOKEN.findall(text):
        core = token.strip()
        top = [{"token": token, "logprob": main, "bytes": None}]
        for i in range(1, top_k):
            alt = token.replace(core, str(int(core) - i)) if core.isdigit() else f"{token}~{i}"
            top.append({"token": alt, "logprob": math.log(0.1 / (top_k - 1)), "bytes": None})
        content.append({"token": token, "logprob": main, "bytes": None, "top_logprobs": top})
    return {"content": content, "refusal": None}


class Server:
    def __init__(self, latency: float, per_token: float = 0.0) -> None:
        self.latency = latency
        self.per_token = per_token
        self.served = 0
        self._answers: dict[tuple[str, int], tuple[str, int]] = {}  # -> (choices JSON, tokens)

    def answer(self, raw: bytes) -> tuple[bytes, int]:
        """The chat.completion for a request body, and its output tokens."""
        body = json.loads(raw)
        schema = requested_schema(body)
        top_k = int(body.get("top_logprobs") or 0) if body.get("logprobs") else -1
        key = (json.dumps(schema, sort_keys=True), top_k)
        cached = self._answers.get(key)
        if cached is None:
            text = "OK" if schema is None else json.dumps(example_for_schema(schema))
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": logprobs_for(text, top_k) if top_k >= 0 else None,
                "finish_reason": "stop",
            }
            cached = (json.dumps([choice]), len(_TOKEN.findall(text)))
            self._answers[key] = cached
        choices, completion = cached
        self.served += 1
        prompt = len(raw) // 4  # about four bytes a token
        usage = (
            f'{{"prompt_tokens": {prompt}, "completion_tokens": {completion}, '
            f'"total_tokens": {prompt + completion}, '
            f'"prompt_tokens_details": {{"cached_tokens": 0}}}}'
        )
        return (
            f'{{"id": "chatcmpl-{self.served}", "object": "chat.completion", '
            f'"created": {int(time.time())}, "model": {json.dumps(body.get("model"))}, '
            f'"choices": {choices}, "usage": {usage}}}'
        ).encode(), completion

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, header_block = head.decode("latin-1").partition("\r\n")
                method, path, _ = request_line.split(" ", 2)
                length = 0
                for line in header_block.split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                raw = await reader.readexactly(length) if length else b""
                status, payload = await self.route(method, path.split("?")[0], raw)
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str, raw: bytes) -> tuple[str, bytes]:
        if method == "POST" and path.endswith("/chat/completions"):
            payload, tokens = self.answer(raw)
            await asyncio.sleep(self.latency + self.per_token * tokens)
            return "200 OK", payload
        if method == "GET" and path == "/stats":
            return "200 OK", json.dumps({"served": self.served}).encode()
        if method == "GET" and path.endswith("/models"):
            return "200 OK", b'{"object": "list", "data": [{"id": "bench", "object": "model"}]}'
        return "404 Not Found", b'{"error": {"message": "no such route", "type": "not_found"}}'


async def serve(port: int, latency: float, per_token: float = 0.0) -> None:
    server = Server(latency, per_token)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, backlog=2048)
    print(f"PORT {listener.sockets[0].getsockname()[1]}", flush=True)
    async with listener:
        await listener.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument(
        "--per-token", type=float, default=0.0, help="seconds per output token, on top"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.latency, args.per_token))


if __name__ == "__main__":
    main()
