"""The MedIQA accuracy benchmark's validation sources and target population (no network runs here)."""

from __future__ import annotations

import pytest

from benchmarks.mediqa_accuracy import HELD_OUT, VALIDATION_MATRIX, VALIDATION_UNSEEN, _mean_where, _validation_source
from monai_fiqa.ctmr.build import TRAIN_VOLUMES


@pytest.mark.parametrize("side", [256, 512, 1024])
def test_large_matrix_validation_slices_are_resampled_training_slices(side: int) -> None:
    vol = _validation_source(f"slice{side}:prostate_dwi.nii.gz")  # 84 x 128 px, 2 mm
    assert max(vol.array.shape[:2]) == side and vol.array.shape[2] == 1
    assert vol.spacing[1] == pytest.approx(2.0 * 128 / side, rel=0.02)  # the field of view is kept


def test_large_matrix_validation_uses_no_held_out_source() -> None:
    held_out = {name for name, *_ in HELD_OUT}
    assert not {spec.split(":", 1)[1] for spec, *_ in VALIDATION_MATRIX} & held_out


def test_the_target_population_leaves_out_flagged_small_sources() -> None:
    assert _mean_where([-1.0, 0.2, -0.8], [True, False, True]) == pytest.approx(-0.9)
    assert _mean_where([0.2], [False]) is None


def test_unseen_validation_is_neither_trained_on_nor_held_out() -> None:
    files = {spec.rpartition("/")[2] for spec, *_ in VALIDATION_UNSEEN}
    assert not files & {name.removeprefix("pydicom:") for name, *_ in HELD_OUT}
    assert not files & set(TRAIN_VOLUMES)
    vol = _validation_source("slice384:unseen/MR2_UNCR.dcm")  # the 1024-px shoulder at the prostate T2's matrix
    assert max(vol.array.shape[:2]) == 384 and vol.array.shape[2] == 1


def test_clean_grade_shares_count_flagged_sources_only_in_the_overall_share() -> None:
    from benchmarks.mediqa_clean_grades import SOURCES, shares

    rows = [
        {"grade": "good", "flagged": False},
        {"grade": "usable", "flagged": False},
        {"grade": "reject", "flagged": True},
    ]
    assert shares(rows) == {"good_all": 1 / 3, "good_graded": 0.5, "n_all": 3, "n_graded": 2}
    assert not {name for name, *_ in SOURCES} & set(TRAIN_VOLUMES)
