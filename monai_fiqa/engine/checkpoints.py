"""The one way this package reads weights: ``torch.load(..., weights_only=True)`` into a module.

Why one function: a checkpoint is untrusted input (a bundle fetched from elsewhere, a file a site shares).
``weights_only=True`` refuses pickled code; doing it in one place keeps every loader (assessors, encoders, training
``--init``) on that rule and gives one error message that names the file.
"""

from __future__ import annotations

import os

import torch

__all__ = ["load_weights", "read_state_dict"]


def read_state_dict(checkpoint: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint: a plain state dict, or one wrapped as ``{"state_dict": ...}`` (Lightning/MONAI)."""
    state = torch.load(checkpoint, map_location=device, weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{checkpoint}: not a state dict (got {type(state).__name__})")
    return state


def load_weights(
    module: torch.nn.Module,
    checkpoint: str | os.PathLike | None,
    device: str | torch.device = "cpu",
    optional_prefixes: tuple[str, ...] = (),
) -> torch.nn.Module:
    """Load ``checkpoint`` into ``module`` (``None``: keep its weights) and move it to ``device``.

    Args:
        module: the network.
        checkpoint: state-dict file.
        device: where the module goes.
        optional_prefixes: parameters the checkpoint may lack (e.g. a head added after it was saved); they keep
            their initialisation.  Any other mismatch is an error naming the keys.

    Returns:
        The module (same object).
    """
    if checkpoint is not None:
        state = read_state_dict(checkpoint, device)
        missing, unexpected = module.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(optional_prefixes)] if optional_prefixes else list(missing)
        if missing or unexpected:
            raise RuntimeError(
                f"{checkpoint}: weights do not fit {type(module).__name__} (missing {missing[:8]}, unexpected "
                f"{list(unexpected)[:8]})"
            )
    return module.to(device)
