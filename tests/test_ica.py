"""Post-processed ICA (thesis ch. 6, Alg. 4): FastICA, the eq. 6.2 cost, the eq. 6.3 annealer with
the eq. 6.4 schedule, and the guard against the one-sided (all-in-one-cause) error state."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis import ica

jax.config.update("jax_enable_x64", False)

# --------------------------------------------------------------------------------------------------
# Helpers: synthetic sources with a known grouping, and an exact cost for Gaussian data
# --------------------------------------------------------------------------------------------------

TRUE_IN_A = np.array([1, 0, 1, 1, 0, 0, 1, 0], bool)  # interleaved, so order gives nothing away

def grouped_gaussian_sources(n=2000, seed=0, true_in_a=TRUE_IN_A):
    """Sources that are dependent within a group (a shared latent per group) and independent
    across groups."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 2))
    group = np.where(true_in_a, 0, 1)
    return (latent[:, group] + 0.7 * rng.normal(size=(n, len(true_in_a)))).astype(np.float32)

def grouped_scale_mixture_sources(n=600, seed=0, true_in_a=TRUE_IN_A):
    """Uncorrelated but dependent within a group (a shared random scale, the dependence ICA leaves
    behind), independent across groups: only a nonparametric estimator like KSG sees it."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.1, 1.0, size=(n, 2))
    group = np.where(true_in_a, 0, 1)
    return (scale[:, group] * rng.normal(size=(n, len(true_in_a)))).astype(np.float32)

def gaussian_mi_cost(sources):
    """Exact MI between the masked groups of a Gaussian: 1/2 (log|S_AA| + log|S_BB| - log|S|).
    A group's sub-covariance is taken as cov * (m m^T) + diag(1 - m), whose determinant is the
    sub-block's, so shapes stay static."""
    cov = jnp.cov(jnp.asarray(sources).T)

    def logdet_of_group(m):
        m = m.astype(cov.dtype)
        return jnp.linalg.slogdet(cov * jnp.outer(m, m) + jnp.diag(1 - m))[1]

    def cost(mask):
        return 0.5 * (logdet_of_group(mask) + logdet_of_group(~mask) - jnp.linalg.slogdet(cov)[1])

    return cost

def nan_if_one_sided(cost_fn):
    """Instrumented cost: NaN on the error state, so any evaluation there shows in the trace."""
    return lambda mask: jnp.where(ica.is_two_sided(mask), cost_fn(mask), jnp.nan)

def anneal_chains(cost_fn, n_members, n_chains, n_steps, seed=0, **kwargs):
    keys = jax.random.split(jax.random.key(seed), n_chains)
    run = lambda key: ica.anneal(cost_fn, n_members, key, n_steps, **kwargs)
    return jax.jit(jax.vmap(run))(keys)

# --------------------------------------------------------------------------------------------------
# Eq. 6.4 and the one-sided guard
# --------------------------------------------------------------------------------------------------

def test_temperature_starts_at_0_1_and_falls_as_one_over_sweep():
    # eq. 6.4 with |m| = 4, by hand: t = 1..3 in sweep 0, 4..7 in sweep 1, 8 in sweep 2.
    t = jnp.arange(1, 9)
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.1 / 3]
    np.testing.assert_allclose(ica.temperature(t, 4), expected, rtol=1e-6)

def test_allowed_flips_are_exactly_those_that_stay_two_sided():
    for n in (3, 4, 5):
        for bits in itertools.product([False, True], repeat=n):
            mask = np.array(bits)
            if not (mask.any() and (~mask).any()):
                continue
            brute = []
            for j in range(n):
                flipped = mask.copy()
                flipped[j] = ~flipped[j]
                brute.append(flipped.any() and (~flipped).any())
            np.testing.assert_array_equal(ica.allowed_flips(mask), brute, err_msg=str(bits))

def test_random_initial_masks_are_two_sided_and_cover_every_two_sided_state():
    keys = jax.random.split(jax.random.key(1), 500)
    masks = np.asarray(jax.jit(jax.vmap(lambda k: ica.random_two_sided_mask(k, 3)))(keys))
    assert np.all(masks.any(1) & (~masks).any(1))
    assert len({tuple(m) for m in masks}) == 2**3 - 2

@pytest.mark.parametrize("proposal", ica.PROPOSALS)
def test_cost_is_never_evaluated_on_a_one_sided_state(proposal):
    # With 3 members a third of the flips from any state would be one-sided.
    sources = grouped_gaussian_sources(n=500, true_in_a=np.array([1, 0, 1], bool))
    cost = nan_if_one_sided(gaussian_mi_cost(sources))
    result = anneal_chains(cost, 3, n_chains=32, n_steps=60, proposal=proposal)
    assert int(result.trace.nonfinite.sum()) == 0
    assert np.all(np.isfinite(result.trace.cost))
    assert np.all(np.asarray(ica.is_two_sided(result.mask)))

@pytest.mark.parametrize("proposal", ica.PROPOSALS)
def test_the_instrument_sees_nan_costs_and_the_chain_never_moves_to_them(proposal):
    # The companion of the test above: a cost that is NaN on a two-sided state is counted, and
    # that state is never entered.
    sources = grouped_gaussian_sources(n=500, true_in_a=np.array([1, 0, 1, 0], bool))
    exact = gaussian_mi_cost(sources)
    poisoned = np.array([True, True, False, False])
    cost = lambda m: jnp.where(jnp.all(m == poisoned), jnp.nan, exact(m))
    result = anneal_chains(cost, 4, n_chains=32, n_steps=40, proposal=proposal)
    assert int(result.trace.nonfinite.sum()) > 0
    assert np.all(np.isfinite(result.trace.cost))

# --------------------------------------------------------------------------------------------------
# Eq. 6.3 and the all-flips heat bath, by their probabilities
# --------------------------------------------------------------------------------------------------

def linear_cost(mask):
    return 0.05 * jnp.sum(mask.astype(jnp.float32))

@jax.jit
def _one_step_chains(init_mask, keys):
    return jax.vmap(lambda k: ica.anneal(linear_cost, 3, k, 1, init_mask=init_mask))(keys)

@jax.jit
def _one_heat_bath_step_chains(init_mask, keys):
    run = lambda k: ica.anneal(linear_cost, 3, k, 1, proposal="all-flips", init_mask=init_mask)
    return jax.vmap(run)(keys)

def one_step_from(init_mask, proposal, n_chains=4000):
    keys = jax.random.split(jax.random.key(7), n_chains)
    run = _one_step_chains if proposal == "single" else _one_heat_bath_step_chains
    return run(jnp.asarray(init_mask), keys)

def test_single_flip_uphill_moves_are_accepted_with_probability_of_eq_6_3():
    # From (1,0,0) the allowed flips (j = 1, 2) both raise the cost by 0.05; T_1 = 0.1.
    result = one_step_from([True, False, False], "single")
    moved = np.asarray(result.trace.moved[:, 0])
    expected = np.exp(-0.05 / 0.1)
    se = np.sqrt(expected * (1 - expected) / moved.size)
    assert abs(moved.mean() - expected) < 4 * se
    assert np.all(np.asarray(result.mask[:, 0]))  # m_0 (alone in cause A) was never flipped

def test_single_flip_downhill_moves_are_always_accepted():
    # From (1,1,0) the allowed flips (j = 0, 1) lower the cost; j = 2 would be one-sided.
    result = one_step_from([True, True, False], "single")
    assert np.all(np.asarray(result.trace.moved))
    assert not np.any(np.asarray(result.mask[:, 2]))

def test_all_flips_moves_by_heat_bath_over_staying_and_each_allowed_flip():
    # From (1,0,0): stay (cost 0.05) or flip j = 1, 2 (cost 0.10 each); T = 0.1.
    result = one_step_from([True, False, False], "all-flips")
    w = np.exp(-0.05 / 0.1)
    expected_stay = 1 / (1 + 2 * w)
    stayed = ~np.asarray(result.trace.moved[:, 0])
    se = np.sqrt(expected_stay * (1 - expected_stay) / stayed.size)
    assert abs(stayed.mean() - expected_stay) < 4 * se
    masks = np.asarray(result.mask)
    assert np.all(masks[:, 0])
    flipped_1 = masks[:, 1].mean()
    assert abs(flipped_1 - w / (1 + 2 * w)) < 4 * se

# --------------------------------------------------------------------------------------------------
# The annealer finds the grouping; vmap equals a loop
# --------------------------------------------------------------------------------------------------

def all_two_sided_states(n):
    states = [np.array(b) for b in itertools.product([False, True], repeat=n)]
    return [m for m in states if m.any() and (~m).any()]

@pytest.mark.parametrize("proposal,n_steps", [("single", 8 * 25), ("all-flips", 25)])
def test_many_chains_recover_the_true_grouping(proposal, n_steps):
    sources = grouped_gaussian_sources()
    cost = gaussian_mi_cost(sources)
    states = all_two_sided_states(8)
    costs = np.array([float(cost(jnp.asarray(m))) for m in states])
    # The truth is the global minimum (by enumerating all 2^8 - 2 states)...
    assert ica.grouping_accuracy(states[int(np.argmin(costs))], TRUE_IN_A) == 1.0

    result = anneal_chains(cost, 8, n_chains=16, n_steps=n_steps, proposal=proposal)
    accuracy = np.asarray(ica.grouping_accuracy(result.mask, TRUE_IN_A))
    # ...the lowest-cost chain finds it, and most chains do. The others end in the one trap of
    # this landscape: a cause with a single member, whose only downhill move (emptying the cause)
    # is the forbidden one-sided state.
    assert accuracy[int(np.argmin(result.cost))] == 1.0
    assert np.mean(accuracy == 1.0) >= 0.5, accuracy
    np.testing.assert_allclose(np.asarray(result.cost).min(), costs.min(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result.best_cost, np.asarray(result.trace.cost).min(1), rtol=1e-6)
    trapped = np.asarray(result.mask)[accuracy < 1.0]
    assert np.all(np.minimum(trapped.sum(1), (~trapped).sum(1)) == 1)

def test_vmap_over_chains_and_restarts_equals_a_loop():
    restarts = np.stack([grouped_gaussian_sources(n=300, seed=s) for s in range(2)])
    keys = jax.random.split(jax.random.key(3), (2, 3))

    def one_chain(sources, key):
        return ica.anneal(gaussian_mi_cost(sources), 8, key, 30)

    batched = jax.jit(jax.vmap(jax.vmap(one_chain, in_axes=(None, 0))))(restarts, keys)
    one_chain = jax.jit(one_chain)
    for r in range(2):
        for c in range(3):
            single = one_chain(restarts[r], keys[r, c])
            np.testing.assert_array_equal(batched.mask[r, c], single.mask)
            np.testing.assert_array_equal(batched.trace.moved[r, c], single.trace.moved)
            np.testing.assert_allclose(batched.trace.cost[r, c], single.trace.cost, rtol=1e-5)

def test_anneal_trials_is_a_vmap_of_anneal_over_chains_per_trial():
    restarts = np.stack([grouped_scale_mixture_sources(n=80, seed=s)[:, :6] for s in range(2)])
    keys = jax.random.split(jax.random.key(4), (2, 3))
    for cost, make_cost in (("flip", ica.kraskov_flip_cost), ("ksg", ica.group_mi_cost)):
        result = ica.anneal_trials(restarts, keys, n_steps=12, cost=cost, trial_batch=0)
        assert result.mask.shape == (2, 3, 6) and result.trace.cost.shape == (2, 3, 12)
        for r in range(2):  # the twin: one trial at a time, its jitter drawn as documented
            trial_cost = make_cost(jnp.asarray(restarts[r]), k=3,
                                   key=jax.random.fold_in(keys[r, 0], 1), jitter=1e-10)
            chains = jax.jit(jax.vmap(lambda k, c=trial_cost: ica.anneal(c, 6, k, 12)))(keys[r])
            np.testing.assert_array_equal(result.mask[r], chains.mask)
            np.testing.assert_allclose(result.trace.cost[r], chains.trace.cost, rtol=1e-5,
                                       atol=1e-6)
    with pytest.raises(ValueError, match="cost must be one of"):
        ica.anneal_trials(restarts, keys, n_steps=4, cost="nope")
    with pytest.raises(ValueError, match="sources must be"):
        ica.anneal_trials(restarts[0], keys, n_steps=4)

def test_acceptance_and_proposal_pieces_of_the_annealer():
    keys = jax.random.split(jax.random.key(5), 2000)
    accept = jax.vmap(lambda k: ica.metropolis_accept(jnp.float32(1.0), jnp.float32(1.1),
                                                      jnp.float32(0.1), k))(keys)
    assert abs(float(accept.mean()) - np.exp(-1.0)) < 0.04  # eq. 6.3 uphill
    assert ica.metropolis_accept(jnp.float32(1.0), jnp.float32(0.5), 0.1, keys[0])  # downhill
    assert not ica.metropolis_accept(jnp.float32(1.0), jnp.float32(jnp.nan), 0.1, keys[0])
    picks = jax.vmap(lambda k: ica.propose_single_flip(jnp.asarray([True, False, False]), k))(keys)
    assert set(np.unique(picks)) == {1, 2}  # m_0 alone in cause A is never proposed
    usable = jnp.asarray([True, False])
    choices = jax.vmap(lambda k: ica.heat_bath_choice(jnp.float32(0.0), jnp.asarray(
        [0.0, -5.0], jnp.float32), usable, jnp.float32(1.0), k))(keys)
    assert set(np.unique(choices)) == {0, 1}  # an unusable flip is never chosen
    assert abs(float(np.mean(choices == 1)) - 0.5) < 0.05  # equal costs: equal odds

# --------------------------------------------------------------------------------------------------
# The Kraskov cost of eq. 6.2 (needs jaxdis.metrics.ksg_mi)
# --------------------------------------------------------------------------------------------------

def _ksg_mi():
    from jaxdis import metrics

    if not hasattr(metrics, "ksg_mi"):
        pytest.skip("jaxdis.metrics.ksg_mi has not landed yet")
    return metrics.ksg_mi

def test_masked_group_cost_equals_ksg_on_the_dropped_columns():
    ksg_mi = _ksg_mi()
    sources = grouped_scale_mixture_sources(n=300)
    cost = ica.group_mi_cost(sources, jitter=0.0)
    for bits in ([1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 1, 1, 0, 0, 1, 0], [0, 1, 1, 0, 1, 0, 1, 1]):
        m = np.array(bits, bool)
        expected = ksg_mi(jnp.asarray(sources[:, m]), jnp.asarray(sources[:, ~m]), 3, jitter=0.0,
                          standardize=False)  # the cost reads the sources as they are
        np.testing.assert_allclose(cost(jnp.asarray(m)), expected, rtol=1e-5, atol=1e-6)

def test_kraskov_annealer_recovers_a_grouping_that_correlation_cannot_see():
    _ksg_mi()
    sources = grouped_scale_mixture_sources(n=600)
    assert np.abs(np.corrcoef(sources.T) - np.eye(8)).max() < 0.15  # uncorrelated by design
    cost = ica.group_mi_cost(sources, key=jax.random.key(0))
    result = anneal_chains(cost, 8, n_chains=4, n_steps=12, proposal="all-flips")
    accuracy = np.asarray(ica.grouping_accuracy(result.mask, TRUE_IN_A))
    assert accuracy[int(np.argmin(result.cost))] == 1.0, accuracy
    assert np.mean(accuracy == 1.0) >= 0.75, accuracy

# --------------------------------------------------------------------------------------------------
# The incremental Kraskov cost (FlipCost) against the plain KSG cost, its slow twin
# --------------------------------------------------------------------------------------------------

def heavy_tailed_sources_with_ties(n=400, c=10, seed=0):
    rng = np.random.default_rng(seed)
    sources = rng.standard_t(3, size=(n, c)).astype(np.float32)
    sources[: n // 8, 3] = 0.0  # tied points, which the jitter separates
    return sources

@pytest.mark.parametrize("jitter", [0.0, 1e-3])
def test_kraskov_flip_cost_equals_ksg_along_a_sequence_of_flips(jitter):
    _ksg_mi()
    sources = heavy_tailed_sources_with_ties()
    key = jax.random.key(2)
    slow = jax.jit(ica.group_mi_cost(sources, key=key, jitter=jitter))
    fast = ica.kraskov_flip_cost(sources, key=key, jitter=jitter, row_tile=96)  # 400 = 4 tiles + pad
    mask = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0], bool)
    cost, aux = jax.jit(fast.init)(jnp.asarray(mask))
    np.testing.assert_allclose(cost, slow(jnp.asarray(mask)), rtol=1e-5, atol=1e-6)
    flip = jax.jit(fast.flip)
    for j in (2, 5, 7, 0, 0, 9, 3):
        cost, aux = flip(aux, jnp.asarray(mask), j)
        mask[j] = ~mask[j]
        np.testing.assert_allclose(cost, slow(jnp.asarray(mask)), rtol=1e-5, atol=1e-6)
    # The state is the count of far sources in A: re-initialising at the end gives the same one.
    np.testing.assert_array_equal(aux, jax.jit(fast.init)(jnp.asarray(mask))[1])

@pytest.mark.parametrize("proposal", ica.PROPOSALS)
def test_annealing_with_the_flip_cost_follows_the_plain_cost_step_by_step(proposal):
    _ksg_mi()
    sources = heavy_tailed_sources_with_ties(n=300, c=6)
    plain = ica.group_mi_cost(sources, key=jax.random.key(0))
    fast = ica.kraskov_flip_cost(sources, key=jax.random.key(0))
    n_steps = 30 if proposal == "single" else 6
    slow_run = anneal_chains(plain, 6, n_chains=3, n_steps=n_steps, proposal=proposal)
    fast_run = anneal_chains(fast, 6, n_chains=3, n_steps=n_steps, proposal=proposal)
    np.testing.assert_array_equal(fast_run.trace.moved, slow_run.trace.moved)
    np.testing.assert_array_equal(fast_run.mask, slow_run.mask)
    # Each cost is psi(k) + psi(N) - a mean of digammas near psi(N) ~ 6, so float32 rounding
    # leaves about 1e-6 nats of absolute error whatever the order of the sums.
    np.testing.assert_allclose(fast_run.trace.cost, slow_run.trace.cost, rtol=1e-5, atol=5e-6)

def test_group_cost_jitters_each_source_once_whatever_its_group():
    # Section 6.2's noise is part of the data, not of the group a source is in.
    _ksg_mi()
    from jaxdis.metrics import ksg_mi

    sources = heavy_tailed_sources_with_ties(n=200, c=5)
    key = jax.random.key(4)
    noisy = np.asarray(ica.jitter_sources(jnp.asarray(sources), key, 1e-2))
    assert not np.array_equal(noisy, sources)
    cost = ica.group_mi_cost(sources, key=key, jitter=1e-2)
    for bits in ([1, 0, 0, 1, 0], [0, 1, 1, 0, 1]):
        m = np.array(bits, bool)
        expected = ksg_mi(jnp.asarray(noisy[:, m]), jnp.asarray(noisy[:, ~m]), 3,
                          standardize=False)
        np.testing.assert_allclose(cost(jnp.asarray(m)), expected, rtol=1e-5, atol=1e-6)

def test_flip_cost_arguments_are_named():
    sources = heavy_tailed_sources_with_ties(n=50, c=4)
    with pytest.raises(ValueError, match="k must be"):
        ica.kraskov_flip_cost(sources, k=50)
    with pytest.raises(ValueError, match="row_tile"):
        ica.kraskov_flip_cost(sources, row_tile=0)
    with pytest.raises(TypeError, match="cost_fn must be callable or a FlipCost"):
        ica.anneal(3.0, 4, jax.random.key(0), 2)

# --------------------------------------------------------------------------------------------------
# FastICA, reconstructions and the scores of a grouping
# --------------------------------------------------------------------------------------------------

def test_fast_ica_unmixes_and_reconstructs():
    rng = np.random.default_rng(0)
    true_sources = rng.laplace(size=(2000, 4))
    mixing = rng.normal(size=(6, 4))
    x = (true_sources @ mixing.T + rng.normal(size=6)).astype(np.float64)
    result = ica.fast_ica(x, 4, tol=1e-6, max_iter=1000, seed=0)
    assert result.sources.shape == (2000, 4) and result.mixing.shape == (6, 4)
    assert result.n_iter < 1000
    np.testing.assert_allclose((x - result.mean) @ result.unmixing.T, result.sources, atol=1e-8)
    everything = np.ones(4, bool)
    np.testing.assert_allclose(
        ica.reconstruct(result.sources, result.mixing, result.mean, everything), x, atol=1e-4
    )
    # Each recovered source matches one true source (up to sign and scale).
    corr = np.abs(np.corrcoef(result.sources.T, true_sources.T)[:4, 4:])
    assert np.all(corr.max(1) > 0.99)

def test_fast_ica_handles_constant_features_like_image_borders():
    # scikit-learn alone returns NaN sources when the first feature is constant.
    rng = np.random.default_rng(1)
    varying = rng.laplace(size=(500, 3)) @ rng.normal(size=(3, 5))
    x = np.concatenate([np.zeros((500, 1)), varying, np.full((500, 1), 0.5)], 1)
    result = ica.fast_ica(x, 3, tol=1e-6, max_iter=1000)
    assert np.all(np.isfinite(result.sources))
    np.testing.assert_array_equal(result.mixing[[0, -1]], 0.0)
    np.testing.assert_array_equal(result.unmixing[:, [0, -1]], 0.0)
    full = ica.reconstruct(result.sources, result.mixing, result.mean, np.ones(3, bool))
    np.testing.assert_allclose(full, x, atol=1e-4)

def test_fast_ica_fits_in_the_dtype_asked_for_and_returns_the_input_dtype():
    rng = np.random.default_rng(3)
    x = (rng.laplace(size=(400, 3)) @ rng.normal(size=(3, 5))).astype(np.float32)
    single = ica.fast_ica(x, 3, tol=1e-6, max_iter=1000)
    double = ica.fast_ica(x, 3, tol=1e-6, max_iter=1000, fit_dtype=np.float64)
    assert double.sources.dtype == double.mixing.dtype == np.float32
    np.testing.assert_allclose(double.sources, single.sources, rtol=1e-3, atol=1e-3)

def test_fast_ica_names_a_diverged_fit(monkeypatch):
    from sklearn.decomposition import FastICA

    def diverge(self, x):  # what scipy says when FastICA's float32 iterations overflow
        raise ValueError("array must not contain infs or NaNs")

    monkeypatch.setattr(FastICA, "fit_transform", diverge)
    x = np.random.default_rng(0).laplace(size=(100, 4)).astype(np.float32)
    with pytest.raises(FloatingPointError, match="diverged .fun='cube' in float32.*fit_dtype"):
        ica.fast_ica(x, 2, fun="cube")

def test_single_cause_reconstructions_add_up_to_the_full_one():
    rng = np.random.default_rng(1)
    sources, mixing, mean = rng.normal(size=(5, 6)), rng.normal(size=(10, 6)), rng.normal(size=10)
    m = np.array([1, 0, 0, 1, 1, 0], bool)
    a = ica.reconstruct(sources, mixing, mean, m)
    b = ica.reconstruct(sources, mixing, mean, ~m)
    np.testing.assert_allclose(a + b - mean, mean + sources @ mixing.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a, mean + sources[:, m] @ mixing[:, m].T, rtol=1e-5, atol=1e-5)

def test_cause_share_follows_which_pixels_a_component_reads():
    rng = np.random.default_rng(2)
    cause_a = np.concatenate([rng.random((50, 4)), np.zeros((50, 4))], 1)  # left half only
    cause_b = np.concatenate([np.zeros((50, 4)), rng.random((50, 4))], 1)  # right half only
    unmixing = np.zeros((3, 8))
    unmixing[0, :4] = 1.0
    unmixing[1, 4:] = 1.0
    unmixing[2] = 1.0
    share = ica.cause_share_of_components(unmixing, cause_a, cause_b)
    np.testing.assert_allclose(share[:2], [1.0, 0.0])
    brute = np.var(cause_a @ unmixing[2]) / (np.var(cause_a @ unmixing[2]) + np.var(cause_b @ unmixing[2]))
    np.testing.assert_allclose(share[2], brute, rtol=1e-12)

def test_grouping_accuracy_ignores_which_group_is_called_a():
    truth = np.array([1, 1, 0, 0], bool)
    assert ica.grouping_accuracy(truth, truth) == 1.0
    assert ica.grouping_accuracy(~truth, truth) == 1.0
    assert ica.grouping_accuracy(np.array([1, 0, 0, 0], bool), truth) == 0.75

@pytest.mark.parametrize("n_true_in_a, n_in_a", [(4, 4), (2, 5), (0, 3), (7, 1)])
def test_chance_grouping_accuracy_is_the_mean_over_every_grouping_of_that_size(n_true_in_a, n_in_a):
    import itertools

    n_members = 8
    truth = np.arange(n_members) < n_true_in_a
    scores = []
    for members in itertools.combinations(range(n_members), n_in_a):
        mask = np.zeros(n_members, bool)
        mask[list(members)] = True
        scores.append(float(ica.grouping_accuracy(mask, truth)))
    chance = ica.chance_grouping_accuracy(n_members, n_true_in_a, n_in_a)
    np.testing.assert_allclose(chance, np.mean(scores), rtol=1e-12)

def test_chance_grouping_accuracy_of_balanced_groups_is_above_one_half():
    assert ica.chance_grouping_accuracy(50, 25, 25) == pytest.approx(0.556, abs=0.002)
    with pytest.raises(ValueError, match="n_in_a <= n_members"):
        ica.chance_grouping_accuracy(5, 2, 6)

def test_score_grouping_of_components_that_each_read_one_cause():
    # Three independent non-Gaussian sources per cause, cause A on the top rows, B on the bottom.
    rng = np.random.default_rng(3)
    patterns_a, patterns_b = np.zeros((2, 3, 4, 4), np.float32)
    patterns_a[:, :2] = rng.normal(size=(3, 2, 4))
    patterns_b[:, 2:] = rng.normal(size=(3, 2, 4))
    cause_a, cause_b = (np.einsum("ns,shw->nhw", rng.laplace(size=(300, 3)), patterns)
                        .astype(np.float32) for patterns in (patterns_a, patterns_b))
    x = (cause_a + cause_b).reshape(300, -1)
    fit = ica.fast_ica(x, 6, seed=0, max_iter=1000)
    truth = ica.cause_share_of_components(fit.unmixing, cause_a, cause_b) > 0.5
    perfect = ica.score_grouping(fit, truth, cause_a, cause_b)
    assert perfect["accuracy"] == 1.0 and perfect["purity"] > 0.95
    assert perfect["cause_recovery"] > 0.9
    assert perfect["true_components_in_a"] == perfect["components_in_a"] == truth.sum() == 3
    wrong = truth.copy()
    wrong[np.flatnonzero(truth)[0]] = False
    worse = ica.score_grouping(fit, wrong, cause_a, cause_b)
    assert worse["accuracy"] == pytest.approx(5 / 6) and worse["components_in_a"] == 2
    assert worse["cause_recovery"] < perfect["cause_recovery"] - 0.1

def test_truth_against_shuffles_scores_the_truth_and_is_nan_when_one_sided():
    sources = grouped_gaussian_sources(n=300)
    result = ica.truth_against_shuffles(sources, TRUE_IN_A, 3, seed=0)
    assert len(result["shuffled_truth_mi"]) == 3
    want = ica.grouping_costs(sources, [TRUE_IN_A])[0]
    assert result["true_grouping_mi"] == want
    assert result["truth_below_shuffles"] == 1.0  # the truth is the least dependent grouping
    one_sided = ica.truth_against_shuffles(sources, np.ones(8, bool), 3, seed=0)
    assert np.isnan(one_sided["true_grouping_mi"]) and one_sided["shuffled_truth_mi"] == []
    assert np.isnan(one_sided["truth_below_shuffles"])

# --------------------------------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------------------------------

def test_bad_arguments_are_named():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="n_members must be an int >= 3"):
        ica.anneal(linear_cost, 2, key, 10)
    with pytest.raises(ValueError, match="proposal must be one of"):
        ica.anneal(linear_cost, 4, key, 10, proposal="pairs")
    with pytest.raises(ValueError, match="n_steps"):
        ica.anneal(linear_cost, 4, key, 0)
    with pytest.raises(ValueError, match="init_mask: mask must be"):
        ica.anneal(linear_cost, 4, key, 5, init_mask=jnp.ones(3, bool))
    with pytest.raises(ValueError, match="cost_fn must return a scalar"):
        ica.anneal(lambda m: m.astype(jnp.float32), 4, key, 5)
    with pytest.raises(ValueError, match="x must be \\(N, D\\)"):
        ica.fast_ica(np.zeros(10), 2)
    with pytest.raises(ValueError, match="n_components"):
        ica.fast_ica(np.zeros((10, 3)), 5)
    with pytest.raises(ValueError, match="NaN"):
        ica.fast_ica(np.full((10, 3), np.nan), 2)
    with pytest.raises(ValueError, match="mask must be"):
        ica.reconstruct(np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(5), np.ones(4, bool))
    with pytest.raises(ValueError, match="mixing must be"):
        ica.reconstruct(np.zeros((2, 3)), np.zeros((5, 4)), np.zeros(5), np.ones(3, bool))

# --------------------------------------------------------------------------------------------------
# The experiment, end to end at a tiny scale
# --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_ppica_experiment_runs_and_reports(tmp_path):
    import dataclasses

    from experiments import ppica
    from jaxdis.runs import RunDir

    config = dataclasses.replace(
        ppica.make_config(None), n_images=200, mi_samples=100, n_sources=(6,), seeds=2, sweeps=2,
        tol_sweep=(1e-1,), tol_sweep_sources=6, tol_sweep_seeds=1,
    )
    summary = ppica.run(config, RunDir(tmp_path))
    (setting,) = summary["settings"]
    assert len(setting["trials"]) == 2
    for trial in setting["trials"]:
        assert 0.5 <= trial["accuracy"] <= 1.0
        assert 0.5 <= trial["purity"] <= 1.0
        assert np.isfinite(trial["cause_recovery"]) and np.isfinite(trial["final_mi"])
        assert trial["nonfinite_costs"] == 0
        if np.isfinite(trial["true_grouping_mi"]):  # a two-sided truth: shuffles were scored
            assert len(trial["shuffled_truth_mi"]) == config.random_groupings
            assert 0.0 <= trial["truth_below_shuffles"] <= 1.0
    assert np.asarray(setting["mi_after_each_sweep"]).shape == (2, 2)
    assert (tmp_path / "figures" / "ppica_mi_curves.png").exists()
    assert (tmp_path / "figures" / "ppica_groups_6.png").exists()
    assert "| 6 |" in (tmp_path / "report.md").read_text()

def test_ppica_rejects_an_unknown_ica_contrast_function(tmp_path):
    import dataclasses

    from experiments import ppica
    from jaxdis.runs import RunDir

    config = dataclasses.replace(ppica.make_config(None), ica_fun="tanh")
    with pytest.raises(ValueError, match="ica_fun must be one of"):
        ppica.run(config, RunDir(tmp_path))
