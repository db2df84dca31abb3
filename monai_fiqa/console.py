"""Text for terminals and logs: what comes from headers or file names is shown, never acted on."""

from __future__ import annotations

__all__ = ["console_safe"]


def console_safe(text: object) -> str:
    """``text`` as one printable line: control characters (newlines, terminal escape sequences) become visible
    escapes, so a crafted SeriesDescription or file name cannot forge, erase or recolour report lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
