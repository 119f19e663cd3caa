"""The XCov autoencoders of Cheung et al. (Tables 1 and 4): shapes, decoding, max-norm, analyses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.nets import cheung

# (model, image shape, label sets, latent size, parameter count at the paper's sizes)
PAPER_SIZES = {
    "mnist": ((28, 28), {"digit": 10}, 2),
    "conv_mnist": ((28, 28), {"digit": 10}, 2),
    "maxout_mnist": ((28, 28), {"digit": 10}, 2),
    "tfd": ((48, 48), {"expression": 7}, 793),
    "conv_tfd": ((48, 48), {"expression": 7}, 793),
    "conv_deconv_multipie": ((48, 48), {"pose": 13, "illumination": 19}, 793),
}


def _heads(y_logits, names):
    return y_logits if len(names) > 1 else {next(iter(names)): y_logits}


@pytest.mark.parametrize("name", sorted(PAPER_SIZES))
def test_paper_sizes_give_the_stated_output_shapes(name):
    # Shapes only (jax.eval_shape): the TFD and Multi-PIE models have 20-45 M parameters.
    image_shape, heads, latent = PAPER_SIZES[name]
    model = cheung.MODELS[name]()
    x = jax.ShapeDtypeStruct((3,) + image_shape, jnp.float32)
    params = jax.eval_shape(model.init, jax.random.key(0), x)
    y_logits, z, x_hat = jax.eval_shape(model.apply, params, x)
    assert {k: v.shape for k, v in _heads(y_logits, heads).items()} == {
        k: (3, c) for k, c in heads.items()}
    assert z.shape == (3, latent)
    assert x_hat.shape == (3,) + image_shape


def test_table_layer_widths():
    """The dense widths of Table 1 (MNIST, TFD) and the conv map sizes of Table 4."""
    shapes = lambda model, hw: jax.tree.map(
        jnp.shape, jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1,) + hw)))["params"]
    mnist = shapes(cheung.mnist(), (28, 28))
    assert [mnist[f"encoder_layers_{i}"]["kernel"] for i in range(2)] == [(784, 500), (500, 500)]
    assert mnist["head_digit"]["kernel"] == (500, 10) and mnist["latent"]["kernel"] == (500, 2)
    assert [mnist[f"decoder_layers_{i}"]["kernel"] for i in range(2)] == [(12, 500), (500, 500)]
    assert mnist["output"]["kernel"] == (500, 784)
    tfd = shapes(cheung.tfd(), (48, 48))
    assert tfd["encoder_layers_0"]["kernel"] == (2304, 2000)
    assert tfd["decoder_layers_0"]["kernel"] == (800, 2000)
    # ConvMNIST: 12x12x32 maps feed the 500 layer; ConvTFD 22x22x16; Multi-PIE 20x20x32.
    assert shapes(cheung.conv_mnist(), (28, 28))["encoder_layers_0"]["kernel"] == (12 * 12 * 32, 500)
    assert shapes(cheung.conv_tfd(), (48, 48))["encoder_layers_0"]["kernel"] == (22 * 22 * 16, 2000)
    pie = shapes(cheung.conv_deconv_multipie(), (48, 48))
    assert pie["encoder_layers_0"]["kernel"] == (20 * 20 * 32, 2000)
    assert pie["decoder_layers_0"]["kernel"] == (13 + 19 + 793, 2000)
    maxout = shapes(cheung.maxout_mnist(), (28, 28))
    assert maxout["encoder_layers_0"]["kernel"] == (784, 240 * 5)


def _small(name):
    """The paper's architecture (conv, maxout, deconv, heads) at reduced widths, so that real
    numbers run quickly on a CPU; the paper's sizes are checked by shape above."""
    model = cheung.MODELS[name]()
    decoder = tuple(32 for _ in model.decoder_widths[:-1]) + (400,)
    deconv = None if model.output_deconv is None else (20, 1, 10, 2)
    conv = None if model.encoder_conv is None else (4,) + model.encoder_conv[1:]
    return model.clone(latent_dim=min(model.latent_dim, 5), encoder_conv=conv,
                       encoder_widths=tuple(32 for _ in model.encoder_widths),
                       decoder_widths=decoder, output_deconv=deconv)


def _numpy_init(model, seed=0):
    """Random parameters of the model's shapes, drawn by NumPy: compiling ``model.init`` costs
    seconds of CPU per model (the random-bit kernels), the forward pass a fraction of that."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1,) + model.image_shape))
    rng = np.random.default_rng(seed)

    def draw(leaf):
        scale = 0.1 if len(leaf.shape) == 1 else 1.0 / np.sqrt(np.prod(leaf.shape[:-1]))
        return jnp.asarray(rng.normal(0.0, scale, leaf.shape), jnp.float32)

    return jax.tree.map(draw, shapes)


_PARAMS = {}


def _small_with_params(name):
    if name not in _PARAMS:
        model = _small(name)
        _PARAMS[name] = model, _numpy_init(model)
    return _PARAMS[name]


@pytest.mark.parametrize("name", sorted(PAPER_SIZES))
def test_runs_on_random_images_and_decode_matches_call(name):
    model, params = _small_with_params(name)
    x = jax.random.uniform(jax.random.key(1), (4,) + model.image_shape)
    y_logits, z, x_hat = model.apply(params, x)
    assert x_hat.shape == x.shape and np.all(np.isfinite(x_hat))
    # The decoder sees the softmax ŷ (not logits, not a one-hot label).
    again = model.apply(params, cheung.softmax(y_logits), z, method=model.decode)
    np.testing.assert_allclose(again, x_hat, rtol=1e-5, atol=1e-6)
    acts = model.apply(params, cheung.softmax(y_logits), z, method=model.decoder_activations)
    np.testing.assert_allclose(acts[-1], x_hat, rtol=1e-5, atol=1e-6)
    for level in range(len(acts) - 1):
        from_level = model.apply(params, level, acts[level], method=model.decode_from)
        np.testing.assert_allclose(from_level, x_hat, rtol=1e-5, atol=1e-6)


def test_decoder_reads_softmax_not_one_hot():
    model, params = _small_with_params("mnist")
    x = jax.random.uniform(jax.random.key(1), (2, 28, 28))
    y_logits, z, x_hat = model.apply(params, x)
    hard = jax.nn.one_hot(jnp.argmax(y_logits, -1), 10)
    from_hard = model.apply(params, hard, z, method=model.decode)
    assert not np.allclose(from_hard, x_hat, atol=1e-6)


def test_maxout_dropout_is_active_only_when_training():
    model, params = _small_with_params("maxout_mnist")
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28))
    a = model.apply(params, x)
    b = model.apply(params, x)
    np.testing.assert_array_equal(a[2], b[2])
    t1 = model.apply(params, x, train=True, rngs={"dropout": jax.random.key(2)})
    t2 = model.apply(params, x, train=True, rngs={"dropout": jax.random.key(3)})
    assert not np.allclose(t1[0], t2[0])
    with pytest.raises(Exception, match="dropout"):
        model.apply(params, x, train=True)


def test_maxout_units_take_the_max_of_their_pieces():
    model = cheung.XCovAutoencoder(image_shape=(2, 2), label_sets=(("c", 2),), latent_dim=1,
                                   encoder_widths=(3,), decoder_widths=(3,), maxout_pieces=4)
    x = jax.random.uniform(jax.random.key(1), (5, 2, 2))
    params = _numpy_init(model)
    p = params["params"]["encoder_layers_0"]
    pre = x.reshape(5, 4) @ p["kernel"] + p["bias"]
    expected_h = np.asarray(pre).reshape(5, 3, 4).max(-1)  # unit u owns columns 4u..4u+3
    head = params["params"]["head_c"]
    np.testing.assert_allclose(model.apply(params, x, method=model.encode)[0],
                               expected_h @ head["kernel"] + head["bias"], rtol=1e-5)


def test_bad_shapes_are_named():
    model, params = _small_with_params("mnist")
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, 28, 28\)"):
        model.apply(params, jnp.zeros((1, 784)))
    with pytest.raises(ValueError, match=r"z: expected shape \(3, 2\)"):
        model.apply(params, jnp.zeros((3, 10)), jnp.zeros((3, 5)), method=model.decode)
    with pytest.raises(ValueError, match=r"y_hat\['digit'\]: expected shape \(batch, 10\)"):
        model.apply(params, jnp.zeros((3, 7)), jnp.zeros((3, 2)), method=model.decode)
    pie, pie_params = _small_with_params("conv_deconv_multipie")
    with pytest.raises(ValueError, match="y_hat: expected a dict with keys"):
        pie.apply(pie_params, jnp.zeros((1, 13)), jnp.zeros((1, 5)), method=pie.decode)


def test_max_norm_projection_caps_each_units_incoming_weights():
    params = {"dense": {"kernel": jnp.array([[3.0, 0.1], [4.0, 0.2]]), "bias": jnp.array([9.0, 9.0])},
              "conv": {"kernel": jnp.full((2, 2, 1, 3), 1.0)}}
    out = cheung.max_norm_project(params, 0.9)
    np.testing.assert_allclose(out["dense"]["kernel"][:, 0], [0.54, 0.72], rtol=1e-6)  # 5 -> 0.9
    np.testing.assert_allclose(out["dense"]["kernel"][:, 1], [0.1, 0.2])  # norm < 0.9: unchanged
    np.testing.assert_array_equal(out["dense"]["bias"], [9.0, 9.0])
    conv_norms = np.sqrt((np.asarray(out["conv"]["kernel"]) ** 2).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(conv_norms, 0.9, rtol=1e-6)
    again = cheung.max_norm_project(out, 0.9)  # a projection: idempotent
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), again, out)


def test_traversal_grid_sweeps_one_latent_per_class():
    model, params = _small_with_params("mnist")
    grid = cheung.traversal_grid(model, params, latent_index=1, sigma=0.35, steps=5)
    assert grid.shape == (10, 5, 28, 28)
    z = jnp.array([[0.0, -0.7]])
    expected = model.apply(params, jax.nn.one_hot(jnp.array([3]), 10), z, method=model.decode)
    np.testing.assert_allclose(grid[3, 0], expected[0], rtol=1e-5, atol=1e-6)


def test_decoder_jacobian_is_the_product_of_masked_weights_and_drops_inactive_units():
    model, params = _small_with_params("mnist")
    y, z = jax.nn.one_hot(4, 10), jnp.array([0.3, -0.2])
    jacs = cheung.decoder_jacobians(model, params, y, z)
    assert jacs[0][0].shape == (784, 12) and jacs[1][0].shape == (784, model.decoder_widths[0])
    # The decoder is piecewise linear: its Jacobian is the product of the weight matrices with
    # the ReLU masks of the active units between them (float64 NumPy, written out by hand).
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    acts = model.apply(params, y[None], z[None], method=model.decoder_activations)
    mask1, mask2 = (np.asarray(acts[k][0]) > 0 for k in (1, 2))
    w1, w2, w_out = (p[k]["kernel"] for k in ("decoder_layers_0", "decoder_layers_1", "output"))
    by_hand = (w1 * mask1) @ (w2 * mask2) @ w_out  # (12, 784): d x̂ / d {y, z}
    np.testing.assert_allclose(jacs[0][0], by_hand.T, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(jacs[1][0], ((w2 * mask2) @ w_out).T, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(jacs[2][0], w_out.T, rtol=1e-6)
    np.testing.assert_array_equal(jacs[1][1], acts[1][0] != 0)
    spectrum = cheung.normalised_singular_values(*jacs[1])
    assert spectrum[0] == pytest.approx(1.0) and np.all(np.diff(np.asarray(spectrum)) <= 1e-6)
    # Zeroing inactive columns is the same as dropping them (float64 NumPy twin).
    jac, active = (np.asarray(a, np.float64) for a in jacs[1])
    kept = np.linalg.svd(jac[:, active.astype(bool)], compute_uv=False)
    np.testing.assert_allclose(spectrum[: kept.size], kept / kept[0], rtol=1e-4, atol=1e-6)


def test_swap_and_scale_labels_keep_z():
    model, params = _small_with_params("mnist")
    x = jax.random.uniform(jax.random.key(1), (3, 28, 28))
    swapped = cheung.swap_labels(model, params, x)
    assert swapped.shape == (3, 10, 28, 28)
    _, z = model.apply(params, x, method=model.encode)
    direct = model.apply(params, jax.nn.one_hot(jnp.full(3, 7), 10), z, method=model.decode)
    np.testing.assert_allclose(swapped[:, 7], direct, rtol=1e-5, atol=1e-6)
    scales = jnp.linspace(5.0, -5.0, 3)
    scaled = cheung.scaled_labels(model, params, z[0], scales)
    assert scaled.shape == (3, 10, 28, 28)
    by_hand = model.apply(params, -5.0 * jax.nn.one_hot(jnp.array([2]), 10), z[:1],
                          method=model.decode)
    np.testing.assert_allclose(scaled[2, 2], by_hand[0], rtol=1e-5, atol=1e-6)


def test_swap_one_label_set_of_multipie_keeps_the_other():
    model, params = _small_with_params("conv_deconv_multipie")
    x = jax.random.uniform(jax.random.key(1), (2, 48, 48))
    swapped = cheung.swap_labels(model, params, x, label_set="pose")
    assert swapped.shape == (2, 13, 48, 48)
    y_logits, z = model.apply(params, x, method=model.encode)
    y = {"pose": jax.nn.one_hot(jnp.full(2, 5), 13),
         "illumination": jax.nn.softmax(y_logits["illumination"])}
    np.testing.assert_allclose(swapped[:, 5], model.apply(params, y, z, method=model.decode),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tfd", "conv_tfd", "conv_deconv_multipie"])
def test_paper_size_face_models_run(name):
    model = cheung.MODELS[name]()
    x = jax.random.uniform(jax.random.key(1), (2,) + model.image_shape)
    params = model.init(jax.random.key(0), x)
    y_logits, z, x_hat = model.apply(params, x)
    assert x_hat.shape == x.shape and np.all(np.isfinite(x_hat))


def test_jacobian_analysis_is_fig5_per_class_from_the_decoder_jacobians():
    model = cheung.XCovAutoencoder(image_shape=(5, 4), label_sets=(("c", 3),), latent_dim=2,
                                   encoder_widths=(6,), decoder_widths=(7, 6))
    params = model.init(jax.random.key(0), jnp.zeros((1, 5, 4)))
    images, spectra = cheung.jacobian_analysis(model, params)
    assert images.shape == (3, 2, 5, 4)
    assert {name: s.shape for name, s in spectra.items()} == {"{y, z}": (3, 5), "h-3": (3, 7),
                                                             "h-2": (3, 6)}
    jacobians = cheung.decoder_jacobians(model, params, jax.nn.one_hot(1, 3), jnp.zeros(2))
    np.testing.assert_allclose(images[1], jacobians[0][0][:, 3:].T.reshape(2, 5, 4), rtol=1e-6)
    np.testing.assert_allclose(spectra["h-3"][1],
                               cheung.normalised_singular_values(*jacobians[1]), rtol=1e-6)
    with pytest.raises(ValueError, match="one label set"):
        cheung.jacobian_analysis(cheung.conv_deconv_multipie(latent_dim=2), None)
