"""The DDN's and the ASAE's networks: the architectures of thesis eq. 9.13-9.15 and section 8.4,
Glorot weights and zero biases (section 9.3), output ranges, clear shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.nets import (MLP, ASAEArchitecture, DDNArchitecture, asae_apply, decode, encode,
                         init_asae, init_ddn)

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
