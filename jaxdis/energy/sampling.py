"""Samplers: block Gibbs for a GRBM, and Broadnet posterior and joint inference (thesis Alg. 1, 2).

Each runs a given number of steps inside ``lax.scan``, takes an explicit PRNG key, accepts any
leading batch dimensions on its states (examples, chains), is vmappable, and returns the final
samples together with their mean-field values (the conditional probabilities, or for visibles
the conditional mean). Conditionals follow ``jaxdis.energy.broadnet`` (sigma: noise std):

    p(h = 1 | v)           = sigmoid(W v / sigma^2 + b)              GRBM (thesis eq. 2.15)
    p(v | h)               = N(h W, sigma^2 I)                        GRBM (thesis eq. 2.18)
    p(h_a = 1 | x, h_b)    = sigmoid(W (x - h_b V) / sigma^2 + a)     Broadnet (thesis eq. 3.12)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxdis.energy import _checks
from jaxdis.energy import broadnet as bn
from jaxdis.energy import grbm as grbm_lib

FIRST_CAUSES = ("random", "a", "b")


class GRBMChain(NamedTuple):
    """The last state of a GRBM chain: visible sample v and its mean h_prev W, hidden sample h and
    its probabilities p(h = 1 | v)."""

    v: jax.Array
    v_mean: jax.Array
    h: jax.Array
    h_prob: jax.Array


class PosteriorChain(NamedTuple):
    """The last posterior samples h_a, h_b, their probabilities (mean-field values) prob_a, prob_b,
    and the probabilities after every iteration, trace_a (steps, ..., Na), trace_b (steps, ..., Nb)
    (for the activity measure, thesis eq. 4.8)."""

    h_a: jax.Array
    h_b: jax.Array
    prob_a: jax.Array
    prob_b: jax.Array
    trace_a: jax.Array
    trace_b: jax.Array


class JointChain(NamedTuple):
    """The last joint sample: each cause's GRBM chain (thesis Alg. 2) and a visible sample
    x ~ N(phi_a + phi_b, sigma^2 I) drawn from the final hidden samples."""

    cause_a: GRBMChain
    cause_b: GRBMChain
    x: jax.Array


def _bernoulli(key, prob):
    return jax.random.bernoulli(key, prob).astype(prob.dtype)


def _check_steps(num_steps: int) -> None:
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps: expected a positive int (a static chain length), got "
                         f"{num_steps!r}")


def grbm_gibbs(params: grbm_lib.GRBMParams, h: jax.Array, key: jax.Array, sigma,
               num_steps: int) -> GRBMChain:
    """Block Gibbs on a GRBM's joint from hidden states ``h`` (..., H): each step draws
    v ~ N(h W, sigma^2 I), then h ~ Bernoulli(sigmoid(W v / sigma^2 + b)) (thesis section 2.5.2).

    CD-k starts ``h`` at a posterior sample of the data; persistent CD at the persistent chains.
    """
    grbm_lib.check_params(params)
    _checks.check_sigma(sigma)
    _checks.check_last_dim(h, "h", params.W.shape[0])
    _checks.check_key(key)
    _check_steps(num_steps)

    def step(state, key):
        key_v, key_h = jax.random.split(key)
        v_mean = state.h @ params.W
        v = v_mean + sigma * jax.random.normal(key_v, v_mean.shape, v_mean.dtype)
        h_prob = grbm_lib.hidden_probs(params, v, sigma)
        return GRBMChain(v, v_mean, _bernoulli(key_h, h_prob), h_prob), None

    h = h.astype(params.W.dtype)
    v0 = jnp.zeros(h.shape[:-1] + (params.W.shape[1],), h.dtype)
    state, _ = lax.scan(step, GRBMChain(v0, v0, h, h), jax.random.split(key, num_steps))
    return state


def posterior_chain(params: bn.BroadnetParams, x: jax.Array, key: jax.Array, sigma,
                    num_steps: int, first_cause: str = "random") -> PosteriorChain:
    """Broadnet posterior inference (thesis Alg. 1): block Gibbs on p(h_a, h_b | x).

    The first cause to be sampled sees the whole of x (the other cause starts off, h = 0); then
    each iteration samples cause A given the residual x - phi_b and cause B given x - phi_a.
    ``first_cause="random"`` (the thesis's advice) tosses a coin per chain: a chain that starts
    with B samples h_b ~ p(h_b | x, h_a = 0) before its first iteration, so it runs half an
    iteration longer. x (..., D); each leading index is an independent chain.
    """
    bn.check_params(params)
    _checks.check_sigma(sigma)
    _checks.check_last_dim(x, "x", params.num_visible)
    _checks.check_float_array(x, "x")
    _checks.check_key(key)
    _check_steps(num_steps)
    if first_cause not in FIRST_CAUSES:
        raise ValueError(f"first_cause: expected one of {FIRST_CAUSES}, got {first_cause!r}")
    batch = x.shape[:-1]
    key_coin, key_start, key_chain = jax.random.split(key, 3)
    zeros_a = jnp.zeros(batch + (params.W.shape[0],), x.dtype)
    start_b = {"a": jnp.zeros(batch, bool), "b": jnp.ones(batch, bool),
               "random": jax.random.bernoulli(key_coin, 0.5, batch)}[first_cause]
    h_b = jnp.where(start_b[..., None],
                    _bernoulli(key_start, bn.cause_b_probs(params, x, zeros_a, sigma)), 0.0)

    def iteration(h_b, key):
        key_a, key_b = jax.random.split(key)
        prob_a = bn.cause_a_probs(params, x, h_b, sigma)
        h_a = _bernoulli(key_a, prob_a)
        prob_b = bn.cause_b_probs(params, x, h_a, sigma)
        h_b = _bernoulli(key_b, prob_b)
        return h_b, (h_a, prob_a, prob_b)

    h_b, (h_as, trace_a, trace_b) = lax.scan(iteration, h_b, jax.random.split(key_chain, num_steps))
    return PosteriorChain(h_as[-1], h_b, trace_a[-1], trace_b[-1], trace_a, trace_b)


def joint_chain(params: bn.BroadnetParams, h_a: jax.Array, h_b: jax.Array, key: jax.Array, sigma,
                num_steps: int) -> JointChain:
    """Broadnet joint inference (thesis Alg. 2): the causes are independent in the marginal, so
    each runs its own GRBM chain (:func:`grbm_gibbs`) from ``h_a`` (..., Na) and ``h_b`` (..., Nb),
    e.g. the output of :func:`posterior_chain`. Returns both chains' last states and a visible
    sample x ~ N(phi_a + phi_b, sigma^2 I) of the Broadnet's joint."""
    bn.check_params(params)
    if h_a.shape[:-1] != h_b.shape[:-1]:
        raise ValueError(f"h_a, h_b: expected the same leading (batch) shape, got "
                         f"{h_a.shape} and {h_b.shape}")
    key_a, key_b, key_x = jax.random.split(key, 3)
    chain_a = grbm_gibbs(params.cause_a, h_a, key_a, sigma, num_steps)
    chain_b = grbm_gibbs(params.cause_b, h_b, key_b, sigma, num_steps)
    mean = chain_a.h @ params.W + chain_b.h @ params.V
    x = mean + sigma * jax.random.normal(key_x, mean.shape, mean.dtype)
    return JointChain(chain_a, chain_b, x)
