"""``monai-fiqa batch``: archive-scale quality control on Ray Data (embedded Ray, or a cluster unchanged)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from monai_fiqa.api import BundleNotFoundError
    from monai_fiqa.batch.index import BatchInputError
    from monai_fiqa.batch.report import summary_table
    from monai_fiqa.batch.run import BatchOutputError, run_batch

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        summary = run_batch(
            args.input,
            models,
            args.out,
            address=args.address,
            cpus=args.cpus,
            actors=args.actors,
            batch_size=args.batch_size,
            maps=args.maps,
        )
    except (BatchInputError, BatchOutputError, BundleNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # before any work started: nothing to resume
        return 2
    print(summary_table(summary))
    print(f"results: {args.out}/shards/*.parquet; report: {args.out}/report.html")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``batch``."""
    p = sub.add_parser(
        "batch",
        help="assess a whole archive on Ray Data (resumable; Parquet shards and report.html)",
        description="Exit 0 when every assessable item was assessed (bad items are error rows in the shards); "
        "2 when the input, the output folder or a model is unusable (nothing was done).",
    )
    p.add_argument("input", help="folder (walked lazily), or CSV/Parquet manifest with a 'path' column (fsspec URL ok)")
    p.add_argument("--models", required=True, help="comma-separated bundle names, e.g. fundus_efiqa,ctmr_mediqa")
    p.add_argument("--out", required=True, help="results folder; rerun with the same OUT to finish an interrupted run")
    p.add_argument("--address", help="Ray cluster address (default $RAY_ADDRESS, else an embedded local Ray)")
    p.add_argument("--cpus", type=int, help="CPUs of the embedded Ray (default: all)")
    p.add_argument("--actors", type=int, help="model actors (default: one per CPU)")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="items per actor call and per shard (8)")
    p.add_argument("--maps", action="store_true", help="also save quality-map PNGs under OUT/maps")
    p.set_defaults(func=_run)
