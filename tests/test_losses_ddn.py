"""DDN losses (thesis eq. 9.5-9.12), gradient routing (eq. 9.7) and the ASAE loss (thesis ch. 8)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.losses import (
    ddn_denoise,
    ddn_encoding_loss,
    ddn_finetune_encoding_loss,
    ddn_predictive_loss,
    grad_by_role,
    split_autoencoder_loss,
)

from conftest import relative_error


@pytest.fixture
def rng():
    return np.random.default_rng(2)


def test_predictive_loss_is_the_squared_error_summed_over_units_and_averaged_over_examples(rng):
    prediction, target = rng.normal(size=(9, 4)), rng.normal(size=(9, 4))
    expected = np.mean([sum((prediction[s, k] - target[s, k]) ** 2 for k in range(4)) for s in range(9)])
    assert relative_error(ddn_predictive_loss(jnp.asarray(prediction, jnp.float32), jnp.asarray(target, jnp.float32)), expected) < 1e-6


def test_encoding_loss_is_the_dot_product_averaged_over_examples(rng):
    code, prediction = rng.normal(size=(9, 4)), rng.normal(size=(9, 4))
    expected = np.mean([sum(code[s, k] * prediction[s, k] for k in range(4)) for s in range(9)])
    with jax.enable_x64(True):
        assert relative_error(ddn_encoding_loss(jnp.asarray(code), jnp.asarray(prediction)), expected) < 1e-12


def test_encoding_loss_gradient_is_that_of_eq_9_8(rng):
    # d/dz_a [z_a . z_hat] = d/dz_a 1/2 (||z_a||^2 - ||z_hat - z_a||^2) with z_hat held fixed.
    code, prediction = jnp.asarray(rng.normal(size=(6, 3))), jnp.asarray(rng.normal(size=(6, 3)))
    with jax.enable_x64(True):
        code, prediction = jnp.asarray(np.asarray(code, np.float64)), jnp.asarray(np.asarray(prediction, np.float64))
        eq_9_8 = lambda z: jnp.mean(0.5 * (jnp.sum(z**2, 1) - jnp.sum((prediction - z) ** 2, 1)))
        assert relative_error(jax.grad(ddn_encoding_loss)(code, prediction), jax.grad(eq_9_8)(code)) < 1e-12


def test_finetune_encoding_loss_adds_alpha_times_the_reconstruction_error(rng):
    code, prediction = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    x, reconstruction = rng.uniform(size=(5, 4, 4)), rng.uniform(size=(5, 4, 4))
    expected = np.mean(
        [code[s] @ prediction[s] + 0.1 * np.sum((reconstruction[s] - x[s]) ** 2) for s in range(5)]
    )
    with jax.enable_x64(True):
        actual = ddn_finetune_encoding_loss(*map(jnp.asarray, (code, prediction, x, reconstruction)), 0.1)
    assert relative_error(actual, expected) < 1e-12


def test_denoise_adds_gaussian_noise_of_standard_deviation_sigma():
    code = jnp.zeros((4000, 8))
    key = jax.random.PRNGKey(3)
    noisy = ddn_denoise(key, code, 0.1)
    assert noisy.shape == code.shape and noisy.dtype == code.dtype
    np.testing.assert_array_equal(noisy, ddn_denoise(key, code, 0.1))  # a function of the key
    assert not np.array_equal(noisy, ddn_denoise(jax.random.PRNGKey(4), code, 0.1))
    assert abs(float(jnp.mean(noisy))) < 0.002  # standard error 0.1 / sqrt(32000) = 0.00056
    assert abs(float(jnp.std(noisy)) - 0.1) < 0.002
    np.testing.assert_array_equal(ddn_denoise(key, code + 1.0, 0.0), code + 1.0)


def test_split_autoencoder_loss_reconstructs_x_from_the_sum_of_both_outputs(rng):
    x, recon_a, recon_b = (rng.uniform(size=(6, 5, 3)) for _ in range(3))
    expected = np.mean([np.sum((x[s] - recon_a[s] - recon_b[s]) ** 2) for s in range(6)])
    with jax.enable_x64(True):
        assert relative_error(split_autoencoder_loss(*map(jnp.asarray, (x, recon_a, recon_b))), expected) < 1e-12
    assert split_autoencoder_loss(jnp.ones((2, 3)), jnp.full((2, 3), 0.25), jnp.full((2, 3), 0.75)) == 0.0


# ---- Gradient routing on a tiny linear DDN: z_a = x A + a, z_b = x B + b, q(z) = z Q + q. ----


def tiny_ddn_losses():
    """The four losses of thesis eq. 9.7, each a function of the whole params dict."""

    def codes(params, x):
        z_a = x @ params["encoder_a"]["w"] + params["encoder_a"]["b"]
        z_b = x @ params["encoder_b"]["w"] + params["encoder_b"]["b"]
        return z_a, z_b

    def predict(params, role, z):
        return z @ params[role]["w"] + params[role]["b"]

    def losses_for(x):
        def encoder_a(p):
            z_a, z_b = codes(p, x)
            return ddn_encoding_loss(z_a, predict(p, "predictor_ba", z_b))

        def encoder_b(p):
            z_a, z_b = codes(p, x)
            return ddn_encoding_loss(z_b, predict(p, "predictor_ab", z_a))

        def predictor_ba(p):
            z_a, z_b = codes(p, x)
            return ddn_predictive_loss(predict(p, "predictor_ba", z_b), z_a)

        def predictor_ab(p):
            z_a, z_b = codes(p, x)
            return ddn_predictive_loss(predict(p, "predictor_ab", z_a), z_b)

        return {"encoder_a": encoder_a, "encoder_b": encoder_b, "predictor_ba": predictor_ba, "predictor_ab": predictor_ab}

    return losses_for


def tiny_ddn_params(rng, inputs=5, units=3):
    def layer(fan_in):
        return {"w": rng.normal(size=(fan_in, units)), "b": rng.normal(size=units)}

    return {"encoder_a": layer(inputs), "encoder_b": layer(inputs), "predictor_ab": layer(units), "predictor_ba": layer(units)}


def hand_written_gradients(params, x):
    """The gradient of each network's own loss (thesis eq. 9.7), derived by hand for linear maps."""
    n = x.shape[0]
    z_a = x @ params["encoder_a"]["w"] + params["encoder_a"]["b"]
    z_b = x @ params["encoder_b"]["w"] + params["encoder_b"]["b"]
    pred_a = z_b @ params["predictor_ba"]["w"] + params["predictor_ba"]["b"]  # q_ba(z_b)
    pred_b = z_a @ params["predictor_ab"]["w"] + params["predictor_ab"]["b"]  # q_ab(z_a)
    # l^E_a = mean_n z_a . q_ba(z_b): only z_a depends on encoder_a.
    encoder_a = {"w": x.T @ pred_a / n, "b": pred_a.mean(axis=0)}
    encoder_b = {"w": x.T @ pred_b / n, "b": pred_b.mean(axis=0)}
    # l^P_ba = mean_n ||q_ba(z_b) - z_a||^2: only q_ba depends on predictor_ba.
    predictor_ba = {"w": 2 * z_b.T @ (pred_a - z_a) / n, "b": 2 * (pred_a - z_a).mean(axis=0)}
    predictor_ab = {"w": 2 * z_a.T @ (pred_b - z_b) / n, "b": 2 * (pred_b - z_b).mean(axis=0)}
    return {"encoder_a": encoder_a, "encoder_b": encoder_b, "predictor_ba": predictor_ba, "predictor_ab": predictor_ab}


def test_one_sgd_step_moves_each_network_by_the_gradient_of_its_own_loss_only(rng):
    params, x = tiny_ddn_params(rng), rng.normal(size=(16, 5))
    learning_rate = 0.01
    with jax.enable_x64(True):
        jparams = jax.tree_util.tree_map(jnp.asarray, params)
        loss_by_role = tiny_ddn_losses()(jnp.asarray(x))

        @jax.jit
        def sgd_step(p):
            losses, grads = grad_by_role(loss_by_role, p)
            return losses, jax.tree_util.tree_map(lambda w, g: w - learning_rate * g, p, grads)

        losses, updated = sgd_step(jparams)
        # What a naive step would use instead: the gradient of the sum of all four losses.
        total_grad = jax.grad(lambda p: sum(f(p) for f in loss_by_role.values()))(jparams)
        predictive_grad_of_encoder_a = jax.grad(loss_by_role["predictor_ba"])(jparams)["encoder_a"]
        direct_losses = {role: loss_by_role[role](jparams) for role in params}

    expected = hand_written_gradients(params, x)
    for role in params:
        assert relative_error(losses[role], direct_losses[role]) < 1e-12
        for leaf in ("w", "b"):
            step = (params[role][leaf] - np.asarray(updated[role][leaf])) / learning_rate
            assert relative_error(step, expected[role][leaf]) < 1e-8, (role, leaf)
            assert relative_error(total_grad[role][leaf], expected[role][leaf]) > 1e-3, (role, leaf)
    # The encoder is not trained on the predictive loss it feeds (it would help its predictor).
    encoder_a_step = (params["encoder_a"]["w"] - np.asarray(updated["encoder_a"]["w"])) / learning_rate
    assert relative_error(encoder_a_step, predictive_grad_of_encoder_a["w"]) > 1e-3


def test_roles_without_a_loss_are_read_but_get_no_gradient(rng):
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), tiny_ddn_params(rng))
    loss_by_role = tiny_ddn_losses()(jnp.asarray(rng.normal(size=(8, 5)), jnp.float32))
    losses, grads = grad_by_role({"predictor_ab": loss_by_role["predictor_ab"]}, params)
    assert set(grads) == set(losses) == {"predictor_ab"}
    assert jax.tree_util.tree_structure(grads["predictor_ab"]) == jax.tree_util.tree_structure(params["predictor_ab"])


def test_grad_by_role_vmaps_over_seeds_like_a_loop(rng):
    stacked = jax.tree_util.tree_map(
        lambda *leaves: jnp.asarray(np.stack(leaves), jnp.float32), *[tiny_ddn_params(rng) for _ in range(3)]
    )
    loss_by_role = tiny_ddn_losses()(jnp.asarray(rng.normal(size=(8, 5)), jnp.float32))
    _, batched = jax.vmap(lambda p: grad_by_role(loss_by_role, p))(stacked)
    for seed in range(3):
        one = jax.tree_util.tree_map(lambda a: a[seed], stacked)
        _, looped = grad_by_role(loss_by_role, one)
        for role in looped:
            assert relative_error(batched[role]["w"][seed], looped[role]["w"]) < 1e-5


def test_grad_by_role_rejects_unknown_roles_and_non_scalar_losses(rng):
    params = {"encoder": jnp.ones(3)}
    with pytest.raises(ValueError, match="decoder"):
        grad_by_role({"decoder": lambda p: jnp.sum(p["encoder"])}, params)
    with pytest.raises(ValueError, match="loss_by_role\\['encoder'\\] must return a scalar"):
        grad_by_role({"encoder": lambda p: p["encoder"] * 2}, params)
    with pytest.raises(TypeError, match="dicts"):
        grad_by_role([lambda p: 0.0], params)
