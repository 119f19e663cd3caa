"""The Additive Split Autoencoder (ASAE, thesis ch. 8, Fig. 8.2).

Two standard autoencoders read the same input x; their outputs are added, y = y_a + y_b. Each is
(section 8.4)::

    input -> 1000 -> relu -> N -> 1000 -> relu -> input -> sigmoid

with a linear code layer of N units ("causes" z_a and z_b). Parameters are
``{"autoencoders": {"a": {"encoder", "decoder"}, "b": {...}}}``: one role, since both halves are
trained by the same RMSprop (learning rate 1e-3, minibatch 128).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxdis.nets.mlp import MLP, dense_macs


@dataclasses.dataclass(frozen=True)
class ASAEArchitecture:
    input_dim: int
    n_code: int = 10
    hidden: int = 1000

    def __post_init__(self):
        for name in ("input_dim", "n_code", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ASAEArchitecture.{name}: expected a positive int, got {value!r}")

    def encoder(self) -> MLP:
        return MLP((self.hidden,), self.n_code)

    def decoder(self) -> MLP:
        return MLP((self.hidden,), self.input_dim, "sigmoid")

    def macs(self) -> int:
        """Multiply-accumulates of one example through both autoencoders."""
        return 2 * (dense_macs(self.input_dim, (self.hidden,), self.n_code)
                    + dense_macs(self.n_code, (self.hidden,), self.input_dim))


def init_asae(key: jax.Array, arch: ASAEArchitecture) -> dict:
    """Glorot weights and zero biases for both autoencoders."""
    keys = jax.random.split(key, 4)
    x = jnp.zeros((1, arch.input_dim), jnp.float32)
    z = jnp.zeros((1, arch.n_code), jnp.float32)
    halves = {}
    for half, (k_enc, k_dec) in zip(("a", "b"), (keys[:2], keys[2:])):
        halves[half] = {"encoder": arch.encoder().init(k_enc, x)["params"],
                        "decoder": arch.decoder().init(k_dec, z)["params"]}
    return {"autoencoders": halves}


def asae_apply(arch: ASAEArchitecture, params: dict, x: jax.Array):
    """(z_a, z_b, y_a, y_b) for x (batch, input_dim); the ASAE's output is y_a + y_b."""
    if x.ndim != 2 or x.shape[-1] != arch.input_dim:
        raise ValueError(f"ASAE input x: expected shape (batch, {arch.input_dim}), got {x.shape}")
    outputs = []
    for half in ("a", "b"):
        p = params["autoencoders"][half]
        z = arch.encoder().apply({"params": p["encoder"]}, x)
        outputs.append((z, arch.decoder().apply({"params": p["decoder"]}, z)))
    (z_a, y_a), (z_b, y_b) = outputs
    return z_a, z_b, y_a, y_b
