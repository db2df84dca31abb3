"""Model-zoo style checks of a bundle, each by MONAI's own tool where one exists: files; metadata against the
schema (``verify_metadata``, offline: :data:`METADATA_SCHEMA`); the standard workflows (``create_workflow`` +
``check_properties`` for ``inference.json`` and ``train.json``); ``network_data_format`` against the real network
(``verify_net_in_out``); TorchScript export (``ckpt_export``) and TorchScript-vs-eager agreement; and
``train.json`` run for two steps on the tiny set its ``smoke_data`` writes.

``check_bundle`` returns the list of problems (empty = the bundle passes); ``monai-fiqa bundle check`` prints them
for every bundle.  A bundle without trained weights is checked with its network's initial weights (so its
configuration is verified all the same) and gets one problem saying it has none.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from monai_fiqa.api import LARGE_FILES, BundleIntegrityError, verify_large_files
from monai_fiqa.engine.checkpoints import load_weights

__all__ = ["METADATA_SCHEMA", "REQUIRED_FILES", "check_bundle", "workflow_problems"]

REQUIRED_FILES = ("configs/metadata.json", "configs/inference.json", "docs/README.md", "LICENSE")
METADATA_SCHEMA = Path(__file__).with_name("bundle_metadata_schema.json")
SMOKE_STEPS = 2


def _changelog_problems(meta: dict) -> list[str]:
    """What the schema cannot say: the current version has its changelog entry."""
    if meta["version"] not in meta["changelog"]:
        return [f"changelog has no entry for version {meta['version']}"]
    return []


def _expected_output(spec: dict) -> set[tuple[int, ...]]:
    shape = tuple(int(s) for s in spec["spatial_shape"])
    shapes = {(1, int(spec["num_channels"]), *shape)}
    if shape == (1,):  # a score: (1, C) is the same thing
        shapes.add((1, int(spec["num_channels"])))
    return shapes


def _large_files_problems(folder: Path) -> list[str]:
    """Weights must be listed with their hashes (``monai-fiqa bundle lock NAME`` writes the list) and match them."""
    if not (folder / "models").is_dir() or not any((folder / "models").iterdir()):
        return []
    if not (folder / LARGE_FILES).is_file():
        return [f"no {LARGE_FILES} with the weights' hashes (monai-fiqa bundle lock {folder.name})"]
    try:
        verify_large_files(folder)
    except BundleIntegrityError as exc:
        return [str(exc)]
    return []


def _schema_problems(folder: Path) -> list[str]:
    """MONAI's ``verify_metadata`` against the offline schema (the file exists, so nothing is downloaded)."""
    from monai.bundle import verify_metadata

    try:
        verify_metadata(meta_file=str(folder / "configs" / "metadata.json"), filepath=str(METADATA_SCHEMA))
    except ValueError as exc:
        return [f"verify_metadata: {str(exc).splitlines()[0][:300]}"]
    return []


def _create_workflow(folder: Path, workflow_type: str, config: str | list[str], **overrides: object) -> Any:
    from monai.bundle import create_workflow

    files = [config] if isinstance(config, str) else config
    return create_workflow(
        config_file=[str(folder / "configs" / c) for c in files],
        workflow_type=workflow_type,
        bundle_root=str(folder),
        meta_file=str(folder / "configs" / "metadata.json"),
        logging_file=False,
        **overrides,
    )


def workflow_problems(
    folder: str | Path, workflow_type: str, config: str | list[str], **overrides: object
) -> list[str]:
    """``create_workflow`` of ``configs/<config>`` (a list: stacked, later files override) and its
    ``check_properties()``: each required key it lacks."""
    name = config if isinstance(config, str) else " + ".join(config)
    try:
        wf = _create_workflow(Path(folder), workflow_type, config, **overrides)
        missing = wf.check_properties() or []
    except Exception as exc:  # MONAI raises KeyError/ValueError/RuntimeError naming the key or component
        return [f"{name}: create_workflow({workflow_type!r}) failed: {type(exc).__name__}: {exc}"[:400]]
    return [f"{name}: required property {m!r} is missing" for m in missing]


def _train_problems(folder: Path) -> list[str]:
    """``train.json`` on the tiny set its ``smoke_data`` writes: ``check_properties()``, then :data:`SMOKE_STEPS`
    training steps (its datasets need data, so both run on that set)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "train.json"))
    if "smoke_data" not in parser.config:  # what can be checked without data, and why the run cannot be
        return workflow_problems(folder, "train", "train.json") + [
            "train.json: no 'smoke_data' (a function writing a tiny training set in its dataset_dir layout)"
        ]
    parser["bundle_root"] = str(folder)
    with tempfile.TemporaryDirectory() as tmp:
        data, run = Path(tmp) / "data", Path(tmp) / "run"
        overrides = {"dataset_dir": str(data), "output_dir": str(run)}
        try:
            if "imports" in parser.config:  # the modules its expressions name (shared parser globals)
                parser.get_parsed_content("imports")
            data.mkdir()
            parser.get_parsed_content("smoke_data")(str(data))
        except Exception as exc:
            return [f"train.json: smoke_data failed: {type(exc).__name__}: {exc}"[:400]]
        problems = workflow_problems(folder, "train", "train.json", **overrides)
        if problems:
            return problems
        try:
            smoke = {"train_config#batch_size": 2, "train#trainer#max_steps": SMOKE_STEPS}
            if "group_size" in parser.config.get("train_config", {}):  # ranking groups must fit the smoke batch
                smoke["train_config#group_size"] = 2
            wf = _create_workflow(folder, "train", "train.json", **overrides, **smoke)
            wf.run()
            wf.finalize()
            step = int(torch.load(run / "last.pt", map_location="cpu", weights_only=True)["step"])
        except Exception as exc:
            return [f"train.json: the {SMOKE_STEPS}-step run failed: {type(exc).__name__}: {exc}"[:400]]
    if step != SMOKE_STEPS:
        return [f"train.json: the smoke run stopped at step {step}, not {SMOKE_STEPS}"]
    return []


def check_bundle(folder: str | Path, train: bool = True) -> list[str]:
    """All problems found in the bundle at ``folder`` (empty list: it passes).

    ``train``: also check ``train.json`` (its workflow properties and a two-step run); a bundle without one is
    reported.
    """
    from monai.bundle import ConfigParser, ckpt_export, verify_net_in_out

    folder = Path(folder)
    problems = [f"missing {f}" for f in REQUIRED_FILES if not (folder / f).is_file()]
    if problems:
        return problems
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    problems += _schema_problems(folder)  # required keys and tensor formats (network_data_format image -> pred)
    problems += (_changelog_problems(meta) if not problems else []) + _large_files_problems(folder)
    if problems:
        return problems
    problems += workflow_problems(folder, "infer", "inference.json")
    if (folder / "configs" / "evaluate.json").is_file():  # stacked on inference.json: metrics on a labelled CSV
        problems += workflow_problems(folder, "eval", ["inference.json", "evaluate.json"])
    if train:
        if not (folder / "configs" / "train.json").is_file():
            problems.append("missing configs/train.json")
        else:
            problems += _train_problems(folder)
    cfg = [str(folder / "configs" / "inference.json")]
    parser = ConfigParser()
    parser.read_config(cfg[0])
    parser["bundle_root"] = str(folder)
    net = parser.get_parsed_content("network_def")
    tmp_dir = tempfile.TemporaryDirectory()
    weights = folder / "models" / "model.pt"
    if weights.is_file():
        load_weights(net, weights)
    else:
        problems.append("no trained weights (models/model.pt)")
        weights = Path(tmp_dir.name) / "initial.pt"
        torch.save(net.state_dict(), weights)
    net.eval()
    spec_in = meta["network_data_format"]["inputs"]["image"]
    x = torch.rand(1, int(spec_in["num_channels"]), *(int(s) for s in spec_in["spatial_shape"]))
    with torch.no_grad():
        eager = net(x)
    expected = _expected_output(meta["network_data_format"]["outputs"]["pred"])
    if tuple(eager.shape) not in expected:
        problems.append(f"network output {tuple(eager.shape)} does not match network_data_format {sorted(expected)}")
    meta_file = str(folder / "configs" / "metadata.json")
    try:
        verify_net_in_out(net_id="network_def", meta_file=meta_file, config_file=cfg, bundle_root=str(folder))
    except Exception as exc:  # MONAI raises ValueError/RuntimeError/AssertionError with the mismatch
        problems.append(f"verify_net_in_out failed: {exc}")
    with tmp_dir as tmp:
        ts = Path(tmp) / "model.ts"
        try:
            ckpt_export(
                net_id="network_def",
                filepath=str(ts),
                meta_file=meta_file,
                config_file=cfg,
                ckpt_file=str(weights),
                bundle_root=str(folder),
                use_trace=True,
                input_shape=list(x.shape),
            )
            scripted = torch.jit.load(str(ts), map_location="cpu")
            with torch.no_grad():
                traced = scripted(x)
            if not torch.allclose(traced, eager, atol=1e-4, rtol=1e-4):
                gap = float((traced - eager).abs().max())
                problems.append(f"TorchScript and eager outputs differ (max {gap:.2e})")
        except Exception as exc:
            problems.append(f"ckpt_export to TorchScript failed: {exc}")
    return problems
