"""Benchmark: one Forced Apart training step with the per-model constants as engine constants
against the old fake trained role.

Each model of a Forced Apart table differs only in its loss coefficients and margins. The
experiment used to carry them as a parameter role "penalty" that the stage did not train but the
optimizer still stepped: Adam's moments for it, zero gradients, an update that ``keep_roles``
threw away, every step. They are now ``TrainState.constants``
(:mod:`jaxdis.train.forced_apart`), which no optimizer sees. This script rebuilds the old program
here (the baseline) and times one jitted training step (:func:`jaxdis.train.engine.train_step`:
the objective's value and gradient, Adam's update, the finiteness check) of both on the same
parameters, constants and minibatch, at the paper-run MLP's sizes (28x28 inputs, hidden layer
256, FC1 of 15, batch 128): one model, and the 5 losses x 3 seeds of a table vmapped. It checks
that both give the same networks, prints the device and the ratio, and writes a markdown table
to --out (default benchmarks/results/forced_apart_step.md).

    .venv/bin/python benchmarks/forced_apart_step.py
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import measured_on  # noqa: E402

from jaxdis.nets.forced_apart import MLPClassifier  # noqa: E402
from jaxdis.train import engine  # noqa: E402
from jaxdis.train import forced_apart as fa  # noqa: E402
from jaxdis.train.optimizers import OptimizerSpec, make_optimizer  # noqa: E402

LOSSES = ("baseline", "decov", "xcov", "single", "multi")


def old_program(model, sample, settings: fa.ForcedApartSettings) -> engine.Program:
    """The program as it was: the constants as an untrained role "penalty" with its own Adam."""

    def init_params(key):
        return {"net": model.init(key, sample),
                "penalty": {"coefficients": jnp.zeros(len(fa.PENALTIES)), "margins": jnp.zeros(2)}}

    def losses_and_grads(params, constants, batch, key, epoch):
        grads, parts = jax.grad(lambda net: fa.classifier_objective(model, net, params["penalty"],
                                                                    *batch), has_aux=True)(
            params["net"])
        return parts, {"net": grads}

    def probe_metrics(params, constants, probe, key):
        return {}

    adam = OptimizerSpec(name="adam", learning_rate=settings.learning_rate)
    return engine.Program(
        stages=(engine.Stage("train", 1, ("net",), losses_and_grads),),
        optimizer=make_optimizer({"net": adam, "penalty": adam}), init_params=init_params,
        probe_metrics=probe_metrics, batch_size=settings.batch_size)


def timed(fn, repeats):
    """(wall, CPU) seconds of each of ``repeats`` calls of ``fn``, waiting for the device each
    time. The CPU time (this process, all its threads) is steadier than the wall time on a
    machine that other jobs share."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn())
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256, help="the MLP's hidden layer")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per loss in the table")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of old and new (a shared machine drifts)")
    parser.add_argument("--out", default="benchmarks/results/forced_apart_step.md")
    args = parser.parse_args()
    settings = fa.ForcedApartSettings(batch_size=args.batch)
    model = MLPClassifier(hidden=(args.hidden,))
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.random((args.batch, 28, 28), np.float32))
    binary = jnp.asarray(rng.integers(0, 2, args.batch).astype(np.int32))
    batch, step_key, epoch = (images, binary), jax.random.PRNGKey(1), jnp.int32(0)
    new = fa.classifier_program(model, images[:1], settings, 1)
    old = old_program(model, images[:1], settings)

    rows = []
    for label, losses in (("1 model (L_multi)", ["multi"]),
                          (f"table: {len(LOSSES)} losses x {args.seeds} seeds, vmapped",
                           fa.models_by_seed(LOSSES, args.seeds)[0])):
        n = len(losses)
        table = fa.penalty_table(settings, losses, [settings.margin_single] * n,
                                 [settings.margin_multi] * n)
        keys = engine.seed_keys(0, n)
        new_states = engine.init_states(new, keys, constants=table)
        old_states = engine.init_states(old, keys)
        old_states = old_states._replace(params={**old_states.params, "penalty": table})
        steps, results, instructions = {}, {}, {}
        times = {(name, clock): [] for name in ("old", "new") for clock in ("wall", "cpu")}
        for name, program, states in (("old", old, old_states), ("new", new, new_states)):
            one = functools.partial(engine.train_step, program, program.stages[0])
            step = jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))
            steps[name] = (step, states)
            results[name] = jax.block_until_ready(step(states, batch, step_key, epoch))
            compiled = step.lower(states, batch, step_key, epoch).compile().as_text()
            instructions[name] = len(re.findall(r"^\s*(?:ROOT )?%?\S+ = ", compiled, re.M))
        for r in range(args.rounds):  # alternate rounds and order: drifting load hits both alike
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                step, states = steps[name]
                wall, cpu = timed(lambda s=step, st=states: s(st, batch, step_key, epoch),
                                  args.repeats)
                times[name, "wall"] += wall
                times[name, "cpu"] += cpu
        difference = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
            jax.tree.leaves(results["old"][0].params["net"]),
            jax.tree.leaves(results["new"][0].params["net"])))
        median = {key: statistics.median(t) for key, t in times.items()}
        best = {key: min(t) for key, t in times.items()}
        rows.append((label, median, best, difference, instructions))
        ratio = {clock: median["old", clock] / median["new", clock] for clock in ("wall", "cpu")}
        print(f"{label}: median wall time old {1e3 * median['old', 'wall']:.3f} ms, new "
              f"{1e3 * median['new', 'wall']:.3f} ms ({ratio['wall']:.2f}x); median CPU time old "
              f"{1e3 * median['old', 'cpu']:.3f} ms, new {1e3 * median['new', 'cpu']:.3f} ms "
              f"({ratio['cpu']:.2f}x); largest parameter difference after the step "
              f"{difference:.1e}; compiled instructions old {instructions['old']}, new "
              f"{instructions['new']}")

    lines = [
        "# Forced Apart: one training step, constants as a fake trained role against engine "
        "constants",
        "",
        measured_on(f".venv/bin/python benchmarks/forced_apart_step.py --hidden {args.hidden} "
                    f"--batch {args.batch} --seeds {args.seeds} --repeats {args.repeats} "
                    f"--rounds {args.rounds}",
                    "both programs are timed in the same run, in alternating rounds"),
        "",
        f"One jitted `engine.train_step` (classifier objective, value and gradient, Adam, "
        f"finiteness check) of the MLP classifier (28x28 inputs, hidden {args.hidden}, FC1 of "
        f"15, batch {args.batch}), on the same parameters, constants and minibatch. Old: the "
        "per-model coefficients and margins as a parameter role \"penalty\" stepped by its own "
        "Adam (rebuilt in the script); new: `TrainState.constants`, "
        "`jaxdis.train.forced_apart.classifier_program`. Times in milliseconds per step, median "
        f"(and best) of {args.rounds * args.repeats} calls each; CPU time is this process's, "
        "all threads. Speed-up: old / new. The parameter difference is the largest over the "
        "networks after one step of each: 0 means the same training. Instructions: the "
        "optimised HLO of each compiled step (old / new).",
        "",
        "| models | old wall | new wall | speed-up (wall) | old CPU | new CPU | speed-up (CPU) | "
        "max parameter difference | instructions |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, median, best, difference, instructions in rows:
        cells = []
        for clock in ("wall", "cpu"):
            old_t, new_t = median["old", clock], median["new", clock]
            cells += [f"{1e3 * old_t:.2f} ({1e3 * best['old', clock]:.2f})",
                      f"{1e3 * new_t:.2f} ({1e3 * best['new', clock]:.2f})",
                      f"{old_t / new_t:.2f}x"]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {difference:.1e} | "
                     f"{instructions['old']} / {instructions['new']} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
