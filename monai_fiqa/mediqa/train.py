"""MedIQA two-stage training: physics pre-training (upstream) then score fine-tuning (downstream).

- **upstream**: regress every artefact's severity (the physical parameters through their documented maps) from
  simulated acquisitions, plus the prompt-free modality/anatomy predictor;
- **downstream**: start from the upstream weights and regress the score (full-reference pseudo-score for the shipped
  weights, or a site's expert scores from a CSV), keeping a smaller severity term so the SR can still report the
  physical parameters.

Prompts are dropped to "unknown" field by field during training (``prompt_dropout``), so the network scores images
whose headers are missing, and the dimension field is randomised (a slice is a slice).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, Dataset

from monai_fiqa.ctmr.artefacts import ARTEFACT_NAMES
from monai_fiqa.ctmr.preprocessing import INPUT_SIZE
from monai_fiqa.engine.ranking import NO_GROUP, pairwise_rank_loss
from monai_fiqa.engine.trainer import TrainConfig, train
from monai_fiqa.mediqa.network import MedIQA
from monai_fiqa.metrics.functional import plcc, srcc
from monai_fiqa.registry import create_model

__all__ = [
    "MEDIQA_RECIPE",
    "MedIQASliceSet",
    "SliceSample",
    "evaluate_mediqa",
    "mediqa_loss",
    "slice_set_from_csv",
    "train_mediqa",
]


# The recipe's hyper-parameters (``monai-fiqa train mediqa`` options override them) on MedIQA's grid.
MEDIQA_RECIPE = TrainConfig(model="mediqa", img_size=INPUT_SIZE)


class SliceSample(NamedTuple):
    """One training slice (batched by the default collate into the same fields)."""

    image: torch.Tensor  # (2, S, S) windowed slice and its mask
    prompt: torch.Tensor  # prompt ids as the network sees them (augmented: dropped fields are 0)
    score: torch.Tensor  # score / 100 (0 where unknown)
    severity: torch.Tensor  # per-artefact severity
    severity_mask: torch.Tensor  # 1 where that severity is known
    has_score: torch.Tensor  # 1 where the score is known
    true_prompt: torch.Tensor  # the prompt before augmentation, for the modality/anatomy predictor
    matrix: torch.Tensor  # acquired in-plane matrix condition (NaN = unknown)
    group: torch.Tensor  # ladder id for the ranking loss (NO_GROUP: an independent sample)
    ladder_artefact: torch.Tensor  # index of the artefact the ladder varies (-1: none)


class MedIQASliceSet(Dataset):
    """Prepared slices with targets (a ``synth-ctmr`` folder, or arrays from a score CSV).

    Items: ``(image, prompt, score / 100, severity, severity_mask, has_score, true prompt, matrix)``.

    Args:
        images: (N, 2, S, S) array (float16 memmap is fine).
        prompt: (N, 4) int prompt ids.
        score: (N,) scores 0-100 (NaN where unknown).
        severity: (N, K) severities (0 where absent or unknown).
        severity_mask: (N, K) 1 where the severity is known.
        matrix: (N,) acquired in-plane matrix, px (NaN: unknown; None: all unknown).
        group: (N,) ladder id of each sample (-1 or None: independent samples), for the ranking loss.
        ladder_artefact: (N,) index of the artefact each ladder varies (-1 or None: none).
        group_offset: added to every ladder id, so that the ladders of several sets stay apart.
        augment: random flips and prompt dropout (the same flips for every rung would not matter: pairs compare
            scores, and a flip changes no severity).
        prompt_dropout: per-field probability of replacing a prompt field (and the matrix) with "unknown".
        seed: augmentation seed.
    """

    def __init__(
        self,
        images: np.ndarray,
        prompt: np.ndarray,
        score: np.ndarray,
        severity: np.ndarray,
        severity_mask: np.ndarray,
        matrix: np.ndarray | None = None,
        group: np.ndarray | None = None,
        ladder_artefact: np.ndarray | None = None,
        group_offset: int = 0,
        augment: bool = False,
        prompt_dropout: float = 0.3,
        seed: int = 0,
    ) -> None:
        self.images, self.prompt, self.score = images, prompt.astype(np.int64), score.astype(np.float32)
        self.severity, self.severity_mask = severity.astype(np.float32), severity_mask.astype(np.float32)
        self.matrix = np.full(len(score), np.nan, np.float32) if matrix is None else matrix.astype(np.float32)
        ladders = np.full(len(score), -1, np.int64) if group is None else group.astype(np.int64)
        self.groups = np.where(ladders >= 0, ladders + group_offset, NO_GROUP).astype(np.int64)
        self.ladder_artefact = (
            np.full(len(score), -1, np.int64) if ladder_artefact is None else ladder_artefact.astype(np.int64)
        )
        self.augment, self.prompt_dropout = augment, prompt_dropout
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_folder(cls, folder: str | Path, **kw: object) -> MedIQASliceSet:
        """Open a ``monai-fiqa synth-ctmr`` output folder (images memory-mapped; sets built before the matrix or
        the ladders were recorded have the matrix unknown and no ladders)."""
        folder = Path(folder)
        t = np.load(folder / "targets.npz")
        images = np.load(folder / "images.npy", mmap_mode="r")
        optional = {k: t[k] for k in ("matrix", "group", "ladder_artefact") if k in t.files}
        args = (images, t["prompt"], t["score"], t["severity"], t["severity_mask"])
        return cls(*args, **optional, **kw)  # type: ignore[arg-type]

    @property
    def n_ladders(self) -> int:
        """One more than the largest ladder id (the next set's ``group_offset``)."""
        return int(self.groups.max()) + 1 if (self.groups >= 0).any() else 0

    def __len__(self) -> int:
        return len(self.score)

    def __getitem__(self, i: int) -> SliceSample:
        img = np.asarray(self.images[i], dtype=np.float32)
        prompt = self.prompt[i].copy()
        matrix = self.matrix[i]
        if self.augment:
            if self.rng.uniform() < 0.5:
                img = img[:, :, ::-1]
            if self.rng.uniform() < 0.5:
                img = img[:, ::-1, :]
            prompt[0] = self.rng.integers(0, 2)
            prompt[1:] = np.where(self.rng.uniform(size=3) < self.prompt_dropout, 0, prompt[1:])
            if self.rng.uniform() < self.prompt_dropout:
                matrix = np.float32(np.nan)
        score = self.score[i]
        has = np.float32(np.isfinite(score))
        return SliceSample(
            image=torch.from_numpy(np.ascontiguousarray(img)),
            prompt=torch.from_numpy(prompt),
            score=torch.tensor(np.nan_to_num(score) / 100.0),
            severity=torch.from_numpy(self.severity[i]),
            severity_mask=torch.from_numpy(self.severity_mask[i]),
            has_score=torch.tensor(has),
            true_prompt=torch.from_numpy(self.prompt[i].copy()),
            matrix=torch.tensor(matrix),
            group=torch.tensor(self.groups[i]),
            ladder_artefact=torch.tensor(self.ladder_artefact[i]),
        )


def _predictor_loss(out_mod: torch.Tensor, out_anat: torch.Tensor, true_prompt: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the modality/anatomy predictor where the true value is known (ids > 0)."""
    mod, anat = true_prompt[:, 1] - 1, true_prompt[:, 2] - 1
    loss = out_mod.new_zeros(())
    if (mod >= 0).any():
        loss = loss + F.cross_entropy(out_mod[mod >= 0], mod[mod >= 0])
    if (anat >= 0).any():
        loss = loss + F.cross_entropy(out_anat[anat >= 0], anat[anat >= 0])
    return loss


def _ladder_rank_loss(
    out_score: torch.Tensor, out_severity: torch.Tensor, batch: SliceSample, stage: str
) -> torch.Tensor:
    """Pairwise ranking within each ladder of the batch: the varied artefact's severity head (both stages) and,
    downstream, the score against the pseudo-score (:func:`~monai_fiqa.engine.ranking.pairwise_rank_loss`)."""
    laddered = batch.ladder_artefact >= 0
    if not bool(laddered.any()):
        return out_score.sum() * 0.0
    column = batch.ladder_artefact.clamp_min(0)[:, None]
    predicted, true = out_severity.gather(1, column)[:, 0], batch.severity.gather(1, column)[:, 0]
    groups = torch.where(laddered, batch.group, torch.full_like(batch.group, NO_GROUP))
    loss = pairwise_rank_loss(predicted, true, groups)
    if stage == "downstream":
        loss = loss + pairwise_rank_loss(out_score / 100.0, batch.score, groups)
    return loss


def mediqa_loss(stage: str, severity_weight: float = 0.5, rank_weight: float = 0.0) -> object:
    """The loss of a stage ("upstream" or "downstream") as ``loss(model, batch)``; ``rank_weight`` > 0 adds the
    ladder ranking term (:func:`_ladder_rank_loss`) for batches that hold ladders."""

    def loss(model: MedIQA, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        batch = SliceSample(*batch)
        img, prompt, score, sev, sev_mask, has_score, true_prompt, matrix = batch[:8]
        out = model.forward_all(img, prompt, matrix)
        # squared error: most severities of a sample are exactly 0 (absent), and an L1-type loss would settle on
        # predicting the median (0) everywhere
        sev_err = F.mse_loss(out.severity, sev, reduction="none") * sev_mask
        sev_loss = sev_err.sum() / sev_mask.sum().clamp_min(1.0)
        total = 0.2 * _predictor_loss(out.modality_logits, out.anatomy_logits, true_prompt)
        if rank_weight > 0:
            total = total + rank_weight * _ladder_rank_loss(out.score, out.severity, batch, stage)
        if stage == "upstream":
            return total + sev_loss
        score_err = F.smooth_l1_loss(out.score / 100.0, score, beta=0.05, reduction="none") * has_score
        return total + score_err.sum() / has_score.sum().clamp_min(1.0) + severity_weight * sev_loss

    return loss


@torch.no_grad()
def predict_set(model: MedIQA, data: MedIQASliceSet, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Scores, severities and predicted modality for every item (no augmentation)."""
    model.eval()
    outs: dict[str, list] = {"score": [], "severity": [], "modality": []}
    for start in range(0, len(data), batch_size):
        items = [data[i] for i in range(start, min(len(data), start + batch_size))]
        img = torch.stack([it.image for it in items])
        prompt = torch.stack([it.prompt for it in items])
        out = model.forward_all(img, prompt, torch.stack([it.matrix for it in items]))
        outs["score"].append(out.score.numpy())
        outs["severity"].append(out.severity.numpy())
        outs["modality"].append(out.modality_logits.argmax(1).numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def evaluate_mediqa(model: MedIQA, data: MedIQASliceSet, stage: str = "downstream") -> dict[str, float]:
    """Score SRCC/PLCC against the targets, mean severity SRCC over artefacts, modality accuracy.

    ``srcc`` (the model-selection key of the trainer) is the score SRCC downstream and the mean severity SRCC
    upstream.
    """
    pred = predict_set(model, data)
    known = np.isfinite(data.score)
    metrics: dict[str, float] = {}
    if known.sum() > 2:
        metrics["score_srcc"] = srcc(pred["score"][known], data.score[known])
        metrics["score_plcc"] = plcc(pred["score"][known], data.score[known])
    sev = []
    for k in range(data.severity.shape[1]):
        m = data.severity_mask[:, k] > 0
        if m.sum() > 10 and np.ptp(data.severity[m, k]) > 0:
            sev.append(srcc(pred["severity"][m, k], data.severity[m, k]))
    metrics["severity_srcc"] = float(np.mean(sev)) if sev else float("nan")
    mod = data.prompt[:, 1] - 1
    if (mod >= 0).any():
        metrics["modality_acc"] = float((pred["modality"][mod >= 0] == mod[mod >= 0]).mean())
    metrics["srcc"] = metrics["severity_srcc"] if stage == "upstream" else metrics.get("score_srcc", float("nan"))
    return metrics


def slice_set_from_csv(csv_path: str | Path, n_slices: int = 7, size: int = INPUT_SIZE) -> MedIQASliceSet:
    """Expert-scored volumes/slices (``path, score[, modality, anatomy]`` CSV) -> salient slices with that score.

    Every salient slice of a volume inherits the volume's score (the fused volume score is a weighted mean of slice
    scores, so this is its natural fine-tuning target).  Relative paths are resolved against the CSV's folder.  A
    ``modality`` column (CT/MR) is required where the headers do not say it (e.g. NIfTI).
    """
    from monai_fiqa.ctmr.preprocessing import prepare_slice
    from monai_fiqa.ctmr.prompts import prompt_from_meta
    from monai_fiqa.ctmr.slices import select_salient_slices, slice_saliency
    from monai_fiqa.io.quality_csv import read_score_csv
    from monai_fiqa.io.volumes import read_volume

    images, prompts, scores, matrix = [], [], [], []
    for row in read_score_csv(csv_path):
        vol = read_volume(row.path)
        prompt = prompt_from_meta(vol.meta, vol.is_3d).with_overrides(row.prompt)
        if prompt.modality == "unknown":
            raise ValueError(f"{row.path}: modality unknown; add a modality column (CT or MR)")
        sal = slice_saliency(vol.array, prompt.modality)
        chosen = select_salient_slices(sal, n_slices) if vol.is_3d else np.array([0])
        for z in chosen:
            images.append(prepare_slice(vol.array[:, :, int(z)], prompt.modality, None, size))
            prompts.append(prompt.ids())
            scores.append(row.score)
            matrix.append(max(vol.array.shape[:2]))
    if not images:
        raise ValueError(f"{csv_path}: no rows")
    n = len(images)
    k = len(ARTEFACT_NAMES)
    arrays = (np.stack(images), np.array(prompts), np.array(scores), np.zeros((n, k)), np.zeros((n, k)))
    return MedIQASliceSet(*arrays, np.array(matrix, np.float32), augment=True)


class _GroupedConcat(ConcatDataset):
    """Several slice sets as one, with their ladder ids (``groups``) for the trainer's grouped batch sampler."""

    def __init__(self, sets: list[MedIQASliceSet]) -> None:
        super().__init__(sets)
        self.groups = np.concatenate([s.groups for s in sets])


def train_mediqa(
    out: str | Path,
    cfg: TrainConfig,
    stage: str,
    data: list[str | Path] | None = None,
    csv_path: str | Path | None = None,
    val: str | Path | None = None,
    resume: bool = False,
    max_minutes: float | None = None,
    init: str | Path | None = None,
) -> dict:
    """One MedIQA training stage on ``synth-ctmr`` folders and/or an expert-score CSV.

    Args:
        out: run folder.
        cfg: hyper-parameters (``cfg.model`` is a registry name, e.g. ``mediqa``).
        stage: "upstream" (severities) or "downstream" (scores).
        data: ``monai-fiqa synth-ctmr`` folders.
        csv_path: expert scores, ``path, score[, modality, anatomy]``.
        val: a ``synth-ctmr`` folder for model selection.
        resume: continue ``out/last.pt``.
        max_minutes: wall-time budget of this call.
        init: weights to start from (the upstream stage's ``best_model.pt``, or a bundle's ``models/model.pt``).
    """
    if stage not in ("upstream", "downstream"):
        raise ValueError(f"stage must be 'upstream' or 'downstream', got {stage!r}")
    sets: list[MedIQASliceSet] = []
    for folder in data or []:
        offset = sum(s.n_ladders for s in sets)  # ladders of different folders are different ladders
        sets.append(MedIQASliceSet.from_folder(folder, augment=True, seed=cfg.seed, group_offset=offset))
    if csv_path is not None:
        sets.append(slice_set_from_csv(csv_path))
    if not sets:
        raise ValueError("give synth-ctmr folders (--data) and/or an expert-score CSV (--csv)")
    train_set = sets[0] if len(sets) == 1 else _GroupedConcat(sets)
    val_set = MedIQASliceSet.from_folder(val) if val else None
    return train(
        train_set,
        val_set,
        out,
        cfg,
        resume=resume,
        max_minutes=max_minutes,
        init=init,
        model=create_model(cfg.model),
        compute_loss=mediqa_loss(stage, rank_weight=cfg.rank_weight),  # type: ignore[arg-type]
        evaluate=lambda m, d: evaluate_mediqa(m, d, stage),  # type: ignore[arg-type]
    )
