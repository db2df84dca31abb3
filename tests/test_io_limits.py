"""Photographs that would exhaust memory or be silently misread are refused from their header, with the reason."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from monai_fiqa.io.images import ImageReadError, read_rgb, to_rgb_uint8

from .robustness.bad_inputs import lying_nifti, png_header_only


def test_huge_declared_size_is_refused_before_decoding(tmp_path):
    png_header_only(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(ImageReadError, match="exceeds"):  # ours, or PIL's decompression-bomb guard first
        read_rgb(tmp_path / "bomb.png")
    png_header_only(tmp_path / "big.png", 9000, 9000)  # under PIL's guard, over ours
    with pytest.raises(ImageReadError, match="exceeds the limit of 60,000,000"):
        read_rgb(tmp_path / "big.png")


def test_limit_is_configurable(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "small.png")
    monkeypatch.setenv("MONAI_FIQA_MAX_PIXELS", "5000")
    with pytest.raises(ImageReadError, match="5,000"):
        read_rgb(tmp_path / "small.png")


def test_strip_shaped_image_is_not_a_photograph(tmp_path):
    png_header_only(tmp_path / "strip.png", 100000, 200)
    with pytest.raises(ImageReadError, match="aspect ratio"):
        read_rgb(tmp_path / "strip.png")


def test_multi_page_tiff_and_animation_are_refused(tmp_path):
    pages = [Image.fromarray(np.full((64, 64, 3), v, np.uint8)) for v in (10, 200)]
    pages[0].save(tmp_path / "two.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "anim.gif", save_all=True, append_images=pages[1:])
    for name in ("two.tif", "anim.gif"):
        with pytest.raises(ImageReadError, match="2 pages/frames"):
            read_rgb(tmp_path / name)


def test_transparent_png_is_refused_and_opaque_alpha_is_dropped(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 200
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    with pytest.raises(ImageReadError, match="transparent"):
        read_rgb(tmp_path / "clear.png")
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    img, meta = read_rgb(tmp_path / "opaque.png")
    assert img.shape == (64, 64, 3) and "alpha dropped" in meta["conversions"]


def test_channel_first_array_is_refused_not_misread():
    with pytest.raises(ImageReadError, match="channel-first"):
        to_rgb_uint8(np.zeros((3, 256, 256), np.uint8))
    assert to_rgb_uint8(np.zeros((256, 256, 3), np.uint8))[0].shape == (256, 256, 3)


def test_nifti_whose_header_declares_a_huge_volume_is_refused_before_reading(tmp_path):
    from monai_fiqa.io.volumes import VolumeReadError, read_volume

    liar = lying_nifti(tmp_path)
    assert liar.stat().st_size < 4096
    with pytest.raises(VolumeReadError, match="exceeds the limit"):
        read_volume(liar)


def test_dicom_series_declaring_gigavoxels_is_refused_from_headers(tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file

    from monai_fiqa.io.volumes import VolumeReadError, read_volume

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Rows = ds.Columns = 60000  # a sparse file: header says 3.6 G pixels per slice
    ds.save_as(tmp_path / "huge.dcm")
    with pytest.raises(VolumeReadError, match="exceeds the limit"):
        read_volume(tmp_path)
