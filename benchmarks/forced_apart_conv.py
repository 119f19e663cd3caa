"""Benchmark: the Forced Apart CNN as a vmapped stack of models, two convolution implementations.

Table 1 of Forced Apart trains one CNN per (loss, seed): 5 losses x 3 seeds = 15 models, stacked
and vmapped into one program. Vmapping `nn.Conv` over a stack of kernels becomes a grouped
convolution, which XLA's CPU backend runs slowly. `conv="shifted"`
(:class:`jaxdis.nets.forced_apart.ShiftedConv`: each convolution as shifted matrix products, each
2x2 pool a reshape) computes the same function with the same parameters. This script times one
gradient step (binary cross-entropy of the sigmoid output, value and gradient of the whole
stack) of both on the same parameters and batch, checks that they agree, and prints the ratio and
the device. It writes a markdown table to --out (default benchmarks/results/forced_apart_conv.md).

    .venv/bin/python benchmarks/forced_apart_conv.py
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_time, measured_on  # noqa: E402

from jaxdis.nets.forced_apart import grey28_cnn  # noqa: E402


def stacked_step(model, params, images, labels):
    """Mean over models of the binary cross-entropy, and its gradient for every model."""
    def loss(p):
        logit, _ = model.apply(p, images)
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logit, labels))

    return jax.vmap(jax.value_and_grad(loss))(params)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=str, default="1,15", help="stack sizes")
    parser.add_argument("--width", type=float, default=0.125, help="filter scale (1.0: paper)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/forced_apart_conv.md")
    args = parser.parse_args()
    key = jax.random.PRNGKey(0)
    images = jax.random.uniform(key, (args.batch, 28, 28, 1))
    labels = (jax.random.uniform(jax.random.fold_in(key, 1), (args.batch,)) > 0.5).astype(
        jnp.float32)
    rows = []
    for n_models in (int(m) for m in args.models.split(",")):
        keys = jax.random.split(jax.random.fold_in(key, 2), n_models)
        params = jax.vmap(lambda k: grey28_cnn(args.width, "lax").init(k, images[:1]))(keys)
        times, results = {}, {}
        for conv in ("lax", "shifted"):
            model = grey28_cnn(args.width, conv)
            step = jax.jit(lambda p, m=model: stacked_step(m, p, images, labels))
            results[conv] = jax.block_until_ready(step(params))  # compiles
            times[conv] = best_time(lambda s=step: s(params), args.repeats)
        value_error = float(jnp.max(jnp.abs(results["lax"][0] - results["shifted"][0])))
        grad_error = max(float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(a)) + 1e-30))
                         for a, b in zip(jax.tree.leaves(results["lax"][1]),
                                         jax.tree.leaves(results["shifted"][1])))
        rows.append((n_models, times["lax"], times["shifted"], times["lax"] / times["shifted"],
                     value_error, grad_error))
        print(f"{n_models} models: lax {times['lax']:.3f} s, shifted {times['shifted']:.3f} s, "
              f"speed-up {times['lax'] / times['shifted']:.1f}x; loss difference "
              f"{value_error:.1e}, largest relative gradient difference {grad_error:.1e}")

    lines = [
        "# Forced Apart CNN: vmapped `nn.Conv` against shifted matrix products",
        "",
        measured_on(f".venv/bin/python benchmarks/forced_apart_conv.py --models {args.models} "
                    f"--width {args.width} --batch {args.batch} --repeats {args.repeats}",
                    "the ratio is measured in the same run"),
        "",
        f"One jitted value-and-gradient step of a stack of `grey28_cnn(width={args.width})` "
        f"models (28x28x1 images, batch {args.batch}), best of {args.repeats}; both "
        "implementations on the same parameters and batch.",
        "",
        "| models | nn.Conv (s) | shifted (s) | speed-up | max loss difference | max relative "
        "gradient difference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {n} | {a:.3f} | {b:.3f} | {r:.1f}x | {v:.1e} | {g:.1e} |"
              for n, a, b, r, v, g in rows]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
