"""``bundle export|install|check`` and ``interpolate-weights``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def _bundle(args: argparse.Namespace) -> int:
    if args.action == "export":
        from monai_fiqa.bundle_dist import export_bundle

        for name in args.names:
            e = export_bundle(name, args.out)
            print(f"{e['name']} v{e['version']}: {Path(args.out) / e['source']} sha256 {e['sha256']}")
        return 0
    if args.action == "lock":
        from monai_fiqa.api import resolve_bundle
        from monai_fiqa.bundle_dist import write_large_files

        for name in args.names:
            folder = resolve_bundle(name)
            if folder is None:
                print(f"error: no bundle named {name!r}", file=sys.stderr)
                return 1
            print(f"wrote {write_large_files(folder)}")
        return 0
    if args.action == "install":
        from monai_fiqa.bundle_dist import BundleInstallError, install_bundle

        try:
            for name in args.names:
                print(f"installed {name} in {install_bundle(name, args.source, args.version, args.root)}")
        except BundleInstallError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    from monai_fiqa.api import BundleNotFoundError, bundle_folders, resolve_bundle
    from monai_fiqa.bundle_checks import check_bundle

    failed = 0
    for name in args.names or sorted(bundle_folders()):
        try:  # checking runs the bundle's config: only bundles from trusted roots
            folder = resolve_bundle(name)
        except BundleNotFoundError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        problems = check_bundle(folder) if folder is not None else [f"no bundle named {name!r} on the search path"]
        failed += bool(problems)
        print(f"{name}: {'ok' if not problems else '; '.join(problems)}")
    return 1 if failed else 0


def _interpolate_weights(args: argparse.Namespace) -> int:
    from monai_fiqa.engine.weight_average import interpolate_checkpoints

    out = interpolate_checkpoints(args.base, args.finetuned, args.alpha, args.out)
    print(f"wrote {out}: {1 - args.alpha:g} x {args.base} + {args.alpha:g} x {args.finetuned}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bundle`` and ``interpolate-weights``."""
    bu = sub.add_parser(
        "bundle", help="export (model-zoo zip + model_info.json), install, check, or lock (large_files.yml hashes)"
    )
    bu.add_argument("action", choices=["export", "install", "check", "lock"])
    bu.add_argument("names", nargs="*", help="bundle names (check: default all)")
    bu.add_argument("--out", default="dist/bundles", help="export: output folder")
    bu.add_argument("--source", help="install: folder or URL holding model_info.json and the zips")
    bu.add_argument("--version", help="install: a specific version (default: newest)")
    bu.add_argument("--root", help="install: destination (default ~/.cache/monai_fiqa/bundles)")
    bu.set_defaults(func=_bundle)
    w = sub.add_parser("interpolate-weights", help="(1 - alpha) x base + alpha x fine-tuned weights (WiSE-FT)")
    w.add_argument("base", help="state dict the fine-tuning started from")
    w.add_argument("finetuned", help="state dict after fine-tuning")
    w.add_argument("--alpha", type=float, required=True, help="share of the fine-tuned weights, 0-1")
    w.add_argument("--out", required=True, help="output state dict")
    w.set_defaults(func=_interpolate_weights)
