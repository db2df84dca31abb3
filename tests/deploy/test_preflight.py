"""Before any inference: the output folder and the PACS address are checked, and one run holds a folder at a time;
during the store: each object is stored or reported on its own."""

from __future__ import annotations

import json
import os

import pydicom
import pytest
from pydicom.data import get_testdata_file

from monai_fiqa.deploy.pacs import _store_one
from monai_fiqa.deploy.preflight import LOCK_NAME, PreflightError, check_configuration, output_lock
from monai_fiqa.deploy.report import EXIT_CODES, exit_code_of


def test_unwritable_output_and_bad_pacs_address_stop_the_run_before_inference(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(PreflightError, match="not writable"):
        check_configuration(blocked / "out", None)
    with pytest.raises(PreflightError, match="AE_TITLE@host:port"):
        check_configuration(tmp_path / "out", "no-port-here")
    check_configuration(tmp_path / "out", "ORTHANC@127.0.0.1:4242")


def test_one_run_per_output_folder_and_no_stale_report(tmp_path):
    (tmp_path / "run_report.json").write_text(json.dumps({"status": "success"}))
    with output_lock(tmp_path):
        assert not (tmp_path / "run_report.json").exists()  # a crash now reads as failed, not as the old success
        assert exit_code_of(tmp_path) == EXIT_CODES["failed"]
        with pytest.raises(PreflightError, match="another run"), output_lock(tmp_path):
            pass
    assert not (tmp_path / LOCK_NAME).exists()
    (tmp_path / LOCK_NAME).write_text("999999999")  # left by a run that died: taken over
    with output_lock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text() == str(os.getpid())


def test_a_failed_pacs_store_is_its_own_exit_status(tmp_path):
    report = {"status": "success", "pacs": {"destination": "X@h:1", "stored": 2, "failed": {"dicom/a.dcm": "x"}}}
    (tmp_path / "run_report.json").write_text(json.dumps(report))
    assert exit_code_of(tmp_path) == EXIT_CODES["pacs_failed"] == 4
    report["pacs"]["failed"] = {}
    (tmp_path / "run_report.json").write_text(json.dumps(report))
    assert exit_code_of(tmp_path) == 0


class _Assoc:
    """A stand-in association: raises, or answers with a status."""

    is_established = True

    def __init__(self, answer):
        self.answer = answer

    def send_c_store(self, ds):
        if isinstance(self.answer, Exception):
            raise self.answer
        status = pydicom.Dataset()
        status.Status = self.answer
        return status


def test_each_object_is_stored_or_reported_on_its_own():
    path = get_testdata_file("CT_small.dcm")
    ct = str(pydicom.dcmread(path).SOPClassUID)
    assert _store_one(_Assoc(0), path, {ct}) == (True, None)
    assert _store_one(_Assoc(0xB000), path, {ct}) == (True, "stored with warning status 0xb000")
    ok, why = _store_one(_Assoc(0xA700), path, {ct})
    assert not ok and why == "status 0xa700"
    ok, why = _store_one(_Assoc(ValueError("no presentation context")), path, {ct})
    assert not ok and "ValueError" in why
    ok, why = _store_one(_Assoc(0), path, set())
    assert not ok and "does not accept SOP class CT Image Storage" in why
