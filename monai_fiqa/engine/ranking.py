"""Ranking supervision: batches that hold several copies of one source, and a pairwise margin loss within them.

Why: the question every quality ladder asks is "of two copies of the same picture, which is worse?".  A regression
loss on the absolute score mixes that question with "how good does this *content* look", which a network trained
from scratch on a few dozen sources answers by memorising the sources.  Inside a group of copies of one source the
content cancels, so the pairwise loss teaches only the degradation (RankIQA, Liu et al. 2017).  The absolute score
is still taught by the regression loss that runs beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["NO_GROUP", "SourceGroupedBatchSampler", "pairwise_rank_loss", "source_groups"]

NO_GROUP = -1  # an item that must not be compared with any other (e.g. a window view: other content)


def source_groups(sources: Sequence[str]) -> list[int]:
    """One integer per item: equal for items made from the same source (first-seen order)."""
    ids: dict[str, int] = {}
    return [ids.setdefault(s, len(ids)) for s in sources]


class SourceGroupedBatchSampler(Sampler[list[int]]):
    """Batches of ``batch_size`` indices made of anchors drawn uniformly plus up to ``group_size - 1`` siblings each.

    Every item is as likely to be an anchor as with plain shuffling (so a source with many copies is not
    over-represented), and each anchor brings copies of its own source into the batch for
    :func:`pairwise_rank_loss`.  One pass yields ``len(groups) // batch_size`` batches.

    Args:
        groups: the source id of every item (:func:`source_groups`).
        batch_size: indices per batch.
        group_size: copies of one source per batch (anchor included); a source with fewer copies gives what it has.
        seed: seed of the sampler; re-seeded per pass so that passes differ but a run is reproducible.
    """

    def __init__(self, groups: Sequence[int], batch_size: int, group_size: int, seed: int = 0) -> None:
        if group_size < 2 or group_size > batch_size:
            raise ValueError(f"group_size must be in [2, batch_size={batch_size}], got {group_size}")
        self.batch_size, self.group_size = batch_size, group_size
        self.groups = list(groups)
        self.members: dict[int, list[int]] = defaultdict(list)
        for i, g in enumerate(self.groups):
            self.members[g].append(i)
        self.n = len(self.groups)
        self.seed, self.passes = seed, 0

    def __len__(self) -> int:
        return self.n // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.passes])
        self.passes += 1
        anchors = iter(rng.permutation(self.n))
        for _ in range(len(self)):
            batch: list[int] = []
            while len(batch) < self.batch_size:
                anchor = next(anchors, None)
                anchor = int(rng.integers(self.n) if anchor is None else anchor)
                if anchor in batch:
                    continue
                siblings = [i for i in self.members[self.groups[anchor]] if i != anchor and i not in batch]
                room = min(self.group_size, self.batch_size - len(batch)) - 1
                take = rng.choice(siblings, min(room, len(siblings)), replace=False).tolist() if siblings else []
                batch += [anchor, *take]
            yield batch


def pairwise_rank_loss(
    scores: torch.Tensor,
    targets: torch.Tensor,
    groups: torch.Tensor,
    min_gap: float | torch.Tensor = 0.02,
    max_margin: float = 0.1,
) -> torch.Tensor:
    """Mean hinge ``relu(margin - (s_i - s_j))`` over pairs of one group whose targets differ by more than ``min_gap``.

    ``i`` is the better item of the pair (higher target).  The margin is the true gap, capped at ``max_margin``:
    a pair that differs a lot must be separated more, but never by more than the score range can afford.  Items
    whose group is :data:`NO_GROUP` take part in no pair.  Returns 0 (with a gradient path) when no pair qualifies.

    Args:
        scores: (B,) predicted scores (higher = better).
        targets: (B,) true scores on the same scale.
        groups: (B,) integer source ids.
        min_gap: target differences at or below this are ties and not ranked; a (B,) tensor gives each item's
            group its own threshold (the better item's value is used), for groups whose labels are finer than
            others'.
        max_margin: cap of the margin.
    """
    scores, targets = scores.reshape(-1).float(), targets.reshape(-1).float()
    groups = groups.reshape(-1)
    gap = targets[:, None] - targets[None, :]
    tie = min_gap.reshape(-1, 1).to(gap) if isinstance(min_gap, torch.Tensor) else min_gap
    pairs = (groups[:, None] == groups[None, :]) & (groups[:, None] != NO_GROUP) & (gap > tie)
    if not bool(pairs.any()):
        return scores.sum() * 0.0
    margin = gap[pairs].clamp(max=max_margin)
    return torch.relu(margin - (scores[:, None] - scores[None, :])[pairs]).mean()
