"""Publish and install bundles the way MONAI's model zoo does: a zip per version, a checksum, a ``model_info.json``.

``export_bundle`` writes ``<name>_v<version>.zip`` (the bundle folder at the zip's top level, as
``monai.bundle.download(url=...)`` expects), its SHA-256 and an index entry merged into ``model_info.json``.
``install_bundle`` reads that index from a folder or URL, downloads the zip with MONAI's ``download_url`` (which
verifies the SHA-256 before the file lands), extracts it into a temporary folder beside the destination, checks
it is a usable bundle, and only then moves it into place - a bad checksum or a truncated download leaves nothing
behind and the previously installed version untouched.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urljoin
from urllib.request import urlopen

from monai_fiqa.api import LARGE_FILES, bundle_folders, file_sha256, has_weights

__all__ = ["BundleInstallError", "default_install_root", "export_bundle", "install_bundle"]

_EXCLUDE = {"eval", "runs", "__pycache__"}  # run outputs that may sit in a source bundle folder


class BundleInstallError(RuntimeError):
    """A bundle could not be installed; the message says why and nothing was changed."""


def default_install_root() -> Path:
    """Where installed bundles go: ``~/.cache/monai_fiqa/bundles`` (on ``monai_fiqa.load``'s search path)."""
    return Path.home() / ".cache" / "monai_fiqa" / "bundles"


def _resolve(name: str) -> Path:
    folder = Path(name) if Path(name).is_dir() else bundle_folders().get(name)
    if folder is None or not (folder / "configs" / "metadata.json").is_file():
        raise FileNotFoundError(f"no bundle {name!r} with configs/metadata.json")
    return folder


def export_bundle(name: str, out: str | Path) -> dict[str, str]:
    """Zip a bundle (by name or folder) into ``out`` and add its entry to ``out/model_info.json``.

    Returns:
        The index entry: ``{"name", "version", "source" (zip file name), "sha256"}``.
    """
    folder = _resolve(name)
    bundle = folder.name
    version = json.loads((folder / "configs" / "metadata.json").read_text())["version"]
    if not has_weights(folder):
        raise FileNotFoundError(f"bundle {bundle!r} has no trained weights (models/model.*): nothing to publish")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{bundle}_v{version}.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            rel = f.relative_to(folder)
            if f.is_file() and not (set(rel.parts) & _EXCLUDE):
                zf.write(f, Path(bundle) / rel)
    entry = {"name": bundle, "version": version, "source": zip_path.name, "sha256": file_sha256(zip_path)}
    index_path = out / "model_info.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index[f"{bundle}_v{version}"] = entry
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True))
    return entry


def _read_index(source: str) -> tuple[dict, str]:
    """``model_info.json`` from a folder, a URL of that file, or a URL of its folder; returns it and its base URL."""
    if Path(source).is_dir():
        base, index_url = Path(source).resolve().as_uri() + "/", Path(source).resolve().as_uri() + "/model_info.json"
    elif source.endswith(".json"):
        base, index_url = source.rsplit("/", 1)[0] + "/", source
    else:
        base = source if source.endswith("/") else source + "/"
        index_url = base + "model_info.json"
    try:
        with urlopen(index_url, timeout=30) as resp:  # noqa: S310 - http(s)/file URLs chosen by the user
            return json.loads(resp.read()), base
    except (OSError, ValueError) as exc:
        raise BundleInstallError(f"cannot read the bundle index {index_url}: {exc}") from exc


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))


def install_bundle(name: str, source: str | Path, version: str | None = None, root: str | Path | None = None) -> Path:
    """Download, verify and install a bundle; returns its installed folder.

    Args:
        name: bundle name, e.g. ``"fundus_efiqa"``.
        source: a folder or URL (http, https, file) holding ``model_info.json`` and the zips.
        version: a specific version (default: the newest in the index).
        root: install root (default: :func:`default_install_root`).

    Raises:
        BundleInstallError: unknown name/version, unreachable source, checksum mismatch, truncated or malformed zip,
            or a zip that is not a usable bundle.  Nothing is changed on failure.
    """
    from monai.apps.utils import download_url

    index, base = _read_index(str(source))
    entries = [e for e in index.values() if e.get("name") == name and (version is None or e["version"] == version)]
    if not entries:
        have = ", ".join(sorted(index)) or "none"
        raise BundleInstallError(f"no bundle {name!r}{f' v{version}' if version else ''} in {base} (has: {have})")
    entry = max(entries, key=lambda e: _version_key(e["version"]))
    root = Path(root) if root is not None else default_install_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as tmp:
        zip_path = Path(tmp) / entry["source"]
        try:
            download_url(urljoin(base, entry["source"]), zip_path, hash_val=entry["sha256"], progress=False)
        except Exception as exc:  # HashCheckError, URLError, ContentTooShortError, ...
            raise BundleInstallError(f"download of {name} v{entry['version']} failed: {exc}") from exc
        staged = Path(tmp) / "extracted"
        try:
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(staged)
        except zipfile.BadZipFile as exc:
            raise BundleInstallError(f"{entry['source']} is not a valid zip: {exc}") from exc
        folder = staged / name
        if not (folder / "configs" / "inference.json").is_file() or not has_weights(folder):
            raise BundleInstallError(f"{entry['source']} does not hold a bundle {name}/ with configs and weights")
        dest = root / name
        old = Path(tmp) / "previous"
        if dest.exists():
            dest.replace(old)  # same filesystem: atomic; restored below if the final move fails
        try:
            folder.replace(dest)
        except OSError:
            if old.exists():
                old.replace(dest)
            raise
    return dest


def write_large_files(folder: str | Path) -> Path:
    """Write ``large_files.yml`` (model-zoo format) listing every weight file under ``models/`` with its SHA-256.

    The weights ship inside the bundle (and its exported zip), so ``url`` is empty; the hashes are what
    :func:`monai_fiqa.api.verify_large_files` checks before a bundle is loaded.
    """
    import yaml

    root = Path(folder)
    entries = [
        {"path": str(p.relative_to(root)), "url": "", "hash_val": file_sha256(p), "hash_type": "sha256"}
        for p in sorted((root / "models").glob("*"))
        if p.is_file()
    ]
    out = root / LARGE_FILES
    out.write_text(yaml.safe_dump({"large_files": entries}, sort_keys=False))
    return out
