"""CT/MR acquisition physics: each artefact grows with its parameter, severity 0 is identity, pseudo-score falls."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

from monai_fiqa.ctmr import ct_physics as ct
from monai_fiqa.ctmr import mr_physics as mr
from monai_fiqa.ctmr.artefacts import ARTEFACTS, artefacts_for, degrade_slab, severity_to_physical
from monai_fiqa.ctmr.phantoms import TISSUES, render_phantom
from monai_fiqa.ctmr.synth_set import file_source, make_sample, phantom_source, random_fov_crop
from tests.conftest import DATA

VOLUMES = DATA / "volumes"


@pytest.fixture(scope="module")
def head_ct() -> np.ndarray:
    """A 128 px head-like HU slice: Shepp-Logan scaled to air/bone/soft tissue."""
    x = resize(shepp_logan_phantom(), (128, 128)).astype(np.float32)
    return np.where(x > 0.05, 20.0 + 300.0 * (x - 0.2), -1000.0).astype(np.float32)


def test_fbp_inverts_projection() -> None:
    beam = ct.ParallelBeam(64)
    x = torch.zeros(64, 64)
    x[20:40, 22:38] = 1.0
    rec = beam.fbp(beam.project(x))
    assert abs(float(rec[25:35, 25:35].mean()) - 1.0) < 0.02
    assert abs(float(rec[5, 32])) < 0.02


def test_kept_sampling_grids_give_the_same_projection_as_fresh_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A projector reuses its grids across slices; the result must not depend on whether they were kept."""
    x = torch.rand(48, 48)
    kept = ct.ParallelBeam(48)
    first = kept.fbp(kept.project(x))
    assert set(kept._grids) == {"rot", "inv"}
    again = kept.fbp(kept.project(x))
    monkeypatch.setattr(ct, "_GRID_CACHE_BYTES", 0)
    fresh = ct.ParallelBeam(48)
    unkept = fresh.fbp(fresh.project(x))
    assert not fresh._grids
    assert torch.equal(first, again) and torch.equal(first, unkept)


def test_low_dose_noise_grows_as_dose_falls(head_ct: np.ndarray) -> None:
    body = (head_ct > -100) & (head_ct < 200)
    stds = [
        float((ct.ct_low_dose(head_ct, f, 1.5, np.random.default_rng(0)) - head_ct)[body].std())
        for f in (0.5, 0.2, 0.05)
    ]
    assert stds[0] > 2.0 and stds[0] < stds[1] < stds[2]
    # Poisson statistics: quartering the dose roughly doubles the noise
    ratio = stds[2] / stds[1]
    assert 1.6 < ratio < 2.6, ratio
    np.testing.assert_array_equal(ct.ct_low_dose(head_ct, 1.0, 1.5, np.random.default_rng(0)), head_ct)
    with pytest.raises(ValueError):
        ct.ct_low_dose(head_ct, 0.0, 1.5, np.random.default_rng(0))


def test_large_slices_are_simulated_on_a_bounded_grid() -> None:
    hu = np.full((600, 500), -1000.0, np.float32)
    hu[150:450, 100:400] = 40.0
    out = ct.ct_low_dose(hu, 0.1, 0.5, np.random.default_rng(1))
    assert out.shape == hu.shape and np.isfinite(out).all()
    assert (out - hu)[200:400, 150:350].std() > 1.0


def test_metal_streaks_grow_with_insert_size(head_ct: np.ndarray) -> None:
    soft = (head_ct > -100) & (head_ct < 200)
    errs = []
    for mm in (2.0, 6.0, 12.0):
        out = ct.ct_metal(head_ct, mm, 1.5, np.random.default_rng(3))
        keep = soft & (out < 3000)
        errs.append(float(np.abs(out - head_ct)[keep].mean()))
    assert errs[0] < errs[1] < errs[2]
    assert (ct.ct_metal(head_ct, 8.0, 1.5, np.random.default_rng(3)) == 3071.0).any()


def test_slice_thickness_blurs_along_z_only() -> None:
    vol = np.zeros((8, 8, 21), np.float32)
    vol[:, :, 10] = 100.0
    thin = ct.ct_slice_thickness(vol, 1.0, 1.0)
    thick = ct.ct_slice_thickness(vol, 1.0, 6.0)
    np.testing.assert_array_equal(thin, vol)
    assert thick[:, :, 10].max() < 30.0 and thick[:, :, 12].max() > 5.0
    assert np.allclose(thick.sum(axis=2), vol.sum(axis=2), rtol=1e-3)


@pytest.fixture(scope="module")
def mr_slice() -> np.ndarray:
    ph = render_phantom(7, "head", size=96, depth=4)
    from monai_fiqa.ctmr.phantoms import phantom_mr

    return phantom_mr(ph, "T1", np.random.default_rng(0))[:, :, 2]


def test_rician_noise_matches_snr(mr_slice: np.ndarray) -> None:
    out = mr.mr_rician_noise(mr_slice, 20.0, np.random.default_rng(0))
    sigma = mr.foreground_mean(mr_slice) / 20.0
    air = mr_slice == 0
    # the background of a magnitude image is Rayleigh: mean sigma * sqrt(pi / 2)
    assert abs(out[air].mean() / (sigma * np.sqrt(np.pi / 2)) - 1.0) < 0.1


@pytest.mark.parametrize("name", artefacts_for("MR"))
def test_mr_artefacts_grow_with_severity(mr_slice: np.ndarray, name: str) -> None:
    dev = []
    for s in (0.0, 0.3, 0.6, 1.0):
        out = degrade_slab(mr_slice[:, :, None], (1.0, 1.0, 1.0), {name: s}, np.random.default_rng(5))
        dev.append(float(np.abs(out - mr_slice).mean()))
    assert dev[0] < 1e-3 * mr_slice.mean(), f"{name}: severity 0 must be the identity"
    assert dev[1] < dev[2] < dev[3], f"{name}: {dev}"


def test_severity_maps_are_monotone_and_zero_means_absent() -> None:
    for name, spec in ARTEFACTS.items():
        values = [spec.to_physical(s) for s in np.linspace(0, 1, 11)]
        diffs = np.diff(values)
        assert (diffs > 0).all() or (diffs < 0).all(), name
    assert severity_to_physical("ct_dose", 0.0) == 1.0
    assert severity_to_physical("mr_undersampling", 0.0) == 1.0


def test_phantom_is_deterministic_and_anatomical() -> None:
    a, b = render_phantom(3, size=64, depth=6), render_phantom(3, size=64, depth=6)
    np.testing.assert_array_equal(a.labels, b.labels)
    present = {TISSUES[i] for i in np.unique(a.labels)}
    assert {"air", "bone"} <= present and len(present) >= 5
    assert a.anatomy in ("head", "chest", "abdomen")


def test_degrade_slab_applies_thickness_with_neighbours() -> None:
    src = phantom_source(11, "CT")
    slab = src.volume[:, :, 6:15]
    out = degrade_slab(slab, src.spacing, {"ct_thickness": 1.0}, np.random.default_rng(0))
    assert out.shape == slab.shape[:2]
    assert np.abs(out - slab[:, :, 4]).mean() > 1.0


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(("phantom", "CT"), id="ct-phantom"),
        pytest.param(("MR_Gd.nii.gz", "MR"), id="mr-brain"),
    ],
)
def test_pseudo_score_falls_along_every_ladder(source: tuple[str, str]) -> None:
    name, modality = source
    if name == "phantom":
        src = phantom_source(21, modality)
    else:
        if not (VOLUMES / name).is_file():
            pytest.skip("shared volumes not present")
        src = file_source(VOLUMES / name, modality, "head", "mr_t1")
    z = int(src.slices[len(src.slices) // 2])
    for artefact in artefacts_for(modality):
        scores = [
            make_sample(src, np.random.default_rng(0), {artefact: s}, z=z, size=96)["score"] for s in (0, 0.3, 0.6, 1.0)
        ]
        assert scores[0] == pytest.approx(100.0, abs=0.5), artefact
        assert all(a >= b - 0.5 for a, b in zip(scores, scores[1:], strict=False)), f"{artefact}: {scores}"
        assert scores[-1] < 95.0, f"{artefact}: {scores}"


def test_rescaled_sources_make_small_matrix_samples() -> None:
    src = phantom_source(31, "MR")
    z = int(src.slices[len(src.slices) // 2])
    sample = make_sample(src, np.random.default_rng(4), {"mr_noise": 0.5}, z=z, size=64, rescale_prob=1.0)
    assert sample["image"].shape == (2, 64, 64) and np.isfinite(sample["image"]).all()
    assert 0.0 <= sample["score"] < 100.0
    # the acquired matrix (the network's condition) is the resampled one, not the source's
    assert 48 <= sample["matrix"] <= 320 and sample["matrix"] != max(src.volume.shape[:2])
    assert make_sample(src, np.random.default_rng(4), {}, z=z, size=64)["matrix"] == max(src.volume.shape[:2])


def test_cropped_sources_make_small_field_of_view_samples() -> None:
    src = phantom_source(31, "MR")
    z = int(src.slices[len(src.slices) // 2])
    rng = np.random.default_rng(5)
    sample = make_sample(src, rng, {"mr_gibbs": 0.8}, z=z, size=64, crop_prob=1.0, rescale_prob=1.0)
    assert sample["image"].shape == (2, 64, 64) and np.isfinite(sample["image"]).all()
    assert 0.0 <= sample["score"] < 100.0
    # a zoomed window: square, inside the anatomy (a disc of radius 50 px here), never padded with air
    yy, xx = np.mgrid[:200, :120]
    disc = (yy - 100) ** 2 + (xx - 60) ** 2 < 50**2
    slab = np.repeat(disc[:, :, None], 9, axis=2).astype(np.float32)
    for seed in range(20):
        window = random_fov_crop(slab, np.random.default_rng(seed), disc)
        side = window.shape[0]
        assert window.shape == (side, side, 9) and 32 <= side <= 100
        assert window[:, :, 4].mean() >= 0.9 or side == 32
    assert random_fov_crop(slab, np.random.default_rng(0), np.zeros_like(disc)).shape == slab.shape


def test_noise_floor_makes_a_noisy_clean_reference_for_mr_phantoms_only() -> None:
    """The floor is part of the clean acquisition: alone it costs nothing (score 100), it shows as background
    noise, ringing that smooths the noisy reference away costs more than the same ringing of the noise-free one,
    and CT phantoms and real sources are left as they are."""
    src = phantom_source(31, "MR")
    z = int(src.slices[len(src.slices) // 2])

    def sample(severities: dict, prob: float, source=src, seed: int = 7, size: int = 96) -> dict:  # noqa: ANN001
        return make_sample(source, np.random.default_rng(seed), severities, z=z, size=size, noise_floor_prob=prob)

    clean, floored = sample({}, 0.0), sample({}, 1.0)
    assert floored["score"] == pytest.approx(100.0, abs=0.5)
    background = lambda s: float(s["image"][0, :6, :6].std())  # noqa: E731 - the phantom's corner is air
    assert background(clean) < 1e-3 < background(floored)
    # over floors and ringing draws (one floor can be as faint as SNR 60), on the training grid (a 96 px grid
    # averages the noise away): 68 -> 46 on average
    blurred = [np.mean([sample({"mr_gibbs": 0.6}, p, seed=k, size=192)["score"] for k in range(4)]) for p in (0, 1)]
    assert blurred[1] < blurred[0] - 5.0, blurred
    ct_src = phantom_source(31, "CT")
    z = int(ct_src.slices[len(ct_src.slices) // 2])
    np.testing.assert_array_equal(sample({}, 1.0, ct_src)["image"], sample({}, 0.0, ct_src)["image"])
    real = file_source(DATA / "volumes" / "MR_Gd.nii.gz", "MR", "head", "mr_t1")
    z = int(real.slices[len(real.slices) // 2])
    np.testing.assert_array_equal(sample({}, 1.0, real)["image"], sample({}, 0.0, real)["image"])


@pytest.mark.parametrize("name", ["mr_motion", "mr_gibbs"])
def test_k_space_artefacts_hurt_native_and_interpolated_slices_alike(mr_slice: np.ndarray, name: str) -> None:
    """Motion and Gibbs severities are shares of k-space energy, so a slice interpolated 2.5x (as an MPR or a
    zero-filled reconstruction is) degrades as much as the native one.  A share of the *lines* left such a slice
    almost untouched until severity 1 (relative error 0.006-0.03 up to 0.8 on pydicom's abdominal MR)."""
    native = mr_slice[:, :, 0] if mr_slice.ndim == 3 else mr_slice
    up = resize(native, (native.shape[0] * 5 // 2, native.shape[1] * 5 // 2), order=3, preserve_range=True)
    for s in (0.2, 0.4, 0.6):
        err = [
            np.linalg.norm(degrade_slab(x[:, :, None], (1.0, 1.0, 1.0), {name: s}, np.random.default_rng(5)) - x)
            / np.linalg.norm(x)
            for x in (native, up.astype(np.float32))
        ]
        msg = f"{name} at {s}: native {err[0]:.4f}, interpolated {err[1]:.4f}"
        assert err[1] == pytest.approx(err[0], rel=0.3), msg
        assert err[1] > 0.02, f"{name} at {s}: interpolated slice barely changed ({err[1]:.4f})"


def test_gibbs_alpha_removes_the_asked_energy_share(mr_slice: np.ndarray) -> None:
    img = mr_slice[:, :, 0] if mr_slice.ndim == 3 else mr_slice
    k2 = np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2
    centre = (np.array(img.shape) - 1) / 2.0
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    dist = np.sqrt((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2)
    for share in (0.002, 0.02):
        alpha = mr.gibbs_alpha(img, share)
        kept = dist <= (1 - alpha) * max(img.shape) * np.sqrt(2) / 2  # MONAI GibbsNoise's disc
        removed = k2[~kept].sum() / k2.sum()
        assert 0.5 * share < removed <= share, f"{share}: removed {removed:.4f}"


def _variant_kinds() -> list[tuple[str, str]]:
    return [(name, v) for name, spec in ARTEFACTS.items() for v in spec.variants]


@pytest.mark.parametrize(("name", "variant"), _variant_kinds())
def test_every_physical_model_grows_with_severity(
    mr_slice: np.ndarray, head_ct: np.ndarray, name: str, variant: str
) -> None:
    """Each noise model / bias-field shape: severity 0 is the identity and the error grows with severity."""
    img = head_ct if ARTEFACTS[name].modality == "CT" else mr_slice
    dev = []
    for s in (0.0, 0.3, 0.6, 1.0):
        rng = np.random.default_rng(5)
        out = degrade_slab(img[:, :, None], (1.0, 1.0, 1.0), {name: s}, rng, {name: variant})
        dev.append(float(np.abs(out - img).mean()))
    assert dev[0] < 1e-3 * np.abs(img).mean(), f"{name}:{variant}: severity 0 must be the identity"
    assert dev[1] < dev[2] < dev[3], f"{name}:{variant}: {dev}"


def test_noise_models_share_the_snr_and_correlated_noise_is_smooth(mr_slice: np.ndarray) -> None:
    sigma = mr.foreground_mean(mr_slice) / 20.0
    inside = mr_slice > 0.5 * mr_slice.max()  # high signal: every model's noise is ~Gaussian with this sigma
    lag1 = {}
    for model in mr.NOISE_MODELS:
        err = mr.mr_noise(mr_slice, 20.0, np.random.default_rng(1), model) - mr_slice
        assert abs(err[inside].std() / sigma - 1.0) < 0.15, model
        pairs = inside[:, :-1] & inside[:, 1:]
        lag1[model] = float(np.corrcoef(err[:, :-1][pairs], err[:, 1:][pairs])[0, 1])
    assert lag1["correlated"] > 0.3 > max(abs(lag1["rician"]), abs(lag1["gaussian"]))


def test_bias_shapes_have_the_strength_of_the_cubic_field() -> None:
    flat = np.ones((128, 128), np.float32)
    for shape in mr.BIAS_SHAPES:
        spread = [np.log(mr.mr_bias_field(flat, 0.5, np.random.default_rng(seed), shape)).std() for seed in range(10)]
        assert np.median(spread) == pytest.approx(0.5 * 0.58, rel=0.05), shape


def test_variant_draws_apply_only_when_asked() -> None:
    src = phantom_source(21, "MR")
    z = int(src.slices[len(src.slices) // 2])
    same = [make_sample(src, np.random.default_rng(3), {"mr_noise": 0.5}, z=z, size=64) for _ in range(2)]
    assert np.array_equal(same[0]["image"], same[1]["image"])
    drawn = [
        make_sample(src, np.random.default_rng(seed), {"mr_bias": 0.8}, z=z, size=64, variant_prob=1.0)["score"]
        for seed in range(4)
    ]
    assert all(s < 99.0 for s in drawn)


def test_native_shading_is_part_of_the_clean_mr_acquisition() -> None:
    """A receive-coil shading is clean (score 100) and visible (the slice's intensity spread grows), a bias rung on
    top of it still costs, and CT sources and ``shading_prob=0`` are untouched."""
    real = file_source(DATA / "volumes" / "MR_Gd.nii.gz", "MR", "head", "mr_t1")
    z = int(real.slices[len(real.slices) // 2])

    def sample(severities: dict, prob: float, source=real, seed: int = 5) -> dict:  # noqa: ANN001
        return make_sample(source, np.random.default_rng(seed), severities, z=z, size=96, shading_prob=prob)

    plain, shaded = sample({}, 0.0), sample({}, 1.0)
    assert shaded["score"] == pytest.approx(100.0, abs=0.5)
    assert not np.array_equal(plain["image"], shaded["image"])
    assert sample({"mr_bias": 0.8}, 1.0)["score"] < 97.0
    ct_src = phantom_source(31, "CT")
    z = int(ct_src.slices[len(ct_src.slices) // 2])
    np.testing.assert_array_equal(sample({}, 1.0, ct_src)["image"], sample({}, 0.0, ct_src)["image"])


def test_receive_gain_is_the_bias_fields_gain() -> None:
    """The bias artefact and the native shading share one field generator (same draws, same strength)."""
    img = np.random.default_rng(0).uniform(1.0, 2.0, (64, 64)).astype(np.float32)
    for shape in mr.BIAS_SHAPES:
        gain = mr.receive_gain(img.shape, 0.7, np.random.default_rng(4), shape)
        np.testing.assert_allclose(mr.mr_bias_field(img, 0.7, np.random.default_rng(4), shape), img * gain, rtol=1e-6)
