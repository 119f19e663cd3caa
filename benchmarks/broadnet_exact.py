"""Benchmark: one exact training step of a Broadnet (log-likelihood and its gradient by
enumeration, ``jax.value_and_grad(exact.mean_log_evidence)``), batch 64, D = 784, against the
number of units per cause, for both paths of ``jaxdis.energy.exact``:

  - brute force: all 2^(2N) joint configurations, J written out per pixel (the thesis's way);
  - fast: factorised partition function and one cause summed out in closed form, 2^N terms.

Each step is jitted and compiled before timing; the best of --repeats runs is reported, with the
ratio brute / fast measured in the same run and the device named. Writes the markdown table to
--out (default benchmarks/results/broadnet_exact.md).

    .venv/bin/python benchmarks/broadnet_exact.py                           # CPU: N = 2..16
    .venv/bin/python benchmarks/broadnet_exact.py --units 10,14,16,18,20,22,24 --brute-max 8 \\
        --out benchmarks/results/broadnet_exact_gpu.md                      # on a GPU
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.energy import broadnet, exact
from _timing import best_time  # benchmarks/_timing.py, beside this script


def step_fn(method, chunk_size):
    grad = jax.value_and_grad(exact.mean_log_evidence)
    return jax.jit(lambda p, x: grad(p, x, 1.0, method, chunk_size))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", default="2,4,6,8,10,12,14,16",
                        help="units per cause, comma separated")
    parser.add_argument("--brute-max", type=int, default=8,
                        help="largest units per cause timed on the brute-force path")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--visible", type=int, default=784)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="configurations per chunk of the fast path (default: about 2^20 "
                             "batch x configuration x unit elements on a CPU, 2^24 elsewhere)")
    parser.add_argument("--out", default="benchmarks/results/broadnet_exact.md")
    args = parser.parse_args()

    device = jax.devices()[0]
    device_name = f"{device.platform}:{getattr(device, 'device_kind', '?')}"
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0, 2, (args.batch, args.visible)), jnp.float32)
    fast_step, brute_step = step_fn("fast", args.chunk_size), step_fn("brute", None)
    rows = []
    for n in (int(u) for u in args.units.split(",")):
        params = broadnet.init_params(jax.random.key(n), n, n, args.visible, weight_scale=0.05)
        jax.block_until_ready(fast_step(params, x))  # compile
        fast = best_time(lambda: fast_step(params, x), args.repeats)
        brute = check = None
        if n <= args.brute_max:
            jax.block_until_ready(brute_step(params, x))
            brute = best_time(lambda: brute_step(params, x), args.repeats)
            (_, g_fast), (_, g_brute) = fast_step(params, x), brute_step(params, x)
            check = max(float(jnp.max(jnp.abs(f - b)) / jnp.max(jnp.abs(b)))
                        for f, b in zip(g_fast, g_brute))
        rows.append((n, fast, brute, check))
        print(f"N={n:2d} per cause: fast {fast:.4g} s/step"
              + (f", brute {brute:.4g} s/step, brute/fast {brute / fast:.1f}x, "
                 f"rel. diff {check:.1e}" if brute is not None else ""), flush=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [
        "# Exact Broadnet log-likelihood + gradient per step (benchmarks/broadnet_exact.py)",
        "",
        f"Device: {device_name} ({platform.processor() or platform.machine()}, "
        f"{jax.device_count()} device(s)); jax {jax.__version__}; commit {commit}; "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine).",
        f"Batch {args.batch}, D = {args.visible}, float32, best of {args.repeats}, compiled "
        "beforehand. `rel. diff`: max |fast - brute| / max |brute| of the gradient, worst "
        "parameter.",
        "",
        "| units per cause | joint configurations | fast (s/step) | brute force (s/step) "
        "| brute / fast | rel. diff |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, fast, brute, check in rows:
        lines.append(f"| {n} | 2^{2 * n} | {fast:.3g} | "
                     + (f"{brute:.3g} | {brute / fast:.1f}x | {check:.1e} |" if brute is not None
                        else "not run | | |"))
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
