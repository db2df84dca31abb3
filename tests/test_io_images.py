from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from monai_fiqa.io.images import ImageReadError, read_rgb


def test_rgb_png_roundtrip(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    out, meta = read_rgb(tmp_path / "a.png")
    assert np.array_equal(out, arr) and meta["conversions"] == []


def test_greyscale_and_16bit_are_converted_and_reported(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    Image.fromarray(grey).save(tmp_path / "g.png")
    out, meta = read_rgb(tmp_path / "g.png")
    assert out.shape == (5, 25, 3) and "greyscale expanded to RGB" in meta["conversions"]
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    out, meta = read_rgb(tmp_path / "d.png")
    assert out.dtype == np.uint8 and out.max() > 200
    assert any("rescaled" in c for c in meta["conversions"])


def test_truncated_jpeg_and_missing_file_raise_clear_errors(tmp_path):
    arr = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "t.jpg", quality=90)
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        read_rgb(tmp_path / "cut.jpg")
    with pytest.raises(ImageReadError, match="no such file"):
        read_rgb(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError):
        read_rgb(tmp_path / "junk.png")


@pytest.mark.parametrize("name", ["SC_rgb_rle.dcm", "SC_ybr_full_422_uncompressed.dcm"])
def test_colour_dicom_is_read_as_rgb(name):
    path = get_testdata_file(name)
    ds = pydicom.dcmread(path)
    out, meta = read_rgb(path)
    assert out.shape == (ds.Rows, ds.Columns, 3) and meta["format"] == "DICOM"
    assert meta["photometric"] == ds.PhotometricInterpretation
    assert out[0, 0, 0] > 250 and out[0, 0, 1:].max() < 5  # the test images start with a pure red band


def test_non_image_dicom_is_a_clear_error():
    with pytest.raises(ImageReadError, match="not a readable DICOM image"):
        read_rgb(get_testdata_file("rtplan.dcm"))
