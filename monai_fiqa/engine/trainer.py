"""Training loop for quality models (FTHNet, MedIQA): Adam with warm-up then linear annealing, EMA, checkpoints.

Why hand-written rather than an Ignite engine: the loop is short, must checkpoint every few minutes and resume
exactly (``--resume``) because a session on this machine is capped at three hours, and must stay readable.  All
checkpoints hold only tensors and plain containers, so they load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.engine.ranking import SourceGroupedBatchSampler
from monai_fiqa.metrics.functional import plcc, rmse, srcc
from monai_fiqa.registry import create_model

__all__ = [
    "BundleTrainer",
    "TrainConfig",
    "evaluate_model",
    "make_optimizer",
    "predict_scores",
    "train",
    "train_step",
    "training_step_loss",
]


@dataclass
class TrainConfig:
    """Hyper-parameters of one run (written to ``config.json`` and every checkpoint)."""

    model: str = "fthnet_s"
    img_size: int = 384
    batch_size: int = 16
    steps: int = 3000
    lr: float = 2e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    ema_decay: float = 0.998
    val_every: int = 250
    ckpt_every: int = 100
    seed: int = 0
    threads: int = 2
    zoom_prob: float = 0.25
    keep_val_weights: bool = False  # also write val_step{N}.pt (EMA weights) at every validation
    precision: str = "fp32"  # "bf16": CPU autocast (AVX-512 bf16 / AMX), 1.6x here (benchmarks/fthnet_train_speed)
    compile: bool = False  # torch.compile the training step (minutes to compile, faster steps after)
    severity_weight: float = 0.5  # weight of the auxiliary per-kind severity loss (networks that have the head)
    group_size: int = 0  # > 1: batches hold this many copies of one source (engine.ranking); 0: plain shuffling
    rank_weight: float = 0.0  # weight of the pairwise ranking loss within those groups
    map_weight: float = 0.0  # > 0: FTHNet's degradation-map head, trained with this weight (fthnet.degradation_map)


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1, then linear annealing to 0 at ``cfg.steps``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    return max(0.0, (cfg.steps - step) / max(1, cfg.steps - cfg.warmup_steps))


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """EMA of every floating tensor in one fused call per list (one small kernel per tensor was measurable)."""
    pairs = [(e, p) for e, p in zip(ema.state_dict().values(), model.state_dict().values(), strict=True)]
    floats = [(e, p) for e, p in pairs if e.dtype.is_floating_point]
    if floats:
        torch._foreach_lerp_([e for e, _ in floats], [p.detach() for _, p in floats], 1.0 - decay)
    for e, p in pairs:
        if not e.dtype.is_floating_point:
            e.copy_(p)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (fused kernel: one pass over all parameters instead of several per tensor)."""
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def train_step(
    model: torch.nn.Module,
    ema: torch.nn.Module,
    opt: torch.optim.Optimizer,
    step_loss: Callable[[torch.nn.Module, tuple], torch.Tensor],
    batch: tuple,
    step: int,
    cfg: TrainConfig,
) -> torch.Tensor:
    """One full step: learning rate, forward + loss, backward, clipping, optimiser, EMA.  Returns the loss.

    The training loop and ``benchmarks/fthnet_train_speed.py`` call this one function, so the benchmark times
    exactly what training runs.
    """
    model.train()
    for g in opt.param_groups:
        g["lr"] = cfg.lr * _lr_factor(step, cfg)
    loss = step_loss(model, batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    _ema_update(ema, model, cfg.ema_decay if step > cfg.warmup_steps else 0.0)
    return loss.detach()


@torch.no_grad()
def predict_scores(model: torch.nn.Module, data: torch.utils.data.Dataset, batch_size: int = 16) -> np.ndarray:
    """The model's scores (MOS scale, 0-100) for a dataset of (image, MOS / 100, ...) items, in order."""
    model.eval()
    preds = [model(x).squeeze(1) for x, *_ in DataLoader(data, batch_size=batch_size, shuffle=False)]
    return torch.cat(preds).float().numpy() * 100.0


def evaluate_model(model: torch.nn.Module, data: torch.utils.data.Dataset, batch_size: int = 16) -> dict[str, float]:
    """SRCC / PLCC / RMSE (MOS scale) of a model on a dataset of (image, MOS / 100, ...) items with ``targets``."""
    p = predict_scores(model, data, batch_size)
    t = data.targets.numpy() * 100.0
    return {"srcc": srcc(p, t), "plcc": plcc(p, t), "rmse": rmse(p, t), "n": int(len(t))}


def _load_init(model: torch.nn.Module, init: str | Path) -> None:
    """Load starting weights; a head the weights lack (e.g. FTHNet's severity head) starts from its initialisation."""
    heads = tuple(f"{name}." for name, _ in model.named_children() if name.endswith("_head"))
    load_weights(model, init, optional_prefixes=heads)


def _save(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a session killed mid-write leaves the previous checkpoint intact


def _score_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Default objective: SmoothL1 between the model's output and the target (scores scaled to [0, 1])."""
    x, y = batch[:2]
    return torch.nn.functional.smooth_l1_loss(model(x).float(), y, beta=0.05)


def training_step_loss(
    compute_loss: Callable[[torch.nn.Module, tuple], torch.Tensor], precision: str = "fp32", compile: bool = False
) -> Callable[[torch.nn.Module, tuple], torch.Tensor]:
    """The loss function a training step calls: ``compute_loss`` under bf16 autocast and/or ``torch.compile``.

    Why a wrapper: precision and compilation are properties of the step, not of the objective, and the same
    wrapped step is what ``benchmarks/fthnet_train_speed.py`` times and the numerics test compares with fp32.
    """
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    fn = torch.compile(compute_loss) if compile else compute_loss

    def step_loss(model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            return fn(model, batch).float()

    return step_loss


def train(
    train_data: torch.utils.data.Dataset,
    val_data: torch.utils.data.Dataset | None,
    out: str | Path,
    cfg: TrainConfig,
    resume: bool = False,
    max_minutes: float | None = None,
    init: str | Path | None = None,
    model: torch.nn.Module | None = None,
    compute_loss: Callable[[torch.nn.Module, tuple], torch.Tensor] = _score_loss,
    evaluate: Callable[[torch.nn.Module, torch.utils.data.Dataset], dict[str, float]] | None = None,
    select: str = "srcc",
) -> dict:
    """Train a model and write ``last.pt`` (resumable), ``best_model.pt`` (EMA weights) and ``history.json``.

    Args:
        train_data: training set (augmented); it may expose ``rng`` (re-seeded on resume).
        val_data: validation set; the best EMA model by the ``srcc`` of ``evaluate`` is kept.
        out: run folder.
        cfg: hyper-parameters.
        resume: continue from ``out/last.pt``.
        max_minutes: stop cleanly (after a checkpoint) when this much wall time has passed.
        init: state dict to start from (fine-tuning a shipped bundle on a site's labels, or the downstream stage
            of a two-stage recipe).
        model: the network (default: ``create_model(cfg.model, img_size=cfg.img_size)``).
        compute_loss: ``compute_loss(model, batch) -> loss`` (default: score SmoothL1).
        evaluate: ``evaluate(ema_model, val_data) -> metrics`` (default: :func:`evaluate_model`).
        select: the metric (higher is better) that picks ``best_model.pt``.

    Returns:
        The history dict (also in ``history.json``).
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = model if model is not None else create_model(cfg.model, img_size=cfg.img_size)
    evaluate = evaluate or (lambda m, data: evaluate_model(m, data, cfg.batch_size))
    if init is not None:
        _load_init(model, init)
    run = _Run.start(Path(out), model, cfg, resume)
    if resume and hasattr(train_data, "rng"):  # a resumed run draws new augmentations, not the same ones again
        train_data.rng = np.random.default_rng(cfg.seed + run.step)
    loader = _train_loader(train_data, cfg, seed=cfg.seed + run.step)
    step_loss = training_step_loss(compute_loss, cfg.precision, cfg.compile)
    start = time.time()
    bar = tqdm(total=cfg.steps, initial=run.step, desc=f"train {cfg.model}", unit="step")
    running: list[float] = []
    timed_out = False
    while run.step < cfg.steps and not timed_out:
        for batch in loader:
            loss = train_step(run.model, run.ema, run.opt, step_loss, batch, run.step, cfg)
            run.step += 1
            running.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(running[-50:]):.4f}")
            if run.step % 25 == 0:
                run.history["loss"].append([run.step, float(np.mean(running[-25:]))])
            if val_data is not None and (run.step % cfg.val_every == 0 or run.step == cfg.steps):
                bar.write(f"step {run.step}: val {run.validate(evaluate, val_data, select)}")
            timed_out = max_minutes is not None and time.time() - start > 60 * max_minutes
            if run.step % cfg.ckpt_every == 0 or run.step == cfg.steps or timed_out:
                run.checkpoint()
            if run.step >= cfg.steps or timed_out:
                break
    bar.close()
    if val_data is None:
        _save(run.root / "best_model.pt", run.ema.state_dict())
    run.write_history()
    return run.history


class BundleTrainer:
    """:func:`train` behind MONAI's standard train-config keys (``train#trainer`` and its ``max_epochs``,
    ``train#dataset``).

    Why not Ignite's ``SupervisedTrainer``: these models train with losses over a whole batch tuple (severity heads,
    ranking within ladder groups), an EMA copy chosen on validation, and resumable checkpoints within a minutes
    budget - all in :func:`train`, which the CLI and the recipes also use.  A bundle's ``train.json`` builds this
    object from the same parts (dataset, network, loss, evaluation) so that ``create_workflow(...,
    workflow_type="train")`` finds every property it requires and ``run()`` trains exactly as ``monai-fiqa train``.

    Args:
        dataset: the training set.
        network: the network to train.
        loss: ``loss(network, batch) -> tensor``.
        output_dir: the run folder (``last.pt``, ``best_model.pt``, ``history.json``).
        config: hyper-parameters; its ``steps`` is replaced by ``max_epochs`` passes over ``dataset``.
        max_epochs: passes over ``dataset`` (at least one step).
        val_dataset, evaluate, select, init, resume, max_minutes: as for :func:`train`.
        max_steps: at most this many steps (``monai-fiqa bundle check`` runs two).
    """

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        network: torch.nn.Module,
        loss: Callable[[torch.nn.Module, tuple], torch.Tensor],
        output_dir: str | Path,
        config: TrainConfig,
        max_epochs: int = 1,
        val_dataset: torch.utils.data.Dataset | None = None,
        evaluate: Callable[[torch.nn.Module, torch.utils.data.Dataset], dict[str, float]] | None = None,
        select: str = "srcc",
        init: str | Path | None = None,
        resume: bool = False,
        max_minutes: float | None = None,
        max_steps: int | None = None,
    ) -> None:
        self.dataset, self.network, self.loss, self.output_dir = dataset, network, loss, output_dir
        self.max_epochs, self.val_dataset, self.evaluate, self.select = max_epochs, val_dataset, evaluate, select
        self.init, self.resume, self.max_minutes = init, resume, max_minutes
        steps = max(1, int(np.ceil(max_epochs * len(dataset) / config.batch_size)))  # type: ignore[arg-type]
        steps = min(steps, max_steps) if max_steps is not None else steps
        self.config = replace(config, steps=steps, val_every=min(config.val_every, steps))

    def run(self) -> dict:
        """Train; returns the history (also written to ``history.json``)."""
        return train(
            self.dataset,
            self.val_dataset,
            self.output_dir,
            self.config,
            resume=self.resume,
            max_minutes=self.max_minutes,
            init=self.init,
            model=self.network,
            compute_loss=self.loss,
            evaluate=self.evaluate,
            select=self.select,
        )


def _train_loader(data: torch.utils.data.Dataset, cfg: TrainConfig, seed: int) -> DataLoader:
    """Shuffled batches, or source-grouped ones (``cfg.group_size``) for a dataset that exposes ``groups``."""
    if cfg.group_size > 1:
        if not hasattr(data, "groups"):
            raise ValueError("group_size needs a training set that exposes per-item source groups (.groups)")
        sampler = SourceGroupedBatchSampler(data.groups, cfg.batch_size, cfg.group_size, seed=seed)
        return DataLoader(data, batch_sampler=sampler)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=cfg.batch_size, shuffle=True, drop_last=True, generator=generator)


@dataclass
class _Run:
    """The state of one training run and how it is saved: ``last.pt`` (resumable), ``best_model.pt``, history."""

    root: Path
    cfg: TrainConfig
    model: torch.nn.Module
    ema: torch.nn.Module
    opt: torch.optim.Optimizer
    step: int = 0
    best: float = -1.0
    history: dict = field(default_factory=dict)

    @classmethod
    def start(cls, root: Path, model: torch.nn.Module, cfg: TrainConfig, resume: bool) -> _Run:
        """A new run, or the one in ``root/last.pt`` when resuming (weights, EMA, optimiser, step, best)."""
        root.mkdir(parents=True, exist_ok=True)
        run = cls(root, cfg, model, copy.deepcopy(model), make_optimizer(model, cfg))
        run.history = {"config": asdict(cfg), "val": [], "loss": []}
        last = root / "last.pt"
        if resume and last.is_file():
            ck = torch.load(last, map_location="cpu", weights_only=True)
            run.model.load_state_dict(ck["model"])
            run.ema.load_state_dict(ck["ema"])
            run.opt.load_state_dict(ck["optimizer"])
            run.step, run.best = int(ck["step"]), float(ck.get("best", ck.get("best_srcc", -1.0)))
            if (root / "history.json").is_file():
                run.history = json.loads((root / "history.json").read_text())
        (root / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        return run

    def validate(
        self,
        evaluate: Callable[[torch.nn.Module, torch.utils.data.Dataset], dict[str, float]],
        val_data: torch.utils.data.Dataset,
        select: str,
    ) -> dict[str, float]:
        """Evaluate the EMA weights; keep them as ``best_model.pt`` when ``select`` improved."""
        metrics = {"step": self.step, **evaluate(self.ema, val_data)}
        self.history["val"].append(metrics)
        if self.cfg.keep_val_weights:  # for selection by a criterion the loop does not compute (ladders)
            _save(self.root / f"val_step{self.step}.pt", self.ema.state_dict())
        if metrics[select] > self.best or not (self.root / "best_model.pt").is_file():  # NaN on a tiny set
            self.best = metrics[select] if np.isfinite(metrics[select]) else self.best
            _save(self.root / "best_model.pt", self.ema.state_dict())
        return metrics

    def checkpoint(self) -> None:
        """Write ``last.pt`` (atomically) and the history."""
        state = {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "best": self.best,
        }
        _save(self.root / "last.pt", state)
        self.write_history()

    def write_history(self) -> None:
        (self.root / "history.json").write_text(json.dumps(self.history, indent=1))
