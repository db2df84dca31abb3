"""Every shipped bundle scores the demo inputs exactly as when the scores were pinned (a refactor changes nothing)."""

from __future__ import annotations

import json

import pytest

from tests.reference_scores import OUT, compute


@pytest.mark.slow
def test_shipped_bundles_score_the_demo_inputs_as_pinned():
    pinned = json.loads(OUT.read_text())
    now = compute()
    assert set(pinned) <= set(now), f"a pinned bundle is no longer available: {set(pinned) - set(now)}"
    for bundle, scores in pinned.items():
        for name, (score, map_mean) in scores.items():
            assert now[bundle][name][0] == pytest.approx(score, abs=1e-6), (bundle, name)
            assert now[bundle][name][1] == pytest.approx(map_mean, abs=1e-6), (bundle, name)
