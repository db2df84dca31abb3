"""The MONAI Deploy app end to end, run as a user runs it (``python -m app_packages.fiqa_app -i IN -o OUT``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from monai_fiqa.api import BUNDLE_PATH_ENV
from tests.deploy.conftest import REPO, dciodvfy_errors, run_app, sr_values
from tests.helpers import missing_environment

pytestmark = pytest.mark.slow  # servers, packaging, whole bundles: make test-fast skips it

FAMILY_OF = {"OP": "fundus", "CT": "ctmr", "MR": "ctmr"}


def _expected_bundles(bundle_roots: list[Path]) -> dict[str, set[str]]:
    """Bundles each modality must be routed to: every bundle of its family that has weights on the search path."""
    from monai_fiqa.api import FAMILY_BUNDLES

    have = {m.parent.parent.name for root in bundle_roots for m in root.glob("*/models/model.pt")}
    return {m: set(FAMILY_BUNDLES[f]) & have for m, f in FAMILY_OF.items()}


def _modality_by_series(study: Path) -> dict[str, str]:
    out = {}
    for f in study.rglob("*.dcm"):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        out[str(ds.SeriesInstanceUID)] = str(ds.Modality)
    return out


@pytest.fixture(scope="module")
def study_run(sample_study: Path, fundus_test_bundles: Path, tmp_path_factory: pytest.TempPathFactory):
    env = dict(os.environ) | {BUNDLE_PATH_ENV: str(fundus_test_bundles)}
    out = tmp_path_factory.mktemp("app_out")
    return run_app(sample_study, out, env), out, _expected_bundles([fundus_test_bundles, REPO / "bundles"])


def test_every_series_routed_to_its_bundle_and_written_valid(study_run, sample_study):
    proc, out, expected = study_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "run_report.json").read_text())
    assert report["status"] == "success"
    assert report["counts"] == {"items": 3, "done": 3, "failed": 0, "unsupported": 0, "skipped": 0}
    files = sorted((out / "dicom").rglob("*.dcm"))
    runs = sum(len(v) for v in expected.values())  # one SR, SEG and SC per model run, and a PM for CT/MR runs
    pm = sum(len(v) for modality, v in expected.items() if modality in ("CT", "MR"))
    kinds = sorted(f.stem.rsplit("_", 1)[1] for f in files)
    assert kinds == ["PM"] * pm + ["SC"] * runs + ["SEG"] * runs + ["SR"] * runs
    for f in files:
        assert dciodvfy_errors(f) == [], f
    modality_of = _modality_by_series(sample_study)
    routed: dict[str, set[str]] = {}
    for sr_file in (f for f in files if f.stem.endswith("_SR")):
        sr = pydicom.dcmread(sr_file)
        source_series = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].SeriesInstanceUID
        modality = modality_of[str(source_series)]
        values = sr_values(sr)
        assert 0.0 <= values["Image Quality Rating"] <= 100.0
        assert sr.PatientID == "FIQA-DEMO-001" and sr.StudyInstanceUID == next(iter(_study_uids(sample_study)))
        routed.setdefault(modality, set()).add(values["Algorithm Name"])
    assert routed == expected  # each series went to exactly its family's bundles, as the SRs say
    assert expected["OP"] and expected["CT"] == {"ctmr_mediqa"}
    assert len(list((out / "previews").glob("*.png"))) == runs


def _study_uids(study: Path) -> set[str]:
    return {str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID) for f in study.rglob("*.dcm")}


def test_failure_isolation_partial_success(messy_study, fundus_test_bundles, tmp_path):
    env = dict(os.environ) | {BUNDLE_PATH_ENV: str(fundus_test_bundles)}
    proc = run_app(messy_study, tmp_path, env)
    assert proc.returncode == 3, proc.stderr[-3000:]  # partial success
    report = json.loads((tmp_path / "run_report.json").read_text())
    assert report["status"] == "partial"
    by_status = {}
    for item in report["items"]:
        by_status.setdefault(item["status"], []).append(item)
    (done,) = by_status["done"]
    assert done["modality"] == "MR" and done["models"][0]["bundle"] == "ctmr_mediqa"
    failed = {i["item"]: i["error"] for i in by_status["failed"]}
    assert any("pixel data" in e for e in failed.values())  # the truncated CT file
    assert failed["other/notes.txt"].startswith("not a DICOM")
    skipped = " | ".join(i["error"] for i in by_status["skipped"])  # non-image objects: accounted, not failures
    assert "Waveform" in skipped and "SR" in skipped and skipped.count("no image to assess") == 2
    # nothing lost: every input file is accounted for by an item
    assert sum(max(i["instances"], 1) for i in report["items"]) == sum(1 for p in messy_study.rglob("*") if p.is_file())
    assert len(list((tmp_path / "dicom").rglob("*_SR.dcm"))) == 1


def test_report_renders_every_series_in_chromium(study_run, tmp_path):
    _, out, expected = study_run
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        missing_environment("chromium not installed: `make test` installs Debian's chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}"]
    url = (out / "report.html").as_uri()
    dom = subprocess.run([exe, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    report = json.loads((out / "run_report.json").read_text())
    assert dom.count('<tr class="item"') == len(report["items"]) == 3
    for item in report["items"]:
        assert item["item"].split(" '")[0] in dom  # e.g. "CT series 2"
    assert dom.count("data:image/png;base64,") == sum(len(v) for v in expected.values())  # every preview inlined
    shot = tmp_path / "report.png"
    subprocess.run(
        [exe, *flags, "--window-size=1200,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120
    )
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    assert pixels.getextrema()[0] < 100  # something dark was drawn: text and images, not a blank page


def test_png_and_nifti_inputs_get_results_but_no_invented_dicom(fundus_test_bundles, tmp_path):
    from importlib import resources

    from PIL import Image

    from monai_fiqa.demo import retina_path

    study = tmp_path / "in"
    study.mkdir()
    Image.open(retina_path()).resize((256, 256)).save(study / "eye.png")
    shutil.copy(resources.files("monai_fiqa") / "sample_data" / "prostate_t2.nii.gz", study / "t2.nii.gz")
    env = dict(os.environ) | {BUNDLE_PATH_ENV: str(fundus_test_bundles)}
    proc = run_app(study, tmp_path / "out", env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "run_report.json").read_text())
    routes = {i["item"]: (i["route"], i["models"][0]["bundle"]) for i in report["items"]}
    assert routes == {"eye.png": ("fundus", "fundus_fthnet"), "t2.nii.gz": ("ctmr", "ctmr_mediqa")}
    assert not (tmp_path / "out" / "dicom").exists()  # no source identity to copy: no DICOM objects
    import nibabel as nib

    (qmap,) = (tmp_path / "out" / "maps").glob("*.nii.gz")
    assert nib.load(qmap).shape == nib.load(study / "t2.nii.gz").shape


def test_the_apps_own_output_is_never_scored_again(study_run, fundus_test_bundles, tmp_path):
    """An auto-routed study comes back with our SR/SEG/SC in it: zero items scored, zero failures."""
    _, out, _ = study_run
    env = dict(os.environ) | {BUNDLE_PATH_ENV: str(fundus_test_bundles)}
    proc = run_app(out / "dicom", tmp_path, env)
    report = json.loads((tmp_path / "run_report.json").read_text())
    assert proc.returncode == 0 and report["status"] == "nothing_to_assess", proc.stderr[-3000:]
    assert report["counts"]["done"] == 0 and report["counts"]["failed"] == 0
    assert report["counts"]["skipped"] == report["counts"]["items"] > 0
    assert all("output of this application" in i["error"] for i in report["items"])
