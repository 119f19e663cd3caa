"""The Forced Apart networks (section 4, Fig. 1 and 4): shapes, FC1 exposed, padding ignored."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.nets import forced_apart as nets

from conftest import relative_error

KEY = jax.random.key(0)


def _init_apply(model, *inputs):
    """Shapes only (jax.eval_shape compiles nothing, which keeps these tests fast)."""
    params = jax.eval_shape(model.init, KEY, *inputs)
    return params, jax.eval_shape(model.apply, params, *inputs)


def test_sequence_classifier_returns_logit_and_nonnegative_fc1_of_15_units():
    x = jax.random.normal(KEY, (5, 28, 28))
    params, (logit, fc1) = _init_apply(nets.SequenceClassifier(hidden=16), x)
    assert logit.shape == (5,) and fc1.shape == (5, 15)
    assert jax.eval_shape(nets.fc1_weight_rows, params).shape == (15, 16)


def test_sequence_classifier_ignores_steps_after_each_length():
    x = jax.random.normal(KEY, (3, 9, 4))
    model = nets.SequenceClassifier(hidden=8)
    params = jax.jit(model.init)(KEY, x)
    apply = jax.jit(model.apply)
    lengths = jnp.array([9, 4, 6])
    logit, fc1 = apply(params, x, lengths)
    assert bool(jnp.all(fc1 >= 0))  # ReLU (Fig. 1)
    garbage = x.at[1, 4:].set(100.0).at[2, 6:].set(-50.0)
    logit_g, fc1_g = apply(params, garbage, lengths)
    np.testing.assert_allclose(logit_g, logit, rtol=1e-6)
    np.testing.assert_allclose(fc1_g, fc1, rtol=1e-6)
    # the same as running the cut sequences alone: padding changes nothing
    cut = x[:, :4]
    cut_logit, _ = apply(params, cut, jnp.array([4, 4, 4]))
    np.testing.assert_allclose(cut_logit[1], logit[1], rtol=1e-5)


def test_fc1_weight_rows_are_one_row_per_unit():
    x = jnp.ones((2, 6))
    params = jax.jit(nets.MLPClassifier(hidden=(7,)).init)(KEY, x)
    rows = nets.fc1_weight_rows(params)
    kernel = params["params"]["head"]["fc1"]["kernel"]
    assert rows.shape == (15, 7)
    np.testing.assert_array_equal(rows[3], kernel[:, 3])  # unit 3's incoming weights


def test_sequence_autoencoder_reconstructs_input_shape():
    x = jax.random.normal(KEY, (4, 10, 4))
    params, (x_hat, code) = _init_apply(nets.SequenceAutoencoder(hidden=8), x)
    assert x_hat.shape == x.shape and code.shape == (4, 15)
    assert jax.eval_shape(nets.fc1_weight_rows, params).shape == (15, 8)


def test_text_classifier_takes_token_ids():
    tokens = jax.random.randint(KEY, (3, 12), 0, 50)
    _, (logit, fc1) = _init_apply(nets.TextClassifier(vocab_size=50, embed_dim=8, hidden=8),
                                  tokens, jnp.array([12, 5, 1]))
    assert logit.shape == (3,) and fc1.shape == (3, 15)


@pytest.mark.parametrize("make, shape", [(nets.cifar_cnn, (2, 32, 32, 3)),
                                         (nets.grey28_cnn, (2, 28, 28, 1))])
def test_vgg_cnn_has_paper_layout(make, shape):
    params, (logit, fc1) = _init_apply(make(width=0.125), jnp.zeros(shape))
    assert logit.shape == (2,) and fc1.shape == (2, 15)
    convs = sorted((k for k in params["params"] if k.startswith("Conv_")),
                   key=lambda k: int(k.split("_")[1]))
    filters = [params["params"][k]["kernel"].shape[-1] for k in convs]
    # VGG-16 to pool3 (64,64,128,128,256,256,256), then 256, 128 (3x3) and 8 (1x1), all x 1/8
    assert filters == [8, 8, 16, 16, 32, 32, 32, 32, 16, 8]
    assert params["params"][convs[-1]]["kernel"].shape[:2] == (1, 1)
    # pool3 leaves 4x4 for 32x32 and (same padding) for 28x28: FC1 sees 4*4*8 inputs
    assert params["params"]["head"]["fc1"]["kernel"].shape == (128, 15)


def test_full_size_cifar_cnn_matches_section_4_2():
    params = jax.eval_shape(nets.cifar_cnn().init, KEY, jnp.zeros((1, 32, 32, 3)))
    filters = [params["params"][f"Conv_{i}"]["kernel"].shape[-1] for i in range(10)]
    assert filters == [64, 64, 128, 128, 256, 256, 256, 256, 128, 8]


def test_bad_inputs_name_the_argument():
    model = nets.SequenceClassifier(hidden=4)
    with pytest.raises(ValueError, match="sequences"):
        _init_apply(model, jnp.zeros((2, 3)))
    with pytest.raises(TypeError, match="sequences"):
        _init_apply(model, jnp.zeros((2, 3, 4), jnp.int32))
    with pytest.raises(TypeError, match="tokens"):
        _init_apply(nets.TextClassifier(vocab_size=5), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="images"):
        _init_apply(nets.cifar_cnn(0.125), jnp.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match="width"):
        nets.cifar_cnn(0.0)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_shifted_conv_equals_flax_conv(size):
    x = jax.random.normal(KEY, (2, 7, 6, 3))
    fast, slow = nets.ShiftedConv(4, size), nn.Conv(4, (size, size), padding="SAME")
    params = slow.init(KEY, x)
    assert jax.tree.map(jnp.shape, fast.init(KEY, x)) == jax.tree.map(jnp.shape, params)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias
    assert relative_error(fast.apply(params, x), slow.apply(params, x)) < 1e-6
    with pytest.raises(ValueError, match="kernel_size"):
        nets.ShiftedConv(4, 2).init(KEY, x)


@pytest.mark.parametrize("shape", [(2, 8, 6, 3), (2, 7, 7, 3), (1, 5, 4, 2)])
def test_reshape_max_pool_equals_flax_max_pool(shape):
    x = jax.random.normal(KEY, shape)
    slow = nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
    np.testing.assert_array_equal(nets.max_pool_2x2(x), slow)


def test_shifted_cnn_equals_lax_cnn_in_values_and_gradients_under_vmap():
    """The fast path of the 28x28 CNN against its nn.Conv twin: same init, outputs and gradients
    for a stack of three models (vmapped, jitted), float32 relative error."""
    x = jax.random.uniform(KEY, (6, 28, 28, 1))
    fast, slow = nets.grey28_cnn(0.125, conv="shifted"), nets.grey28_cnn(0.125, conv="lax")
    keys = jax.random.split(KEY, 3)
    params = jax.jit(jax.vmap(lambda k: slow.init(k, x)))(keys)
    jax.tree.map(np.testing.assert_array_equal,
                 jax.jit(jax.vmap(lambda k: fast.init(k, x)))(keys), params)

    def loss(model):
        def one(p):
            logit, fc1 = model.apply(p, x)
            return jnp.sum(logit ** 2) + jnp.sum(fc1 ** 2)
        return jax.jit(jax.vmap(jax.value_and_grad(one)))

    (value_fast, grad_fast), (value_slow, grad_slow) = loss(fast)(params), loss(slow)(params)
    assert relative_error(value_fast, value_slow) < 1e-5
    for leaf_fast, leaf_slow in zip(jax.tree.leaves(grad_fast), jax.tree.leaves(grad_slow)):
        assert relative_error(leaf_fast, leaf_slow) < 1e-4
    with pytest.raises(ValueError, match="conv"):
        nets.grey28_cnn(0.125, conv="fft").init(KEY, x)


def test_make_classifier_picks_the_model_and_its_input_shape_by_name():
    images = jnp.zeros((2, 28, 28))
    sizes = dict(rnn_hidden=8, mlp_hidden=(5,), cnn_width=0.05, cnn_conv="shifted")
    for kind, cls, shape in (("rnn", nets.SequenceClassifier, (2, 28, 28)),
                             ("mlp", nets.MLPClassifier, (2, 28, 28)),
                             ("cnn", nets.ConvClassifier, (2, 28, 28, 1))):
        model, to_input = nets.make_classifier(kind, **sizes)
        assert isinstance(model, cls) and to_input(images).shape == shape
    with pytest.raises(ValueError, match="kind"):
        nets.make_classifier("vgg", **sizes)


def test_stacked_outputs_equal_each_model_applied_alone_in_any_chunking():
    model = nets.MLPClassifier(hidden=(4,))
    x = jax.random.uniform(KEY, (7, 3, 3))
    stack = jax.vmap(model.init, in_axes=(0, None))(jax.random.split(KEY, 3), x[:1])
    logits, fc1 = nets.stacked_outputs(model, stack, x, chunk=3)  # chunks of 3, 3, 1
    assert logits.shape == (3, 7) and fc1.shape == (3, 7, 15)
    for m in range(3):
        alone = model.apply(jax.tree.map(lambda leaf: leaf[m], stack), x)
        np.testing.assert_allclose(logits[m], alone[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(fc1[m], alone[1], rtol=1e-6, atol=1e-7)
