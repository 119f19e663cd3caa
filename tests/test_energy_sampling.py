"""Samplers: their empirical frequencies match the exact distributions of small models.

Each statistical test runs N independent chains with a fixed seed and requires every state's
frequency f to satisfy |f - p| <= 5 sqrt(p (1 - p) / N) + 3 / N (five binomial standard errors,
plus slack for states too rare to have one)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.energy import exact, sampling
from jaxdis.energy.broadnet import BroadnetParams
from jaxdis.energy.grbm import GRBMParams

NUM_CHAINS = 20000


def small_model(seed=0, num_a=3, num_b=3, num_visible=4):
    rng = np.random.default_rng(seed)
    return BroadnetParams(
        jnp.asarray(rng.normal(0, 0.7, (num_a, num_visible)), jnp.float32),
        jnp.asarray(rng.normal(0, 0.7, (num_b, num_visible)), jnp.float32),
        jnp.asarray(rng.normal(-0.3, 0.5, num_a), jnp.float32),
        jnp.asarray(rng.normal(-0.3, 0.5, num_b), jnp.float32),
    )


def state_index(h):
    """Configuration index of binary states (..., n), as exact.configurations orders them."""
    return np.asarray(h, np.int64) @ (2 ** np.arange(h.shape[-1]))


def assert_frequencies_match(states, probs):
    counts = np.bincount(states, minlength=len(probs))
    freqs, n = counts / len(states), len(states)
    bound = 5 * np.sqrt(probs * (1 - probs) / n) + 3 / n
    worst = np.argmax(np.abs(freqs - probs) - bound)
    assert np.all(np.abs(freqs - probs) <= bound), (worst, freqs[worst], probs[worst])


@pytest.mark.parametrize("first_cause", ["random", "b"])
def test_posterior_chain_frequencies_match_exact_posterior(first_cause):
    params, sigma = small_model(), 1.0
    x = jnp.asarray([[1.0, -0.5, 0.8, 0.3]], jnp.float32)
    exact_post = np.exp(np.asarray(exact.log_posterior(params, x, sigma)[0], np.float64))
    chains = sampling.posterior_chain(params, jnp.broadcast_to(x, (NUM_CHAINS, 4)),
                                      jax.random.key(1), sigma, 15, first_cause)
    # exact_post[i, k]: cause A in configuration i, B in k; flatten as i + 2^Na k.
    joint = state_index(chains.h_a) + 2**3 * state_index(chains.h_b)
    assert_frequencies_match(joint, exact_post.T.reshape(-1))


def test_grbm_gibbs_hidden_frequencies_match_exact_marginal():
    params, sigma = small_model(2).cause_a, 0.8
    chain = sampling.grbm_gibbs(params, jnp.zeros((NUM_CHAINS, 3)), jax.random.key(2), sigma, 30)
    probs = np.exp(np.asarray(exact.cause_log_marginal(params, sigma), np.float64))
    assert_frequencies_match(state_index(chain.h), probs)
    np.testing.assert_allclose(chain.h_prob, jax.nn.sigmoid(chain.v @ params.W.T / sigma**2
                                                            + params.b), rtol=1e-6)


def test_joint_chain_samples_each_cause_marginal_and_the_visible_mean():
    params, sigma = small_model(3), 1.0
    zeros = jnp.zeros((NUM_CHAINS, 3))
    chain = sampling.joint_chain(params, zeros, zeros, jax.random.key(3), sigma, 30)
    for cause, h in ((params.cause_a, chain.cause_a.h), (params.cause_b, chain.cause_b.h)):
        probs = np.exp(np.asarray(exact.cause_log_marginal(cause, sigma), np.float64))
        assert_frequencies_match(state_index(h), probs)
    residual = chain.x - chain.cause_a.h @ params.W - chain.cause_b.h @ params.V
    np.testing.assert_allclose(np.std(np.asarray(residual)), sigma, rtol=0.02)


def test_posterior_chain_is_vmappable_over_examples_and_chains():
    params = small_model()
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)), jnp.float32)
    keys = jax.random.split(jax.random.key(0), 7)

    def run(key, x):
        return sampling.posterior_chain(params, x, key, 1.0, 4)

    out = jax.jit(jax.vmap(jax.vmap(run, (None, 0)), (0, None)))(keys, x)
    assert out.h_a.shape == (7, 5, 3) and out.trace_b.shape == (7, 5, 4, 3)
    single = run(keys[2], x[3])
    np.testing.assert_array_equal(out.h_a[2, 3], single.h_a)
    np.testing.assert_allclose(out.trace_a[2, 3], single.trace_a, rtol=1e-6)
    assert set(np.unique(out.h_b)) <= {0.0, 1.0}


def test_bad_input_is_named():
    params = small_model()
    with pytest.raises(ValueError, match="x: expected shape"):
        sampling.posterior_chain(params, jnp.ones((2, 5)), jax.random.key(0), 1.0, 3)
    with pytest.raises(ValueError, match="num_steps"):
        sampling.posterior_chain(params, jnp.ones((2, 4)), jax.random.key(0), 1.0, 0)
    with pytest.raises(ValueError, match="first_cause"):
        sampling.posterior_chain(params, jnp.ones((2, 4)), jax.random.key(0), 1.0, 3, "c")
    with pytest.raises(ValueError, match="h: expected shape"):
        sampling.grbm_gibbs(GRBMParams(params.W, params.a), jnp.ones((2, 2)), jax.random.key(0),
                            1.0, 3)
    with pytest.raises(ValueError, match="key"):
        sampling.grbm_gibbs(params.cause_a, jnp.ones((2, 3)), jnp.ones(3), 1.0, 3)
