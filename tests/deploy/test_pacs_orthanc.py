"""PACS round trip against a real Orthanc (Debian package) on loopback: the app C-STOREs its outputs, C-FIND finds
the SR, SEG, PM and SC series back by study UID, and a C-MOVE brings back every object with the content written."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pydicom
import pytest
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove

from monai_fiqa.api import BUNDLE_PATH_ENV
from monai_fiqa.deploy.pacs import PacsDestination, find_series, parse_destination, store_outputs
from tests.deploy.conftest import run_app
from tests.helpers import missing_environment, wait_for_http

pytestmark = pytest.mark.slow  # servers, packaging, whole bundles: make test-fast skips it


MOVE_AE = "FIQA_MOVE"  # our Storage SCP, the C-MOVE destination Orthanc is told about


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class OrthancServer:
    dest: PacsDestination
    move_port: int  # the port of our Storage SCP, known to Orthanc as MOVE_AE


@pytest.fixture(scope="module")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    exe = shutil.which("Orthanc")
    if exe is None:
        missing_environment("Orthanc not installed: `make test` installs Debian's orthanc")
    root = tmp_path_factory.mktemp("orthanc")
    http, dicom, move = _free_port(), _free_port(), _free_port()
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
        "DicomAlwaysAllowMove": True,
        "DicomModalities": {MOVE_AE: [MOVE_AE, "127.0.0.1", move]},
        "Plugins": [],
    }
    (root / "orthanc.json").write_text(json.dumps(cfg))
    log = (root / "orthanc.log").open("w")
    proc = subprocess.Popen([exe, str(root / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{http}/system", proc, root / "orthanc.log", timeout=30)
        yield OrthancServer(PacsDestination("ORTHANC", "127.0.0.1", dicom), move)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _move_back(server: OrthancServer, study_uid: str, sop_classes: set[str]) -> dict[str, pydicom.Dataset]:
    """C-MOVE the study from Orthanc to a Storage SCP of ours (accepting ``sop_classes`` in any transfer syntax);
    the datasets received, by SOP Instance UID."""
    received: dict[str, pydicom.Dataset] = {}

    def on_store(event: evt.Event) -> int:
        received[str(event.dataset.SOPInstanceUID)] = event.dataset
        return 0x0000

    scp = AE(ae_title=MOVE_AE)
    for sop_class in sorted(sop_classes):  # SR, SEG, PM and SC: not all in pynetdicom's default storage list
        scp.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)
    server_thread = scp.start_server(
        ("127.0.0.1", server.move_port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        requestor = AE(ae_title="FIQA_TEST")
        requestor.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        assoc = requestor.associate(server.dest.host, server.dest.port, ae_title=server.dest.ae_title)
        assert assoc.is_established
        query = pydicom.Dataset()
        query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study_uid
        statuses = [
            int(st.Status)
            for st, _ in assoc.send_c_move(query, MOVE_AE, StudyRootQueryRetrieveInformationModelMove)
            if st
        ]
        assoc.release()
        assert statuses and statuses[-1] == 0x0000, [hex(s) for s in statuses]
    finally:
        server_thread.shutdown()
    return received


def _differing(written: pydicom.Dataset, back: pydicom.Dataset) -> list[str]:
    """Elements whose value differs between the two (pixel data included, file meta aside); trailing padding, which
    a PACS may drop, is not content."""
    tags = ({e.tag for e in written} | {e.tag for e in back}) - {pydicom.tag.Tag(0xFFFCFFFC)}
    return [str(written.get(t, back.get(t)).keyword or t) for t in sorted(tags) if written.get(t) != back.get(t)]


def test_app_stores_outputs_found_by_study_and_moved_back_unchanged(
    orthanc_server, sample_study, fundus_test_bundles, tmp_path
):
    orthanc = orthanc_server.dest
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
    classes = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPClassUID) for f in written_files}
    moved = _move_back(orthanc_server, study_uid, classes)  # C-MOVE: every object comes back as it was written
    assert len(moved) == len(written_files)
    for f in written_files:
        original = pydicom.dcmread(f)
        assert _differing(original, moved[str(original.SOPInstanceUID)]) == [], f.name


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
