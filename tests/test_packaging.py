"""The install is lean: every core dependency is used by the package, and scoring needs no synthesis-only package."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
# distribution name -> module name where they differ
MODULE = {
    "scikit-image": "skimage",
    "pillow": "PIL",
    "pydicom": "pydicom",
    "pyyaml": "yaml",
    "pytorch-ignite": "ignite",
}
# needed at run time without being imported by us: MONAI's bundle CLI (`python -m monai.bundle run`) imports fire;
# pydicom finds the pixel-data decoders as plugins (tests/test_io_transfer_syntaxes.py exercises each)
RUNTIME_ONLY = {"fire", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle"}


def _dependencies() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0] for d in project["dependencies"]]


def test_every_core_dependency_is_imported_by_the_package():
    sources = "\n".join(p.read_text() for p in (REPO / "monai_fiqa").rglob("*.py"))
    for dist in _dependencies():
        if dist in RUNTIME_ONLY:
            continue
        module = MODULE.get(dist, dist.replace("-", "_"))
        assert re.search(rf"^\s*(import|from) {re.escape(module)}\b", sources, re.M), f"{dist} is never imported"


def test_scoring_modules_import_no_synthesis_only_package():
    code = (
        "import sys, monai_fiqa.mediqa.assessor, monai_fiqa.fthnet.assessor, monai_fiqa.efiqa.assessor; "
        "print(sorted(m for m in ('torchio',) if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
