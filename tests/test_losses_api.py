"""What every loss promises: unchanged under `jax.vmap` over a seed axis and under `jax.jit`, and
clear errors, naming the argument, for bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdis.losses as losses

SEEDS, N = 3, 12
_rng = np.random.default_rng(4)
LABELS = jnp.asarray(np.arange(N) % 3)
MASK = jnp.asarray(np.arange(N) % 2 == 0)


def floats(*shape):
    return jnp.asarray(_rng.normal(size=(SEEDS, *shape)), jnp.float32)


# name: (loss of keyword array arguments, those arguments with a leading seed axis)
CASES = {
    "xcov": (losses.xcov, dict(y=floats(N, 3), z=floats(N, 4))),
    "decov": (losses.decov, dict(h=floats(N, 5))),
    "semi_supervised_objective": (
        lambda **a: losses.semi_supervised_objective(
            **a, y_true=LABELS, label_mask=MASK, alpha=1.0, beta=10.0, gamma=10.0
        )[0],
        dict(x=floats(N, 6), x_hat=floats(N, 6), y_logits=floats(N, 3), z=floats(N, 2)),
    ),
    "forced_apart_single": (lambda w: losses.forced_apart_single(w, 5.0), dict(w=floats(8, 10))),
    "forced_apart_single_js": (lambda w: losses.forced_apart_single(w, 0.5, "js"), dict(w=floats(8, 10))),
    "forced_apart_multi": (lambda h: losses.forced_apart_multi(h, LABELS, 1.0), dict(h=floats(N, 4))),
    "forced_apart_multi_js": (
        lambda h: losses.forced_apart_multi(h, LABELS, 0.3, "js", rows_per_block=5),
        dict(h=floats(N, 4)),
    ),
    "forced_apart_multi_unsupervised": (lambda h: losses.forced_apart_multi_unsupervised(h, 1.0), dict(h=floats(N, 4))),
    "forced_apart_autoencoder": (
        lambda **a: losses.forced_apart_autoencoder(**a, margin=1.0, alpha=0.5),
        dict(x=floats(N, 6), x_hat=floats(N, 6), h=floats(N, 4)),
    ),
    "ddn_predictive_loss": (losses.ddn_predictive_loss, dict(prediction=floats(N, 3), target=floats(N, 3))),
    "ddn_encoding_loss": (losses.ddn_encoding_loss, dict(code=floats(N, 3), prediction=floats(N, 3))),
    "ddn_finetune_encoding_loss": (
        lambda **a: losses.ddn_finetune_encoding_loss(**a, alpha=0.1),
        dict(code=floats(N, 3), prediction=floats(N, 3), x=floats(N, 6), reconstruction=floats(N, 6)),
    ),
    "ddn_denoise": (
        lambda key, code: losses.ddn_denoise(key, code, 0.1),
        dict(key=jax.random.split(jax.random.PRNGKey(0), SEEDS), code=floats(N, 3)),
    ),
    "split_autoencoder_loss": (
        losses.split_autoencoder_loss,
        dict(x=floats(N, 6), recon_a=floats(N, 6), recon_b=floats(N, 6)),
    ),
    "meannn_mi": (losses.meannn_mi, dict(x=floats(N, 2), y=floats(N, 1))),
    "mmd": (lambda x, y: losses.mmd(x, y, 1.0), dict(x=floats(N, 2), y=floats(N - 2, 2))),
    "cda_penalty": (losses.cda_penalty, dict(jac_a=floats(N, 2, 5), jac_b=floats(N, 3, 5))),
}


def seed(arguments, s):
    return {name: value[s] for name, value in arguments.items()}


def test_every_public_loss_is_covered():
    covered = {name.removesuffix("_js") for name in CASES} | {"grad_by_role"}  # routing: test_losses_ddn
    assert covered == set(losses.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_over_a_seed_axis_equals_a_python_loop(name):
    loss, arguments = CASES[name]
    batched = jax.vmap(lambda a: loss(**a))(arguments)
    looped = np.stack([np.asarray(loss(**seed(arguments, s))) for s in range(SEEDS)])
    assert batched.shape == looped.shape
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_gives_the_eager_result(name):
    loss, arguments = CASES[name]
    single = seed(arguments, 0)
    np.testing.assert_allclose(jax.jit(lambda a: loss(**a))(single), loss(**single), rtol=1e-5, atol=1e-6)


def ints(*shape):
    return jnp.zeros(shape, jnp.int32)


def f32(*shape):
    return jnp.ones(shape, jnp.float32)


BAD_INPUTS = [
    # (call, exception, words the message must contain)
    (lambda: losses.xcov(f32(5), f32(5, 2)), ValueError, "y must have rank 2"),
    (lambda: losses.xcov(f32(5, 2), f32(4, 2)), ValueError, "z has batch size 4"),
    (lambda: losses.xcov(ints(5, 2), f32(5, 2)), TypeError, "y must be a floating-point"),
    (lambda: losses.decov(f32(5, 2, 2)), ValueError, "h must have rank 2"),
    (lambda: losses.semi_supervised_objective(f32(4, 3), f32(4, 2), ints(4), f32(4, 2), f32(4, 2), MASK[:4], 1, 1, 1), ValueError, "x_hat must have the shape of x"),
    (lambda: losses.semi_supervised_objective(f32(4, 3), f32(4, 3), ints(5), f32(4, 2), f32(4, 2), MASK[:4], 1, 1, 1), ValueError, "y_true must have shape (4,)"),
    (lambda: losses.semi_supervised_objective(f32(4, 3), f32(4, 3), ints(4), f32(4, 2), f32(4, 2), MASK[:3], 1, 1, 1), ValueError, "label_mask must have shape (4,)"),
    (lambda: losses.semi_supervised_objective(f32(4, 3), f32(4, 3), ints(4), ints(4, 2), f32(4, 2), MASK[:4], 1, 1, 1), TypeError, "y_logits must be a floating-point"),
    (lambda: losses.semi_supervised_objective(f32(4, 3), f32(4, 3), f32(4, 3), f32(4, 2), f32(4, 2), MASK[:4], 1, 1, 1), ValueError, "y_true given as target distributions"),
    (lambda: losses.semi_supervised_objective(f32(4, 3), f32(4, 3), ints(4), f32(4, 2), f32(4, 2), MASK[:4], f32(2), 1, 1), ValueError, "alpha must be a scalar"),
    (lambda: losses.forced_apart_single(ints(4, 3), 1.0), TypeError, "w must be a floating-point"),
    (lambda: losses.forced_apart_single(f32(4, 3), 1.0, "hellinger"), ValueError, "divergence must be 'kl' or 'js'"),
    (lambda: losses.forced_apart_multi(f32(4, 3), ints(5), 1.0), ValueError, "labels must have shape (4,)"),
    (lambda: losses.forced_apart_multi(f32(4, 3), f32(4), 1.0), TypeError, "labels must hold integer"),
    (lambda: losses.forced_apart_multi(f32(4), ints(4), 1.0), ValueError, "h must have rank 2"),
    (lambda: losses.forced_apart_multi_unsupervised(f32(4, 3), f32(3)), ValueError, "margin must be a scalar"),
    (lambda: losses.forced_apart_autoencoder(f32(4, 3), f32(4, 3), f32(5, 2), 1.0, 0.5), ValueError, "h has batch size 5"),
    (lambda: losses.ddn_predictive_loss(f32(4, 3), f32(4, 2)), ValueError, "target must have the shape of prediction"),
    (lambda: losses.ddn_predictive_loss(ints(4, 3), f32(4, 3)), TypeError, "prediction must be a floating-point"),
    (lambda: losses.ddn_encoding_loss(f32(4, 3, 1), f32(4, 3, 1)), ValueError, "code must have rank 2"),
    (lambda: losses.ddn_finetune_encoding_loss(f32(4, 3), f32(4, 3), f32(5, 6), f32(5, 6), 0.1), ValueError, "x has batch size 5"),
    (lambda: losses.ddn_denoise(jax.random.PRNGKey(0), ints(4, 3), 0.1), TypeError, "code must be a floating-point"),
    (lambda: losses.split_autoencoder_loss(f32(4, 6), f32(4, 6), f32(4, 5)), ValueError, "recon_b must have the shape of x"),
    (lambda: losses.mmd(f32(4, 2), f32(4, 3), 1.0), ValueError, "y must have the feature size of x"),
    (lambda: losses.mmd(f32(1, 2), f32(4, 2), 1.0), ValueError, "at least 2 examples"),
    (lambda: losses.meannn_mi(f32(4, 2), f32(3, 2)), ValueError, "y has batch size 3"),
    (lambda: losses.meannn_mi(ints(4, 2), f32(4, 2)), TypeError, "x must be a floating-point"),
    (lambda: losses.cda_penalty(f32(4, 2), f32(4, 2, 5)), ValueError, "jac_a must have rank at least 3"),
    (lambda: losses.cda_penalty(f32(4, 2, 5), f32(4, 2, 6)), ValueError, "jac_b must have the input shape"),
]


@pytest.mark.parametrize("index", range(len(BAD_INPUTS)))
def test_bad_input_raises_an_error_naming_the_argument(index):
    call, exception, words = BAD_INPUTS[index]
    with pytest.raises(exception) as raised:
        call()
    assert words in str(raised.value)


def test_input_checks_also_fire_under_jit():
    with pytest.raises(ValueError, match="labels must have shape"):
        jax.jit(lambda h, labels: losses.forced_apart_multi(h, labels, 1.0))(f32(4, 3), ints(5))


# ----------------------------------------------------------------------------- empty batches, NaN

EMPTY_BATCHES = {
    # loss: (a call with N = 0, the argument the error names)
    "xcov": (lambda: losses.xcov(f32(0, 3), f32(0, 2)), "y is an empty batch"),
    "decov": (lambda: losses.decov(f32(0, 3)), "h is an empty batch"),
    "semi_supervised_objective": (lambda: losses.semi_supervised_objective(
        f32(0, 3), f32(0, 3), ints(0), f32(0, 2), f32(0, 2), MASK[:0], 1, 1, 1),
        "x is an empty batch"),
    "forced_apart_single": (lambda: losses.forced_apart_single(f32(0, 3), 1.0),
                            "w is an empty batch"),
    "forced_apart_multi": (lambda: losses.forced_apart_multi(f32(0, 3), ints(0), 1.0),
                           "h is an empty batch"),
    "forced_apart_multi_unsupervised": (
        lambda: losses.forced_apart_multi_unsupervised(f32(0, 3), 1.0), "h is an empty batch"),
    "forced_apart_autoencoder": (lambda: losses.forced_apart_autoencoder(
        f32(0, 6), f32(0, 6), f32(0, 4), 1.0, 0.5), "x is an empty batch"),
    "ddn_predictive_loss": (lambda: losses.ddn_predictive_loss(f32(0, 3), f32(0, 3)),
                            "prediction is an empty batch"),
    "ddn_encoding_loss": (lambda: losses.ddn_encoding_loss(f32(0, 3), f32(0, 3)),
                          "code is an empty batch"),
    "ddn_finetune_encoding_loss": (lambda: losses.ddn_finetune_encoding_loss(
        f32(0, 3), f32(0, 3), f32(0, 6), f32(0, 6), 0.1), "code is an empty batch"),
    "split_autoencoder_loss": (lambda: losses.split_autoencoder_loss(
        f32(0, 6), f32(0, 6), f32(0, 6)), "x is an empty batch"),
    "cda_penalty": (lambda: losses.cda_penalty(f32(0, 2, 5), f32(0, 3, 5)),
                    "jac_a is an empty batch"),
    "mmd": (lambda: losses.mmd(f32(0, 2), f32(4, 2), 1.0), "at least 2 examples"),
    "meannn_mi": (lambda: losses.meannn_mi(f32(0, 2), f32(0, 1)), "at least 2 examples"),
}


def test_every_loss_has_an_empty_batch_case():
    # ddn_denoise is not a loss (noise for an empty batch is an empty array); grad_by_role routes.
    assert set(EMPTY_BATCHES) == set(losses.__all__) - {"ddn_denoise", "grad_by_role"}


@pytest.mark.parametrize("name", sorted(EMPTY_BATCHES))
def test_an_empty_batch_is_an_error_naming_the_argument_not_a_nan(name):
    call, words = EMPTY_BATCHES[name]
    with pytest.raises(ValueError, match=words):
        call()


def test_an_empty_batch_is_refused_while_tracing_under_jit():
    traced = []

    def loss(h):
        traced.append(h.shape)
        return losses.decov(h)

    with pytest.raises(ValueError, match="h is an empty batch"):
        jax.jit(loss)(f32(0, 3))
    assert traced == [(0, 3)]  # it never ran: the shape alone decided


@pytest.mark.parametrize("name", sorted(CASES))
def test_nan_in_the_input_gives_nan(name):
    loss, arguments = CASES[name]
    single = seed(arguments, 0)
    first = next(k for k, v in single.items() if jnp.issubdtype(v.dtype, jnp.floating))
    single[first] = single[first].at[(0,) * single[first].ndim].set(jnp.nan)
    assert np.isnan(np.asarray(loss(**single))).any()


@pytest.mark.parametrize("call", [
    lambda m: losses.forced_apart_single(f32(4, 3), m),
    lambda m: losses.forced_apart_multi(f32(4, 3), ints(4), m),
    lambda m: losses.forced_apart_multi_unsupervised(f32(4, 3), m),
    lambda m: losses.forced_apart_autoencoder(f32(4, 3), f32(4, 3), f32(4, 2), m, 0.5),
])
def test_a_concrete_negative_margin_is_an_error(call):
    for margin in (-1.0, -1, np.float32(-0.5), jnp.float32(-0.5)):
        with pytest.raises(ValueError, match="margin must be >= 0"):
            call(margin)
    assert np.isfinite(call(0.0))  # zero is a margin (every hinge is 0)
    # A traced margin cannot be read while tracing: it is not checked.
    assert float(jax.jit(call)(-1.0)) == 0.0
