"""Bundle distribution like the model zoo: export -> serve on loopback -> install -> load gives the same scores;
a bad checksum or a truncated download fails clearly and changes nothing; MONAI's own download takes our zips;
every bundle in bundles/ passes the model-zoo checks."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import monai_fiqa
from monai_fiqa.api import BUNDLE_PATH_ENV
from monai_fiqa.bundle_checks import check_bundle
from monai_fiqa.bundle_dist import BundleInstallError, export_bundle, install_bundle

pytestmark = pytest.mark.slow  # servers, packaging, whole bundles: make test-fast skips it

REPO = Path(__file__).resolve().parents[1]
NAME = "ctmr_mediqa"  # the smallest shipped bundle


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    """The bundle exported into a folder served over HTTP on a loopback port."""
    root = tmp_path_factory.mktemp("zoo")
    entry = export_bundle(NAME, root)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/", entry
    server.shutdown()
    server.server_close()


def test_export_writes_zip_checksum_and_index(published):
    root, _, entry = published
    meta = json.loads((REPO / "bundles" / NAME / "configs" / "metadata.json").read_text())
    assert entry["version"] == meta["version"] and entry["source"] == f"{NAME}_v{meta['version']}.zip"
    index = json.loads((root / "model_info.json").read_text())
    assert index[f"{NAME}_v{meta['version']}"]["sha256"] == entry["sha256"] and len(entry["sha256"]) == 64


def test_install_over_http_then_load_scores_the_same(published, tmp_path, monkeypatch):
    _, url, _ = published
    dest = install_bundle(NAME, url, root=tmp_path / "installed")
    assert (dest / "models" / "model.pt").is_file() and not list((tmp_path / "installed").glob(".*"))
    slice_ = np.random.default_rng(0).normal(0, 300, (96, 96)).astype(np.float32)
    reference = monai_fiqa.load(NAME).assess(slice_, prompt={"modality": "CT"}).score
    monkeypatch.setenv(BUNDLE_PATH_ENV, str(tmp_path / "installed"))
    installed = monai_fiqa.load(NAME)
    assert installed.assess(slice_, prompt={"modality": "CT"}).score == pytest.approx(reference, abs=1e-5)


def test_checksum_mismatch_and_truncation_fail_and_change_nothing(published, tmp_path):
    root, url, entry = published
    good = install_bundle(NAME, url, root=tmp_path)
    stamp = (good / "configs" / "metadata.json").stat().st_mtime_ns
    bad_index = tmp_path / "bad"
    bad_index.mkdir()
    (bad_index / entry["source"]).write_bytes((root / entry["source"]).read_bytes()[:50_000])  # truncated
    index = {"x": {**entry, "sha256": "0" * 64}}
    (bad_index / "model_info.json").write_text(json.dumps(index))
    with pytest.raises(BundleInstallError, match="download .* failed"):
        install_bundle(NAME, bad_index, root=tmp_path)
    index["x"]["sha256"] = hashlib.sha256((bad_index / entry["source"]).read_bytes()).hexdigest()
    (bad_index / "model_info.json").write_text(json.dumps(index))
    with pytest.raises(BundleInstallError, match="not a valid zip"):  # right checksum, truncated archive
        install_bundle(NAME, bad_index, root=tmp_path)
    with pytest.raises(BundleInstallError, match="no bundle 'nope'"):
        install_bundle("nope", url, root=tmp_path)
    assert (good / "configs" / "metadata.json").stat().st_mtime_ns == stamp  # the installed version is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([NAME, "bad"])  # no half-installed leftovers


def test_monai_bundle_download_accepts_our_zip(published, tmp_path):
    from monai.bundle import download

    _, url, entry = published
    download(name=NAME, url=url + entry["source"], bundle_dir=str(tmp_path), progress=False)
    assert (tmp_path / NAME / "configs" / "inference.json").is_file()
    assert (tmp_path / NAME / "models" / "model.pt").is_file()


@pytest.mark.parametrize("bundle", sorted(p.name for p in (REPO / "bundles").iterdir() if p.is_dir()))
def test_every_bundle_passes_the_model_zoo_checks(bundle):
    problems = check_bundle(REPO / "bundles" / bundle)
    if not (REPO / "bundles" / bundle / "models" / "model.pt").is_file():
        assert problems == ["no trained weights (models/model.pt)"]  # reported; the rest passed on initial weights
    else:
        assert problems == []
