"""The run report: ``run_report.json`` for machines, ``report.html`` for the technologist who opens it first.

The HTML page is self-contained (previews inlined as base64 PNG, no scripts, no external files) so it can be mailed,
attached to a ticket or opened from a MAP container's output folder.  It names items by modality, series number and
description or file path - never patient identity.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image

from monai_fiqa.console import console_safe
from monai_fiqa.deploy.items import WorkItem

__all__ = ["EXIT_CODES", "exit_code_of", "overall_status", "summary_lines", "write_reports"]

# 0: every assessable item assessed; 1: none; 2: configuration error, nothing ran (deploy.preflight);
# 3: partial (some items failed or could not be assessed); 4: assessed, but storing to the PACS failed for an object
EXIT_CODES = {"success": 0, "nothing_to_assess": 0, "failed": 1, "configuration": 2, "partial": 3, "pacs_failed": 4}
_GRADE_COLOUR = {"good": "#1b7f3b", "usable": "#b07d00", "reject": "#b3261e"}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} .sub{color:#555;margin-bottom:16px}
table{border-collapse:collapse;width:100%;background:#fff} td,th{border:1px solid #ddd;padding:8px;vertical-align:top}
th{background:#f0f0f0;text-align:left} .grade{color:#fff;border-radius:4px;padding:2px 8px;font-weight:600}
.err{color:#b3261e} .muted{color:#777;font-size:12px} img{max-width:480px;display:block}
.status-done{color:#1b7f3b;font-weight:600} .status-failed{color:#b3261e;font-weight:600}
.status-unsupported{color:#8a5a00;font-weight:600} .status-skipped{color:#777}
"""


def overall_status(items: list[WorkItem]) -> str:
    """``success`` (every item assessed), ``partial`` (some), ``failed`` (none, or an empty input);
    ``nothing_to_assess`` when every item was skipped (non-image objects, this app's own outputs, hidden files):
    skipped items are listed but count neither way."""
    relevant = [i for i in items if i.status != "skipped"]
    if items and not relevant:
        return "nothing_to_assess"
    done = sum(i.status == "done" for i in relevant)
    if relevant and done == len(relevant):
        return "success"
    return "partial" if done else "failed"


def _thumbnail(path: Path, width: int = 480) -> str:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _model_cell(run: dict[str, Any], out: Path) -> str:
    e = html.escape
    parts = [f"<b>{e(run['bundle'])}</b> <span class='muted'>v{e(run['version'])}</span><br>"]
    if "score" in run:
        colour = _GRADE_COLOUR.get(run["grade"], "#555")
        parts.append(f"score <b>{run['score']:.1f}</b> / 100 <span class='grade' style='background:{colour}'>")
        parts.append(f"{e(run['grade'])}</span><br>")
        for w in run["params"].get("warnings", []):
            parts.append(f"<span class='err'>warning: {e(w)}</span><br>")
    if run.get("error"):
        parts.append(f"<span class='err'>{e(run['error'])}</span><br>")
    for kind, why in (run.get("output_errors") or {}).items():
        parts.append(f"<span class='err'>{e(kind)} not written: {e(why)}</span><br>")
    if run.get("preview") and (out / run["preview"]).is_file():
        parts.append(
            f"<img alt='preview of {e(run['bundle'])}' src='data:image/png;base64,{_thumbnail(out / run['preview'])}'>"
        )
    if run.get("outputs"):
        parts.append("<span class='muted'>" + "<br>".join(e(o) for o in run["outputs"]) + "</span>")
    return "".join(parts)


def _html(report: dict[str, Any], out: Path) -> str:
    e = html.escape
    rows = []
    for s in report["items"]:
        models = "".join(_model_cell(r, out) for r in s["models"]) or "&ndash;"
        error = f"<div class='err'>{e(s['error'])}</div>" if s["error"] else ""
        rows.append(
            f"<tr class='item' data-status='{e(s['status'])}'><td>{e(s['item'])}<div class='muted'>{e(s['kind'])}"
            f"</div></td><td>{e(s['route'] or '-')}</td><td class='status-{e(s['status'])}'>{e(s['status'])}{error}"
            f"</td><td>{models}</td></tr>"
        )
    c = report["counts"]
    pacs = ""
    if report.get("pacs"):
        p = report["pacs"]
        pacs = f"<p>PACS {e(p['destination'])}: {p['stored']} stored, {len(p['failed'])} failed.</p>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Image quality report</title>"
        f"<style>{_STYLE}</style></head><body><h1>Image quality report</h1>"
        f"<div class='sub' id='summary'>{e(report['finished'])} &middot; status <b>{e(report['status'])}</b> &middot; "
        f"{c['done']} assessed, {c['failed']} failed, {c['unsupported']} unsupported, {c['skipped']} skipped of "
        f"{c['items']} items</div>{pacs}"
        "<table><thead><tr><th>series / file</th><th>route</th><th>status</th><th>model results</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>"
    )


def summary_lines(report: dict[str, Any], out: Path) -> list[str]:
    """One line per item (status, model, score, grade, or the reason) and where its outputs went (console-safe)."""
    lines = []
    for s in report["items"]:
        if s["status"] != "done":
            lines.append(f"{s['status'].upper():11s} {console_safe(s['item'])}: {console_safe(s['error'])}")
            continue
        for m in s["models"]:
            if "score" in m:
                folder = Path(m["outputs"][-1]).parent if m["outputs"] else Path(".")
                ood = " (flagged: out of distribution)" if m["params"].get("out_of_distribution") else ""
                head = f"{'DONE':11s} {console_safe(s['item'])}: {m['bundle']} {m['score']:.1f} {m['grade']}{ood}"
                lines.append(f"{head} -> {out / folder}")
    c = report["counts"]
    lines.append(
        f"{report['status']}: {c['done']} assessed, {c['failed']} failed, {c['unsupported']} unsupported, "
        f"{c['skipped']} skipped; "
        f"report {out / 'report.html'}"
    )
    return lines


def write_reports(items: list[WorkItem], out: Path, pacs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``run_report.json`` and ``report.html`` under ``out``; return the report."""
    out.mkdir(parents=True, exist_ok=True)
    summaries = [i.summary() for i in items]
    counts = {k: sum(s["status"] == k for s in summaries) for k in ("done", "failed", "unsupported", "skipped")}
    report = {
        "status": overall_status(items),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "counts": {"items": len(items), **counts},
        "items": summaries,
        "pacs": pacs,
    }
    _write_atomic(out / "report.html", _html(report, out))  # the JSON last: its presence means the run finished
    _write_atomic(out / "run_report.json", json.dumps(report, indent=2))
    return report


def exit_code_of(out: Path) -> int:
    """The app's exit status from the run report in ``out`` (1 when there is none: the run did not finish).

    A run whose items were all assessed but whose PACS store failed for some object exits 4, not 0: the results
    are on disk but not where the orchestrator expects them.
    """
    try:
        report = json.loads((Path(out) / "run_report.json").read_text())
        status = EXIT_CODES[report["status"]]
    except (OSError, KeyError, ValueError):
        return EXIT_CODES["failed"]
    if status == 0 and (report.get("pacs") or {}).get("failed"):
        return EXIT_CODES["pacs_failed"]
    return status


def _write_atomic(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
