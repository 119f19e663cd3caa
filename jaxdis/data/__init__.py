"""Datasets (filled in by the data module)."""
