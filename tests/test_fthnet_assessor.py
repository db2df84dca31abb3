from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import monai_fiqa
from monai_fiqa.engine.runners import assess_folder
from monai_fiqa.fthnet.assessor import FTHNetAssessor
from monai_fiqa.fundus.pseudo_mos import GRADE_THRESHOLDS
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.io.images import ImageReadError


@pytest.fixture(scope="module")
def assessor(tmp_path_factory):
    torch.manual_seed(0)
    net = monai_fiqa.create_model("fthnet_tiny")
    ckpt = tmp_path_factory.mktemp("ck") / "tiny.pt"
    torch.save(net.state_dict(), ckpt)
    return FTHNetAssessor(
        monai_fiqa.create_model("fthnet_tiny"), checkpoint=ckpt, img_size=64, thresholds=GRADE_THRESHOLDS
    )


@pytest.fixture(scope="module")
def fundus():
    return render_fundus(3, size=300).image


def test_result_contract_and_determinism(assessor, fundus):
    r1, r2 = assessor.assess(fundus), assessor.assess(fundus)
    assert 0.0 <= r1.score <= 100.0 and r1.grade in ("good", "usable", "reject")
    assert r1.quality_map.shape == fundus.shape[:2] and r1.quality_map.dtype == np.float32
    assert 0.0 <= r1.quality_map.min() and r1.quality_map.max() <= 1.0
    assert r1.score == r2.score and np.array_equal(r1.quality_map, r2.quality_map)  # fixed crop grid, no randomness
    assert r1.params["views"] == 10 and not r1.params["out_of_distribution"]


def test_paths_and_arrays_agree(assessor, fundus, tmp_path):
    Image.fromarray(fundus).save(tmp_path / "f.png")
    assert assessor.assess(tmp_path / "f.png").score == pytest.approx(assessor.assess(fundus).score, abs=1e-4)


def test_bad_inputs_get_a_clear_result_or_error(assessor, fundus, tmp_path):
    # greyscale: scored but flagged and graded reject
    grey = assessor.assess(fundus.mean(-1).astype(np.uint8))
    assert grey.params["out_of_distribution"] and grey.grade == "reject"
    assert any("greyscale" in w for w in grey.params["warnings"])
    # single-channel 16-bit PNG: read and rescaled, then flagged (it is not a colour fundus photograph)
    Image.fromarray(fundus[..., 1].astype(np.uint16) * 257).save(tmp_path / "deep.png")
    deep = assessor.assess(tmp_path / "deep.png")
    assert deep.params["out_of_distribution"]  # a single-channel 16-bit image is not a colour fundus photograph
    # tiny image: error
    with pytest.raises(ValueError, match="at least"):
        assessor.assess(np.zeros((32, 32, 3), np.uint8) + 100)
    # non-fundus photographs: flagged
    for photo in (data.astronaut(), data.chelsea(), data.coffee()):
        r = assessor.assess(photo)
        assert r.params["out_of_distribution"] and r.grade == "reject" and r.params["warnings"]
    # truncated JPEG: read error naming the file
    Image.fromarray(fundus).save(tmp_path / "t.jpg")
    raw = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        assessor.assess(tmp_path / "cut.jpg")


def test_folder_run_reports_failures_and_goes_on(assessor, fundus, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(fundus).save(src / "good.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(src / "tiny.png")
    out = assess_folder(assessor, src, tmp_path / "out")
    import json

    res = json.loads(out.read_text())
    assert "score" in res["good.png"] and "error" in res["broken.jpg"] and "error" in res["tiny.png"]
    assert (tmp_path / "out" / "maps" / "good_overlay.png").is_file()
    assert (tmp_path / "out" / "results.csv").read_text().count("\n") == 4
