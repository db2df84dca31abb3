"""The MONAI Label app, used the way 3D Slicer uses it: ``monailabel start_server`` on loopback with the app and a
folder of images, then ``/info/`` and ``/infer/<model>`` over HTTP; the label must be on the image's geometry and the
params must carry score and grade.  Runs in the label environment (``make label-env``; ``make test`` builds it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from monai_fiqa.demo import retina_path
from tests.helpers import missing_environment, wait_for_http

pytestmark = pytest.mark.slow  # servers, packaging, whole bundles: make test-fast skips it

REPO = Path(__file__).resolve().parents[1]
LABEL_BIN = REPO / ".venv-label" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not (LABEL_BIN / "monailabel").is_file():
        missing_environment("the MONAI Label environment is missing: run `make label-env` (make test does)")
    studies = tmp_path_factory.mktemp("studies")
    Image.open(retina_path()).resize((400, 400)).save(studies / "eye.png")
    shutil.copy(resources.files("monai_fiqa") / "sample_data" / "prostate_t2.nii.gz", studies / "prostate.nii.gz")
    port = _free_port()
    env = dict(os.environ, PATH=f"{LABEL_BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("MONAI_FIQA_BUNDLE_PATH", None)  # the repository's bundles
    log = (studies.parent / "server.log").open("w")
    cmd = [str(LABEL_BIN / "monailabel"), "start_server", "--app", str(REPO / "app_packages" / "monailabel_app")]
    cmd += ["--studies", str(studies), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--conf", "models", "fundus_efiqa,ctmr_mediqa", "--conf", "device", "cpu"]  # as the radiology app takes
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/info/", proc, studies.parent / "server.log", timeout=180)
        yield url, studies
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


def _infer(url: str, model: str, image: str, output: str, params: dict | None = None) -> bytes:
    boundary = "fiqa-test-boundary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n{json.dumps(params or {})}\r\n'
    body += f"--{boundary}--\r\n"
    req = urllib.request.Request(
        f"{url}/infer/{model}?image={image}&output={output}",
        data=body.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=300) as resp:
        return resp.read()


def test_info_lists_the_installed_bundles_as_segmentation_models(server):
    url, _ = server
    info = json.loads(urllib.request.urlopen(f"{url}/info/", timeout=30).read())
    models = info["models"]
    assert {"fundus_efiqa", "ctmr_mediqa"} <= set(models)  # fundus_fthnet appears once it ships weights
    for name, m in models.items():
        assert m["type"] == "segmentation" and m["labels"] == {"fair quality": 1, "poor quality": 2}, name
    assert models["ctmr_mediqa"]["dimension"] == 3 and models["fundus_efiqa"]["dimension"] == 2


def test_ctmr_label_is_on_the_volume_geometry_with_score_in_params(server, tmp_path):
    url, studies = server
    params = json.loads(_infer(url, "ctmr_mediqa", "prostate", "json", {"prompt_modality": "MR"}))
    assert 0 <= params["score"] <= 100 and params["grade"] in ("good", "usable", "reject")
    assert params["result"]["prompt"]["modality"] == "MR" and "artefacts" in params["result"]
    # Slicer names segments after label_names: the score and grade are shown there, beside the map
    expected = f"score {params['score']:.0f} {params['grade']}"
    assert sorted(params["label_names"].values()) == [1, 2]
    assert all(name.endswith(expected) for name in params["label_names"])
    (tmp_path / "label.nii.gz").write_bytes(_infer(url, "ctmr_mediqa", "prostate", "image", {"prompt_modality": "MR"}))
    label, image = nib.load(tmp_path / "label.nii.gz"), nib.load(studies / "prostate.nii.gz")
    assert label.shape == image.shape and np.allclose(label.affine, image.affine)
    assert set(np.unique(np.asarray(label.dataobj))) <= {0, 1, 2}


def test_fundus_label_matches_the_photograph(server, tmp_path):
    url, _ = server
    params = json.loads(_infer(url, "fundus_efiqa", "eye", "json"))
    assert params["bundle"] == "fundus_efiqa" and params["grade"] != "reject"
    (tmp_path / "label.png").write_bytes(_infer(url, "fundus_efiqa", "eye", "image"))
    label = np.asarray(Image.open(tmp_path / "label.png"))
    assert label.shape == (400, 400) and set(np.unique(label)) <= {0, 1, 2}
