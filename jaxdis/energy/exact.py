"""Exact partition function, log-evidence and posterior of small GRBMs and Broadnets by enumeration
(thesis section 4.1, thesis eq. 4.2, 4.3, 4.4, 4.5, 4.6; the exact gradient, thesis eq. 4.9, is
``jax.grad`` of :func:`mean_log_evidence`). Convention of ``jaxdis.energy.broadnet``: sigma is the
noise standard deviation, phi_a = h_a W, phi_b = h_b V, D visible units.

Two paths compute the same numbers.

Brute force (``method="brute"``), as the thesis did: enumerate all 2^(Na+Nb) joint hidden
configurations and, for each, the visible integral of thesis eq. 4.2,

    Z = sum_{h_a, h_b} (2 pi sigma^2)^(D/2) exp(||phi_a||^2/(2 sigma^2) + ||phi_b||^2/(2 sigma^2)
                                                + a.h_a + b.h_b),
    log p(x) = log sum_{h_a, h_b} exp J(x, h_a, h_b) - log Z.

Fast (``method="fast"``, the default) uses two facts.

1. The partition factorises: the summand above is a product of a term in h_a and a term in h_b,
   so Z = (2 pi sigma^2)^(D/2) Z_a Z_b with Z_a = sum_{h_a} exp(h_a G_a h_a / (2 sigma^2) + a.h_a),
   G_a = W W^T (Na, Na), and likewise Z_b: 2^Na + 2^Nb terms instead of 2^(Na+Nb), each costing
   Na^2 instead of D Na.
2. In the evidence, one cause sums out in closed form. Expanding J,
       J = -||x||^2/(2 sigma^2) + h_a.(W x / sigma^2 + a) + h_b.(V (x - phi_a) / sigma^2 + b),
   which given h_a is linear in h_b, so, as for the hidden layer of an RBM's free energy,
       sum_{h_b} exp J = exp(-||x||^2/(2 sigma^2) + h_a.(W x/sigma^2 + a))
                         * prod_k (1 + exp(V_k.x/sigma^2 - (h_a W V^T)_k/sigma^2 + b_k)).
   Only the smaller cause's 2^min(Na, Nb) configurations are left to enumerate, each costing
   B * Na * Nb (the cross-weights W V^T and the fields W x, V x are computed once).

Both paths enumerate in chunks of configurations inside ``lax.scan`` with a streaming
log-sum-exp (running maximum and rescaled sum), and the scan body is rematerialised under
``jax.grad`` (``jax.checkpoint``), so memory is bounded by one chunk in both directions.
Configuration index i sets unit j on when bit j of i is 1 (:func:`configurations`).
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from jaxdis.energy import _checks
from jaxdis.energy import broadnet as bn
from jaxdis.energy import grbm as grbm_lib

# Largest number of units enumerated at once: 2^30 configurations is already far past what any
# device finishes; int32 configuration indices stay exact below 2^31.
MAX_ENUMERATED_UNITS = 30
# Elements (batch x configurations x units) in one chunk of the enumeration when chunk_size=None:
# small enough for a CPU's caches; an accelerator wants fewer, larger chunks (fewer scan steps).
CPU_CHUNK_ELEMENTS = 2**20
ACCELERATOR_CHUNK_ELEMENTS = 2**24
METHODS = ("fast", "brute")


def configurations(num_units: int, dtype=jnp.float32) -> jax.Array:
    """All 2^num_units binary configurations, (2^n, n); row i has unit j on iff bit j of i is 1."""
    _check_enumerable(num_units, "num_units")
    return _bits(jnp.arange(2**num_units, dtype=jnp.int32), num_units, dtype)


def _bits(indices: jax.Array, num_units: int, dtype) -> jax.Array:
    return ((indices[:, None] >> jnp.arange(num_units, dtype=jnp.int32)) & 1).astype(dtype)


def _check_enumerable(num_units: int, name: str) -> None:
    if not 0 <= num_units <= MAX_ENUMERATED_UNITS:
        raise ValueError(f"{name}: exact enumeration supports 0..{MAX_ENUMERATED_UNITS} units, "
                         f"got {num_units}")


def _chunk(num_configs: int, per_config: int, chunk_size: int | None) -> int:
    """A power-of-two chunk that divides num_configs (a power of two)."""
    if chunk_size is None:
        on_cpu = jax.default_backend() == "cpu"
        elements = CPU_CHUNK_ELEMENTS if on_cpu else ACCELERATOR_CHUNK_ELEMENTS
        chunk_size = max(1, elements // max(per_config, 1))
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive number of configurations, got "
                         f"{chunk_size}")
    return min(num_configs, 2 ** int(math.floor(math.log2(chunk_size))))


def streaming_logsumexp(score: Callable[[jax.Array], jax.Array], num_units: int, dtype,
                        chunk_size: int) -> jax.Array:
    """log sum over all 2^num_units configurations h of exp(score(h)).

    ``score`` maps a chunk of configurations (C, num_units) to scores (..., C). The chunks are
    visited by ``lax.scan`` carrying a running maximum m and a sum s of exp(score - m); the maximum
    is held out of the gradient (the result does not depend on it).
    """
    num_configs = 2**num_units
    chunk = _chunk(num_configs, 1, chunk_size)

    def chunk_lse(start):
        scores = score(_bits(start + jnp.arange(chunk, dtype=jnp.int32), num_units, dtype))
        m = lax.stop_gradient(jnp.max(scores, -1))
        return m, jnp.sum(jnp.exp(scores - m[..., None]), -1)

    @jax.checkpoint
    def body(carry, start):
        m, s = carry
        m_new, s_new = chunk_lse(start)
        m_max = jnp.maximum(m, m_new)
        return (m_max, s * jnp.exp(m - m_max) + s_new * jnp.exp(m_new - m_max)), None

    first = chunk_lse(jnp.int32(0))
    starts = jnp.arange(chunk, num_configs, chunk, dtype=jnp.int32)
    (m, s), _ = lax.scan(body, first, starts)
    return m + jnp.log(s)


def _gaussian_log_normaliser(num_visible: int, sigma) -> jax.Array:
    """log of the visible integral (2 pi sigma^2)^(D/2) (thesis eq. 4.2)."""
    return 0.5 * num_visible * jnp.log(2 * jnp.pi * sigma**2)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


# ---------------------------------------------------------------------------------------------
# One cause (a GRBM).


def cause_log_normaliser(params: grbm_lib.GRBMParams, sigma, chunk_size: int | None = None):
    """log Z_a = log sum_h exp(h G h / (2 sigma^2) + b.h), G = W W^T: the normaliser of one cause's
    marginal (thesis eq. 3.7) without the Gaussian factor."""
    num_units = params.W.shape[0]
    _check_enumerable(num_units, "params.W (hidden units)")
    gram = params.W @ params.W.T / (2 * sigma**2)

    def score(h):
        return jnp.sum((h @ gram) * h, -1) + h @ params.b

    return streaming_logsumexp(score, num_units, params.W.dtype,
                               _chunk(2**num_units, num_units, chunk_size))


def cause_log_marginal(params: grbm_lib.GRBMParams, sigma) -> jax.Array:
    """log p(h) of a GRBM (one Broadnet cause) for every configuration, (2^H,) (thesis eq. 3.7)."""
    grbm_lib.check_params(params)
    _checks.check_sigma(sigma)
    h = configurations(params.W.shape[0], params.W.dtype)
    phi = h @ params.W
    scores = jnp.sum(phi**2, -1) / (2 * sigma**2) + h @ params.b
    return scores - jax.nn.logsumexp(scores)


def grbm_log_partition(params: grbm_lib.GRBMParams, sigma, chunk_size: int | None = None):
    """log Z of a GRBM: (D/2) log(2 pi sigma^2) + log Z_a (thesis eq. 3.7)."""
    grbm_lib.check_params(params)
    _checks.check_sigma(sigma)
    return (_gaussian_log_normaliser(params.W.shape[1], sigma)
            + cause_log_normaliser(params, sigma, chunk_size))


def grbm_log_evidence(params: grbm_lib.GRBMParams, v: jax.Array, sigma,
                      chunk_size: int | None = None) -> jax.Array:
    """log p(v) of a GRBM per example: free-energy term minus log Z; v (B, D) -> (B,)."""
    grbm_lib.check_params(params)
    _checks.check_batch(v, "v", params.W.shape[1])
    return grbm_lib.free_energy_term(params, v, sigma) - grbm_log_partition(params, sigma,
                                                                            chunk_size)


# ---------------------------------------------------------------------------------------------
# The Broadnet.


def log_partition(params: bn.BroadnetParams, sigma, method: str = "fast",
                  chunk_size: int | None = None) -> jax.Array:
    """log Z of a Broadnet (thesis eq. 4.2, 4.3); see the module docstring for the two paths."""
    bn.check_params(params)
    _checks.check_sigma(sigma)
    _check_method(method)
    num_a, num_b = params.W.shape[0], params.V.shape[0]
    _check_enumerable(num_a + num_b if method == "brute" else max(num_a, num_b),
                      "params (hidden units to enumerate)")
    return _log_partition(params, sigma, method, chunk_size)


@functools.partial(jax.jit, static_argnames=("method", "chunk_size"))
def _log_partition(params, sigma, method, chunk_size):
    num_a, num_b = params.W.shape[0], params.V.shape[0]
    gaussian = _gaussian_log_normaliser(params.num_visible, sigma)
    if method == "fast":
        return (gaussian + cause_log_normaliser(params.cause_a, sigma, chunk_size)
                + cause_log_normaliser(params.cause_b, sigma, chunk_size))

    def score(h):  # every joint configuration, its reconstructions formed explicitly
        phi_a, phi_b = h[:, :num_a] @ params.W, h[:, num_a:] @ params.V
        return ((jnp.sum(phi_a**2, -1) + jnp.sum(phi_b**2, -1)) / (2 * sigma**2)
                + h[:, :num_a] @ params.a + h[:, num_a:] @ params.b)

    chunk = _chunk(2 ** (num_a + num_b), params.num_visible, chunk_size)
    return gaussian + streaming_logsumexp(score, num_a + num_b, params.W.dtype, chunk)


def log_unnormalised_evidence(params: bn.BroadnetParams, x: jax.Array, sigma,
                              method: str = "fast", chunk_size: int | None = None) -> jax.Array:
    """log sum_{h_a, h_b} exp J(x, h_a, h_b) per example; x (B, D) -> (B,)."""
    bn.check_params(params)
    _checks.check_sigma(sigma)
    _checks.check_batch(x, "x", params.num_visible)
    _check_method(method)
    num_a, num_b = params.W.shape[0], params.V.shape[0]
    _check_enumerable(num_a + num_b if method == "brute" else min(num_a, num_b),
                      "params (hidden units to enumerate)")
    return _log_unnormalised_evidence(params, x, sigma, method, chunk_size)


@functools.partial(jax.jit, static_argnames=("method", "chunk_size"))
def _log_unnormalised_evidence(params, x, sigma, method, chunk_size):
    num_a, num_b = params.W.shape[0], params.V.shape[0]
    batch = x.shape[0]
    if method == "brute":

        def score(h):  # J of thesis eq. 3.8 written out, (B, C, D) before the sum over pixels
            h_a, h_b = h[:, :num_a], h[:, num_a:]
            return bn.log_unnormalised_joint(params, x[:, None, :], h_a, h_b, sigma)

        chunk = _chunk(2 ** (num_a + num_b), batch * params.num_visible, chunk_size)
        return streaming_logsumexp(score, num_a + num_b, x.dtype, chunk)

    # Fast: enumerate the smaller cause s, sum the other cause o out in closed form.
    (W_s, bias_s), (W_o, bias_o) = (params.cause_a, params.cause_b)
    if num_a > num_b:
        (W_s, bias_s), (W_o, bias_o) = (W_o, bias_o), (W_s, bias_s)
    field_s = x @ W_s.T / sigma**2 + bias_s  # (B, Ns)
    field_o = x @ W_o.T / sigma**2 + bias_o  # (B, No)
    cross = W_s @ W_o.T / sigma**2  # (Ns, No)

    def score(h):  # (C, Ns) -> (B, C)
        summed_out = jax.nn.softplus(field_o[:, None, :] - (h @ cross)[None, :, :])
        return field_s @ h.T + jnp.sum(summed_out, -1)

    chunk = _chunk(2 ** W_s.shape[0], batch * max(W_o.shape[0], 1), chunk_size)
    lse = streaming_logsumexp(score, W_s.shape[0], x.dtype, chunk)
    return -jnp.sum(x**2, -1) / (2 * sigma**2) + lse


def log_evidence(params: bn.BroadnetParams, x: jax.Array, sigma, method: str = "fast",
                 chunk_size: int | None = None) -> jax.Array:
    """log p(x) per example (thesis eq. 4.4, 4.6); x (B, D) -> (B,)."""
    return (log_unnormalised_evidence(params, x, sigma, method, chunk_size)
            - log_partition(params, sigma, method, chunk_size))


def mean_log_evidence(params: bn.BroadnetParams, x: jax.Array, sigma, method: str = "fast",
                      chunk_size: int | None = None) -> jax.Array:
    """The training objective (1/B) sum_x log p(x); its ``jax.grad`` is the exact gradient of
    thesis eq. 4.9 (with sigma: dW_ji = (E_post[h_a,j (x_i - phi_b,i)] - E_p(h_a)[h_a,j phi_a,i])
    / sigma^2)."""
    return jnp.mean(log_evidence(params, x, sigma, method, chunk_size))


def log_posterior(params: bn.BroadnetParams, x: jax.Array, sigma) -> jax.Array:
    """log p(h_a, h_b | x) for every joint configuration, (B, 2^Na, 2^Nb), rows and columns indexed
    as :func:`configurations`. Materialises the whole table: for small models (Na + Nb <= 20)."""
    bn.check_params(params)
    _checks.check_sigma(sigma)
    _checks.check_batch(x, "x", params.num_visible)
    num_a, num_b = params.W.shape[0], params.V.shape[0]
    if num_a + num_b > 20:
        raise ValueError(f"params: log_posterior tabulates 2^(Na+Nb) states per example; "
                         f"Na + Nb = {num_a + num_b} > 20")
    h_a, h_b = configurations(num_a, x.dtype), configurations(num_b, x.dtype)
    phi_a, phi_b = h_a @ params.W, h_b @ params.V
    # J up to the -||x||^2 / (2 sigma^2) constant, which cancels in the normalisation.
    joint = ((x @ phi_a.T)[:, :, None] + (x @ phi_b.T)[:, None, :]
             - (phi_a @ phi_b.T)[None]) / sigma**2 + (h_a @ params.a)[None, :, None] \
        + (h_b @ params.b)[None, None, :]
    return joint - jax.nn.logsumexp(joint, axis=(1, 2), keepdims=True)
