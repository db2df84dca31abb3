"""How MedIQA grades clean clinical CT/MR it was never trained on (issue 25 item 7: a clean, diagnostic image should
be ``good``; target: at least 90 % of them).

Sources: every held-out image of ``benchmarks/mediqa_accuracy.py`` and the native views of its unseen-acquisition
validation (pydicom-data), untouched, with the prompts the accuracy benchmark gives them.  Training sources are not
counted (they score ~97).  The share is reported over all of them and over those the model grades at all (an image
smaller than the trained matrices is flagged out of distribution and graded ``reject`` by design).  Writes
``results/mediqa_clean_grades.{json,md}``; ``--checkpoint`` compares other weights (printed only).
"""

from __future__ import annotations

import argparse

import monai_fiqa
from benchmarks._common import write_results
from benchmarks.mediqa_accuracy import HELD_OUT, VALIDATION_UNSEEN, _read
from monai_fiqa.api import Assessor

SOURCES = HELD_OUT + tuple(s for s in VALIDATION_UNSEEN if ":" not in s[0])


def grades(assessor: Assessor) -> list[dict]:
    """Score, grade and flags of each clean source."""
    rows = []
    for name, modality, anatomy in SOURCES:
        prompt = {"modality": modality, **({"anatomy": anatomy} if anatomy != "unknown" else {})}
        r = assessor.assess(_read(name), prompt=prompt, quality_map=False)
        rows.append({"source": name, "modality": modality, "score": round(r.score, 1), "grade": r.grade,
                     "flagged": bool(r.params.get("warnings"))})  # fmt: skip
    return rows


def shares(rows: list[dict]) -> dict[str, float]:
    """Share graded ``good`` over every source and over the sources not flagged out of distribution."""
    graded = [r for r in rows if not r["flagged"]]
    return {
        "good_all": sum(r["grade"] == "good" for r in rows) / len(rows),
        "good_graded": sum(r["grade"] == "good" for r in graded) / max(1, len(graded)),
        "n_all": len(rows),
        "n_graded": len(graded),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", help="MedIQA state dict (default: the ctmr_mediqa bundle's weights; printed only)")
    args = ap.parse_args()
    kwargs = {"checkpoint": str(args.checkpoint)} if args.checkpoint else {}
    assessor = monai_fiqa.load("ctmr_mediqa", **kwargs)
    rows = grades(assessor)
    summary = shares(rows)
    if args.checkpoint:
        for r in rows:
            print(r)
        print(summary)
        return
    flag = lambda r: " (flagged)" if r["flagged"] else ""  # noqa: E731
    table = [[r["source"], r["modality"], r["score"], r["grade"] + flag(r)] for r in rows]
    table.append(["share good (all / graded)", "", "", f"{summary['good_all']:.0%} / {summary['good_graded']:.0%}"])
    write_results(
        "mediqa_clean_grades",
        {"model": "bundle ctmr_mediqa", "thresholds": dict(assessor.thresholds), "rows": rows, **summary},
        ["clean source", "modality", "score", "grade"],
        table,
    )


if __name__ == "__main__":
    main()
