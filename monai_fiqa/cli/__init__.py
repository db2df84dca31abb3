"""Command line ``monai-fiqa``: one module per group of sub-commands, each registering its own parser.

``assess``/``evaluate``/``demo`` (:mod:`.assess`), ``synth``/``synth-ctmr``/``fetch-public-mr``/``efiqa-data``/
``sample-study`` (:mod:`.data`), ``train fthnet|efiqa|mediqa`` (:mod:`.train_fthnet`, :mod:`.train_efiqa`,
:mod:`.train_mediqa`: each family has only the options its recipe uses, so argparse refuses the others),
``bundle``/``interpolate-weights`` (:mod:`.bundle`), ``batch`` (:mod:`.batch`: archives on Ray Data).
Heavy imports happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from monai_fiqa.cli import assess, batch, bundle, data, train_efiqa, train_fthnet, train_mediqa

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``monai-fiqa`` parser."""
    p = argparse.ArgumentParser(prog="monai-fiqa", description="Medical image quality assessment for MONAI")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (data, assess, batch, bundle):
        module.register(sub)
    t = sub.add_parser("train", help="train a model (one sub-command per model family)")
    families = t.add_subparsers(dest="family", required=True)
    for module in (train_fthnet, train_mediqa, train_efiqa):
        module.register(families)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``monai-fiqa`` with ``argv`` (default: the process arguments); returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
