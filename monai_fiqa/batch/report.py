"""Summary and ``report.html`` of an archive run, computed from its shards (never from memory of the run).

The report is one self-contained HTML file (images inlined), so it can be mailed or archived beside the shards:
per model a score histogram, grade counts, the worst items as thumbnails with their maps, and the error list.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from monai_fiqa.batch.shards import read_results

__all__ = ["WORST_N", "read_rows", "summarise", "summary_table", "write_report"]

WORST_N = 12  # worst items shown per model
MAX_ERRORS_SHOWN = 200  # the full list is in the shards
_COLUMNS = ["path", "kind", "model", "status", "score", "grade", "out_of_distribution", "error", "map_png"]


def read_rows(out: Path) -> list[dict[str, Any]]:
    """The result rows the summary and the report use (the columns they need), from every shard of ``out``."""
    return read_results(out, _COLUMNS).to_pylist()


def summarise(
    out: Path,
    rows: list[dict[str, Any]],
    models: list[str],
    total: int,
    skipped: int,
    plan: dict[str, Any],
    seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Counts per model (done / failed / out-of-distribution, grades, score quartiles), the plan and the wall
    seconds of each phase; writes ``summary.json``."""
    per_model: dict[str, Any] = {}
    for model in sorted({r["model"] for r in rows} | set(models)):
        mine = [r for r in rows if r["model"] == model]
        scores = np.array([r["score"] for r in mine if r["status"] == "ok"], dtype=float)
        per_model[model] = {
            "done": int(sum(r["status"] == "ok" for r in mine)),
            "failed": int(sum(r["status"] == "error" for r in mine)),
            "out_of_distribution": int(sum(bool(r["out_of_distribution"]) for r in mine)),
            "grades": dict(Counter(r["grade"] for r in mine if r["status"] == "ok")),
            "score_quartiles": [round(float(q), 2) for q in np.percentile(scores, [25, 50, 75])] if scores.size else [],
        }
    summary = {
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "items": total,
        "skipped_as_done": skipped,
        "models": per_model,
        "plan": plan,
        "seconds": dict(seconds or {}),
    }
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(out / "summary.json")
    return summary


def summary_table(summary: dict[str, Any]) -> str:
    """The console table printed at the end of a run."""
    lines = [f"{'model':16s} {'done':>8s} {'failed':>8s} {'ood':>6s}  grades", "-" * 60]
    for model, m in summary["models"].items():
        grades = ", ".join(f"{g} {n}" for g, n in sorted(m["grades"].items()))
        lines.append(f"{model:16s} {m['done']:8d} {m['failed']:8d} {m['out_of_distribution']:6d}  {grades}")
    lines.append(f"{summary['items']} items; {summary['skipped_as_done']} already done by an earlier run")
    return "\n".join(lines)


def _histogram_svg(scores: list[float], bins: int = 20, width: int = 420, height: int = 120) -> str:
    counts, _ = np.histogram(scores, bins=bins, range=(0, 100))
    top = max(1, int(counts.max()))
    bw = width / bins
    bars = "".join(
        f"<rect x='{i * bw:.1f}' y='{height - 16 - c / top * (height - 24):.1f}' width='{bw - 1:.1f}' "
        f"height='{c / top * (height - 24):.1f}'><title>{i * 100 // bins}-{(i + 1) * 100 // bins}: {c}</title></rect>"
        for i, c in enumerate(counts)
    )
    ticks = (0, 25, 50, 75, 100)
    axis = "".join(f"<text x='{x / 100 * width:.0f}' y='{height - 2}' text-anchor='middle'>{x}</text>" for x in ticks)
    attrs = f"class='hist' width='{width}' height='{height}' viewBox='-12 0 {width + 24} {height}' role='img' "
    attrs += "aria-label='score histogram'"
    return f"<svg {attrs}>{bars}{axis}</svg>"


def _thumbnail(path: Path, width: int = 200) -> str | None:
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((width, width))
            buf = io.BytesIO()
            im.save(buf, format="PNG")
    except (OSError, ValueError):
        return None
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _worst(rows: list[dict[str, Any]], out: Path) -> str:
    e = html.escape
    cells = []
    for r in sorted(rows, key=lambda r: r["score"])[:WORST_N]:
        picture = out / r["map_png"] if r["map_png"] else Path(r["path"]) if r["kind"] == "image" else None
        data = _thumbnail(picture) if picture is not None else None
        img = f"<img alt='{e(Path(r['path']).name)}' src='data:image/png;base64,{data}'>" if data else "<div>-</div>"
        flag = " <b>out of distribution</b>" if r["out_of_distribution"] else ""
        caption = f"{r['score']:.1f} {e(r['grade'])}{flag}<br>{e(r['path'])}"
        cells.append(f"<figure>{img}<figcaption>{caption}</figcaption></figure>")
    return "".join(cells)


_STYLE = (
    "body{font-family:sans-serif;margin:24px;color:#222}h2{margin-top:28px}.hist rect{fill:#4a7ab5}"
    ".hist text{font-size:10px;fill:#555}figure{display:inline-block;width:210px;margin:4px;vertical-align:top}"
    "figcaption{font-size:11px;word-break:break-all}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
    "padding:3px 8px;font-size:13px}.err{color:#a00}"
)


def write_report(out: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """Write ``out/report.html`` (atomically) from the result rows and the summary."""
    e = html.escape
    parts = [f"<p id='summary'>{summary['items']} items, finished {e(summary['finished'])}</p>"]
    for model, m in summary["models"].items():
        ok = [r for r in rows if r["model"] == model and r["status"] == "ok"]
        grades = "".join(f"<tr><td>{e(g)}</td><td>{n}</td></tr>" for g, n in sorted(m["grades"].items()))
        parts.append(
            f"<section class='model' data-model='{e(model)}'><h2>{e(model)}</h2><p>{m['done']} assessed, "
            f"{m['failed']} failed, {m['out_of_distribution']} out of distribution</p>"
            f"{_histogram_svg([r['score'] for r in ok]) if ok else ''}"
            f"<table><tr><th>grade</th><th>items</th></tr>{grades}</table>"
            f"<h3>Worst {min(WORST_N, len(ok))}</h3><div class='worst'>{_worst(ok, out)}</div></section>"
        )
    errors = [r for r in rows if r["status"] == "error"]
    listed = "".join(
        f"<tr><td>{e(r['path'])}</td><td>{e(r['model'])}</td><td class='err'>{e(r['error'] or '')}</td></tr>"
        for r in errors[:MAX_ERRORS_SHOWN]
    )
    hidden = len(errors) - MAX_ERRORS_SHOWN
    more = f"<p>and {hidden} more (see the shards)</p>" if hidden > 0 else ""
    parts.append(
        f"<h2>Errors ({len(errors)})</h2><table id='errors'><tr><th>item</th><th>model</th><th>reason</th></tr>"
        f"{listed}</table>{more}"
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Archive quality report</title>"
        f"<style>{_STYLE}</style></head><body><h1>Archive quality report</h1>{''.join(parts)}</body></html>"
    )
    tmp = out / "report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out / "report.html")
    return out / "report.html"
