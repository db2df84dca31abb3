"""The named bad-input matrix through the real bundles: the API per case, then the CLI over all of them at once.

Every case ends in its documented error type with the reason, or in a flagged result (scored, out of
distribution, ``reject``, with the reason) - never a traceback, a hang or a silent score - and the good input in the
same CLI run is still assessed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import monai_fiqa

from .bad_inputs import PHOTOGRAPHS, VOLUMES, Case, good_photograph, good_volume


@pytest.fixture(scope="module")
def efiqa():
    return monai_fiqa.load("fundus_efiqa")


@pytest.fixture(scope="module")
def mediqa():
    return monai_fiqa.load("ctmr_mediqa")


def _check(case: Case, assess, folder: Path, **kwargs) -> None:
    item = case.build(folder)
    if case.flagged:
        result = assess(item, **kwargs)
        assert result.grade == "reject" and result.params["out_of_distribution"], result.params
        assert result.params["warnings"], "a flagged result says why"
        return
    with pytest.raises(case.error, match=case.match) as caught:
        assess(item, **kwargs)
    assert str(caught.value), "the error carries its reason"


def test_the_matrix_is_at_least_forty_named_cases():
    names = [c.name for c in PHOTOGRAPHS + VOLUMES]
    assert len(names) >= 38 and len(set(names)) == len(names)  # + the run conditions below: over 40


@pytest.mark.parametrize("case", PHOTOGRAPHS, ids=[c.name for c in PHOTOGRAPHS])
def test_photograph(case: Case, efiqa, tmp_path):
    _check(case, efiqa.assess, tmp_path)


@pytest.mark.parametrize("case", VOLUMES, ids=[c.name for c in VOLUMES])
def test_volume(case: Case, mediqa, tmp_path):
    _check(case, mediqa.assess, tmp_path, **({"prompt": {"modality": "MR"}}))


def _cli_over(cases: list[Case], good: Path, model: str, folder: Path) -> tuple[dict, str]:
    paths = [str(good)]
    for n, case in enumerate(cases):
        sub = folder / f"case{n}"
        sub.mkdir()
        item = case.build(sub)
        if isinstance(item, Path):
            paths.append(str(item))
    out = folder / "results.json"
    cmd = [sys.executable, "-m", "monai_fiqa.cli", "assess", *paths, "--model", model, "--json", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr[-2000:]  # some inputs failed: documented exit status 1, not a crash
    assert "Traceback" not in run.stderr + run.stdout
    return json.loads(out.read_text()), paths[0]


@pytest.mark.slow
def test_cli_run_goes_on_past_every_bad_photograph(tmp_path):
    results, good = _cli_over(PHOTOGRAPHS, good_photograph(tmp_path), "fundus_efiqa", tmp_path)
    assert results[good]["grade"] in ("good", "usable")
    for path, r in results.items():
        assert "error" in r or r["grade"] in ("good", "usable", "reject"), path
        if "error" not in r and path != good:
            assert r["params"]["out_of_distribution"] and r["grade"] == "reject", path  # flagged, never scored


@pytest.mark.slow
def test_cli_run_goes_on_past_every_bad_volume(tmp_path):
    results, good = _cli_over(VOLUMES, good_volume(tmp_path), "ctmr_mediqa", tmp_path)
    assert 0 <= results[good]["score"] <= 100
    assert all("error" in r for path, r in results.items() if path != good)


# ---- run conditions ---------------------------------------------------------------------------------------------


def test_unknown_model_is_exit_2_with_the_known_names(tmp_path, capsys):
    from monai_fiqa.cli import main

    assert main(["assess", str(good_photograph(tmp_path)), "--model", "no_such"]) == 2
    assert "Known bundles" in capsys.readouterr().err


def test_hostile_bundle_in_the_working_directory_is_not_run(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "fundus_efiqa" / "configs"
    hostile.mkdir(parents=True)
    (hostile / "inference.json").write_text(json.dumps({"assessor": f"$open('{marker}', 'w').write('x')"}))
    (tmp_path / "fundus_efiqa" / "models").mkdir()
    (tmp_path / "fundus_efiqa" / "models" / "model.pt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    monai_fiqa.load("fundus_efiqa")  # the shipped bundle, not the folder here
    assert not marker.exists()


def test_console_escapes_control_characters_in_paths(tmp_path, capsys):
    from monai_fiqa.cli import main

    evil = tmp_path / "a\nDONE 99.0 good\x1b[2J.jpg"
    evil.write_bytes(b"not an image")
    main(["assess", str(evil), "--model", "fundus_efiqa"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.count("\n") == 1  # one line per item, escapes shown, not obeyed


def test_array_inputs_state_and_check_their_axis_order(mediqa):
    volume = np.random.default_rng(0).uniform(0, 400, (64, 64, 5)).astype(np.float32)
    assert 0 <= mediqa.assess(volume, prompt={"modality": "CT"}).score <= 100  # (H, W, Z) is the stated order
    with pytest.raises(monai_fiqa.io.volumes.VolumeReadError, match=r"np.moveaxis"):
        mediqa.assess(np.moveaxis(volume, -1, 0), prompt={"modality": "CT"})
