"""A HyperIQA-style baseline (Su et al., CVPR 2020) on a ResNet-50, for side-by-side speed comparison only.

Built from MONAI's ResNet-50 with random weights (no pretrained weights can be downloaded here): local
distortion-aware (LDA) branches on layers 1-3 plus the pooled layer-4 vector form the target input (224-d);
a hypernetwork on layer 4 (adaptively pooled to 7x7, as at 224 px) generates the weights of a 224-112-56-28-14-1
target network per image.  Same input size as FTHNet (384 px) so the timing compares like with like.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.nets import resnet50
from torch import nn

__all__ = ["HyperIQABaseline"]


class HyperIQABaseline(nn.Module):
    def __init__(self, lda: int = 16, hyper_ch: int = 112, dims: tuple[int, ...] = (224, 112, 56, 28, 14, 1)) -> None:
        super().__init__()
        r = resnet50(spatial_dims=2, n_input_channels=3, num_classes=1, conv1_t_stride=2)  # torchvision-style stem
        self.stem = nn.Sequential(r.conv1, r.bn1, r.act, r.maxpool)
        self.layers = nn.ModuleList([r.layer1, r.layer2, r.layer3, r.layer4])
        self.lda = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, lda, 1), nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(lda * 49, lda * 4))
            for c in (256, 512, 1024)
        )
        self.lda4 = nn.Linear(2048, dims[0] - 3 * lda * 4)
        self.hyper = nn.Sequential(
            nn.Conv2d(2048, 1024, 1),
            nn.ReLU(),
            nn.Conv2d(1024, 512, 1),
            nn.ReLU(),
            nn.Conv2d(512, hyper_ch, 1),
            nn.ReLU(),
        )
        self.dims = dims
        self.w_gen = nn.ModuleList(
            nn.Conv2d(hyper_ch, -(-dims[i] * dims[i + 1] // 49), 3, padding=1) for i in range(len(dims) - 1)
        )
        self.b_gen = nn.ModuleList(nn.Linear(hyper_ch, dims[i + 1]) for i in range(len(dims) - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        vecs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < 3:
                vecs.append(self.lda[i](x))
        vecs.append(self.lda4(F.adaptive_avg_pool2d(x, 1).flatten(1)))
        q = torch.cat(vecs, 1).unsqueeze(-1)
        h = self.hyper(F.adaptive_avg_pool2d(x, 7))
        pooled = F.adaptive_avg_pool2d(h, 1).flatten(1)
        for i, (wg, bg) in enumerate(zip(self.w_gen, self.b_gen, strict=True)):
            n_in, n_out = self.dims[i], self.dims[i + 1]
            w = wg(h).flatten(1)[:, : n_in * n_out].view(-1, n_out, n_in)
            q = torch.bmm(w, q) + bg(pooled).unsqueeze(-1)
            if i < len(self.w_gen) - 1:
                q = torch.sigmoid(q)
        return q.squeeze(-1)
