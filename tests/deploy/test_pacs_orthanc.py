"""PACS round trip against a real Orthanc (Debian package) on loopback: the app C-STOREs its outputs, C-FIND finds
the SR, SEG and SC series back by study UID."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pydicom
import pytest

from monai_fiqa.api import BUNDLE_PATH_ENV
from monai_fiqa.deploy.pacs import PacsDestination, find_series, parse_destination, store_outputs
from tests.deploy.conftest import run_app
from tests.helpers import missing_environment, wait_for_http

pytestmark = pytest.mark.slow  # servers, packaging, whole bundles: make test-fast skips it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PacsDestination]:
    exe = shutil.which("Orthanc")
    if exe is None:
        missing_environment("Orthanc not installed: `make test` installs Debian's orthanc")
    root = tmp_path_factory.mktemp("orthanc")
    http, dicom = _free_port(), _free_port()
    cfg = {
        "Name": "fiqa-test",
        "StorageDirectory": str(root / "db"),
        "IndexDirectory": str(root / "db"),
        "HttpPort": http,
        "DicomPort": dicom,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "Plugins": [],
    }
    (root / "orthanc.json").write_text(json.dumps(cfg))
    log = (root / "orthanc.log").open("w")
    proc = subprocess.Popen([exe, str(root / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{http}/system", proc, root / "orthanc.log", timeout=30)
        yield PacsDestination("ORTHANC", "127.0.0.1", dicom)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_app_stores_outputs_and_they_are_found_by_study(orthanc, sample_study, fundus_test_bundles, tmp_path):
    env = dict(os.environ) | {BUNDLE_PATH_ENV: str(fundus_test_bundles), "FIQA_PACS": str(orthanc)}
    proc = run_app(sample_study, tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "run_report.json").read_text())
    written_files = sorted((tmp_path / "dicom").rglob("*.dcm"))
    assert report["pacs"] == {"destination": str(orthanc), "stored": len(written_files), "warnings": {}, "failed": {}}
    study_uid = str(pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm", stop_before_pixels=True).StudyInstanceUID)
    found = find_series(orthanc, study_uid)
    modalities = sorted(s["Modality"] for s in found)
    written_modalities = sorted(str(pydicom.dcmread(f, stop_before_pixels=True).Modality) for f in written_files)
    assert len(written_files) >= 9 and modalities == written_modalities  # SR, SEG, SC (OT) and CT/MR maps
    written = {
        str(pydicom.dcmread(f, stop_before_pixels=True).SeriesInstanceUID) for f in (tmp_path / "dicom").rglob("*.dcm")
    }
    assert {s["SeriesInstanceUID"] for s in found} == written


def test_unreachable_pacs_is_reported_not_raised(tmp_path):
    (tmp_path / "dicom").mkdir()
    src = pydicom.data.get_testdata_file("CT_small.dcm")
    shutil.copy(src, tmp_path / "dicom" / "a.dcm")
    result = store_outputs(tmp_path, PacsDestination("NOBODY", "127.0.0.1", _free_port()))
    assert result["stored"] == 0 and "no association" in result["failed"]["dicom/a.dcm"]


@pytest.mark.parametrize("text", ["host:104", "AE@host", "WAY_TOO_LONG_AE_TITLE@h:1", "AE@h:port"])
def test_bad_destination_is_a_clear_error(text):
    with pytest.raises(ValueError, match="AE_TITLE@host:port"):
        parse_destination(text)
