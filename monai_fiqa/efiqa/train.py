"""EFIQA training recipes: vessel segmenter, masked vessel inpainter (stage 1), MAE encoder, adapter (stage 2).

Each recipe uses the shared loop (:func:`monai_fiqa.engine.trainer.train`: warm-up + linear annealing, EMA,
resumable checkpoints, ``--max-minutes``) with its own loss and validation metric.  No recipe sees a quality label:
the segmenter learns vessels (DRIVE manual labels), the inpainter learns what good vessel maps look like, the MAE
learns to reconstruct photographs, and the adapter learns the stage-1 map.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from tqdm import tqdm

from monai_fiqa.efiqa.inpainting_prior import corrupt_context, random_patch_mask
from monai_fiqa.efiqa.networks import (
    ConvMIM,
    EFIQAAdapter,
    FundusConvEncoder,
    PatchFeatureEncoder,
    fundus_mae,
    vessel_inpainter,
    vessel_unet,
)
from monai_fiqa.efiqa.vessel_segmentation import (
    VesselCropSet,
    load_drive,
    native_probabilities,
    to_input,
    vessel_metrics,
)
from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.engine.trainer import TrainConfig, train
from monai_fiqa.metrics.functional import srcc

__all__ = [
    "AdapterHead",
    "PhotoSet",
    "VesselMapSet",
    "adapter_feature_sets",
    "encode_all",
    "evaluate_head",
    "head_loss",
    "pretrain_mae",
    "pretrain_mim",
    "save_adapter",
    "train_adapter",
    "train_inpainter",
    "train_vessel_segmenter",
]


def _config(name: str, steps: int, batch_size: int, lr: float, **kw: float) -> TrainConfig:
    """The EFIQA recipes' schedule: warm-up over 10 % (at most 100-200 steps), six validations, frequent checkpoints."""
    defaults = {"warmup_steps": min(100, steps // 10), "ema_decay": 0.99, "val_every": max(50, steps // 6)}
    return TrainConfig(
        model=name, img_size=256, batch_size=batch_size, steps=steps, lr=lr, ckpt_every=50, **(defaults | kw)
    )


def _bce_dice(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    x, y = batch
    logit = model(x)
    prob = torch.sigmoid(logit)
    dice = 1 - (2 * (prob * y).sum() + 1) / (prob.sum() + y.sum() + 1)
    return F.binary_cross_entropy_with_logits(logit, y) + dice


class _DriveVal(Dataset):
    def __init__(self, pairs: list) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):  # not used by the evaluator; it reads self.pairs
        return self.pairs[i]


def _evaluate_segmenter(model: torch.nn.Module, data: _DriveVal) -> dict[str, float]:
    rows = [vessel_metrics(native_probabilities(model, p), p.vessels, p.fov) for p in data.pairs]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def train_vessel_segmenter(
    drive_root: str | Path,
    out: str | Path,
    steps: int = 1500,
    batch_size: int = 8,
    lr: float = 2e-3,
    val_images: int = 4,
    resume: bool = False,
    max_minutes: float | None = None,
) -> dict:
    """Train the vessel U-Net on DRIVE *training* images; the last ``val_images`` of them select the checkpoint.

    The DRIVE test split is never seen here: it is the held-out evaluation (``benchmarks/efiqa_vessels.py``).
    """
    pairs = load_drive(drive_root, "training")
    train_pairs, val_pairs = pairs[:-val_images], pairs[-val_images:]
    cfg = _config("efiqa_vessel_unet", steps, batch_size, lr)
    return train(
        VesselCropSet(train_pairs, crop=256, per_epoch=steps * batch_size),
        _DriveVal(val_pairs),
        out,
        cfg,
        resume=resume,
        max_minutes=max_minutes,
        model=vessel_unet(),
        compute_loss=_bce_dice,
        evaluate=_evaluate_segmenter,
        select="auc",
    )


class VesselMapSet(Dataset):
    """Good vessel maps with random patch masks; the number of masked patches grows from 4 to 32 (progressive
    masking) over the first 60 % of the samples drawn, then stays drawn from [4, 32].

    ``real`` marks maps of real photographs; they are drawn ``real_share`` of the time (there are few of them
    beside the unlimited renders, and real vessel trees are what the test photographs have).  With probability
    ``corrupt`` the visible context is degraded in blobs
    (:func:`~monai_fiqa.efiqa.inpainting_prior.corrupt_context`); the target stays the good map.
    """

    def __init__(
        self,
        maps: np.ndarray,
        total: int,
        seed: int = 0,
        fixed: bool = False,
        real: np.ndarray | None = None,
        real_share: float = 0.3,
        corrupt: float = 0.0,
    ) -> None:
        self.maps, self.total, self.fixed, self.corrupt = maps, total, fixed, corrupt
        self.rng = np.random.default_rng(seed)
        self.drawn = 0
        real = np.zeros(len(maps), bool) if real is None else real
        share = real_share if real.any() and not real.all() else float(real.mean())
        self.p = np.where(real, share / max(real.sum(), 1), (1 - share) / max((~real).sum(), 1))

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        rng = np.random.default_rng([7, i]) if self.fixed else self.rng
        self.drawn += 1
        top = 32 if self.fixed else int(round(4 + 28 * min(1.0, self.drawn / (0.6 * self.total))))
        v = self.maps[int(rng.choice(len(self.maps), p=self.p))].astype(np.float32)
        if not self.fixed:
            v = np.rot90(v, int(rng.integers(4))) if rng.uniform() < 0.5 else v
            v = v[:, ::-1] if rng.uniform() < 0.5 else v
        m = random_patch_mask(int(rng.integers(4, top + 1)), rng)
        v = np.ascontiguousarray(v)
        seen = corrupt_context(v, rng) if self.corrupt and rng.uniform() < self.corrupt else v
        x = torch.from_numpy(np.stack([seen * (1 - m), m]).astype(np.float32))
        return x, torch.from_numpy(v)[None], torch.from_numpy(m)[None]


def _inpaint_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    x, y, m = batch
    per_pixel = F.binary_cross_entropy_with_logits(model(x), y, reduction="none")
    return (per_pixel * (0.1 + m)).sum() / (0.1 * m.numel() + m.sum())


def _evaluate_inpainter(model: torch.nn.Module, data: VesselMapSet) -> dict[str, float]:
    model.eval()
    losses, l1 = [], []
    with torch.no_grad():
        for i in range(len(data)):
            x, y, m = (t[None] for t in data[i])
            p = model(x)
            losses.append(float((F.binary_cross_entropy_with_logits(p, y, reduction="none") * m).sum() / m.sum()))
            l1.append(float(((torch.sigmoid(p) - y).abs() * m).sum() / m.sum()))
    return {"neg_masked_bce": -float(np.mean(losses)), "masked_l1": float(np.mean(l1))}


def train_inpainter(
    maps_npz: str | Path,
    out: str | Path,
    steps: int = 1500,
    batch_size: int = 8,
    lr: float = 2e-3,
    resume: bool = False,
    max_minutes: float | None = None,
    corrupt: float = 0.5,
    init: str | Path | None = None,
) -> dict:
    """Stage 1: train the vessel inpainter on good vessel maps (``build_vessel_maps``); the last 10 % of the maps
    (fixed masks, clean context) select the checkpoint.  ``corrupt``: share of samples whose visible context is
    degraded (see :class:`VesselMapSet`); ``init``: weights to fine-tune from."""
    data = np.load(maps_npz)
    maps = data["maps"]
    real = np.array([s.startswith("drive") for s in json.loads(str(data["manifest"]))["sources"]])
    n_val = max(4, len(maps) // 10)
    cfg = _config("efiqa_inpainter", steps, batch_size, lr)
    return train(
        VesselMapSet(maps[:-n_val], steps * batch_size, real=real[:-n_val], corrupt=corrupt),
        VesselMapSet(maps[-n_val:], 2 * n_val, fixed=True),
        out,
        cfg,
        resume=resume,
        max_minutes=max_minutes,
        init=init,
        model=vessel_inpainter(),
        compute_loss=_inpaint_loss,
        evaluate=_evaluate_inpainter,
        select="neg_masked_bce",
    )


class PhotoSet(Dataset):
    """256-px photographs (uint8) as encoder inputs (fixed normalisation), with random flips when augmenting."""

    def __init__(self, images: np.ndarray, augment: bool = True, seed: int = 0) -> None:
        self.images, self.augment = images, augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor]:
        img = self.images[i]
        if self.augment and self.rng.uniform() < 0.5:
            img = img[:, ::-1]
        return (to_input(np.ascontiguousarray(img)),)


def _patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, p*p*C) in the patch embedding's row-major token order."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def _mae_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """MSE on the masked patches, each target patch normalised by its own mean and variance (He et al.)."""
    (x,) = batch
    pred, mask = model(x)
    target = _patchify(x, model.patch_size[0])
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    per_patch = ((pred - target) ** 2).mean(-1)
    return (per_patch * mask).sum() / mask.sum()


def _evaluate_mae(model: torch.nn.Module, data: PhotoSet) -> dict[str, float]:
    model.eval()
    torch.manual_seed(0)  # the same masks every time
    with torch.no_grad():
        x = torch.stack([data[i][0] for i in range(len(data))])
        loss = float(_mae_loss(model, (x,)))
    return {"neg_masked_mse": -loss}


def _pretrain_masked(
    model: torch.nn.Module,
    photos_npz: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    resume: bool,
    max_minutes: float | None,
) -> dict:
    """Masked pre-training (``model(x) -> (prediction, mask)``) on an adapter set's 256-px photographs, no labels;
    the last 64 photographs (fixed masks) select the checkpoint."""
    images = np.load(photos_npz)["images"]
    return train(
        PhotoSet(images[:-64]),
        PhotoSet(images[-64:], augment=False),
        out,
        cfg,
        resume=resume,
        max_minutes=max_minutes,
        model=model,
        compute_loss=_mae_loss,
        evaluate=_evaluate_mae,
        select="neg_masked_mse",
    )


def pretrain_mae(
    photos_npz: str | Path,
    out: str | Path,
    steps: int = 3000,
    batch_size: int = 32,
    lr: float = 1.5e-3,
    resume: bool = False,
    max_minutes: float | None = None,
) -> dict:
    """Masked-autoencoder pre-training of the default encoder (MONAI ``MaskedAutoEncoderViT``) on the 256-px
    photographs of an adapter set (good and degraded fundus, no labels); 64 of them select the checkpoint."""
    cfg = _config(
        "efiqa_mae", steps, batch_size, lr, weight_decay=0.05, warmup_steps=min(200, steps // 10), ema_decay=0.995
    )
    return _pretrain_masked(fundus_mae(), photos_npz, out, cfg, resume, max_minutes)


def pretrain_mim(
    photos_npz: str | Path,
    out: str | Path,
    steps: int = 500,
    batch_size: int = 32,
    lr: float = 5e-4,
    resume: bool = False,
    max_minutes: float | None = None,
) -> dict:
    """Masked-image-modelling pre-training of :class:`FundusConvEncoder` (SimMIM, :class:`ConvMIM`) on the same
    photographs and with the same per-patch-normalised loss as :func:`pretrain_mae`; writes ``encoder.pt`` (the
    encoder alone, EMA weights of the best validation step) for :class:`PatchFeatureEncoder`.

    The checkpoint kept is the one with the lowest validation masked error, which comes early: encoders trained
    longer or faster gave the adapter worse features (``docs/experiments/fundus_efiqa.md``)."""
    cfg = _config("efiqa_mim", steps, batch_size, lr, weight_decay=0.05, warmup_steps=min(100, steps // 10))
    model = ConvMIM(FundusConvEncoder())
    hist = _pretrain_masked(model, photos_npz, out, cfg, resume, max_minutes)
    load_weights(model, Path(out) / "best_model.pt")
    torch.save(model.encoder.state_dict(), Path(out) / "encoder.pt")
    return hist


class AdapterHead(torch.nn.Module):
    """The adapter seen from its cached features: what the trainer optimises (the frozen encoder is never run)."""

    def __init__(self, adapter: EFIQAAdapter) -> None:
        super().__init__()
        self.adapter = adapter

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.adapter.logits(features)


class _FeatureSet(Dataset):
    def __init__(self, feats: torch.Tensor, quality: np.ndarray, weight: np.ndarray) -> None:
        self.feats = feats
        self.quality = torch.from_numpy(quality.astype(np.float32))[:, None]
        self.mask = torch.from_numpy((weight >= 0.5).astype(np.float32))[:, None]

    def __len__(self) -> int:
        return len(self.feats)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        return self.feats[i].float(), self.quality[i], self.mask[i]


def head_loss(head: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    f, q, m = batch
    return (((torch.sigmoid(head(f)) - q) ** 2) * m).sum() / m.sum()


def evaluate_head(head: torch.nn.Module, data: _FeatureSet) -> dict[str, float]:
    head.eval()
    with torch.no_grad():
        pred = torch.sigmoid(head(data.feats.float()))
    inside = data.mask.bool()
    p, t = pred[inside].numpy(), data.quality[inside].numpy()
    img_p = (pred * data.mask).sum((1, 2, 3)) / data.mask.sum((1, 2, 3))
    img_t = (data.quality * data.mask).sum((1, 2, 3)) / data.mask.sum((1, 2, 3))
    return {
        "map_corr": float(np.corrcoef(p, t)[0, 1]),
        "score_srcc": srcc(img_p.numpy(), img_t.numpy()),
        "map_mae": float(np.abs(p - t).mean()),
    }


@torch.no_grad()
def encode_all(adapter: EFIQAAdapter, images: np.ndarray, batch: int = 32) -> torch.Tensor:
    """The adapter's frozen features (encoder + fixed detail statistics) of 256-px photographs, (N, C, grid, grid)
    float16: cached once, since nothing before the head trains."""
    adapter.eval()
    out = []
    for i in tqdm(range(0, len(images), batch), desc="encode", unit="batch"):
        x = torch.stack([to_input(im) for im in images[i : i + batch]])
        out.append(adapter.features(x).half())
    return torch.cat(out)


def _features_and_targets(adapter: EFIQAAdapter, npz: str | Path) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    data = np.load(npz)
    return encode_all(adapter, data["images"]), data["quality"], data["weight"]


def train_adapter(
    adapter_npz: str | Path,
    encoder_checkpoint: str | Path,
    out: str | Path,
    steps: int = 2000,
    batch_size: int = 64,
    lr: float = 3e-3,
    resume: bool = False,
    max_minutes: float | None = None,
    encoder: PatchFeatureEncoder | None = None,
    layers: tuple[int, ...] = (1, 3, -1),
    hidden: int = 64,
    kernel: int = 3,
    backbone: str = "conv",
    detail: bool = True,
    encoder_dropout: float = 0.5,
    val_npz: str | Path | None = None,
) -> dict:
    """Stage 2: fit the adapter (feature standardisation + shallow head) to the stage-1 maps of an adapter set.

    Args:
        encoder_checkpoint: the pre-trained encoder's state dict: ``pretrain_mim``'s ``encoder.pt`` for
            ``backbone="conv"`` (default), ``pretrain_mae``'s ``best_model.pt`` for ``backbone="mae"``.
        encoder: any :class:`PatchFeatureEncoder` instead (a site's backbone and weights).
        layers: MAE blocks whose outputs the MAE encoder concatenates.
        hidden: width of the adapter's hidden layer.
        kernel: its kernel size (see :class:`~monai_fiqa.efiqa.networks.EFIQAAdapter`).
        detail: append the fixed detail statistics to the encoder's features.
        encoder_dropout: share of encoder channels dropped while the head trains.
        val_npz: an adapter set of photographs the training set never saw (``efiqa-data adapter-set --eyes``)
            selects the checkpoint; without it the last 10 % of ``adapter_npz`` do, which share eyes with the rest.

    Writes ``adapter.pt`` (the full :class:`EFIQAAdapter` state: encoder + head) beside the run's checkpoints.
    """
    if encoder is None and backbone == "conv":
        encoder = PatchFeatureEncoder(FundusConvEncoder(), checkpoint=str(encoder_checkpoint))
    elif encoder is None:
        encoder = PatchFeatureEncoder(fundus_mae(), checkpoint=str(encoder_checkpoint), layers=layers)
    adapter = EFIQAAdapter(encoder, hidden=hidden, kernel=kernel, detail=detail, encoder_dropout=encoder_dropout)
    train_set, val_set = adapter_feature_sets(adapter, adapter_npz, val_npz)
    head = AdapterHead(adapter)
    cfg = _config("efiqa_adapter", steps, batch_size, lr, val_every=max(100, steps // 5))
    hist = train(
        train_set,
        val_set,
        out,
        cfg,
        resume=resume,
        max_minutes=max_minutes,
        model=head,
        compute_loss=head_loss,
        evaluate=evaluate_head,
        select="map_corr",
    )
    save_adapter(head, out)
    return hist


def adapter_feature_sets(
    adapter: EFIQAAdapter, adapter_npz: str | Path, val_npz: str | Path | None = None
) -> tuple[_FeatureSet, _FeatureSet]:
    """Training and validation sets of the adapter's frozen features and stage-1 targets.

    With ``val_npz`` (photographs the training set never saw) it validates; without it the last 10 % of
    ``adapter_npz`` do (they share eyes with the rest).
    """
    feats, quality, weight = _features_and_targets(adapter, adapter_npz)
    if val_npz is not None:
        return _FeatureSet(feats, quality, weight), _FeatureSet(*_features_and_targets(adapter, val_npz))
    n_val = max(1, min(32, len(feats) // 2), len(feats) // 10)
    train_set = _FeatureSet(feats[:-n_val], quality[:-n_val], weight[:-n_val])
    return train_set, _FeatureSet(feats[-n_val:], quality[-n_val:], weight[-n_val:])


def save_adapter(head: AdapterHead, out: str | Path) -> Path:
    """Load the run's ``best_model.pt`` into ``head`` and write the full adapter (encoder + head) as ``adapter.pt``:
    the file a bundle ships as ``models/stage2_adapter.pt``."""
    load_weights(head, Path(out) / "best_model.pt")
    torch.save(head.adapter.state_dict(), Path(out) / "adapter.pt")
    return Path(out) / "adapter.pt"
