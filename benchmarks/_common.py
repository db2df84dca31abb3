"""Helpers shared by the benchmark scripts: where results go and how tables are written."""

from __future__ import annotations

import json
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    import os

    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": str(os.cpu_count())}


def write_results(name: str, payload: dict, table_header: list[str], table_rows: list[list[object]]) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md`` (a Markdown table) and return the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    lines = ["| " + " | ".join(table_header) + " |", "|" + "---|" * len(table_header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return RESULTS / f"{name}.json"
