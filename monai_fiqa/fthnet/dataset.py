"""In-memory fundus quality dataset for training and evaluation (MOS and, for synth sets, per-kind severities).

Why in memory: a few thousand photographs at ~400 px fit easily (~0.5 MB each), and decoding PNGs every epoch would
cost more CPU than the model on this two-core machine.  Images are FOV-cropped and squared once
(:func:`monai_fiqa.fundus.preprocessing.fundus_to_square`), then randomly cropped and flipped per sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from monai_fiqa.engine.parallel import default_workers, process_map
from monai_fiqa.engine.ranking import NO_GROUP, source_groups
from monai_fiqa.fthnet.degradation_map import MAP_STRIDE, degradation_target
from monai_fiqa.fthnet.models import IMAGENET_MEAN, IMAGENET_STD
from monai_fiqa.fthnet.windows import window_group, window_sample
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.preprocessing import fundus_to_square
from monai_fiqa.fundus.synth_set import read_mask
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.quality_csv import QualityRecord

__all__ = [
    "CROP_MARGIN",
    "WINDOW_GROUP_BASE",
    "FundusQualityDataset",
    "ladder_key",
    "normalise",
    "severity_targets",
]

_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)
# training crops (and the test-time view grid) come from a square this much larger than the input
CROP_MARGIN = 1.0625
# ranking groups of window views of one photograph get ids from here on, so the loss can tell them from the groups of
# whole photographs (their labels are finer: see monai_fiqa.fthnet.recipe.fthnet_loss)
WINDOW_GROUP_BASE = 1_000_000_000


def normalise(square_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 normalised with ImageNet statistics (the registry's mean/std)."""
    x = torch.from_numpy(np.array(square_hwc, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0  # own, writable copy
    return (x - _MEAN) / _STD


def _region_share(record: QualityRecord) -> float:
    """Share of the field of view inside the degraded regions of a synth-set row (1 when the masks are missing)."""
    fov, region = (read_mask(record.row, key) for key in ("fov", "region"))
    if fov is None or region is None:
        return 1.0
    return float((region & fov).sum() / max(1, fov.sum()))


def severity_targets(record: QualityRecord, kinds: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-kind severity targets of a row: (targets, weights, regional), each of length ``len(kinds)``.

    A ``monai-fiqa synth`` row knows every kind's severity (absent kinds are 0, weight 1).  A regional step counts
    with the share of the field of view it covers, so the head reads "how much of this kind is in the photograph";
    the set stores only the union of the degraded regions, and a global step's region is the whole field, so that
    share is known only when every step of the row is regional (otherwise the regional kinds get weight 0).  Rows
    of a site's CSV know no severity (all weights 0).
    """
    row = record.row
    targets = np.zeros(len(kinds), dtype=np.float32)
    if "degradations" not in row:
        return targets, np.zeros(len(kinds), dtype=np.float32), np.zeros(len(kinds), dtype=bool)
    steps = [k for k in kinds if row.get(f"{k}_severity")]
    regional = np.array([row.get(f"{k}_regional") == "1" for k in kinds])
    all_regional = all(row.get(f"{k}_regional") == "1" for k in steps)
    share = _region_share(record) if regional.any() and all_regional else 1.0
    weights = np.ones(len(kinds), dtype=np.float32)
    for j, kind in enumerate(kinds):
        if kind not in steps:
            continue
        if regional[j] and not all_regional:
            weights[j] = 0.0
        targets[j] = float(row[f"{kind}_severity"]) * (share if regional[j] else 1.0)
    return targets, weights, regional


def ladder_key(record: QualityRecord) -> str | None:
    """The severity ladder a row belongs to (``monai-fiqa synth --ladder-rungs``; its set and number), or None."""
    ladder = record.row.get("ladder", "")
    return f"{record.row.get('_csv_dir', '')}#ladder{ladder}" if ladder != "" else None


def _group_key(record: QualityRecord) -> str:
    """The ranking group of a row: its severity ladder, else its source."""
    return ladder_key(record) or f"source:{record.source}"


def _cached_parts(
    cache: Path | None, name: str, parts: Sequence[str], build: Callable[[], Sequence[np.ndarray]]
) -> tuple[np.ndarray, ...]:
    """Arrays built together (``build()`` returns one per part), each cached as :func:`_cached` caches one; built
    at most once, whichever files are missing."""
    built: list[np.ndarray] = []

    def part(k: int) -> np.ndarray:
        if not built:
            built.extend(build())
        return built[k]

    return tuple(_cached(cache, f"{name}_{p}", lambda k=k: part(k)) for k, p in enumerate(parts))


def _cached(cache: Path | None, name: str, build: Callable[[], np.ndarray]) -> np.ndarray:
    """``build()``, or the array saved under ``cache/name.npy`` by an earlier run (memory-mapped, read-only)."""
    if cache is None:
        return build()
    path = cache / f"{name}.npy"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{name}.tmp.npy"
        np.save(tmp, build())
        tmp.replace(path)  # atomic: a run killed while writing leaves no half file
    return np.load(path, mmap_mode="r")


def _star(job: tuple) -> object:
    """``job[0](*job[1:])``: a picklable call for worker processes."""
    return job[0](*job[1:])


def _square(path: str | Path, size: int) -> np.ndarray:
    return fundus_to_square(read_rgb(path)[0], size)


class FundusQualityDataset(Dataset):
    """(image, MOS / 100[, severities, severity weights][, degradation map][, source group]) items.

    The severities and their weights come with ``severity_kinds``; the degradation map (target and weight,
    (2, S / MAP_STRIDE, S / MAP_STRIDE) uint8, :func:`~monai_fiqa.fthnet.degradation_map.degradation_target`,
    cropped and flipped with the image; weight 0 for a window view) with ``degradation_maps``; the source group (an
    integer, equal for copies of one photograph or the windows of one ranked window group,
    :data:`~monai_fiqa.engine.ranking.NO_GROUP` for a single window view) with ``with_groups``, for the ranking loss
    over source-grouped batches (:mod:`monai_fiqa.engine.ranking`).

    Args:
        records: labelled images.
        img_size: network input side.
        train: random crop (from a 6 % larger square) and flips; otherwise the whole square at ``img_size``.
        seed: seed of the augmentation generator (so a resumed run does not replay the same crops).
        zoom_prob: share of training samples shown as a window view (one of the coarse map's windows, in place)
            with its local pseudo-MOS (:mod:`monai_fiqa.fthnet.windows`; only rows of ``monai-fiqa synth`` sets
            have one).  With windows on, every photograph degraded in part of its field of view (ladder rungs
            included) also adds items after the records: up to three of its windows from most to least covered by
            the region, one ranking group with an id from :data:`WINDOW_GROUP_BASE` on
            (:func:`~monai_fiqa.fthnet.windows.window_group`).
        severity_kinds: degradation kinds whose severities are returned (for the auxiliary head); a window view
            of a regionally degraded photograph gets weight 0 for the regional kinds (the window's own share of the
            region is unknown).
        with_groups: also return each item's source group (``groups`` holds them for the batch sampler).
        degradation_maps: also return each item's degradation map (training sets only).
        cache_dir: keep the decoded squares and window views here as ``.npy`` files, memory-mapped on later runs
            (a resumed training run then starts in seconds instead of minutes, and the pages are shared with the
            OS cache instead of held twice).  Keyed by the records, sizes and seed.
    """

    def __init__(
        self,
        records: Sequence[QualityRecord],
        img_size: int,
        train: bool,
        seed: int = 0,
        zoom_prob: float = 0.0,
        severity_kinds: Sequence[str] = (),
        cache_dir: str | Path | None = None,
        with_groups: bool = False,
        degradation_maps: bool = False,
    ) -> None:
        self.records = list(records)
        self.img_size, self.train = img_size, train
        self.load_size = int(round(img_size * CROP_MARGIN)) if train else img_size
        key = hashlib.sha1("\n".join(str(r.path) for r in self.records).encode()).hexdigest()[:12]
        cache = Path(cache_dir) if cache_dir is not None else None
        self.images = _cached(cache, f"squares_{key}_{self.load_size}", self._load_squares)
        self.targets = torch.tensor([r.mos / 100.0 for r in self.records], dtype=torch.float32)
        self.severity_kinds = tuple(severity_kinds)
        self.groups = source_groups([_group_key(r) for r in self.records])
        self.in_ladder = np.array([ladder_key(r) is not None for r in self.records])
        self.with_groups = with_groups
        self.severities = [severity_targets(r, self.severity_kinds) for r in self.records] if severity_kinds else []
        self.rng = np.random.default_rng(seed)
        self.zoom_prob = zoom_prob
        self.maps: np.ndarray | None = None
        if degradation_maps:
            if not train:
                raise ValueError("degradation maps are training targets: ask for them on a training set only")
            self.maps = _cached(cache, f"degmaps_{key}_{self.load_size}", self._degradation_maps)
        self.window_images: np.ndarray | None = None
        self.window_mos: np.ndarray | None = None  # NaN where a record has no window label (e.g. a site's CSV row)
        self.group_images = np.zeros((0, img_size, img_size, 3), np.uint8)  # the window groups' views, in order
        self.group_mos = np.zeros(0, np.float32)
        self.group_record = np.zeros(0, np.int64)  # the record each group window comes from (one group per record)
        if train and zoom_prob > 0:
            self.window_images, self.window_mos = _cached_parts(
                cache, f"windows_{key}_{img_size}_{seed}", ("images", "mos"), lambda: self._window_views(seed)
            )
            self.group_images, self.group_mos, self.group_record = _cached_parts(
                cache, f"windowgroups_{key}_{img_size}", ("images", "mos", "record"), self._window_groups
            )
            self.groups = self.groups + [WINDOW_GROUP_BASE + int(r) for r in self.group_record]

    def _built(self, fn: Callable, jobs: Sequence[tuple], desc: str) -> list:
        """``fn(*job)`` for every job, on every core (the first run of a training set builds thousands of labelled
        windows, ~0.2 s each), in order."""
        results = process_map(_star, [(fn, *job) for job in jobs], default_workers())
        return list(tqdm(results, total=len(jobs), desc=desc, leave=False))

    def _load_squares(self) -> np.ndarray:
        return np.stack(self._built(_square, [(r.path, self.load_size) for r in self.records], "load"))

    def _degradation_maps(self) -> np.ndarray:
        jobs = [(r, self.load_size, DEGRADATIONS) for r in self.records]
        return np.stack(self._built(degradation_target, jobs, "degradation maps"))

    def _window_views(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        windows = np.random.default_rng(seed + 1).integers(0, 9, len(self.records))
        images = np.zeros((len(self.records), self.img_size, self.img_size, 3), np.uint8)
        mos = np.full(len(self.records), np.nan, np.float32)
        # ladder rungs are shown whole: a rung's window would leave its ladder
        todo = [i for i in range(len(self.records)) if not self.in_ladder[i]]
        jobs = [(self.records[i], self.img_size, int(windows[i])) for i in todo]
        for i, view in zip(todo, self._built(window_sample, jobs, "window views"), strict=True):
            if view is not None:
                images[i], mos[i] = view
        return images, mos

    def _window_groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        images, mos, record = [], [], []
        groups = self._built(window_group, [(r, self.img_size) for r in self.records], "window groups")
        for i, group in enumerate(groups):
            for view, label in group or ():
                images.append(view)
                mos.append(label)
                record.append(i)
        if not images:
            return self.group_images, self.group_mos, self.group_record
        return np.stack(images), np.asarray(mos, np.float32), np.asarray(record, np.int64)

    def __len__(self) -> int:
        return len(self.records) + len(self.group_record)

    def _item(
        self, i: int, x: torch.Tensor, y: torch.Tensor, view: tuple[int, int, bool, bool] | None, group: int
    ) -> tuple[torch.Tensor, ...]:
        """The item of record ``i`` shown as ``x`` with label ``y``: the whole photograph cropped as ``view`` says
        (:meth:`_random_view`; ``(0, 0, False, False)`` for an evaluation square), or a window view (``None``)."""
        item: tuple[torch.Tensor, ...] = (x, y)
        if self.severity_kinds:
            targets, weights, regional = self.severities[i]
            if view is None:
                weights = np.where(regional, 0.0, weights).astype(np.float32)
            item += (torch.from_numpy(targets), torch.from_numpy(weights))
        if self.maps is not None:
            side = self.img_size // MAP_STRIDE
            target_map = self._crop_map(self.maps[i], view) if view is not None else np.zeros((2, side, side), np.uint8)
            item += (torch.from_numpy(target_map),)
        if self.with_groups:
            item += (torch.tensor(group),)
        return item

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, ...]]:
        """A batch (PyTorch's batched fetch): the rungs of one ladder share their crop and flips, so that a pair
        differs only by the varied degradation."""
        views: dict[int, tuple[int, int, bool, bool]] = {}
        items = []
        for i in indices:
            if self.train and i < len(self.records) and self.in_ladder[i]:
                view = views.setdefault(self.groups[i], self._random_view())
                x = normalise(self._crop(self.images[i], view))
                items.append(self._item(i, x, self.targets[i : i + 1], view, self.groups[i]))
            else:
                items.append(self[i])
        return items

    def _random_view(self) -> tuple[int, int, bool, bool]:
        m = self.load_size - self.img_size
        r, c = self.rng.integers(0, m + 1, 2)
        return int(r), int(c), bool(self.rng.random() < 0.5), bool(self.rng.random() < 0.5)

    def _crop(self, img: np.ndarray, view: tuple[int, int, bool, bool]) -> np.ndarray:
        r, c, flip_lr, flip_ud = view
        img = img[r : r + self.img_size, c : c + self.img_size]
        return img[:: -1 if flip_ud else 1, :: -1 if flip_lr else 1]

    def _crop_map(self, target_map: np.ndarray, view: tuple[int, int, bool, bool]) -> np.ndarray:
        """The (2, h, w) degradation map under the crop and flips of ``view`` (offsets rounded to its grid)."""
        r, c, flip_lr, flip_ud = view
        side = self.img_size // MAP_STRIDE
        r, c = int(round(r / MAP_STRIDE)), int(round(c / MAP_STRIDE))
        crop = target_map[:, r : r + side, c : c + side]
        return np.ascontiguousarray(crop[:, :: -1 if flip_ud else 1, :: -1 if flip_lr else 1])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        if i >= len(self.records):  # a window of a ranked window group
            j = i - len(self.records)
            img = self.group_images[j][:, ::-1] if self.rng.random() < 0.5 else self.group_images[j]
            y = torch.tensor([float(self.group_mos[j]) / 100.0], dtype=torch.float32)
            return self._item(int(self.group_record[j]), normalise(img), y, None, self.groups[i])
        has_window = self.window_mos is not None and np.isfinite(self.window_mos[i]) and not self.in_ladder[i]
        if has_window and self.rng.random() < self.zoom_prob:
            img, mos = self.window_images[i], float(self.window_mos[i])
            if self.rng.random() < 0.5:
                img = img[:, ::-1]
            return self._item(i, normalise(img), torch.tensor([mos / 100.0], dtype=torch.float32), None, NO_GROUP)
        view = self._random_view() if self.train else (0, 0, False, False)
        img = self._crop(self.images[i], view)
        return self._item(i, normalise(img), self.targets[i : i + 1], view, self.groups[i])
