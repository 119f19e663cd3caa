"""Optimizers by role: the thesis's RMSprop (eq. 7.3-7.4), per-role and per-seed learning rates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis.train.optimizers import (OptimizerSpec, get_hyperparams, make_optimizer,
                                     one_optimizer, set_hyperparams, thesis_rmsprop)


def _grads(n_steps, shape=(5, 3), seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_steps, *shape)) * rng.uniform(0.01, 3.0, size=(n_steps, 1, 1))


def _eq_7_4_with_momentum(w0, grads, lr, decay, eps, momentum):
    """Float64 NumPy transcription: v = decay v + (1 - decay) g^2 (v from 0);
    step = lr g / (sqrt(v) + eps) (eq. 7.4); heavy-ball m = momentum m + step; w -= m (eq. 7.3)."""
    w, v, m = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    trajectory = []
    for g in grads:
        v = decay * v + (1 - decay) * g**2
        m = momentum * m + lr * g / (np.sqrt(v) + eps)
        w = w - m
        trajectory.append(w)
    return np.stack(trajectory)


def _run(tx, w0, grads):
    params = {"w": jnp.asarray(w0, jnp.float32)}
    state = tx.init(params)
    trajectory = []
    for g in grads:
        updates, state = tx.update({"w": jnp.asarray(g, jnp.float32)}, state, params)
        params = optax.apply_updates(params, updates)
        trajectory.append(np.asarray(params["w"]))
    return np.stack(trajectory)


def test_thesis_rmsprop_follows_eq_7_4_with_heavy_ball_momentum_step_by_step():
    grads = _grads(20)
    w0 = np.random.default_rng(1).normal(size=grads.shape[1:])
    expected = _eq_7_4_with_momentum(w0, grads, lr=1e-3, decay=0.9, eps=1e-8, momentum=0.9)
    got = _run(make_optimizer({"w": thesis_rmsprop(1e-3, momentum=0.9)}), w0, grads)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)


def test_thesis_rmsprop_is_optax_rmsprop_with_eps_outside_the_root():
    grads = _grads(10, seed=3)
    w0 = np.zeros(grads.shape[1:])
    ours = _run(make_optimizer({"w": thesis_rmsprop(1e-3, momentum=0.9)}), w0, grads)
    optax_rms = _run(optax.rmsprop(1e-3, decay=0.9, eps=1e-8, eps_in_sqrt=False, momentum=0.9),
                     w0, grads)
    np.testing.assert_allclose(ours, optax_rms, rtol=1e-5, atol=1e-9)  # float32 op order
    # eps inside the root (optax's default) is a different optimizer where v is small:
    tiny = grads * 1e-5
    inside = _run(optax.rmsprop(1e-3, eps=1e-8, momentum=0.9), w0, tiny)
    outside = _run(make_optimizer({"w": thesis_rmsprop(1e-3, momentum=0.9)}), w0, tiny)
    assert not np.allclose(inside, outside, rtol=1e-3)


@pytest.mark.parametrize("spec, reference", [
    (OptimizerSpec("adam", 1e-3), optax.adam(1e-3)),
    (OptimizerSpec("sgd", 1e-2, momentum=0.9), optax.sgd(1e-2, momentum=0.9)),
    (OptimizerSpec("adadelta", 1.0, decay=0.95, eps=1e-6), optax.adadelta(1.0, rho=0.95, eps=1e-6)),
    (OptimizerSpec("rmsprop", 1e-3, eps_in_sqrt=True, initial_scale=1.0, eps=1e-10),
     optax.rmsprop(1e-3, eps=1e-10, initial_scale=1.0)),
])
def test_every_optimizer_name_matches_its_optax_reference(spec, reference):
    grads = _grads(8, seed=5)
    w0 = np.ones(grads.shape[1:])
    np.testing.assert_allclose(_run(one_optimizer(spec), w0, grads), _run(reference, w0, grads),
                               rtol=1e-6, atol=1e-8)


def test_each_role_steps_with_its_own_learning_rate():
    tx = make_optimizer({"encoders": thesis_rmsprop(1e-4), "predictors": thesis_rmsprop(1e-3)})
    params = {"encoders": jnp.zeros(4), "predictors": jnp.zeros(4)}
    g = jnp.array([1.0, -2.0, 0.5, 3.0])
    updates, _ = tx.update({"encoders": g, "predictors": g}, tx.init(params), params)
    # First RMSprop step: v = 0.1 g^2, so the step is -lr g / |g| sqrt(10) = -lr sqrt(10) sign(g).
    np.testing.assert_allclose(updates["encoders"], -1e-4 * np.sqrt(10) * np.sign(g), rtol=1e-5)
    np.testing.assert_allclose(updates["predictors"], -1e-3 * np.sqrt(10) * np.sign(g), rtol=1e-5)


def test_a_vmapped_grid_of_learning_rates_equals_optimizers_built_with_them():
    tx = make_optimizer({"enc": thesis_rmsprop(1e-4), "pred": thesis_rmsprop(1e-3)})
    params = {"enc": jnp.ones(3), "pred": jnp.ones(3)}
    grads = [{"enc": jnp.asarray(g[0, :3], jnp.float32), "pred": jnp.asarray(g[1, :3], jnp.float32)}
             for g in _grads(6, seed=7)]
    grid = jnp.array([1e-4, 3e-4, 1e-3])

    def run_with(lr):  # constructor built once, outside vmap; the value set inside
        state = set_hyperparams(tx.init(params), "enc", learning_rate=lr)
        p = params
        for g in grads:
            updates, state = tx.update(g, state, p)
            p = optax.apply_updates(p, updates)
        return p, get_hyperparams(state, "enc")["learning_rate"]

    swept, lrs = jax.jit(jax.vmap(run_with))(grid)
    np.testing.assert_allclose(lrs, grid, rtol=1e-7)
    for i, lr in enumerate(np.asarray(grid)):
        separate = make_optimizer({"enc": thesis_rmsprop(float(lr)), "pred": thesis_rmsprop(1e-3)})
        state, p = separate.init(params), params
        for g in grads:
            updates, state = separate.update(g, state, p)
            p = optax.apply_updates(p, updates)
        for role in ("enc", "pred"):
            np.testing.assert_allclose(swept[role][i], p[role], rtol=1e-6)


def test_bad_specs_and_params_name_what_was_expected():
    with pytest.raises(ValueError, match="OptimizerSpec.name"):
        OptimizerSpec("lbfgs")
    with pytest.raises(ValueError, match="learning_rate"):
        OptimizerSpec("sgd", learning_rate=0.0)
    with pytest.raises(TypeError, match=r"specs\['enc'\]"):
        make_optimizer({"enc": 1e-3})
    tx = make_optimizer({"enc": thesis_rmsprop(1e-4)})
    with pytest.raises(ValueError, match="roles"):
        tx.init({"encoders": jnp.zeros(2)})
    state = tx.init({"enc": jnp.zeros(2)})
    with pytest.raises(ValueError, match="unknown"):
        set_hyperparams(state, "enc", learning_rat=1.0)
    with pytest.raises(ValueError, match="no role"):
        set_hyperparams(state, "dec", learning_rate=1.0)
