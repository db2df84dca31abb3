from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from monai_fiqa.fundus.mix import MixConfig, apply_recipe, sample_recipe
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation, random_region
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.transforms import FundusDegrade, FundusDegraded, RandFundusQualityMix, RandFundusQualityMixd


@pytest.fixture(scope="module")
def sample():
    return render_fundus(21, size=256, lesions=False)


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_global_degradation_changes_only_the_fov(sample, kind):
    img = sample.image.astype(np.float32) / 255
    rng = np.random.default_rng(0)
    params = DEGRADATIONS[kind].from_severity(0.8, rng)
    out, truth = apply_degradation(img, kind, params, sample.fov_mask, rng)
    assert out.shape == img.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.array_equal(out[~sample.fov_mask], img[~sample.fov_mask])
    assert np.array_equal(truth, sample.fov_mask)
    assert np.abs(out - img)[sample.fov_mask].mean() > 0.003


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_regional_degradation_touches_only_the_region(sample, kind):
    img = sample.image.astype(np.float32) / 255
    rng = np.random.default_rng(1)
    region = random_region(sample.fov_mask, rng, size_range=(0.3, 0.4))
    params = DEGRADATIONS[kind].from_severity(0.9, rng)
    out, truth = apply_degradation(img, kind, params, sample.fov_mask, rng, region=region)
    # the returned truth is the region (up to the feathered edge) and lies inside the FOV
    assert not (truth & ~sample.fov_mask).any()
    assert (truth ^ region).sum() < 0.15 * region.sum()
    far = ~ndi.binary_dilation(region, iterations=12)
    assert np.array_equal(out[far], img[far])
    diff = np.abs(out - img).max(-1)
    assert diff[truth].mean() > 5 * max(diff[far].mean(), 1e-4)


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_severity_zero_is_near_identity_and_nuisance_independent_of_severity(sample, kind):
    spec = DEGRADATIONS[kind]
    p0 = spec.from_severity(0.0, np.random.default_rng(5))
    p1 = spec.from_severity(1.0, np.random.default_rng(5))
    nuisance = set(p0) & {"angle", "kind", "veil", "scatter"}
    assert all(p0[k] == p1[k] for k in nuisance)
    img = sample.image.astype(np.float32) / 255
    out, _ = apply_degradation(img, kind, p0, sample.fov_mask, np.random.default_rng(0))
    assert np.abs(out - img)[sample.fov_mask].mean() < 0.02


def test_unknown_kind_and_bad_shape_are_clear_errors(sample):
    img = sample.image.astype(np.float32) / 255
    with pytest.raises(KeyError, match="available"):
        apply_degradation(img, "sunburn", {}, sample.fov_mask, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        apply_degradation(img[..., 0], "defocus", {"radius": 0.01}, sample.fov_mask, np.random.default_rng(0))


def test_recipe_is_reproducible_and_mix_config_is_respected(sample):
    cfg = MixConfig(kinds=("defocus", "noise"), p_clean=0.0, n_steps_probs=(1.0,), region_prob=0.0)
    r1 = sample_recipe(np.random.default_rng(3), cfg)
    r2 = sample_recipe(np.random.default_rng(3), cfg)
    assert r1 == r2 and len(r1) == 1 and r1[0].kind in cfg.kinds
    img = sample.image.astype(np.float32) / 255
    a, _ = apply_recipe(img, sample.fov_mask, r1, np.random.default_rng(9))
    b, _ = apply_recipe(img, sample.fov_mask, r1, np.random.default_rng(9))
    assert np.array_equal(a, b)
    with pytest.raises(KeyError):
        sample_recipe(np.random.default_rng(0), MixConfig(kinds=("nope",)))


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_array_transforms_keep_type_dtype_shape_and_outside_fov(sample, as_tensor, dtype):
    chw = np.moveaxis(sample.image, -1, 0).astype(dtype)
    img = torch.from_numpy(chw.copy()) if as_tensor else chw.copy()
    out = FundusDegrade("motion", {"length": 0.03, "angle": 30.0})(img, fov=sample.fov_mask)
    assert type(out) is type(img) and out.shape == img.shape and out.dtype == img.dtype
    o, i = np.asarray(out), np.asarray(img)
    assert np.array_equal(o[:, ~sample.fov_mask], i[:, ~sample.fov_mask])
    assert not np.array_equal(o, i)
    mix = RandFundusQualityMix(MixConfig(p_clean=0.0)).set_random_state(0)
    out2 = mix(img, fov=sample.fov_mask)
    assert type(out2) is type(img) and out2.shape == img.shape and out2.dtype == img.dtype
    assert mix.last_recipe and mix.last_region is not None


def test_transform_parameters_are_validated():
    with pytest.raises(ValueError, match="missing physical parameters"):
        FundusDegrade("motion", {"length": 0.03})
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        FundusDegrade("defocus", {"radius": 0.01})(np.zeros((5, 5, 3), np.uint8))


def test_dict_transforms_write_region_recipe_and_pseudo_mos(sample):
    chw = np.moveaxis(sample.image, -1, 0).copy()
    fov = sample.fov_mask[None].astype(np.uint8)
    t = RandFundusQualityMixd("image", MixConfig(p_clean=0.0, region_prob=1.0), fov_key="fov", mos_key="mos")
    t.set_random_state(4)
    d = t({"image": chw, "fov": fov})
    assert d["image"].shape == chw.shape and d["image"].dtype == np.uint8
    assert d["image_region"].shape == (1, 256, 256) and d["image_region"].any()
    assert d["image_recipe"] and all(s["regional"] for s in d["image_recipe"])
    assert 0.0 <= d["mos"] <= 100.0 and d["mos_grade"] in ("good", "usable", "reject")
    # same seed -> same result
    d2 = RandFundusQualityMixd("image", MixConfig(p_clean=0.0, region_prob=1.0), fov_key="fov", mos_key="mos")
    d2 = d2.set_random_state(4)({"image": chw, "fov": fov})
    assert np.array_equal(d["image"], d2["image"]) and d["mos"] == d2["mos"]
    region = random_region(sample.fov_mask, np.random.default_rng(2))[None].astype(np.uint8)
    fd = FundusDegraded(
        "image", "haze", {"transmission": 0.3, "scatter": 0.04, "veil": 0.9}, fov_key="fov", region_key="region"
    )
    out = fd({"image": chw, "fov": fov, "region": region})["image"]
    far = ~ndi.binary_dilation(region[0].astype(bool), iterations=12)
    assert np.array_equal(out[:, far], chw[:, far]) and not np.array_equal(out, chw)
