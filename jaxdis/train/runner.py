"""A seed sweep in a run folder: sharding, per-epoch metrics, progress bar, checkpoints, resume.

:func:`train_sweep` is what an experiment's ``run(config, run_dir)`` calls. It

- trains ``n_seeds`` seeds (seed i from ``fold_in(PRNGKey(seed), i)``), padded to a multiple of
  the device count and sharded over all devices (:mod:`jaxdis.train.engine`);
- logs one record per seed and epoch to ``run_dir``'s metrics.jsonl (``stage``, ``epoch`` within
  the stage, ``global_epoch``, ``seed``, every loss and probe metric, ``alive``), with the
  untrained model's probe metrics as ``stage="init"``;
- writes the stacked state atomically to ``run_dir/checkpoints`` (one file, replaced each time;
  :mod:`jaxdis.train.checkpoint` says what it holds) with the count of metric records written
  so far: after a host call (``epochs_per_call`` epochs) when ``checkpoint_seconds`` (default
  :data:`CHECKPOINT_SECONDS`, a minute) have passed since the last save, and always at the end
  of every stage, the last one included. A killed run so loses at most about a minute of
  training (or one host call, if a call takes longer);
- resumes when ``run_dir/checkpoints`` holds a checkpoint, and says from where: metric records
  written after it (by the killed process) are dropped, and training continues from the next
  epoch, so a resumed run's records and final state equal those of a run never interrupted (on
  the CPU, bit for bit: same compiled programs, same keys). A half-written checkpoint a killed
  save left is deleted first.
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

# Seconds between checkpoints within a stage (every stage's end is saved regardless). Tests set
# it to 0 (or pass checkpoint_seconds=0) to save after every host call.
CHECKPOINT_SECONDS = 60.0


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
                hyperparams: dict | None = None, constants=None,
                checkpoint_seconds: float | None = None, patience: int | None = None,
                seed_indices=None):
    """Trains ``n_seeds`` seeds of ``program`` on ``x`` in ``run_dir``; resumes if it can.

    ``hyperparams`` (``{role: {name: (n_seeds,)}}``) and ``constants`` (a pytree of
    ``(n_seeds, ...)`` leaves) give each seed its own optimizer settings and model constants
    (:func:`jaxdis.train.engine.init_states`); both are padded with the last seed's values.

    ``seed_indices`` (optional, ``n_seeds`` ints): model i takes seed ``seed_indices[i]``'s key
    instead of seed i's, so models that share an index start from the same parameters and see
    the same minibatches (a paired ablation: one seed, two loss weights in ``constants``).

    ``patience`` (a program with ``select_on`` only): training stops once every seed's best epoch
    lies ``patience`` or more epochs behind (checked after each host call, so use
    ``epochs_per_call=1`` for an exact count); the stop is saved as the end of training, so a
    resumed run has nothing left to train. ``states.best`` holds each seed's selected epoch.

    ``checkpoint_seconds``: the least time between two checkpoints within a stage (None:
    :data:`CHECKPOINT_SECONDS`; 0: after every host call); every stage's end is saved.

    Returns ``(states, resumed)``: the stacked final states of the ``n_seeds`` seeds (padding
    removed) and whether the run continued from a checkpoint.
    """
    interval = CHECKPOINT_SECONDS if checkpoint_seconds is None else checkpoint_seconds
    if patience is not None and (program.select_on is None or patience < 1):
        raise ValueError(f"patience: expected an int >= 1 and a program with select_on, got "
                         f"patience={patience!r}, select_on={program.select_on!r}")
    mesh = engine.seed_mesh()
    n_padded = engine.padded_seed_count(n_seeds, mesh.devices.size)
    keys = engine.seed_keys(seed, n_padded)
    if seed_indices is not None:
        indices = np.asarray(seed_indices)
        if indices.shape != (n_seeds,) or indices.dtype.kind not in "iu" or np.any(indices < 0):
            raise ValueError(f"seed_indices: expected {n_seeds} ints >= 0, one per seed, got "
                             f"{seed_indices!r}")
        indices = np.concatenate([indices, np.repeat(indices[-1:], n_padded - n_seeds)])
        keys = engine.seed_keys(seed, int(indices.max()) + 1)[indices]
    pad = lambda v: jnp.concatenate(  # noqa: E731  (repeats the last seed's row)
        [jnp.asarray(v), jnp.repeat(jnp.asarray(v)[-1:], n_padded - n_seeds, axis=0)])
    if hyperparams:
        hyperparams = jax.tree.map(pad, hyperparams)
    if constants is not None:
        constants = jax.tree.map(pad, constants)
    fresh = engine.init_states(program, keys, hyperparams, constants)
    folder = run_dir.path / "checkpoints"
    position, resumed = engine.Position(), False
    checkpoint.remove_temporaries(folder)
    if save_checkpoints and checkpoint.has_checkpoint(folder):
        states, position, extra = checkpoint.load_checkpoint(folder, fresh)
        _rewrite_metrics(run_dir, extra.get("metric_records", 0))
        resumed = True
        print(f"{desc}: {_where(program, position)}", flush=True)
    else:
        states = fresh
        if (run_dir.path / "metrics.jsonl").exists():
            _rewrite_metrics(run_dir, 0)
    states = engine.shard_seeds(jax.tree.map(jnp.asarray, states), mesh)
    x = engine.replicate(jax.tree.map(jnp.asarray, x), mesh)  # an array or a pytree of them
    probe_x = engine.replicate(jax.tree.map(jnp.asarray, probe_x), mesh)

    n_records = len(run_dir.read_metrics())
    if not resumed:  # the untrained model, epoch 0
        probe = jax.jit(jax.vmap(program.probe_metrics, in_axes=(0, 0, None, 0)))
        initial = jax.device_get(probe(states.params, states.constants, probe_x, states.key))
        for record in _records("init", -1, -1, {k: np.asarray(v)[:, None]
                                                for k, v in initial.items()}, n_seeds):
            run_dir.log_metrics(record)
            n_records += 1

    offsets = stage_offsets(program)
    total = sum(s.epochs for s in program.stages)
    done = offsets[position.stage] + position.epoch if position.stage < len(offsets) else total
    bar = progress(total, desc)
    bar.update(done)
    last_save = time.monotonic()
    select = f"{program.select_on} ({program.select_mode})"

    def on_chunk(stage, first_epoch, metrics, new_states, following):
        nonlocal n_records, last_save
        stage_index = program.stage_index(stage.name)
        for record in _records(stage.name, first_epoch, offsets[stage_index] + first_epoch,
                               metrics, n_seeds):
            run_dir.log_metrics(record)
            n_records += 1
        n_epochs = next(iter(metrics.values())).shape[1]
        stop = False
        if patience is not None:
            now = offsets[stage_index] + first_epoch + n_epochs
            stop = bool(np.all(now - metrics["best_epoch"][:n_seeds, -1] >= patience))
        if stop:  # saved as the end of training
            following = engine.Position(len(program.stages), 0)
            print(f"{desc}: no seed improved {select} for {patience} epochs; stopping after "
                  f"epoch {now}", flush=True)
        stage_done = following.stage != stage_index
        if save_checkpoints and (stage_done or time.monotonic() - last_save >= interval):
            checkpoint.save_checkpoint(folder, new_states, following,
                                       {"metric_records": n_records})
            last_save = time.monotonic()
        alive = int(np.sum(metrics["alive"][:n_seeds, -1]))
        mi = metrics.get("mi")
        postfix = {"stage": stage.name, "alive": f"{alive}/{n_seeds}"}
        if mi is not None:
            postfix["mean MI"] = f"{np.nanmean(mi[:n_seeds, -1]):.3f}"
        bar.set_postfix(postfix)
        bar.update(n_epochs)
        return stop

    states = engine.run_program(program, states, x, probe_x, start=position,
                                epochs_per_call=epochs_per_call, on_chunk=on_chunk)
    bar.close()
    return jax.tree.map(lambda leaf: leaf[:n_seeds], states), resumed


def _where(program: engine.Program, position: engine.Position) -> str:
    """"resuming from stage 2 of 3 (decoders), epoch 4 of 10" for a checkpoint's position."""
    stages = program.stages
    if position.stage >= len(stages):
        return "resuming from the checkpoint at the end of training: nothing left to train"
    stage = stages[position.stage]
    return (f"resuming from stage {position.stage + 1} of {len(stages)} ({stage.name}), epoch "
            f"{position.epoch + 1} of {stage.epochs} (the checkpoint's position)")


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
