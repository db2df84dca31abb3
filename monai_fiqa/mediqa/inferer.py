"""How MedIQA's network is applied to a CT/MR volume or slice: prompt, slices, fused score, volume map, parameters.

Flow: prompt from headers (+ user overrides) -> if the modality is unknown, predict it (HU air values mean CT,
otherwise the network's modality head decides on the MR-prepared slice) -> pick 7 salient slices (2D input: the
slice itself) -> score them in one batch, the in-plane matrix given as a condition -> fuse by saliency x evidence ->
per-slice patch maps interpolated along z make the volume map -> severities mapped to physical parameters.

A prompt that contradicts the pixels (e.g. a CT given an MR prompt), a near-empty slice set or an in-plane matrix
smaller than any training image is scored but flagged ``out_of_distribution`` (then graded ``reject``), with the
reason in ``warnings``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from monai_fiqa.ctmr.artefacts import ARTEFACT_NAMES, ARTEFACTS, artefacts_for, severity_to_physical
from monai_fiqa.ctmr.preprocessing import INPUT_SIZE, prepare_slice
from monai_fiqa.ctmr.prompts import prompt_from_meta
from monai_fiqa.ctmr.slices import evenly_spaced, fuse_slice_scores, select_salient_slices, slice_saliency
from monai_fiqa.engine.workflow import QualityInferer, network_device
from monai_fiqa.io.volumes import Volume
from monai_fiqa.mediqa.network import PREDICTED_ANATOMIES, MedIQA
from monai_fiqa.results import Scored

__all__ = ["MIN_TRAINED_SIDE", "MedIQAInferer"]

_MISMATCH_P = 0.9  # modality head probability above which a contradicting CT prompt is flagged
_MIN_SALIENCY = 0.05  # bits x fraction: below this the selected slices hold almost no anatomy
# The smallest in-plane matrix in the shipped weights' training data is 84 px (the prostate DWI); on pydicom's 64-px
# MR_small the score rises with undersampling, Gibbs and bias (bundle docs), so a smaller image is flagged, not graded.
MIN_TRAINED_SIDE = 80


class MedIQAInferer(QualityInferer):
    """Score, volume map, predicted anatomy and physical parameters of one CT/MR volume or slice.

    Args:
        n_slices: salient slices scored per volume.
        img_size: network grid.
        model_name: reported in ``params``.
        slice_selection: "salient" (default) or "even" (the baseline it is compared with in the benchmarks).
        min_side: smallest in-plane matrix assessed without an out-of-distribution flag (the training data's
            smallest; lower it for weights fine-tuned on smaller images).
        quality_map: build the (H, W, Z) volume map (off for a score-only run).
    """

    def __init__(
        self,
        n_slices: int = 7,
        img_size: int = INPUT_SIZE,
        model_name: str = "ctmr_mediqa",
        slice_selection: str = "salient",
        min_side: int = MIN_TRAINED_SIDE,
        quality_map: bool = True,
    ) -> None:
        super().__init__()
        if slice_selection not in ("salient", "even"):
            raise ValueError(f"slice_selection must be 'salient' or 'even', got {slice_selection!r}")
        self.n_slices, self.img_size, self.model_name = n_slices, img_size, model_name
        self.slice_selection, self.min_side, self.quality_map = slice_selection, min_side, quality_map

    def infer_item(self, item: Mapping[Hashable, Any], network: torch.nn.Module) -> Scored:
        """An item may carry a ``prompt`` (overrides of the header prompt, e.g. from a labelled CSV)."""
        return self.infer(item["image"], network, prompt=item.get("prompt"))

    def _inputs(self, net: MedIQA, vol: Volume, modality: str, slices: np.ndarray) -> torch.Tensor:
        batch = [prepare_slice(vol.array[:, :, int(z)], modality, None, self.img_size) for z in slices]
        return torch.from_numpy(np.stack(batch)).to(network_device(net))

    @staticmethod
    def _has_hu_air(vol: Volume) -> bool:
        """Values below -500 in over 1 % of voxels: air in Hounsfield units, impossible in an MR magnitude image."""
        return float((vol.array < -500.0).mean()) > 0.01

    @torch.no_grad()
    def _p_ct(self, net: MedIQA, vol: Volume) -> float:
        """The modality head's p(CT) on the middle slice prepared as MR (scaled to its own percentile).

        Prepared with CT windows, any slice looks like CT to the head (measured), so only this route is asked.
        """
        z = np.array([vol.array.shape[2] // 2])
        return float(net.forward_all(self._inputs(net, vol, "MR", z)).modality_logits.softmax(1)[0, 0])

    def _predict_modality(self, net: MedIQA, vol: Volume) -> tuple[str, str]:
        """No header modality: HU air means CT; otherwise the modality head decides (see :meth:`_p_ct`)."""
        if self._has_hu_air(vol):
            return "CT", "predicted (HU air values present)"
        p_ct = self._p_ct(net, vol)
        return ("CT", f"predicted (p={p_ct:.2f})") if p_ct > 0.5 else ("MR", f"predicted (p={1.0 - p_ct:.2f})")

    def _mismatch(self, net: MedIQA, vol: Volume, modality: str) -> list[str]:
        """A warning when the pixels contradict the (header or user) modality."""
        hint = "check the series or override the modality"
        if modality == "MR" and self._has_hu_air(vol):
            return [f"the prompt says MR but the image looks like CT (HU air values below -500); {hint}"]
        if modality == "CT" and not self._has_hu_air(vol):
            p_mr = 1.0 - self._p_ct(net, vol)
            if p_mr > _MISMATCH_P:
                return [f"the prompt says CT but the image looks like MR (p={p_mr:.2f}); {hint}"]
        return []

    def _volume_map(self, patch_maps: np.ndarray, slices: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
        """(k, h, w) patch maps at ``slices`` -> (H, W, Z) float32 map in [0, 1], linear in z between slices."""
        h, w, z = shape
        side = max(h, w)
        up = F.interpolate(
            torch.from_numpy(patch_maps)[:, None], size=(side, side), mode="bilinear", align_corners=False
        )
        top, left = (side - h) // 2, (side - w) // 2
        maps = up[:, 0, top : top + h, left : left + w].numpy() / 100.0
        if len(slices) == 1:
            return np.repeat(maps[0][:, :, None], z, axis=2).astype(np.float32)
        pos = np.clip(np.interp(np.arange(z), slices, np.arange(len(slices))), 0, len(slices) - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, len(slices) - 1)
        frac = (pos - lo).astype(np.float32)
        out = np.empty((h, w, z), np.float32)
        for i in range(z):  # slice by slice: no (k, H, W, Z) temporaries
            out[:, :, i] = maps[lo[i]] * (1.0 - frac[i]) + maps[hi[i]] * frac[i]
        return out

    def infer(
        self,
        loaded: Volume,
        network: torch.nn.Module,
        prompt: Mapping[str, str] | None = None,
        quality_map: bool | None = None,
    ) -> Scored:
        """Score a checked volume; ``prompt`` overrides header prompt fields, e.g. ``{"modality": "CT"}``;
        ``quality_map`` overrides the inferer's choice for this call.

        Raises:
            ValueError: an invalid prompt override.
        """
        net, vol = network, loaded
        header_prompt = prompt_from_meta(vol.meta, vol.is_3d)
        resolved = header_prompt.with_overrides(dict(prompt) if prompt else None)
        source: dict[str, str] = {}
        if resolved.modality == "unknown":
            predicted, how = self._predict_modality(net, vol)
            resolved = replace(resolved, modality=predicted)
            source["modality"] = how
        modality = resolved.modality
        saliency = slice_saliency(vol.array, modality)
        slices = self._pick_slices(vol, saliency)
        warnings = self._input_warnings(vol, saliency[slices])
        xin = self._inputs(net, vol, modality, slices)
        device = network_device(net)
        ids = torch.tensor([resolved.ids()] * len(slices), device=device)
        matrix = torch.full((len(slices),), float(max(vol.array.shape[:2])), device=device)
        with torch.no_grad():
            out = net.forward_all(xin, ids, matrix)
        if "modality" not in source:
            warnings += self._mismatch(net, vol, modality)
        slice_scores = out.score.cpu().numpy()
        confidence = out.patch_weights.mean(dim=(1, 2)).cpu().numpy()
        score = fuse_slice_scores(slice_scores, saliency[slices], confidence)
        want_map = self.quality_map if quality_map is None else quality_map
        qmap = self._volume_map(out.patch_scores.cpu().numpy(), slices, vol.array.shape) if want_map else None
        params = {
            "model": self.model_name,
            "prompt": resolved.as_dict(),
            "prompt_source": {"header": header_prompt.as_dict(), "overrides": dict(prompt or {}), **source},
            "predicted_anatomy": PREDICTED_ANATOMIES[int(out.anatomy_logits.mean(0).argmax())],
            "slices": [int(s) for s in slices],
            "slice_scores": [round(float(s), 2) for s in slice_scores],
            "slice_importance": [round(float(v), 4) for v in saliency[slices]],
            "artefacts": _physical_parameters(out.severity.mean(0).cpu().numpy(), modality, vol.is_3d),
            "out_of_distribution": bool(warnings),
            "warnings": warnings,
        }
        return Scored(score, qmap, params)

    def _pick_slices(self, vol: Volume, saliency: np.ndarray) -> np.ndarray:
        """The slices to score: the one slice of a 2D image, else salient (or evenly spaced) ones."""
        if not vol.is_3d:
            return np.array([0])
        if self.slice_selection == "even":
            return evenly_spaced(vol.array.shape[2], self.n_slices)
        return select_salient_slices(saliency, self.n_slices)

    def _input_warnings(self, vol: Volume, picked_saliency: np.ndarray) -> list[str]:
        """Why the input is out of distribution (empty slices, a matrix smaller than any trained one), if it is."""
        warnings = []
        if float(picked_saliency.max()) < _MIN_SALIENCY:
            warnings.append("the selected slices hold almost no anatomy (empty or wrongly windowed volume)")
        if min(vol.array.shape[:2]) < self.min_side:
            h, w = vol.array.shape[:2]
            warnings.append(
                f"in-plane matrix {h} x {w} is under {self.min_side} px, smaller than anything the network was "
                "trained on: the score is not reliable"
            )
        return warnings


def _physical_parameters(severity: np.ndarray, modality: str, is_3d: bool) -> dict[str, dict[str, float]]:
    """Each applicable artefact's estimated severity and the physical parameter it stands for."""
    applicable = artefacts_for(modality, has_z=is_3d)
    return {
        name: {
            "severity": round(float(severity[i]), 3),
            ARTEFACTS[name].parameter: round(severity_to_physical(name, float(severity[i])), 4),
        }
        for i, name in enumerate(ARTEFACT_NAMES)
        if name in applicable
    }
