"""Source-grouped batches and the pairwise ranking loss (monai_fiqa.engine.ranking)."""

from __future__ import annotations

import torch

from monai_fiqa.engine.ranking import NO_GROUP, SourceGroupedBatchSampler, pairwise_rank_loss, source_groups


def test_source_groups_are_equal_for_copies_of_one_source() -> None:
    assert source_groups(["a", "b", "a", "c", "b"]) == [0, 1, 0, 2, 1]


def test_batches_hold_groups_of_copies_and_every_index_is_valid() -> None:
    groups = [i // 5 for i in range(50)] + list(range(10, 20))  # ten sources of 5 copies, ten single images
    sampler = SourceGroupedBatchSampler(groups, batch_size=8, group_size=4, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 60 // 8
    for batch in batches:
        assert len(batch) == 8 and len(set(batch)) == 8 and all(0 <= i < 60 for i in batch)
    shared = sum(
        len(b) - len({groups[i] for i in b}) for b in batches
    )  # items that share a source with another item of their batch
    assert shared > len(batches)  # groups are formed, not just shuffled singles
    assert list(SourceGroupedBatchSampler(groups, 8, 4, seed=3)) == batches  # reproducible
    assert list(sampler) != batches  # the next pass differs


def test_rank_loss_is_zero_when_ordered_and_positive_when_reversed() -> None:
    targets = torch.tensor([0.9, 0.6, 0.3, 0.8])
    groups = torch.tensor([0, 0, 0, 1])
    assert pairwise_rank_loss(targets.clone(), targets, groups).item() == 0.0
    reversed_scores = torch.tensor([0.3, 0.6, 0.9, 0.0])
    assert pairwise_rank_loss(reversed_scores, targets, groups).item() > 0.2


def test_rank_loss_ignores_other_sources_ties_and_ungrouped_items() -> None:
    targets = torch.tensor([0.9, 0.2, 0.5, 0.5])
    scores = torch.tensor([0.1, 0.9, 0.4, 0.6])  # reversed, but across sources / ties / NO_GROUP
    groups = torch.tensor([0, 1, NO_GROUP, NO_GROUP])
    loss = pairwise_rank_loss(scores.requires_grad_(), targets, groups)
    assert loss.item() == 0.0
    loss.backward()  # still differentiable, so a batch without pairs does not break the step


def test_rank_loss_gradient_pushes_the_better_copy_up() -> None:
    scores = torch.tensor([0.4, 0.5], requires_grad=True)
    pairwise_rank_loss(scores, torch.tensor([0.8, 0.4]), torch.tensor([7, 7])).backward()
    assert scores.grad[0] < 0 < scores.grad[1]  # descending the loss raises the better one, lowers the worse


def test_a_per_item_tie_gap_ranks_fine_groups_and_leaves_coarse_ones_tied() -> None:
    targets = torch.tensor([0.91, 0.90, 0.91, 0.90])  # a 1-point gap in each group
    scores = torch.tensor([0.5, 0.6, 0.5, 0.6])  # reversed in both
    groups = torch.tensor([0, 0, 1, 1])
    assert pairwise_rank_loss(scores, targets, groups).item() == 0.0  # the default 2-point tie
    fine_first = torch.tensor([0.005, 0.005, 0.02, 0.02])
    loss = pairwise_rank_loss(scores.requires_grad_(), targets, groups, min_gap=fine_first)
    assert loss.item() > 0.1
    loss.backward()
    assert scores.grad[0] < 0 < scores.grad[1] and scores.grad[2] == scores.grad[3] == 0  # group 1 stays a tie
