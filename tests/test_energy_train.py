"""jaxdis.energy.train: many GRBMs or Broadnets trained in one vmapped program (CD epochs, GRBM
initialisation, exact-gradient ascent, CD with the exact log-likelihood per epoch), each against a
twin: one run at a time, or a Python loop of plain gradient steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.energy import broadnet as bn
from jaxdis.energy import cd, exact, grbm, train


def toy_data(seed=0, n=32, num_visible=6):
    """Images of a known 2 + 2 Broadnet's mean reconstructions plus noise: something to learn."""
    rng = np.random.default_rng(seed)
    truth = bn.init_params(jax.random.key(seed + 100), 2, 2, num_visible, weight_scale=1.0)
    h_a = rng.integers(0, 2, (n, 2)).astype(np.float32)
    h_b = rng.integers(0, 2, (n, 2)).astype(np.float32)
    x = h_a @ np.asarray(truth.W) + h_b @ np.asarray(truth.V) + rng.normal(size=(n, num_visible))
    return jnp.asarray(x, jnp.float32)


def stack(*models):
    return jax.tree.map(lambda *t: jnp.stack(t), *models)


def take(stacked, i):
    return jax.tree.map(lambda t: t[i], stacked)


def broadnets(keys, num_visible=6):
    return jax.vmap(lambda k: bn.init_params(k, 2, 2, num_visible, weight_scale=0.1))(keys)


def test_train_cd_of_two_runs_equals_two_separate_runs():
    x = toy_data()
    keys = jax.random.split(jax.random.key(1), 2)
    init = broadnets(keys)
    hyper = cd.CDHyper(learning_rate=0.05, k=2, posterior_steps=3, mean_field=False)
    params, curves = train.train_cd(init, keys, x, epochs=3, hyper=hyper, batch_size=8)
    assert curves.shape == (2, 4)
    for r in range(2):
        one, one_curve = train.train_cd(stack(take(init, r)), keys[r:r + 1], x, epochs=3,
                                        hyper=hyper, batch_size=8)
        for got, want in zip(take(params, r), take(one, 0)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(curves[r], one_curve[0], rtol=1e-5)
    # the curve is the exact log-likelihood, before training and after each epoch
    np.testing.assert_allclose(curves[:, 0], [exact.mean_log_evidence(take(init, r), x, 1.0)
                                              for r in range(2)], rtol=1e-6)
    np.testing.assert_allclose(curves[1, -1], exact.mean_log_evidence(take(params, 1), x, 1.0),
                               rtol=1e-6)


def test_train_exact_is_a_loop_of_exact_gradient_steps_and_raises_the_log_likelihood():
    x = toy_data(n=24)
    keys = jax.random.split(jax.random.key(2), 2)
    init = broadnets(keys)
    epochs, batch, rate = 4, 8, 0.05
    params, curves = train.train_exact(init, keys, x, epochs=epochs, batch_size=batch, sigma=1.0,
                                       learning_rate=rate)
    assert curves.shape == (2, epochs + 1)
    assert np.all(curves[:, -1] > curves[:, 0] + 0.1)  # ascent on the exact log-likelihood

    grad = jax.jit(jax.grad(exact.mean_log_evidence))
    for r in range(2):  # the twin: a Python loop over the same minibatches
        model = take(init, r)
        for key in jax.random.split(keys[r], epochs):
            order = np.asarray(jax.random.permutation(key, len(x)))
            for idx in order.reshape(-1, batch):
                g = grad(model, x[idx], 1.0)
                model = jax.tree.map(lambda p, d: p + rate * d, model, g)
        for got, want in zip(take(params, r), model):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_train_exact_trains_grbms_too():
    x = toy_data()
    keys = jax.random.split(jax.random.key(3), 3)
    init = train.init_grbms(keys, 2, x.shape[1])
    assert init.W.shape == (3, 2, 6) and np.all(np.abs(init.W) <= 0.01) and np.all(init.b == -1)
    _, curves = train.train_exact(init, keys, x, epochs=3, batch_size=8, sigma=1.0,
                                  learning_rate=0.05)
    np.testing.assert_allclose(curves[:, 0], [np.mean(exact.grbm_log_evidence(take(init, r), x,
                                                                               1.0))
                                              for r in range(3)], rtol=1e-6)
    assert np.all(curves[:, -1] > curves[:, 0])


def test_mean_log_likelihood_of_each_model_kind():
    x = toy_data()
    broadnet = take(broadnets(jax.random.split(jax.random.key(4), 1)), 0)
    np.testing.assert_allclose(train.mean_log_likelihood(broadnet, x, 0.5),
                               exact.mean_log_evidence(broadnet, x, 0.5))
    machine = grbm.init_params(jax.random.key(5), 3, 6, weight_scale=0.3)
    np.testing.assert_allclose(train.mean_log_likelihood(machine, x, 0.5),
                               np.mean(exact.grbm_log_evidence(machine, x, 0.5)), rtol=1e-6)
    with pytest.raises(TypeError, match="params"):
        train.mean_log_likelihood({"W": x}, x, 1.0)


def test_cd_epochs_scales_each_runs_data():
    x = toy_data()
    keys = jax.random.split(jax.random.key(6), 2)
    init = train.init_grbms(keys, 3, x.shape[1])
    hyper = cd.CDHyper(learning_rate=0.01, momentum=0.5, k=2)
    scales = jnp.asarray([0.5, 2.0])
    params = train.cd_epochs(init, keys, x, epochs=2, hyper=hyper, batch_size=8, scales=scales)
    for r in range(2):
        one = train.cd_epochs(stack(take(init, r)), keys[r:r + 1], x * scales[r], epochs=2,
                              hyper=hyper, batch_size=8)
        for got, want in zip(take(params, r), take(one, 0)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_train_grbms_runs_its_phases_and_grbm_initialised_stacks_two_causes():
    x_a, x_b = toy_data(seed=7), toy_data(seed=8)
    keys = jax.random.split(jax.random.key(9), 2)
    phases = train.tweaked_cd_schedule(8, sigma=1.0)
    assert [epochs for epochs, _ in phases] == [6, 2]
    assert (phases[0][1].learning_rate, phases[0][1].momentum, phases[0][1].k) == (0.1, 0.9, 5)
    assert (phases[1][1].learning_rate, phases[1][1].momentum, phases[1][1].k) == (0.01, 0.0, 5)

    trained = train.train_grbms(keys, x_a, 3, phases, batch_size=8)
    twin = train.init_grbms(keys, 3, x_a.shape[1])  # phase i draws from fold_in(key, i)
    for i, (epochs, hyper) in enumerate(phases):
        twin = train.cd_epochs(twin, jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(keys), x_a,
                               epochs=epochs, hyper=hyper, batch_size=8)
    for got, want in zip(trained, twin):
        np.testing.assert_array_equal(got, want)

    model = train.grbm_initialised(keys, 3, x_a, x_b, phases, batch_size=8)
    pairs = jax.vmap(jax.random.split)(keys)
    cause_b = train.train_grbms(pairs[:, 1], x_b, 3, phases, batch_size=8)
    assert model.W.shape == model.V.shape == (2, 3, 6)
    np.testing.assert_array_equal(model.V, cause_b.W)
    np.testing.assert_array_equal(model.b, cause_b.b)


def test_bad_arguments_are_refused_by_name():
    x = toy_data()
    keys = jax.random.split(jax.random.key(10), 2)
    init = broadnets(keys)
    hyper = cd.CDHyper()
    with pytest.raises(ValueError, match="keys"):
        train.train_exact(init, keys[:1], x, epochs=1, batch_size=8, sigma=1.0, learning_rate=0.1)
    with pytest.raises(ValueError, match="epochs"):
        train.train_exact(init, keys, x, epochs=0, batch_size=8, sigma=1.0, learning_rate=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        train.train_cd(init, keys, x, epochs=1, hyper=hyper, batch_size=len(x) + 1)
    with pytest.raises(ValueError, match="params: expected a stack of runs"):  # one model
        train.train_cd(bn.init_params(keys[0], 2, 3, 6), keys, x, epochs=1, hyper=hyper,
                       batch_size=8)
    with pytest.raises(TypeError, match="params"):
        train.train_cd(train.init_grbms(keys, 2, 6), keys, x, epochs=1, hyper=hyper, batch_size=8)
    with pytest.raises(ValueError, match="scales"):
        train.cd_epochs(init, keys, x, epochs=1, hyper=hyper, batch_size=8,
                        scales=jnp.ones(3))
    with pytest.raises(ValueError, match="^x: "):
        train.cd_epochs(init, keys, x[0], epochs=1, hyper=hyper, batch_size=8)
