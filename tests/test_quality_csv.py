from __future__ import annotations

import pytest

from monai_fiqa.data import EYEQ_LEVEL_MOS, read_quality_csv, split_by_source


def test_fqs_eyeq_and_synth_flavours(tmp_path):
    (tmp_path / "fqs.csv").write_text("path,mos,level\na.png,71.5,good\n/abs/b.png,30,\n")
    (tmp_path / "eyeq.csv").write_text("image,label\nc.jpeg,0\nd.jpeg,2\ne.jpeg,1\n")
    (tmp_path / "synth.csv").write_text("id,image,source,mos,grade\nx,images/x.png,synthetic,55.0,usable\n")
    fqs = read_quality_csv(tmp_path / "fqs.csv")
    assert fqs[0].path == tmp_path / "a.png" and fqs[0].mos == 71.5 and fqs[0].grade == "good"
    assert str(fqs[1].path) == "/abs/b.png" and fqs[1].grade is None
    eyeq = read_quality_csv(tmp_path / "eyeq.csv")
    assert [r.mos for r in eyeq] == [EYEQ_LEVEL_MOS["good"], EYEQ_LEVEL_MOS["reject"], EYEQ_LEVEL_MOS["usable"]]
    synth = read_quality_csv(tmp_path / "synth.csv")
    assert synth[0].source == "x.png" and synth[0].path == tmp_path / "images" / "x.png"


def test_errors_are_clear(tmp_path):
    (tmp_path / "nopath.csv").write_text("mos\n5\n")
    with pytest.raises(ValueError, match="no image path column"):
        read_quality_csv(tmp_path / "nopath.csv")
    (tmp_path / "nolabel.csv").write_text("path,comment\na.png,hello\n")
    with pytest.raises(ValueError, match="row 2"):
        read_quality_csv(tmp_path / "nolabel.csv")


def test_split_by_source_never_leaks_and_folds_rotate(tmp_path):
    rows = "\n".join(f"img_{i}.png,{i % 100},src_{i % 20}" for i in range(200))
    (tmp_path / "d.csv").write_text("path,mos,source\n" + rows + "\n")
    recs = read_quality_csv(tmp_path / "d.csv")
    parts = split_by_source(recs, (0.8, 0.15, 0.05), seed=1)
    assert sum(len(p) for p in parts) == len(recs)
    srcs = [{r.source for r in p} for p in parts]
    assert not (srcs[0] & srcs[1]) and not (srcs[0] & srcs[2]) and not (srcs[1] & srcs[2])
    assert [len(s) for s in srcs] == [16, 3, 1]
    tests = {
        frozenset(r.source for r in split_by_source(recs, (0.8, 0.15, 0.05), seed=1, fold=k)[2]) for k in range(20)
    }
    assert len(tests) == 20  # every source is the test source of some fold
