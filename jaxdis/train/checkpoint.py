"""Atomic checkpoints of a run's stacked training state (flax msgpack serialization).

A checkpoint is one file ``RUN_DIR/checkpoints/state.msgpack`` holding the stacked
:class:`~jaxdis.train.engine.TrainState` of all seeds, the :class:`~jaxdis.train.engine.Position`
of the next epoch to run and a small dict of extra integers (e.g. how many metric records the
run had written). It is written to a temporary file in the same folder and renamed over the old
one with `os.replace`, so a process killed at any moment leaves either the old or the new
checkpoint, never half of one. Saving happens at the epoch and stage boundaries chosen by the
host loop, so a killed run loses at most the epochs since the last one (one, when saving every
epoch). Restoring needs a template of the same structure (the run's freshly initialised states),
which the msgpack bytes are poured into; a mismatch raises an error naming the file.
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
