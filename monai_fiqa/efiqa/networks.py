"""EFIQA networks: vessel segmenter, masked vessel inpainter (stage 1), frozen-encoder patch adapter (stage 2).

Why these pieces (Wang et al.'s EFIQA, adapted to what can be trained here): quality labels are never used.  Stage 1
learns the *anatomy* - a U-Net that completes masked patches of good images' vessel maps - so that, at test time,
vessels it expects but the segmenter does not see mark where the photograph fails to show the retina.  Stage 2
distils that map into a 1x1 head over a frozen, label-free encoder, so inference is one forward pass.

The encoder is pluggable: :class:`PatchFeatureEncoder` wraps MONAI's ``MaskedAutoEncoderViT`` (our default, MAE
pre-trained here on fundus photographs) or any module that returns a feature map or ViT tokens, with weights from a
local checkpoint (a site's DINOv2/RETFound weights through timm, for instance).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution, ResidualUnit
from monai.networks.layers import gaussian_1d, separable_filtering
from monai.networks.nets import MaskedAutoEncoderViT, UNet
from torch import nn

from monai_fiqa.engine.checkpoints import load_weights

__all__ = [
    "ConvMIM",
    "EFIQAAdapter",
    "FundusConvEncoder",
    "FundusDetailStats",
    "PatchFeatureEncoder",
    "fundus_mae",
    "vessel_inpainter",
    "vessel_unet",
]


def vessel_unet(channels: tuple[int, ...] = (16, 32, 64, 128, 256), num_res_units: int = 2) -> UNet:
    """MONAI U-Net: RGB (fixed normalisation, so a dark or hazy image stays dark or hazy) -> vessel logit."""
    strides = (2,) * (len(channels) - 1)
    return UNet(2, 3, 1, channels=channels, strides=strides, num_res_units=num_res_units, norm="batch")


def vessel_inpainter(channels: tuple[int, ...] = (16, 32, 64, 128, 256), num_res_units: int = 2) -> UNet:
    """MONAI U-Net: (vessel map with masked patches zeroed, mask) -> completed vessel map logit."""
    strides = (2,) * (len(channels) - 1)
    return UNet(2, 2, 1, channels=channels, strides=strides, num_res_units=num_res_units, norm="instance")


def fundus_mae(
    img_size: int = 256,
    patch_size: int = 16,
    hidden_size: int = 192,
    num_layers: int = 6,
    num_heads: int = 3,
    mlp_dim: int = 768,
    decoder_hidden_size: int = 128,
    decoder_num_layers: int = 2,
) -> MaskedAutoEncoderViT:
    """MONAI's masked autoencoder ViT, sized to pre-train on this CPU (ViT-Tiny width, 6 layers)."""
    return MaskedAutoEncoderViT(
        in_channels=3,
        img_size=img_size,
        patch_size=patch_size,
        hidden_size=hidden_size,
        mlp_dim=mlp_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        masking_ratio=0.75,
        decoder_hidden_size=decoder_hidden_size,
        decoder_mlp_dim=2 * decoder_hidden_size,
        decoder_num_layers=decoder_num_layers,
        decoder_num_heads=4,
        spatial_dims=2,
    )


class FundusConvEncoder(nn.Module):
    """Convolutional encoder (MONAI residual units): (B, 3, S, S) -> (B, C, S/16, S/16) multi-scale patch features.

    Why convolutional and multi-scale: what stage 1 measures - whether a 16-px patch still shows thin, dark,
    well-contrasted vessels - is fine detail at 1-3 px.  The stride-4 and stride-8 stages are average-pooled onto the
    16-px grid and concatenated with the last stage, so each patch's feature keeps statistics of that detail rather
    than only its colour and brightness.

    Args:
        channels: widths of the stride-2 stem and of the three stride-2 stages (whose outputs are concatenated).
        img_size: nominal input side (inputs must be a multiple of 16).
    """

    def __init__(self, channels: tuple[int, ...] = (32, 48, 96, 128), img_size: int = 256) -> None:
        super().__init__()
        self.img_size = (img_size, img_size)
        self.stem = Convolution(2, 3, channels[0], strides=2, kernel_size=3, norm="batch", act="gelu")
        self.stages = nn.ModuleList(
            ResidualUnit(2, c_in, c_out, strides=2, subunits=2, norm="batch", act="gelu")
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        self.out_channels = sum(channels[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        feats = []
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        side = int(feats[-1].shape[-1])  # a plain int: TorchScript tracing cannot size a pool by a 0-d tensor
        return torch.cat([F.adaptive_avg_pool2d(f, (side, side)) for f in feats], dim=1)


class ConvMIM(nn.Module):
    """SimMIM-style masked image modelling for :class:`FundusConvEncoder` (Xie et al., CVPR 2022): random 16-px
    patches of the photograph are blanked, the encoder sees the rest, and a linear 1x1 head predicts every patch's
    pixels; the loss is taken on the blanked patches.  Used only for pre-training: the encoder is kept, the head is
    dropped.  ``forward`` returns (prediction (B, N, 16*16*3) in patch order, mask (B, N))."""

    def __init__(self, encoder: FundusConvEncoder, patch_size: int = 16, mask_ratio: float = 0.5) -> None:
        super().__init__()
        self.encoder, self.patch_size, self.mask_ratio = encoder, (patch_size, patch_size), mask_ratio
        self.head = nn.Conv2d(encoder.out_channels, patch_size * patch_size * 3, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.patch_size[0]
        b, _, h, w = x.shape
        n = (h // p) * (w // p)
        ranks = torch.rand(b, n, device=x.device).argsort(dim=1).argsort(dim=1)
        mask = (ranks < int(round(self.mask_ratio * n))).float()
        pixel_mask = mask.reshape(b, 1, h // p, w // p).repeat_interleave(p, 2).repeat_interleave(p, 3)
        pred = self.head(self.encoder(x * (1 - pixel_mask)))  # (B, p*p*3, h/p, w/p): channel = (row, col, colour)
        return pred.flatten(2).transpose(1, 2), mask


class PatchFeatureEncoder(nn.Module):
    """A frozen backbone seen as ``(B, 3, S, S) -> (B, C, h, w)`` patch features.

    Args:
        backbone: a ``MaskedAutoEncoderViT`` (its encoder is used, without masking), or any module whose forward
            returns a (B, C, h, w) map, a (B, N, C) token sequence (a square grid, optionally with one leading class
            token), or a list/tuple of those (the last is used).
        checkpoint: optional local state dict for the backbone (``weights_only=True``); keys of a full MAE
            checkpoint are accepted as they are.
        out_channels: the feature width C (inferred from a dummy forward when None).
        img_size: the input side the backbone expects (a MAE ViT's own size wins); callers resize to it.
        layers: for a MAE ViT, the transformer blocks whose outputs are concatenated (``-1`` = the final,
            normalised output).  Intermediate blocks keep the local, low-level detail quality depends on.
    """

    def __init__(
        self,
        backbone: nn.Module,
        checkpoint: str | None = None,
        out_channels: int | None = None,
        img_size: int = 256,
        layers: tuple[int, ...] = (-1,),
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        if checkpoint:
            load_weights(backbone, checkpoint)
        self.backbone = backbone.eval()
        self.input_size = int(backbone.img_size[0]) if isinstance(backbone, MaskedAutoEncoderViT) else img_size
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        if out_channels is None:
            with torch.no_grad():
                out_channels = int(self.forward(torch.zeros(1, 3, self.input_size, self.input_size)).shape[1])
        self.out_channels = out_channels

    def train(self, mode: bool = True) -> PatchFeatureEncoder:
        super().train(mode)
        self.backbone.eval()  # frozen: BatchNorm/dropout stay in inference mode
        return self

    @staticmethod
    def _tokens_to_map(tokens: torch.Tensor) -> torch.Tensor:
        n = int(tokens.shape[1])
        side = math.isqrt(n)
        if side * side != n:  # a leading class token
            tokens, side = tokens[:, 1:], math.isqrt(n - 1)
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.backbone
        if isinstance(b, MaskedAutoEncoderViT):
            tokens = torch.cat((b.cls_token.expand(x.shape[0], -1, -1), b.patch_embedding(x)), dim=1)
            outputs = []
            for block in b.blocks:  # the transformer blocks, then the final LayerNorm
                tokens = block(tokens)
                outputs.append(tokens)
            picked = [outputs[i] for i in self.layers]
            return self._tokens_to_map(torch.cat(picked, dim=-1)[:, 1:])
        out = b(x)
        out = out[-1] if isinstance(out, (list, tuple)) else out
        return self._tokens_to_map(out) if out.ndim == 3 else out


class FundusDetailStats(nn.Module):
    """Fixed (parameter-free) per-patch statistics of fine detail: ``(B, 3, S, S) -> (B, 20, S/16, S/16)``.

    Why: what stage 1 measures - whether a 16-px patch still shows thin, dark, contrasted vessels - is detail at 1-8
    px, and a frozen encoder pre-trained without labels on 20 real eyes keeps too little of it (stage 2 localised
    blur at AUROC 0.57 on DRIVE test).  These are the classical measures of that detail (a difference-of-Gaussians
    pyramid, as in NR-IQA's band-pass statistics), computed the same way on every photograph, so they cannot overfit
    the few training eyes.  Per patch, on the green channel (where vessels have their contrast) of the input in
    [0, 1] (:func:`~monai_fiqa.efiqa.vessel_segmentation.to_input`, inverted): for each of 4 bands ``G_s - G_2s``
    (MONAI's Gaussian kernels; s = 0, 1, 2, 4 px; ``G_0`` = the image), the log mean magnitude and the log mean of its
    dark (negative) part, each absolute and relative to the local brightness (darkness lowers contrast in absolute terms
    only); then the log mean of R, G, B and the log standard deviation of G.
    """

    def __init__(self, patch: int = 16) -> None:
        super().__init__()
        self.patch = patch
        # MONAI's Gaussian kernels (truncated at 4 sigma), built once: GaussianFilter rebuilds its kernel on every
        # call, a quarter of the blurs' time in stage 2
        self.kernels = [gaussian_1d(torch.tensor(s), truncated=4.0) for s in (1.0, 2.0, 4.0, 8.0)]
        self.out_channels = 20

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps, pool = 1e-3, lambda t: F.avg_pool2d(t, self.patch)  # noqa: E731
        rgb = (x * 0.25 + 0.5).clamp(0.0, 1.0)
        g = rgb[:, 1:2]
        levels = [g] + [separable_filtering(g, [k.to(g), k.to(g)]) for k in self.kernels]
        bright = pool(levels[-1]) + eps
        feats = []
        for fine, coarse in zip(levels[:-1], levels[1:], strict=True):
            band = fine - coarse
            energy, dark = pool(band.abs()), pool(F.relu(-band))
            feats += [energy, dark, energy / bright, dark / bright]
        std = (pool(g * g) - pool(g) ** 2).clamp_min(0.0).sqrt()
        return torch.log(torch.cat([*feats, pool(rgb), std], dim=1) + eps)


class EFIQAAdapter(nn.Module):
    """Stage 2: a shallow head over frozen patch features -> patch quality map in (0, 1), 1 = good.

    Args:
        encoder: a :class:`PatchFeatureEncoder`.
        grid: output map side; features are resized to it when the encoder's grid differs.
        hidden: width of one hidden layer (0: a single linear 1x1 convolution).
        kernel: the hidden layer's kernel (3: each patch is judged beside its 8 neighbours, as stage 1 compares a
            patch's vessels with what its surroundings imply; 1: each patch alone).
        detail: append :class:`FundusDetailStats` (fixed, computed at the input's resolution) to the encoder's
            features.
        encoder_dropout: in training only, the share of the *encoder's* channels dropped (whole channels, per
            photograph).  Why: a head fitted on 16 eyes leans on encoder features that identify those eyes; on
            held-out eyes the encoder's features alone agreed with stage 1 at 0.25 (bundle docs).
    """

    def __init__(
        self,
        encoder: PatchFeatureEncoder,
        grid: int = 16,
        hidden: int = 0,
        kernel: int = 1,
        detail: bool = False,
        encoder_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder, self.grid, self.encoder_dropout = encoder, grid, encoder_dropout
        self.detail = FundusDetailStats(patch=int(encoder.input_size) // grid) if detail else None
        c = encoder.out_channels + (self.detail.out_channels if self.detail is not None else 0)
        # fixed feature standardisation learned with the head (running statistics); per-image normalisation would
        # erase exactly the global changes (a uniformly dark or hazy photograph) the map must show
        self.norm = nn.BatchNorm2d(c, affine=False)
        self.head = (
            nn.Sequential(nn.Conv2d(c, hidden, kernel, padding=kernel // 2), nn.GELU(), nn.Conv2d(hidden, 1, 1))
            if hidden
            else nn.Conv2d(c, 1, 1)
        )

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen (B, C, grid, grid) features the head reads: the encoder's, then the fixed detail statistics."""
        f = self.encoder(x)
        if f.shape[-1] != self.grid:
            f = F.interpolate(f, size=(self.grid, self.grid), mode="bilinear", align_corners=False)
        return f if self.detail is None else torch.cat([f, self.detail(x)], dim=1)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The trainable part: standardisation, encoder-channel dropout (training only), head -> (B, 1, g, g)."""
        f = self.norm(features)
        if self.training and self.encoder_dropout > 0:
            c = self.encoder.out_channels
            f = torch.cat([F.dropout2d(f[:, :c], self.encoder_dropout, training=True), f[:, c:]], dim=1)
        return self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(self.features(x)))
