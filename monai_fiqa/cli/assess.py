"""``assess``, ``evaluate`` and ``demo``: using shipped bundles."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monai_fiqa.cli._common import load_or_report
from monai_fiqa.console import console_safe

__all__ = ["default_bundle", "register"]

_VOLUME_SUFFIXES = (".nii", ".nii.gz", ".dcm", ".nrrd", ".mha")


def default_bundle(path: str) -> str | None:
    """The installed bundle for an input when ``--model`` is not given: the first of its family with weights
    (``monai_fiqa.api.FAMILY_BUNDLES``; volumes, DICOM files and folders are CT/MR, other files photographs)."""
    from monai_fiqa.api import FAMILY_BUNDLES, available_bundles

    installed = available_bundles()
    volume = Path(path).is_dir() or path.lower().endswith(_VOLUME_SUFFIXES)
    for name in FAMILY_BUNDLES["ctmr" if volume else "fundus"]:
        if name in installed:
            return name
    return None


def _assess(args: argparse.Namespace) -> int:
    prompt = dict(kv.split("=", 1) for kv in args.prompt)
    kwargs = {"prompt": prompt} if prompt else {}  # CT/MR only: e.g. --prompt modality=CT for a NIfTI file
    results: dict[str, dict] = {}
    assessors: dict[str, object] = {}
    for path in args.paths:
        name = args.model or default_bundle(path)
        if name is None:
            results[path] = {"error": "no installed bundle assesses this kind of input; see --model"}
        else:
            if name not in assessors:
                assessors[name] = load_or_report(name)
            if assessors[name] is None:
                return 2
            try:
                results[path] = {"model": name, **assessors[name].assess(path, **kwargs).to_dict()}
            except (OSError, ValueError) as exc:  # report per input, keep going
                results[path] = {"model": name, "error": str(exc)}
        print(f"{console_safe(path)}: {console_safe(results[path])}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all("error" not in r for r in results.values()) else 1


def _evaluate(args: argparse.Namespace) -> int:
    from monai_fiqa.engine.runners import evaluate_csv

    assessor = load_or_report(args.model)
    if assessor is None:
        return 2
    metrics = evaluate_csv(assessor, args.csv, args.json)
    print(json.dumps(metrics, indent=2))
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``assess``, ``evaluate`` and ``demo``."""
    a = sub.add_parser(
        "assess",
        help="score images or volumes with a bundle",
        epilog="exit status: 0 every input assessed; 1 an input could not be assessed (its error is in the output "
        "and the others go on); 2 no usable bundle (unknown, untrusted folder, or no weights)",
    )
    a.add_argument("paths", nargs="+")
    a.add_argument("--model", help="bundle name or folder (default: an installed bundle for each input's kind)")
    a.add_argument("--json", help="write results to this JSON file")
    a.add_argument("--prompt", nargs="*", default=[], help="CT/MR prompt overrides, e.g. modality=CT anatomy=head")
    a.set_defaults(func=_assess)
    e = sub.add_parser("evaluate", help="PLCC/SRCC/KRCC/RMSE and grade accuracy of a bundle on a labelled CSV")
    e.add_argument("--model", required=True, help="bundle name or folder")
    e.add_argument("--csv", required=True)
    e.add_argument("--json", help="write the metrics here")
    e.set_defaults(func=_evaluate)
    d = sub.add_parser("demo", help="run the demo on sample data shipped with the packages")
    d.add_argument("--out", default="demo_out")
    d.set_defaults(func=_demo)
