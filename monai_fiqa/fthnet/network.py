"""FTHNet: a transformer hypernetwork that regresses fundus image quality (MOS / 100).

After Gong et al. (FTHNet).  Three parts on top of a 4-stage window-attention backbone:

* **Distortion Perception Network (DPN)** - per stage a 1x1 conv to C_i / 8 channels, SoftPool with kernel 12 and a
  Linear to ``dpn_dim``; the four stage vectors are concatenated into V (4 * dpn_dim = 384 by default).  Early
  stages see fine distortions (noise, compression), late ones global ones (haze, illumination).
* **Parameter Hypernetwork** - from the last stage, a 1x1 conv to ``hyper_dim`` channels, then stepwise 1x1 convs
  halving the channels; at each step a Parameter Generating Layer (PGL) makes one target layer's parameters: a 3x3
  conv whose output map, flattened, is the weight matrix, and SoftPool + Linear for the bias.  The rules that turn
  V into a score thus depend on the image content (what is normal for *this* fundus).
* **Target Network** - 5 linear layers V -> V/2 -> V/4 -> V/8 -> V/16 -> 1 using the generated weights per sample,
  sigmoid between layers; the output is MOS / 100.

Two optional heads, not in the paper:

* a severity head regresses each degradation kind's severity from V, so that a low score comes with *why*
  ("defocus 0.7, haze 0.1"), and the DPN is taught to keep every degradation apart;
* a degradation-map head says *where*: per 8-px cell of the input, how degraded that part of the photograph is
  (0-1), from all four stages brought to the stride-8 grid and a little spatial context (:class:`DegradationMapHead`;
  the quality map of the product is 1 minus it; :mod:`monai_fiqa.fthnet.degradation_map` has the targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from monai_fiqa.fthnet.blocks import DetailChannels, SwinStages2D, soft_pool2d

__all__ = ["DegradationMapHead", "FTHNet", "FTHNetOutputs"]


class FTHNetOutputs(NamedTuple):
    """Everything one forward pass gives: (B, 1) MOS / 100, (B, K) severities in [0, 1] and (B, 1, S/8, S/8)
    degradation-map logits (``None`` for a head the network does not have)."""

    score: torch.Tensor
    severities: torch.Tensor | None
    degradation_logits: torch.Tensor | None


class _PGL(nn.Module):
    """Parameter Generating Layer: one target layer's (out x in) weight and (out,) bias from a feature map."""

    def __init__(self, channels: int, n_in: int, n_out: int, grid: int) -> None:
        super().__init__()
        self.n_in, self.n_out, self.grid = n_in, n_out, grid
        self.maps = math.ceil(n_in * n_out / (grid * grid))
        self.weight = nn.Conv2d(channels, self.maps, 3, padding=1)
        self.bias = nn.Linear(channels, n_out)
        self.gain = nn.Parameter(torch.tensor(4.0 if n_out > 1 else 1.0))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = h.shape[0]
        # the weight map lives on a fixed grid, so the same parameters serve any input size (e.g. 192 and 384 px)
        hg = h if h.shape[-1] == self.grid else F.interpolate(h, size=(self.grid, self.grid), mode="nearest")
        w = self.weight(hg).flatten(1)[:, : self.n_in * self.n_out].view(b, self.n_out, self.n_in)
        # Standardise each generated matrix and give it a learnable fan-in gain: the image then shapes the pattern
        # of the weights, not their scale, so the 5-layer sigmoid target network neither saturates nor vanishes.
        mean, std = w.mean(dim=(1, 2), keepdim=True), w.std(dim=(1, 2), keepdim=True)
        w = (w - mean) / (std + 1e-6) * (self.gain / math.sqrt(self.n_in))
        bias = self.bias(soft_pool2d(h, int(h.shape[-1])).flatten(1))
        return w, bias


class DegradationMapHead(nn.Module):
    """The four stages' features -> (B, 1, S/8, S/8) logits of how degraded each 8-px cell of the input is.

    Why this shape:

    * stage 1 (stride 4, pooled to stride 8) and stage 2 carry local texture - noise, JPEG blocks, how sharp a vessel
      edge is; a head on stage 2 to 4 alone found over- and under-exposure but left defocus, motion and JPEG at
      chance *on its training photographs* (docs/experiments/fundus_fthnet.md, run 11); stages 3 and 4, brought to
      the stride-8 grid, add what kind of photograph it is;
    * residual 3x3 convolutions dilated 1, 2 and 4 let each cell see ~120 px of a 384-px square: most cells of a
      blurred region hold background that looks the same blurred or sharp, and only the vessels nearby tell.
    """

    def __init__(self, stage_channels: Sequence[int], width: int = 64, dilations: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        self.fuse = nn.Sequential(nn.Conv2d(sum(stage_channels), width, 1), nn.GELU())
        self.context = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=d, dilation=d), nn.GELU()) for d in dilations
        )
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        grid = feats[1].shape[-2:]
        finer = F.adaptive_avg_pool2d(feats[0], grid)
        deeper = [F.interpolate(f, size=grid, mode="bilinear", align_corners=False) for f in feats[2:]]
        h = self.fuse(torch.cat([finer, feats[1], *deeper], dim=1))
        for block in self.context:
            h = h + block(h)
        return self.out(h)


class FTHNet(nn.Module):
    """Fundus quality regression by a transformer hypernetwork.

    Args:
        embed_dim: backbone channels C (32 for FTHNet-S, 64 for FTHNet-L).
        depths: backbone blocks per stage ((2, 4, 6, 2) for S, (2, 2, 6, 2) for L).
        num_heads: heads per stage (head dim 32 by default).
        img_size: input side (384); the last stage is ``img_size / 32`` = 12 = the SoftPool kernel.
        window_size: attention window.
        dpn_dim: per-stage DPN vector size; V = 4 * dpn_dim.
        hyper_dim: channels of the first hypernetwork step; 672 reproduces the paper's parameter counts
            (FTHNet-S 5.58 M vs 5.66 M, FTHNet-L 14.92 M vs 14.88 M).
        drop_path_rate: stochastic depth in the backbone.
        pgl_grid: side of the map each Parameter Generating Layer turns into a weight matrix (12 = the last stage at
            384 px); other input sizes are resampled to it, so weights trained at 192 px load at 384 px.
        severity_kinds: names of the degradation kinds whose severity (0-1) the auxiliary head regresses from V
            (none: no head, the paper's network).
        detail_sigma: > 0: the backbone also sees each channel's detail band at this scale
            (:class:`~monai_fiqa.fthnet.blocks.DetailChannels`; 3 more input channels to the patch embedding,
            +1.5 k parameters for FTHNet-S); 0: the paper's RGB input.
        degradation_map: add the degradation-map head (:class:`DegradationMapHead`, +141.6 k parameters for FTHNet-S).

    Input: (B, 3, img_size, img_size) normalised RGB.  Output: (B, 1) predicted MOS / 100;
    :meth:`outputs` also returns the severities and the degradation map.
    """

    def __init__(
        self,
        embed_dim: int = 32,
        depths: Sequence[int] = (2, 4, 6, 2),
        num_heads: Sequence[int] | None = None,
        img_size: int = 384,
        window_size: int = 12,
        dpn_dim: int = 96,
        hyper_dim: int = 672,
        drop_path_rate: float = 0.1,
        pgl_grid: int = 12,
        severity_kinds: Sequence[str] = (),
        detail_sigma: float = 0.0,
        degradation_map: bool = False,
    ) -> None:
        super().__init__()
        if img_size % 32:
            raise ValueError(f"img_size must be a multiple of 32, got {img_size}")
        heads = num_heads or [max(1, embed_dim * 2**i // 32) for i in range(4)]
        self.img_size = img_size
        # MONAI clamps the window to small feature maps, so one set of weights runs at 192 px and at 384 px
        self.detail = DetailChannels(detail_sigma) if detail_sigma > 0 else nn.Identity()
        self.backbone = SwinStages2D(
            embed_dim, depths, heads, window_size=window_size, in_chans=6 if detail_sigma > 0 else 3
        )
        self.pool = img_size // 32  # SoftPool kernel = the last stage's side: 12 at 384 px
        chans = self.backbone.channels
        self.dpn_convs = nn.ModuleList(nn.Conv2d(c, max(1, c // 8), 1) for c in chans)
        # stage i is 2^(3-i) times the last stage's side, so pooling leaves a (2^(3-i))^2 grid at any input size
        self.dpn_fcs = nn.ModuleList(nn.Linear(max(1, c // 8) * 4 ** (3 - i), dpn_dim) for i, c in enumerate(chans))
        v = 4 * dpn_dim
        self.v_norm = nn.LayerNorm(v)  # V is the target network's input: keep it centred and unit-scaled
        dims = [v, v // 2, v // 4, v // 8, v // 16, 1]
        self.target_dims = dims
        self.hyper_in = nn.Sequential(nn.Conv2d(chans[-1], hyper_dim, 1), nn.ReLU(inplace=True))
        steps, pgls, c = [], [], hyper_dim
        for i in range(5):
            steps.append(nn.Sequential(nn.Conv2d(c, c // 2, 1), nn.ReLU(inplace=True)))
            c //= 2
            pgls.append(_PGL(c, dims[i], dims[i + 1], pgl_grid))
        self.hyper_steps = nn.ModuleList(steps)
        self.pgls = nn.ModuleList(pgls)
        self.severity_kinds = tuple(severity_kinds)
        self.severity_head = nn.Linear(v, len(self.severity_kinds)) if self.severity_kinds else None
        self.map_head = DegradationMapHead(chans) if degradation_map else None

    def perceive(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Distortion Perception Network: stage features -> V."""
        vecs = []
        for f, conv, fc in zip(feats, self.dpn_convs, self.dpn_fcs, strict=True):
            vecs.append(fc(soft_pool2d(conv(f), self.pool).flatten(1)))
        return self.v_norm(torch.cat(vecs, dim=1))

    def _target(self, v: torch.Tensor, last_stage: torch.Tensor) -> torch.Tensor:
        """Hypernetwork + target network: (B, V) and the last stage's features -> (B, 1)."""
        q = v.unsqueeze(-1)  # (B, V, 1)
        h = self.hyper_in(last_stage)
        for i, (step, pgl) in enumerate(zip(self.hyper_steps, self.pgls, strict=True)):
            h = step(h)
            w, b = pgl(h)
            q = torch.bmm(w, q) + b.unsqueeze(-1)
            if i < len(self.pgls) - 1:
                q = torch.sigmoid(q)
        return q.squeeze(-1)

    def outputs(self, x: torch.Tensor) -> FTHNetOutputs:
        """Score, severities and degradation-map logits of one forward pass."""
        feats = self.backbone(self.detail(x))
        v = self.perceive(feats)
        severities = torch.sigmoid(self.severity_head(v)) if self.severity_head is not None else None
        logits = self.map_head(feats) if self.map_head is not None else None
        return FTHNetOutputs(self._target(v, feats[-1]), severities, logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(self.detail(x))
        return self._target(self.perceive(feats), feats[-1])
