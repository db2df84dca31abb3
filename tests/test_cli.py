from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from monai_fiqa.cli import main
from monai_fiqa.fundus.pseudo_mos import GRADE_THRESHOLDS
from monai_fiqa.results import grade_from_score


def test_synth_writes_images_masks_csv_and_sheet(tmp_path, capsys):
    out = tmp_path / "set"
    assert main(["synth", "--n", "4", "--out", str(out), "--size", "256", "--seed", "3"]) == 0
    rows = list(csv.DictReader((out / "labels.csv").open()))
    assert len(rows) == 4
    for r in rows:
        img = np.asarray(Image.open(out / r["image"]))
        assert img.shape == (256, 256, 3)
        for key in ("fov", "vessels", "region"):
            assert (out / "masks" / f"{r['id']}_{key}.png").is_file()
        mos = float(r["mos"])
        assert 0 <= mos <= 100
        assert r["grade"] == grade_from_score(mos, GRADE_THRESHOLDS)
        for kind in filter(None, r["degradations"].split("+")):
            assert r[f"{kind}_severity"] != ""
    sheet = np.asarray(Image.open(out / "contact_sheet.png"))
    assert sheet.ndim == 3 and sheet.shape[1] > 4 * 100
    # same seed -> same labels
    out2 = tmp_path / "again"
    main(["synth", "--n", "4", "--out", str(out2), "--size", "256", "--seed", "3"])
    assert [r["mos"] for r in csv.DictReader((out2 / "labels.csv").open())] == [r["mos"] for r in rows]


def test_synth_region_prob_confines_every_step_to_a_region(tmp_path):
    out = tmp_path / "regional"
    assert main(["synth", "--n", "6", "--out", str(out), "--size", "256", "--seed", "5", "--region-prob", "1"]) == 0
    rows = [r for r in csv.DictReader((out / "labels.csv").open()) if r["degradations"]]
    assert rows  # a few may be clean (the mix's p_clean)
    for r in rows:
        assert all(r[f"{kind}_regional"] == "1" for kind in r["degradations"].split("+"))
        region = np.asarray(Image.open(out / "masks" / f"{r['id']}_region.png")) > 127
        fov = np.asarray(Image.open(out / "masks" / f"{r['id']}_fov.png")) > 127
        assert region.any() and not region[fov].all()


def test_synth_degrades_real_photographs(tmp_path):
    src = tmp_path / "photo.png"
    from monai_fiqa.fundus.renderer import render_fundus

    Image.fromarray(render_fundus(1, size=300).image).save(src)
    assert main(["synth", "--n", "2", "--out", str(tmp_path / "r"), "--size", "256", "--images", str(src)]) == 0
    rows = list(csv.DictReader((tmp_path / "r" / "labels.csv").open()))
    assert [r["source"] for r in rows] == ["photo.png", "photo.png"]


def test_assess_without_bundle_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MONAI_FIQA_BUNDLE_PATH", str(tmp_path))
    assert main(["assess", "x.png", "--model", "no_such_bundle"]) == 2
    assert "Known bundles" in capsys.readouterr().err


def test_assess_output_cannot_forge_console_lines(tmp_path, capsys):
    """A file name with a newline and terminal escapes prints as one line with visible escapes."""
    from monai_fiqa.console import console_safe

    forged = "x.png\nDONE fake 99.0 good\x1b[2J"
    assert console_safe(forged) == "x.png\\nDONE fake 99.0 good\\x1b[2J"
    assert main(["assess", str(tmp_path / forged), "--model", "ctmr_mediqa"]) in (1, 2)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\nDONE fake" not in out


def test_assess_without_model_uses_an_installed_bundle_of_the_inputs_kind(tmp_path, capsys):
    import json

    import monai_fiqa
    from monai_fiqa.demo import retina_path

    if "fundus_efiqa" not in monai_fiqa.available_bundles():
        pytest.skip("no fundus bundle with weights")
    out = tmp_path / "r.json"
    assert main(["assess", str(retina_path()), "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text()).values()
    assert result["model"] in ("fundus_fthnet", "fundus_efiqa") and 0 <= result["score"] <= 100
