"""One name space for every network: ``create_model(name, **kw)`` and ``list_models()``.

Why a registry: bundles, the CLI, benchmarks and tests refer to networks by name (``fthnet_s``, ``mediqa_tiny``),
and each name carries metadata - input size, normalisation, score range, direction - kept apart from the
architecture code, as timm and pyiqa do.  Each model package's ``models`` module registers its
variants; the registry imports them lazily so ``import monai_fiqa`` stays light.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ModelInfo", "create_model", "list_models", "model_info", "register_model"]


@dataclass(frozen=True)
class ModelInfo:
    """What a model expects and returns, kept apart from its architecture.

    Attributes:
        name: registry key.
        builder: callable returning the ``torch.nn.Module``; keyword arguments override its defaults.
        family: ``fthnet``, ``efiqa``, ``mediqa``, ... (for ``list_models(family=...)``).
        input_size: expected input (C, H, W) or (C, D, H, W).
        mean: per-channel normalisation mean.
        std: per-channel normalisation std.
        score_range: range of the score the model outputs.
        higher_is_better: direction of the score.
        description: one line for listings.
        defaults: default keyword arguments passed to ``builder``.
    """

    name: str
    builder: Callable[..., object]
    family: str
    input_size: tuple[int, ...]
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    score_range: tuple[float, float] = (0.0, 100.0)
    higher_is_better: bool = True
    description: str = ""
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelInfo] = {}
# each model package registers its variants; imported on first use so ``import monai_fiqa`` stays light
_BUILTINS = ("monai_fiqa.fthnet.models", "monai_fiqa.efiqa.models", "monai_fiqa.mediqa.models")


def register_model(info: ModelInfo, overwrite: bool = False) -> ModelInfo:
    """Add a model to the registry.

    Raises:
        ValueError: the name is taken and ``overwrite`` is False.
    """
    if info.name in _REGISTRY and not overwrite:
        raise ValueError(f"model {info.name!r} is already registered")
    _REGISTRY[info.name] = info
    return info


def _load_builtins() -> None:
    for module in _BUILTINS:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Names of registered models, sorted; ``pattern`` is a shell-style wildcard."""
    _load_builtins()
    return sorted(
        n for n, i in _REGISTRY.items() if fnmatch.fnmatch(n, pattern) and (family is None or i.family == family)
    )


def model_info(name: str) -> ModelInfo:
    """Metadata of a registered model.

    Raises:
        KeyError: unknown name (the message lists the available ones).
    """
    _load_builtins()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {list_models() or 'none registered yet'}")
    return _REGISTRY[name]


def create_model(name: str, **kwargs: object) -> object:
    """Build a registered network; ``kwargs`` override the registered defaults."""
    info = model_info(name)
    return info.builder(**{**info.defaults, **kwargs})
