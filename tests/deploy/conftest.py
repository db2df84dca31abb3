"""Fixtures for the Deploy app tests: the sample study (with and without bad inputs) and a fundus test bundle.

Why a test fundus bundle: no trained fundus bundle ships yet, and the end-to-end test must show that a fundus
photograph is routed to a fundus model and gets its SR/SEG/SC.  The fixture copies ``bundles/fundus_fthnet``'s configs
with the *tiny* FTHNet (randomly initialised, saved as ``models/model.pt``) into a temporary bundle folder put first
on ``MONAI_FIQA_BUNDLE_PATH``: it tests the routing and the writers, never a score's value.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
import torch

from monai_fiqa.api import BUNDLE_PATH_ENV
from monai_fiqa.deploy.sample_study import make_sample_study
from monai_fiqa.registry import create_model, model_info
from tests.helpers import missing_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fundus_test_bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a ``fundus_fthnet`` bundle with the tiny network and random weights."""
    root = tmp_path_factory.mktemp("bundles")
    bundle = root / "fundus_fthnet"
    shutil.copytree(REPO / "bundles" / "fundus_fthnet" / "configs", bundle / "configs")
    cfg = json.loads((bundle / "configs" / "inference.json").read_text())
    cfg["img_size"] = 64
    tiny = model_info("fthnet_tiny").defaults
    cfg["network_def"] |= {k: list(v) if isinstance(v, tuple) else v for k, v in tiny.items() if k != "img_size"}
    (bundle / "configs" / "inference.json").write_text(json.dumps(cfg, indent=2))
    (bundle / "models").mkdir()
    torch.manual_seed(0)
    kinds = tuple(cfg["network_def"]["severity_kinds"])  # the shipped config's severity head, on the tiny network
    detail = cfg["network_def"].get("detail_sigma", 0.0)  # the shipped input channels (RGB, or RGB + detail band)
    heads = {"degradation_map": cfg["network_def"].get("degradation_map", False)}  # and the map head, if shipped
    model = create_model("fthnet_tiny", severity_kinds=kinds, detail_sigma=detail, **heads)
    torch.save(model.state_dict(), bundle / "models" / "model.pt")
    return root


@pytest.fixture()
def app_env(fundus_test_bundles: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the app: the test fundus bundle first, then the repository's bundles."""
    monkeypatch.setenv(BUNDLE_PATH_ENV, str(fundus_test_bundles))
    return dict(os.environ)


@pytest.fixture(scope="session")
def sample_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("study")
    make_sample_study(root)
    return root


@pytest.fixture(scope="session")
def messy_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample study's MR series plus a truncated DICOM, an ECG waveform, an SR and a text file."""
    root = tmp_path_factory.mktemp("messy")
    parts = make_sample_study(root, with_bad_inputs=True)
    shutil.rmtree(parts["ct"])
    parts["fundus"].unlink()
    return root


def run_app(study: Path, out: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m app_packages.fiqa_app -i study -o out`` from the repository root, as a user runs it."""
    cmd = [sys.executable, "-m", "app_packages.fiqa_app", "-i", str(study), "-o", str(out)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy (Debian dicom3tools) prints for a file."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        missing_environment("dciodvfy not installed: `make test` installs Debian's dicom3tools")
    out = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]


def sr_values(sr: pydicom.Dataset) -> dict[str, object]:
    """An SR's content tree flattened to {concept meaning: number, coded meaning or text} (first occurrence)."""
    found: dict[str, object] = {}

    def walk(items: pydicom.Sequence) -> None:
        for it in items:
            name = it.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in it else ""
            if it.ValueType == "NUM":
                found.setdefault(name, float(it.MeasuredValueSequence[0].NumericValue))
            elif it.ValueType == "CODE":
                found.setdefault(name, it.ConceptCodeSequence[0].CodeMeaning)
            elif it.ValueType == "TEXT":
                found.setdefault(name, it.TextValue)
            if "ContentSequence" in it:
                walk(it.ContentSequence)

    walk(sr.ContentSequence)
    return found
