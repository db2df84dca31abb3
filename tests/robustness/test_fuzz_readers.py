"""Damaged real files through the readers: each either reads or raises the documented error - never another
exception, never a hang (a few hundred cases here; ``benchmarks/fuzz.py`` runs tens of thousands)."""

from __future__ import annotations

import io
import shutil
import time

import nibabel as nib
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.data import get_testdata_file

from monai_fiqa.io.dicom_header import header_numbers
from monai_fiqa.io.fuzz import MUTATIONS, mutate
from monai_fiqa.io.images import ImageReadError, read_rgb
from monai_fiqa.io.volumes import VolumeReadError, read_volume


def _seeds() -> dict[str, bytes]:
    rgb = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    out = {}
    for fmt in ("png", "jpeg"):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt.upper())
        out[fmt] = buf.getvalue()
    out["dcm_ct"] = open(get_testdata_file("CT_small.dcm"), "rb").read()
    out["dcm_rgb"] = open(get_testdata_file("SC_rgb_dcmtk_+eb+cy+n1.dcm"), "rb").read()
    img = nib.Nifti1Image(np.random.default_rng(1).normal(size=(32, 32, 8)).astype(np.float32), np.eye(4))
    out["nii"] = img.to_bytes()
    return out


SEEDS = _seeds()
SUFFIX = {"png": ".png", "jpeg": ".jpg", "dcm_ct": ".dcm", "dcm_rgb": ".dcm", "nii": ".nii"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.sampled_from(sorted(SEEDS)),
    kind=st.sampled_from(MUTATIONS),
    seed=st.integers(0, 2**32 - 1),
)
def test_damaged_files_are_read_or_refused_with_the_documented_error(tmp_path_factory, source, kind, seed):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"case{SUFFIX[source]}"
    path.write_bytes(mutate(SEEDS[source], kind, np.random.default_rng(seed)))
    t0 = time.perf_counter()
    reader, errors = (read_volume, VolumeReadError) if source in ("nii", "dcm_ct") else (read_rgb, ImageReadError)
    try:
        reader(path)
    except errors:
        pass
    assert time.perf_counter() - t0 < 20.0  # no hang
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("kind", MUTATIONS)
def test_every_mutation_changes_the_bytes(kind):
    data = SEEDS["png"]
    assert mutate(data, kind, np.random.default_rng(3)) != data


def test_a_damaged_pixel_spacing_is_the_readers_error(tmp_path):
    """Found by the fuzzer: a flipped byte made CT_small's PixelSpacing '0.!61468', which float() refused with a bare
    ValueError instead of the reader's error."""
    path = tmp_path / "case.dcm"
    path.write_bytes(mutate(SEEDS["dcm_ct"], "flip_bytes", np.random.default_rng(147051)))
    with pytest.raises(VolumeReadError, match="PixelSpacing"):
        read_volume(path)


def test_a_truncated_png_header_chunk_is_the_readers_error(tmp_path):
    """Found by the fuzzer: Pillow raises ValueError ("Truncated IHDR chunk") when the IHDR length is under 13."""
    data = bytearray(SEEDS["png"])
    assert data[12:16] == b"IHDR"
    data[8:12] = (7).to_bytes(4, "big")  # the chunk's length field
    path = tmp_path / "short_ihdr.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="not a readable image"):
        read_rgb(path)


def test_a_header_number_that_is_a_list_is_the_readers_error(tmp_path):
    """Found by the fuzzer: a flipped byte turned Columns into a long list; ``int()`` on it raised TypeError."""
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Columns = [512, 40, 48]
    ds.save_as(tmp_path / "photo.dcm")
    with pytest.raises(ImageReadError, match=r"Columns \[512, 40, 48\] is not one number"):
        read_rgb(tmp_path / "photo.dcm")
    with pytest.raises(VolumeReadError, match="Columns .* is not one number"):
        read_volume(tmp_path / "photo.dcm")


@pytest.mark.parametrize("source", ["dcm_ct", "dcm_rgb"])
def test_an_unknown_value_representation_is_the_readers_error(tmp_path, source):
    """Found by the 10 000-case fuzz run: a damaged VR (``U\\0`` for ``US``) parsed lazily raised NotImplementedError
    from the first attribute access, after the read's ``try``; the readers and the inventory now parse it up front."""
    from monai_fiqa.deploy.inventory import take_inventory

    data = SEEDS[source]
    at = data.find(b"\x28\x00\x11\x00US") + 4  # Columns, explicit VR little endian
    (tmp_path / "case.dcm").write_bytes(data[:at] + b"U\x00" + data[at + 2 :])
    with pytest.raises(ImageReadError, match="not a readable DICOM file .*Unknown Value Representation"):
        read_rgb(tmp_path / "case.dcm")
    with pytest.raises(VolumeReadError, match="not a readable DICOM file .*Unknown Value Representation"):
        read_volume(tmp_path / "case.dcm")
    inventory = take_inventory(tmp_path)
    assert "Unknown Value Representation" in inventory.unreadable[tmp_path / "case.dcm"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (1.0, 1.0)),
        ("0.5\\0.25", (0.5, 0.25)),
        ("0.!61\\0.6", "not 2 numbers"),
        ("0.5", "not 2 finite"),
        ("inf\\1", "not 2 finite"),
    ],
)
def test_header_numbers_reads_two_values_or_names_the_damage(value, expected):
    """PixelSpacing as the readers need it: absent -> the default; two numbers -> them; anything else -> the
    caller's error with the attribute's name."""
    ds = pydicom.Dataset()
    if value is not None:
        ds.add_new(0x00280030, "LO", value)  # LO: keeps a damaged value as the file had it
    if isinstance(expected, tuple):
        assert header_numbers(ds, "PixelSpacing", 2, (1.0, 1.0), VolumeReadError) == expected
    else:
        with pytest.raises(VolumeReadError, match=f"PixelSpacing .* is {expected}"):
            header_numbers(ds, "PixelSpacing", 2, (1.0, 1.0), VolumeReadError)
