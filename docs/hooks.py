"""MkDocs hook: the Python API page lists what `judge.__all__` exports, so it follows the code.

The marker `<!-- judge.__all__ -->` in a page becomes one mkdocstrings block per exported name,
pointing at the object's own module (wherever the package's lazy `__getattr__` finds it).
"""

from __future__ import annotations

import inspect
from typing import Any

MARKER = "<!-- judge.__all__ -->"
SESSION_METHODS = ("score", "filter", "pairs", "calibrate", "revise", "plan", "check", "averdicts")


def exported_blocks() -> list[str]:
    """One mkdocstrings block per object that `import judge` exports, in `__all__` order.

    A class shows its signature (a dataclass's fields and defaults) and docstring, not a heading
    per field: the options classes would otherwise fill the page."""
    import judge

    blocks = []
    for name in judge.__all__:
        obj = getattr(judge, name)
        block = f"::: {obj.__module__}.{obj.__qualname__}"
        if name == "Session":
            block += "\n    options:\n      members: [" + ", ".join(SESSION_METHODS) + "]"
        elif inspect.isclass(obj):
            block += "\n    options:\n      members: false"
        blocks.append(block)
    return blocks


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, "\n\n".join(exported_blocks()))
