"""Tests for monai_fiqa.metrics: values against scipy / hand computation, cumulative == functional, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from monai_fiqa.metrics import (
    GradeAccuracyMetric,
    GradeAUROCMetric,
    KRCCMetric,
    PLCCMetric,
    ScoreRMSEMetric,
    SRCCMetric,
    grade_accuracy,
    grade_auroc,
    krcc,
    plcc,
    rmse,
    srcc,
)

FAST = settings(max_examples=50, deadline=None)


@pytest.fixture
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    target = rng.uniform(1, 5, size=40)
    pred = target + rng.normal(0, 0.7, size=40)
    return pred, target


# ---------------------------------------------------------------- functional values


def test_correlations_match_scipy(scores):
    pred, target = scores
    assert plcc(pred, target) == pytest.approx(stats.pearsonr(pred, target).statistic)
    assert srcc(pred, target) == pytest.approx(stats.spearmanr(pred, target).statistic)
    assert krcc(pred, target) == pytest.approx(stats.kendalltau(pred, target).statistic)
    assert rmse(pred, target) == pytest.approx(math.sqrt(np.mean((pred - target) ** 2)))


def test_hand_computed_values():
    # pred = [1, 2, 3], target = [1, 3, 2]: ranks differ by one swap.
    assert srcc([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)  # 1 - 6 * 2 / (3 * 8)
    assert krcc([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)  # (2 concordant - 1 discordant) / 3 pairs
    assert plcc([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert plcc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert rmse([0, 0, 0, 0], [1, -1, 1, -1]) == pytest.approx(1.0)


def test_accepts_lists_numpy_and_tensors(scores):
    pred, target = scores
    expected = srcc(pred, target)
    assert srcc(list(pred), list(target)) == pytest.approx(expected)
    assert srcc(torch.tensor(pred, requires_grad=True), torch.tensor(target)) == pytest.approx(expected)


def test_constant_input_gives_nan():
    for fn in (plcc, srcc, krcc):
        assert math.isnan(fn([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
        assert math.isnan(fn([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]))
    assert math.isnan(plcc([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], logistic=True))


@pytest.mark.parametrize("fn", [plcc, srcc, krcc, rmse])
def test_invalid_input_raises(fn):
    with pytest.raises(ValueError, match="same length"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite"):
        fn([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="non-finite"):
        fn([1.0, 2.0, 3.0], [1.0, float("inf"), 3.0])
    with pytest.raises(ValueError, match="1-D"):
        fn(np.ones((2, 2)), np.ones((2, 2)))


@pytest.mark.parametrize("fn", [plcc, srcc, krcc])
def test_correlation_needs_two_samples(fn):
    with pytest.raises(ValueError, match="at least 2"):
        fn([1.0], [1.0])


def test_logistic_plcc_improves_on_monotone_nonlinear_relation():
    x = np.linspace(-4, 4, 60)
    target = 1 + 4 / (1 + np.exp(-2 * x))  # sigmoid MOS curve
    linear, mapped = plcc(x, target), plcc(x, target, logistic=True)
    assert mapped >= linear
    assert mapped == pytest.approx(1.0, abs=1e-6)
    # A decreasing relation is fitted by a decreasing logistic, so the mapped predictions agree with the target.
    assert plcc(-x, target) < 0
    assert plcc(-x, target, logistic=True) == pytest.approx(1.0, abs=1e-6)


def test_logistic_plcc_falls_back_when_fit_fails(scores, monkeypatch):
    from monai_fiqa.metrics import functional

    def fail(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(functional.optimize, "curve_fit", fail)
    pred, target = scores
    assert plcc(pred, target, logistic=True) == pytest.approx(plcc(pred, target))


def test_logistic_plcc_is_finite_on_noisy_data(scores):
    pred, target = scores
    value = plcc(pred, target, logistic=True)
    assert -1.0 <= value <= 1.0
    assert value >= plcc(pred, target) - 1e-6


def test_grade_accuracy_known_example():
    assert grade_accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(0.75)
    assert grade_accuracy(["good", "usable", "reject"], ["good", "reject", "reject"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="same length"):
        grade_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="non-finite"):
        grade_accuracy([0.0, float("nan")], [0.0, 1.0])


def test_grade_auroc_perfect_and_reversed():
    target = np.array([0, 1, 2, 0, 1, 2])
    onehot = np.eye(3)[target]
    assert grade_auroc(onehot, target) == pytest.approx(1.0)
    assert grade_auroc(1 - onehot, target) == pytest.approx(0.0)
    # Binary problem with 1-D positive-class scores.
    assert grade_auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == pytest.approx(1.0)
    assert grade_auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == pytest.approx(0.0)


def test_grade_auroc_string_classes_and_hand_value():
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.2, 0.8]])
    target = ["good", "good", "bad", "bad"]
    # Column 1 ("bad") ranks bad samples (0.4, 0.8) vs good (0.1, 0.6): 3 of 4 pairs correct -> 0.75 per class.
    assert grade_auroc(scores, target, classes=["good", "bad"]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="not in classes"):
        grade_auroc(scores, ["good", "good", "bad", "ugly"], classes=["good", "bad"])
    with pytest.raises(ValueError, match="class labels"):
        grade_auroc(scores, target, classes=["good", "bad", "ugly"])
    with pytest.raises(ValueError, match="same length"):
        grade_auroc(scores, target[:3], classes=["good", "bad"])


# ---------------------------------------------------------------- cumulative == functional


def _batches(*arrays: np.ndarray, sizes=(7, 13, 1, 19)):
    start = 0
    for size in sizes:
        yield tuple(torch.as_tensor(a[start : start + size]) for a in arrays)
        start += size


@pytest.mark.parametrize(
    ("metric", "fn"),
    [
        (PLCCMetric(), plcc),
        (PLCCMetric(logistic=True), lambda p, t: plcc(p, t, logistic=True)),
        (SRCCMetric(), srcc),
        (KRCCMetric(), krcc),
        (ScoreRMSEMetric(), rmse),
    ],
)
def test_score_metrics_accumulate_over_batches(metric, fn, scores):
    pred, target = scores
    for i, (p, t) in enumerate(_batches(pred, target)):
        if i % 2:  # mix (B,) and (B, 1) shapes
            p, t = p[:, None], t[:, None]
        metric(y_pred=p, y=t)
    assert metric.aggregate() == pytest.approx(fn(pred, target))
    metric.reset()
    with pytest.raises(ValueError, match="no data"):
        metric.aggregate()
    # After reset only the new batch counts.
    metric(y_pred=torch.as_tensor(pred[:10]), y=torch.as_tensor(target[:10]))
    assert metric.aggregate() == pytest.approx(fn(pred[:10], target[:10]))


def test_score_metric_rejects_bad_shapes():
    metric = SRCCMetric()
    with pytest.raises(ValueError, match=r"\(B,\) or \(B, 1\)"):
        metric(y_pred=torch.rand(4, 3), y=torch.rand(4))
    with pytest.raises(ValueError, match="batch size"):
        metric(y_pred=torch.rand(4), y=torch.rand(3))
    with pytest.raises(ValueError, match="needs targets"):
        metric(y_pred=torch.rand(4))


def test_grade_metrics_accumulate_over_batches():
    rng = np.random.default_rng(1)
    target = np.arange(40) % 4
    probs = rng.dirichlet(np.ones(4), size=40) + 0.5 * np.eye(4)[target]
    acc, auroc, auroc_onehot = GradeAccuracyMetric(), GradeAUROCMetric(), GradeAUROCMetric()
    for p, t in _batches(probs, target):
        acc(y_pred=p, y=t)
        auroc(y_pred=p, y=t)
        auroc_onehot(y_pred=p, y=torch.nn.functional.one_hot(t, num_classes=4))
    assert acc.aggregate() == pytest.approx(grade_accuracy(probs.argmax(1), target))
    assert auroc.aggregate() == pytest.approx(grade_auroc(probs, target))
    assert auroc_onehot.aggregate() == pytest.approx(grade_auroc(probs, target))
    acc.reset()
    acc(y_pred=torch.tensor([0, 1, 2, 2]), y=torch.tensor([[0], [1], [1], [2]]))
    assert acc.aggregate() == pytest.approx(0.75)


def test_grade_auroc_metric_custom_classes_and_binary():
    metric = GradeAUROCMetric(classes=[1, 2, 3])
    metric(y_pred=torch.eye(3), y=torch.tensor([1, 2, 3]))
    metric(y_pred=torch.eye(3), y=torch.tensor([1, 2, 3]))
    assert metric.aggregate() == pytest.approx(1.0)
    binary = GradeAUROCMetric()
    binary(y_pred=torch.tensor([0.1, 0.9]), y=torch.tensor([0, 1]))
    binary(y_pred=torch.tensor([[0.7], [0.2]]), y=torch.tensor([1, 0]))
    assert binary.aggregate() == pytest.approx(1.0)


# ---------------------------------------------------------------- properties

_finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
_pairs = st.integers(min_value=3, max_value=30).flatmap(
    lambda n: st.tuples(st.lists(_finite, min_size=n, max_size=n), st.lists(_finite, min_size=n, max_size=n))
)
_grid = st.integers(min_value=-1000, max_value=1000)
_grid_pairs = st.integers(min_value=3, max_value=30).flatmap(
    lambda n: st.tuples(st.lists(_grid, min_size=n, max_size=n), st.lists(_grid, min_size=n, max_size=n))
)
_monotone = st.sampled_from([np.exp, np.cbrt, np.arctan, lambda x: 3 * x - 7, lambda x: x**3 + x])


def _is_valid_correlation(value: float) -> bool:
    return math.isnan(value) or -1.0 <= value <= 1.0


@FAST
@given(_grid_pairs, _monotone)
def test_rank_correlations_invariant_to_monotone_transform(pair, transform):
    pred, target = (np.asarray(v) / 100.0 for v in pair)  # a 0.01 grid in [-10, 10]: transforms keep values distinct
    transformed = transform(pred)
    assert len(np.unique(transformed)) == len(np.unique(pred))  # same ties, so only the monotone map differs
    for fn in (srcc, krcc):
        a, b = fn(pred, target), fn(transformed, target)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9)


@FAST
@given(_pairs)
def test_plcc_is_a_valid_correlation(pair):
    pred, target = pair
    assert _is_valid_correlation(plcc(pred, target))
    assert _is_valid_correlation(srcc(pred, target))
    assert _is_valid_correlation(krcc(pred, target))


@FAST
@given(_pairs)
def test_rmse_zero_iff_equal(pair):
    pred, target = pair
    assert rmse(pred, pred) == 0.0
    assert rmse(pred, target) >= 0.0
    assert (rmse(pred, target) == 0.0) == (pred == target)


def test_pixel_auroc_scores_how_well_a_map_points_at_the_region():
    from monai_fiqa.metrics.functional import pixel_auroc

    yy, xx = np.mgrid[:40, :40]
    within = (yy - 20) ** 2 + (xx - 20) ** 2 < 18**2
    region = within & (xx < 15)
    badness = (40 - xx).astype(np.float32)  # worst on the left, where the region is
    assert pixel_auroc(badness, region, within) == pytest.approx(1.0)
    assert pixel_auroc(-badness, region, within) == pytest.approx(0.0)
    assert 0.9 < pixel_auroc(badness, region, within, max_pixels=200) <= 1.0  # a pixel sample
    assert np.isnan(pixel_auroc(badness, within, within))  # the region is everything: nothing to find
    assert np.isnan(pixel_auroc(badness, np.zeros_like(within), within))
