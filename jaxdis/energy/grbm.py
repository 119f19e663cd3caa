"""The Gaussian RBM (thesis eq. 2.17, 2.18, section 2.6) as a plain pytree and pure functions.

Convention (shared by every function of ``jaxdis.energy``): ``sigma`` is the standard deviation of
the visible noise, the likelihood is centred on the reconstruction ``phi = h @ W`` (thesis eq. 3.3),
and there is no visible bias. The log unnormalised joint is

    log p*(v, h) = -||v - phi||^2 / (2 sigma^2) + ||phi||^2 / (2 sigma^2) + b.h
                 = h W v / sigma^2 - ||v||^2 / (2 sigma^2) + b.h,

which is thesis eq. 2.17 with W/sigma in place of W (the thesis writes the likelihood's mean as
sigma * phi in thesis eq. 3.5 and as phi in thesis eq. 2.18 and 3.3; at sigma = 1, the thesis's
setting for all of chapter 4, the two agree). With this choice a GRBM and one cause of a Broadnet
share their weights exactly, so a GRBM-initialised Broadnet is two GRBMs stacked, and every
conditional is a product of sigmoids:

    p(h_j = 1 | v) = sigmoid(W_j . v / sigma^2 + b_j)        (thesis eq. 2.15, 3.12)
    p(v | h)       = N(h W, sigma^2 I)                       (thesis eq. 2.18, 3.3)
    p(h)          ∝ exp(||h W||^2 / (2 sigma^2) + b.h)        (thesis eq. 3.7)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdis.energy import _checks


class GRBMParams(NamedTuple):
    """A Gaussian RBM: weights ``W`` (H, D) and hidden bias ``b`` (H,). Noise sigma is not a
    parameter: every function takes it as an argument."""

    W: jax.Array
    b: jax.Array


def check_params(params: GRBMParams, name: str = "params") -> None:
    """Raises ValueError/TypeError unless ``params`` is a GRBMParams with W (H, D) and b (H,)."""
    if not isinstance(params, GRBMParams):
        raise TypeError(f"{name}: expected GRBMParams(W, b), got {type(params).__name__}")
    _checks.check_float_array(params.W, f"{name}.W", ndim=2)
    _checks.check_float_array(params.b, f"{name}.b", ndim=1)
    if params.b.shape[0] != params.W.shape[0]:
        raise ValueError(
            f"{name}.b: expected shape ({params.W.shape[0]},) to match W {params.W.shape}, "
            f"got {params.b.shape}"
        )


def init_params(key: jax.Array, num_hidden: int, num_visible: int, weight_scale: float = 0.01,
                bias: float = 0.0, dtype=jnp.float32) -> GRBMParams:
    """Weights uniform in [-weight_scale, weight_scale] (thesis table 3.1), constant bias."""
    W = jax.random.uniform(key, (num_hidden, num_visible), dtype, -weight_scale, weight_scale)
    return GRBMParams(W, jnp.full((num_hidden,), bias, dtype))


def log_unnormalised_joint(params: GRBMParams, v: jax.Array, h: jax.Array, sigma) -> jax.Array:
    """log p*(v, h) (thesis eq. 2.17 in the convention of the module docstring); v (..., D),
    h (..., H) -> (...)."""
    check_params(params)
    _checks.check_last_dim(v, "v", params.W.shape[1])
    _checks.check_last_dim(h, "h", params.W.shape[0])
    phi = h @ params.W
    return (-jnp.sum((v - phi) ** 2, -1) + jnp.sum(phi**2, -1)) / (2 * sigma**2) + h @ params.b


def hidden_probs(params: GRBMParams, v: jax.Array, sigma) -> jax.Array:
    """p(h_j = 1 | v) = sigmoid(W_j . v / sigma^2 + b_j) (thesis eq. 2.15);
    v (..., D) -> (..., H)."""
    return jax.nn.sigmoid(v @ params.W.T / sigma**2 + params.b)


def free_energy_term(params: GRBMParams, v: jax.Array, sigma) -> jax.Array:
    """log sum_h p*(v, h) = -||v||^2/(2 sigma^2) + sum_j softplus(W_j . v / sigma^2 + b_j): the
    hidden layer summed out in closed form, as in any RBM; v (..., D) -> (...)."""
    return -jnp.sum(v**2, -1) / (2 * sigma**2) + jnp.sum(
        jax.nn.softplus(v @ params.W.T / sigma**2 + params.b), -1
    )
