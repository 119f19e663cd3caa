"""Shape and dtype checks with messages that name the argument (static, so they work under jit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def check_float_array(x, name: str, ndim: int | None = None) -> None:
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name}: expected a floating-point array, got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {tuple(x.shape)}")


def check_last_dim(x, name: str, size: int) -> None:
    if not hasattr(x, "shape") or x.ndim < 1 or x.shape[-1] != size:
        shape = tuple(getattr(x, "shape", ()))
        raise ValueError(f"{name}: expected shape (..., {size}), got {shape}")


def check_batch(x, name: str, size: int) -> None:
    """``x`` must be a floating (B, size) array."""
    check_float_array(x, name, ndim=2)
    if x.shape[1] != size:
        raise ValueError(f"{name}: expected shape (batch, {size}), got {tuple(x.shape)}")


def check_sigma(sigma) -> None:
    """sigma must be a scalar; a concrete one must be positive (a traced one is not inspected)."""
    if np.ndim(sigma) != 0:
        raise ValueError(f"sigma: expected a scalar noise standard deviation, got shape "
                         f"{np.shape(sigma)}")
    if not isinstance(sigma, jax.core.Tracer) and not float(sigma) > 0:
        raise ValueError(f"sigma: expected a positive noise standard deviation, got {sigma}")


def check_key(key, name: str = "key") -> None:
    if not hasattr(key, "dtype"):
        raise TypeError(f"{name}: expected a jax PRNG key, got {type(key).__name__}")
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if not (typed and key.ndim == 0) and not (key.dtype == jnp.uint32 and key.shape == (2,)):
        raise ValueError(f"{name}: expected a single PRNG key (jax.random.key or PRNGKey), got "
                         f"dtype {key.dtype} shape {tuple(key.shape)}")
