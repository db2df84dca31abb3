"""Bundle configs run code (``$`` expressions): they are loaded only from trusted roots, never the working directory."""

from __future__ import annotations

import json

import pytest

import monai_fiqa
from monai_fiqa.api import UntrustedBundleError, bundle_search_path
from monai_fiqa.cli import main


def _hostile_bundle(root, name: str, marker) -> None:
    """A bundle folder whose config writes ``marker`` when parsed (what an attacker would leave in a study folder)."""
    (root / name / "configs").mkdir(parents=True)
    (root / name / "models").mkdir()
    (root / name / "models" / "model.pt").write_bytes(b"")
    payload = f"$open({str(marker)!r}, 'w').write('pwned')"
    config = {"imports": ["$import os"], "device": "cpu", "assessor": payload}
    (root / name / "configs" / "inference.json").write_text(json.dumps(config))


def test_a_bundle_in_the_working_directory_is_never_loaded(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    _hostile_bundle(tmp_path, "evil_bundle", marker)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONAI_FIQA_BUNDLE_PATH", raising=False)
    assert tmp_path.resolve() not in [p.resolve() for p in bundle_search_path()]
    with pytest.raises(monai_fiqa.BundleNotFoundError, match="no bundle named"):
        monai_fiqa.load("evil_bundle")  # by name: not on the search path
    with pytest.raises(UntrustedBundleError, match="not under a trusted bundle root"):
        monai_fiqa.load("./evil_bundle")  # by path: refused, its config is never parsed
    assert main(["bundle", "check", "./evil_bundle"]) == 1
    assert not marker.exists()


def test_a_shipped_name_shadowed_in_the_working_directory_loads_the_shipped_bundle(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    _hostile_bundle(tmp_path, "ctmr_mediqa", marker)
    monkeypatch.chdir(tmp_path)
    if "ctmr_mediqa" not in monai_fiqa.available_bundles():
        pytest.skip("ctmr_mediqa weights not present")
    assessor = monai_fiqa.load("ctmr_mediqa")
    assert type(assessor).__name__ == "MedIQAAssessor" and not marker.exists()


def test_a_folder_under_a_configured_root_is_trusted(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    _hostile_bundle(tmp_path / "site_bundles", "site_bundle", marker)
    monkeypatch.setenv("MONAI_FIQA_BUNDLE_PATH", str(tmp_path / "site_bundles"))
    monai_fiqa.load(str(tmp_path / "site_bundles" / "site_bundle"))  # the site chose to trust it: its config runs
    assert marker.read_text() == "pwned"


def test_weights_that_do_not_match_their_recorded_hash_are_refused(tmp_path, monkeypatch):
    from monai_fiqa.api import BundleIntegrityError
    from monai_fiqa.bundle_dist import write_large_files

    root = tmp_path / "bundles"
    _hostile_bundle(root, "site_bundle", tmp_path / "ran.txt")
    (root / "site_bundle" / "models" / "model.pt").write_bytes(b"the released weights")
    write_large_files(root / "site_bundle")
    monkeypatch.setenv("MONAI_FIQA_BUNDLE_PATH", str(root))
    (root / "site_bundle" / "models" / "model.pt").write_bytes(b"swapped weights")
    with pytest.raises(BundleIntegrityError, match="does not match") as err:
        monai_fiqa.load("site_bundle")
    assert str(err.value).count("sha256") == 1 and len([w for w in str(err.value).split() if len(w) == 64]) == 2
    assert not (tmp_path / "ran.txt").exists()  # refused before its config was parsed
