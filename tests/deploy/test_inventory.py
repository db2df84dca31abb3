"""Every input file is accounted for: links followed once, hidden entries skipped only inside the input, special
files reported without being opened."""

from __future__ import annotations

import os
import shutil

import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file

from monai_fiqa.deploy.inventory import take_inventory


def _photo(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(path)


def test_an_input_folder_under_a_hidden_or_dotted_path_is_read(tmp_path):
    root = tmp_path / ".cache" / "study..2024"
    _photo(root / "eye.png")
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "ct.dcm")
    inv = take_inventory(root)
    assert [p.name for p in inv.photos] == ["eye.png"] and len(inv.dicom) == 1 and not inv.unreadable


def test_hidden_entries_inside_are_listed_as_skipped(tmp_path):
    _photo(tmp_path / "eye.png")
    _photo(tmp_path / ".thumbs" / "t.png")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    inv = take_inventory(tmp_path)
    assert [p.name for p in inv.photos] == ["eye.png"]
    assert sorted(p.name for p in inv.skipped) == [".DS_Store", ".thumbs"]


def test_links_loops_broken_links_and_fifos(tmp_path):
    real = tmp_path / "real"
    _photo(real / "eye.png")
    root = tmp_path / "in"
    root.mkdir()
    (root / "series").symlink_to(real, target_is_directory=True)  # a linked series folder is followed
    (root / "series" / "loop").symlink_to(root, target_is_directory=True)  # and a loop is not followed forever
    (root / "gone.png").symlink_to(tmp_path / "missing.png")
    os.mkfifo(root / "pipe.dcm")  # opening it would block the run
    inv = take_inventory(root)
    assert [p.name for p in inv.photos] == ["eye.png"]
    reasons = {p.name: why for p, why in inv.unreadable.items()}
    assert reasons == {"gone.png": "broken symbolic link", "pipe.dcm": reasons["pipe.dcm"]}
    assert "FIFO" in reasons["pipe.dcm"]
