"""MedIQA network, assessor plumbing (random tiny weights) and the two-stage training CLI."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pydicom.data as pdd
import pytest
import torch

from monai_fiqa.cli import main
from monai_fiqa.ctmr.artefacts import ARTEFACT_NAMES
from monai_fiqa.io.volumes import Volume, VolumeReadError
from monai_fiqa.mediqa.assessor import MedIQAAssessor
from monai_fiqa.registry import create_model, model_info


def _count(name: str) -> int:
    with torch.device("meta"):
        model = create_model(name)
    return sum(p.numel() for p in model.parameters())


def test_variants_sizes() -> None:
    assert _count("mediqa") <= 25e6
    assert _count("mediqa_maniqa") > 100e6  # MANIQA-size configuration
    assert model_info("mediqa").input_size == (2, 192, 192)


def test_forward_outputs_and_score_is_weighted_patch_mean() -> None:
    torch.manual_seed(0)
    net = create_model("mediqa_tiny").eval()
    x = torch.rand(3, 2, 64, 64)
    out = net.forward_all(x)
    assert out.patch_scores.shape == (3, 4, 4) and out.severity.shape == (3, len(ARTEFACT_NAMES))
    manual = (out.patch_scores * out.patch_weights).sum((1, 2)) / out.patch_weights.sum((1, 2))
    torch.testing.assert_close(out.score, manual)
    assert ((out.score >= 0) & (out.score <= 100)).all()
    assert net(x).shape == (3, 1)


def test_prompt_reaches_every_swin_block() -> None:
    torch.manual_seed(0)
    net = create_model("mediqa_tiny").eval()
    x = torch.rand(1, 2, 64, 64)
    ct, mr = torch.tensor([[1, 1, 1, 1]]), torch.tensor([[1, 2, 1, 3]])
    # FiLM layers start at zero: an untrained prompt changes nothing
    torch.testing.assert_close(net(x, ct), net(x, mr))
    for stage in net.swin:
        for film in stage.films:
            torch.nn.init.normal_(film.weight, std=0.5)
    assert not torch.allclose(net(x, ct), net(x, mr))


def test_matrix_condition_and_checkpoints_saved_before_it() -> None:
    torch.manual_seed(0)
    net = create_model("mediqa_tiny").eval()
    x, prompt = torch.rand(2, 2, 64, 64), torch.tensor([[1, 2, 1, 3]] * 2)
    for stage in net.swin:
        for film in stage.films:
            torch.nn.init.normal_(film.weight, std=0.5)
    old = {k: v for k, v in net.state_dict().items() if not k.startswith("matrix_embed")}
    net.matrix_embed.weight.data.normal_()
    net.load_state_dict(old)  # strict: the missing layer loads as zeros
    assert not net.matrix_embed.weight.any()
    small, large = torch.tensor([64.0, 64.0]), torch.tensor([512.0, 512.0])
    torch.testing.assert_close(net.forward_all(x, prompt, small).score, net.forward_all(x, prompt).score)
    torch.nn.init.normal_(net.matrix_embed.weight)
    assert not torch.allclose(net.forward_all(x, prompt, small).score, net.forward_all(x, prompt, large).score)
    unknown = net.forward_all(x, prompt, torch.tensor([float("nan"), 64.0])).score
    torch.testing.assert_close(unknown[0], net.forward_all(x, prompt).score[0])
    assert torch.isfinite(unknown).all()


@pytest.fixture(scope="module")
def tiny_assessor() -> MedIQAAssessor:
    torch.manual_seed(0)
    return MedIQAAssessor(
        create_model("mediqa_tiny"), img_size=64, min_side=16, thresholds={"good": 75.0, "usable": 45.0}
    )


def test_assess_volume_and_slice(tiny_assessor: MedIQAAssessor) -> None:
    rng = np.random.default_rng(0)
    vol = np.full((80, 70, 30), -1000.0, np.float32)
    vol[10:70, 10:60, 5:25] = rng.normal(40, 30, (60, 50, 20))
    r = tiny_assessor.assess(Volume(vol, (1.0, 1.0, 2.0), {"Modality": "CT"}))
    assert 0 <= r.score <= 100 and r.grade in ("good", "usable", "reject")
    assert r.quality_map.shape == vol.shape and 0 <= r.quality_map.min() <= r.quality_map.max() <= 1
    assert len(r.params["slices"]) == 7 and min(r.params["slices"]) >= 5 and max(r.params["slices"]) < 25
    assert set(r.params["artefacts"]) == {"ct_dose", "ct_metal", "ct_thickness"}
    assert "dose fraction" in r.params["artefacts"]["ct_dose"]
    json.dumps(r.to_dict())
    s = tiny_assessor.assess(pdd.get_testdata_file("MR_small.dcm"))
    assert s.params["prompt"]["dimension"] == "2D" and s.params["prompt"]["modality"] == "MR"
    assert s.quality_map.shape == (64, 64, 1) and "ct_dose" not in s.params["artefacts"]


@pytest.mark.parametrize("shape", [(64, 64, 1), (1, 64, 64), (64, 1, 64)])
def test_single_slice_given_as_3d_is_a_slice(tiny_assessor: MedIQAAssessor, shape: tuple[int, int, int]) -> None:
    arr = np.random.default_rng(2).normal(40, 30, shape).astype(np.float32)
    r = tiny_assessor.assess(arr, prompt={"modality": "CT"})
    assert r.params["prompt"]["dimension"] == "2D" and r.params["slices"] == [0]
    assert r.quality_map.shape == (64, 64, 1)


def test_unknown_modality_is_predicted_and_reported(tiny_assessor: MedIQAAssessor) -> None:
    vol = np.random.default_rng(1).uniform(0, 500, (48, 48, 3)).astype(np.float32)
    r = tiny_assessor.assess(vol)
    assert r.params["prompt"]["modality"] in ("CT", "MR")
    assert r.params["prompt_source"]["modality"].startswith("predicted")


@pytest.mark.parametrize(
    ("arr", "message"),
    [
        (np.zeros((40, 40, 4), np.float32), "constant"),
        (np.full((40, 40, 4), np.inf, np.float32), "NaN or infinite"),
        (np.ones((40, 40, 4, 2), np.float32).cumsum(), "3D volume"),
        (np.random.default_rng(2).uniform(0, 500, (12, 48, 48)).astype(np.float32), r"looks like \(Z, H, W\)"),
    ],
    ids=["empty", "inf", "4d", "slices-first"],
)
def test_bad_inputs_raise(tiny_assessor: MedIQAAssessor, arr: np.ndarray, message: str) -> None:
    with pytest.raises(VolumeReadError, match=message):
        tiny_assessor.assess(arr.reshape((40, 40, 4, 2)) if arr.ndim == 1 else arr)
    with pytest.raises(ValueError, match="prompt"):
        tiny_assessor.assess(np.random.default_rng(0).uniform(size=(40, 40)), prompt={"modality": "US"})


@pytest.mark.slow
def test_two_stage_training_cli(tmp_path) -> None:
    data = tmp_path / "set"
    assert main(["synth-ctmr", "--n", "12", "--out", str(data), "--size", "64", "--workers", "1"]) == 0
    up, down = tmp_path / "up", tmp_path / "down"
    common = ["--model", "mediqa_tiny", "--data", str(data), "--val-data", str(data), "--batch-size", "4"]
    assert (
        main(
            [
                "train",
                "mediqa",
                "--stage",
                "upstream",
                "--out",
                str(up),
                "--steps",
                "3",
                "--val-every",
                "3",
                "--warmup",
                "1",
                *common,
            ]
        )
        == 0
    )
    assert (up / "best_model.pt").is_file()
    args = ["--stage", "downstream", "--out", str(down), "--steps", "2", "--val-every", "2", "--warmup", "1"]
    assert main(["train", "mediqa", *args, "--init", str(up / "best_model.pt"), "--keep-val-weights", *common]) == 0
    hist = json.loads((down / "history.json").read_text())
    assert hist["val"] and "score_srcc" in hist["val"][-1]
    state = torch.load(down / "best_model.pt", weights_only=True)
    create_model("mediqa_tiny").load_state_dict(state)
    kept = torch.load(down / "val_step2.pt", weights_only=True)  # the only validation: also the best
    assert all(torch.equal(kept[k], state[k]) for k in state)
    assert not (up / "val_step3.pt").exists()  # only on request


def test_expert_score_csv_for_fine_tuning_and_evaluation(tmp_path, tiny_assessor: MedIQAAssessor) -> None:
    from monai_fiqa.engine.runners import evaluate_csv
    from monai_fiqa.io.quality_csv import read_score_csv
    from monai_fiqa.mediqa.train import slice_set_from_csv
    from monai_fiqa.metrics.functional import srcc
    from monai_fiqa.results import grade_from_score

    rng = np.random.default_rng(0)
    for i in range(3):
        arr = (rng.normal(100, 20 * (i + 1), (48, 48, 5))).clip(0).astype(np.float32)
        nib.save(nib.Nifti1Image(arr, np.eye(4)), tmp_path / f"v{i}.nii.gz")
    csv_path = tmp_path / "scores.csv"
    csv_path.write_text("Path,Score,Modality\nv0.nii.gz,90,MR\nv1.nii.gz,60,MR\nv2.nii.gz,30,MR\n")
    rows = read_score_csv(csv_path)
    assert [r.score for r in rows] == [90.0, 60.0, 30.0] and rows[0].path == tmp_path / "v0.nii.gz"
    assert rows[0].prompt == {"modality": "MR"}
    data = slice_set_from_csv(csv_path, size=64)
    assert len(data) == 15 and set(data.score.tolist()) == {90.0, 60.0, 30.0}
    assert (data.prompt[:, 1] == 2).all()  # MR from the CSV column
    metrics = evaluate_csv(tiny_assessor, csv_path)
    assert metrics["n"] == 3 and not metrics["errors"]
    direct = [tiny_assessor.assess(r.path, prompt=r.prompt, quality_map=False) for r in rows]
    assert metrics["srcc"] == pytest.approx(srcc([r.score for r in direct], [90.0, 60.0, 30.0]))
    truth = [grade_from_score(s, tiny_assessor.thresholds) for s in (90.0, 60.0, 30.0)]
    assert metrics["grade_accuracy"] == pytest.approx(
        np.mean([r.grade == t for r, t in zip(direct, truth, strict=True)])
    )


def test_synth_ctmr_draws_extra_real_mr_sources(tmp_path) -> None:
    """``--extra-mr`` (a ``fetch-public-mr`` folder) adds real MR sources to the mix, with their own prompts."""
    from monai_fiqa.ctmr.prompts import IMAGE_TYPES

    extra = tmp_path / "extra"
    extra.mkdir()
    vol = np.random.default_rng(0).normal(0, 5, (48, 48, 3)).astype(np.float32)
    vol[8:40, 8:40] += 200.0  # an object on a noisy background
    nib.save(nib.Nifti1Image(vol, np.diag([2.0, 2.0, 4.0, 1.0])), extra / "blob.nii.gz")
    (extra / "sources.json").write_text(json.dumps({"blob.nii.gz": ["MR", "head", "mr_other"]}))
    data = tmp_path / "set"
    args = ["synth-ctmr", "--n", "16", "--out", str(data), "--size", "64", "--workers", "1", "--extra-mr", str(extra)]
    assert main(args) == 0
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["extra_mr"] == {"blob.nii.gz": ["MR", "head", "mr_other"]}
    assert manifest["mix"]["mr_real"] > 0.25
    image_types = np.load(data / "targets.npz")["prompt"][:, 3]
    assert (image_types == IMAGE_TYPES.index("mr_other")).any()  # no phantom or training volume has it


def test_ladders_for_the_ranking_loss(tmp_path) -> None:
    """``--ladder-rungs``: copies of one slice under one artefact, severities rising, same nuisance; the ranking
    term is zero for a model that orders a ladder right and positive for one that inverts it; training runs."""
    from monai_fiqa.ctmr.artefacts import ARTEFACT_NAMES
    from monai_fiqa.mediqa.train import MedIQASliceSet, _ladder_rank_loss

    data = tmp_path / "ladders"
    assert (
        main(
            ["synth-ctmr", "--n", "12", "--out", str(data), "--size", "64", "--workers", "1"] + ["--ladder-rungs", "4"]
        )
        == 0
    )
    t = np.load(data / "targets.npz")
    assert t["group"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    for ladder in range(3):
        rows = slice(4 * ladder, 4 * ladder + 4)
        varied = t["ladder_artefact"][rows]
        assert len(set(varied.tolist())) == 1 and 0 <= varied[0] < len(ARTEFACT_NAMES)
        levels = t["severity"][rows, varied[0]]
        assert np.all(np.diff(levels) >= 0) and levels[-1] > levels[0]
        others = np.delete(t["severity"][rows], varied[0], axis=1)
        assert np.all(others == others[0])  # any second artefact is the same on every rung
        assert t["score"][rows][0] >= t["score"][rows][-1]  # the pseudo-score falls along the ladder
    assert json.loads((data / "manifest.json").read_text())["ladder_rungs"] == 4

    batch = next(iter(torch.utils.data.DataLoader(MedIQASliceSet.from_folder(data), batch_size=12)))
    true_severity = batch.severity.gather(1, batch.ladder_artefact[:, None])[:, 0]
    right = torch.zeros(12, len(ARTEFACT_NAMES)).scatter(1, batch.ladder_artefact[:, None], 10 * true_severity[:, None])
    assert _ladder_rank_loss(100 * batch.score * 10, right, batch, "downstream").item() == 0.0
    assert _ladder_rank_loss(-100 * batch.score, -right, batch, "downstream").item() > 0.0

    out = tmp_path / "run"
    args = [
        "train",
        "mediqa",
        "--stage",
        "downstream",
        "--model",
        "mediqa_tiny",
        "--data",
        str(data),
        "--out",
        str(out),
    ]
    args += ["--batch-size", "8", "--steps", "2", "--warmup", "1", "--group-size", "4", "--rank-weight", "1.0"]
    assert main(args) == 0 and (out / "best_model.pt").is_file()


def test_near_isotropic_volumes_are_also_sliced_coronally_sagittally_and_obliquely() -> None:
    from monai_fiqa.ctmr.prompts import Prompt
    from monai_fiqa.ctmr.synth_set import CTMRSource, reoriented_sources

    volume = np.zeros((64, 72, 80), np.float32)
    volume[8:56, 10:60, 12:70] = 100.0  # a box of tissue in air
    iso = CTMRSource("box", volume, (1.0, 1.0, 1.1), Prompt("3D", "MR", "head", "mr_t1"))
    views = reoriented_sources(iso)
    assert [v.name for v in views] == ["box", "box:coronal", "box:sagittal", "box:oblique30"]
    assert views[1].volume.shape == (72, 80, 64) and views[1].spacing == (1.0, 1.1, 1.0)
    assert views[2].volume.shape == (64, 80, 72) and views[2].spacing == (1.0, 1.1, 1.0)
    assert views[3].volume.min() >= 0.0 and views[3].volume.max() <= 100.0  # no spline overshoot
    assert all(len(v.slices) for v in views)  # each picks its own foreground slices
    thick = CTMRSource("thick", volume, (1.0, 1.0, 3.0), Prompt("3D", "MR", "pelvis", "mr_t2"))
    assert reoriented_sources(thick) == [thick]  # a coronal slice of 3 mm slices would be a blurred picture
