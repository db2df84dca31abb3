"""Speed of the data engine on one core: renderer per resolution, each degradation and the pseudo-MOS at 512 px.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.synth_speed``.  Medians over repeats, all in one run, so
the renderer's cost can be read against the target (150 ms at 512 px) on the same noisy machine.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._common import write_results
from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.fundus.renderer import render_fundus


def _median_ms(fn, repeats: int) -> float:
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def main(repeats: int = 10) -> None:
    rows, payload = [], {"render_ms": {}, "degrade_ms_512": {}, "target_render_ms_512": 150}
    render_fundus(0, size=256)  # warm-up (imports, caches)
    for size in (256, 512, 1024):
        ms = _median_ms(lambda i, s=size: render_fundus(100 + i, size=s), repeats)
        payload["render_ms"][size] = round(ms, 1)
        rows.append([f"render {size}x{size}", f"{ms:.1f}"])
    s = render_fundus(1)
    img = s.image.astype(np.float32) / 255
    for kind, spec in DEGRADATIONS.items():

        def run(i: int, kind: str = kind, spec=spec) -> None:
            rng = np.random.default_rng(i)
            apply_degradation(img, kind, spec.from_severity(0.5, rng), s.fov_mask, rng)

        ms = _median_ms(run, repeats)
        payload["degrade_ms_512"][kind] = round(ms, 1)
        rows.append([f"degrade {kind} 512", f"{ms:.1f}"])
    anatomy = Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)
    ms = _median_ms(lambda i: pseudo_mos(s.image, s.image, anatomy), repeats)
    payload["pseudo_mos_ms_512"] = round(ms, 1)
    rows.append(["pseudo-MOS 512", f"{ms:.1f}"])
    write_results("synth_speed", payload, ["step", "median ms (1 core)"], rows)


if __name__ == "__main__":
    main()
