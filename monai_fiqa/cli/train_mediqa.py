"""``monai-fiqa train mediqa``: MedIQA's two stages on ``synth-ctmr`` folders, or fine-tuning on expert scores."""

from __future__ import annotations

import argparse
from dataclasses import replace

from monai_fiqa.cli._common import add_run_options, given

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from monai_fiqa.mediqa.train import MEDIQA_RECIPE, train_mediqa

    overrides = given(
        args, "model", "batch_size", "steps", "lr", "seed", "warmup_steps", "val_every", "group_size", "rank_weight"
    )
    cfg = replace(MEDIQA_RECIPE, **overrides, keep_val_weights=args.keep_val_weights)
    hist = train_mediqa(
        args.out, cfg, args.stage, args.data, args.csv, args.val_data, args.resume, args.max_minutes, args.init
    )
    if hist["val"]:
        print(f"best val {args.stage} SRCC {max(v['srcc'] for v in hist['val']):.4f}; checkpoints in {args.out}")
    return 0


def register(families: argparse._SubParsersAction) -> None:
    """Add ``train mediqa``; unset options take the recipe's values (``monai_fiqa.mediqa.train.MEDIQA_RECIPE``)."""
    p = families.add_parser("mediqa", help="MedIQA: upstream (physical parameters) or downstream (scores)")
    p.add_argument("--stage", choices=["upstream", "downstream"], required=True)
    p.add_argument("--data", nargs="*", default=[], help="synth-ctmr folders")
    p.add_argument("--csv", help="expert scores: path, score[, modality, anatomy] (downstream fine-tuning)")
    p.add_argument("--val-data", help="a synth-ctmr folder for model selection")
    add_run_options(p)
    p.add_argument("--model", help="registry name (mediqa, mediqa_tiny, mediqa_maniqa)")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--warmup", dest="warmup_steps", type=int, help="linear warm-up steps")
    p.add_argument("--val-every", dest="val_every", type=int)
    p.add_argument("--keep-val-weights", dest="keep_val_weights", action="store_true", help="keep val_step{N}.pt")
    p.add_argument("--init", help="weights to start from (the upstream stage's, or a bundle's)")
    p.add_argument(
        "--group-size", dest="group_size", type=int, help="rungs of one ladder per batch (synth-ctmr --ladder-rungs)"
    )
    p.add_argument("--rank-weight", dest="rank_weight", type=float, help="weight of the ladder ranking loss")
    p.set_defaults(func=_run)
