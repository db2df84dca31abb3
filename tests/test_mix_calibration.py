from __future__ import annotations

import numpy as np

from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.fundus.mix import MixConfig, apply_recipe, sample_recipe
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.fundus.renderer import render_fundus


def test_training_mix_gives_a_clinical_looking_score_distribution():
    """Most scores between 50 and 85, all three grades present (the calibration the docs report, smaller)."""
    rng = np.random.default_rng(0)
    scores = []
    for i in range(48):
        s = render_fundus(500 + i % 12, size=256)
        anatomy = Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)
        deg, _ = apply_recipe(s.image.astype(np.float32) / 255, s.fov_mask, sample_recipe(rng, MixConfig()), rng)
        scores.append(pseudo_mos(s.image, deg, anatomy).score)
    scores = np.asarray(scores)
    assert 55 < np.median(scores) < 85
    assert ((scores >= 50) & (scores <= 85)).mean() >= 0.45
    assert (scores >= 70).any() and ((scores >= 45) & (scores < 70)).any() and (scores < 45).any()
