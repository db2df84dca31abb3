"""Routing rules, the inventory, and failures that stay with their item."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from monai_fiqa.api import QualityResult
from monai_fiqa.deploy import pipeline as pl
from monai_fiqa.deploy.inventory import take_inventory
from monai_fiqa.deploy.series_rules import DEFAULT_RULES_FILE
from monai_fiqa.io.dicom_writers import WriterIdentity


def _item(path: str | Path) -> pl.WorkItem:
    (item,) = pl.dicom_items([[pydicom.dcmread(path)]])
    return pl.route(item)


def test_routes_by_modality_photometry_and_pixel_data(sample_study):
    assert _item(sample_study / "fundus" / "OP0001.dcm").family == "fundus"
    assert _item(sample_study / "ct_series" / "CT0001.dcm").family == "ctmr"
    assert _item(get_testdata_file("CT_small.dcm")).family == "ctmr"
    assert _item(get_testdata_file("SC_rgb_dcmtk_+eb+cy+n1.dcm")).family == "fundus"  # OT, YBR_FULL colour
    unsupported = [("JPEG2000.dcm", "monochrome NM"), ("ExplVR_BigEnd.dcm", "colour US")]
    for name, reason in unsupported:
        item = _item(get_testdata_file(name))
        assert item.family is None and item.status == "unsupported" and reason in item.error, name
    skipped = [("waveform_ecg.dcm", "no image"), ("test-SR.dcm", "no image"), ("MR_small.dcm", "SECONDARY")]
    for name, reason in skipped:  # accounted for, not failures
        item = _item(get_testdata_file(name))
        assert item.family is None and item.status == "skipped" and reason in item.error, name


def test_localizers_dose_screens_and_our_own_outputs_are_skipped(sample_study, tmp_path):
    ct = pydicom.dcmread(sample_study / "ct_series" / "CT0001.dcm")
    ct.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    assert "LOCALIZER" in _routed(ct).error and _routed(ct).status == "skipped"
    ct.ImageType = ["DERIVED", "PRIMARY", "AXIAL"]  # a reconstruction radiologists read: assessed
    assert _routed(ct).family == "ctmr"
    screen = pydicom.dcmread(sample_study / "ct_series" / "CT0001.dcm")
    screen.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture in a CT series: a dose screen
    assert "dose screen" in _routed(screen).error
    ours = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    ours.Manufacturer = WriterIdentity.manufacturer  # what the writers put there: the rules file must know it
    assert _routed(ours).status == "skipped" and "output of this application" in ours_error(ours)


def _routed(ds: pydicom.Dataset) -> pl.WorkItem:
    (item,) = pl.dicom_items([[ds]])
    return pl.route(item)


def ours_error(ds: pydicom.Dataset) -> str:
    return _routed(ds).error or ""


def test_colour_ct_is_not_sent_to_a_model(sample_study):
    ds = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    ds.Modality = "CT"
    (item,) = pl.dicom_items([[ds]])
    assert pl.route(item).status == "unsupported" and "colour CT" in item.error


def test_inventory_accounts_for_every_file(tmp_path):
    (tmp_path / "a.dcm").write_bytes(b"\0" * 200)
    (tmp_path / "b.png").write_bytes(b"not really a png")
    (tmp_path / "c.nii.gz").write_bytes(b"x")
    (tmp_path / ".hidden").write_text("skipped")
    inv = take_inventory(tmp_path)
    assert [p.name for p in inv.photos] == ["b.png"] and [p.name for p in inv.volumes] == ["c.nii.gz"]
    assert list(inv.unreadable) == [tmp_path / "a.dcm"] and not inv.dicom
    items = [pl.route(i) for i in pl.file_items(inv.photos, inv.volumes, inv.name)]
    for item in items:
        pl.load_item(item)
        assert item.status == "failed" and "cannot read" in item.error


class _Pool(pl.ModelPool):
    """A pool whose fundus bundle raises on load and whose CT/MR model crashes on assess."""

    def installed(self, family: str) -> list[str]:
        return list(pl.FAMILY_BUNDLES[family][:1])

    @staticmethod
    def version(name: str) -> str:
        return "test"

    def get(self, name: str):
        if name == "fundus_fthnet":
            return super().get("no_such_bundle_anywhere")

        class Crashing:
            def assess(self, x: object) -> QualityResult:
                raise RuntimeError("boom")

        return Crashing()


def test_bundle_and_model_failures_stay_with_the_item():
    pool = _Pool()
    photo = pl.WorkItem("eye", "photo", family="fundus", image=np.zeros((64, 64, 3), np.uint8))
    volume = pl.WorkItem("vol", "nifti", family="ctmr")
    for item in (photo, volume):
        pl.assess_item(item, pool)
        assert item.status == "failed"
    assert "no_such_bundle_anywhere" in photo.error
    assert "model error (RuntimeError: boom)" in volume.error


def test_no_installed_bundle_is_a_clear_failure(monkeypatch):
    monkeypatch.setattr(pl, "available_bundles", lambda: {})
    item = pl.assess_item(pl.WorkItem("eye", "photo", family="fundus"), pl.ModelPool())
    assert item.status == "failed" and "no trained fundus bundle is installed" in item.error


@pytest.mark.parametrize("status", ["failed", "unsupported"])
def test_steps_leave_finished_items_alone(status, tmp_path):
    item = pl.WorkItem("x", "photo", family="fundus")
    item.fail(status, "reason")
    for step in (pl.load_item, lambda i: pl.assess_item(i, pl.ModelPool()), lambda i: pl.write_item(i, tmp_path)):
        assert step(item).status == status and item.error == "reason"


def test_a_fundus_series_of_both_eyes_gives_one_item_per_photograph(sample_study):
    right = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    left = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    left.SOPInstanceUID, left.InstanceNumber, left.ImageLaterality = pydicom.uid.generate_uid(), 2, "L"
    items = pl.dicom_items([[left, right]])
    assert [i.key for i in items] == ["OP series 1 image 1 (R)", "OP series 1 image 2 (L)"]
    assert all(pl.route(i).family == "fundus" for i in items)
    assert len({i.slug for i in items}) == 2  # each photograph writes its own outputs
    ct = pydicom.dcmread(sample_study / "ct_series" / "CT0001.dcm")
    assert len(pl.dicom_items([[ct, ct]])) == 1  # a CT/MR series stays one volume


def test_an_image_without_pixels_fails_and_a_damaged_header_fails_its_item_only():
    """Found by the bad-input memory benchmark: a CT image without PixelData was 'skipped' like an SR; and a
    multi-valued SamplesPerPixel raised TypeError in routing, which would have ended the whole run."""
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ct.PixelData
    item = _routed(ct)
    assert item.status == "failed" and "CT Image Storage without pixel data" in item.error
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct.SamplesPerPixel = [1, 3]
    item = _routed(ct)
    assert item.status == "failed" and "SamplesPerPixel" in item.error


def test_a_multiframe_photograph_gives_one_item_per_frame_each_written_with_its_frame(sample_study, tmp_path):
    """Several fields in one Ophthalmic Photography instance: each frame is assessed on its own and its SR
    references that frame by number; the SEG is not written for a frame, and says why."""
    from monai_fiqa.deploy.outputs import write_run_outputs
    from tests.deploy.conftest import dciodvfy_errors

    op = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    second = op.pixel_array[:, ::-1]  # the second field: another picture
    op.PixelData = np.stack([op.pixel_array, second]).tobytes()
    op.NumberOfFrames = 2
    items = pl.dicom_items([[op]])
    assert [i.key for i in items] == ["OP series 1 image 1 (R) frame 1", "OP series 1 image 1 (R) frame 2"]
    assert len({i.slug for i in items}) == 2
    for item, expected in zip(items, (op.pixel_array[0], second), strict=True):
        assert pl.route(item).family == "fundus"
        assert np.array_equal(pl.load_item(item).image, expected)
    item = items[1]
    run = pl.ModelRun("fundus_efiqa", "0.4.0", QualityResult(70.0, "good", np.ones(second.shape[:2], np.float32)))
    item.runs = [run]
    write_run_outputs(item, run, tmp_path)
    sr = pydicom.dcmread(tmp_path / "dicom" / item.slug / "fundus_efiqa_SR.dcm")
    assert dciodvfy_errors(tmp_path / "dicom" / item.slug / "fundus_efiqa_SR.dcm") == []
    frames = [
        int(ref.ReferencedFrameNumber)
        for ref in _walk(sr)
        if "ReferencedFrameNumber" in ref and ref.get("ReferencedSOPInstanceUID") == op.SOPInstanceUID
    ]
    assert frames == [2]
    assert "one frame of a multi-frame photograph" in run.output_errors["SEG"]


def _walk(ds: pydicom.Dataset):
    """Every dataset nested in ``ds`` (content items, reference sequences)."""
    for elem in ds:
        if elem.VR == "SQ":
            for child in elem.value:
                yield child
                yield from _walk(child)


def test_a_photograph_declaring_a_billion_frames_is_one_unsupported_item(sample_study):
    op = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    op.NumberOfFrames = 10**9  # a damaged header (or a video): never a billion items
    (item,) = pl.dicom_items([[op]])
    assert pl.route(item).status == "unsupported" and "1000000000 frames" in item.error


def test_the_rules_file_decides_and_says_why(sample_study, tmp_path):
    """Our outputs are recognised by their software even from another manufacturer field; other vendors' derived
    results (SEG, parametric map) are skipped; a site's own rules file changes the decision, with its reason."""
    from monai_fiqa.deploy.series_rules import load_rules

    ours = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    ours.Manufacturer = "Some PACS rewrote this"
    ours.SoftwareVersions = WriterIdentity("fundus_efiqa", "0.4.0").software_versions
    assert _routed(ours).status == "skipped" and "output of this application" in ours_error(ours)
    seg = pydicom.dcmread(sample_study / "ct_series" / "CT0001.dcm")
    seg.SOPClassUID, seg.Modality = "1.2.840.10008.5.1.4.1.1.66.4", "SEG"
    assert _routed(seg).status == "skipped" and "derived from images" in ours_error(seg)
    ct = pydicom.dcmread(sample_study / "ct_series" / "CT0001.dcm")
    ct.ImageType = ["DERIVED", "PRIMARY", "AXIAL"]
    site = json.loads(DEFAULT_RULES_FILE.read_text())
    site["rules"].insert(
        0,
        {
            "name": "no recons here",
            "when": {"ImageType": "DERIVED(\\\\.*)?"},
            "status": "skipped",
            "reason": "site rule: {ImageType} is not read at this site",
        },
    )
    (tmp_path / "site.json").write_text(json.dumps(site))
    (item,) = pl.dicom_items([[ct]])
    pl.route(item, load_rules(tmp_path / "site.json"))
    assert item.status == "skipped" and item.error == "site rule: DERIVED\\PRIMARY\\AXIAL is not read at this site"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"when": {"Modalty": "CT"}, "family": "ctmr"}, "unknown attribute(s) Modalty"),
        ({"when": {"Modality": "(CT"}, "family": "ctmr"}, "invalid regular expression"),
        ({"when": {}, "status": "skipped"}, "must say why"),
        ({"when": {}, "status": "skipped", "reason": "{Bogus}"}, "unknown attribute(s) Bogus"),
        ({"when": {}, "family": "ctmr", "status": "skipped", "reason": "x"}, "not both or none"),
        ({"when": {"Modality": "CT"}, "family": "ctmr"}, "last rule must have no conditions"),
    ],
)
def test_a_bad_rules_file_is_refused_before_the_run(tmp_path, rule, message):
    from monai_fiqa.deploy.preflight import PreflightError, check_configuration

    (tmp_path / "rules.json").write_text(json.dumps({"selections": [], "rules": [rule]}))
    with pytest.raises(PreflightError, match=re.escape(message)):
        check_configuration(tmp_path / "out", None, tmp_path / "rules.json")
