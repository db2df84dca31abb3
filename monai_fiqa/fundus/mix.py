"""The random degradation mix used to make training data, and how to apply it.

Why a fixed, documented mix: the pseudo-MOS calibration (and so the meaning of a shipped model's score) depends on
the distribution of degradations seen in training.  A recipe is plain data - a list of steps, each a degradation
name, its severity, its physical parameters and an optional region - so it can be written to a CSV, replayed, and
audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation, random_region

__all__ = ["MixConfig", "Step", "apply_recipe", "recipe_columns", "sample_recipe"]


@dataclass(frozen=True)
class Step:
    """One degradation step of a recipe."""

    kind: str
    severity: float
    params: dict
    regional: bool


@dataclass(frozen=True)
class MixConfig:
    """Parameters of the random training mix.

    Attributes:
        kinds: degradation types to draw from.
        p_clean: probability of leaving the image untouched.
        n_steps_probs: probabilities of applying 1, 2, 3, ... degradations.
        severity_beta: Beta(a, b) distribution of each step's severity in [0, 1].
        region_prob: probability that a step is restricted to a random region.
    """

    kinds: tuple[str, ...] = tuple(DEGRADATIONS)
    p_clean: float = 0.05
    n_steps_probs: tuple[float, ...] = (0.55, 0.35, 0.1)
    severity_beta: tuple[float, float] = (2.5, 2.5)
    region_prob: float = 0.3


def sample_recipe(rng: np.random.Generator, config: MixConfig | None = None) -> list[Step]:
    """Draw a random recipe (possibly empty: a clean image)."""
    cfg = config or MixConfig()
    unknown = set(cfg.kinds) - set(DEGRADATIONS)
    if unknown:
        raise KeyError(f"unknown degradations {sorted(unknown)}; available: {sorted(DEGRADATIONS)}")
    if rng.random() < cfg.p_clean:
        return []
    n = 1 + int(rng.choice(len(cfg.n_steps_probs), p=np.asarray(cfg.n_steps_probs) / sum(cfg.n_steps_probs)))
    kinds = rng.choice(cfg.kinds, size=min(n, len(cfg.kinds)), replace=False)
    steps = []
    for kind in kinds:
        s = float(rng.beta(*cfg.severity_beta))
        steps.append(Step(str(kind), s, DEGRADATIONS[str(kind)].from_severity(s, rng), rng.random() < cfg.region_prob))
    return steps


def apply_recipe(
    image: np.ndarray, fov: np.ndarray, recipe: Sequence[Step], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a recipe to an (H, W, 3) float image in [0, 1].

    Returns:
        The degraded image and the union of the degraded regions (empty for a clean recipe).
    """
    out = image.astype(np.float32)
    region_union = np.zeros(fov.shape, dtype=bool)
    for step in recipe:
        region = random_region(fov, rng) if step.regional else None
        out, truth = apply_degradation(out, step.kind, step.params, fov, rng, region=region)
        region_union |= truth
    return out, region_union


def recipe_columns(recipe: Sequence[Step]) -> dict[str, object]:
    """Flatten a recipe into CSV columns: ``degradations`` plus ``<kind>_<param>`` and ``<kind>_severity``."""
    cols: dict[str, object] = {"degradations": "+".join(s.kind for s in recipe)}
    for s in recipe:
        cols[f"{s.kind}_severity"] = round(s.severity, 4)
        cols[f"{s.kind}_regional"] = int(s.regional)
        for name, value in s.params.items():
            cols[f"{s.kind}_{name}"] = round(value, 5) if isinstance(value, float) else value
    return cols
