"""Shared building blocks: numerically stable SoftPool and a 2D Swin stage stack built from MONAI's Swin blocks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from monai.networks.blocks.patchembedding import PatchEmbed
from monai.networks.nets.swin_unetr import BasicLayer, PatchMerging
from torch import nn

__all__ = ["DetailChannels", "SwinStages2D", "soft_pool2d"]


class DetailChannels(nn.Module):
    """Append each channel's detail, ``gain * (x - G_sigma(x))``, to the input (no parameters).

    Why: a 4 x 4 linear patch embedding of a fundus photograph is dominated by its smooth colour, so defocus or
    motion blur - which only removes vessel edges and fine texture - changes its tokens by ~3 % of the difference
    between two photographs (at initialisation, ``docs/experiments/fundus_fthnet.md``), and a network trained from
    scratch barely learns it.  The detail band (the local-contrast normalisation of fundus preprocessing, Graham
    2015) is what blur removes and noise and JPEG add; beside the untouched channels, which keep colour and
    exposure, it makes those changes large in the tokens from the start.  Gain 8 at sigma 4 px (384-px input):
    heavy defocus then moves the stage features by ~0.37 of the distance between two photographs at
    initialisation (0.02 without; noise ~0.8 either way).
    """

    def __init__(self, sigma: float, gain: float = 8.0) -> None:
        super().__init__()
        from monai.networks.layers import gaussian_1d

        self.register_buffer("kernel", gaussian_1d(torch.tensor(float(sigma)), normalize=True), persistent=False)
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from monai.networks.layers import separable_filtering

        # reflected borders: zero padding would light up the frame's edges as "detail"
        smooth = separable_filtering(x, [self.kernel.to(x.dtype)] * 2, mode="reflect")
        return torch.cat([x, self.gain * (x - smooth)], dim=1)


def soft_pool2d(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """SoftPool (Stergiou et al.): an exp-weighted average per window, ``sum(x e^x) / sum(e^x)``.

    Why the max subtraction: the textbook form ``avgpool(x e^x) / avgpool(e^x)`` overflows for activations of
    ~90 in float32 (and ~11 in float16).  Subtracting each window's maximum before exponentiating leaves the ratio
    unchanged and bounds every exponent by 1.

    Args:
        x: (B, C, H, W); H and W must be multiples of ``kernel`` (stride = kernel).
        kernel: window size.

    Returns:
        (B, C, H / kernel, W / kernel).
    """
    h, w = x.shape[-2:]
    if h % kernel or w % kernel:
        raise ValueError(f"soft_pool2d: spatial size {(h, w)} is not a multiple of kernel {kernel}")
    peak = F.max_pool2d(x, kernel).detach()
    e = torch.exp(x - F.interpolate(peak, size=(h, w), mode="nearest"))
    return F.avg_pool2d(x * e, kernel) / F.avg_pool2d(e, kernel).clamp_min(1e-12)


class SwinStages2D(nn.Module):
    """A 4-stage hierarchical window-attention backbone returning every stage's output.

    Why not ``monai.networks.nets.SwinTransformer``: it down-samples at the *end* of every stage, so its outputs are
    (2C, 4C, 8C, 16C) after merging and it carries an extra merging layer after the last stage.  FTHNet needs the
    stage features themselves (C, 2C, 4C, 8C at strides 4, 8, 16, 32), so this stacks MONAI's own ``PatchEmbed``,
    ``BasicLayer`` (shifted-window blocks) and ``PatchMerging`` in that order.

    Args:
        embed_dim: channels C of the first stage.
        depths: blocks per stage.
        num_heads: attention heads per stage.
        window_size: attention window (12 at 384 px fits every stage: 96, 48, 24, 12 tokens).
        patch_size: patch embedding stride.
        drop_path_rate: stochastic depth, linearly increasing over blocks.
    """

    def __init__(
        self,
        embed_dim: int,
        depths: Sequence[int],
        num_heads: Sequence[int],
        window_size: int = 12,
        patch_size: int = 4,
        in_chans: int = 3,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed = PatchEmbed(patch_size, in_chans, embed_dim, norm_layer=nn.LayerNorm, spatial_dims=2)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        self.merges = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.channels: list[int] = []
        start = 0
        for i, (depth, heads) in enumerate(zip(depths, num_heads, strict=True)):
            dim = embed_dim * 2**i
            self.stages.append(
                BasicLayer(
                    dim=dim,
                    depth=depth,
                    num_heads=heads,
                    window_size=(window_size, window_size),
                    drop_path=rates[start : start + depth],
                    mlp_ratio=mlp_ratio,
                    qkv_bias=True,
                    downsample=None,
                )
            )
            self.norms.append(nn.LayerNorm(dim))
            if i < len(depths) - 1:
                self.merges.append(PatchMerging(dim=dim, norm_layer=nn.LayerNorm, spatial_dims=2))
            self.channels.append(dim)
            start += depth

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> stage features [(B, C * 2^i, H / (4 * 2^i), W / (4 * 2^i)) for i in 0..3]."""
        x = self.embed(x)
        feats = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            y = rearrange(x, "b c h w -> b h w c")
            feats.append(rearrange(self.norms[i](y), "b h w c -> b c h w"))
            if i < len(self.merges):
                x = rearrange(self.merges[i](y), "b h w c -> b c h w")
        return feats
