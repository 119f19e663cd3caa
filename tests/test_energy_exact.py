"""Exact enumeration of small Broadnets: fast path = brute force = float64 NumPy, normalisation,
and jax.grad of the mean log-evidence = the thesis's eq. 4.9 written out."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from jaxdis.energy import exact
from jaxdis.energy.broadnet import BroadnetParams
from jaxdis.energy.grbm import GRBMParams

from conftest import relative_error


def random_model(seed, num_a, num_b, num_visible, scale=0.5):
    rng = np.random.default_rng(seed)
    return BroadnetParams(
        W=jnp.asarray(rng.normal(0, scale, (num_a, num_visible)), jnp.float32),
        V=jnp.asarray(rng.normal(0, scale, (num_b, num_visible)), jnp.float32),
        a=jnp.asarray(rng.normal(-0.5, 0.5, num_a), jnp.float32),
        b=jnp.asarray(rng.normal(-0.5, 0.5, num_b), jnp.float32),
    )


def random_data(seed, batch, num_visible):
    return jnp.asarray(np.random.default_rng(seed).normal(0, 1, (batch, num_visible)), jnp.float32)


# ----- float64 NumPy reference: every joint configuration, nested in Python -----

def numpy_configurations(n):
    """Row i: unit j is on iff bit j of i is 1 (the order of exact.configurations)."""
    return np.array([[(i >> j) & 1 for j in range(n)] for i in range(2**n)], np.float64).reshape(-1, n)

def numpy_tables(params, x, sigma):
    """Returns (configs_a, configs_b, J (B, Ka, Kb), marginal scores (Ka, Kb), log Z) in float64."""
    W, V, a, b = (np.asarray(p, np.float64) for p in params)
    x = np.asarray(x, np.float64)
    hs_a, hs_b = numpy_configurations(W.shape[0]), numpy_configurations(V.shape[0])
    J = np.zeros((x.shape[0], len(hs_a), len(hs_b)))
    marg = np.zeros((len(hs_a), len(hs_b)))
    for i, h_a in enumerate(hs_a):
        for k, h_b in enumerate(hs_b):
            phi_a, phi_b = h_a @ W, h_b @ V
            prior = (phi_a @ phi_a + phi_b @ phi_b) / (2 * sigma**2) + h_a @ a + h_b @ b
            marg[i, k] = prior
            for n in range(x.shape[0]):
                J[n, i, k] = -np.sum((x[n] - phi_a - phi_b) ** 2) / (2 * sigma**2) + prior
    log_z = 0.5 * W.shape[1] * np.log(2 * np.pi * sigma**2) + logsumexp(marg)
    return hs_a, hs_b, J, marg, log_z


def numpy_log_evidence(params, x, sigma):
    _, _, J, _, log_z = numpy_tables(params, x, sigma)
    return logsumexp(J.reshape(J.shape[0], -1), axis=1) - log_z


def numpy_gradient_eq_4_9(params, x, sigma):
    """Thesis eq. 4.9 (and its bias and cause-B counterparts), averaged over the batch:
    dW_ji = <h_a,j (x_i - phi_b,i)>_posterior / sigma^2 - <h_a,j phi_a,i>_p(h) / sigma^2."""
    W, V, a, b = (np.asarray(p, np.float64) for p in params)
    x = np.asarray(x, np.float64)
    hs_a, hs_b, J, marg, _ = numpy_tables(params, x, sigma)
    post = np.exp(J - logsumexp(J, axis=(1, 2), keepdims=True))
    prior = np.exp(marg - logsumexp(marg))
    gW, gV, ga, gb = np.zeros_like(W), np.zeros_like(V), np.zeros_like(a), np.zeros_like(b)
    for i, h_a in enumerate(hs_a):
        for k, h_b in enumerate(hs_b):
            phi_a, phi_b = h_a @ W, h_b @ V
            for n in range(x.shape[0]):  # Hebbian: the posterior of each example
                p = post[n, i, k] / x.shape[0]
                gW += p * np.outer(h_a, x[n] - phi_b) / sigma**2
                gV += p * np.outer(h_b, x[n] - phi_a) / sigma**2
                ga += p * h_a
                gb += p * h_b
            # anti-Hebbian: the model's joint, where E[x | h] = phi_a + phi_b
            gW -= prior[i, k] * np.outer(h_a, phi_a) / sigma**2
            gV -= prior[i, k] * np.outer(h_b, phi_b) / sigma**2
            ga -= prior[i, k] * h_a
            gb -= prior[i, k] * h_b
    return BroadnetParams(gW, gV, ga, gb)


# ----- the tests -----

@pytest.mark.parametrize("num_a,num_b", [(1, 1), (3, 2), (2, 5), (6, 6)])
def test_fast_path_matches_brute_force_and_float64_numpy(num_a, num_b):
    params, x, sigma = random_model(num_a * 10 + num_b, num_a, num_b, 5), random_data(1, 4, 5), 0.8
    want_log_z = numpy_tables(params, x, sigma)[-1]
    want = numpy_log_evidence(params, x, sigma)
    for method in exact.METHODS:
        assert relative_error(exact.log_partition(params, sigma, method), want_log_z) < 1e-5, method
        assert relative_error(exact.log_evidence(params, x, sigma, method), want) < 1e-5, method


def test_ten_units_per_cause_fast_equals_brute_force():
    params, x, sigma = random_model(7, 10, 10, 4, scale=0.3), random_data(2, 3, 4), 1.0
    fast = exact.log_evidence(params, x, sigma, "fast")
    brute = exact.log_evidence(params, x, sigma, "brute")
    assert relative_error(fast, brute) < 1e-5


def test_ten_units_per_cause_mnist_sized_gradient_runs_fast_and_is_finite():
    params = random_model(3, 10, 10, 784, scale=0.05)
    x = jnp.asarray(np.random.default_rng(0).uniform(0, 2, (64, 784)), jnp.float32)
    value, grad = jax.jit(jax.value_and_grad(exact.mean_log_evidence), static_argnums=2)(
        params, x, 1.0)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in grad)


def test_enumerating_the_bigger_cause_gives_the_same_evidence():
    # The fast path enumerates the smaller cause; swapping the causes must not change p(x).
    params, x = random_model(5, 2, 4, 6), random_data(3, 5, 6)
    swapped = BroadnetParams(params.V, params.W, params.b, params.a)
    assert relative_error(exact.log_evidence(params, x, 0.7),
                          exact.log_evidence(swapped, x, 0.7)) < 1e-6


@pytest.mark.parametrize("method", exact.METHODS)
def test_small_chunks_stream_to_the_same_answer(method):
    params, x = random_model(9, 4, 3, 5), random_data(4, 3, 5)
    whole = exact.log_evidence(params, x, 1.0, method, chunk_size=2**10)
    streamed = exact.log_evidence(params, x, 1.0, method, chunk_size=2)
    assert relative_error(streamed, whole) < 1e-6


def test_one_visible_model_density_integrates_to_one():
    params, sigma = random_model(11, 3, 2, 1, scale=1.0), 0.6
    reach = float(jnp.sum(jnp.abs(params.W)) + jnp.sum(jnp.abs(params.V))) + 12 * sigma
    grid = np.linspace(-reach, reach, 20001)
    density = np.exp(np.asarray(exact.log_evidence(params, jnp.asarray(grid[:, None], jnp.float32),
                                                   sigma), np.float64))
    assert abs(np.trapezoid(density, grid) - 1.0) < 1e-4


def test_exact_gradient_is_eq_4_9():
    params, x, sigma = random_model(13, 3, 2, 4), random_data(5, 6, 4), 0.9
    want = numpy_gradient_eq_4_9(params, x, sigma)
    for method in exact.METHODS:
        got = jax.grad(exact.mean_log_evidence)(params, x, sigma, method)
        for name, g, w in zip(BroadnetParams._fields, got, want):
            assert relative_error(g, w) < 1e-4, (method, name)


def test_gradient_through_small_chunks_is_the_same():
    params, x = random_model(17, 4, 4, 5), random_data(6, 3, 5)
    whole = jax.grad(exact.mean_log_evidence)(params, x, 1.0, "fast", 2**10)
    streamed = jax.grad(exact.mean_log_evidence)(params, x, 1.0, "fast", 2)
    for g, w in zip(streamed, whole):
        assert relative_error(g, w) < 1e-5


def test_posterior_table_matches_numpy_and_is_normalised():
    params, x, sigma = random_model(19, 3, 4, 5), random_data(7, 2, 5), 0.8
    _, _, J, _, _ = numpy_tables(params, x, sigma)
    want = J - logsumexp(J, axis=(1, 2), keepdims=True)
    got = exact.log_posterior(params, x, sigma)
    assert got.shape == (2, 8, 16)
    np.testing.assert_allclose(np.exp(got), np.exp(want), atol=1e-6)
    np.testing.assert_allclose(np.exp(got).sum((1, 2)), 1.0, rtol=1e-5)


def test_configurations_are_bits_of_the_index():
    np.testing.assert_array_equal(exact.configurations(2), [[0, 0], [1, 0], [0, 1], [1, 1]])


def test_grbm_log_evidence_matches_numpy():
    rng = np.random.default_rng(23)
    params = GRBMParams(jnp.asarray(rng.normal(0, 0.5, (4, 3)), jnp.float32),
                        jnp.asarray(rng.normal(0, 0.5, 4), jnp.float32))
    v, sigma = random_data(8, 5, 3), 0.7
    W, b, vv = (np.asarray(t, np.float64) for t in (params.W, params.b, v))
    hs = numpy_configurations(4)
    joint = np.array([[-np.sum((vn - h @ W) ** 2) / (2 * sigma**2)
                       + np.sum((h @ W) ** 2) / (2 * sigma**2) + h @ b for h in hs] for vn in vv])
    marg = np.array([np.sum((h @ W) ** 2) / (2 * sigma**2) + h @ b for h in hs])
    want = logsumexp(joint, 1) - 1.5 * np.log(2 * np.pi * sigma**2) - logsumexp(marg)
    assert relative_error(exact.grbm_log_evidence(params, v, sigma), want) < 1e-5
    np.testing.assert_allclose(np.exp(exact.cause_log_marginal(params, sigma)),
                               np.exp(marg - logsumexp(marg)), atol=1e-6)


def test_works_under_jit_and_vmap_over_models():
    models = [random_model(s, 2, 3, 4) for s in range(3)]
    stacked = jax.tree.map(lambda *t: jnp.stack(t), *models)
    x = random_data(9, 5, 4)
    batched = jax.jit(jax.vmap(lambda p: exact.log_evidence(p, x, 1.0)))(stacked)
    for i, p in enumerate(models):
        assert relative_error(batched[i], exact.log_evidence(p, x, 1.0)) < 1e-6


def test_bad_input_is_named():
    params, x = random_model(1, 2, 2, 4), random_data(1, 3, 4)
    with pytest.raises(ValueError, match="x: expected shape"):
        exact.log_evidence(params, random_data(1, 3, 5), 1.0)
    with pytest.raises(TypeError, match="floating"):
        exact.log_evidence(params, jnp.ones((3, 4), jnp.int32), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        exact.log_evidence(params, x, 0.0)
    with pytest.raises(ValueError, match="method"):
        exact.log_evidence(params, x, 1.0, method="magic")
    with pytest.raises(ValueError, match="params.V"):
        exact.log_partition(params._replace(V=jnp.ones((2, 5))), 1.0)
    with pytest.raises(ValueError, match="params.a"):
        exact.log_partition(params._replace(a=jnp.ones(3)), 1.0)
    with pytest.raises(ValueError, match="0..30"):
        exact.log_partition(random_model(1, 31, 1, 2), 1.0)
