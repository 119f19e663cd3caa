"""Contrastive divergence: the Broadnet estimate of eq. 3.15 is unbiased for the exact gradient
with samples and long chains, the update rule is the stated one, and CD training raises the exact
log-likelihood of small GRBMs and Broadnets on data drawn from a known model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.energy import broadnet as bn
from jaxdis.energy import cd, exact, grbm
from jaxdis.energy.broadnet import BroadnetParams
from jaxdis.energy.grbm import GRBMParams


def teacher(seed=0, num_a=2, num_b=2, num_visible=6):
    rng = np.random.default_rng(seed)
    return BroadnetParams(
        jnp.asarray(rng.normal(0, 1.0, (num_a, num_visible)), jnp.float32),
        jnp.asarray(rng.normal(0, 1.0, (num_b, num_visible)), jnp.float32),
        jnp.asarray(rng.normal(-1.0, 0.5, num_a), jnp.float32),
        jnp.asarray(rng.normal(-1.0, 0.5, num_b), jnp.float32),
    )


def sample_data(params, sigma, num, key):
    """Exact samples of a Broadnet's joint: each cause's marginal by enumeration, then x | h."""
    key_a, key_b, key_x = jax.random.split(key, 3)
    h_a = exact.configurations(params.W.shape[0])[
        jax.random.categorical(key_a, exact.cause_log_marginal(params.cause_a, sigma), shape=(num,))]
    h_b = exact.configurations(params.V.shape[0])[
        jax.random.categorical(key_b, exact.cause_log_marginal(params.cause_b, sigma), shape=(num,))]
    mean = h_a @ params.W + h_b @ params.V
    return mean + sigma * jax.random.normal(key_x, mean.shape)


def test_broadnet_sample_estimate_is_unbiased_for_the_exact_gradient():
    params, sigma = teacher(1, 2, 3, 5), 1.0
    x = sample_data(teacher(2, 2, 3, 5), sigma, 8000, jax.random.key(0))
    hyper = cd.CDHyper(sigma=sigma, k=25, posterior_steps=25, mean_field=False)
    chains = cd.init_state(params, 1).chains
    estimate, _ = jax.jit(cd.broadnet_gradient, static_argnames="hyper")(
        params, chains, x, jax.random.key(1), hyper)
    want = jax.grad(exact.mean_log_evidence)(params, x, sigma)
    for name, got, w in zip(BroadnetParams._fields, estimate, want):
        # ~0.02 standard error per entry at 8000 samples; gradients here are of order 1.
        np.testing.assert_allclose(got, w, atol=0.08, err_msg=name)
    assert max(float(jnp.max(jnp.abs(w))) for w in want) > 0.5  # the comparison is not vacuous


def test_update_rule_momentum_penalties_and_bias_rate():
    params = GRBMParams(jnp.asarray([[1.0, -2.0]]), jnp.asarray([0.5]))
    velocity = GRBMParams(jnp.asarray([[0.1, 0.1]]), jnp.asarray([0.2]))
    gradient = GRBMParams(jnp.asarray([[0.3, 0.4]]), jnp.asarray([1.0]))
    hyper = cd.CDHyper(learning_rate=0.1, bias_learning_rate=0.5, momentum=0.9, l1=0.01, l2=0.02)
    new, vel = cd.apply_update(params, velocity, gradient, hyper)
    W, v = np.array([1.0, -2.0]), np.array([0.1, 0.1])
    want_vel_W = 0.9 * v + 0.1 * (np.array([0.3, 0.4]) - 0.02 * W - 0.01 * np.sign(W))
    np.testing.assert_allclose(vel.W[0], want_vel_W, rtol=1e-6)
    np.testing.assert_allclose(new.W[0], W + want_vel_W, rtol=1e-6)
    np.testing.assert_allclose(vel.b, [0.9 * 0.2 + 0.5 * 1.0], rtol=1e-6)
    np.testing.assert_allclose(new.b, [0.5 + 0.9 * 0.2 + 0.5 * 1.0], rtol=1e-6)


def train(params, data, hyper, epochs, batch_size, seed=0, num_chains=None):
    state = cd.init_state(params, num_chains or batch_size)
    key = jax.random.key(seed)
    for _ in range(epochs):
        key, sub = jax.random.split(key)
        params, state, _ = cd.cd_epoch(params, state, data, sub, hyper, batch_size)
    return params


@pytest.mark.parametrize("persistent", [False, True])
def test_grbm_cd_raises_exact_log_likelihood(persistent):
    sigma = 1.0
    data = sample_data(teacher(3, 3, 0, 6), sigma, 512, jax.random.key(3))
    start = grbm.init_params(jax.random.key(4), 3, 6, weight_scale=0.1)
    hyper = cd.CDHyper(sigma=sigma, learning_rate=0.05, momentum=0.5, k=1, persistent=persistent)
    trained = train(start, data, hyper, epochs=20, batch_size=16)
    before = float(jnp.mean(exact.grbm_log_evidence(start, data, sigma)))
    after = float(jnp.mean(exact.grbm_log_evidence(trained, data, sigma)))
    assert after > before + 0.3, (before, after)


@pytest.mark.parametrize("mean_field,persistent", [(True, False), (False, True)])
def test_broadnet_cd_raises_exact_log_likelihood(mean_field, persistent):
    sigma = 1.0
    data = sample_data(teacher(5), sigma, 512, jax.random.key(5))
    start = bn.init_params(jax.random.key(6), 2, 2, 6, weight_scale=0.1)
    hyper = cd.CDHyper(sigma=sigma, learning_rate=0.05, bias_learning_rate=0.1, momentum=0.5,
                       k=3, posterior_steps=3, mean_field=mean_field, persistent=persistent)
    trained = train(start, data, hyper, epochs=20, batch_size=16)
    before = float(exact.mean_log_evidence(start, data, sigma))
    after = float(exact.mean_log_evidence(trained, data, sigma))
    assert after > before + 0.3, (before, after)


def test_epoch_is_a_pure_function_of_its_key():
    # The setting of the Broadnet training test above (compiled once for both).
    data = sample_data(teacher(5), 1.0, 512, jax.random.key(5))
    params = bn.init_params(jax.random.key(6), 2, 2, 6, weight_scale=0.1)
    hyper = cd.CDHyper(sigma=1.0, learning_rate=0.05, bias_learning_rate=0.1, momentum=0.5,
                       k=3, posterior_steps=3, mean_field=True)
    runs = [cd.cd_epoch(params, cd.init_state(params, 16), data, jax.random.key(9), hyper, 16)
            for _ in range(2)]
    for a, b in zip(jax.tree.leaves(runs[0]), jax.tree.leaves(runs[1])):
        np.testing.assert_array_equal(a, b)
    other = cd.cd_epoch(params, cd.init_state(params, 16), data, jax.random.key(10), hyper, 16)
    assert not np.array_equal(other[0].W, runs[0][0].W)


def test_bad_hyperparameters_and_inputs_are_named():
    with pytest.raises(ValueError, match="k:"):
        cd.CDHyper(k=0)
    with pytest.raises(ValueError, match="sigma"):
        cd.CDHyper(sigma=0.0)
    with pytest.raises(ValueError, match="negative_start"):
        cd.CDHyper(negative_start="data")
    params = teacher()
    with pytest.raises(ValueError, match="x: expected shape"):
        cd.cd_step(params, cd.init_state(params, 4), jnp.ones((4, 7)), jax.random.key(0),
                   cd.CDHyper())
    with pytest.raises(ValueError, match="batch_size"):
        cd.cd_epoch(params, cd.init_state(params, 4), jnp.ones((4, 6)), jax.random.key(0),
                    cd.CDHyper(), 8)


def test_grbm_cd_at_sigma_equals_cd_at_unit_noise_on_rescaled_data():
    # A GRBM (W, b) at noise sigma on data v is the model (W / sigma, b) at sigma = 1 on v / sigma,
    # and a CD step with weight learning rate r sigma^2 (bias rate r) is the step with rate r in
    # those units (the activity sweeps of experiments/broadnet.py train at sigma = 1 on that
    # account).
    sigma, rate = 0.3, 0.05
    rng = np.random.default_rng(5)
    params = GRBMParams(jnp.asarray(rng.normal(0, 0.2, (4, 7)), jnp.float32),
                        jnp.asarray(rng.normal(-0.5, 0.5, 4), jnp.float32))
    v = jnp.asarray(rng.normal(0, 0.5, (16, 7)), jnp.float32)
    at_sigma = cd.CDHyper(sigma=sigma, learning_rate=rate * sigma**2, bias_learning_rate=rate,
                          momentum=0.5, k=3)
    at_unit = cd.CDHyper(sigma=1.0, learning_rate=rate, momentum=0.5, k=3)
    scaled = params._replace(W=params.W / sigma)
    state, state_unit = cd.init_state(params, 16), cd.init_state(scaled, 16)
    for step in range(3):
        key = jax.random.key(step)
        params, state, _ = cd.cd_step(params, state, v, key, at_sigma)
        scaled, state_unit, _ = cd.cd_step(scaled, state_unit, v / sigma, key, at_unit)
    # float32 rounding through three chains of three steps; the weights are of order 0.2.
    np.testing.assert_allclose(params.W, sigma * scaled.W, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(params.b, scaled.b, rtol=1e-4, atol=1e-5)
    assert float(jnp.max(jnp.abs(state.velocity.W))) > 1e-3  # the steps moved the weights


def test_variant_hyper_names_the_unknown_variant():
    assert cd.variant_hyper("samples", sigma=0.5, learning_rate=0.1).sigma == 0.5
    assert all(cd.variant_hyper(v, sigma=1.0, learning_rate=0.1).k == 10 for v in cd.VARIANTS)
    with pytest.raises(ValueError, match="name"):
        cd.variant_hyper("nope", sigma=1.0, learning_rate=0.1)
