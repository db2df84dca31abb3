"""Retinal vessel tree growth for the procedural fundus renderer.

Why a growth model rather than random curves: anatomy-aware quality models (EFIQA) learn *where vessels should be*,
so the synthetic trees must share the real topology: four main arteriole/venule trunks leaving the optic disc, the
temporal arcades sweeping around the macula, nasal branches radiating outward, bifurcations that taper roughly as
Murray's law predicts, smooth tortuosity, and a foveal avascular zone that no vessel enters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Branch", "VesselTree", "grow_vessel_tree"]

Steer = Callable[[float, float, float], float]


@dataclass(frozen=True)
class Branch:
    """One unbranched vessel segment: centreline points (row, col), half-widths in pixels, and its type."""

    points: np.ndarray
    half_widths: np.ndarray
    artery: bool


@dataclass(frozen=True)
class VesselTree:
    """All branches of one eye's vessel tree."""

    branches: list[Branch]

    def dense_points(self, step: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Resample every centreline at ``step`` px so that rasterisation leaves no gaps.

        Returns:
            points (N, 2), half-widths (N,), is_artery (N,) bool.
        """
        pts, hws, art = [], [], []
        for b in self.branches:
            if len(b.points) < 2:
                continue
            seg = np.diff(b.points, axis=0)
            arc = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
            t = np.arange(0.0, arc[-1] + 1e-6, step)
            pts.append(np.stack([np.interp(t, arc, b.points[:, 0]), np.interp(t, arc, b.points[:, 1])], axis=1))
            hws.append(np.interp(t, arc, b.half_widths))
            art.append(np.full(len(t), b.artery))
        if not pts:
            return np.zeros((0, 2)), np.zeros(0), np.zeros(0, bool)
        return np.concatenate(pts), np.concatenate(hws), np.concatenate(art)


@dataclass
class _Grower:
    rng: np.random.Generator
    disc: np.ndarray
    fovea: np.ndarray
    center: np.ndarray
    radius: float
    scale: float
    faz: float
    branches: list[Branch]
    max_depth: int = 3
    max_branches: int = 400

    def radial(self, y: float, x: float, heading: float) -> float:
        """Children drift to radiate away from the disc, as real branches do."""
        return math.atan2(y - self.disc[0], x - self.disc[1])

    def arcade(self, r0: float) -> Steer:
        """Steer along a circle of radius ``r0`` around the fovea (the temporal arcades)."""
        fy, fx = float(self.fovea[0]), float(self.fovea[1])

        def steer(y: float, x: float, heading: float) -> float:
            vy, vx = y - fy, x - fx
            r = math.hypot(vy, vx) + 1e-6
            oy, ox = vy / r, vx / r
            ty, tx = -ox, oy
            if ty * math.sin(heading) + tx * math.cos(heading) < 0:
                ty, tx = -ty, -tx
            pull = 1.5 * (r - r0) / r0
            return math.atan2(ty - pull * oy, tx - pull * ox)

        return steer

    def grow(self, start: np.ndarray, heading: float, hw: float, artery: bool, steer: Steer, depth: int) -> None:
        """Grow one branch by a smoothed random walk steered by ``steer``; spawn children at bifurcations."""
        rng, s = self.rng, self.scale
        step, min_hw = 1.6 * s, 0.45 * s
        taper = math.exp(-step / (260.0 * s))
        cy, cx, rmax = float(self.center[0]), float(self.center[1]), self.radius * 0.995
        fy, fx = float(self.fovea[0]), float(self.fovea[1])
        y, x = float(start[0]), float(start[1])
        ys, xs, hws = [y], [x], [hw]
        omega, travelled = 0.0, 0.0
        next_split = float(rng.uniform(15, 45)) * s
        children: list[tuple[float, float, float, float]] = []
        gain = 0.12 if depth == 0 else 0.05
        kicks: list[float] = []
        max_steps = int(3.0 * self.radius / step) + 1
        for k in range(max_steps):
            if hw < min_hw:
                break
            if k % 128 == 0:  # draw tortuosity kicks in small chunks: most branches are short
                kicks = rng.normal(0.0, 0.035, 128).tolist()
            omega = 0.85 * omega + kicks[k % 128]
            d = (steer(y, x, heading) - heading + math.pi) % (2 * math.pi) - math.pi
            heading += gain * d + 0.5 * omega
            y += step * math.sin(heading)
            x += step * math.cos(heading)
            if math.hypot(y - cy, x - cx) > rmax or math.hypot(y - fy, x - fx) < self.faz:
                break
            travelled += step
            hw *= taper
            if travelled >= next_split and depth < self.max_depth and len(self.branches) < self.max_branches:
                child_hw = hw * float(rng.uniform(0.5, 0.8))
                hw = (hw**3 - 0.5 * child_hw**3) ** (1 / 3)  # Murray: parent cube shared with the child
                sign = 1.0 if rng.random() < 0.5 else -1.0
                children.append((y, x, heading + sign * float(rng.uniform(0.5, 1.2)), child_hw))
                next_split = travelled + float(rng.uniform(30, 80)) * s * max(1.0, hw / s) ** 0.5
            ys.append(y)
            xs.append(x)
            hws.append(hw)
        self.branches.append(Branch(np.stack([ys, xs], axis=1), np.asarray(hws), artery))
        for cy_, cx_, chead, chw in children:
            if chw >= min_hw:
                self.grow(np.array([cy_, cx_]), chead, chw, artery, self.radial, depth + 1)


def grow_vessel_tree(
    rng: np.random.Generator,
    disc: np.ndarray,
    disc_radius: float,
    fovea: np.ndarray,
    center: tuple[float, float],
    radius: float,
) -> VesselTree:
    """Grow one eye's arteriole and venule trees from the optic disc.

    Args:
        rng: random generator (the renderer's, so the tree is seeded with the image).
        disc: (row, col) disc centre.
        disc_radius: disc radius in px.
        fovea: (row, col) fovea centre.
        center: (row, col) centre of the field of view.
        radius: field-of-view radius in px.

    Returns:
        The grown :class:`VesselTree`.
    """
    scale = radius / 240.0
    g = _Grower(
        rng,
        np.asarray(disc, float),
        np.asarray(fovea, float),
        np.asarray(center, float),
        radius,
        scale,
        faz=0.45 * disc_radius,
        branches=[],
    )
    temporal = float(np.sign(fovea[1] - disc[1])) or 1.0
    d_df = float(np.hypot(*(np.asarray(fovea) - np.asarray(disc))))
    trunks = [  # (dy, dx) initial direction, half-width at 240-px FOV radius, artery?, arcade?
        ((-0.9, 0.45 * temporal), 4.3, False, True),
        ((-0.95, 0.35 * temporal), 3.4, True, True),
        ((0.9, 0.45 * temporal), 4.3, False, True),
        ((0.95, 0.35 * temporal), 3.4, True, True),
        ((-0.75, -0.65 * temporal), 3.2, False, False),
        ((-0.6, -0.8 * temporal), 2.6, True, False),
        ((0.75, -0.65 * temporal), 3.2, False, False),
        ((0.6, -0.8 * temporal), 2.6, True, False),
        ((0.05, -1.0 * temporal), 1.6, True, False),
        ((0.1, 1.0 * temporal), 1.3, True, False),
    ]
    for (dy, dx), hw, artery, is_arcade in trunks:
        heading = float(np.arctan2(dy, dx)) + rng.normal(0, 0.12)
        start = np.asarray(disc, float) + rng.normal(0, 0.15 * disc_radius, 2)
        hw_px = hw * scale * rng.uniform(0.85, 1.15)
        steer = g.arcade(d_df * rng.uniform(0.72, 0.9)) if is_arcade else g.radial
        g.grow(start, heading, hw_px, artery, steer, depth=0)
    return VesselTree(g.branches)
