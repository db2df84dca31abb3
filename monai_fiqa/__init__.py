"""monai-fiqa: medical image quality assessment for MONAI.

Public API::

    import monai_fiqa
    assessor = monai_fiqa.load("fundus_fthnet")
    result = assessor.assess("eye.jpg")   # result.score, result.grade, result.quality_map

Heavy modules (torch, MONAI) are imported only when used, so ``import monai_fiqa`` stays fast.
"""

from __future__ import annotations

import warnings
from importlib.metadata import PackageNotFoundError, version

from monai_fiqa.api import KNOWN_BUNDLES, BundleNotFoundError, QualityResult, available_bundles, load
from monai_fiqa.registry import ModelInfo, create_model, list_models, model_info, register_model

# With monai-deploy-app-sdk installed, ``import monai`` imports holoscan (MONAI loads every ``monai.*`` submodule),
# which warns about the 8 MB default stack on every import; it matters only when a holoscan graph runs, and the
# Deploy app's own runtime prints it there.
warnings.filterwarnings("ignore", message="Current stack size", category=RuntimeWarning)

try:  # the one place the version is written is pyproject.toml
    __version__ = version("monai-fiqa")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "KNOWN_BUNDLES",
    "BundleNotFoundError",
    "ModelInfo",
    "QualityResult",
    "__version__",
    "available_bundles",
    "create_model",
    "list_models",
    "load",
    "model_info",
    "register_model",
]
