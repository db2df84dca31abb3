"""MedIQA: MANIQA-style CT/MR quality network with a prompt injected into every Swin block.

Pipeline (MANIQA, Yang et al. 2022, as adapted by MedIQA, Xun et al.):

1. **ViT features** - fixed local statistics (residual and local standard deviation, :class:`LocalStatistics`)
   are appended to the input, then a convolutional patch embedding (stride 16 in the compact default, 8 in the full
   size; early convolutions make a ViT trainable from scratch on a small set, Xiao et al. 2021) and MONAI
   ``TransformerBlock`` layers; the outputs of the last four layers are concatenated along channels, as MANIQA
   concatenates four ViT-B/8 layers.
2. **Transposed attention (TAB)** - attention across *channels* (C x C, L2-normalised queries/keys, learnable
   temperature) mixes the multi-layer features globally; a 1 x 1 projection reduces them to the Swin width.
3. **Swin blocks** (MONAI ``SwinTransformerBlock``, shifted windows), two stages with a TAB between them; before
   every block the prompt embedding (dimension, modality, anatomy, image type, plus the acquired in-plane matrix)
   modulates the tokens (FiLM: ``x * (1 + gamma) + beta``, zero-initialised so an untrained prompt changes nothing).
4. **Dual branch** - per-patch score ``s`` (sigmoid x 100) and per-patch weight ``w`` (sigmoid); the image score is
   ``sum(s * w) / sum(w)``.  ``s`` is the quality map, ``w`` where the network found evidence.

Extra heads on the weighted-pooled features: artefact severities (the physics pre-training target, kept because the
SR reports them), and a prompt-free modality/anatomy predictor on the ViT features (used when headers are missing,
and to flag a prompt that contradicts the pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from monai.networks.blocks import TransformerBlock
from monai.networks.nets.swin_unetr import SwinTransformerBlock, compute_mask
from torch import nn

from monai_fiqa.ctmr.preprocessing import INPUT_SIZE
from monai_fiqa.ctmr.prompts import ANATOMIES, DIMENSIONS, IMAGE_TYPES, MODALITIES

__all__ = ["MedIQA", "MedIQAOutput"]

PREDICTED_MODALITIES = ("CT", "MR")
PREDICTED_ANATOMIES = ("head", "chest", "abdomen", "pelvis", "other")
MATRIX_REF = float(INPUT_SIZE)  # px; the matrix condition is log2(matrix / MATRIX_REF)


def _zero_if_missing(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
    """Load-state pre-hook: a checkpoint without this layer (saved before it existed) loads it as zeros."""
    for name, param in module.named_parameters(recurse=False):
        state_dict.setdefault(prefix + name, torch.zeros_like(param))


@dataclass
class MedIQAOutput:
    """Everything one forward pass gives.

    Attributes:
        score: (B,) 0-100.
        patch_scores: (B, h, w) per-patch scores 0-100 (the quality map).
        patch_weights: (B, h, w) in (0, 1).
        severity: (B, n_artefacts) predicted artefact severities in [0, 1].
        modality_logits: (B, 2) over ("CT", "MR").
        anatomy_logits: (B, 5) over ("head", "chest", "abdomen", "pelvis", "other").
    """

    score: torch.Tensor
    patch_scores: torch.Tensor
    patch_weights: torch.Tensor
    severity: torch.Tensor
    modality_logits: torch.Tensor
    anatomy_logits: torch.Tensor


class ConvPatchEmbed(nn.Sequential):
    """A stride-1 convolution then ``n_down`` stride-2 3 x 3 convolutions: (B, in, H, W) -> (B, dim, H/2^n, W/2^n).

    The full-resolution layer sees noise texture and fine edges before anything is averaged away; widths double
    from ``dim / 2^(n_down - 1)`` (at least 24) so that layer stays cheap.  BatchNorm, not a per-sample norm: noise
    level and contrast are absolute quantities a quality model must be able to read.
    """

    def __init__(self, in_chans: int, dim: int, n_down: int = 3) -> None:
        widths = [max(dim // 2 ** (n_down - 1 - i), 24) for i in range(n_down - 1)] + [dim]
        layers: list[nn.Module] = [nn.Conv2d(in_chans, widths[0], 3, padding=1), nn.BatchNorm2d(widths[0]), nn.GELU()]
        chans = [widths[0], *widths]
        for i in range(n_down):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1), nn.BatchNorm2d(chans[i + 1])]
            if i < n_down - 1:
                layers.append(nn.GELU())
        super().__init__(*layers)


class LocalStatistics(nn.Module):
    """Fixed (not learned) local residual and local standard deviation of channel 0, appended as two channels.

    Why: noise level and sharpness are local second-order statistics.  A network trained from scratch on a CPU
    budget learns them slowly (the first MedIQA runs learned MR background noise but left CT dose noise - which
    lives inside textured tissue - at chance for 300 steps); NR-IQA networks have long fed such normalised local
    statistics (Kang et al. 2014; BRISQUE's MSCN).  A 7 x 7 Gaussian (sigma 7/6) gives the local mean ``mu``; the
    extra channels are ``4 (x - mu)`` and ``4 sqrt(G * x^2 - mu^2)``.
    """

    def __init__(self, size: int = 7, sigma: float = 7.0 / 6.0) -> None:
        super().__init__()
        r = torch.arange(size, dtype=torch.float32) - size // 2
        g = torch.exp(-(r**2) / (2 * sigma**2))
        k = g[:, None] * g[None, :]
        self.register_buffer("kernel", (k / k.sum())[None, None], persistent=False)
        self.pad = size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = x[:, :1]
        mu = F.conv2d(F.pad(x0, [self.pad] * 4, mode="reflect"), self.kernel)
        sq = F.conv2d(F.pad(x0 * x0, [self.pad] * 4, mode="reflect"), self.kernel)
        sd = (sq - mu * mu).clamp_min(1e-8).sqrt()
        return torch.cat([x, 4.0 * (x0 - mu), 4.0 * sd], dim=1)


class TransposedAttention(nn.Module):
    """Channel (transposed) self-attention with a residual MLP, on (B, N, C) tokens; independent of N."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(self.norm1(x)), "b n (three h c) -> three b h c n", three=3, h=self.heads)
        attn = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)) * self.temperature
        out = rearrange(attn.softmax(dim=-1) @ v, "b h c n -> b n (h c)")
        x = x + self.proj(out)
        return x + self.mlp(self.norm2(x))


class PromptedSwinStage(nn.Module):
    """Shifted-window blocks with FiLM prompt modulation before each block; (B, h, w, C) tokens in and out."""

    def __init__(self, dim: int, depth: int, num_heads: int, window: int, prompt_dim: int) -> None:
        super().__init__()
        self.window = (window, window)
        self.shift = (window // 2, window // 2)
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(dim, num_heads, self.window, (0, 0) if i % 2 == 0 else self.shift)
            for i in range(depth)
        )
        self.films = nn.ModuleList(nn.Linear(prompt_dim, 2 * dim) for _ in range(depth))
        for film in self.films:
            nn.init.zeros_(film.weight)
            nn.init.zeros_(film.bias)

    def forward(self, x: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1:3]
        mask = compute_mask([h, w], self.window, self.shift, x.device)
        for block, film in zip(self.blocks, self.films, strict=True):
            gamma, beta = film(prompt)[:, None, None, :].chunk(2, dim=-1)
            x = block(x * (1.0 + gamma) + beta, mask)
        return x


class MedIQA(nn.Module):
    """CT/MR quality network (see the module docstring).

    Args:
        in_chans: input channels (2: two intensity windows, see ``monai_fiqa.ctmr.preprocessing``).
        patch_down: stride-2 convolutions in the patch embedding (patch size 2^patch_down).
        vit_dim: ViT width.
        vit_depth: ViT layers (the last four are concatenated).
        vit_heads: ViT attention heads.
        swin_dim: Swin width.
        swin_depths: blocks per Swin stage (two stages).
        swin_heads: Swin attention heads.
        window: Swin window in tokens (the token grid must be a multiple of it: 12 at 192 px and patch 16).
        prompt_dim: prompt embedding width.
        n_artefacts: severity outputs (the artefact registry size).
    """

    def __init__(
        self,
        in_chans: int = 2,
        patch_down: int = 4,
        vit_dim: int = 128,
        vit_depth: int = 4,
        vit_heads: int = 4,
        swin_dim: int = 128,
        swin_depths: tuple[int, int] = (2, 2),
        swin_heads: int = 4,
        window: int = 6,
        prompt_dim: int = 64,
        n_artefacts: int = 9,
        max_tokens: int = 64,
    ) -> None:
        super().__init__()
        self.local = LocalStatistics()
        self.patch = ConvPatchEmbed(in_chans + 2, vit_dim, patch_down)
        self.pos = nn.Parameter(torch.zeros(1, vit_dim, max_tokens, max_tokens))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.vit = nn.ModuleList(
            TransformerBlock(vit_dim, 4 * vit_dim, vit_heads, qkv_bias=True) for _ in range(vit_depth)
        )
        self.n_concat = min(4, vit_depth)
        cat = vit_dim * self.n_concat
        self.tab1 = TransposedAttention(cat, vit_heads)
        self.reduce1 = nn.Linear(cat, swin_dim)
        self.tab2 = TransposedAttention(swin_dim, swin_heads)
        self.reduce2 = nn.Linear(swin_dim, swin_dim)
        self.prompt_tables = nn.ModuleList(
            nn.Embedding(len(v), prompt_dim) for v in (DIMENSIONS, MODALITIES, ANATOMIES, IMAGE_TYPES)
        )
        # acquired in-plane matrix (log2 of px / 192, and a "known" flag) -> prompt space; zero-initialised and
        # filled with zeros when a checkpoint predates it, so an unknown matrix leaves the prompt as it was
        self.matrix_embed = nn.Linear(2, prompt_dim, bias=False)
        nn.init.zeros_(self.matrix_embed.weight)
        self.matrix_embed.register_load_state_dict_pre_hook(_zero_if_missing)
        self.swin = nn.ModuleList(PromptedSwinStage(swin_dim, d, swin_heads, window, prompt_dim) for d in swin_depths)
        self.norm = nn.LayerNorm(swin_dim)
        self.score_head = nn.Sequential(nn.Linear(swin_dim, swin_dim), nn.GELU(), nn.Linear(swin_dim, 1))
        self.weight_head = nn.Sequential(nn.Linear(swin_dim, swin_dim), nn.GELU(), nn.Linear(swin_dim, 1))
        self.severity_head = nn.Sequential(nn.Linear(swin_dim, swin_dim), nn.GELU(), nn.Linear(swin_dim, n_artefacts))
        self.modality_head = nn.Linear(vit_dim, len(PREDICTED_MODALITIES))
        self.anatomy_head = nn.Linear(vit_dim, len(PREDICTED_ANATOMIES))

    def embed_prompt(self, prompt: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """(B, 4) prompt ids (None: 2D / all unknown) -> (B, prompt_dim)."""
        if prompt is None:
            prompt = torch.zeros(batch, 4, dtype=torch.long, device=device)
        return sum(table(prompt[:, i]) for i, table in enumerate(self.prompt_tables))

    def embed_matrix(self, matrix: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """(B,) acquired in-plane matrix in px (NaN or None: unknown) -> (B, prompt_dim).

        Why: every slice is resampled to the network grid, so a clean 64-px acquisition upsampled 3x and a
        Gibbs-ringed or undersampled 256-px one look alike; only the native matrix tells them apart.  The condition
        is log2(matrix / 192) clamped to [-2, 0]: a matrix at or above the grid is downsampled to it, which hides
        the difference (and training matrices stop at 320 px while CT is 512), and 48 px is the smallest trained.
        """
        if matrix is None:
            matrix = torch.full((batch,), float("nan"), device=device)
        known = torch.isfinite(matrix)
        zoom = torch.log2(torch.nan_to_num(matrix, nan=MATRIX_REF).clamp_min(1.0) / MATRIX_REF).clamp(-2.0, 0.0)
        return self.matrix_embed(torch.stack([zoom * known, known.float()], dim=1))

    def forward_all(
        self, x: torch.Tensor, prompt: torch.Tensor | None = None, matrix: torch.Tensor | None = None
    ) -> MedIQAOutput:
        """(B, in_chans, H, W) with H, W multiples of patch size x window -> :class:`MedIQAOutput`.

        ``prompt``: (B, 4) ids (None: all unknown); ``matrix``: (B,) acquired in-plane matrix, px (None: unknown).
        """
        feats = self.patch(self.local(x))
        b, _, h, w = feats.shape
        pos = self.pos if (h, w) == self.pos.shape[2:] else F.interpolate(self.pos, (h, w), mode="bilinear")
        tokens = rearrange(feats + pos, "b c h w -> b (h w) c")
        layers = []
        for block in self.vit:
            tokens = block(tokens)
            layers.append(tokens)
        vit_pooled = tokens.mean(dim=1)
        t = self.reduce1(self.tab1(torch.cat(layers[-self.n_concat :], dim=-1)))
        p = self.embed_prompt(prompt, b, x.device) + self.embed_matrix(matrix, b, x.device)
        t = self.swin[0](rearrange(t, "b (h w) c -> b h w c", h=h), p)
        t = self.reduce2(self.tab2(rearrange(t, "b h w c -> b (h w) c")))
        t = self.norm(self.swin[1](rearrange(t, "b (h w) c -> b h w c", h=h), p))
        s = torch.sigmoid(self.score_head(t))[..., 0] * 100.0
        wgt = torch.sigmoid(self.weight_head(t))[..., 0]
        norm = wgt.sum(dim=(1, 2)).clamp_min(1e-6)
        score = (s * wgt).sum(dim=(1, 2)) / norm
        pooled = (t * wgt[..., None]).sum(dim=(1, 2)) / norm[:, None]
        return MedIQAOutput(
            score=score,
            patch_scores=s,
            patch_weights=wgt,
            severity=torch.sigmoid(self.severity_head(pooled)),
            modality_logits=self.modality_head(vit_pooled),
            anatomy_logits=self.anatomy_head(vit_pooled),
        )

    def forward(self, x: torch.Tensor, prompt: torch.Tensor | None = None) -> torch.Tensor:
        """Score only, (B, 1) in 0-100: the traceable entry point used by ``ckpt_export`` and ``verify_net_in_out``."""
        return self.forward_all(x, prompt).score[:, None]
