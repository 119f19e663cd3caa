"""Seed sweep of the Additive-MNIST DDN: one vmapped program against loops over seeds and steps.

The same work (S seeds x the three stages of Alg. 5 and 6, MI on the probe set every epoch) run
three ways:

    vmap       one jitted call per stage for all S seeds (the engine: scan over epochs and
               minibatches inside, vmap over seeds)
    seed-loop  a Python loop over seeds of the jitted single-seed stage (scan inside)
    step-loop  a Python loop over seeds, epochs and minibatches of the jitted single step, with
               the probe metrics as a jitted call per epoch

Compilation is timed apart (ahead-of-time lower + compile) and excluded from the ratios. Prints
time ratios against the vmapped program, examples/s, and achieved FLOP/s against the counted
FLOPs of the dense layers (``jaxdis.train.ddn.ddn_example_flops``; MI and elementwise work not
counted), naming the device.

CPU (scaled down so it runs here in minutes)::

    python benchmarks/seed_sweep.py --seeds 1,8,30 --n-train 1024 --hidden 64 --epochs 2,1,1 \\
        --probe-size 256

Full size on one GPU (the thesis's Additive-MNIST schedule: 25,000 images, N=10, Le=Lp=2, Ld=1,
hidden 1000, 60 + 10 + 40 epochs, MI every epoch on 2,500 probe images; the loops are slow at
full size, so they run 1 seed and their time is scaled by S, which the table marks)::

    python benchmarks/seed_sweep.py --full --seeds 1,8,30 --loop-seeds 1
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.nets.ddn import DDNArchitecture
from jaxdis.train import ddn, engine


def _block(tree):
    return jax.block_until_ready(tree)


def _timed(fn, *args):
    start = time.perf_counter()
    out = _block(fn(*args))
    return out, time.perf_counter() - start


def run_vmap(program, keys, x, probe):
    states = engine.init_states(program, keys)
    compile_s = run_s = 0.0
    for i, stage in enumerate(program.stages):
        args = (states, x, probe, jnp.int32(0))
        start = time.perf_counter()
        compiled = engine.compiled_epochs(program, i, stage.epochs).lower(*args).compile()
        compile_s += time.perf_counter() - start
        (states, _), seconds = _timed(compiled, *args)
        run_s += seconds
    return compile_s, run_s


def run_seed_loop(program, keys, x, probe):
    compile_s = run_s = 0.0
    compiled = {}
    for key in keys:
        state = engine.init_state(program, key)
        for i, stage in enumerate(program.stages):
            args = (state, x, probe, jnp.int32(0))
            if i not in compiled:
                start = time.perf_counter()
                compiled[i] = engine.compiled_epochs(program, i, stage.epochs, vmapped=False
                                                     ).lower(*args).compile()
                compile_s += time.perf_counter() - start
            (state, _), seconds = _timed(compiled[i], *args)
            run_s += seconds
    return compile_s, run_s


def run_step_loop(program, keys, x, probe):
    probe_fn = jax.jit(program.probe_metrics)
    perm_fn = jax.jit(lambda key: engine.minibatch_indices(key, x.shape[0], program.batch_size))
    compile_s = run_s = 0.0
    compiled = {}
    for key in keys:
        state = engine.init_state(program, key)
        for i, stage in enumerate(program.stages):
            step = engine.compiled_step(program, i)
            for epoch in range(stage.epochs):
                start = time.perf_counter()
                rng, perm_key, steps_key, probe_key = jax.random.split(state.key, 4)
                batches = perm_fn(perm_key)
                step_keys = jax.random.split(steps_key, batches.shape[0])
                state = state._replace(key=rng)
                for b in range(batches.shape[0]):
                    args = (state, x[batches[b]], step_keys[b], jnp.int32(epoch))
                    if i not in compiled:
                        t = time.perf_counter()
                        compiled[i] = step.lower(*args).compile()
                        compile_s += time.perf_counter() - t
                    state, _ = compiled[i](*args)
                _block(probe_fn(state.params, state.constants, probe, probe_key))
                run_s += time.perf_counter() - start
    return compile_s, run_s - compile_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,8,30")
    parser.add_argument("--loop-seeds", type=int, default=0,
                        help="seeds the loops actually run (0: all); their time is scaled to S")
    parser.add_argument("--n-train", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", default="2,1,1", help="stage 1, 2, 3 epochs")
    parser.add_argument("--probe-size", type=int, default=256)
    parser.add_argument("--modes", default="vmap,seed-loop,step-loop")
    parser.add_argument("--full", action="store_true", help="the thesis's full-size schedule")
    args = parser.parse_args(argv)
    if args.full:
        args.n_train, args.hidden, args.epochs, args.probe_size = 25_000, 1000, "60,10,40", 2500

    from jaxdis.data.composite import load_composite

    composite = load_composite("additive", "train", n_pairs=args.n_train, seed=0)
    x = jnp.asarray(composite.x.reshape(len(composite.x), -1))
    probe = x[: args.probe_size]
    e1, e2, e3 = (int(e) for e in args.epochs.split(","))
    arch = DDNArchitecture(x.shape[1], 10, 2, 2, 1, args.hidden)
    schedule = ddn.DDNSchedule(encoder_epochs=e1, decoder_epochs=e2, end_to_end_epochs=e3)
    program = ddn.ddn_program(arch, schedule)
    used = (x.shape[0] // schedule.batch_size) * schedule.batch_size
    flops_per_seed = used * sum(s.epochs * ddn.ddn_example_flops(arch, s.name)
                                for s in program.stages)
    examples_per_seed = used * (e1 + e2 + e3)

    device = jax.devices()[0]
    print(f"device: {device.device_kind} ({device.platform}, {jax.device_count()} device(s)); "
          f"jax {jax.__version__}")
    print(f"Additive-MNIST DDN (N=10, Le=Lp=2, Ld=1, hidden {args.hidden}), {x.shape[0]} images "
          f"({used} used per epoch), epochs {e1}+{e2}+{e3}, MI every epoch on {args.probe_size}; "
          f"counted {flops_per_seed / 1e12:.4g} TFLOP per seed")
    print()
    print("| S | mode | compile s | run s | time / vmap | examples/s | achieved GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    modes = {"vmap": run_vmap, "seed-loop": run_seed_loop, "step-loop": run_step_loop}
    for n_seeds in (int(s) for s in args.seeds.split(",")):
        keys = engine.seed_keys(0, n_seeds)
        base = None
        for mode in args.modes.split(","):
            run_keys, scale = keys, 1.0
            if mode != "vmap" and args.loop_seeds and args.loop_seeds < n_seeds:
                run_keys, scale = keys[: args.loop_seeds], n_seeds / args.loop_seeds
            compile_s, run_s = modes[mode](program, run_keys, x, probe)
            run_s *= scale
            base = run_s if mode == "vmap" else base
            ratio = f"{run_s / base:.2f}x" if base else "-"
            note = f" (x{scale:.0f} from {len(run_keys)})" if scale != 1 else ""
            print(f"| {n_seeds} | {mode}{note} | {compile_s:.1f} | {run_s:.2f} | {ratio} | "
                  f"{n_seeds * examples_per_seed / run_s:,.0f} | "
                  f"{n_seeds * flops_per_seed / run_s / 1e9:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
