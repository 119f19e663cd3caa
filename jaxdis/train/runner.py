"""A seed sweep in a run folder: sharding, per-epoch metrics, progress bar, checkpoints, resume.

:func:`train_sweep` is what an experiment's ``run(config, run_dir)`` calls. It

- trains ``n_seeds`` seeds (seed i from ``fold_in(PRNGKey(seed), i)``), padded to a multiple of
  the device count and sharded over all devices (:mod:`jaxdis.train.engine`);
- logs one record per seed and epoch to ``run_dir``'s metrics.jsonl (``stage``, ``epoch`` within
  the stage, ``global_epoch``, ``seed``, every loss and probe metric, ``alive``), with the
  untrained model's probe metrics as ``stage="init"``;
- after each host call (``epochs_per_call`` epochs) writes the stacked state atomically to
  ``run_dir/checkpoints`` with the count of metric records written so far;
- resumes when ``run_dir/checkpoints`` holds a checkpoint: metric records written after it (by
  the killed process) are dropped, and training continues from the next epoch, so a resumed
  run's records and final state equal those of a run never interrupted (on the CPU, bit for
  bit: same compiled programs, same keys).
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.runs import RunDir, progress
from jaxdis.train import checkpoint, engine


def _rewrite_metrics(run_dir: RunDir, keep: int) -> None:
    """Keeps the first ``keep`` records of metrics.jsonl (atomically)."""
    records = run_dir.read_metrics()[:keep]
    target = run_dir.path / "metrics.jsonl"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    os.replace(tmp, target)


def _records(stage: str, first_epoch: int, global_first: int, metrics: dict, n_seeds: int):
    n_epochs = next(iter(metrics.values())).shape[1]
    for e in range(n_epochs):
        for s in range(n_seeds):
            record = {"stage": stage, "epoch": first_epoch + e + 1,
                      "global_epoch": global_first + e + 1, "seed": s}
            for name, values in metrics.items():
                value = values[s, e]
                record[name] = bool(value) if values.dtype == bool else float(value)
            yield record


def stage_offsets(program: engine.Program) -> list[int]:
    """The global epoch at which each stage starts."""
    return list(np.cumsum([0] + [s.epochs for s in program.stages])[:-1])


def train_sweep(program: engine.Program, n_seeds: int, seed: int, x, probe_x, run_dir: RunDir,
                *, epochs_per_call: int = 1, save_checkpoints: bool = True, desc: str = "train",
                hyperparams: dict | None = None):
    """Trains ``n_seeds`` seeds of ``program`` on ``x`` in ``run_dir``; resumes if it can.

    Returns ``(states, resumed)``: the stacked final states of the ``n_seeds`` seeds (padding
    removed) and whether the run continued from a checkpoint.
    """
    mesh = engine.seed_mesh()
    n_padded = engine.padded_seed_count(n_seeds, mesh.devices.size)
    keys = engine.seed_keys(seed, n_padded)
    if hyperparams:  # pad per-seed hyperparameters with their last value
        hyperparams = {role: {k: jnp.concatenate([jnp.asarray(v), jnp.repeat(
            jnp.asarray(v)[-1:], n_padded - n_seeds)]) for k, v in values.items()}
            for role, values in hyperparams.items()}
    fresh = engine.init_states(program, keys, hyperparams)
    folder = run_dir.path / "checkpoints"
    position, resumed = engine.Position(), False
    if save_checkpoints and checkpoint.has_checkpoint(folder):
        states, position, extra = checkpoint.load_checkpoint(folder, fresh)
        _rewrite_metrics(run_dir, extra.get("metric_records", 0))
        resumed = True
    else:
        states = fresh
        if (run_dir.path / "metrics.jsonl").exists():
            _rewrite_metrics(run_dir, 0)
    states = engine.shard_seeds(jax.tree.map(jnp.asarray, states), mesh)
    x = engine.replicate(jnp.asarray(x), mesh)
    probe_x = engine.replicate(jnp.asarray(probe_x), mesh)

    n_records = len(run_dir.read_metrics())
    if not resumed:  # the untrained model, epoch 0
        probe = jax.jit(jax.vmap(program.probe_metrics, in_axes=(0, None, 0)))
        initial = jax.device_get(probe(states.params, probe_x, states.key))
        for record in _records("init", -1, -1, {k: np.asarray(v)[:, None]
                                                for k, v in initial.items()}, n_seeds):
            run_dir.log_metrics(record)
            n_records += 1

    offsets = stage_offsets(program)
    total = sum(s.epochs for s in program.stages)
    done = offsets[position.stage] + position.epoch if position.stage < len(offsets) else total
    bar = progress(total, desc)
    bar.update(done)
    timer = {"start": time.perf_counter()}

    def on_chunk(stage, first_epoch, metrics, new_states, following):
        nonlocal n_records
        stage_index = program.stage_index(stage.name)
        for record in _records(stage.name, first_epoch, offsets[stage_index] + first_epoch,
                               metrics, n_seeds):
            run_dir.log_metrics(record)
            n_records += 1
        if save_checkpoints:
            checkpoint.save_checkpoint(folder, new_states, following,
                                       {"metric_records": n_records})
        n_epochs = next(iter(metrics.values())).shape[1]
        alive = int(np.sum(metrics["alive"][:n_seeds, -1]))
        mi = metrics.get("mi")
        postfix = {"stage": stage.name, "alive": f"{alive}/{n_seeds}"}
        if mi is not None:
            postfix["mean MI"] = f"{np.nanmean(mi[:n_seeds, -1]):.3f}"
        bar.set_postfix(postfix)
        bar.update(n_epochs)

    states = engine.run_program(program, states, x, probe_x, start=position,
                                epochs_per_call=epochs_per_call, on_chunk=on_chunk)
    bar.close()
    return jax.tree.map(lambda leaf: leaf[:n_seeds], states), resumed


def metric_history(run_dir: RunDir, name: str, stages: tuple[str, ...], n_seeds: int):
    """(n_seeds, n_epochs) of metric ``name`` over the given stages (and "init"), in order."""
    per_seed: dict[int, list[float]] = {s: [] for s in range(n_seeds)}
    for record in run_dir.read_metrics():
        if record.get("stage") in stages and record["seed"] < n_seeds and name in record:
            value = record[name]
            per_seed[record["seed"]].append(float(value) if not isinstance(value, str)
                                            else float("nan"))
    length = max((len(v) for v in per_seed.values()), default=0)
    return np.array([v + [np.nan] * (length - len(v)) for v in per_seed.values()])
