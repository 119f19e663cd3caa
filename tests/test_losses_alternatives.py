"""The rejected alternatives of thesis section 9.1: CDA (eq. 9.1), MMD (eq. 9.2), MeanNN (eq. 9.3-9.4)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from jaxdis.losses import cda_penalty, meannn_mi, mmd

from conftest import relative_error


@pytest.fixture
def rng():
    return np.random.default_rng(3)


# ---- MMD ----


def mmd_loops(x, y, bandwidth):
    def k(a, b):
        return math.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_matches_the_loop_over_pairs(rng):
    x, y = rng.normal(size=(15, 3)), rng.normal(size=(11, 3)) + 0.7
    expected = mmd_loops(x, y, 1.5)
    with jax.enable_x64(True):
        assert relative_error(mmd(jnp.asarray(x), jnp.asarray(y), 1.5), expected) < 1e-12
    assert relative_error(mmd(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), 1.5), expected) < 1e-5


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_shift(rng):
    x = jnp.asarray(rng.normal(size=(300, 2)), jnp.float32)
    y = rng.normal(size=(300, 2))
    values = [float(mmd(x, jnp.asarray(y + [shift, 0.0], jnp.float32), 1.0)) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert abs(values[0]) < 0.01  # the unbiased estimate fluctuates around 0 at O(1/N)
    assert values[1] > 0.02  # about 0.04 for a shift of half a standard deviation
    assert np.all(np.diff(values) > 0)


def test_mmd_is_unchanged_by_translating_both_samples(rng):
    # The centring that protects float32 precision must not change the value.
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 0.5
    near = mmd(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), 1.0)
    far = mmd(jnp.asarray(x + 1000.0, jnp.float32), jnp.asarray(y + 1000.0, jnp.float32), 1.0)
    assert relative_error(far, near) < 1e-3


# ---- MeanNN ----


def kozachenko_leonenko_entropy(a, k):
    """The k-nearest-neighbour entropy estimate: psi(N) - psi(k) + log c_d + d/N sum_i log eps_ik."""
    n, d = a.shape
    log_unit_ball = (d / 2) * math.log(math.pi) - math.lgamma(d / 2 + 1)
    total = 0.0
    for i in range(n):
        distances = sorted(np.sqrt(np.sum((a[i] - a[j]) ** 2)) for j in range(n) if j != i)
        total += math.log(distances[k - 1])
    return special.digamma(n) - special.digamma(k) + log_unit_ball + d * total / n


def meannn_by_averaging_over_k(x, y):
    """MeanNN as its definition says: the kNN entropy estimates averaged over every k < N."""
    n = len(x)

    def mean_entropy(a):
        return np.mean([kozachenko_leonenko_entropy(a, k) for k in range(1, n)])

    return mean_entropy(x) + mean_entropy(y) - mean_entropy(np.hstack([x, y]))


def test_meannn_equals_the_knn_estimates_averaged_over_all_k(rng):
    x = rng.normal(size=(14, 2))
    y = rng.normal(size=(14, 1)) + x[:, :1]
    expected = meannn_by_averaging_over_k(x, y)
    with jax.enable_x64(True):
        assert relative_error(meannn_mi(jnp.asarray(x), jnp.asarray(y)), expected) < 1e-10
    assert abs(float(meannn_mi(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))) - expected) < 1e-5 * max(1, abs(expected))


def test_meannn_rises_with_the_correlation_of_gaussian_pairs(rng):
    noise = rng.normal(size=(2, 300))
    estimates = []
    for rho in (0.0, 0.5, 0.9, 0.99):
        x = noise[0]
        y = rho * noise[0] + math.sqrt(1 - rho**2) * noise[1]
        estimates.append(float(meannn_mi(jnp.asarray(x[:, None], jnp.float32), jnp.asarray(y[:, None], jnp.float32))))
    assert np.all(np.diff(estimates) > 0), estimates


def test_meannn_gradient_is_finite(rng):
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    grad_x, grad_y = jax.grad(meannn_mi, argnums=(0, 1))(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))
    assert np.all(np.isfinite(grad_x)) and np.all(np.isfinite(grad_y))


# ---- CDA ----


def cda_loops(jac_a, jac_b):
    n, ka, kb = jac_a.shape[0], jac_a.shape[1], jac_b.shape[1]
    total = 0.0
    for s in range(n):
        for j in range(ka):
            for k in range(kb):
                total += np.sum(jac_a[s, j] * jac_b[s, k]) ** 2
    return total / n


def test_cda_matches_the_loop_over_unit_pairs(rng):
    jac_a, jac_b = rng.normal(size=(4, 3, 5, 2)), rng.normal(size=(4, 2, 5, 2))
    with jax.enable_x64(True):
        assert relative_error(cda_penalty(jnp.asarray(jac_a), jnp.asarray(jac_b)), cda_loops(jac_a, jac_b)) < 1e-12
    assert relative_error(cda_penalty(jnp.asarray(jac_a, jnp.float32), jnp.asarray(jac_b, jnp.float32)), cda_loops(jac_a, jac_b)) < 1e-5


def test_cda_is_zero_for_code_blocks_reading_disjoint_inputs(rng):
    w_a, w_b = jnp.asarray(rng.normal(size=(6, 3)), jnp.float32), jnp.asarray(rng.normal(size=(6, 2)), jnp.float32)
    x = jnp.asarray(rng.normal(size=(5, 6)), jnp.float32)
    disjoint_a = lambda v: jnp.tanh(v[:3] @ w_a[:3])  # reads inputs 0-2
    disjoint_b = lambda v: jnp.tanh(v[3:] @ w_b[3:])  # reads inputs 3-5
    overlapping_b = lambda v: jnp.tanh(v @ w_b)
    jac_a = jax.vmap(jax.jacrev(disjoint_a))(x)
    assert jac_a.shape == (5, 3, 6)
    assert cda_penalty(jac_a, jax.vmap(jax.jacrev(disjoint_b))(x)) == 0.0
    assert cda_penalty(jac_a, jax.vmap(jax.jacrev(overlapping_b))(x)) > 0.01
