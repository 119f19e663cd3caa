"""Benchmark: the pairwise Forced Apart loss and XCov at large batches (jaxdis.losses).

1. `forced_apart_multi` (Forced Apart eq. 8, KL) forward value against a nested Python loop over
   pairs in NumPy (the paper's "two nested for loops"), at small batches where the loop is
   feasible.
2. `jax.value_and_grad(forced_apart_multi)` for batch 512 to 8,192: the library's row blocks
   (256 rows, recomputed in the backward pass) against the one-block full (N, N) matrix form
   (`rows_per_block=N`), time and XLA temp memory, plus the JS divergence at the library default.
3. `jax.value_and_grad(xcov)` for large batches against a float64 NumPy matrix form (forward
   only), and against a nested loop over unit pairs at the smallest batch.

Times are the best of --repeats runs of compiled functions; memory is the temp allocation that
XLA reports for the compiled program (`compiled.memory_analysis().temp_size_in_bytes`: scratch
beyond inputs and outputs). Every ratio is measured in the same run on the device named. Writes a
markdown table to --out (default benchmarks/results/losses.md).

    .venv/bin/python benchmarks/losses.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.losses import forced_apart_multi, xcov
from _timing import best_time  # benchmarks/_timing.py, beside this script


def compiled_with_memory(fn, *args):
    """The compiled program and its temp memory in bytes (None where XLA does not report it)."""
    compiled = jax.jit(fn).lower(*args).compile()
    analysis = compiled.memory_analysis()
    temp = getattr(analysis, "temp_size_in_bytes", None) if analysis is not None else None
    return compiled, temp


def megabytes(n_bytes):
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:.1f}"


def forced_apart_loop(h, labels, margin):
    """Forced Apart eq. 8 with two nested loops over pairs, in float64 NumPy."""
    p = np.exp(h - h.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    log_p = np.log(p)
    n, total = len(h), 0.0
    for i in range(n):
        for j in range(i + 1, n):
            if labels[i] == labels[j]:
                kl_ij = np.sum(p[i] * (log_p[i] - log_p[j]))
                kl_ji = np.sum(p[j] * (log_p[j] - log_p[i]))
                total += max(0.0, margin - kl_ij) + max(0.0, margin - kl_ji)
    return total / n**2


def xcov_loop(y, z):
    """Cheung et al. eq. 6 with a loop over unit pairs (i, j), the sum over examples vectorised."""
    y_c, z_c = y - y.mean(axis=0), z - z.mean(axis=0)
    total = 0.0
    for i in range(y.shape[1]):
        for j in range(z.shape[1]):
            total += 0.5 * (np.dot(y_c[:, i], z_c[:, j]) / len(y)) ** 2
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop-batches", default="128,256,512")
    parser.add_argument("--batches", default="512,1024,2048,4096,8192")
    parser.add_argument("--js-batches", default="512,1024,2048")
    parser.add_argument("--xcov-batches", default="1000,10000,100000,1000000")
    parser.add_argument("--units", type=int, default=16, help="width D of the Forced Apart layer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/losses.md")
    args = parser.parse_args()
    ints = lambda text: [int(v) for v in text.split(",") if v]

    device = jax.devices()[0]
    device_name = f"{device.platform}:{device.device_kind}"
    rng = np.random.default_rng(0)
    margin = 1.0
    print(f"device {device_name}", flush=True)

    def forced_apart_inputs(n):
        return jnp.asarray(rng.normal(size=(n, args.units)), jnp.float32), jnp.asarray(rng.integers(0, 2, n))

    # 1. Forward value against the nested loop.
    loop_rows = []
    for n in ints(args.loop_batches):
        h, labels = forced_apart_inputs(n)
        forward = jax.jit(lambda h, labels: forced_apart_multi(h, labels, margin))
        value = forward(h, labels)
        library = best_time(lambda: forward(h, labels), args.repeats)
        h64, labels_np = np.asarray(h, np.float64), np.asarray(labels)
        start = time.perf_counter()
        expected = forced_apart_loop(h64, labels_np, margin)
        loop = time.perf_counter() - start
        rel = abs(float(value) - expected) / abs(expected)
        loop_rows.append((n, library, loop, rel))
        print(f"forced_apart_multi forward N={n}: library {library:.3g} s, loop {loop:.3g} s, "
              f"loop/library {loop / library:.0f}x, rel. diff {rel:.1e}", flush=True)

    # 2. Value and gradient: row blocks against the full (N, N) matrix; JS at the default blocks.
    def value_and_grad(rows_per_block, divergence="kl"):
        return jax.value_and_grad(
            lambda h, labels: forced_apart_multi(h, labels, margin, divergence, rows_per_block=rows_per_block)
        )

    grad_rows = []
    for n in ints(args.batches):
        h, labels = forced_apart_inputs(n)
        blocked, blocked_mem = compiled_with_memory(value_and_grad(None), h, labels)
        full, full_mem = compiled_with_memory(value_and_grad(n), h, labels)
        blocked_time = best_time(lambda: blocked(h, labels), args.repeats)
        full_time = best_time(lambda: full(h, labels), args.repeats)
        (v_b, g_b), (v_f, g_f) = blocked(h, labels), full(h, labels)
        rel = float(jnp.max(jnp.abs(g_b - g_f)) / jnp.max(jnp.abs(g_f)))
        grad_rows.append((n, blocked_time, blocked_mem, full_time, full_mem, rel))
        print(f"forced_apart_multi value+grad N={n}: blocks {blocked_time:.3g} s {megabytes(blocked_mem)} MB, "
              f"full matrix {full_time:.3g} s {megabytes(full_mem)} MB, grad rel. diff {rel:.1e}", flush=True)

    js_rows = []
    for n in ints(args.js_batches):
        h, labels = forced_apart_inputs(n)
        kl, _ = compiled_with_memory(value_and_grad(None, "kl"), h, labels)
        js, js_mem = compiled_with_memory(value_and_grad(None, "js"), h, labels)
        kl_time = best_time(lambda: kl(h, labels), args.repeats)
        js_time = best_time(lambda: js(h, labels), args.repeats)
        js_rows.append((n, kl_time, js_time, js_mem))
        print(f"forced_apart_multi value+grad N={n}: JS {js_time:.3g} s {megabytes(js_mem)} MB, "
              f"JS/KL {js_time / kl_time:.1f}x", flush=True)

    # 3. XCov at large batches.
    xcov_rows = []
    dy, dz = 10, 50
    for n in ints(args.xcov_batches):
        y = jnp.asarray(rng.normal(size=(n, dy)), jnp.float32)
        z = jnp.asarray(rng.normal(size=(n, dz)), jnp.float32)
        step, mem = compiled_with_memory(jax.value_and_grad(xcov, argnums=(0, 1)), y, z)
        forward = jax.jit(xcov)
        forward(y, z)
        step_time = best_time(lambda: step(y, z), args.repeats)
        forward_time = best_time(lambda: forward(y, z), args.repeats)
        y64, z64 = np.asarray(y, np.float64), np.asarray(z, np.float64)
        numpy_time = best_time(lambda: 0.5 * np.sum(((y64 - y64.mean(0)).T @ (z64 - z64.mean(0)) / n) ** 2), args.repeats)
        reference = 0.5 * np.sum(((y64 - y64.mean(0)).T @ (z64 - z64.mean(0)) / n) ** 2)
        rel = abs(float(forward(y, z)) - reference) / reference
        loop_time = None
        if n == min(ints(args.xcov_batches)):
            start = time.perf_counter()
            xcov_loop(y64, z64)
            loop_time = time.perf_counter() - start
        xcov_rows.append((n, forward_time, step_time, mem, numpy_time, loop_time, rel))
        print(f"xcov N={n}: forward {forward_time:.3g} s, value+grad {step_time:.3g} s {megabytes(mem)} MB, "
              f"numpy/forward {numpy_time / forward_time:.1f}x, rel. diff {rel:.1e}"
              + (f", loop/forward {loop_time / forward_time:.0f}x" if loop_time else ""), flush=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    command = " ".join(["python", *sys.argv])
    lines = [
        "# Pairwise and covariance losses (benchmarks/losses.py)",
        "",
        f"Device: {device_name} ({platform.processor() or platform.machine()}, {jax.device_count()} device(s)); "
        f"jax {jax.__version__}; commit {commit}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine: absolute times are "
        "indicative only, ratios are measured in the same run).",
        f"Command: `{command}`. float32, best of {args.repeats}, compiled beforehand. Memory: XLA's temp "
        "allocation of the compiled program (`memory_analysis().temp_size_in_bytes`), excluding inputs and outputs.",
        "",
        f"## forced_apart_multi (Forced Apart eq. 8, KL, margin {margin}, D = {args.units}, 2 labels): forward vs nested loop",
        "",
        "The loop is two nested Python loops over pairs in float64 NumPy; `rel. diff` compares the values.",
        "",
        "| batch | library (s) | nested loop (s) | loop / library | rel. diff |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *[f"| {n} | {lib:.3g} | {loop:.3g} | {loop / lib:.0f}x | {rel:.1e} |" for n, lib, loop, rel in loop_rows],
        "",
        "## forced_apart_multi value and gradient: row blocks vs full (N, N) matrix",
        "",
        "Blocks: the library default, 256 rows at a time, rematerialised in the backward pass. Full matrix: "
        "the same code with one block of N rows. `grad rel. diff`: max |difference| / max |full| of the gradient.",
        "",
        "| batch | blocks (s) | blocks temp (MB) | full matrix (s) | full temp (MB) | full / blocks time | full / blocks memory | grad rel. diff |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {n} | {bt:.3g} | {megabytes(bm)} | {ft:.3g} | {megabytes(fm)} | {ft / bt:.2f}x | "
            + (f"{fm / bm:.1f}x" if bm and fm else "n/a") + f" | {rel:.1e} |"
            for n, bt, bm, ft, fm, rel in grad_rows
        ],
        "",
        "## forced_apart_multi value and gradient: Jensen-Shannon vs KL (library defaults: 32 and 256 rows per block)",
        "",
        "| batch | KL (s) | JS (s) | JS / KL | JS temp (MB) |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *[f"| {n} | {kt:.3g} | {jt:.3g} | {jt / kt:.1f}x | {megabytes(jm)} |" for n, kt, jt, jm in js_rows],
        "",
        f"## xcov (Cheung et al. eq. 6), Dy = {dy}, Dz = {dz}",
        "",
        "NumPy: the same matrix form in float64 (forward only). Loop: a Python loop over the unit pairs (i, j), "
        "run at the smallest batch only. `rel. diff`: float32 library value against the float64 NumPy value.",
        "",
        "| batch | forward (s) | value + grad (s) | value + grad temp (MB) | NumPy float64 (s) | NumPy / forward | loop / forward | rel. diff |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {n} | {fw:.3g} | {st:.3g} | {megabytes(mem)} | {nt:.3g} | {nt / fw:.1f}x | "
            + (f"{lt / fw:.0f}x" if lt else "not run") + f" | {rel:.1e} |"
            for n, fw, st, mem, nt, lt, rel in xcov_rows
        ],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
