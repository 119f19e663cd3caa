"""Forced Apart eq. 5-11 against nested loops over pairs in NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.losses import (
    forced_apart_autoencoder,
    forced_apart_multi,
    forced_apart_multi_unsupervised,
    forced_apart_single,
)

from conftest import relative_error


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def kl(p, q):
    return float(np.sum(p * np.log(p / q)))


def js(p, q):
    m = (p + q) / 2
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def hinge_pairs_loops(rows, margin, divergence, labels=None):
    """sum over i < j (same label) of f(d_i, d_j) + f(d_j, d_i), f = max(0, m - D): eq. 5 and 8."""
    divergence = {"kl": kl, "js": js}[divergence]
    d = [softmax(r) for r in rows]
    total = 0.0
    for i in range(len(d)):
        for j in range(i + 1, len(d)):
            if labels is None or labels[i] == labels[j]:
                total += max(0.0, margin - divergence(d[i], d[j])) + max(0.0, margin - divergence(d[j], d[i]))
    return total


@pytest.fixture
def rng():
    return np.random.default_rng(1)


@pytest.mark.parametrize("divergence", ["kl", "js"])
def test_single_matches_the_loop_over_weight_rows(rng, divergence):
    w = rng.normal(size=(12, 9))
    margin = 1.0 if divergence == "kl" else 0.3
    expected = hinge_pairs_loops(w, margin, divergence)
    assert expected > 0
    assert relative_error(forced_apart_single(jnp.asarray(w, jnp.float32), margin, divergence), expected) < 1e-5
    with jax.enable_x64(True):
        assert relative_error(forced_apart_single(jnp.asarray(w), margin, divergence), expected) < 1e-12


@pytest.mark.parametrize("divergence", ["kl", "js"])
def test_multi_matches_the_loop_over_same_label_pairs(rng, divergence):
    n = 37
    h, labels = rng.normal(size=(n, 6)), rng.integers(0, 3, size=n)
    margin = 1.0 if divergence == "kl" else 0.2
    expected = hinge_pairs_loops(h, margin, divergence, labels) / n**2
    # A block size that does not divide the batch exercises the remainder block.
    actual32 = forced_apart_multi(jnp.asarray(h, jnp.float32), labels, margin, divergence, rows_per_block=8)
    assert relative_error(actual32, expected) < 1e-5
    with jax.enable_x64(True):
        actual64 = forced_apart_multi(jnp.asarray(h), labels, margin, divergence, rows_per_block=8)
    assert relative_error(actual64, expected) < 1e-12


@pytest.mark.parametrize("divergence", ["kl", "js"])
def test_unsupervised_multi_matches_the_loop_over_all_pairs(rng, divergence):
    n = 25
    h = rng.normal(size=(n, 5))
    expected = hinge_pairs_loops(h, 0.5, divergence) / n**2
    with jax.enable_x64(True):
        assert relative_error(forced_apart_multi_unsupervised(jnp.asarray(h), 0.5, divergence), expected) < 1e-12


def test_block_size_does_not_change_the_value(rng):
    # (Gradients through blocks are checked against central differences below.)
    h, labels = jnp.asarray(rng.normal(size=(30, 4)), jnp.float32), rng.integers(0, 2, size=30)
    one_block = forced_apart_multi(h, labels, 1.0, rows_per_block=30)
    for rows in (1, 7):
        assert relative_error(forced_apart_multi(h, labels, 1.0, rows_per_block=rows), one_block) < 1e-6


@pytest.mark.parametrize("divergence", ["kl", "js"])
def test_gradient_matches_central_differences_in_float64(rng, divergence):
    n = 10
    h, labels = rng.normal(size=(n, 4)), rng.integers(0, 2, size=n)
    margin = 2.0 if divergence == "kl" else 0.4  # some hinges active, some not
    with jax.enable_x64(True):
        loss = jax.jit(lambda h: forced_apart_multi(h, labels, margin, divergence, rows_per_block=3))
        grad = np.asarray(jax.grad(loss)(jnp.asarray(h)))
        step = 1e-6
        for index in [(0, 0), (3, 2), (7, 1), (9, 3)]:
            bump = np.zeros_like(h)
            bump[index] = step
            numeric = (loss(jnp.asarray(h + bump)) - loss(jnp.asarray(h - bump))) / (2 * step)
            assert abs(grad[index] - numeric) < 1e-7 * max(1.0, abs(numeric))


def test_hinges_vanish_once_every_divergence_exceeds_the_margin():
    # Peaked, distinct softmax rows: every KL between them is about 20 nats.
    h = jnp.asarray(20.0 * np.eye(6)[:5], jnp.float32)
    labels = np.zeros(5, int)
    assert forced_apart_multi(h, labels, 5.0) == 0.0
    np.testing.assert_array_equal(jax.grad(forced_apart_multi)(h, labels, 5.0), 0.0)
    assert forced_apart_single(h, 5.0) == 0.0
    # Above the divergences the hinges are active again, and each of the 20 ordered pairs adds
    # margin - KL.
    divergence = kl(softmax(np.asarray(h[0], np.float64)), softmax(np.asarray(h[1], np.float64)))
    assert relative_error(forced_apart_single(h, 25.0), 20 * (25.0 - divergence)) < 1e-5


def test_pairs_with_different_labels_do_not_count(rng):
    h = jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)
    assert forced_apart_multi(h, np.arange(8), 1.0) == 0.0
    assert relative_error(forced_apart_multi(h, np.zeros(8, int), 1.0), forced_apart_multi_unsupervised(h, 1.0)) < 1e-7


def test_autoencoder_form_weights_reconstruction_and_separation_by_alpha(rng):
    x, x_hat, h = rng.uniform(size=(20, 5, 2)), rng.uniform(size=(20, 5, 2)), rng.normal(size=(20, 4))
    reconstruction = np.mean([np.sum((x[s] - x_hat[s]) ** 2) for s in range(20)])
    expected = 0.7 * reconstruction + 0.3 * hinge_pairs_loops(h, 1.0, "kl") / 20**2
    with jax.enable_x64(True):
        actual = forced_apart_autoencoder(jnp.asarray(x), jnp.asarray(x_hat), jnp.asarray(h), 1.0, 0.3)
    assert relative_error(actual, expected) < 1e-12


@pytest.mark.slow
def test_a_batch_of_8192_runs_with_its_gradient():
    key_h, key_labels = jax.random.split(jax.random.PRNGKey(0))
    h = jax.random.normal(key_h, (8192, 16))
    labels = jax.random.randint(key_labels, (8192,), 0, 2)
    value, grad = jax.jit(jax.value_and_grad(forced_apart_multi))(h, labels, 1.0)
    assert np.isfinite(value) and value > 0
    assert grad.shape == h.shape and np.all(np.isfinite(grad))


def test_underflowing_probabilities_give_finite_values_and_gradients():
    # Logits 200 apart: the softmax rows are exactly one-hot in float32, zeros included.
    h = jnp.asarray(200.0 * np.eye(4), jnp.float32)
    labels = np.zeros(4, int)
    # Distinct one-hot distributions are log 2 apart in Jensen-Shannon: 12 ordered pairs.
    js_value, js_grad = jax.value_and_grad(forced_apart_multi)(h, labels, 1.0, "js")
    assert relative_error(js_value, 12 * (1.0 - np.log(2.0)) / 16) < 1e-6
    kl_value, kl_grad = jax.value_and_grad(forced_apart_multi)(h, labels, 1.0, "kl")
    assert kl_value == 0.0  # KL is about 200 nats
    assert np.all(np.isfinite(js_grad)) and np.all(np.isfinite(kl_grad))
