"""The ablations of thesis ch. 8-9: each changes the training exactly as the thesis describes.

- a shared DDN encoder (section 9.5.1) descends the sum of both encoding losses;
- eq. 9.11 in stage 1 (section 9.2.2) makes stage 1 train like stage 3;
- the XCov baseline (section 9.1) trains encoders and decoders on reconstruction + XCov;
- a 0-layer encoder is linear (section 9.5.2's "too shallow");
- the ASAE trains with Adam or SGD in place of RMSprop (section 8.6);
- the readings of section 9.3's RMSprop, and the DDN config's options and their refusals.
Each routed gradient is compared with jax.grad of the loss written out in full here.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis.config import apply_overrides
from jaxdis.losses import (ddn_encoding_loss, ddn_finetune_encoding_loss, ddn_predictive_loss,
                           split_autoencoder_loss, xcov)
from jaxdis.nets.ddn import DDNArchitecture, apply_network, encode, init_ddn
from jaxdis.nets.split_autoencoder import ASAEArchitecture, asae_apply
from jaxdis.train import asae, ddn, engine

X = jax.random.uniform(jax.random.PRNGKey(0), (16, 12))
SPLIT = DDNArchitecture(input_dim=12, n_code=3, hidden=8)
SHARED = dataclasses.replace(SPLIT, shared_encoder=True)


def _close(got, want):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _routed_grads(arch, schedule, stage, params, epoch=0):
    return ddn.stage_losses_and_grads(arch, schedule, stage, params, {}, X, jax.random.PRNGKey(1),
                                      jnp.int32(epoch))[1]


def _with(params, role, name, value):
    new = {r: dict(v) for r, v in params.items()}
    new[role][name] = value
    return new


# ------------------------------------------------------------------ shared encoder (9.5.1)

def test_a_shared_encoder_replaces_both_encoders_and_emits_both_codes():
    params = init_ddn(jax.random.PRNGKey(2), SHARED)
    assert set(params["encoders"]) == {"f_ab"}
    z_a, z_b = encode(SHARED, params, X)
    z = apply_network(SHARED, params, "f_ab", X)
    assert z.shape == (16, 6)
    np.testing.assert_array_equal(jnp.concatenate([z_a, z_b], -1), z)
    with pytest.raises(ValueError, match="f_a"):
        SHARED.network("f_a")


@pytest.mark.parametrize("stage", ["encoders", "end_to_end"])
def test_the_shared_encoder_descends_the_sum_of_both_encoding_losses(stage):
    schedule = ddn.DDNSchedule(sigma=0.0, alpha=0.3, alpha_end=0.3)
    params = init_ddn(jax.random.PRNGKey(2), SHARED)
    z_a, z_b = encode(SHARED, params, X)  # the predictions are made from the current codes
    pred_a = apply_network(SHARED, params, "q_ba", z_b)
    pred_b = apply_network(SHARED, params, "q_ab", z_a)

    def own_loss(f_ab):
        p = _with(params, "encoders", "f_ab", f_ab)
        a, b = encode(SHARED, p, X)
        loss = ddn_encoding_loss(a, pred_a) + ddn_encoding_loss(b, pred_b)
        if stage == "end_to_end":
            joint = apply_network(SHARED, params, "g_ab", jnp.concatenate([a, b], -1))
            loss = loss + 0.3 * ddn_predictive_loss(joint, X)
        return loss

    want = jax.grad(own_loss)(params["encoders"]["f_ab"])
    _close(_routed_grads(SHARED, schedule, stage, params)["encoders"]["f_ab"], want)


# ------------------------------------------------------------ eq. 9.11 in stage 1 (9.2.2)

def test_reconstruction_in_stage1_trains_stage1_with_stage3s_losses():
    plain = ddn.DDNSchedule(sigma=0.0, alpha=0.1, alpha_end=0.1)
    ablation = dataclasses.replace(plain, reconstruction_in_stage1=True)
    params = init_ddn(jax.random.PRNGKey(3), SPLIT)
    _close(_routed_grads(SPLIT, ablation, "encoders", params),
           _routed_grads(SPLIT, plain, "end_to_end", params))
    # and the encoders' gradient is that of eq. 9.11, written out
    z_a, z_b = encode(SPLIT, params, X)

    def own_loss(f_a):
        a = apply_network(SPLIT, _with(params, "encoders", "f_a", f_a), "f_a", X)
        joint = apply_network(SPLIT, params, "g_ab", jnp.concatenate([a, z_b], -1))
        return ddn_finetune_encoding_loss(a, apply_network(SPLIT, params, "q_ba", z_b), X,
                                          joint, 0.1)

    _close(_routed_grads(SPLIT, ablation, "encoders", params)["encoders"]["f_a"],
           jax.grad(own_loss)(params["encoders"]["f_a"]))
    program = ddn.ddn_program(SPLIT, ablation)
    assert program.stages[0].trained == ("encoders", "predictors", "decoders")
    assert ddn.ddn_program(SPLIT, plain).stages[0].trained == ("encoders", "predictors")


# ------------------------------------------------------------------ XCov baseline (9.1)

def test_the_xcov_baseline_descends_reconstruction_plus_xcov_and_never_trains_predictors():
    schedule = ddn.DDNSchedule(encoding="xcov", xcov_weight=7.0)
    params = init_ddn(jax.random.PRNGKey(4), SPLIT)
    z_a, z_b = encode(SPLIT, params, X)

    def objective(p, a, b):
        joint = apply_network(SPLIT, p, "g_ab", jnp.concatenate([a, b], -1))
        return ddn_predictive_loss(joint, X) + 7.0 * xcov(a, b)

    def own_f_b(f_b):
        b = apply_network(SPLIT, _with(params, "encoders", "f_b", f_b), "f_b", X)
        return objective(params, z_a, b)

    def own_g_ab(g_ab):
        p = _with(params, "decoders", "g_ab", g_ab)
        return ddn_predictive_loss(apply_network(SPLIT, p, "g_ab", jnp.concatenate([z_a, z_b],
                                                                                    -1)), X)

    for stage in ("encoders", "end_to_end"):
        grads = _routed_grads(SPLIT, schedule, stage, params)
        assert "predictors" not in grads
        _close(grads["encoders"]["f_b"], jax.grad(own_f_b)(params["encoders"]["f_b"]))
        _close(grads["decoders"]["g_ab"], jax.grad(own_g_ab)(params["decoders"]["g_ab"]))
    program = ddn.ddn_program(SPLIT, schedule)
    assert [s.trained for s in program.stages] == [("encoders", "decoders"), ("decoders",),
                                                   ("encoders", "decoders")]
    with pytest.raises(ValueError, match="encoding"):
        ddn.DDNSchedule(encoding="covariance")


# ------------------------------------------------------------ encoder depth (9.5.2)

def test_a_zero_layer_encoder_is_linear_and_negative_depths_are_refused():
    arch = dataclasses.replace(SPLIT, encoder_layers=0)
    params = init_ddn(jax.random.PRNGKey(5), arch)
    f = lambda x: apply_network(arch, params, "f_a", x)  # noqa: E731
    x1, x2 = X[:8], X[8:]
    _close(f(x1 + x2) - f(x2), f(x1) - f(jnp.zeros_like(x1)))
    assert arch.network("f_a").hidden == ()
    with pytest.raises(ValueError, match="encoder_layers"):
        DDNArchitecture(input_dim=12, encoder_layers=-1)


# ------------------------------------------------------------ ASAE optimizers (8.6)

@pytest.mark.parametrize("name, transformation", [
    ("adam", optax.adam(1e-3, eps=1e-8)),
    ("sgd", optax.sgd(1e-3, momentum=0.9)),
])
def test_the_asae_trains_with_adam_or_sgd_in_place_of_rmsprop(name, transformation):
    arch = ASAEArchitecture(input_dim=12, n_code=2, hidden=8)
    schedule = asae.ASAESchedule(epochs=1, learning_rate=1e-3, momentum=0.9, batch_size=16,
                                 optimizer=name)
    program = asae.asae_program(arch, schedule)
    state = engine.init_state(program, jax.random.PRNGKey(6))
    new, _ = engine.compiled_step(program, 0)(state, X, jax.random.PRNGKey(7), jnp.int32(0))

    def loss(p):
        _, _, y_a, y_b = asae_apply(arch, p, X)
        return split_autoencoder_loss(X, y_a, y_b)

    params = state.params["autoencoders"]
    grads = jax.grad(lambda p: loss({"autoencoders": p}))(params)
    updates, _ = transformation.update(grads, transformation.init(params), params)
    _close(new.params["autoencoders"], optax.apply_updates(params, updates))


def test_an_unknown_asae_optimizer_is_refused_by_name():
    arch = ASAEArchitecture(input_dim=12, n_code=2, hidden=8)
    with pytest.raises(ValueError, match="optimizer"):
        asae.asae_program(arch, asae.ASAESchedule(optimizer="lbfgs"))


@pytest.mark.parametrize("changes, message", [
    (dict(batch_size=0), r"^batch_size: expected an int >= 1, got 0$"),
    (dict(epochs=-1), r"^epochs: expected an int >= 0, got -1$"),
    (dict(learning_rate=0.0), r"^learning_rate: expected > 0, got 0.0$"),
    (dict(momentum=-0.5), r"^momentum: expected in \[0, 1\), got -0.5$"),
])
def test_the_asae_schedule_refuses_values_it_cannot_train_with_naming_the_field(changes,
                                                                                message):
    with pytest.raises(ValueError, match=message):
        asae.ASAESchedule(**changes)


def test_the_asae_schedule_is_built_from_the_experiments_config_by_field_name():
    from experiments import asae as asae_experiment
    from jaxdis.config import from_fields

    # The two declare each field with the same default: the config's build the schedule's.
    assert from_fields(asae.ASAESchedule, asae_experiment.ASAEConfig()) == asae.ASAESchedule()
    sgd = apply_overrides(asae_experiment.make_config("simple"), ["optimizer=sgd",
                                                                  "momentum=0.9"])
    assert from_fields(asae.ASAESchedule, sgd) == asae.ASAESchedule(momentum=0.9,
                                                                    optimizer="sgd")


# ------------------------------------------------------------ RMSprop variants (eq. 7.4)

FIRST_STEP = {  # g / (each reading's denominator) on the first step, from v_0 = 0 (TF1: ms_0 = 1)
    "heavy-ball": lambda g: g / (np.sqrt(0.1 * g**2) + 1e-8),   # eq. 7.4, eps outside
    "decay": lambda g: g / (np.sqrt(0.1 * g**2) + 1e-8),
    "printed": lambda g: g / (np.sqrt(g**2) + 1e-8),            # v_1 = g^2: no (1 - gamma)
    "tf1": lambda g: g / np.sqrt(0.9 + 0.1 * g**2 + 1e-10),     # eps 1e-10 inside
    "lasagne": lambda g: g / np.sqrt(0.1 * g**2 + 1e-6),        # eps 1e-6 inside
}


@pytest.mark.parametrize("variant", list(ddn.RMSPROP_VARIANTS) + ["thesis"])
def test_each_rmsprop_variant_steps_as_its_framework_writes_it(variant):
    """One step of each reading on the DDN's parameters against its update written out in NumPy
    (the first step has no momentum to add; tests/test_train_optimizers.py runs many steps).
    "thesis" is the old name of "heavy-ball"."""
    schedule = ddn.DDNSchedule(rmsprop=variant)
    tx = ddn.ddn_optimizer(schedule)
    params = init_ddn(jax.random.PRNGKey(8), SPLIT)
    grads = jax.tree.map(lambda p: 1e-4 * jnp.ones_like(p), params)
    updates, _ = tx.update(grads, tx.init(params), params)
    want = -schedule.encoder_lr * FIRST_STEP[{"thesis": "heavy-ball"}.get(variant, variant)](1e-4)
    np.testing.assert_allclose(np.asarray(updates["encoders"]["f_a"]["Dense_0"]["kernel"]),
                               want, rtol=1e-4)
    with pytest.raises(ValueError, match="rmsprop"):
        ddn.DDNSchedule(rmsprop="keras")
    assert set(FIRST_STEP) == set(ddn.RMSPROP_VARIANTS)


# ------------------------------------------------------------ the DDN config's new options

def test_the_ddn_command_line_sets_the_rmsprop_reading_binarize_and_code_norm():
    from experiments import ddn as ddn_experiment

    config = apply_overrides(ddn_experiment.make_config("additive"),
                             ["rmsprop=decay", "binarize=true", "code_norm=batch"])
    assert (config.rmsprop, config.binarize, config.code_norm) == ("decay", True, "batch")
    assert ddn_experiment.make_config("simple").rmsprop == "decay"  # the default
    assert apply_overrides(config, ["rmsprop=thesis"]).rmsprop == "thesis"  # the old name works


@pytest.mark.parametrize("options, listed", [
    (["--set", "rmsprop=bogus"], "heavy-ball, decay, printed, tf1, lasagne"),
    (["--set", "code_norm=layer"], "none, batch"),
    (["--set", "rmsprop=lasagne", "--set", "momentum=0.5"], "heavy-ball, tf1"),
    (["--dataset", "mnist", "--set", "binarize=true"], "simple, additive, occlusive"),
])
def test_bad_ddn_options_are_refused_with_the_valid_values_before_a_run_folder_exists(
        tmp_path, capsys, options, listed):
    from jaxdis import cli

    out = tmp_path / "run"
    assert cli.main(["run", "ddn", *options, "--out", str(out)]) == 2
    assert listed in capsys.readouterr().err
    assert not out.exists()


def test_active_units_count_the_first_layer_relus_that_fire_on_some_example():
    params = init_ddn(jax.random.PRNGKey(9), SPLIT)
    nets = {n: v for role in params.values() for n, v in role.items()}
    first = dict(nets["f_b"]["Dense_0"])
    first["bias"] = first["bias"].at[:6].set(-100.0)  # 6 of 8 units can never fire on [0, 1] data
    dead_f_b = {**nets, "f_b": {**nets["f_b"], "Dense_0": first}}
    loop = []  # the twin: unit by unit, example by example
    for name in ("f_a", "f_b"):
        w, b = dead_f_b[name]["Dense_0"]["kernel"], dead_f_b[name]["Dense_0"]["bias"]
        fires = [any(float(X[i] @ w[:, u] + b[u]) > 0 for i in range(X.shape[0]))
                 for u in range(w.shape[1])]
        loop.append(np.mean(fires))
    got = ddn.encoder_active_units(SPLIT, dead_f_b, X)
    assert float(got) == pytest.approx(min(loop)) and min(loop) <= 0.25
    linear = dataclasses.replace(SPLIT, encoder_layers=0)
    assert float(ddn.encoder_active_units(linear, nets, X)) == 1.0
