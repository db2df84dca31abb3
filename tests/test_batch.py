"""Archive runs (monai_fiqa.batch): the index, shards, report, and end-to-end runs on a local Ray with 2 CPUs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from monai_fiqa.batch import index as batch_index
from monai_fiqa.batch.index import BatchInputError, iter_folder, write_index
from monai_fiqa.batch.report import read_rows, summarise, write_report
from monai_fiqa.batch.shards import RESULT_SCHEMA, done_keys, read_results, write_shard

from .helpers import missing_environment


def _dicom_header(path: Path, series_uid: str) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", generate_uid()
    ds.SeriesInstanceUID, ds.Modality = series_uid, "CT"
    ds.save_as(path, enforce_file_format=True)


def _row(path: str, model: str = "m", status: str = "ok", score: float | None = 50.0, **kw) -> dict:
    base = {name: None for name in RESULT_SCHEMA.names}
    base.update(path=path, content_hash="h" + path, kind="image", model=model, model_version="1.0", status=status)
    base.update(score=score if status == "ok" else None, grade="usable" if status == "ok" else None, **kw)
    return base


def test_folder_index_groups_dicom_series_skips_hidden_and_writes_bounded_parts(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for name in ("a/x.jpg", "a/b/y.PNG", "z.nii.gz", ".hidden/w.png", "a/.dot.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"not checked here")
    two_series = tmp_path / "dicom"
    two_series.mkdir()
    for i, uid in enumerate(["1.2.3.1", "1.2.3.1", "1.2.3.2"]):
        _dicom_header(two_series / f"{i}.dcm", uid)
    (two_series / "broken.dcm").write_bytes(b"DICM?")
    items = {i.path: i for i in iter_folder(tmp_path)}
    rel = {str(Path(p).relative_to(tmp_path)): (i.kind, len(i.files)) for p, i in items.items()}
    assert rel == {
        "a/x.jpg": ("image", 0),
        "a/b/y.PNG": ("image", 0),
        "z.nii.gz": ("volume", 0),
        "dicom/broken.dcm": ("volume", 1),  # its own item: the worker reports why it cannot be read
        "dicom#series1": ("volume", 2),
        "dicom#series2": ("volume", 1),
    }
    monkeypatch.setattr(batch_index, "CHUNK", 4)
    out = tmp_path / "out"
    assert write_index(tmp_path, out) == 6
    parts = sorted((out / "_index").glob("part-*.parquet"))
    assert [pq.read_metadata(p).num_rows for p in parts] == [4, 2]


def test_manifest_index_and_input_errors(tmp_path):
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,site\n/data/a.jpg,1\n/data/series_1,2\n/data/b.nii,3\n")
    assert write_index(manifest, tmp_path / "out") == 3
    rows = pq.read_table(tmp_path / "out" / "_index").to_pylist()
    assert [(r["path"], r["kind"]) for r in rows] == [
        ("/data/a.jpg", "image"),
        ("/data/series_1", "volume"),
        ("/data/b.nii", "volume"),
    ]
    no_path = tmp_path / "bad.csv"
    no_path.write_text("file\n/x.jpg\n")
    with pytest.raises(BatchInputError, match="no 'path' column"):
        write_index(no_path, tmp_path / "out2")
    garbage = tmp_path / "list.parquet"
    garbage.write_bytes(b"PAR1 garbage")
    with pytest.raises(BatchInputError, match="cannot read the manifest"):
        write_index(garbage, tmp_path / "out3")
    with pytest.raises(BatchInputError, match="neither a folder nor a manifest"):
        write_index(tmp_path / "missing", tmp_path / "out4")


def test_shards_are_atomic_named_by_content_and_skippable(tmp_path):
    rows = [_row("/a.jpg"), _row("/b.jpg", status="error", error="ImageReadError: truncated")]
    first = write_shard(tmp_path, rows)
    again = write_shard(tmp_path, list(reversed(rows)))  # a retried batch rewrites, never duplicates
    assert first == again and len(list((tmp_path / "shards").iterdir())) == 1
    assert write_shard(tmp_path, []) is None
    keys = done_keys(tmp_path)
    assert len(keys) == 2 and any(k.startswith("/b.jpg") for k in keys)
    table = read_results(tmp_path)
    assert table.schema == RESULT_SCHEMA and table.num_rows == 2
    (tmp_path / "shards" / "part-broken.parquet").write_bytes(b"half a file")
    assert done_keys(tmp_path) == keys  # an unreadable shard's items are redone, not trusted


def test_summary_and_report_from_shards(tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(photo)
    rows = [_row(str(photo), score=20.0), _row("/b.jpg", score=80.0, out_of_distribution=True)]
    rows.append(_row("/c.jpg", status="error", error="ImageReadError: <truncated> & more"))
    write_shard(tmp_path, rows)
    rows_read = read_rows(tmp_path)
    summary = summarise(tmp_path, rows_read, ["m"], total=3, skipped=0, plan={})
    m = summary["models"]["m"]
    assert (m["done"], m["failed"], m["out_of_distribution"], m["grades"]) == (2, 1, 1, {"usable": 2})
    assert json.loads((tmp_path / "summary.json").read_text())["items"] == 3
    page = write_report(tmp_path, summary, rows_read).read_text()
    assert "data:image/png;base64," in page  # the worst item's thumbnail
    assert "&lt;truncated&gt; &amp; more" in page  # error text escaped
    assert page.index(str(photo)) < page.index("/b.jpg")  # worst first


def test_unusable_output_or_model_fails_before_any_work(tmp_path):
    from monai_fiqa.api import BundleNotFoundError
    from monai_fiqa.batch.run import BatchOutputError, run_batch

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BatchOutputError, match="cannot write"):
        run_batch(tmp_path, ["fundus_efiqa"], blocker / "out")
    with pytest.raises(BundleNotFoundError, match="no_such_bundle"):
        run_batch(tmp_path, ["no_such_bundle"], tmp_path / "out")
    assert not (tmp_path / "out" / "_index").exists()


# ---- end to end on a local Ray (2 CPUs): the real bundles, the real command --------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "monai_fiqa.cli", "batch", *args]


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """A good fundus photograph, a truncated one, a non-fundus photograph and a CT series."""
    import skimage.data

    from monai_fiqa.deploy.sample_study import make_sample_study

    root = tmp_path_factory.mktemp("archive")
    (root / "photos").mkdir()
    Image.fromarray(skimage.data.retina()).resize((512, 512)).save(root / "photos" / "good.jpg")
    data = (root / "photos" / "good.jpg").read_bytes()
    (root / "photos" / "corrupt.jpg").write_bytes(data[: len(data) // 3])
    Image.fromarray(skimage.data.astronaut()).resize((512, 512)).save(root / "photos" / "astronaut.png")
    study = make_sample_study(tmp_path_factory.mktemp("study"))
    shutil.copytree(study["ct"], root / "ct_series")
    return root


def _rows(out: Path) -> list[dict]:
    return read_results(out).to_pylist()


@pytest.mark.slow
def test_mixed_folder_gives_the_right_rows_then_a_rerun_skips_everything(mixed_folder, tmp_path):
    if shutil.which("chromium") is None:
        missing_environment("chromium not installed: `make test` installs Debian's chromium")
    out = tmp_path / "out"
    cmd = _cli(str(mixed_folder), "--models", "fundus_efiqa,ctmr_mediqa", "--out", str(out), "--cpus", "2", "--maps")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    by = {(Path(r["path"]).name, r["model"]): r for r in _rows(out)}
    assert set(by) == {
        ("good.jpg", "fundus_efiqa"),
        ("corrupt.jpg", "fundus_efiqa"),
        ("astronaut.png", "fundus_efiqa"),
        ("ct_series", "ctmr_mediqa"),
    }  # each item to the models of its kind only
    good, corrupt = by["good.jpg", "fundus_efiqa"], by["corrupt.jpg", "fundus_efiqa"]
    astronaut, ct = by["astronaut.png", "fundus_efiqa"], by["ct_series", "ctmr_mediqa"]
    assert good["status"] == "ok" and good["grade"] != "reject" and not good["out_of_distribution"]
    assert (out / good["map_png"]).is_file() and len(good["content_hash"]) == 64
    assert corrupt["status"] == "error" and "ImageReadError" in corrupt["error"]
    assert astronaut["status"] == "ok" and astronaut["out_of_distribution"] and astronaut["grade"] == "reject"
    assert astronaut["ood_reason"]
    assert ct["status"] == "ok" and 0 <= ct["score"] <= 100 and json.loads(ct["params"])
    assert all(r["model_version"] for r in by.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["fundus_efiqa"]["failed"] == 1 and summary["models"]["ctmr_mediqa"]["done"] == 1
    assert set(summary["seconds"]) == {"index", "start_ray", "assess"} and summary["seconds"]["assess"] > 0
    import pandas as pd

    frame = pd.read_parquet(out / "shards")
    assert list(frame.columns) == RESULT_SCHEMA.names and len(frame) == 4
    # the report opens in a browser and shows every model and the error
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [shutil.which("chromium"), *flags, "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count('class="model"') == 2 and "corrupt.jpg" in dom and "<svg" in dom
    # a rerun finds everything done: nothing is assessed again, nothing duplicated
    shards = sorted((out / "shards").iterdir())
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["skipped_as_done"] == 4
    assert sorted((out / "shards").iterdir()) == shards


def _wait_for_shards(out: Path, n: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if (out / "shards").is_dir() and len(list((out / "shards").glob("part-*.parquet"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before writing {n} shards: {proc.stderr.read()[-2000:]}")
        time.sleep(0.5)
    pytest.fail(f"no {n} shards after {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL driver", "SIGINT driver", "SIGKILL worker"])
def test_interrupted_run_resumes_exactly_once(how, tmp_path):
    import skimage.data

    archive = tmp_path / "archive"
    archive.mkdir()
    base = Image.fromarray(skimage.data.retina()).resize((384, 384))
    for i in range(8):  # eight different files (content hashes differ)
        base.rotate(i * 7).save(archive / f"eye{i}.png")
    out = tmp_path / "out"
    cmd = _cli(str(archive), "--models", "fundus_efiqa", "--out", str(out), "--cpus", "2", "--batch-size", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_shards(out, 2, proc)
        if how == "SIGKILL worker":
            pids = subprocess.run(["pgrep", "-f", "MapWorker"], capture_output=True, text=True).stdout.split()
            assert pids, "no model actor found"
            os.kill(int(pids[0]), signal.SIGKILL)
            assert proc.wait(timeout=900) == 0, proc.stderr.read()[-3000:]  # Ray restarts the actor; run finishes
        else:
            proc.send_signal(signal.SIGKILL if how == "SIGKILL driver" else signal.SIGINT)
            proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True)
    done_before = len(_rows(out))
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    rows = _rows(out)
    paths = [r["path"] for r in rows]
    assert sorted(paths) == sorted(str(p) for p in archive.iterdir())  # every item exactly once
    assert all(r["status"] == "ok" for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_as_done"] == done_before
