"""The DDN's and the ASAE's networks: the architectures of thesis eq. 9.13-9.15 and section 8.4,
Glorot weights and zero biases (section 9.3), output ranges, clear shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.nets import (MLP, ASAEArchitecture, DDNArchitecture, asae_apply, decode, encode,
                         init_asae, init_ddn)
from jaxdis.losses import ddn_encoding_loss
from jaxdis.nets.ddn import CODE_NORM_EPS, cross_decode, standardize_codes

ADDITIVE = DDNArchitecture(input_dim=784, n_code=10, encoder_layers=2, predictor_layers=2,
                           decoder_layers=1)


def _kernel_shapes(net_params):
    return [tuple(layer["kernel"].shape) for _, layer in sorted(net_params.items(),
                                                                key=lambda kv: int(kv[0][6:]))]


def test_ddn_layers_follow_eq_9_13_to_9_15():
    params = jax.eval_shape(lambda k: init_ddn(k, ADDITIVE), jax.random.PRNGKey(0))
    assert _kernel_shapes(params["encoders"]["f_a"]) == [(784, 1000), (1000, 1000), (1000, 10)]
    assert _kernel_shapes(params["predictors"]["q_ab"]) == [(10, 1000), (1000, 1000), (1000, 10)]
    assert _kernel_shapes(params["decoders"]["g_a"]) == [(10, 1000), (1000, 784)]
    assert _kernel_shapes(params["decoders"]["g_ab"]) == [(20, 1000), (1000, 784)]
    assert set(params) == {"encoders", "predictors", "decoders"}


def test_weights_are_glorot_uniform_and_biases_zero():
    arch = DDNArchitecture(input_dim=300, n_code=10, hidden=500)
    params = init_ddn(jax.random.PRNGKey(1), arch)
    kernel = np.asarray(params["encoders"]["f_a"]["Dense_0"]["kernel"])  # 300 x 500
    limit = np.sqrt(6 / (300 + 500))
    assert np.abs(kernel).max() <= limit
    assert np.std(kernel) == pytest.approx(limit / np.sqrt(3), rel=0.02)  # uniform's std
    biases = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
              if "bias" in jax.tree_util.keystr(path)]
    assert biases and all(np.all(np.asarray(b) == 0) for b in biases)


def test_codes_are_linear_and_decoders_end_in_a_sigmoid():
    arch = DDNArchitecture(input_dim=20, n_code=4, hidden=16)
    params = init_ddn(jax.random.PRNGKey(2), arch)
    x = jax.random.uniform(jax.random.PRNGKey(3), (50, 20)) * 10
    z_a, z_b = encode(arch, params, x)
    assert z_a.shape == z_b.shape == (50, 4) and float(jnp.min(z_a)) < 0  # no ReLU on the code
    for y in decode(arch, params, z_a, z_b):
        assert y.shape == (50, 20) and float(y.min()) >= 0 and float(y.max()) <= 1


def test_a_cross_decoding_pairs_each_z_a_column_with_each_z_b_row():
    arch = DDNArchitecture(input_dim=20, n_code=4, hidden=16)
    params = init_ddn(jax.random.PRNGKey(2), arch)
    z_a, z_b = encode(arch, params, jax.random.uniform(jax.random.PRNGKey(3), (5, 20)))
    grid = cross_decode(arch, params, z_a[:3], z_b[1:5])
    assert grid.shape == (4, 3, 20)
    for i in range(4):
        for j in range(3):
            one = decode(arch, params, z_a[j:j + 1], z_b[1 + i:2 + i])[2][0]
            np.testing.assert_allclose(grid[i, j], one, rtol=1e-5, atol=1e-6)


def test_asae_halves_follow_section_8_4_and_their_outputs_add():
    arch = ASAEArchitecture(input_dim=30, n_code=2, hidden=12)
    params = init_asae(jax.random.PRNGKey(4), arch)
    enc = params["autoencoders"]["a"]["encoder"]
    dec = params["autoencoders"]["b"]["decoder"]
    assert [enc["Dense_0"]["kernel"].shape, enc["Dense_1"]["kernel"].shape] == [(30, 12), (12, 2)]
    assert [dec["Dense_0"]["kernel"].shape, dec["Dense_1"]["kernel"].shape] == [(2, 12), (12, 30)]
    x = jax.random.uniform(jax.random.PRNGKey(5), (7, 30))
    z_a, z_b, y_a, y_b = asae_apply(arch, params, x)
    assert z_a.shape == z_b.shape == (7, 2)
    assert 0 <= float(y_a.min()) and float(y_a.max()) <= 1 and y_b.shape == (7, 30)
    assert not np.allclose(y_a, y_b)  # two independently initialised halves


def test_mlp_checks_its_input_and_options():
    mlp = MLP((4,), 2)
    params = mlp.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="floating"):
        mlp.apply(params, jnp.zeros((1, 3), jnp.int32))
    with pytest.raises(ValueError, match="output_activation"):
        MLP((4,), 2, "tanh").init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))


def test_networks_name_the_expected_input_shape():
    arch = DDNArchitecture(input_dim=20, n_code=4, hidden=8)
    params = init_ddn(jax.random.PRNGKey(0), arch)
    with pytest.raises(ValueError, match=r"f_a input: expected shape \(batch, 20\)"):
        encode(arch, params, jnp.zeros((5, 21)))
    with pytest.raises(ValueError, match="positive int"):
        DDNArchitecture(input_dim=20, hidden=0)
    with pytest.raises(ValueError, match="int >= 0"):
        DDNArchitecture(input_dim=20, decoder_layers=-2)
    asae = ASAEArchitecture(input_dim=10)
    with pytest.raises(ValueError, match=r"ASAE input x"):
        asae_apply(asae, init_asae(jax.random.PRNGKey(0), asae), jnp.zeros((3, 11)))


# ------------------------------------------------------------ code_norm="batch" (not the thesis)

def _with_last_encoder_layer_scaled(params, name, factor):
    """``params`` with the last Dense layer (kernel and bias) of encoder ``name`` times factor."""
    net = dict(params["encoders"][name])
    last = max(net, key=lambda layer: int(layer.split("_")[1]))
    net[last] = {k: factor * v for k, v in net[last].items()}
    return {**params, "encoders": {**params["encoders"], name: net}}


def test_standardized_codes_have_zero_mean_and_unit_variance_per_unit():
    scales = jnp.array([1e-2, 1.0, 30.0, 3e3])
    z = (2.0 + jax.random.normal(jax.random.PRNGKey(0), (200, 4))) * scales
    s = np.asarray(standardize_codes(z), np.float64)
    np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=1e-5)
    variance = np.asarray(jnp.var(z, axis=0), np.float64)
    np.testing.assert_allclose(s.var(axis=0), variance / (variance + CODE_NORM_EPS), rtol=1e-4)
    np.testing.assert_allclose(s.var(axis=0)[1:], 1.0, rtol=1e-4)  # eps matters for tiny units
    assert np.all(np.asarray(standardize_codes(jnp.ones((8, 3)))) == 0)  # a constant unit is 0


def test_batch_code_norm_standardises_every_encoders_output_over_the_batch():
    x = jax.random.uniform(jax.random.PRNGKey(1), (64, 20))
    for shared in (False, True):
        plain = DDNArchitecture(input_dim=20, n_code=4, hidden=16, shared_encoder=shared)
        normed = DDNArchitecture(input_dim=20, n_code=4, hidden=16, shared_encoder=shared,
                                 code_norm="batch")
        params = init_ddn(jax.random.PRNGKey(2), plain)  # the norm has no parameters
        for raw, code in zip(encode(plain, params, x), encode(normed, params, x)):
            np.testing.assert_allclose(code, standardize_codes(raw), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(np.mean(code, 0), 0.0, atol=1e-5)
            np.testing.assert_allclose(np.std(code, 0), 1.0, rtol=1e-3)
    with pytest.raises(ValueError, match="code_norm: expected one of none, batch"):
        DDNArchitecture(input_dim=20, code_norm="layer")


def test_shrinking_an_encoder_cannot_shrink_its_normalised_code():
    """Scaling f_a's last layer by 0.1 scales its raw code, and so eq. 9.6's dot product, by 0.1.
    The normalised code is unchanged up to eps: standardize(0.1 z, eps) = standardize(z, 100 eps)
    exactly, which differs from standardize(z, eps) by the factor
    sqrt((var + eps) / (var + 100 eps)) per unit, under 1% here (var 0.05 to 0.15 for this small
    untrained encoder; about 0.03 at the thesis's sizes, where the factor is still above 0.98)."""
    arch = DDNArchitecture(input_dim=20, n_code=4, hidden=16, code_norm="batch")
    plain = DDNArchitecture(input_dim=20, n_code=4, hidden=16)
    x = jax.random.uniform(jax.random.PRNGKey(3), (128, 20))
    params = init_ddn(jax.random.PRNGKey(4), arch)
    shrunk = _with_last_encoder_layer_scaled(params, "f_a", 0.1)
    z_a, z_b = encode(arch, params, x)
    z_a_shrunk, z_b_same = encode(arch, shrunk, x)
    raw, raw_shrunk = encode(plain, params, x)[0], encode(plain, shrunk, x)[0]
    np.testing.assert_allclose(raw_shrunk, 0.1 * raw, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z_a_shrunk, standardize_codes(raw, 100 * CODE_NORM_EPS),
                               rtol=1e-5, atol=1e-5)
    variance = np.var(np.asarray(raw), axis=0)
    factor = np.sqrt((variance + CODE_NORM_EPS) / (variance + 100 * CODE_NORM_EPS))
    np.testing.assert_allclose(z_a_shrunk, z_a * factor, rtol=1e-4, atol=1e-5)
    assert np.all(factor > 0.99)
    np.testing.assert_array_equal(z_b_same, z_b)
    # A predictor that has caught the code (q_ba(z_b) = z_a): shrinking f_a cuts the plain
    # eq. 9.6 tenfold, the normalised one by the eps factor only.
    plain_ratio = ddn_encoding_loss(raw_shrunk, raw) / ddn_encoding_loss(raw, raw)
    normed_ratio = ddn_encoding_loss(z_a_shrunk, z_a) / ddn_encoding_loss(z_a, z_a)
    assert float(plain_ratio) == pytest.approx(0.1, rel=1e-4)
    assert 0.99 < float(normed_ratio) <= 1.0
