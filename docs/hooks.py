"""MkDocs hook: the Python API page lists what `judge.__all__` exports, so it follows the code.

The marker `<!-- judge.__all__ -->` in a page becomes one mkdocstrings block per exported name,
pointing at the object's own module (wherever the package's lazy `__getattr__` finds it).
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- judge.__all__ -->"


def exported_paths() -> list[str]:
    """Dotted paths of the objects that `import judge` exports, in `__all__` order."""
    import judge

    paths = []
    for name in judge.__all__:
        obj = getattr(judge, name)
        paths.append(f"{obj.__module__}.{obj.__qualname__}")
    return paths


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    blocks = "\n\n".join(f"::: {path}" for path in exported_paths())
    return markdown.replace(MARKER, blocks)
