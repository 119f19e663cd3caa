"""The DDN's training stages: each network moves only by the gradient of its own loss (eq. 9.7,
9.10-9.12), stages leave the networks they do not train untouched, alpha's schedule."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis.losses import (ddn_encoding_loss, ddn_finetune_encoding_loss, ddn_predictive_loss)
from jaxdis.nets.ddn import (ROLE_OF_NETWORK, DDNArchitecture, encode, init_ddn,
                             standardize_codes)
from jaxdis.train import ddn, engine
from jaxdis.train.optimizers import thesis_rmsprop

ARCH = DDNArchitecture(input_dim=12, n_code=3, encoder_layers=1, predictor_layers=2,
                       decoder_layers=1, hidden=8)
SCHEDULE = ddn.DDNSchedule(encoder_epochs=1, decoder_epochs=1, end_to_end_epochs=3, sigma=0.0,
                           alpha=0.1, alpha_end=0.5, batch_size=16)
PROGRAM = ddn.ddn_program(ARCH, SCHEDULE)
X = jax.random.uniform(jax.random.PRNGKey(0), (16, 12))
LR = {"encoders": 1e-4, "predictors": 1e-3, "decoders": 1e-3}


def _apply(params, name, inputs):
    """The twin's forward pass: Flax apply of network ``name`` straight from the params."""
    return ARCH.network(name).apply({"params": params[ROLE_OF_NETWORK[name]][name]}, inputs)


def _own_losses(params, stage, alpha, normalised=False):
    """Each network's own loss, written out in full from the thesis (every network recomputed);
    ``normalised``: the codes standardised over the batch first (code_norm="batch")."""
    def z(p):
        codes = _apply(p, "f_a", X), _apply(p, "f_b", X)
        return tuple(map(standardize_codes, codes)) if normalised else codes

    def joint(p):
        return _apply(p, "g_ab", jnp.concatenate(z(p), -1))

    losses = {}
    if stage in ("encoders", "end_to_end"):
        if alpha is None:
            losses["f_a"] = lambda p: ddn_encoding_loss(z(p)[0], _apply(p, "q_ba", z(p)[1]))
            losses["f_b"] = lambda p: ddn_encoding_loss(z(p)[1], _apply(p, "q_ab", z(p)[0]))
        else:
            losses["f_a"] = lambda p: ddn_finetune_encoding_loss(
                z(p)[0], _apply(p, "q_ba", z(p)[1]), X, joint(p), alpha)
            losses["f_b"] = lambda p: ddn_finetune_encoding_loss(
                z(p)[1], _apply(p, "q_ab", z(p)[0]), X, joint(p), alpha)
        losses["q_ab"] = lambda p: ddn_predictive_loss(_apply(p, "q_ab", z(p)[0]), z(p)[1])
        losses["q_ba"] = lambda p: ddn_predictive_loss(_apply(p, "q_ba", z(p)[1]), z(p)[0])
    if stage in ("decoders", "end_to_end"):
        losses["g_a"] = lambda p: ddn_predictive_loss(_apply(p, "g_a", z(p)[0]), X)
        losses["g_b"] = lambda p: ddn_predictive_loss(_apply(p, "g_b", z(p)[1]), X)
        losses["g_ab"] = lambda p: ddn_predictive_loss(joint(p), X)
    return losses


def _own_grads(params, stage, alpha=None, normalised=False):
    """d(own loss)/d(own params) of every network the stage trains, by plain jax.grad."""
    grads = {}
    for name, loss in _own_losses(params, stage, alpha, normalised).items():
        role = ROLE_OF_NETWORK[name]

        def own(net_params, role=role, name=name, loss=loss):
            p = {r: dict(v) for r, v in params.items()}
            p[role][name] = net_params
            return loss(p)

        grads[name] = jax.grad(own)(params[role][name])
    return grads


def _step(stage_name, epoch=0):
    state = engine.init_state(PROGRAM, jax.random.PRNGKey(3))
    stage_index = PROGRAM.stage_index(stage_name)
    new, losses = engine.compiled_step(PROGRAM, stage_index)(state, X, jax.random.PRNGKey(4),
                                                              jnp.int32(epoch))
    return state, new, losses


def _assert_close(got, want):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


PARAMS = init_ddn(jax.random.PRNGKey(5), ARCH)


@pytest.mark.parametrize("stage", ["encoders", "decoders", "end_to_end"])
def test_each_network_gets_the_gradient_of_its_own_loss_only(stage):
    alpha = float(SCHEDULE.alpha_at(1)) if stage == "end_to_end" else None
    want = jax.jit(_own_grads, static_argnums=(1, 2))(PARAMS, stage, alpha)
    routed = jax.jit(lambda p: ddn.stage_losses_and_grads(
        ARCH, SCHEDULE, stage, p, {}, X, jax.random.PRNGKey(1), jnp.int32(1))[1])(PARAMS)
    assert {n for r in routed for n in routed[r]} == set(want)
    for name, grad in want.items():
        _assert_close(routed[ROLE_OF_NETWORK[name]][name], grad)


def test_summing_the_encoders_losses_would_give_another_gradient():
    """The routing matters: d(l^E_a + l^E_b)/d f_a differs from d l^E_a / d f_a (q_ab reads z_a)."""
    losses = _own_losses(PARAMS, "encoders", None)

    def summed(f_a):
        q = {r: dict(v) for r, v in PARAMS.items()}
        q["encoders"]["f_a"] = f_a
        return losses["f_a"](q) + losses["f_b"](q)

    wrong = jax.grad(summed)(PARAMS["encoders"]["f_a"])
    own = _own_grads(PARAMS, "encoders")["f_a"]
    diffs = [np.max(np.abs(a - b)) / np.max(np.abs(b))
             for a, b in zip(jax.tree.leaves(wrong), jax.tree.leaves(own))]
    assert max(diffs) > 1e-2


def test_one_engine_step_applies_section_9_3_rmsprop_to_the_routed_gradients():
    """The default reading, ``decay``: RMSprop with decay 0.9, eq. 7.4's eps, no momentum term."""
    state, new, _ = _step("encoders")
    grads = jax.jit(_own_grads, static_argnums=(1, 2))(state.params, "encoders", None)
    for name, grad in grads.items():
        role = ROLE_OF_NETWORK[name]
        tx = optax.rmsprop(LR[role], decay=0.9, eps=1e-8, eps_in_sqrt=False)
        want = optax.apply_updates(state.params[role][name], tx.update(grad, tx.init(grad))[0])
        _assert_close(new.params[role][name], want)


def test_stages_leave_untrained_roles_and_their_optimizer_state_untouched():
    for stage, frozen in (("encoders", ("decoders",)), ("decoders", ("encoders", "predictors"))):
        state, new, _ = _step(stage)
        for role in frozen:
            for a, b in zip(jax.tree.leaves((state.params[role], state.opt_state.inner_states[role])),
                            jax.tree.leaves((new.params[role], new.opt_state.inner_states[role]))):
                assert np.array_equal(a, b), (stage, role)


def test_the_step_reports_each_loss_by_name():
    _, _, losses = _step("end_to_end", epoch=2)
    assert set(losses) == {"encoding_a", "encoding_b", "predictive_ab", "predictive_ba",
                           "reconstruction_a", "reconstruction_b", "reconstruction_ab", "alpha"}
    assert float(losses["alpha"]) == pytest.approx(0.5)


def test_alpha_ramps_linearly_over_the_end_to_end_stage():
    values = [float(SCHEDULE.alpha_at(e)) for e in range(3)]
    np.testing.assert_allclose(values, [0.1, 0.3, 0.5], rtol=1e-6)
    constant = ddn.DDNSchedule(end_to_end_epochs=5)
    np.testing.assert_allclose([float(constant.alpha_at(e)) for e in range(5)], 0.1, rtol=1e-6)


def test_section_9_3_optimizers_encoders_ten_times_slower():
    state = init_ddn(jax.random.PRNGKey(0), ARCH)
    for reading, want_momentum in (("decay", 0.0), ("heavy-ball", 0.9)):
        opt_state = ddn.ddn_optimizer(ddn.DDNSchedule(rmsprop=reading)).init(state)
        hyperparams = {r: opt_state.inner_states[r].inner_state.hyperparams
                       for r in ("encoders", "predictors", "decoders")}
        lr = {r: float(h["learning_rate"]) for r, h in hyperparams.items()}
        momentum = [float(h["momentum"]) for h in hyperparams.values()]
        assert lr == pytest.approx({"encoders": 1e-4, "predictors": 1e-3, "decoders": 1e-3})
        np.testing.assert_allclose(momentum, want_momentum, rtol=1e-6)
    assert ddn.DDNSchedule().rmsprop == "decay"  # the default (see jaxdis.train.ddn)
    assert thesis_rmsprop(1e-3).eps_in_sqrt is False


# ------------------------------------------------------------ code_norm="batch" (not the thesis)

NORMED = dataclasses.replace(ARCH, code_norm="batch")


@pytest.mark.parametrize("stage", ["encoders", "end_to_end"])
def test_with_batch_code_norm_each_network_gets_the_gradient_of_its_loss_on_normalised_codes(
        stage):
    """The gradient flows through the batch statistics: the twin standardises the codes it
    recomputes, and each network's routed gradient matches it."""
    alpha = float(SCHEDULE.alpha_at(1)) if stage == "end_to_end" else None
    want = jax.jit(_own_grads, static_argnums=(1, 2, 3))(PARAMS, stage, alpha, True)
    routed = jax.jit(lambda p: ddn.stage_losses_and_grads(
        NORMED, SCHEDULE, stage, p, {}, X, jax.random.PRNGKey(1), jnp.int32(1))[1])(PARAMS)
    for name, grad in want.items():
        # an encoder's last bias has gradient 0 up to rounding (the mean is subtracted), so the
        # absolute tolerance follows the scale of the network's whole gradient
        scale = max(float(np.max(np.abs(leaf))) for leaf in jax.tree.leaves(grad))
        for a, b in zip(jax.tree.leaves(routed[ROLE_OF_NETWORK[name]][name]),
                        jax.tree.leaves(grad)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)
    last_bias = want["f_a"]["Dense_1"]["bias"]
    assert np.max(np.abs(last_bias)) < 1e-5 * np.max(np.abs(want["f_a"]["Dense_1"]["kernel"]))
    plain = _own_grads(PARAMS, "encoders")["f_a"]  # and it is not the plain gradient
    assert not np.allclose(want["f_a"]["Dense_0"]["kernel"], plain["Dense_0"]["kernel"],
                           rtol=1e-2)


def test_batch_code_norm_trains_under_jit_and_vmap_with_probe_statistics():
    """Two seeds, one epoch of each stage, vmapped: finite losses and probe metrics; the probe's
    codes are standardised with the probe set's own statistics, so their spread is 1."""
    program = ddn.ddn_program(NORMED, SCHEDULE)
    states = engine.init_states(program, engine.seed_keys(0, 2))
    probe = jax.random.uniform(jax.random.PRNGKey(9), (40, 12))
    for index, stage in enumerate(program.stages):
        states, metrics = engine.compiled_epochs(program, index, 1)(states, X, probe,
                                                                    jnp.int32(0))
        for name, value in metrics.items():
            assert np.all(np.isfinite(np.asarray(value))), (stage.name, name)
        np.testing.assert_allclose(metrics["code_a_std"], 1.0, rtol=1e-3)
        np.testing.assert_allclose(metrics["code_b_std"], 1.0, rtol=1e-3)
    assert np.all(np.asarray(states.alive))


@pytest.mark.parametrize("change", [dict(shared_encoder=True), dict(encoding="xcov")])
def test_batch_code_norm_holds_for_the_shared_encoder_and_the_xcov_baseline(change):
    arch = dataclasses.replace(NORMED, **{k: v for k, v in change.items()
                                          if k == "shared_encoder"})
    schedule = dataclasses.replace(SCHEDULE, **{k: v for k, v in change.items()
                                                if k == "encoding"})
    params = init_ddn(jax.random.PRNGKey(6), arch)
    z_a, z_b = encode(arch, params, X)
    for code in (z_a, z_b):
        np.testing.assert_allclose(np.std(code, 0), 1.0, rtol=1e-3)
    for stage in ddn.STAGE_NAMES:
        losses, grads = jax.jit(lambda p, stage=stage: ddn.stage_losses_and_grads(
            arch, schedule, stage, p, {}, X, jax.random.PRNGKey(1), jnp.int32(0)))(params)
        assert all(np.isfinite(float(v)) for v in losses.values()), stage
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)), stage


def test_counted_flops_follow_the_layer_shapes():
    arch = DDNArchitecture(input_dim=784, n_code=10, encoder_layers=2, predictor_layers=2,
                           decoder_layers=1)
    encoder = 784 * 1000 + 1000 * 1000 + 1000 * 10
    predictor = 10 * 1000 + 1000 * 1000 + 1000 * 10
    assert ddn.ddn_example_flops(arch, "encoders") == 2 * 3 * 2 * (encoder + predictor)


# ------------------------------------------------------------ the schedule and its config

def test_the_schedule_is_built_from_the_experiments_config_by_field_name():
    from experiments import ddn as ddn_experiment
    from jaxdis.config import from_fields

    # The two declare each field with the same default: the config's build the schedule's.
    assert from_fields(ddn.DDNSchedule, ddn_experiment.DDNConfig()) == ddn.DDNSchedule()
    for dataset in ddn_experiment.DATASETS:
        config = ddn_experiment.make_config(dataset)
        schedule = from_fields(ddn.DDNSchedule, config)
        assert all(getattr(schedule, f.name) == getattr(config, f.name)
                   for f in dataclasses.fields(ddn.DDNSchedule))
        # Equal schedules hash alike, so the cached program (and its compiled stages) is reused.
        assert ddn.ddn_program(ARCH, schedule) is ddn.ddn_program(
            ARCH, from_fields(ddn.DDNSchedule, config))


@pytest.mark.parametrize("changes, message", [
    (dict(batch_size=0), r"^batch_size: expected an int >= 1, got 0$"),
    (dict(mi_k=0), r"^mi_k: expected an int >= 1, got 0$"),
    (dict(end_to_end_epochs=-1), r"^end_to_end_epochs: expected an int >= 0, got -1$"),
    (dict(predictor_lr=0.0), r"^predictor_lr: expected > 0, got 0.0$"),
    (dict(momentum=1.0), r"^momentum: expected in \[0, 1\), got 1.0$"),
    (dict(sigma=-0.1), r"^sigma: expected >= 0, got -0.1$"),
    (dict(alpha_end=float("nan")), r"^alpha_end: expected >= 0, got nan$"),
    (dict(encoding="covariance"), r"^encoding: expected one of \('predictors', 'xcov'\)"),
])
def test_the_schedule_refuses_values_it_cannot_train_with_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        ddn.DDNSchedule(**changes)
