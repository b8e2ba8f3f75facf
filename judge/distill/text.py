"""The text a classifier reads, exactly as datatrove and NeMo Curator feed it to fastText.

datatrove's FastTextClassifierFilter (document mode) predicts on
`text.strip().replace("\\n", newline_replacement)` with `newline_replacement=""` by default, and
fastText itself splits words on ASCII whitespace. `judge` trains and predicts on that same string
and nothing else (no lower-casing, no punctuation splitting), so a model made by `judge distill`
gives the same probabilities in those tools as in `judge filter --classifier`.
"""

from __future__ import annotations

from judge.io.values import replace_surrogates
from judge.records import Candidate

# What meta.json records, so that another tool can reproduce the input byte for byte.
NORMALISATION = "text.strip().replace('\\n', newline_replacement)"
PROMPT_SEPARATOR = "\n\n"  # prompt + response candidates: prompt, a blank line, the response


def candidate_text(candidate: Candidate) -> str:
    """A document's text, or the prompt and the response joined by a blank line (a
    conversation's prompt is the transcript of the turns before the judged one)."""
    if candidate.is_document or candidate.prompt is None:
        return candidate.response
    return candidate.prompt + PROMPT_SEPARATOR + candidate.response


def model_input(text: str, newline_replacement: str = "") -> str:
    """The one line fastText reads, as datatrove makes it (see the module docstring). A lone
    surrogate (not UTF-8, which fastText's binding needs) reads as U+FFFD, as a decoder would."""
    return replace_surrogates(text.strip().replace("\n", newline_replacement))
