"""The public entry point: ``monai_fiqa.load(name).assess(path_or_array)``.

Why bundles behind ``load``: every shipped model is a MONAI bundle (config + weights + docs) so the same artefact
serves MONAI's bundle runner, the Deploy app, MONAI Label and this API.  ``load`` finds the bundle by name on a
search path, parses its ``configs/inference.json`` with MONAI's ``ConfigParser`` and instantiates the ``assessor``
object it defines - anything with an ``assess(x) -> QualityResult`` method - on the requested device.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from monai_fiqa.results import QualityResult

__all__ = [
    "FAMILY_BUNDLES",
    "KNOWN_BUNDLES",
    "Assessor",
    "BundleNotFoundError",
    "QualityResult",
    "available_bundles",
    "bundle_folders",
    "bundle_search_path",
    "has_weights",
    "load",
]

# The shipped bundles per image family, in the order a family's default is picked (first with weights wins).
FAMILY_BUNDLES = {"fundus": ("fundus_fthnet", "fundus_efiqa"), "ctmr": ("ctmr_mediqa",)}
KNOWN_BUNDLES = tuple(b for bundles in FAMILY_BUNDLES.values() for b in bundles)
BUNDLE_PATH_ENV = "MONAI_FIQA_BUNDLE_PATH"


class Assessor(Protocol):
    """What a bundle's ``assessor`` must provide."""

    def assess(self, x: str | os.PathLike | np.ndarray) -> QualityResult: ...


class BundleNotFoundError(LookupError):
    """No bundle of that name is installed."""


def bundle_search_path() -> list[Path]:
    """Where bundles are looked for, first match wins.

    1. every folder in ``$MONAI_FIQA_BUNDLE_PATH`` (``os.pathsep``-separated);
    2. ``~/.cache/monai_fiqa/bundles`` (where ``monai-fiqa bundle install`` puts them);
    3. the ``bundles/`` folder of a source checkout.
    """
    paths = [Path(p) for p in os.environ.get(BUNDLE_PATH_ENV, "").split(os.pathsep) if p]
    paths.append(Path.home() / ".cache" / "monai_fiqa" / "bundles")
    paths.append(Path(__file__).resolve().parent.parent / "bundles")
    return paths


def bundle_folders() -> dict[str, Path]:
    """Every bundle folder on the search path by name (first match wins), with or without weights."""
    found: dict[str, Path] = {}
    for root in bundle_search_path():
        if root.is_dir():
            for cfg in sorted(root.glob("*/configs/inference.json")):
                found.setdefault(cfg.parent.parent.name, cfg.parent.parent)
    return found


def has_weights(folder: Path) -> bool:
    """Whether a bundle folder holds trained weights (``models/model.*``)."""
    return any((folder / "models").glob("model.*"))


def available_bundles() -> dict[str, Path]:
    """Usable bundles by name: folders holding ``configs/inference.json`` and trained weights ``models/model.*``."""
    return {name: folder for name, folder in bundle_folders().items() if has_weights(folder)}


def load(name: str, device: str = "cpu", **overrides: Any) -> Assessor:
    """Load a quality model bundle by name.

    Args:
        name: bundle name, e.g. ``"fundus_fthnet"``, ``"fundus_efiqa"``, ``"ctmr_mediqa"``, or a bundle folder path.
        device: torch device string; CPU by default.
        overrides: config overrides passed to MONAI's ``ConfigParser`` (e.g. ``tta=False``; ``checkpoint=PATH``
            scores with other weights, e.g. a training run's, also in a bundle that ships none yet).

    Returns:
        The bundle's assessor.

    Raises:
        BundleNotFoundError: no such bundle; the message names the installed and the known bundles.
    """
    bundles = available_bundles()
    folder = Path(name) if Path(name).is_dir() else bundle_folders().get(name)
    own_weights = "checkpoint" in overrides  # e.g. a training run's best_model.pt evaluated before it ships
    if folder is not None and (folder / "configs").is_dir() and not has_weights(folder) and not own_weights:
        raise BundleNotFoundError(
            f"bundle {name!r} at {folder} has no trained weights (models/model.pt); see its docs/README.md for the "
            "training command, or install a released bundle"
        )
    if folder is None or not (folder / "configs" / "inference.json").is_file():
        installed = ", ".join(sorted(bundles)) or "none"
        raise BundleNotFoundError(
            f"no bundle named {name!r}. Installed: {installed}. Known bundles: {', '.join(KNOWN_BUNDLES)}. "
            f"Search path: {', '.join(str(p) for p in bundle_search_path())}"
        )
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "inference.json"))
    parser.update({"bundle_root": str(folder), "device": device, **overrides})
    if "assessor" not in parser.config:
        raise BundleNotFoundError(f"bundle {folder} has no 'assessor' in configs/inference.json")
    return parser.get_parsed_content("assessor")
