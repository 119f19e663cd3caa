"""The Broadnet (thesis ch. 3): two Gaussian RBMs, the causes A and B, sharing their visible units.

Parameters ``BroadnetParams(W, V, a, b)``: W (Na, D) and a (Na,) belong to cause A, V (Nb, D) and
b (Nb,) to cause B. Reconstructions are phi_a = h_a W and phi_b = h_b V.

Convention (the one of ``jaxdis.energy.grbm``; ``sigma`` is the noise standard deviation, a fixed
hyperparameter): the likelihood is Gaussian around the sum of the causes (thesis eq. 3.3),

    p(x | h_a, h_b) = N(phi_a + phi_b, sigma^2 I),

and each cause's marginal is a GRBM's, p(h_a) ∝ exp(||phi_a||^2 / (2 sigma^2) + a.h_a)
(thesis eq. 3.7). The log unnormalised joint J (thesis eq. 3.8, 4.1, which are written at
sigma = 1) is

    J(x, h_a, h_b) = -||x - phi_a - phi_b||^2 / (2 sigma^2)
                     + ||phi_a||^2 / (2 sigma^2) + ||phi_b||^2 / (2 sigma^2) + a.h_a + b.h_b
                   = -||x||^2 / (2 sigma^2) + (x.phi_a + x.phi_b - phi_a.phi_b) / sigma^2
                     + a.h_a + b.h_b.

The second line shows why the 1/(2 sigma^2) on the marginal terms is the right choice: the
quadratic terms of each cause cancel, J is linear in h_a given h_b, and each cause's conditional is
a product of sigmoids (thesis eq. 3.12, whose garbled residual we read as x - phi_b):

    p(h_a,j = 1 | x, h_b) = sigmoid(W_j . (x - phi_b) / sigma^2 + a_j)
    p(h_b,k = 1 | x, h_a) = sigmoid(V_k . (x - phi_a) / sigma^2 + b_k).

With the sigma * phi mean of thesis eq. 3.5 one gets the same model with W/sigma in place of W.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdis.energy import _checks
from jaxdis.energy.grbm import GRBMParams


class BroadnetParams(NamedTuple):
    """A two-cause Broadnet: W (Na, D), V (Nb, D), a (Na,), b (Nb,)."""

    W: jax.Array
    V: jax.Array
    a: jax.Array
    b: jax.Array

    @property
    def num_visible(self) -> int:
        return self.W.shape[1]

    @property
    def cause_a(self) -> GRBMParams:
        return GRBMParams(self.W, self.a)

    @property
    def cause_b(self) -> GRBMParams:
        return GRBMParams(self.V, self.b)


def check_params(params: BroadnetParams, name: str = "params") -> None:
    """Raises unless W (Na, D), V (Nb, D), a (Na,), b (Nb,) are floating arrays of those shapes."""
    if not isinstance(params, BroadnetParams):
        raise TypeError(f"{name}: expected BroadnetParams(W, V, a, b), got {type(params).__name__}")
    _checks.check_float_array(params.W, f"{name}.W", ndim=2)
    _checks.check_float_array(params.V, f"{name}.V", ndim=2)
    _checks.check_float_array(params.a, f"{name}.a", ndim=1)
    _checks.check_float_array(params.b, f"{name}.b", ndim=1)
    (na, d), (nb, d_v) = params.W.shape, params.V.shape
    if d_v != d:
        raise ValueError(f"{name}.V: expected shape (Nb, {d}) to match W {params.W.shape}, "
                         f"got {params.V.shape}")
    if params.a.shape != (na,):
        raise ValueError(f"{name}.a: expected shape ({na},) to match W, got {params.a.shape}")
    if params.b.shape != (nb,):
        raise ValueError(f"{name}.b: expected shape ({nb},) to match V, got {params.b.shape}")


def from_grbms(cause_a: GRBMParams, cause_b: GRBMParams) -> BroadnetParams:
    """A GRBM-initialised Broadnet (thesis section 4.3.1): cause A from one GRBM, B from another."""
    return BroadnetParams(cause_a.W, cause_b.W, cause_a.b, cause_b.b)


def init_params(key: jax.Array, num_a: int, num_b: int, num_visible: int,
                weight_scale: float | None = None, bias: float = 0.0,
                dtype=jnp.float32) -> BroadnetParams:
    """Random weights: Glorot-uniform per cause when ``weight_scale`` is None (thesis section 4.4),
    else uniform in [-weight_scale, weight_scale] (thesis table 3.1); constant biases."""
    key_w, key_v = jax.random.split(key)

    def weights(k, n):
        scale = weight_scale if weight_scale is not None else (6.0 / (n + num_visible)) ** 0.5
        return jax.random.uniform(k, (n, num_visible), dtype, -scale, scale)

    return BroadnetParams(weights(key_w, num_a), weights(key_v, num_b),
                          jnp.full((num_a,), bias, dtype), jnp.full((num_b,), bias, dtype))


def log_unnormalised_joint(params: BroadnetParams, x: jax.Array, h_a: jax.Array, h_b: jax.Array,
                           sigma) -> jax.Array:
    """J(x, h_a, h_b) (thesis eq. 3.8, 4.1); x (..., D), h_a (..., Na), h_b (..., Nb) -> (...)."""
    check_params(params)
    _checks.check_sigma(sigma)
    _checks.check_last_dim(x, "x", params.num_visible)
    _checks.check_last_dim(h_a, "h_a", params.W.shape[0])
    _checks.check_last_dim(h_b, "h_b", params.V.shape[0])
    phi_a, phi_b = h_a @ params.W, h_b @ params.V
    quadratic = (-jnp.sum((x - phi_a - phi_b) ** 2, -1) + jnp.sum(phi_a**2, -1)
                 + jnp.sum(phi_b**2, -1))
    return quadratic / (2 * sigma**2) + h_a @ params.a + h_b @ params.b


def cause_a_probs(params: BroadnetParams, x: jax.Array, h_b: jax.Array, sigma) -> jax.Array:
    """p(h_a = 1 | x, h_b) = sigmoid(W (x - phi_b) / sigma^2 + a) (thesis eq. 3.12); (..., Na)."""
    return jax.nn.sigmoid((x - h_b @ params.V) @ params.W.T / sigma**2 + params.a)


def cause_b_probs(params: BroadnetParams, x: jax.Array, h_a: jax.Array, sigma) -> jax.Array:
    """p(h_b = 1 | x, h_a) = sigmoid(V (x - phi_a) / sigma^2 + b) (thesis eq. 3.12); (..., Nb)."""
    return jax.nn.sigmoid((x - h_a @ params.W) @ params.V.T / sigma**2 + params.b)
