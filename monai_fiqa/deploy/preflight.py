"""Checks before any inference, and one run at a time per output folder.

Why: a misconfiguration found after an hour of inference loses the hour; two runs writing one folder overwrite each
other's report; a crashed run must not leave the previous run's "success" report behind for an orchestrator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monai_fiqa.io.folders import ensure_writable_folder

__all__ = ["EXIT_CONFIGURATION", "PreflightError", "check_configuration", "output_lock"]

EXIT_CONFIGURATION = 2  # nothing was assessed: the output folder or the PACS address is unusable
LOCK_NAME = ".monai-fiqa-run.lock"
REPORTS = ("run_report.json", "report.html")


class PreflightError(RuntimeError):
    """The run cannot start; the message says what to fix."""


def check_configuration(out: Path, pacs: str | None, rules: str | Path | None = None) -> None:
    """The output folder can be created and written; a PACS destination, if asked for, parses; the series rules
    file (``FIQA_SERIES_RULES``, default the package's) reads and checks.

    Raises:
        PreflightError: with the reason.
    """
    try:
        ensure_writable_folder(out)
    except OSError as exc:
        raise PreflightError(f"output folder {out} is not writable ({exc.strerror or exc})") from exc
    if pacs:
        from monai_fiqa.deploy.pacs import parse_destination

        try:
            parse_destination(pacs)
        except ValueError as exc:
            raise PreflightError(f"FIQA_PACS: {exc}") from exc
    from monai_fiqa.deploy.series_rules import load_rules

    try:
        load_rules(rules)
    except ValueError as exc:
        raise PreflightError(f"FIQA_SERIES_RULES: {exc}") from exc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold ``out`` for this run: refuse while another live run holds it; clear the previous run's reports so that
    only this run's outcome can be read there afterwards.

    Raises:
        PreflightError: another run is writing to ``out``.
    """
    lock = out / LOCK_NAME
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            holder = int(lock.read_text().strip() or 0)
        except (OSError, ValueError):
            holder = 0
        if holder and _alive(holder):
            raise PreflightError(
                f"another run (pid {holder}) is writing to {out}; wait for it or use another -o"
            ) from None
        lock.unlink(missing_ok=True)  # left by a run that died
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    for name in REPORTS:
        (out / name).unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
