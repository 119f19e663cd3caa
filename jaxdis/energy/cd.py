"""Contrastive divergence for GRBMs (thesis section 2.5.3: CD-k, persistent CD) and Broadnets
(thesis eq. 3.15, Alg. 3), with the training tweaks of section 3.5: samples or mean-field
statistics, momentum, L1/L2 penalties on the weights, a separate learning rate for the biases.

The gradient estimate of the mean log-likelihood is (Hebbian - anti-Hebbian) / sigma^2 for the
weights, Hebbian - anti-Hebbian for the biases (the convention of ``jaxdis.energy.broadnet``;
thesis eq. 2.11 and 3.15 are written at sigma = 1):

    GRBM:      dW = (<h v>_data - <h v>_chain) / sigma^2,            db = <h>_data - <h>_chain
    Broadnet:  dW = (<h_a (x - phi_b)>_posterior - <h_a x_a>_joint) / sigma^2  (thesis eq. 3.15)
               dV = (<h_b (x - phi_a)>_posterior - <h_b x_b>_joint) / sigma^2
               da = <h_a>_posterior - <h_a>_joint,   db = <h_b>_posterior - <h_b>_joint

The posterior statistics come from Alg. 1 (``sampling.posterior_chain``), the joint ones from
Alg. 2 (``sampling.joint_chain``), whose per-cause chains start from each cause's own posterior
state, so the first visible of chain A is a sample around cause A's reconstruction phi_a (thesis
section 4.2: anything else biases the anti-Hebbian samples and learning diverges). In the joint,
E[x_a | h_a] = phi_a, so <h_a x_a> estimates thesis eq. 3.15's <h_a phi_a>.

``mean_field=True`` uses the hidden probabilities p(h = 1 | ...) in the statistics (and phi from
them), ``False`` the binary samples (section 3.5 needed samples to escape the mean optimum). With
samples and long chains the estimate is unbiased for the exact gradient (tested against
``jax.grad`` of ``exact.mean_log_evidence``).

Update, per parameter group (weights: ``learning_rate``, penalties; biases: ``bias_learning_rate``):

    velocity <- momentum * velocity + rate * (gradient - l2 * W - l1 * sign(W))
    params   <- params + velocity                                  (ascent on the log-likelihood)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Union

import jax
import jax.numpy as jnp
from jax import lax

from jaxdis.energy import _checks
from jaxdis.energy import broadnet as bn
from jaxdis.energy import grbm as grbm_lib
from jaxdis.energy import sampling

Params = Union[grbm_lib.GRBMParams, bn.BroadnetParams]
NEGATIVE_STARTS = ("reconstruction", "random")
VARIANTS = ("mean-field", "samples", "samples-tweaked", "random-start")


@dataclasses.dataclass(frozen=True)
class CDHyper:
    """Hyperparameters of CD learning. Static under jit: a new value compiles a new step.

    Attributes:
      sigma: noise standard deviation of the model.
      learning_rate: for the weights.
      bias_learning_rate: for the hidden biases (None: the weights' rate).
      momentum: heavy-ball coefficient on the update.
      l1, l2: penalties on the weights (L1: l1 * sign(W), L2: l2 * W subtracted from the gradient).
      k: length of the anti-Hebbian (negative) chain: CD-k.
      posterior_steps: Broadnets only: length of the Alg. 1 chain for the Hebbian statistics.
      mean_field: hidden probabilities (True) or binary samples (False) in the statistics.
      persistent: negative chains persist across steps (PCD) instead of restarting from the data.
      negative_start: Broadnets, non-persistent: "reconstruction" starts each cause's negative
        chain from its own posterior state (section 4.2); "random" from uniformly random hidden
        states (the bad initialisation of section 4.2, to reproduce its divergence).
    """

    sigma: float = 1.0
    learning_rate: float = 0.01
    bias_learning_rate: float | None = None
    momentum: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    k: int = 1
    posterior_steps: int = 10
    mean_field: bool = True
    persistent: bool = False
    negative_start: str = "reconstruction"

    def __post_init__(self):
        if not self.sigma > 0:
            raise ValueError(f"sigma: expected a positive noise standard deviation, got "
                             f"{self.sigma}")
        for name in ("k", "posterior_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive int, got {getattr(self, name)!r}")
        for name in ("momentum", "l1", "l2"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected a non-negative value, got "
                                 f"{getattr(self, name)}")
        if self.negative_start not in NEGATIVE_STARTS:
            raise ValueError(f"negative_start: expected one of {NEGATIVE_STARTS}, got "
                             f"{self.negative_start!r}")


def variant_hyper(name: str, *, sigma: float, learning_rate: float) -> CDHyper:
    """The CD recipes compared on the thesis's first composites (thesis section 3.5), each CD-10
    with a 10-step posterior chain (thesis section 3.4) and weight rate ``learning_rate``:

    - "mean-field": the standard RBM recipe, mean-field statistics (with large minibatches);
    - "samples": the tweaks of Fig. 3.4: binary samples in the statistics (with minibatches of at
      most 5);
    - "samples-tweaked": that, plus momentum 0.9, L2 0.01 and a 10 times larger bias rate
      (thesis section 3.5: the biases tolerate higher rates);
    - "random-start": "samples" with the anti-Hebbian chains started from random hidden states
      instead of each cause's own reconstruction (the bad initialisation of thesis section 4.2).
    """
    extra = {"mean-field": dict(mean_field=True),
             "samples": dict(mean_field=False),
             "samples-tweaked": dict(mean_field=False, momentum=0.9, l2=0.01,
                                     bias_learning_rate=10 * learning_rate),
             "random-start": dict(mean_field=False, negative_start="random")}
    if name not in extra:
        raise ValueError(f"name: expected one of {VARIANTS}, got {name!r}")
    return CDHyper(sigma=sigma, learning_rate=learning_rate, k=10, posterior_steps=10,
                   **extra[name])


class CDState(NamedTuple):
    """The optimiser's velocity (shaped like the params) and the persistent chains' hidden states:
    GRBM: (h,), Broadnet: (h_a, h_b), each (num_chains, units); unused unless ``persistent``."""

    velocity: Params
    chains: tuple


def init_state(params: Params, num_chains: int) -> CDState:
    """Zero velocity; persistent chains all off (the first steps mix them)."""
    velocity = jax.tree.map(jnp.zeros_like, params)
    if isinstance(params, bn.BroadnetParams):
        chains = (jnp.zeros((num_chains, params.W.shape[0]), params.W.dtype),
                  jnp.zeros((num_chains, params.V.shape[0]), params.V.dtype))
    else:
        chains = (jnp.zeros((num_chains, params.W.shape[0]), params.W.dtype),)
    return CDState(velocity, chains)


def _check(params: Params, x: jax.Array) -> None:
    if isinstance(params, bn.BroadnetParams):
        bn.check_params(params)
        _checks.check_batch(x, "x", params.num_visible)
    elif isinstance(params, grbm_lib.GRBMParams):
        grbm_lib.check_params(params)
        _checks.check_batch(x, "x", params.W.shape[1])
    else:
        raise TypeError(f"params: expected GRBMParams or BroadnetParams, got "
                        f"{type(params).__name__}")


def _outer_mean(h, v):
    return h.T @ v / h.shape[0]


def grbm_gradient(params: grbm_lib.GRBMParams, chains: tuple, v: jax.Array, key: jax.Array,
                  hyper: CDHyper):
    """CD-k (or PCD) estimate of d mean log p(v) for a GRBM; returns (gradient, new chains)."""
    key_pos, key_neg = jax.random.split(key)
    sigma = hyper.sigma
    pos_prob = grbm_lib.hidden_probs(params, v, sigma)
    pos_h = jax.random.bernoulli(key_pos, pos_prob).astype(v.dtype)
    start = chains[0] if hyper.persistent else pos_h
    chain = sampling.grbm_gibbs(params, start, key_neg, sigma, hyper.k)
    pos = pos_prob if hyper.mean_field else pos_h
    neg = chain.h_prob if hyper.mean_field else chain.h
    gradient = grbm_lib.GRBMParams(
        W=(_outer_mean(pos, v) - _outer_mean(neg, chain.v)) / sigma**2,
        b=jnp.mean(pos, 0) - jnp.mean(neg, 0),
    )
    return gradient, (chain.h,)


def broadnet_gradient(params: bn.BroadnetParams, chains: tuple, x: jax.Array, key: jax.Array,
                      hyper: CDHyper):
    """Alg. 3: the thesis eq. 3.15 estimate of d mean log p(x) for a Broadnet; returns (gradient,
    new chains). The Hebbian phase is Alg. 1, the anti-Hebbian phase Alg. 2."""
    key_pos, key_start, key_neg = jax.random.split(key, 3)
    sigma = hyper.sigma
    post = sampling.posterior_chain(params, x, key_pos, sigma, hyper.posterior_steps)
    if hyper.persistent:
        start_a, start_b = chains
    elif hyper.negative_start == "reconstruction":
        start_a, start_b = post.h_a, post.h_b
    else:
        key_a, key_b = jax.random.split(key_start)
        start_a = jax.random.bernoulli(key_a, 0.5, post.h_a.shape).astype(x.dtype)
        start_b = jax.random.bernoulli(key_b, 0.5, post.h_b.shape).astype(x.dtype)
    joint = sampling.joint_chain(params, start_a, start_b, key_neg, sigma, hyper.k)
    if hyper.mean_field:
        pos_a, pos_b = post.prob_a, post.prob_b
        neg_a, neg_b = joint.cause_a.h_prob, joint.cause_b.h_prob
    else:
        pos_a, pos_b = post.h_a, post.h_b
        neg_a, neg_b = joint.cause_a.h, joint.cause_b.h
    gradient = bn.BroadnetParams(
        W=(_outer_mean(pos_a, x - pos_b @ params.V) - _outer_mean(neg_a, joint.cause_a.v))
        / sigma**2,
        V=(_outer_mean(pos_b, x - pos_a @ params.W) - _outer_mean(neg_b, joint.cause_b.v))
        / sigma**2,
        a=jnp.mean(pos_a, 0) - jnp.mean(neg_a, 0),
        b=jnp.mean(pos_b, 0) - jnp.mean(neg_b, 0),
    )
    return gradient, (joint.cause_a.h, joint.cause_b.h)


def apply_update(params: Params, velocity: Params, gradient: Params, hyper: CDHyper):
    """Momentum step with L1/L2 on the weights and the biases' own rate; returns
    (params, velocity)."""
    bias_rate = (hyper.learning_rate if hyper.bias_learning_rate is None
                 else hyper.bias_learning_rate)

    def update(p, vel, g, is_weight):
        if is_weight:
            step = hyper.learning_rate * (g - hyper.l2 * p - hyper.l1 * jnp.sign(p))
        else:
            step = bias_rate * g
        vel = hyper.momentum * vel + step
        return p + vel, vel

    updated = [update(p, vel, g, p.ndim == 2) for p, vel, g in zip(params, velocity, gradient)]
    return type(params)(*(u[0] for u in updated)), type(params)(*(u[1] for u in updated))


@functools.partial(jax.jit, static_argnames="hyper")
def cd_step(params: Params, state: CDState, x: jax.Array, key: jax.Array, hyper: CDHyper):
    """One CD update on a minibatch x (B, D); returns (params, state, metrics). Pure: the same
    inputs give the same outputs. Works for GRBMParams and BroadnetParams."""
    _check(params, x)
    if isinstance(params, bn.BroadnetParams):
        gradient, chains = broadnet_gradient(params, state.chains, x, key, hyper)
    else:
        gradient, chains = grbm_gradient(params, state.chains, x, key, hyper)
    if not hyper.persistent:
        chains = state.chains
    params, velocity = apply_update(params, state.velocity, gradient, hyper)
    metrics = {"weight_gradient_norm": jnp.sqrt(sum(jnp.sum(g**2) for g in gradient
                                                    if g.ndim == 2)),
               "mean_abs_weight": jnp.mean(jnp.abs(params.W))}
    return params, CDState(velocity, chains), metrics


@functools.partial(jax.jit, static_argnames=("hyper", "batch_size"))
def cd_epoch(params: Params, state: CDState, data: jax.Array, key: jax.Array, hyper: CDHyper,
             batch_size: int):
    """One epoch: a permutation of ``data`` (N, D) cut into N // batch_size minibatches (the
    remainder is dropped), each a :func:`cd_step`, all inside one ``lax.scan``. Returns (params,
    state, metrics averaged over the epoch)."""
    _check(params, data)
    num_batches = data.shape[0] // batch_size
    if num_batches < 1:
        raise ValueError(f"batch_size: expected at most the {data.shape[0]} examples of data, "
                         f"got {batch_size}")
    key_perm, key_steps = jax.random.split(key)
    order = jax.random.permutation(key_perm, data.shape[0])[: num_batches * batch_size]
    batches = data[order].reshape(num_batches, batch_size, data.shape[1])

    def step(carry, inputs):
        params, state = carry
        batch, key = inputs
        params, state, metrics = cd_step(params, state, batch, key, hyper)
        return (params, state), metrics

    (params, state), metrics = lax.scan(step, (params, state),
                                        (batches, jax.random.split(key_steps, num_batches)))
    return params, state, jax.tree.map(jnp.mean, metrics)
