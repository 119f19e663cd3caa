"""The cost of thesis eq. 6.2, ``l(m) = I(S m; S (1 - m))``: the Kraskov estimate of the mutual
information between the two groups of ICA sources, as a plain cost of the membership mask
(:func:`group_mi_cost`) and, equal to it, as a :class:`FlipCost` that carries its state from one
single flip to the next (:func:`kraskov_flip_cost`, O(N^2) per flip instead of O(N^2 C))."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.ica._checks import check_sources

Array = jax.Array
CostFn = Callable[[Array], Array]
"""``cost(mask) -> scalar``: ``mask`` is a bool vector (C,), True for cause A."""


class FlipCost(NamedTuple):
    """A cost that carries a state (``aux``, any pytree) from one single-variable flip to the next,
    for costs where scoring a flip of a known state is cheaper than scoring a state afresh.

    ``init(mask) -> (cost, aux)``; ``flip(aux, mask, j) -> (cost, aux)``: the cost and the state
    of ``mask`` with ``m_j`` flipped. Both are traced under jit/vmap. :func:`anneal` takes a plain
    :data:`CostFn` or a ``FlipCost``.
    """

    init: Callable
    flip: Callable



def group_mi_cost(
    sources: Array, *, k: int = 3, key: Array | None = None, jitter: float = 1e-10,
    tile_size: int = 1024,
) -> CostFn:
    """The cost of thesis eq. 6.2, ``l(m) = I(S m; S (1 - m))``: the Kraskov estimate (nats) of the
    mutual information between the sources of cause A and those of cause B.

    A group is ``S * m``: the other group's columns are zeroed rather than dropped, so shapes stay
    static under ``jit``/``vmap``. This changes nothing: KSG measures distances in the max-norm,
    where a column that is zero for every point adds ``|0 - 0| = 0`` and cannot be the maximum's
    argument, and the KSG estimate (algorithm 1 of Kraskov et al.) has no explicit dimension term.

    ``key`` and ``jitter`` are section 6.2's very low-amplitude noise against tied points
    (:func:`jitter_sources`): it is added to the sources once, so that each source keeps the same
    noise whichever group it is in and the cost is a function of the mask alone.
    Estimates can be negative (section 6.2); the annealer only compares them.

    The sources enter the estimate as they are (``ksg_mi(..., standardize=False)``): FastICA's
    sources have unit variance already, the incremental twin :func:`kraskov_flip_cost` works on
    the same raw distances, and the ppica results were made this way.
    """
    from jaxdis.metrics import ksg_mi

    sources = jnp.asarray(sources)
    check_sources(sources, "group_mi_cost")
    sources = jitter_sources(sources, key, jitter)

    def cost(mask: Array) -> Array:
        in_a = mask.astype(sources.dtype)
        return ksg_mi(sources * in_a, sources * (1 - in_a), k, tile_size=tile_size,
                      standardize=False)

    return cost


def jitter_sources(sources: Array, key: Array | None, jitter: float) -> Array:
    """Section 6.2's noise against ties: ``S + jitter * std(S_c) * z``, z standard normal (the
    same scaling as ``jaxdis.metrics.ksg_mi``'s jitter); ``sources`` unchanged when ``key`` is
    None. In float32 a relative jitter below about 1e-7 only separates exact zeros."""
    if key is None:
        return sources
    scale = jitter * jnp.std(sources, axis=0)
    return sources + scale * jax.random.normal(key, sources.shape, sources.dtype)


def kraskov_flip_cost(
    sources: Array, *, k: int = 3, key: Array | None = None, jitter: float = 1e-10,
    row_tile: int = 512,
) -> FlipCost:
    """:func:`group_mi_cost` (thesis eq. 6.2, KSG estimator 1, max norm) as a :class:`FlipCost`:
    equal to it, but a single flip costs O(N^2) instead of O(N^2 C).

    Two facts about KSG on the groups ``S m`` and ``S (1 - m)`` make this possible:

    - the joint distance ``max_c |S_ic - S_jc|`` runs over all C sources whatever the mask, so
      each point's k-th neighbour distance ``eps_i`` is computed once;
    - point j is a marginal neighbour of i in group A, ``max_{c in A} |S_ic - S_jc| < eps_i``,
      iff no source of A is "far": with ``E_c(i, j) = [|S_ic - S_jc| >= eps_i]``, iff
      ``K_A(i, j) = sum_{c in A} E_c(i, j)`` is 0; likewise ``K_B = K_all - K_A`` for group B.

    The state is ``K_A`` (N, N) int16, and flipping ``m_j`` adds or subtracts ``E_j``: then
    ``n_A(i) = #{j : K_A(i, j) = 0}``, ``n_B(i)`` likewise, and
    ``l(m) = psi(k) + psi(N) - < psi(n_A(i) + 1) + psi(n_B(i) + 1) >_i``. The point itself is
    never its own neighbour: ``E_c(i, i)`` is set to 1, so ``K_A(i, i) = |A| > 0`` on every
    two-sided state. On a one-sided state the estimate is not defined (as with ``ksg_mi``, which
    this does not guard either: :func:`anneal` never proposes one).

    Memory: two (N, N) int16 arrays per chain plus one (N, N) float32 while setting up (N = 5000:
    150 MB); the set-up is O(N^2 C) once, in row tiles of ``row_tile``.
    """
    sources = jnp.asarray(sources)
    check_sources(sources, "kraskov_flip_cost")
    n, n_members = sources.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n:
        raise ValueError(f"kraskov_flip_cost: k must be an int in [1, N={n}), got {k!r}")
    if n_members > np.iinfo(np.int16).max:
        raise ValueError(f"kraskov_flip_cost: at most 32767 sources, got {n_members}")
    if isinstance(row_tile, bool) or not isinstance(row_tile, int) or row_tile < 1:
        raise ValueError(f"kraskov_flip_cost: row_tile must be a positive int, got {row_tile!r}")
    from jax.scipy.special import digamma

    sources = jitter_sources(sources, key, jitter)
    dtype = sources.dtype
    row_tile = min(row_tile, n)
    n_tiles = -(-n // row_tile)
    padded_rows = jnp.pad(jnp.arange(n), (0, n_tiles * row_tile - n), constant_values=n - 1)

    def joint_eps(rows):
        # k-th smallest max-norm distance from each row point to the other N - 1 points.
        def take_column(distance, column):
            return jnp.maximum(distance, jnp.abs(column[rows][:, None] - column[None, :])), None

        distance, _ = jax.lax.scan(take_column, jnp.zeros((len(rows), n), dtype), sources.T)
        distance = jnp.where(rows[:, None] == jnp.arange(n)[None, :], jnp.inf, distance)
        return -jax.lax.top_k(-distance, k)[0][:, k - 1]

    eps = jax.lax.map(joint_eps, padded_rows.reshape(n_tiles, row_tile)).reshape(-1)[:n]
    diagonal = jnp.eye(n, dtype=bool)

    def far(j):
        """E_j: (N, N) bool, [|S_ij - S_lj| >= eps_i], and True on the diagonal."""
        column = sources[:, j]
        return (jnp.abs(column[:, None] - column[None, :]) >= eps[:, None]) | diagonal

    def count_far(weights):
        # sum_c weights_c E_c, one column at a time (never (C, N, N) at once).
        def add_column(total, j):
            return total + weights[j] * far(j).astype(jnp.int16), None

        total, _ = jax.lax.scan(add_column, jnp.zeros((n, n), jnp.int16), jnp.arange(n_members))
        return total

    far_in_all = count_far(jnp.ones(n_members, jnp.int16))
    constant = digamma(jnp.asarray(k, dtype)) + digamma(jnp.asarray(n, dtype))

    def cost_of(far_in_a):
        n_a = jnp.sum(far_in_a == 0, axis=1)
        n_b = jnp.sum(far_in_all - far_in_a == 0, axis=1)
        return constant - jnp.mean(digamma((n_a + 1).astype(dtype)) + digamma((n_b + 1).astype(dtype)))

    def init(mask):
        far_in_a = count_far(jnp.asarray(mask).astype(jnp.int16))
        return cost_of(far_in_a), far_in_a

    def flip(far_in_a, mask, j):
        sign = jnp.where(mask[j], -1, 1).astype(jnp.int16)  # leaving A: -E_j; joining A: +E_j
        far_in_a = far_in_a + sign * far(j).astype(jnp.int16)
        return cost_of(far_in_a), far_in_a

    return FlipCost(init=init, flip=flip)




def grouping_costs(sources, masks, *, k: int = 3, jitter: float = 1e-10,
                   key: Array | None = None) -> list[float]:
    """The cost of thesis eq. 6.2 (:func:`group_mi_cost`) of each mask in ``masks`` (M, C) on one
    source matrix (N, C), as floats: with the ``key`` and ``jitter`` an annealing trial used, the
    MI of the groupings it was compared with (the true one, shuffles of it). Runs on the host,
    one compiled cost for all masks."""
    cost = jax.jit(group_mi_cost(jnp.asarray(sources), k=k, key=key, jitter=jitter))
    return [float(cost(jnp.asarray(mask))) for mask in masks]
