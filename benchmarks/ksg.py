"""Benchmark: jaxdis.metrics.ksg_mi against a scipy cKDTree implementation of the same estimator.

For N in --sizes (dx = dy = 10, correlated Gaussians), times in the same run:
  - the cKDTree KSG estimator (float64, one core: workers=1), one run;
  - ksg_mi (float32, jitted, compiled beforehand), one run;
  - ksg_mi under jax.vmap over --runs independent runs, one call;
and prints ratios against the cKDTree time, naming the device. Writes the markdown table to
--out (default benchmarks/results/ksg.md).

    .venv/bin/python benchmarks/ksg.py                      # N = 1,000, 5,000, 25,000
    .venv/bin/python benchmarks/ksg.py --sizes 1000 --runs 4 --repeats 1
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from jaxdis.metrics import ksg_mi
from _timing import best_time  # benchmarks/_timing.py, beside this script


def ksg_kdtree(x, y, k=3):
    """The baseline: KSG estimator 1 with k-d trees (same definition as ksg_mi), one core."""
    n = len(x)
    joint = np.hstack([x, y])
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=1)[0][:, k]
    radius = np.nextafter(eps, 0.0)

    def strictly_closer(values):
        counts = cKDTree(values).query_ball_point(
            values, radius, p=np.inf, return_length=True, workers=1
        )
        return np.where(eps > 0, counts - 1, 0)

    n_x, n_y = strictly_closer(x), strictly_closer(y)
    return digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1))


def correlated_codes(rng, runs, n, dim=10, rho=0.5):
    x = rng.normal(size=(runs, n, dim))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(runs, n, dim))
    return x, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 25000])
    parser.add_argument("--runs", type=int, default=30, help="runs scored by one vmapped call")
    parser.add_argument("--tile-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many (JAX timings)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "ksg.md"))
    parser.add_argument("--append", action="store_true", help="add a section to --out")
    args = parser.parse_args()

    device = jax.devices()[0]
    device_name = f"{device.platform}: {device.device_kind}"
    single = jax.jit(lambda x, y: ksg_mi(x, y, tile_size=args.tile_size))
    batched = jax.jit(jax.vmap(lambda x, y: ksg_mi(x, y, tile_size=args.tile_size)))
    rng = np.random.default_rng(0)

    header = (
        f"| N | cKDTree, 1 run (s) | ksg_mi, 1 run (s) | speed-up, 1 run | "
        f"ksg_mi, {args.runs} runs vmapped (s) | cKDTree time for 1 run / ksg_mi time for "
        f"{args.runs} | |estimate difference| (nats) |"
    )
    rows = [header, "|" + " --- |" * 7]
    print(f"device: {device_name}; dx = dy = 10, k = 3, tile {args.tile_size}")
    print(header, flush=True)
    for n in args.sizes:
        x, y = correlated_codes(rng, args.runs, n)
        x32, y32 = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
        start = time.perf_counter()
        reference = ksg_kdtree(x[0], y[0])
        kdtree_s = time.perf_counter() - start

        single_compiled = single.lower(x32[0], y32[0]).compile()  # compile outside the timing
        batched_compiled = batched.lower(x32, y32).compile()
        ours = float(single_compiled(x32[0], y32[0]))
        single_s = best_time(lambda: single_compiled(x32[0], y32[0]).block_until_ready(), args.repeats)
        batched_s = best_time(lambda: batched_compiled(x32, y32).block_until_ready(), args.repeats)

        row = (
            f"| {n:,} | {kdtree_s:.3f} | {single_s:.4f} | {kdtree_s / single_s:.1f}x | "
            f"{batched_s:.3f} | {kdtree_s / batched_s:.2f}x | {abs(ours - reference):.1e} |"
        )
        rows.append(row)
        print(row, flush=True)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    title = f"## tile_size {args.tile_size}" if args.append else "# KSG mutual information: ksg_mi against scipy cKDTree"
    text = "\n".join(
        [
            title,
            "",
            f"Device: **{device_name}** ({platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} logical CPUs seen by the process). "
            f"Date {datetime.date.today()}, commit {commit}. "
            f"Command: `.venv/bin/python benchmarks/ksg.py "
            f"--sizes {' '.join(map(str, args.sizes))} --runs {args.runs} "
            f"--tile-size {args.tile_size} --repeats {args.repeats}"
            f"{' --append' if args.append else ''}`.",
            "",
            "dx = dy = 10, k = 3, correlated Gaussians (rho = 0.5 per coordinate). cKDTree: float64, "
            "workers=1, timed once. ksg_mi: float32, jitted and compiled before timing, best of "
            f"{args.repeats}. The last column compares the two estimates of the same run "
            "(float32 against float64). "
            f"Load average when it finished: {os.getloadavg()[0]:.1f} (a shared machine: "
            "absolute times are noisy; both implementations ran under the same load).",
            "",
            *rows,
            "",
        ]
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "a" if args.append else "w") as f:
        f.write(("\n" if args.append else "") + text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
