"""The bundles as MONAI's own tools run them: ``create_workflow`` + ``check_properties`` find every standard key,
``run()`` writes what the folder runner writes (bad items reported, the rest scored), and the check names what a
config lacks - including the EFIQA ``train.json`` of 0.4.0, which pointed at a checkpoint layout that no longer
existed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from monai.bundle import create_workflow

import monai_fiqa
from monai_fiqa.bundle_checks import check_bundle, workflow_problems
from monai_fiqa.engine.runners import assess_folder
from tests.conftest import DRIVE

pytestmark = pytest.mark.slow  # whole bundles: make test-fast skips it

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MR = REPO / "monai_fiqa" / "sample_data" / "prostate_t2.nii.gz"


def _run_workflow(bundle: Path, dataset_dir: Path, output_dir: Path) -> dict:
    wf = create_workflow(
        config_file=str(bundle / "configs" / "inference.json"),
        workflow_type="infer",
        bundle_root=str(bundle),
        logging_file=False,
        dataset_dir=str(dataset_dir),
        output_dir=str(output_dir),
    )
    assert wf.check_properties() == []
    wf.run()
    wf.finalize()
    return json.loads((output_dir / "results.json").read_text())


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.png").write_text("not an image")
    return folder


def test_mediqa_workflow_writes_what_the_folder_runner_writes(tmp_path: Path, broken_file: Path) -> None:
    shutil.copy(SAMPLE_MR, broken_file / SAMPLE_MR.name)
    (broken_file / "broken.png").rename(broken_file / "broken.nii.gz")
    results = _run_workflow(REPO / "bundles" / "ctmr_mediqa", broken_file, tmp_path / "wf")
    expected = json.loads(assess_folder(monai_fiqa.load("ctmr_mediqa"), broken_file, tmp_path / "loop").read_text())
    assert results == expected
    assert results[SAMPLE_MR.name]["grade"] in ("good", "usable", "reject") and "error" in results["broken.nii.gz"]
    assert (tmp_path / "wf" / "results.csv").read_text() == (tmp_path / "loop" / "results.csv").read_text()
    assert (tmp_path / "wf" / "montages" / f"{SAMPLE_MR.name}.png").is_file()


def test_efiqa_workflow_runs_stage_one_and_writes_what_the_folder_runner_writes(
    tmp_path: Path, broken_file: Path
) -> None:
    photo = DRIVE / "test" / "images" / "01_test.tif"
    if not photo.is_file():
        pytest.skip(f"DRIVE not found under {DRIVE}")
    shutil.copy(photo, broken_file / photo.name)
    results = _run_workflow(REPO / "bundles" / "fundus_efiqa", broken_file, tmp_path / "wf")
    expected = json.loads(assess_folder(monai_fiqa.load("fundus_efiqa"), broken_file, tmp_path / "loop").read_text())
    assert results == expected
    assert results[photo.name]["params"]["mode"] == "stage1"  # network_def is what the default runs
    assert "not a readable image" in results["broken.png"]["error"]
    assert (tmp_path / "wf" / "maps" / "01_test_overlay.png").is_file()


def _bundle_copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(REPO / "bundles" / name, dst)
    return dst


def test_the_0_4_0_efiqa_train_config_fails_the_check(tmp_path: Path) -> None:
    bundle = _bundle_copy(tmp_path, "fundus_efiqa")
    shutil.copy(REPO / "tests" / "data" / "efiqa_train_0.4.0.json", bundle / "configs" / "train.json")
    problems = check_bundle(bundle)
    assert any(p.startswith("train.json") and "'device'" in p for p in problems), problems  # the key is named


def test_a_missing_standard_key_is_named(tmp_path: Path) -> None:
    bundle = _bundle_copy(tmp_path, "ctmr_mediqa")
    config = json.loads((bundle / "configs" / "inference.json").read_text())
    del config["inferer"]
    (bundle / "configs" / "inference.json").write_text(json.dumps(config))
    problems = workflow_problems(bundle, "infer", "inference.json")
    assert problems and "inferer" in problems[0], problems
