"""Compressed DICOM as PACS archives store it: every transfer syntax decodes to the uncompressed reference.

Lossless syntaxes must give the same stored values and therefore the same HU, exactly; lossy ones (JPEG baseline
photographs; 12-bit CT as JPEG extended, JPEG-LS near-lossless and JPEG 2000, as archives keep older CT) within the
codec's error, and the CT's quality score within a point of the uncompressed one.  References are pydicom's bundled
files and variants made here with dcmtk (``dcmcjpeg``, ``dcmcjpls``, ``dcmcrle``, ``dcmconv``) and with pydicom's
own encoders (JPEG 2000), so each decoder reads what another implementation wrote.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from monai_fiqa.deploy.sample_study import make_sample_study
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.volumes import read_volume

# dcmtk tool and arguments that write each syntax (the same tools a PACS integrator uses to make test data)
DCMTK = {
    JPEGLosslessSV1: ["dcmcjpeg", "+e1"],  # JPEG Lossless, process 14, selection value 1
    JPEGLSLossless: ["dcmcjpls", "+el"],
    RLELossless: ["dcmcrle"],
    DeflatedExplicitVRLittleEndian: ["dcmconv", "+td"],
    JPEGExtended12Bit: ["dcmcjpeg", "+ee", "+q", "90"],  # lossy, 12 bits: how many PACS archived CT
    JPEGLSNearLossless: ["dcmcjpls", "+en"],  # NEAR = 2: every stored value within 2 of the original
}
LOSSLESS = [JPEGLosslessSV1, JPEGLSLossless, RLELossless, DeflatedExplicitVRLittleEndian]


def _dcmtk(src: Path, dst: Path, syntax: str) -> Path:
    tool, *args = DCMTK[syntax]
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} (dcmtk) is not installed: `make setup` installs it")
    subprocess.run([tool, *args, str(src), str(dst)], check=True, capture_output=True)
    assert str(pydicom.dcmread(dst, stop_before_pixels=True).file_meta.TransferSyntaxUID) == syntax
    return dst


def _pydicom_j2k(src: Path, dst: Path) -> Path:
    ds = pydicom.dcmread(src)
    ds.compress(JPEG2000Lossless)  # pylibjpeg-openjpeg's encoder
    ds.save_as(dst)
    return dst


@pytest.mark.parametrize("syntax", [*LOSSLESS, JPEG2000Lossless])
def test_compressed_ct_reads_to_the_same_hu(tmp_path, syntax):
    reference = Path(get_testdata_file("CT_small.dcm"))
    made = tmp_path / "ct.dcm"
    if syntax == JPEG2000Lossless:
        _pydicom_j2k(reference, made)
    else:
        _dcmtk(reference, made, syntax)
    expected, got = read_volume(reference), read_volume(made)
    np.testing.assert_array_equal(got.array, expected.array)
    assert got.spacing == expected.spacing


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_bundled_compressed_mr_reads_to_the_reference(name):
    expected = read_volume(get_testdata_file("MR_small.dcm"))
    got = read_volume(get_testdata_file(name))
    np.testing.assert_array_equal(got.array, expected.array)


def test_a_jpeg_lossless_ct_series_reads_to_the_uncompressed_volume(tmp_path):
    """The issue's case: a whole CT series stored JPEG Lossless process 14, as PACS archives keep it."""
    make_sample_study(tmp_path / "study")
    series = tmp_path / "study" / "ct_series"
    packed = tmp_path / "packed"
    packed.mkdir()
    for f in sorted(series.glob("*.dcm")):
        _dcmtk(f, packed / f.name, JPEGLosslessSV1)
    expected, got = read_volume(series), read_volume(packed)
    np.testing.assert_array_equal(got.array, expected.array)
    assert got.spacing == expected.spacing


@pytest.mark.parametrize(
    ("name", "max_mean_error"),
    [("SC_rgb_rle.dcm", 0.0), ("SC_rgb_jpeg_dcmtk.dcm", 1.0), ("SC_rgb_dcmtk_+eb+cy+np.dcm", 4.0)],
)
def test_compressed_colour_photographs_decode(name, max_mean_error):
    """RLE exactly; JPEG baseline (YBR, lossy, chroma subsampled: up to ~80 grey levels at the pattern's colour
    edges) within a mean error of a few grey levels - a wrong colour-space conversion would be off by tens."""
    expected, _ = read_rgb(get_testdata_file("SC_rgb_rle.dcm"))
    got, _ = read_rgb(get_testdata_file(name))
    assert str(pydicom.dcmread(get_testdata_file(name)).file_meta.TransferSyntaxUID) in (RLELossless, JPEGBaseline8Bit)
    assert np.abs(got.astype(int) - expected.astype(int)).mean() <= max_mean_error


def _as_12_bit_ct(src: Path, dst: Path) -> Path:
    """The slice stored as 12-bit unsigned values with intercept -1024 (what JPEG extended and most older CT
    archives hold); air and below clipped to the 12-bit range."""
    ds = pydicom.dcmread(src)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    ds.PixelData = np.clip(np.rint(hu + 1024), 0, 4095).astype(np.uint16).tobytes()
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit, ds.RescaleIntercept, ds.RescaleSlope = 0, 12, 11, -1024, 1
    for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue", "PixelPaddingValue"):
        ds.pop(keyword, None)
    ds.save_as(dst)
    return dst


@pytest.mark.parametrize(
    ("syntax", "max_mean_hu", "max_hu"),
    [(JPEGExtended12Bit, 1.0, 40.0), (JPEGLSNearLossless, 1.5, 2.0), (JPEG2000, 0.5, 10.0)],
)
def test_lossy_ct_reads_within_the_codec_error_and_scores_the_same(tmp_path, syntax, max_mean_hu, max_hu):
    """JPEG-LS near-lossless bounds every value (NEAR = 2, slope 1: 2 HU); the others are judged by the mean and
    the worst error at quality 90 / compression ratio 10.  A decoder that mishandled the 12-bit or unsigned case
    would be off by hundreds of HU; a quality score must not move with archive compression this mild."""
    from monai_fiqa.api import load

    make_sample_study(tmp_path / "study")
    reference = _as_12_bit_ct(next((tmp_path / "study" / "ct_series").glob("*.dcm")), tmp_path / "ref.dcm")
    made = tmp_path / "lossy.dcm"
    if syntax == JPEG2000:
        ds = pydicom.dcmread(reference)
        ds.compress(JPEG2000, j2k_cr=[10])  # pylibjpeg-openjpeg's encoder
        ds.save_as(made)
    else:
        _dcmtk(reference, made, syntax)
    expected, got = read_volume(reference), read_volume(made)
    error = np.abs(got.array - expected.array)
    assert error.mean() <= max_mean_hu and error.max() <= max_hu
    assert got.spacing == expected.spacing
    model = load("ctmr_mediqa")
    assert abs(model.assess(got).score - model.assess(expected).score) <= 1.0
