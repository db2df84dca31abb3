"""Output folders: created and proven writable before any work, so a run never finds out only at its end."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ensure_writable_folder"]


def ensure_writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed and write (then remove) a probe file in it.

    Raises:
        OSError: with the reason (``strerror``), e.g. a read-only mount or a path through a regular file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".monai-fiqa-write-test"
    probe.write_text("ok")
    probe.unlink()
