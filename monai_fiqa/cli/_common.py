"""Helpers shared by the sub-command modules: loading a bundle with a clear error, the run-control options."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monai_fiqa.api import Assessor

__all__ = ["add_run_options", "given", "load_or_report"]


def load_or_report(name: str) -> Assessor | None:
    """Load a bundle, or print why it cannot be loaded (the caller exits with status 2)."""
    from monai_fiqa.api import BundleNotFoundError, load

    try:
        return load(name)
    except BundleNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options every training run has: where it writes, resuming, a wall-time budget."""
    p.add_argument("--out", required=True, help="run folder (checkpoints, history)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--max-minutes", type=float, default=None, help="stop cleanly after this much wall time")


def given(args: argparse.Namespace, *names: str) -> dict[str, object]:
    """The options among ``names`` that were given (``None`` = left to the recipe's default)."""
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}
