"""Atomic checkpoints of a run's stacked training state (flax msgpack serialization).

A checkpoint is one file ``RUN_DIR/checkpoints/state.msgpack``; each save replaces the last one,
so a run folder holds one checkpoint at most. It holds exactly what a bit-identical resume needs
and nothing else (no data, no metrics, no compiled code):

- the stacked :class:`~jaxdis.train.engine.TrainState` of all seeds: every role's parameters,
  its optimizer state (for RMSprop with momentum, two more arrays the size of the parameters:
  the average of squared gradients and the momentum), each seed's PRNG key, its step count and
  health (``alive``, ``died_at_step``);
- the :class:`~jaxdis.train.engine.Position` of the next epoch to run;
- a small dict of extra integers (e.g. how many metric records the run had written).

So its size is about three times the parameters of all seeds: for the README's demo (4 DDNs of
hidden 256 on 28 x 56 composites) about 100 MB. It is written to a temporary file in the same
folder and renamed over the old one with `os.replace`, so a process killed at any moment leaves
either the old or the new checkpoint, never half of one; the temporary file a killed write
leaves is deleted by :func:`remove_temporaries`, which the runner calls when a run (re)starts.
When to save is the caller's choice (:func:`jaxdis.train.runner.train_sweep`: at most once a
minute, at the end of every stage and at the end). Restoring needs a template of the same
structure (the run's freshly initialised states), which the msgpack bytes are poured into; a
mismatch raises an error naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
from flax import serialization

from jaxdis.train.engine import Position

CHECKPOINT_NAME = "state.msgpack"


def checkpoint_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / CHECKPOINT_NAME


def save_checkpoint(folder: str | os.PathLike, states, position: Position,
                    extra: dict[str, int] | None = None) -> Path:
    """Writes ``states`` and ``position`` to ``folder/state.msgpack`` atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "states": serialization.to_state_dict(jax.device_get(states)),
        "position": {"stage": np.int64(position.stage), "epoch": np.int64(position.epoch)},
        "extra": {k: np.int64(v) for k, v in (extra or {}).items()},
    }
    target = checkpoint_path(folder)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(serialization.msgpack_serialize(payload))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return target


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Deletes the ``state.msgpack.tmp*`` files a killed write left in ``folder``; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.name.startswith(CHECKPOINT_NAME + ".tmp")]
    for path in stale:
        path.unlink()
    return stale


def has_checkpoint(folder: str | os.PathLike) -> bool:
    return checkpoint_path(folder).exists()


def load_checkpoint(folder: str | os.PathLike, template):
    """(states, position, extra) from ``folder/state.msgpack``; ``template`` gives the structure."""
    path = checkpoint_path(folder)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
        states = serialization.from_state_dict(template, payload["states"])
        position = Position(int(payload["position"]["stage"]), int(payload["position"]["epoch"]))
        extra = {k: int(v) for k, v in payload.get("extra", {}).items()}
    except Exception as error:  # corrupt bytes, or a checkpoint of another config
        raise ValueError(f"checkpoint {path} cannot be restored into this run's state "
                         f"({type(error).__name__}: {error}); was it written by another config?"
                         ) from error
    shapes = [np.shape(a) for a in jax.tree.leaves(template)]
    got = [np.shape(a) for a in jax.tree.leaves(states)]
    if shapes != got:
        raise ValueError(f"checkpoint {path}: array shapes differ from this run's state "
                         "(another number of seeds or architecture?)")
    return states, position, extra
