"""Archive-scale quality control on Ray Data: ``monai-fiqa batch INPUT --models ... --out RESULTS``.

See :func:`monai_fiqa.batch.run.run_batch` and ``docs/scale.md``.  Ray is imported only when a run starts, so the
rest of the package works without the ``[batch]`` extra.
"""
