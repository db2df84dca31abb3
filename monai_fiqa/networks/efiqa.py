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
from monai.networks.nets import MaskedAutoEncoderViT, UNet
from torch import nn

__all__ = ["EFIQAAdapter", "PatchFeatureEncoder", "fundus_mae", "vessel_inpainter", "vessel_unet"]


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
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            backbone.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
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


class EFIQAAdapter(nn.Module):
    """Stage 2: a 1x1 convolution over frozen patch features -> patch quality map in (0, 1), 1 = good.

    Args:
        encoder: a :class:`PatchFeatureEncoder`.
        grid: output map side; features are resized to it when the encoder's grid differs.
        hidden: width of one hidden 1x1 layer (0: a single linear 1x1 convolution).
    """

    def __init__(self, encoder: PatchFeatureEncoder, grid: int = 16, hidden: int = 0) -> None:
        super().__init__()
        self.encoder, self.grid = encoder, grid
        # fixed feature standardisation learned with the head (running statistics); per-image normalisation would
        # erase exactly the global changes (a uniformly dark or hazy photograph) the map must show
        self.norm = nn.BatchNorm2d(encoder.out_channels, affine=False)
        c = encoder.out_channels
        self.head = (
            nn.Sequential(nn.Conv2d(c, hidden, 1), nn.GELU(), nn.Conv2d(hidden, 1, 1)) if hidden else nn.Conv2d(c, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.encoder(x)
        if f.shape[-1] != self.grid:
            f = F.interpolate(f, size=(self.grid, self.grid), mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(self.norm(f)))
