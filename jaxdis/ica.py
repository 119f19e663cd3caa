"""Post-processed ICA (thesis Part II, ch. 6, Alg. 4): FastICA, then group its components into two
causes by simulated annealing over binary membership variables.

The pieces, in the order Alg. 4 uses them:

- :func:`fast_ica` runs scikit-learn's FastICA (whitening and tolerance exposed: thesis section 6.4
  found the outcome sensitive to how far ICA has converged) and returns the sources ``S`` (N, C),
  the mixing matrix ``A`` (D, C) and the mean, so that ``x ≈ mean + S @ A.T``.
- :func:`reconstruct` is the single-cause reconstruction of thesis eq. 6.1, ``x ≈ As + Br``:
  ``mean + (S * m) @ A.T`` keeps only the components of the group ``m``.
- :func:`group_mi_cost` is the cost of thesis eq. 6.2, ``l(m) = I(S m; S (1 - m))``, the Kraskov
  estimate between the two groups of sources, with the tiny jitter of thesis section 6.2.
- :func:`kraskov_flip_cost` is the same cost, exactly, as a :class:`FlipCost`: a state carried
  from one single flip to the next makes a proposal cost O(N^2) instead of KSG's O(N^2 C).
- :func:`temperature` is the schedule of thesis eq. 6.4, started at 0.1.
- :func:`anneal` is the annealing loop of Alg. 4 (one ``lax.scan``) with the acceptance rule of
  thesis eq. 6.3 (= eq. 5.9); ``jax.vmap`` it over PRNG keys for many chains, and over source
  matrices for many ICA restarts.

The all-in-one-cause state (every ``m_j`` equal) is the error state of thesis section 6.3: the
mutual information between a group and nothing is undefined. The thesis ignores it; here it is
never reached: the initial state is two-sided, and only flips that leave both groups non-empty are
ever proposed, so the cost is never evaluated on a one-sided mask (``lax.cond`` would not guarantee
this: under ``vmap`` both of its branches run).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

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

PROPOSALS = ("single", "all-flips")


# --------------------------------------------------------------------------------------------------
# ICA
# --------------------------------------------------------------------------------------------------


class ICAResult(NamedTuple):
    """The output of :func:`fast_ica`; ``x ≈ mean + sources @ mixing.T`` and
    ``sources = (x - mean) @ unmixing.T``."""

    sources: np.ndarray  # (N, C)
    mixing: np.ndarray  # (D, C): column c is component c's image
    unmixing: np.ndarray  # (C, D)
    mean: np.ndarray  # (D,)
    n_iter: int  # FastICA iterations run (== max_iter: it stopped before reaching tol)


def fast_ica(
    x,
    n_components: int,
    *,
    tol: float = 1e-4,
    max_iter: int = 200,
    whiten: str | bool = "unit-variance",
    whiten_solver: str = "svd",
    algorithm: str = "parallel",
    fun: str = "logcosh",
    fit_dtype=None,
    seed: int = 0,
) -> ICAResult:
    """FastICA (thesis section 5.2.3) through ``sklearn.decomposition.FastICA``.

    Args:
      x: data, (N, D) float.
      n_components: the number of sources C, 1 <= C <= min(N, D).
      tol: FastICA's stopping tolerance (scikit-learn's: the largest change of an unmixing row,
        ``max |1 - |<w_new, w_old>||``). The thesis stopped at an entropy value minus a tolerance,
        which scikit-learn does not expose; this is the nearest knob (section 6.4's sweep).
      max_iter, whiten, whiten_solver, algorithm, fun: passed to scikit-learn unchanged.
      fit_dtype: the dtype scikit-learn fits in (default: x's). scikit-learn keeps float32, in
        which its "exp" and "cube" contrasts overflow on MNIST composites; float64 fits them.
        The results are returned in x's dtype either way.
      seed: scikit-learn's ``random_state`` (the ICA restart).
    """
    from sklearn.decomposition import FastICA

    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"fast_ica: x must be (N, D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"fast_ica: x must be floating point, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("fast_ica: x contains NaN or inf")
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(
            f"fast_ica: n_components must be in [1, min(N, D)] = [1, {min(x.shape)}], "
            f"got {n_components}"
        )
    if not tol > 0:
        raise ValueError(f"fast_ica: tol must be positive, got {tol}")
    fit_dtype = x.dtype if fit_dtype is None else np.dtype(fit_dtype)
    if not np.issubdtype(fit_dtype, np.floating):
        raise ValueError(f"fast_ica: fit_dtype must be a floating dtype, got {fit_dtype}")
    # Constant features (MNIST's border pixels) are left out of the fit and given zero mixing and
    # unmixing weights: they carry nothing, and scikit-learn's sign convention for the whitening
    # (``u *= np.sign(u[0])``) zeroes every whitening direction when the first feature is
    # constant, which turns all sources to NaN.
    varying = np.ptp(x, axis=0) > 0
    if n_components > varying.sum():
        raise ValueError(
            f"fast_ica: n_components = {n_components} exceeds the {varying.sum()} non-constant "
            f"features of x"
        )
    ica = FastICA(
        n_components=n_components,
        algorithm=algorithm,
        whiten=whiten,
        fun=fun,
        max_iter=max_iter,
        tol=tol,
        whiten_solver=whiten_solver,
        random_state=seed,
    )
    import warnings

    with warnings.catch_warnings():
        # Not converging within max_iter is reported through n_iter, the caller decides.
        warnings.filterwarnings("ignore", message="FastICA did not converge")
        try:
            sources = ica.fit_transform(x[:, varying].astype(fit_dtype))
        except ValueError as error:  # scipy's linear algebra refuses the NaNs of a diverged fit
            if "NaN" not in str(error):
                raise
            sources = None
    if sources is None or not np.all(np.isfinite(sources)):
        raise FloatingPointError(
            f"fast_ica: scikit-learn's FastICA diverged (fun={fun!r} in "
            f"{fit_dtype.name}); fit_dtype=np.float64 may help"
        )
    mixing = np.zeros((x.shape[1], n_components), x.dtype)
    mixing[varying] = ica.mixing_
    unmixing = np.zeros((n_components, x.shape[1]), x.dtype)
    unmixing[:, varying] = ica.components_
    return ICAResult(
        sources=sources.astype(x.dtype),
        mixing=mixing,
        unmixing=unmixing,
        mean=x.mean(axis=0).astype(x.dtype),
        n_iter=int(ica.n_iter_),
    )


def reconstruct(sources: Array, mixing: Array, mean: Array, mask: Array) -> Array:
    """The reconstruction from the components in ``mask`` only (thesis eq. 6.1, x ≈ As + Br):
    ``mean + (sources * mask) @ mixing.T``.

    ``mask`` is (C,) bool or 0/1; ``reconstruct(.., m) + reconstruct(.., ~m) - mean`` is the full
    ICA reconstruction. The mean is kept in each single-cause reconstruction, as in Fig. 6.3.
    """
    sources, mixing, mean, mask = map(jnp.asarray, (sources, mixing, mean, mask))
    _check_sources(sources, "reconstruct")
    n_components = sources.shape[1]
    if mixing.ndim != 2 or mixing.shape[1] != n_components:
        raise ValueError(
            f"reconstruct: mixing must be (D, C={n_components}), got shape {mixing.shape}"
        )
    if mean.shape != (mixing.shape[0],):
        raise ValueError(f"reconstruct: mean must be (D={mixing.shape[0]},), got {mean.shape}")
    _check_mask(mask, n_components, "reconstruct")
    return mean + (sources * mask.astype(sources.dtype)) @ mixing.T


# --------------------------------------------------------------------------------------------------
# The cost (eq. 6.2) and the temperature (eq. 6.4)
# --------------------------------------------------------------------------------------------------


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
    _check_sources(sources, "group_mi_cost")
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
    """:func:`group_mi_cost` (eq. 6.2, KSG estimator 1, max norm) as a :class:`FlipCost`: equal to
    it, but a single flip costs O(N^2) instead of O(N^2 C).

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
    _check_sources(sources, "kraskov_flip_cost")
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


def temperature(iteration: Array, n_members: int, t0: float = 0.1) -> Array:
    """Thesis eq. 6.4, started at ``t0`` = 0.1 (section 6.3): ``T_t = t0 / (1 + floor(t / |m|))``
    for single-variable updates t = 1, 2, ...: the temperature falls as 1/sweep.

    (Alg. 4 writes "Set T <- 1", the prose says the temperature starts at 0.1; we follow the
    prose, the issue, and the argument given for it: single flips change the MI estimate little.)
    """
    return t0 / (1.0 + jnp.floor_divide(iteration, n_members))


# --------------------------------------------------------------------------------------------------
# Membership masks and the one-sided guard
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Simulated annealing (Alg. 4)
# --------------------------------------------------------------------------------------------------


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
      - ``"single"`` (Alg. 4): pick one allowed ``m_j`` uniformly and flip it with probability
        ``min(1, exp((l(m) - l(m with m_j flipped)) / T_t))`` (thesis eq. 6.3, eq. 5.9). One cost
        evaluation per step; step t uses ``T_t`` of eq. 6.4.
      - ``"all-flips"``: score every allowed single flip in one batched call (``vmap`` of the cost
        over the C candidate flips, or ``lax.map`` in batches of ``flip_batch_size`` to bound
        memory), then move by a heat-bath choice among staying and the flips,
        ``p(m') ∝ exp(-(l(m') - l(m)) / T)``. As T -> 0 this is steepest descent that stops at a
        local minimum. One step costs C evaluations, a sweep of "single", and step t uses the
        temperature of sweep t - 1 (eq. 6.4 at iteration (t - 1) C + 1), so both schemes cool
        alike per cost evaluation.

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
      t0: the starting temperature of eq. 6.4.
      flip_batch_size: for "all-flips", evaluate the C candidates in batches of this size.
      init_mask: the starting state, (C,) bool and two-sided (default: random, two-sided). Its
        two-sidedness is the caller's promise: a value check would force a host sync under jit.
    """
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
    if isinstance(cost_fn, FlipCost):
        model, stateless = cost_fn, False
    elif callable(cost_fn):
        # A plain cost as a FlipCost without state: a flip is scored afresh.
        model, stateless = FlipCost(
            init=lambda mask: (cost_fn(mask), None),
            flip=lambda aux, mask, j: (cost_fn(mask.at[j].set(~mask[j])), None),
        ), True
    else:
        raise TypeError(f"anneal: cost_fn must be callable or a FlipCost, got {type(cost_fn)}")

    key_init, key_run = jax.random.split(key)
    if init_mask is None:
        mask = random_two_sided_mask(key_init, n_members)
    else:
        mask = jnp.asarray(init_mask)
        _check_mask(mask, n_members, "anneal: init_mask")
        if mask.dtype != bool:
            raise ValueError(f"anneal: init_mask must be bool, got dtype {mask.dtype}")
    cost, aux = model.init(mask)
    cost = jnp.asarray(cost)
    if cost.shape != ():
        raise ValueError(f"anneal: cost_fn must return a scalar, got shape {cost.shape}")
    cost = cost.astype(jnp.result_type(cost, jnp.float32))
    init_nonfinite = ~jnp.isfinite(cost)
    cost = jnp.where(init_nonfinite, jnp.inf, cost)  # any finite state is then better

    def flipped(mask, j):
        return mask.at[j].set(~mask[j])

    def select(take, new, old):
        return jax.tree.map(lambda a, b: jnp.where(take, a, b), new, old)

    def single_step(state, t, key):
        mask, cost, aux = state
        key_pick, key_accept = jax.random.split(key)
        allowed = allowed_flips(mask)
        j = jax.random.categorical(key_pick, jnp.where(allowed, 0.0, -jnp.inf))
        proposed_cost, proposed_aux = model.flip(aux, mask, j)
        proposed_cost = proposed_cost.astype(cost.dtype)
        temp = temperature(t, n_members, t0)
        finite = jnp.isfinite(proposed_cost)
        # eq. 6.3 in log form: accept iff log u < (l(m) - l(m')) / T (no overflow, NaN rejects).
        log_u = jnp.log(jax.random.uniform(key_accept, dtype=cost.dtype))
        accept = finite & (log_u < (cost - proposed_cost) / temp)
        new_state = (
            jnp.where(accept, flipped(mask, j), mask),
            jnp.where(accept, proposed_cost, cost),
            select(accept, proposed_aux, aux),
        )
        return new_state, (temp, accept, (~finite).astype(jnp.int32))

    def all_flips_step(state, t, key):
        mask, cost, aux = state
        allowed = allowed_flips(mask)
        # A disallowed flip would be one-sided: its slot scores an allowed flip (there is one for
        # every two-sided state with C >= 3), and its score is ignored below.
        first_allowed = jnp.argmax(allowed)
        flips = jnp.where(allowed, jnp.arange(n_members), first_allowed)
        score = lambda j: model.flip(aux, mask, j)[0]  # the states themselves are not kept
        if flip_batch_size is None:
            costs = jax.vmap(score)(flips)
        else:
            costs = jax.lax.map(score, flips, batch_size=flip_batch_size)
        costs = costs.astype(cost.dtype)
        usable = allowed & jnp.isfinite(costs)
        temp = temperature((t - 1) * n_members + 1, n_members, t0)
        options = jnp.concatenate([cost[None], jnp.where(usable, costs, jnp.inf)])  # stay, flips
        # Relative to the best option (softmax stability; also finite when l(m) is inf).
        reference = jnp.min(options)
        logits = jnp.where(jnp.isfinite(options), -(options - reference) / temp, -jnp.inf)
        choice = jax.random.categorical(key, logits)
        j = jnp.maximum(choice - 1, 0)
        moved = (choice > 0) & usable[j]  # (all options infinite: categorical's pick is moot)
        # The chosen flip's state: one more flip for a FlipCost, nothing for a plain cost.
        new_aux = aux if stateless else select(moved, model.flip(aux, mask, flips[j])[1], aux)
        new_state = (
            jnp.where(moved, flipped(mask, j), mask),
            jnp.where(moved, costs[j], cost),
            new_aux,
        )
        return new_state, (temp, moved, jnp.sum(allowed & ~jnp.isfinite(costs)).astype(jnp.int32))

    step = single_step if proposal == "single" else all_flips_step

    def scan_body(carry, inputs):
        state, best_mask, best_cost = carry
        t, step_key = inputs
        state, (temp, moved, nonfinite) = step(state, t, step_key)
        better = state[1] < best_cost
        best_mask = jnp.where(better, state[0], best_mask)
        best_cost = jnp.where(better, state[1], best_cost)
        return (state, best_mask, best_cost), (state[1], temp, moved, nonfinite)

    steps = jnp.arange(1, n_steps + 1)
    keys = jax.random.split(key_run, n_steps)
    (state, best_mask, best_cost), (costs, temps, moved, nonfinite) = jax.lax.scan(
        scan_body, ((mask, cost, aux), mask, cost), (steps, keys)
    )
    nonfinite = nonfinite.at[0].add(init_nonfinite.astype(jnp.int32))
    return AnnealResult(
        mask=state[0],
        cost=state[1],
        best_mask=best_mask,
        best_cost=best_cost,
        trace=AnnealTrace(cost=costs, temperature=temps, moved=moved, nonfinite=nonfinite),
    )


# --------------------------------------------------------------------------------------------------
# Scoring a grouping against the truth (what the thesis judged by eye)
# --------------------------------------------------------------------------------------------------


def cause_share_of_components(unmixing, cause_a, cause_b) -> np.ndarray:
    """Share of each component's variance that cause A drives, (C,) in [0, 1].

    ICA is linear, so for a composite x = a + b each source splits exactly into the part driven by
    each cause: ``s_c = w_c (a - mean_a) + w_c (b - mean_b)``. The share is
    ``var(w_c a) / (var(w_c a) + var(w_c b))``: near 1 the component tracks cause A's images, near
    0 cause B's; a component's true cause is the one with the larger share.
    """
    unmixing = np.asarray(unmixing, np.float64)
    flat_a = np.asarray(cause_a, np.float64).reshape(len(cause_a), -1)
    flat_b = np.asarray(cause_b, np.float64).reshape(len(cause_b), -1)
    if flat_a.shape != flat_b.shape or flat_a.shape[1] != unmixing.shape[1]:
        raise ValueError(
            f"cause_share_of_components: cause_a and cause_b must both be (N, D={unmixing.shape[1]}) "
            f"(or (N, H, W)), got {np.shape(cause_a)} and {np.shape(cause_b)}"
        )
    var_a = np.var(flat_a @ unmixing.T, axis=0)
    var_b = np.var(flat_b @ unmixing.T, axis=0)
    return var_a / (var_a + var_b)


def grouping_accuracy(mask, true_in_a) -> Array:
    """Share of components whose group matches the truth, up to swapping the two groups
    (membership labels are arbitrary): ``max(mean(m == t), mean(m != t))``, in [0.5, 1]."""
    mask = jnp.asarray(mask, bool)
    true_in_a = jnp.asarray(true_in_a, bool)
    if mask.shape[-1:] != true_in_a.shape[-1:]:
        raise ValueError(
            f"grouping_accuracy: mask (..., C) and true_in_a (..., C) differ: "
            f"{mask.shape} vs {true_in_a.shape}"
        )
    agree = jnp.mean(mask == true_in_a, axis=-1)
    return jnp.maximum(agree, 1.0 - agree)


def chance_grouping_accuracy(n_members: int, n_true_in_a: int, n_in_a: int) -> float:
    """The expected :func:`grouping_accuracy` of a grouping drawn at random with ``n_in_a`` of
    its ``n_members`` components in group A, against a truth with ``n_true_in_a`` in A.

    Because the score takes the better of the two labellings, chance is above 0.5: about
    0.5 + sqrt(1 / (2 pi C)) for balanced groups of C components (0.556 at C = 50). The overlap X
    of the two A groups is hypergeometric, and the agreement is (C - t - k + 2X) / C.
    """
    from scipy.stats import hypergeom

    c, t, k = n_members, n_true_in_a, n_in_a
    if not (c >= 1 and 0 <= t <= c and 0 <= k <= c):
        raise ValueError(
            f"chance_grouping_accuracy: need n_members >= 1 and 0 <= n_true_in_a, n_in_a <= "
            f"n_members, got n_members={c}, n_true_in_a={t}, n_in_a={k}"
        )
    overlap = np.arange(max(0, t + k - c), min(t, k) + 1)
    agree = (c - t - k + 2 * overlap) / c
    return float(np.sum(hypergeom.pmf(overlap, c, t, k) * np.maximum(agree, 1 - agree)))


def _check_sources(sources: Array, where: str) -> None:
    if sources.ndim != 2:
        raise ValueError(f"{where}: sources must be (N, C), got shape {sources.shape}")
    if not jnp.issubdtype(sources.dtype, jnp.floating):
        raise ValueError(f"{where}: sources must be floating point, got dtype {sources.dtype}")


def _check_mask(mask: Array, n_components: int, where: str) -> None:
    if mask.shape != (n_components,):
        raise ValueError(f"{where}: mask must be (C={n_components},), got shape {mask.shape}")
