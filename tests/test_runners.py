"""The one folder runner and CSV evaluator: the assessor's own grade (thresholds, out-of-distribution) is used."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from monai_fiqa.engine.runners import assess_folder, evaluate_csv
from monai_fiqa.io.images import read_rgb
from monai_fiqa.results import QualityResult, grade_from_score


class _GreyLevel:
    """Score = mean grey level / 2.55; images darker than 60 are flagged out of distribution (graded reject)."""

    input_kind = "image"
    thresholds = {"good": 90.0, "usable": 20.0}  # unlike the pseudo-MOS scale (70 / 45) on purpose

    def assess(self, x) -> QualityResult:
        img = read_rgb(x)[0] if not isinstance(x, np.ndarray) else x
        score = float(img.mean() / 2.55)
        ood = bool(img.mean() < 60)
        grade = "reject" if ood else grade_from_score(score, self.thresholds)
        return QualityResult(
            score, grade, np.full(img.shape[:2], score / 100, np.float32), {"out_of_distribution": ood}
        )


@pytest.fixture()
def labelled(tmp_path):
    rows = ["path,mos"]
    for i, level in enumerate((55, 120, 200, 250)):
        Image.fromarray(np.full((64, 64, 3), level, np.uint8)).save(tmp_path / f"i{i}.png")
        rows.append(f"i{i}.png,{level / 2.55:.3f}")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    rows.append("bad.png,50")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_evaluate_uses_the_assessors_grades_and_lists_failures(labelled):
    m = evaluate_csv(_GreyLevel(), labelled / "labels.csv")
    assert m["n"] == 4 and list(m["errors"]) == [str(labelled / "bad.png")]
    assert m["srcc"] == pytest.approx(1.0) and m["rmse"] == pytest.approx(0.0, abs=1e-2)
    # truth grades by the assessor's thresholds: usable, usable, usable, good; predicted: the darkest is
    # out of distribution (reject), so 3 of 4 agree - the 70/45 pseudo-MOS scale would give another answer
    assert m["grade_accuracy"] == pytest.approx(0.75)


def test_folder_run_writes_results_csv_and_overlays(labelled, tmp_path):
    out = tmp_path / "out"
    results = json.loads(assess_folder(_GreyLevel(), labelled, out).read_text())
    assert set(results) == {"i0.png", "i1.png", "i2.png", "i3.png", "bad.png"}
    assert "error" in results["bad.png"] and results["i3.png"]["grade"] == "good"
    assert sorted(p.name for p in (out / "maps").iterdir()) == [f"i{i}_overlay.png" for i in range(4)]
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header == "image,score,grade,out_of_distribution,error"
