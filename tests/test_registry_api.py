from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import monai_fiqa
from monai_fiqa.registry import ModelInfo, register_model


def test_import_is_light():
    code = "import sys, monai_fiqa; print('torch' in sys.modules, 'monai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_registry_create_list_and_errors():
    info = register_model(
        ModelInfo("test_linear", lambda width=4: torch.nn.Linear(3, width), family="test", input_size=(3,)),
        overwrite=True,
    )
    assert "test_linear" in monai_fiqa.list_models()
    assert monai_fiqa.list_models("test_*", family="test") == ["test_linear"]
    assert monai_fiqa.list_models(family="no-such-family") == []
    assert monai_fiqa.create_model("test_linear").out_features == 4
    assert monai_fiqa.create_model("test_linear", width=7).out_features == 7
    assert monai_fiqa.model_info("test_linear") is info
    with pytest.raises(ValueError, match="already registered"):
        register_model(info)
    with pytest.raises(KeyError, match="test_linear"):
        monai_fiqa.create_model("no_such_model")


def test_load_without_bundle_names_the_bundles(tmp_path, monkeypatch):
    monkeypatch.setenv("MONAI_FIQA_BUNDLE_PATH", str(tmp_path))
    with pytest.raises(monai_fiqa.BundleNotFoundError) as err:
        monai_fiqa.load("no_such_bundle")
    msg = str(err.value)
    for name in monai_fiqa.KNOWN_BUNDLES:
        assert name in msg


def test_load_instantiates_the_bundle_assessor(tmp_path, monkeypatch):
    bundle = tmp_path / "toy_bundle"
    (bundle / "configs").mkdir(parents=True)
    config = {
        "device": "cpu",
        "scale": 2.0,
        "assessor": {"_target_": "tests.helpers.MeanLevelAssessor", "device": "@device", "scale": "@scale"},
    }
    (bundle / "configs" / "inference.json").write_text(json.dumps(config))
    monkeypatch.setenv("MONAI_FIQA_BUNDLE_PATH", str(tmp_path))
    # configs without weights: not available, and loading says why
    assert "toy_bundle" not in monai_fiqa.available_bundles()
    with pytest.raises(monai_fiqa.BundleNotFoundError, match="no trained weights"):
        monai_fiqa.load("toy_bundle")
    (bundle / "models").mkdir()
    (bundle / "models" / "model.pt").write_bytes(b"")
    assert "toy_bundle" in monai_fiqa.available_bundles()
    assessor = monai_fiqa.load("toy_bundle")
    result = assessor.assess(np.full((8, 8, 3), 20, np.uint8))
    assert result.score == pytest.approx(40.0) and result.grade == "reject"
    assert result.quality_map.shape == (8, 8) and result.quality_map.dtype == np.float32
    assert monai_fiqa.load(str(bundle), scale=4.0).assess(np.full((8, 8, 3), 20, np.uint8)).score == 80.0
    assert set(result.to_dict()) == {"score", "grade", "params", "quality_map_shape"}
