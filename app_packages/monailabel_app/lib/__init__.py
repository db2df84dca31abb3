"""Infer tasks of the monai-fiqa MONAI Label app."""
