"""``python -m monai_fiqa.cli``."""

from __future__ import annotations

from monai_fiqa.cli import main

raise SystemExit(main())
