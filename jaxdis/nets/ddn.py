"""The networks of the Discriminative Disentangling Network (thesis ch. 9, Fig. 9.2 and 9.3).

Seven dense networks, in three roles (the roles get their own optimizers, section 9.3; the
decoders have a sigmoid output)::

    encoders    f_a: x -> z_a,  f_b: x -> z_b                         (thesis eq. 9.13)
    predictors  q_ab: z_a -> prediction of z_b,  q_ba: z_b -> of z_a   (thesis eq. 9.14)
    decoders    g_a: z_a -> x,  g_b: z_b -> x,  g_ab: (z_a, z_b) -> x  (thesis eq. 9.15)

An architecture is named as in section 9.3 by (N, Le, Lp, Ld): N code units per cause and Le, Lp,
Ld hidden layers of ``hidden`` (1000) units in the encoders, predictors and decoders (0 layers: a
linear map, for the "too shallow" end of section 9.5.2).

``shared_encoder=True`` is the ablation of section 9.5.1: one encoder ``f_ab: x -> (z_a, z_b)``
(2N outputs, split in half) replaces f_a and f_b. The thesis found it unstable.

``code_norm="batch"`` is NOT in the thesis: each code is standardised over the batch right at the
encoder's output (:func:`standardize_codes`), per unit j over the B rows of the batch::

    z_ij <- (z_ij - mean_i z_ij) / sqrt(var_i z_ij + eps),   var the biased variance, eps = 1e-5

Why: the encoding loss z_a . q_ba(z_b) (thesis eq. 9.6) can be lowered by shrinking the code as
well as by making it unpredictable, and shrinking codes (then dead ReLUs) is how our stage-1 runs
fail (experiments/results/part3.md). With unit-variance codes, thesis eq. 9.6 becomes a correlation
between the code and its prediction that the encoder can only remove. The normalisation is part of
the encoder's forward pass (:func:`apply_network`), so every consumer (predictors, encoding losses,
decoders, reconstruction terms, the XCov baseline, probes) sees the normalised code, and the
gradient flows through the batch statistics, like batch normalisation in training. There are no
learned scale and shift (they would give the shrinking back). Statistics are always those of the
rows passed in: a minibatch in training, the whole probe set when a probe set is encoded in one
call (the per-epoch probe metrics, the final codes of ``jaxdis run ddn``). For a shared encoder
f_ab the 2N units are standardised the same way, which is each half standardised.

Parameters are ``{"encoders": {"f_a", "f_b"}, "predictors": {"q_ab", "q_ba"}, "decoders":
{"g_a", "g_b", "g_ab"}}``, each leaf dict the Flax parameters of one :class:`~jaxdis.nets.mlp.MLP`.
The losses and the training stages that use them are in :mod:`jaxdis.train.ddn`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxdis.nets.mlp import MLP, dense_macs

ROLE_OF_NETWORK = {"f_a": "encoders", "f_b": "encoders", "q_ab": "predictors",
                   "q_ba": "predictors", "g_a": "decoders", "g_b": "decoders", "g_ab": "decoders",
                   "f_ab": "encoders"}  # f_ab: the shared encoder of the ablation only
ROLES = ("encoders", "predictors", "decoders")
ENCODERS = ("f_a", "f_b", "f_ab")
CODE_NORMS = ("none", "batch")
CODE_NORM_EPS = 1e-5


def check_code_norm(code_norm) -> None:
    """Raises ValueError naming the valid values unless ``code_norm`` is one of CODE_NORMS."""
    if code_norm not in CODE_NORMS:
        raise ValueError(f"code_norm: expected one of {', '.join(CODE_NORMS)}, got {code_norm!r}")


def standardize_codes(z: jax.Array, eps: float = CODE_NORM_EPS) -> jax.Array:
    """Each unit (column) of ``z`` (batch, units) standardised over the batch: zero mean and
    variance var / (var + eps), i.e. unit variance unless the unit is nearly constant (a constant
    unit becomes 0). Differentiable through the mean and the variance."""
    mean = jnp.mean(z, axis=0, keepdims=True)
    variance = jnp.mean(jnp.square(z - mean), axis=0, keepdims=True)
    return (z - mean) * jax.lax.rsqrt(variance + eps)


@dataclasses.dataclass(frozen=True)
class DDNArchitecture:
    """(N, Le, Lp, Ld) of thesis section 9.3, plus the input size and the hidden width."""

    input_dim: int
    n_code: int = 10
    encoder_layers: int = 1
    predictor_layers: int = 1
    decoder_layers: int = 1
    hidden: int = 1000
    shared_encoder: bool = False
    code_norm: str = "none"   # or "batch": codes standardised over the batch (not the thesis)

    def __post_init__(self):
        for name in ("input_dim", "n_code", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DDNArchitecture.{name}: expected a positive int, got {value!r}")
        for name in ("encoder_layers", "predictor_layers", "decoder_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"DDNArchitecture.{name}: expected an int >= 0, got {value!r}")
        if not isinstance(self.shared_encoder, bool):
            raise ValueError(f"DDNArchitecture.shared_encoder: expected a bool, got "
                             f"{self.shared_encoder!r}")
        check_code_norm(self.code_norm)

    @property
    def network_names(self) -> tuple[str, ...]:
        """The networks this architecture has: f_ab in place of f_a and f_b if shared."""
        encoders = ("f_ab",) if self.shared_encoder else ("f_a", "f_b")
        return encoders + ("q_ab", "q_ba", "g_a", "g_b", "g_ab")

    def network(self, name: str) -> MLP:
        if name not in self.network_names:
            raise ValueError(f"DDN network: expected one of {self.network_names}, got {name!r}")
        if name in ("f_a", "f_b", "f_ab"):
            width = 2 * self.n_code if name == "f_ab" else self.n_code
            return MLP((self.hidden,) * self.encoder_layers, width)
        if name in ("q_ab", "q_ba"):
            return MLP((self.hidden,) * self.predictor_layers, self.n_code)
        if name in ("g_a", "g_b", "g_ab"):
            return MLP((self.hidden,) * self.decoder_layers, self.input_dim, "sigmoid")

    def network_input_dim(self, name: str) -> int:
        return {"f": self.input_dim, "q": self.n_code,
                "g": 2 * self.n_code if name == "g_ab" else self.n_code}[name[0]]

    def macs(self, name: str) -> int:
        """Multiply-accumulates of one example through network ``name``."""
        net = self.network(name)
        return dense_macs(self.network_input_dim(name), net.hidden, net.out)


def init_ddn(key: jax.Array, arch: DDNArchitecture) -> dict:
    """Glorot weights and zero biases for the networks, grouped by role (a shared encoder f_ab
    takes f_a's key, so the other networks start as in the split model)."""
    keys = dict(zip(("f_a", "f_b", "q_ab", "q_ba", "g_a", "g_b", "g_ab"), jax.random.split(key, 7)))
    keys["f_ab"] = keys["f_a"]
    params = {role: {} for role in ROLES}
    for name in arch.network_names:
        net_key, role = keys[name], ROLE_OF_NETWORK[name]
        dummy = jnp.zeros((1, arch.network_input_dim(name)), jnp.float32)
        params[role][name] = arch.network(name).init(net_key, dummy)["params"]
    return params


def apply_network(arch: DDNArchitecture, params: dict, name: str, inputs: jax.Array) -> jax.Array:
    """Network ``name`` of the DDN applied to ``inputs`` (batch, in_dim). An encoder's output is
    its code as the rest of the DDN sees it: with ``arch.code_norm == "batch"``, standardised over
    the rows of ``inputs`` (see the module docstring)."""
    expected = arch.network_input_dim(name)
    if inputs.ndim != 2 or inputs.shape[-1] != expected:
        raise ValueError(f"DDN {name} input: expected shape (batch, {expected}), got {inputs.shape}")
    net_params = params[ROLE_OF_NETWORK[name]][name]
    out = arch.network(name).apply({"params": net_params}, inputs)
    if name in ENCODERS and arch.code_norm == "batch":
        out = standardize_codes(out)
    return out


def encode(arch: DDNArchitecture, params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(z_a, z_b) = (f_a(x), f_b(x)), thesis eq. 9.13; the two halves of f_ab(x) if shared.
    With ``code_norm="batch"`` the codes are standardised over the rows of ``x``: encode a whole
    probe set in one call to use its statistics."""
    if arch.shared_encoder:
        z = apply_network(arch, params, "f_ab", x)
        return z[..., :arch.n_code], z[..., arch.n_code:]
    return apply_network(arch, params, "f_a", x), apply_network(arch, params, "f_b", x)


def decode(arch: DDNArchitecture, params: dict, z_a: jax.Array, z_b: jax.Array):
    """(y_a, y_b, y_ab) = (g_a(z_a), g_b(z_b), g_ab(z_a, z_b)), thesis eq. 9.10 and 9.15."""
    return (apply_network(arch, params, "g_a", z_a), apply_network(arch, params, "g_b", z_b),
            apply_network(arch, params, "g_ab", jnp.concatenate([z_a, z_b], axis=-1)))


def cross_decode(arch: DDNArchitecture, params: dict, z_a: jax.Array, z_b: jax.Array):
    """The joint decodings of every pairing of a row of ``z_a`` (n, N) with a row of ``z_b``
    (m, N): (m, n, input_dim) with [i, j] = g_ab(z_a[j], z_b[i]), the cross plot of thesis Fig.
    9.6 (columns share z_a, rows share z_b). Disentangled codes show z_a's cause along each row
    and z_b's down each column."""
    pairs = jnp.concatenate([jnp.repeat(z_a[None], len(z_b), 0),
                             jnp.repeat(z_b[:, None], len(z_a), 1)], axis=-1)
    return jax.vmap(lambda z: decode(arch, params, z[:, :arch.n_code], z[:, arch.n_code:])[2])(
        pairs)
