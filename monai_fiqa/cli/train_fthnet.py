"""``monai-fiqa train fthnet``: FTHNet on quality-labelled CSVs (synth ``labels.csv``, FQS or EyeQ style)."""

from __future__ import annotations

import argparse
from dataclasses import fields

from monai_fiqa.cli._common import add_run_options

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from monai_fiqa.engine import TrainConfig
    from monai_fiqa.fthnet.recipe import train_from_csvs

    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    hist = train_from_csvs(
        args.csv,
        args.out,
        cfg,
        val_fraction=args.val_fraction,
        folds=args.folds,
        fold=args.fold,
        resume=args.resume,
        max_minutes=args.max_minutes,
        init=args.init,
    )
    if hist["val"]:
        print(f"best val SRCC {max(v['srcc'] for v in hist['val']):.4f}; checkpoints in {args.out}")
    return 0


def register(families: argparse._SubParsersAction) -> None:
    """Add ``train fthnet``; defaults are :class:`~monai_fiqa.engine.TrainConfig`'s (the FTHNet recipe)."""
    from monai_fiqa.engine.trainer import TrainConfig

    d = TrainConfig()
    p = families.add_parser("fthnet", help="FTHNet on labelled CSVs")
    p.add_argument("--csv", nargs="+", required=True, help="path/image, mos[, level] or path, label; synth labels.csv")
    add_run_options(p)
    p.add_argument("--model", default=d.model, help="registry name (fthnet_s, fthnet_l, fthnet_tiny)")
    p.add_argument("--img-size", dest="img_size", type=int, default=d.img_size)
    p.add_argument("--batch-size", dest="batch_size", type=int, default=d.batch_size)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--warmup", dest="warmup_steps", type=int, default=d.warmup_steps, help="linear warm-up steps")
    p.add_argument("--val-every", dest="val_every", type=int, default=d.val_every)
    p.add_argument(
        "--zoom-prob",
        dest="zoom_prob",
        type=float,
        default=d.zoom_prob,
        help="share of window views (a coarse-map window in place, with its local pseudo-MOS)",
    )
    p.add_argument(
        "--precision", choices=["fp32", "bf16"], default="bf16", help="bf16 autocast (1.6x the fp32 step here)"
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument(
        "--severity-weight", dest="severity_weight", type=float, default=d.severity_weight, help="0: no severity head"
    )
    p.add_argument(
        "--group-size", dest="group_size", type=int, default=d.group_size, help="copies of one source per batch"
    )
    p.add_argument(
        "--rank-weight", dest="rank_weight", type=float, default=d.rank_weight, help="pairwise ranking loss weight"
    )
    p.add_argument(
        "--map-weight",
        dest="map_weight",
        type=float,
        default=d.map_weight,
        help="> 0: train the degradation-map head (targets from synth rows) with this loss weight",
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of *sources* held out for validation")
    p.add_argument("--folds", type=int, default=0, help="k-fold protocol (80/15/5 per fold) instead of val-fraction")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--keep-val-weights", dest="keep_val_weights", action="store_true", help="keep val_step{N}.pt")
    p.add_argument("--init", help="weights to start from, e.g. a bundle's models/model.pt (fine-tuning)")
    p.set_defaults(func=_run)
