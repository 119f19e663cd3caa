"""Simulated annealing over the binary cause memberships of the ICA sources (thesis Alg. 4): the
temperature schedule of thesis eq. 6.4, the membership masks and their one-sided guard, the
annealing chain (:func:`anneal`) and many trials of it in one compiled call
(:func:`anneal_trials`)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.ica._checks import check_mask
from jaxdis.ica.costs import CostFn, FlipCost, group_mi_cost, kraskov_flip_cost

Array = jax.Array
PROPOSALS = ("single", "all-flips")


def temperature(iteration: Array, n_members: int, t0: float = 0.1) -> Array:
    """Thesis eq. 6.4, started at ``t0`` = 0.1 (section 6.3): ``T_t = t0 / (1 + floor(t / |m|))``
    for single-variable updates t = 1, 2, ...: the temperature falls as 1/sweep.

    (Alg. 4 writes "Set T <- 1", the prose says the temperature starts at 0.1; we follow the
    prose, the issue, and the argument given for it: single flips change the MI estimate little.)
    """
    return t0 / (1.0 + jnp.floor_divide(iteration, n_members))


def is_two_sided(mask: Array) -> Array:
    """True where both causes have at least one component (the only states with a defined cost)."""
    mask = jnp.asarray(mask, bool)
    return jnp.any(mask, -1) & jnp.any(~mask, -1)


def allowed_flips(mask: Array) -> Array:
    """Bool (C,): flipping ``m_j`` leaves both groups non-empty, i.e. ``m_j``'s group has another
    member. For a two-sided mask with C >= 3 at least one flip is allowed."""
    mask = jnp.asarray(mask, bool)
    n_in_a = jnp.sum(mask)
    size_of_own_group = jnp.where(mask, n_in_a, mask.shape[-1] - n_in_a)
    return size_of_own_group >= 2


def random_two_sided_mask(key: Array, n_members: int) -> Array:
    """A uniformly random membership vector, repaired if one-sided by flipping one random member
    (so every two-sided state can start a chain and no one-sided state ever does)."""
    key_bits, key_repair = jax.random.split(key)
    mask = jax.random.bernoulli(key_bits, 0.5, (n_members,))
    j = jax.random.randint(key_repair, (), 0, n_members)
    return jnp.where(is_two_sided(mask), mask, mask.at[j].set(~mask[j]))


class AnnealTrace(NamedTuple):
    """Per step of :func:`anneal`."""

    cost: Array  # (n_steps,) the cost of the current state after the step
    temperature: Array  # (n_steps,)
    moved: Array  # (n_steps,) bool, the state changed
    nonfinite: Array  # (n_steps,) int32, cost evaluations that returned NaN/inf (never accepted)


class AnnealResult(NamedTuple):
    mask: Array  # (C,) bool, the final state (True: cause A)
    cost: Array  # its cost
    best_mask: Array  # the lowest-cost state visited
    best_cost: Array
    trace: AnnealTrace


class ChainState(NamedTuple):
    """Where a chain stands: its membership mask (C,) bool, the mask's cost, and the state a
    :class:`FlipCost` carries along (None for a plain cost)."""

    mask: Array
    cost: Array
    aux: object


def _flipped(mask: Array, j: Array) -> Array:
    return mask.at[j].set(~mask[j])


def _select(take: Array, new, old):
    """``new`` where ``take``, else ``old``, leaf by leaf."""
    return jax.tree.map(lambda a, b: jnp.where(take, a, b), new, old)


def _as_flip_cost(cost_fn: CostFn | FlipCost) -> tuple[FlipCost, bool]:
    """(the cost as a FlipCost, whether it is stateless): a plain cost scores each flip afresh."""
    if isinstance(cost_fn, FlipCost):
        return cost_fn, False
    if callable(cost_fn):
        return FlipCost(init=lambda mask: (cost_fn(mask), None),
                        flip=lambda aux, mask, j: (cost_fn(_flipped(mask, j)), None)), True
    raise TypeError(f"anneal: cost_fn must be callable or a FlipCost, got {type(cost_fn)}")


def propose_single_flip(mask: Array, key: Array) -> Array:
    """Alg. 4's proposal: the index j of one allowed flip (:func:`allowed_flips`), uniformly."""
    return jax.random.categorical(key, jnp.where(allowed_flips(mask), 0.0, -jnp.inf))


def metropolis_accept(cost: Array, proposed_cost: Array, temp: Array, key: Array) -> Array:
    """The acceptance rule of thesis eq. 6.3 (= thesis eq. 5.9): accept with probability
    ``min(1, exp((l(m) - l(m')) / T))``, in log form, ``log u < (l(m) - l(m')) / T`` with u
    uniform in [0, 1): no overflow, and a NaN or inf proposed cost is never accepted."""
    log_u = jnp.log(jax.random.uniform(key, dtype=cost.dtype))
    return jnp.isfinite(proposed_cost) & (log_u < (cost - proposed_cost) / temp)


def heat_bath_choice(cost: Array, flip_costs: Array, usable: Array, temp: Array,
                     key: Array) -> Array:
    """The "all-flips" move: among staying (option 0, cost ``cost``) and the usable flips (option
    j + 1, cost ``flip_costs[j]``), draw one with ``p(m') ∝ exp(-(l(m') - l(m)) / T)``. The
    logits are taken relative to the best option (stable, and finite when l(m) is inf)."""
    options = jnp.concatenate([cost[None], jnp.where(usable, flip_costs, jnp.inf)])
    reference = jnp.min(options)
    logits = jnp.where(jnp.isfinite(options), -(options - reference) / temp, -jnp.inf)
    return jax.random.categorical(key, logits)


def _single_step(model: FlipCost, n_members: int, t0: float, state: ChainState, t: Array,
                 key: Array):
    """One step of Alg. 4: propose one flip, score it, accept it by thesis eq. 6.3 at T_t
    (thesis eq. 6.4)."""
    key_pick, key_accept = jax.random.split(key)
    j = propose_single_flip(state.mask, key_pick)
    proposed_cost, proposed_aux = model.flip(state.aux, state.mask, j)
    proposed_cost = proposed_cost.astype(state.cost.dtype)
    temp = temperature(t, n_members, t0)
    accept = metropolis_accept(state.cost, proposed_cost, temp, key_accept)
    new_state = ChainState(jnp.where(accept, _flipped(state.mask, j), state.mask),
                           jnp.where(accept, proposed_cost, state.cost),
                           _select(accept, proposed_aux, state.aux))
    return new_state, (temp, accept, (~jnp.isfinite(proposed_cost)).astype(jnp.int32))


def _all_flips_step(model: FlipCost, stateless: bool, n_members: int, t0: float,
                    flip_batch_size: int | None, state: ChainState, t: Array, key: Array):
    """Score every allowed flip, then move by :func:`heat_bath_choice` at the temperature of
    sweep t - 1 (thesis eq. 6.4 at iteration (t - 1) C + 1)."""
    mask, cost, aux = state
    allowed = allowed_flips(mask)
    # A disallowed flip would be one-sided: its slot scores an allowed flip (there is one for
    # every two-sided state with C >= 3), and its score is ignored below.
    flips = jnp.where(allowed, jnp.arange(n_members), jnp.argmax(allowed))
    score = lambda j: model.flip(aux, mask, j)[0]  # the states themselves are not kept
    if flip_batch_size is None:
        costs = jax.vmap(score)(flips)
    else:
        costs = jax.lax.map(score, flips, batch_size=flip_batch_size)
    costs = costs.astype(cost.dtype)
    usable = allowed & jnp.isfinite(costs)
    temp = temperature((t - 1) * n_members + 1, n_members, t0)
    choice = heat_bath_choice(cost, costs, usable, temp, key)
    j = jnp.maximum(choice - 1, 0)
    moved = (choice > 0) & usable[j]  # (all options infinite: categorical's pick is moot)
    # The chosen flip's state: one more flip for a FlipCost, nothing for a plain cost.
    new_aux = aux if stateless else _select(moved, model.flip(aux, mask, flips[j])[1], aux)
    new_state = ChainState(jnp.where(moved, _flipped(mask, j), mask),
                           jnp.where(moved, costs[j], cost), new_aux)
    return new_state, (temp, moved, jnp.sum(allowed & ~jnp.isfinite(costs)).astype(jnp.int32))


def _check_anneal_arguments(n_members, n_steps, t0, proposal, flip_batch_size) -> None:
    if proposal not in PROPOSALS:
        raise ValueError(f"anneal: proposal must be one of {PROPOSALS}, got {proposal!r}")
    if not isinstance(n_members, (int, np.integer)) or n_members < 3:
        raise ValueError(
            f"anneal: n_members must be an int >= 3 (with fewer, no flip keeps both causes "
            f"non-empty), got {n_members!r}"
        )
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"anneal: n_steps must be a positive int, got {n_steps!r}")
    if flip_batch_size is not None and flip_batch_size < 1:
        raise ValueError(f"anneal: flip_batch_size must be positive or None, got {flip_batch_size}")
    if not t0 > 0:
        raise ValueError(f"anneal: t0 must be positive, got {t0}")


def _initial_state(model: FlipCost, n_members: int, key: Array,
                   init_mask: Array | None) -> tuple[ChainState, Array]:
    """The chain's first state and whether its cost was NaN/inf (then counted, and set to inf so
    that any finite state is better)."""
    if init_mask is None:
        mask = random_two_sided_mask(key, n_members)
    else:
        mask = jnp.asarray(init_mask)
        check_mask(mask, n_members, "anneal: init_mask")
        if mask.dtype != bool:
            raise ValueError(f"anneal: init_mask must be bool, got dtype {mask.dtype}")
    cost, aux = model.init(mask)
    cost = jnp.asarray(cost)
    if cost.shape != ():
        raise ValueError(f"anneal: cost_fn must return a scalar, got shape {cost.shape}")
    cost = cost.astype(jnp.result_type(cost, jnp.float32))
    nonfinite = ~jnp.isfinite(cost)
    return ChainState(mask, jnp.where(nonfinite, jnp.inf, cost), aux), nonfinite


def anneal(
    cost_fn: CostFn | FlipCost,
    n_members: int,
    key: Array,
    n_steps: int,
    *,
    t0: float = 0.1,
    proposal: str = "single",
    flip_batch_size: int | None = None,
    init_mask: Array | None = None,
) -> AnnealResult:
    """Alg. 4: simulated annealing over binary memberships ``m`` minimising ``cost_fn(m)``.

    The whole run is one ``lax.scan``; ``jax.vmap`` over ``key`` runs many chains at once, and
    over the data closed into ``cost_fn`` (e.g. ICA restarts) many problems at once.

    proposal:
      - ``"single"`` (Alg. 4): pick one allowed ``m_j`` uniformly (:func:`propose_single_flip`)
        and flip it with probability ``min(1, exp((l(m) - l(m with m_j flipped)) / T_t))``
        (thesis eq. 6.3, thesis eq. 5.9; :func:`metropolis_accept`). One cost evaluation per
        step; step t uses ``T_t`` of thesis eq. 6.4.
      - ``"all-flips"``: score every allowed single flip in one batched call (``vmap`` of the cost
        over the C candidate flips, or ``lax.map`` in batches of ``flip_batch_size`` to bound
        memory), then move by a heat-bath choice among staying and the flips,
        ``p(m') ∝ exp(-(l(m') - l(m)) / T)`` (:func:`heat_bath_choice`). As T -> 0 this is
        steepest descent that stops at a local minimum. One step costs C evaluations, a sweep of
        "single", and step t uses the temperature of sweep t - 1 (thesis eq. 6.4 at iteration
        (t - 1) C + 1), so both schemes cool alike per cost evaluation.

    Allowed flips are those that keep both causes non-empty (:func:`allowed_flips`): the cost is
    never evaluated on a one-sided state (in "all-flips" a disallowed flip's slot scores an allowed
    flip instead, and is then ignored). A cost that returns NaN/inf on a (two-sided) state is
    never moved to; such evaluations are counted in ``trace.nonfinite``.

    Args:
      cost_fn: ``cost(mask) -> scalar`` on a bool mask (C,), or a :class:`FlipCost` (e.g.
        :func:`kraskov_flip_cost`) whose state is carried along the chain; traced under jit/vmap.
      n_members: C, at least 3 (with 2 members no flip keeps both causes non-empty).
      key: PRNG key of this chain.
      n_steps: number of steps (static).
      t0: the starting temperature of thesis eq. 6.4.
      flip_batch_size: for "all-flips", evaluate the C candidates in batches of this size.
      init_mask: the starting state, (C,) bool and two-sided (default: random, two-sided). Its
        two-sidedness is the caller's promise: a value check would force a host sync under jit.
    """
    _check_anneal_arguments(n_members, n_steps, t0, proposal, flip_batch_size)
    model, stateless = _as_flip_cost(cost_fn)
    key_init, key_run = jax.random.split(key)
    state, init_nonfinite = _initial_state(model, n_members, key_init, init_mask)
    if proposal == "single":
        step = functools.partial(_single_step, model, n_members, t0)
    else:
        step = functools.partial(_all_flips_step, model, stateless, n_members, t0,
                                 flip_batch_size)

    def scan_body(carry, inputs):
        state, best_mask, best_cost = carry
        state, (temp, moved, nonfinite) = step(state, *inputs)
        better = state.cost < best_cost
        best_mask = jnp.where(better, state.mask, best_mask)
        best_cost = jnp.where(better, state.cost, best_cost)
        return (state, best_mask, best_cost), (state.cost, temp, moved, nonfinite)

    steps = jnp.arange(1, n_steps + 1)
    keys = jax.random.split(key_run, n_steps)
    (state, best_mask, best_cost), (costs, temps, moved, nonfinite) = jax.lax.scan(
        scan_body, (state, state.mask, state.cost), (steps, keys)
    )
    nonfinite = nonfinite.at[0].add(init_nonfinite.astype(jnp.int32))
    return AnnealResult(
        mask=state.mask,
        cost=state.cost,
        best_mask=best_mask,
        best_cost=best_cost,
        trace=AnnealTrace(cost=costs, temperature=temps, moved=moved, nonfinite=nonfinite),
    )


COSTS = ("flip", "ksg")


@functools.partial(
    jax.jit, static_argnames=("n_steps", "proposal", "t0", "k", "jitter", "trial_batch", "cost")
)
def anneal_trials(sources: Array, keys: Array, *, n_steps: int, proposal: str = "single",
                  t0: float = 0.1, k: int = 3, jitter: float = 1e-10, trial_batch: int = 1,
                  cost: str = "flip") -> AnnealResult:
    """Alg. 4 for R trials (e.g. ICA restarts) at once: ``sources`` (R, M, C), ``keys``
    (R, chains) -> :class:`AnnealResult` with leading axes (R, chains).

    Trial r anneals the cost of thesis eq. 6.2 on its sources, ``cost="flip"``
    (:func:`kraskov_flip_cost`) or ``"ksg"`` (:func:`group_mi_cost`), with ``k`` neighbours and the
    tie-breaking ``jitter`` drawn once per trial from ``fold_in(keys[r, 0], 1)`` (so the cost is a
    function of the mask alone and its chains share it); each chain is :func:`anneal` with its
    key. One compiled call: ``lax.map`` over trials in batches of ``trial_batch`` (vmapped inside
    a batch; 0 = all trials in one vmap), ``vmap`` over chains, a ``lax.scan`` over steps."""
    if cost not in COSTS:
        raise ValueError(f"anneal_trials: cost must be one of {COSTS}, got {cost!r}")
    if sources.ndim != 3 or keys.ndim < 2 or keys.shape[:1] != sources.shape[:1]:
        raise ValueError(f"anneal_trials: sources must be (R, M, C) and keys (R, chains), got "
                         f"shapes {sources.shape} and {keys.shape}")
    if isinstance(trial_batch, bool) or not isinstance(trial_batch, int) or trial_batch < 0:
        raise ValueError(f"anneal_trials: trial_batch must be an int >= 0, got {trial_batch!r}")
    n_members = sources.shape[-1]
    make_cost = kraskov_flip_cost if cost == "flip" else group_mi_cost

    def one_trial(trial):
        trial_sources, trial_keys = trial
        jitter_key = jax.random.fold_in(trial_keys[0], 1)  # fixed per trial: cost is f(mask)
        trial_cost = make_cost(trial_sources, k=k, key=jitter_key, jitter=jitter)
        chain = lambda key: anneal(trial_cost, n_members, key, n_steps, t0=t0,
                                   proposal=proposal)
        return jax.vmap(chain)(trial_keys)

    return jax.lax.map(one_trial, (sources, keys), batch_size=trial_batch or None)
