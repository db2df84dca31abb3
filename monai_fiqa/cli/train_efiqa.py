"""``monai-fiqa train efiqa``: the EFIQA stages (no quality labels): vessels, inpainter, mim/mae, adapter."""

from __future__ import annotations

import argparse
import sys

from monai_fiqa.cli._common import add_run_options, given

__all__ = ["register"]

# options that belong to one stage only: given with another stage they are an error, not ignored
_STAGE_ONLY = {
    "init": "inpainter",
    "corrupt": "inpainter",
    "backbone": "adapter",
    "detail": "adapter",
    "val_npz": "adapter",
}


def _run(args: argparse.Namespace) -> int:
    from monai_fiqa.efiqa import train as efiqa_train

    stages = {
        "vessels": efiqa_train.train_vessel_segmenter,  # --data DRIVE_ROOT
        "inpainter": efiqa_train.train_inpainter,  # --data vessel_maps.npz
        "mae": efiqa_train.pretrain_mae,  # --data adapter_set.npz
        "mim": efiqa_train.pretrain_mim,  # --data adapter_set.npz
        "adapter": efiqa_train.train_adapter,  # --data adapter_set.npz ENCODER_CHECKPOINT
    }
    options = given(args, "steps", "batch_size", "lr", *_STAGE_ONLY)
    wrong = [k for k in options if _STAGE_ONLY.get(k, args.stage) != args.stage]
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        print(f"error: {flags} do(es) not apply to efiqa stage {args.stage}", file=sys.stderr)
        return 2
    run = stages[args.stage]
    hist = run(*args.data, out=args.out, resume=args.resume, max_minutes=args.max_minutes, **options)
    if hist["val"]:
        print(f"last validation: {hist['val'][-1]}; checkpoints in {args.out}")
    return 0


def register(families: argparse._SubParsersAction) -> None:
    """Add ``train efiqa``; unset options take each stage function's own defaults."""
    p = families.add_parser("efiqa", help="EFIQA stages: vessels | inpainter | mim | mae | adapter")
    p.add_argument("--stage", choices=["vessels", "inpainter", "mae", "mim", "adapter"], required=True)
    p.add_argument("--data", nargs="+", required=True, help="the stage's inputs (see the bundle docs)")
    add_run_options(p)
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--init", help="inpainter: weights to start from")
    p.add_argument("--corrupt-context", dest="corrupt", type=float, help="inpainter: share with degraded context")
    p.add_argument("--backbone", choices=["conv", "mae"], help="adapter: the pre-trained encoder's kind")
    p.add_argument(
        "--detail", action=argparse.BooleanOptionalAction, default=None, help="adapter: append the detail statistics"
    )
    p.add_argument("--val-data", dest="val_npz", help="adapter: an adapter set of held-out eyes")
    p.set_defaults(func=_run)
