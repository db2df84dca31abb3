"""MAP packaging up to the container build: the Holoscan packager reads app.yaml, finds the bundles as models and
writes the MAP manifests and the Dockerfile; the build itself needs Docker, which these machines do not have."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import missing_environment

pytestmark = pytest.mark.slow  # servers, packaging, whole bundles: make test-fast skips it

REPO = Path(__file__).resolve().parents[2]
HOLOSCAN = REPO / ".venv-map" / "bin" / "holoscan"
APP = REPO / "app_packages" / "fiqa_app"


def _block(log: str, name: str) -> str:
    m = re.search(rf"=+ Begin {re.escape(name)} =+\n(.*?)\n=+ End {re.escape(name)} =+", log, re.S)
    assert m, f"the packager wrote no {name}"
    return m.group(1)


def test_packager_builds_the_map_context(tmp_path):
    if not HOLOSCAN.is_file():
        missing_environment("the MAP packager venv is missing: `make setup` creates .venv-map")
    cmd = [str(HOLOSCAN), "package", str(APP), "-c", str(APP / "app.yaml"), "-t", "monai-fiqa-app:0.1.0"]
    cmd += ["--platform", "x86_64", "-m", str(REPO / "bundles"), "--output", str(tmp_path)]
    cmd += ["--source", str(APP / "map_artifacts.json"), "--sdk-version", "4.6.0", "-l", "DEBUG"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    log = proc.stdout + proc.stderr
    app_json = json.loads(_block(log, "app.json"))
    pkg_json = json.loads(_block(log, "pkg.json"))
    dockerfile = _block(log, "Dockerfile")
    assert json.loads(app_json["command"]) == ["python3", "/opt/holoscan/app"]  # runs __main__.py as a folder
    assert app_json["environment"]["HOLOSCAN_MODEL_PATH"] == "/opt/holoscan/models"
    assert pkg_json["resources"] == {"cpu": 2, "gpu": 0, "memory": "4Gi", "gpuMemory": "0Gi"}
    assert "ctmr_mediqa" in pkg_json["models"]
    assert "RUN pip install --no-cache-dir --user -r /tmp/requirements.txt" in dockerfile
    assert "holoscan-cu13==4.6.0" in dockerfile  # the Holoscan the SDK 4.0 runs on
    assert "COPY ./models  /opt/holoscan/models" in dockerfile
    # what stops it here is the container build, not the application, manifest or models
    assert "docker" in log[log.index("End Dockerfile") :].lower()
