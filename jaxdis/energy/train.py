"""Training many GRBMs or Broadnets at once: by contrastive divergence (thesis section 2.5.3,
Alg. 3, section 3.5) and by gradient ascent on the exact log-likelihood (thesis section 4.4), and
the GRBM initialisation of Broadnets (thesis section 4.3.1).

Every trainer takes a **stack of runs**: parameters whose leaves carry a leading run axis R (build
them with ``jax.vmap`` of an ``init_params``, or :func:`init_grbms`) and one PRNG key per run,
``keys`` of shape (R,). All runs train in one jitted program, ``jax.vmap`` over the runs; an epoch
is one ``lax.scan`` over the minibatches of an on-device permutation of the data (its ragged tail
dropped), and the epochs are one ``lax.scan`` too. The arguments that fix the program's shape
(``epochs``, ``batch_size``, ``hyper``; ``sigma`` and ``learning_rate`` of :func:`train_exact`)
are static: a new value compiles a new program.

    from jaxdis.energy import broadnet as bn, train

    key_init, key_train = jax.random.split(jax.random.key(0))
    init = jax.vmap(lambda k: bn.init_params(k, 5, 5, 784))(jax.random.split(key_init, 30))
    params, curves = train.train_exact(init, jax.random.split(key_train, 30), x, epochs=50,
                                       batch_size=64, sigma=1.0, learning_rate=0.1)
    # curves: (30, 51), the exact mean log p(x) of each run before training and after each epoch
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxdis.energy import _checks
from jaxdis.energy import broadnet as bn
from jaxdis.energy import cd
from jaxdis.energy import exact
from jaxdis.energy import grbm

CDPhase = tuple[int, cd.CDHyper]
"""``(epochs, hyper)``: a stretch of CD training at fixed hyperparameters."""


def _check_runs(params, keys, epochs: int, batch_size: int, x) -> None:
    """Static checks shared by the trainers: a stack of R runs, R keys, and sizes that fit x."""
    shapes = [leaf.shape for leaf in jax.tree.leaves(params)]
    runs = {shape[0] if shape else None for shape in shapes}
    if len(runs) != 1 or None in runs:
        raise ValueError("params: expected a stack of runs (every leaf with the same leading run "
                         f"axis), got leaf shapes {shapes}")
    (runs,) = runs
    if not hasattr(keys, "shape") or keys.shape[:1] != (runs,):
        raise ValueError(f"keys: expected one PRNG key per run, ({runs},), got shape "
                         f"{getattr(keys, 'shape', type(keys).__name__)}")
    _checks.check_float_array(x, "x", ndim=2)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected a positive int, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
            or not 1 <= batch_size <= x.shape[0]:
        raise ValueError(f"batch_size: expected an int in [1, {x.shape[0]}] (the examples of x), "
                         f"got {batch_size!r}")


def init_grbms(keys: jax.Array, num_hidden: int, num_visible: int) -> grbm.GRBMParams:
    """One GRBM per key, stacked: weights uniform in [-0.01, 0.01] and hidden biases -1 (thesis
    table 3.1)."""
    return jax.vmap(lambda k: grbm.init_params(k, num_hidden, num_visible, weight_scale=0.01,
                                               bias=-1.0))(keys)


@functools.partial(jax.jit, static_argnames=("epochs", "hyper", "batch_size"))
def cd_epochs(params: cd.Params, keys: jax.Array, x: jax.Array, *, epochs: int,
              hyper: cd.CDHyper, batch_size: int, scales: jax.Array | None = None) -> cd.Params:
    """``epochs`` epochs of CD (``cd.cd_epoch``: CD-k for GRBMs, thesis section 2.5.3; Alg. 3 for
    Broadnets) of a stack of runs, run r on the data ``x * scales[r]`` (``scales`` (R,), None: all
    1). The optimiser's velocity starts at zero and the persistent chains (if any) off. Returns
    the trained stack."""
    _check_runs(params, keys, epochs, batch_size, x)
    if scales is None:
        scales = jnp.ones(keys.shape[:1], x.dtype)
    elif scales.shape != keys.shape[:1]:
        raise ValueError(f"scales: expected one scale per run, {keys.shape[:1]}, got shape "
                         f"{scales.shape}")

    def one_run(params, key, scale):
        def epoch(carry, key):
            params, state, _ = cd.cd_epoch(*carry, x * scale, key, hyper, batch_size)
            return (params, state), None

        (params, _), _ = jax.lax.scan(epoch, (params, cd.init_state(params, batch_size)),
                                      jax.random.split(key, epochs))
        return params

    return jax.vmap(one_run)(params, keys, scales)


def tweaked_cd_schedule(epochs: int, sigma: float) -> tuple[CDPhase, CDPhase]:
    """The thesis's CD schedule for the GRBMs of its 5 + 5 Broadnets (thesis section 4.4): CD-5 at
    learning rate 0.1 with momentum 0.9 for the first 3/4 of the ``epochs``, then 0.01 without
    momentum."""
    first = (3 * epochs) // 4
    return ((first, cd.CDHyper(sigma=sigma, learning_rate=0.1, momentum=0.9, k=5)),
            (epochs - first, cd.CDHyper(sigma=sigma, learning_rate=0.01, k=5)))


def train_grbms(keys: jax.Array, x: jax.Array, num_hidden: int, phases: Sequence[CDPhase], *,
                batch_size: int) -> grbm.GRBMParams:
    """One GRBM of ``num_hidden`` units per key (:func:`init_grbms`), all trained on the same data
    ``x`` (N, D) by CD through the ``phases``, each ``(epochs, hyper)`` (a phase of 0 epochs is
    skipped); a phase's velocity starts at zero. Run r of phase i draws from
    ``fold_in(keys[r], i)``. Returns the stack of R GRBMs."""
    _checks.check_float_array(x, "x", ndim=2)
    params = init_grbms(keys, num_hidden, x.shape[1])
    for phase, (epochs, hyper) in enumerate(phases):
        if epochs > 0:
            phase_keys = jax.vmap(lambda k: jax.random.fold_in(k, phase))(keys)
            params = cd_epochs(params, phase_keys, x, epochs=epochs, hyper=hyper,
                               batch_size=batch_size)
    return params


def grbm_initialised(keys: jax.Array, num_units: int, x_a: jax.Array, x_b: jax.Array,
                     phases: Sequence[CDPhase], *, batch_size: int) -> bn.BroadnetParams:
    """GRBM-initialised Broadnets (thesis section 4.3.1), one per key, stacked: cause A is a GRBM
    of ``num_units`` trained on the true causes ``x_a`` by :func:`train_grbms`, cause B one trained
    on ``x_b``; the Broadnet is (W_a, W_b, b_a, b_b) (``broadnet.from_grbms``)."""
    pairs = jax.vmap(jax.random.split)(keys)  # (R, 2): one key per cause
    cause_a = train_grbms(pairs[:, 0], x_a, num_units, phases, batch_size=batch_size)
    cause_b = train_grbms(pairs[:, 1], x_b, num_units, phases, batch_size=batch_size)
    return bn.from_grbms(cause_a, cause_b)


def mean_log_likelihood(params: cd.Params, x: jax.Array, sigma) -> jax.Array:
    """The exact mean log-likelihood (1/N) sum_n log p(x_n), by enumeration: of a Broadnet
    (thesis eq. 4.2, 4.3, 4.4, 4.5, 4.6; ``exact.mean_log_evidence``) or of a GRBM
    (``exact.grbm_log_evidence``)."""
    if isinstance(params, bn.BroadnetParams):
        return exact.mean_log_evidence(params, x, sigma)
    if isinstance(params, grbm.GRBMParams):
        return jnp.mean(exact.grbm_log_evidence(params, x, sigma))
    raise TypeError(f"params: expected GRBMParams or BroadnetParams, got {type(params).__name__}")


@functools.partial(jax.jit, static_argnames=("epochs", "batch_size", "sigma", "learning_rate"))
def train_exact(params: cd.Params, keys: jax.Array, x: jax.Array, *, epochs: int,
                batch_size: int, sigma: float, learning_rate: float):
    """Gradient ascent on the exact mean log-likelihood (thesis section 4.4) of a stack of
    Broadnets or GRBMs: on each minibatch B,

        params <- params + learning_rate * grad (1/|B|) sum_{x in B} log p(x)

    with the exact gradient of thesis eq. 4.9 (``jax.grad`` of :func:`mean_log_likelihood`).
    Returns (params, curves): ``curves`` (R, epochs + 1) is the mean log-likelihood on all of x
    before training and after each epoch."""
    _check_runs(params, keys, epochs, batch_size, x)
    num_batches = x.shape[0] // batch_size
    grad = jax.grad(mean_log_likelihood)

    def one_run(params, key):
        def epoch(params, key):
            order = jax.random.permutation(key, x.shape[0])[: num_batches * batch_size]

            def step(params, idx):
                g = grad(params, x[idx], sigma)
                return jax.tree.map(lambda p, d: p + learning_rate * d, params, g), None

            params, _ = jax.lax.scan(step, params, order.reshape(num_batches, batch_size))
            return params, mean_log_likelihood(params, x, sigma)

        start = mean_log_likelihood(params, x, sigma)
        params, curve = jax.lax.scan(epoch, params, jax.random.split(key, epochs))
        return params, jnp.concatenate([start[None], curve])

    return jax.vmap(one_run)(params, keys)


@functools.partial(jax.jit, static_argnames=("epochs", "hyper", "batch_size"))
def train_cd(params: bn.BroadnetParams, keys: jax.Array, x: jax.Array, *, epochs: int,
             hyper: cd.CDHyper, batch_size: int):
    """CD training (thesis Alg. 3, thesis eq. 3.15; ``cd.cd_epoch``) of a stack of Broadnets,
    measured by the exact mean log-likelihood at ``hyper.sigma`` (thesis eq. 4.2, 4.3, 4.4, 4.5,
    4.6) on all of x. Returns (params, curves): ``curves`` (R, epochs + 1), before training and
    after each epoch."""
    _check_runs(params, keys, epochs, batch_size, x)
    if not isinstance(params, bn.BroadnetParams):
        raise TypeError(f"params: expected BroadnetParams, got {type(params).__name__}")

    def one_run(params, key):
        def epoch(carry, key):
            params, state, _ = cd.cd_epoch(*carry, x, key, hyper, batch_size)
            return (params, state), exact.mean_log_evidence(params, x, hyper.sigma)

        start = exact.mean_log_evidence(params, x, hyper.sigma)
        (params, _), curve = jax.lax.scan(epoch, (params, cd.init_state(params, batch_size)),
                                          jax.random.split(key, epochs))
        return params, jnp.concatenate([start[None], curve])

    return jax.vmap(one_run)(params, keys)
