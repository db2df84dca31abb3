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
    "BundleIntegrityError",
    "BundleNotFoundError",
    "UntrustedBundleError",
    "QualityResult",
    "available_bundles",
    "bundle_folders",
    "bundle_search_path",
    "bundle_version",
    "file_sha256",
    "has_weights",
    "resolve_bundle",
    "verify_large_files",
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


class UntrustedBundleError(BundleNotFoundError):
    """A bundle folder was named that is outside the trusted bundle roots (see :func:`bundle_search_path`)."""


def bundle_search_path() -> list[Path]:
    """Where bundles are looked for, first match wins - and the only places a bundle's config may come from.

    1. every folder in ``$MONAI_FIQA_BUNDLE_PATH`` (``os.pathsep``-separated);
    2. ``~/.cache/monai_fiqa/bundles`` (where ``monai-fiqa bundle install`` puts them);
    3. MONAI's bundle cache (``monai.bundle.download``'s default: ``torch.hub.get_dir()/bundle``);
    4. the ``bundles/`` folder of this package's source checkout.

    Never the working directory: a bundle config evaluates ``$`` expressions (Python), so a folder someone left
    in an extracted study or a shared folder must not be picked up by name.
    """
    from torch.hub import get_dir

    paths = [Path(p) for p in os.environ.get(BUNDLE_PATH_ENV, "").split(os.pathsep) if p]
    paths.append(Path.home() / ".cache" / "monai_fiqa" / "bundles")
    paths.append(Path(get_dir()) / "bundle")
    paths.append(Path(__file__).resolve().parent.parent / "bundles")
    return paths


def _trusted_folder(path: str) -> Path:
    """A bundle folder given as a path, accepted only inside a search-path root (whose configs we may run)."""
    folder = Path(path).expanduser().resolve()
    for root in bundle_search_path():
        if folder.is_relative_to(root.expanduser().resolve()):
            return folder
    raise UntrustedBundleError(
        f"bundle folder {folder} is not under a trusted bundle root "
        f"({', '.join(str(p) for p in bundle_search_path())}): its config would run code. Add its parent folder "
        f"to ${BUNDLE_PATH_ENV} to trust it."
    )


def _is_path(name: str) -> bool:
    return os.sep in name or bool(os.altsep and os.altsep in name) or name.startswith(".")


def resolve_bundle(name: str) -> Path | None:
    """The folder of a bundle named by name (search path) or by path (inside a trusted root); ``None`` if absent.

    Raises:
        UntrustedBundleError: a path outside the trusted roots.
    """
    return _trusted_folder(name) if _is_path(name) else bundle_folders().get(name)


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


def bundle_version(name: str) -> str:
    """The ``version`` in an installed bundle's ``configs/metadata.json`` (``"unknown"`` when it records none)."""
    import json

    folder = resolve_bundle(name)
    if folder is None:
        raise BundleNotFoundError(f"no bundle named {name!r}")
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    return str(meta.get("version", "unknown"))


class BundleIntegrityError(BundleNotFoundError):
    """A bundle's weight file does not have the hash its ``large_files.yml`` records."""


LARGE_FILES = "large_files.yml"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MB blocks."""
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_large_files(folder: Path) -> None:
    """Check every file ``large_files.yml`` lists (model-zoo format: ``path``, ``hash_val``, ``hash_type``).

    Why before the config is parsed: weights that are not the ones the bundle was released with (a truncated
    download, a swapped file) must not score patients.  A bundle without the file (e.g. a site's own) is not
    checked.

    Raises:
        BundleIntegrityError: a listed file is missing or its hash differs (expected and actual hash named).
    """
    listing = folder / LARGE_FILES
    if not listing.is_file():
        return
    import yaml

    for entry in (yaml.safe_load(listing.read_text()) or {}).get("large_files", []):
        path = folder / entry["path"]
        if str(entry.get("hash_type", "sha256")).lower() != "sha256":
            raise BundleIntegrityError(f"{listing}: unsupported hash type {entry.get('hash_type')!r}")
        if not path.is_file():
            raise BundleIntegrityError(f"{path}: listed in {LARGE_FILES} but missing")
        actual = file_sha256(path)
        if actual != entry["hash_val"]:
            raise BundleIntegrityError(
                f"{path}: sha256 {actual} does not match {entry['hash_val']} recorded in {LARGE_FILES}"
            )


def load(name: str, device: str = "cpu", **overrides: Any) -> Assessor:
    """Load a quality model bundle by name.

    Args:
        name: bundle name, e.g. ``"fundus_fthnet"``, ``"fundus_efiqa"``, ``"ctmr_mediqa"`` (looked up on the
            search path), or a path to a bundle folder inside one of its roots (``./x`` or ``dir/x``).
        device: torch device string; CPU by default.
        overrides: config overrides passed to MONAI's ``ConfigParser`` (e.g. ``tta=False``; ``checkpoint=PATH``
            scores with other weights, e.g. a training run's, also in a bundle that ships none yet).

    Returns:
        The bundle's assessor.

    Raises:
        BundleNotFoundError: no such bundle; the message names the installed and the known bundles.
        UntrustedBundleError: a bundle folder outside the trusted roots.
    """
    bundles = available_bundles()
    folder = resolve_bundle(name)
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
    if not own_weights:
        verify_large_files(folder)
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "inference.json"))
    parser.update({"bundle_root": str(folder), "device": device, **overrides})
    if "assessor" not in parser.config:
        raise BundleNotFoundError(f"bundle {folder} has no 'assessor' in configs/inference.json")
    return parser.get_parsed_content("assessor")
