"""The dense network every model of thesis Part III is built from.

``MLP(hidden=(1000, 1000), out=N)`` is ``input -> 1000 -> relu -> 1000 -> relu -> N``: each hidden
layer is followed by a ReLU, the output layer by ``output_activation`` (none, or a sigmoid for
decoders whose data lie in [0, 1], thesis section 8.4 and thesis eq. 9.15). Weights are
Glorot-uniform and biases zero (thesis section 9.3: "All weights use Glorot initialisation [22] and
biases are initialised at zero").
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

glorot_uniform = nn.initializers.glorot_uniform()
zeros = nn.initializers.zeros_init()

ACTIVATIONS = {"none": None, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}


class MLP(nn.Module):
    """``x (..., D) -> (..., out)``: Dense layers of widths ``hidden``, each followed by a ReLU,
    then a Dense layer of width ``out`` followed by ``output_activation``."""

    hidden: Sequence[int]
    out: int
    output_activation: str = "none"

    @nn.compact
    def __call__(self, x):
        if self.output_activation not in ACTIVATIONS:
            raise ValueError(f"MLP.output_activation: expected one of {sorted(ACTIVATIONS)}, "
                             f"got {self.output_activation!r}")
        if x.ndim < 1 or not jnp.issubdtype(x.dtype, jnp.floating):
            raise ValueError(f"MLP input: expected a floating array (..., features), got "
                             f"{x.dtype} of shape {x.shape}")
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, kernel_init=glorot_uniform, bias_init=zeros)(x))
        x = nn.Dense(self.out, kernel_init=glorot_uniform, bias_init=zeros)(x)
        activation = ACTIVATIONS[self.output_activation]
        return x if activation is None else activation(x)


def dense_macs(in_dim: int, hidden: Sequence[int], out: int) -> int:
    """Multiply-accumulates of one example through ``MLP(hidden, out)`` on ``in_dim`` inputs
    (the counted FLOPs of the benchmarks are 2 per MAC)."""
    widths = [in_dim, *hidden, out]
    return sum(a * b for a, b in zip(widths[:-1], widths[1:]))
