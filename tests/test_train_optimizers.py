"""Optimizers by role: the thesis's RMSprop (eq. 7.3-7.4) and its readings, per-role and per-seed
learning rates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis.train.optimizers import (RMSPROP_READINGS, OptimizerSpec, get_hyperparams,
                                     make_optimizer, one_optimizer, rmsprop_reading,
                                     rmsprop_spec, set_hyperparams, thesis_rmsprop)


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


# ------------------------------------------------------------ readings of section 9.3's RMSprop

def _reading_reference(name, grads, lr, mu):
    """Float64 NumPy transcriptions, written from each source's own formula, of the parameter
    updates (W_t - W_{t-1}) of the five readings of "RMSprop ... momentum 0.9" (decay 0.9)."""
    v = np.ones_like(grads[0]) if name == "tf1" else np.zeros_like(grads[0])  # TF1: rms slot = 1
    m = np.zeros_like(grads[0])
    steps = []
    for g in grads:
        if name == "heavy-ball":   # eq. 7.4 (eps outside the root) + eq. 7.3's heavy ball
            v = 0.9 * v + 0.1 * g**2
            m = mu * m + lr * g / (np.sqrt(v) + 1e-8)
            steps.append(-m)
        elif name == "decay":      # Keras 1: new_a = rho a + (1 - rho) g^2; p - lr g/(sqrt+eps)
            v = 0.9 * v + 0.1 * g**2
            steps.append(-lr * g / (np.sqrt(v) + 1e-8))
        elif name == "printed":    # eq. 7.4 as printed: v = g^2 + gamma v
            v = g**2 + 0.9 * v
            steps.append(-lr * g / (np.sqrt(v) + 1e-8))
        elif name == "tf1":        # ApplyRMSProp: ms = rho ms + (1 - rho) g^2,
            v = 0.9 * v + 0.1 * g**2       # mom = momentum mom + lr g / sqrt(ms + eps),
            m = mu * m + lr * g / np.sqrt(v + 1e-10)     # var -= mom
            steps.append(-m)
        elif name == "lasagne":    # accu = rho accu + (1 - rho) g^2; p - lr g / sqrt(accu + eps)
            v = 0.9 * v + 0.1 * g**2
            steps.append(-lr * g / np.sqrt(v + 1e-6))
    return np.stack(steps)


def _varied_grads(n_steps, shape=(4, 3), seed=11):
    """Nonzero gradients: per element a fixed sign and a scale from 1e-4 to 3 (small enough for
    each reading's eps to matter), times a per-step factor from 0.3 to 3."""
    rng = np.random.default_rng(seed)
    scale = rng.choice([-1.0, 1.0], size=shape) * 10.0 ** rng.uniform(-4, 0.5, size=shape)
    return scale * rng.uniform(0.3, 3.0, size=(n_steps,) + shape)


def _updates(tx, grads_by_role):
    """The updates of ``tx`` step by step, {role: (steps, ...)}, in float32."""
    params = {r: jnp.zeros(g.shape[1:], jnp.float32) for r, g in grads_by_role.items()}
    state, out = tx.init(params), {r: [] for r in grads_by_role}
    for t in range(len(next(iter(grads_by_role.values())))):
        updates, state = tx.update({r: jnp.asarray(g[t], jnp.float32)
                                    for r, g in grads_by_role.items()}, state, params)
        params = optax.apply_updates(params, updates)
        for r in out:
            out[r].append(np.asarray(updates[r]))
    return {r: np.stack(v) for r, v in out.items()}


def _max_relative_error(got, want):
    return float(np.max(np.abs(got - want) / np.abs(want)))


@pytest.mark.parametrize("name, momentum", [
    ("heavy-ball", 0.9), ("heavy-ball", 0.5), ("decay", 0.9), ("decay", 0.0), ("printed", 0.9),
    ("tf1", 0.9), ("tf1", 0.5), ("lasagne", 0.9), ("thesis", 0.9)])
def test_each_rmsprop_reading_of_the_ddn_steps_as_its_source_writes_it(name, momentum):
    """Every role of the DDN's optimizer, 12 steps, against the float64 transcription; the signs
    of each element's gradients are fixed, so momentum never cancels and the relative error of
    every element of every step is meaningful. float32 keeps it within a few ulps."""
    from jaxdis.train import ddn

    schedule = ddn.DDNSchedule(rmsprop=name, momentum=momentum)
    lrs = {"encoders": schedule.encoder_lr, "predictors": schedule.predictor_lr,
           "decoders": schedule.decoder_lr}
    grads = {role: _varied_grads(12, seed=i) for i, role in enumerate(lrs)}
    got = _updates(ddn.ddn_optimizer(schedule), grads)
    canonical = {"thesis": "heavy-ball"}.get(name, name)
    for role, lr in lrs.items():
        want = _reading_reference(canonical, grads[role], lr, momentum)
        assert _max_relative_error(got[role], want) < 1e-5, role


def test_the_printed_reading_is_optax_rmsprop_with_learning_rate_and_eps_rescaled():
    """v_t = g^2 + gamma v_{t-1} is u_t / (1 - gamma) for the decaying average u_t, so
    eta g / (sqrt(v) + eps) = sqrt(1 - gamma) eta g / (sqrt(u) + sqrt(1 - gamma) eps)."""
    lr, root = 1e-3, np.sqrt(0.1)
    printed = make_optimizer({"w": rmsprop_spec("printed", lr)})
    rescaled = optax.rmsprop(root * lr, decay=0.9, eps=root * 1e-8, eps_in_sqrt=False)
    for grads in (_varied_grads(10, seed=2), 1e-8 * _varied_grads(10, seed=2)):
        ours = _updates(printed, {"w": grads})["w"]
        assert _max_relative_error(ours, _updates(rescaled, {"w": grads})["w"]) < 1e-5
    # eps must scale too: with gradients near eps, rescaling the learning rate alone differs.
    tiny = 1e-8 * _varied_grads(10, seed=2)
    lr_only = optax.rmsprop(root * lr, decay=0.9, eps=1e-8, eps_in_sqrt=False)
    assert _max_relative_error(_updates(lr_only, {"w": tiny})["w"],
                               _updates(printed, {"w": tiny})["w"]) > 0.1


def test_momentum_applies_to_the_readings_with_a_momentum_term_and_is_refused_elsewhere():
    grads = {"w": _varied_grads(6, seed=4)}

    def run(name, momentum):
        return _updates(make_optimizer({"w": rmsprop_spec(name, 1e-3, momentum)}), grads)["w"]

    for name in ("heavy-ball", "tf1"):  # mu is the heavy ball's coefficient
        assert _max_relative_error(run(name, 0.5), run(name, 0.9)) > 0.1
    for name in ("decay", "printed", "lasagne"):  # no momentum term: 0.9 and 0 are the same
        np.testing.assert_array_equal(run(name, 0.9), run(name, 0.0))
        assert rmsprop_spec(name, 1e-3).momentum == 0.0
        with pytest.raises(ValueError, match=r"momentum=0.5 .* heavy-ball, tf1"):
            rmsprop_spec(name, 1e-3, momentum=0.5)
    np.testing.assert_array_equal(run("thesis", 0.9), run("heavy-ball", 0.9))  # the old name
    with pytest.raises(ValueError, match="heavy-ball, decay, printed, tf1, lasagne"):
        rmsprop_reading("keras")
    assert set(RMSPROP_READINGS) == {"heavy-ball", "decay", "printed", "tf1", "lasagne"}
