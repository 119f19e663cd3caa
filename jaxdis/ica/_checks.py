"""Shape checks of the ICA package, with messages that name the function and the argument."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def check_sources(sources: Array, where: str) -> None:
    if sources.ndim != 2:
        raise ValueError(f"{where}: sources must be (N, C), got shape {sources.shape}")
    if not jnp.issubdtype(sources.dtype, jnp.floating):
        raise ValueError(f"{where}: sources must be floating point, got dtype {sources.dtype}")


def check_mask(mask: Array, n_components: int, where: str) -> None:
    if mask.shape != (n_components,):
        raise ValueError(f"{where}: mask must be (C={n_components},), got shape {mask.shape}")
