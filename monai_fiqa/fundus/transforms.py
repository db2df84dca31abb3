"""MONAI transforms that degrade fundus photographs with the physics of :mod:`monai_fiqa.fundus.physics`.

Two array/dictionary pairs, MONAI-style (channel-first images, numpy or torch, any dtype):

* :class:`FundusDegrade` / :class:`FundusDegraded` - one degradation with explicit physical parameters
  (e.g. ``FundusDegrade("defocus", {"radius": 0.008})``), globally or inside a given region;
* :class:`RandFundusQualityMix` / :class:`RandFundusQualityMixd` - the random training mix
  (:class:`monai_fiqa.fundus.mix.MixConfig`); the dictionary version can also write the pseudo-MOS label.

Both keep the input's type, dtype and shape and change nothing outside the field of view (or the region).  The
field of view comes from the caller (``fov=`` / ``fov_key``) or is estimated from the image.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import asdict

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, Transform
from monai.utils import convert_to_dst_type, convert_to_numpy

from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy, fov_mask
from monai_fiqa.fundus.mix import MixConfig, Step, apply_recipe, sample_recipe
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation
from monai_fiqa.fundus.pseudo_mos import pseudo_mos

__all__ = ["FundusDegrade", "FundusDegraded", "RandFundusQualityMix", "RandFundusQualityMixd"]


def _to_hwc01(img: object, max_value: float) -> np.ndarray:
    arr = convert_to_numpy(img)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f"expected a channel-first RGB image (3, H, W), got shape {arr.shape}")
    return np.moveaxis(arr.astype(np.float32) / max_value, 0, -1)


def _from_hwc01(out: np.ndarray, like: object, max_value: float) -> object:
    chw = np.moveaxis(np.clip(out, 0.0, 1.0) * max_value, -1, 0)
    dtype = convert_to_numpy(like).dtype
    if np.issubdtype(dtype, np.integer):
        chw = np.round(chw)
    result, *_ = convert_to_dst_type(np.ascontiguousarray(chw), dst=like)
    return result


def _generator(state: np.random.RandomState) -> np.random.Generator:
    """MONAI keeps a legacy ``RandomState`` in ``self.R``; the physics uses the modern Generator API."""
    return np.random.default_rng(int(state.randint(0, 2**31 - 1)))


def _fov_of(img_hwc: np.ndarray, fov: object | None) -> np.ndarray:
    if fov is None:
        return fov_mask(img_hwc)
    f = convert_to_numpy(fov).astype(bool)
    return f[0] if f.ndim == 3 else f


class FundusDegrade(Randomizable, Transform):
    """Apply one degradation with explicit physical parameters.

    Randomizable only for the degradation's own randomness (a noise field, where dust lands); the physical
    parameters are fixed.

    Args:
        kind: a key of :data:`monai_fiqa.fundus.physics.DEGRADATIONS`.
        params: its physical parameters (see ``DEGRADATIONS[kind].units``).
        max_value: value of full scale in the input (255 for 8-bit photographs, 1.0 for normalised floats).
    """

    def __init__(self, kind: str, params: Mapping[str, object], max_value: float = 255.0) -> None:
        if kind not in DEGRADATIONS:
            raise KeyError(f"unknown degradation {kind!r}; available: {sorted(DEGRADATIONS)}")
        missing = set(DEGRADATIONS[kind].units) - set(params)
        if missing:
            raise ValueError(f"{kind}: missing physical parameters {sorted(missing)}")
        self.kind, self.params, self.max_value = kind, dict(params), max_value
        self.last_region: np.ndarray | None = None

    def randomize(self, data: object = None) -> None:
        """Nothing to draw up front: the degradation draws from ``self.R`` while it runs."""

    def __call__(self, img: object, fov: object | None = None, region: object | None = None) -> object:
        """Degrade ``img`` (3, H, W); ``region`` (H, W) restricts it. The true region is kept in ``last_region``."""
        hwc = _to_hwc01(img, self.max_value)
        f = _fov_of(hwc, fov)
        reg = None if region is None else _fov_of(hwc, region)
        out, self.last_region = apply_degradation(hwc, self.kind, self.params, f, _generator(self.R), region=reg)
        return _from_hwc01(out, img, self.max_value)


class RandFundusQualityMix(Randomizable, Transform):
    """Degrade with a random recipe from the training mix (possibly none: a clean image).

    After each call, ``last_recipe`` holds the applied steps and ``last_region`` the union of degraded regions.

    Args:
        config: the mix; defaults to the calibrated :class:`MixConfig`.
        max_value: value of full scale in the input.
    """

    def __init__(self, config: MixConfig | None = None, max_value: float = 255.0) -> None:
        self.config = config or MixConfig()
        self.max_value = max_value
        self.last_recipe: list[Step] = []
        self.last_region: np.ndarray | None = None
        self._rng = np.random.default_rng(0)

    def randomize(self, data: object = None) -> None:
        self._rng = _generator(self.R)
        self.last_recipe = sample_recipe(self._rng, self.config)

    def __call__(self, img: object, fov: object | None = None, randomize: bool = True) -> object:
        if randomize:
            self.randomize()
        hwc = _to_hwc01(img, self.max_value)
        out, self.last_region = apply_recipe(hwc, _fov_of(hwc, fov), self.last_recipe, self._rng)
        return _from_hwc01(out, img, self.max_value)


class FundusDegraded(MapTransform, Randomizable):
    """Dictionary version of :class:`FundusDegrade`.

    Args:
        keys: image keys.
        kind, params, max_value: as for :class:`FundusDegrade`.
        fov_key: optional key of a (1, H, W) FOV mask; estimated from the image when absent.
        region_key: optional key of a (1, H, W) region mask to restrict the degradation to.
        allow_missing_keys: MONAI's usual flag.
    """

    def __init__(
        self,
        keys: KeysCollection,
        kind: str,
        params: Mapping[str, object],
        max_value: float = 255.0,
        fov_key: str | None = None,
        region_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.op = FundusDegrade(kind, params, max_value)
        self.fov_key, self.region_key = fov_key, region_key

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> FundusDegraded:
        super().set_random_state(seed, state)
        self.op.set_random_state(seed, state)
        return self

    def randomize(self, data: object = None) -> None:
        """The wrapped array transform draws its own randomness."""

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            fov = d.get(self.fov_key) if self.fov_key else None
            region = d.get(self.region_key) if self.region_key else None
            d[key] = self.op(d[key], fov=fov, region=region)
        return d


class RandFundusQualityMixd(MapTransform, Randomizable):
    """Dictionary version of :class:`RandFundusQualityMix`, optionally labelling the result with its pseudo-MOS.

    Writes ``{key}_region`` ((1, H, W) uint8 degraded-region mask), ``{key}_recipe`` (list of step dicts) and,
    when ``mos_key`` is set, the pseudo-MOS (float) under ``mos_key`` and its grade under ``{mos_key}_grade``.

    Args:
        keys: image keys (one recipe is drawn per call and applied to every key).
        config: the mix.
        max_value: value of full scale in the input.
        fov_key: optional key of a (1, H, W) FOV mask.
        mos_key: where to write the pseudo-MOS; ``None`` to skip it.
        anatomy_key: optional key of an :class:`~monai_fiqa.fundus.landmarks.Anatomy` (e.g. a rendered image's
            ground truth); estimated from the clean image when absent.
        allow_missing_keys: MONAI's usual flag.
    """

    def __init__(
        self,
        keys: KeysCollection,
        config: MixConfig | None = None,
        max_value: float = 255.0,
        fov_key: str | None = None,
        mos_key: str | None = None,
        anatomy_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mix = RandFundusQualityMix(config, max_value)
        self.fov_key, self.mos_key, self.anatomy_key = fov_key, mos_key, anatomy_key

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandFundusQualityMixd:
        super().set_random_state(seed, state)
        self.mix.set_random_state(seed, state)
        return self

    def randomize(self, data: object = None) -> None:
        self.mix.randomize()

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        self.randomize()
        recipe = [asdict(s) for s in self.mix.last_recipe]
        for key in self.key_iterator(d):
            clean = d[key]
            fov = d.get(self.fov_key) if self.fov_key else None
            d[key] = self.mix(clean, fov=fov, randomize=False)
            region = self.mix.last_region
            d[f"{key}_region"] = region[None].astype(np.uint8)
            d[f"{key}_recipe"] = recipe
            if self.mos_key:
                self._label(d, key, clean, fov)
        return d

    def _label(self, d: dict[Hashable, object], key: Hashable, clean: object, fov: object | None) -> None:
        c = _to_hwc01(clean, self.mix.max_value)
        g = _to_hwc01(d[key], self.mix.max_value)
        anatomy = d.get(self.anatomy_key) if self.anatomy_key else None
        if not isinstance(anatomy, Anatomy):
            anatomy = estimate_anatomy(c, None if fov is None else _fov_of(c, fov))
        label = pseudo_mos(c, g, anatomy)
        d[self.mos_key] = label.score
        d[f"{self.mos_key}_grade"] = label.grade
