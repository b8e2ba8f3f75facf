"""The embedded model's chat prompt, tokenized so that data never becomes control tokens.

llama-cpp-python's `create_chat_completion` renders the chat template and tokenizes the whole
prompt with special tokens on: a `<|im_end|>` inside a candidate became the model's real end of
turn. Here the template is rendered with a placeholder for each message's content, the template's
own text is tokenized with special tokens on and each content with them off, after the model's own
special-token strings (read from its vocabulary) and those of the common chat templates
(judge/data/special_tokens.json) are defanged in it. The sampling settings are those
`create_chat_completion` uses, so verdicts are made as before.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from judge.judging.prompts.specials import defang_specials

_specials: dict[str, frozenset[str]] = {}  # model file -> its special tokens' text


def special_tokens(llm: Any) -> frozenset[str]:
    """The text of every control and user-defined token in the model's vocabulary."""
    path = str(llm.model_path)
    if path not in _specials:
        import llama_cpp

        wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
        vocab = llm._model
        texts = (
            vocab.token_get_text(t)
            for t in range(llm.n_vocab())
            if vocab.token_get_attr(t) & wanted
        )
        _specials[path] = frozenset(t for t in texts if t)
    return _specials[path]


def _text(llm: Any, token: int) -> str:
    return str(llm._model.token_get_text(token)) if token != -1 else ""


def prompt_tokens(llm: Any, messages: list[dict[str, str]]) -> list[int]:
    """The tokens of the chat prompt: template text with special tokens on, contents with them
    off (and their special-token strings defanged)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:  # a GGUF without a template: ChatML, as llama-cpp-python falls back to
        template = (
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
            "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
        )
    eos, bos = llm.token_eos(), llm.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template, eos_token=_text(llm, eos), bos_token=_text(llm, bos)
    )
    tag = secrets.token_hex(8)
    places = [f"\x1f{tag}:{k}\x1f" for k in range(len(messages))]
    shown: list[Any] = [{**m, "content": place} for m, place in zip(messages, places, strict=True)]
    rendered = formatter(messages=shown).prompt
    own = special_tokens(llm)
    tokens: list[int] = []
    for place, message in zip(places, messages, strict=True):
        before, found, rendered = rendered.partition(place)
        if not found:  # the template changed the content (trimmed it, say): render it as is
            raise _TemplateChangesContent
        tokens += llm.tokenize(before.encode("utf-8"), add_bos=False, special=True)
        content = defang_specials(message["content"], own)
        tokens += llm.tokenize(content.encode("utf-8"), add_bos=False, special=False)
    tokens += llm.tokenize(rendered.encode("utf-8"), add_bos=False, special=True)
    return tokens


class _TemplateChangesContent(Exception):
    pass


def create_chat_completion(llm: Any, **kwargs: Any) -> dict[str, Any]:
    """`llm.create_chat_completion(**kwargs)` for messages, response_format, temperature,
    max_tokens and seed, with the prompt tokenized as `prompt_tokens` says."""
    from llama_cpp import llama_grammar

    messages = kwargs.pop("messages")
    response_format = kwargs.pop("response_format", None)
    try:
        prompt = prompt_tokens(llm, messages)
    except _TemplateChangesContent:
        own = special_tokens(llm)
        safe = [{**m, "content": defang_specials(m["content"], own)} for m in messages]
        return dict(llm.create_chat_completion(messages=safe, **kwargs))
    grammar = None
    if response_format is not None and "schema" in response_format:
        grammar = llama_grammar.LlamaGrammar.from_json_schema(
            json.dumps(response_format["schema"]), verbose=False
        )
    eos = llm.token_eos()
    out = llm.create_completion(
        prompt=prompt,
        top_p=0.95,
        top_k=40,
        min_p=0.05,
        repeat_penalty=1.0,
        stop=[_text(llm, eos)] if eos != -1 else [],
        grammar=grammar,
        **kwargs,
    )
    choice = out["choices"][0]
    return {
        "choices": [
            {"message": {"content": choice["text"]}, "finish_reason": choice["finish_reason"]}
        ],
        "usage": out.get("usage") or {},
    }
