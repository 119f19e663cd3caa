"""XCov and the semi-supervised objective (Cheung et al. eq. 3-8), and DeCov (Cogswell et al.).

Each loss is compared with a slow NumPy version written here with explicit loops, in float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.losses import decov, semi_supervised_objective, xcov

from conftest import relative_error


def xcov_loops(y, z):
    """Cheung et al. eq. 6 with a loop over every (i, j) pair of units and every example."""
    n, dy = y.shape
    dz = z.shape[1]
    y_mean, z_mean = y.mean(axis=0), z.mean(axis=0)
    total = 0.0
    for i in range(dy):
        for j in range(dz):
            covariance = sum((y[s, i] - y_mean[i]) * (z[s, j] - z_mean[j]) for s in range(n)) / n
            total += 0.5 * covariance**2
    return total


def xcov_gradients_eq7_eq8(y, z):
    """The hand-written gradients of Cheung et al. eq. 7 (w.r.t. y) and eq. 8 (w.r.t. z)."""
    n = y.shape[0]
    y_c, z_c = y - y.mean(axis=0), z - z.mean(axis=0)
    grad_y = np.zeros_like(y)
    grad_z = np.zeros_like(z)
    for m in range(n):
        for a in range(y.shape[1]):
            grad_y[m, a] = sum(
                (sum(y_c[s, a] * z_c[s, j] for s in range(n)) / n) * (z_c[m, j] / n) for j in range(z.shape[1])
            )
        for b in range(z.shape[1]):
            grad_z[m, b] = sum(
                (sum(y_c[s, i] * z_c[s, b] for s in range(n)) / n) * (y_c[m, i] / n) for i in range(y.shape[1])
            )
    return grad_y, grad_z


def decov_loops(h):
    n, d = h.shape
    mean = h.mean(axis=0)
    total = 0.0
    for i in range(d):
        for j in range(d):
            if i != j:
                covariance = sum((h[s, i] - mean[i]) * (h[s, j] - mean[j]) for s in range(n)) / n
                total += 0.5 * covariance**2
    return total


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_xcov_matches_the_loop_over_unit_pairs_in_float32(rng):
    y = rng.normal(size=(40, 5)) + 0.3 * rng.normal(size=(40, 1))
    z = rng.normal(size=(40, 3)) + y[:, :3]
    actual = xcov(jnp.asarray(y, jnp.float32), jnp.asarray(z, jnp.float32))
    assert actual.dtype == jnp.float32
    assert relative_error(actual, xcov_loops(y, z)) < 1e-5


def test_xcov_matches_the_loop_in_float64(rng):
    y, z = rng.normal(size=(30, 4)), rng.normal(size=(30, 6))
    with jax.enable_x64(True):
        actual = xcov(jnp.asarray(y), jnp.asarray(z))
        assert actual.dtype == jnp.float64
    assert relative_error(actual, xcov_loops(y, z)) < 1e-12


def test_xcov_autodiff_gradient_equals_the_papers_eq7_and_eq8(rng):
    y = rng.normal(size=(12, 3))
    z = rng.normal(size=(12, 4)) + 0.5 * y[:, [0, 1, 2, 0]]
    expected_y, expected_z = xcov_gradients_eq7_eq8(y, z)
    with jax.enable_x64(True):
        grad_y, grad_z = jax.grad(xcov, argnums=(0, 1))(jnp.asarray(y), jnp.asarray(z))
    assert relative_error(grad_y, expected_y) < 1e-12
    assert relative_error(grad_z, expected_z) < 1e-12


def test_xcov_is_zero_when_z_is_constant(rng):
    y = jnp.asarray(rng.normal(size=(20, 4)), jnp.float32)
    z = jnp.full((20, 3), 2.5, jnp.float32)
    assert xcov(y, z) == 0.0


def test_xcov_is_zero_when_z_is_orthogonalised_against_y(rng):
    y = rng.normal(size=(50, 4))
    z = rng.normal(size=(50, 3)) + y[:, :3]
    y_c, z_c = y - y.mean(axis=0), z - z.mean(axis=0)
    z_orthogonal = z_c - y_c @ np.linalg.lstsq(y_c, z_c, rcond=None)[0]
    assert xcov(jnp.asarray(y, jnp.float32), jnp.asarray(z, jnp.float32)) > 0.1
    with jax.enable_x64(True):
        assert xcov(jnp.asarray(y), jnp.asarray(z_orthogonal)) < 1e-25


def test_xcov_is_invariant_to_adding_constants_to_y_or_z(rng):
    y, z = rng.normal(size=(25, 3)), rng.normal(size=(25, 2))
    with jax.enable_x64(True):
        reference = xcov(jnp.asarray(y), jnp.asarray(z))
        shifted = xcov(jnp.asarray(y + [3.0, -7.0, 11.0]), jnp.asarray(z - 5.0))
    assert relative_error(shifted, reference) < 1e-12


def test_decov_matches_the_loop_over_distinct_unit_pairs(rng):
    h = rng.normal(size=(30, 6)) + rng.normal(size=(30, 1))
    assert relative_error(decov(jnp.asarray(h, jnp.float32)), decov_loops(h)) < 1e-5
    with jax.enable_x64(True):
        assert relative_error(decov(jnp.asarray(h)), decov_loops(h)) < 1e-12


def test_decov_ignores_the_diagonal_of_the_covariance(rng):
    # Whitened columns scaled to very different variances: the covariance is diagonal, large.
    h = rng.normal(size=(40, 5))
    h_c = h - h.mean(axis=0)
    whitened = h_c @ np.linalg.inv(np.linalg.cholesky(h_c.T @ h_c / 40).T)
    uncorrelated = whitened @ np.diag([1.0, 10.0, 100.0, 0.1, 5.0])
    with jax.enable_x64(True):
        assert decov(jnp.asarray(uncorrelated)) < 1e-20
        # Mixing two columns creates an off-diagonal covariance of 10 * 10: DeCov sees it.
        mixed = uncorrelated.copy()
        mixed[:, 0] += uncorrelated[:, 1]
        assert relative_error(decov(jnp.asarray(mixed)), 100.0**2) < 1e-9


def objective_loops(x, x_hat, labels, logits, z, mask, alpha, beta, gamma):
    """Cheung et al. eq. 3-6 per example, with float64 loops."""
    n = x.shape[0]
    reconstruction = np.mean([np.sum((x[s] - x_hat[s]) ** 2) for s in range(n)])
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    supervised = np.mean([-np.log(softmax[s, labels[s]]) if mask[s] else 0.0 for s in range(n)])
    cross_covariance = xcov_loops(softmax, z)
    total = alpha * reconstruction + beta * supervised + gamma * cross_covariance
    return total, {"reconstruction": reconstruction, "supervised": supervised, "xcov": cross_covariance}


@pytest.fixture
def batch(rng):
    n, k = 16, 4
    return dict(
        x=rng.uniform(size=(n, 7, 3)),
        x_hat=rng.uniform(size=(n, 7, 3)),
        y_true=rng.integers(0, k, size=n),
        y_logits=2.0 * rng.normal(size=(n, k)),
        z=rng.normal(size=(n, 5)),
        label_mask=np.arange(n) % 3 != 0,
    )


def test_semi_supervised_objective_matches_the_loops(batch):
    weights = dict(alpha=1.0, beta=10.0, gamma=10.0)
    expected_total, expected_parts = objective_loops(*batch.values(), *weights.values())
    with jax.enable_x64(True):
        total, parts = semi_supervised_objective(**{k: jnp.asarray(v) for k, v in batch.items()}, **weights)
    assert relative_error(total, expected_total) < 1e-12
    for name in ("reconstruction", "supervised", "xcov"):
        assert relative_error(parts[name], expected_parts[name]) < 1e-12
    total32, _ = semi_supervised_objective(
        **{k: (jnp.asarray(v, jnp.float32) if np.asarray(v).dtype == np.float64 else v) for k, v in batch.items()},
        **weights,
    )
    assert relative_error(total32, expected_total) < 1e-5


def test_one_hot_targets_give_the_same_objective_as_integer_labels(batch):
    one_hot = np.eye(4)[batch["y_true"]]
    by_label, _ = semi_supervised_objective(**batch, alpha=1.0, beta=2.0, gamma=3.0)
    by_one_hot, _ = semi_supervised_objective(**{**batch, "y_true": one_hot}, alpha=1.0, beta=2.0, gamma=3.0)
    assert relative_error(by_one_hot, by_label) < 1e-6


def test_labels_of_unlabelled_examples_are_ignored_even_when_out_of_range(batch):
    garbage = np.where(batch["label_mask"], batch["y_true"], -1)
    grad_fn = jax.grad(lambda logits, labels: semi_supervised_objective(
        **{**batch, "y_logits": logits, "y_true": labels}, alpha=1.0, beta=1.0, gamma=1.0)[0])
    reference = grad_fn(jnp.asarray(batch["y_logits"], jnp.float32), batch["y_true"])
    with_garbage = grad_fn(jnp.asarray(batch["y_logits"], jnp.float32), garbage)
    assert np.all(np.isfinite(with_garbage))
    np.testing.assert_array_equal(with_garbage, reference)


def test_an_all_unlabelled_batch_has_no_supervised_term(batch):
    total, parts = semi_supervised_objective(**{**batch, "label_mask": np.zeros(16, bool)}, alpha=1.0, beta=10.0, gamma=1.0)
    assert parts["supervised"] == 0.0
    assert relative_error(total, parts["reconstruction"] + parts["xcov"]) < 1e-6
