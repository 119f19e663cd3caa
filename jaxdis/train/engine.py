"""The training engine: many seeds, one compiled program per training stage.

A model hands the engine a :class:`Program`: its training stages (each a function from
parameters, constants, a minibatch and a PRNG key to the losses and gradients of the roles it
trains), one optimizer over ``params = {role: pytree}``
(:func:`jaxdis.train.optimizers.make_optimizer`), an optional projection applied after each
update (max-norm, say), the metrics it computes on a fixed probe set once per epoch, and the
minibatch size.

Each seed's state also holds **constants**: a pytree the model reads but never trains (no
gradient, no optimizer state), stacked along the seed axis like the parameters. A grid of loss
weights, a per-model margin or a mask of which training examples keep their labels rides here, so
a sweep of differently configured models is one vmapped program.

How one stage runs:

- **An epoch is one `lax.scan`** over minibatches cut from an on-device permutation of the
  training set. The permutation is drawn from the seed's own key; its ragged tail is DROPPED
  (``n_train // batch_size`` full minibatches per epoch, as `drop_last` does), so every step sees
  exactly ``batch_size`` examples and one shape compiles. The dropped examples differ per epoch.
- **Several epochs are one jitted call** (`lax.scan` over epochs) that returns, per epoch, the
  mean of each loss over its steps and the probe metrics, computed on the device: no host
  synchronisation inside it. The host calls it once per chunk of ``epochs_per_call`` epochs
  (1: metrics and a possible checkpoint after every epoch; the whole stage: fewer host round
  trips; :mod:`jaxdis.train.runner` decides when to checkpoint); each (stage, chunk length) is
  traced once (:data:`TRACE_COUNTS` counts the traces; the tests check it).
- **Seeds are an axis.** :class:`TrainState` holds one seed's parameters, optimizer state, PRNG
  key and health; the engine `jax.vmap`s the whole epoch function over a stack of them, so S
  seeds are one program. The optimizer state carries the hyperparameters
  (`optax.inject_hyperparams`), so the same axis can carry a learning-rate grid
  (:func:`init_states` with ``hyperparams``).
- **Sharding.** :func:`seed_mesh` builds a 1-D mesh "seeds" over all devices and
  :func:`shard_seeds` places the stacked states on it (``NamedSharding(mesh, P("seeds"))``; the
  data are replicated). XLA then partitions the vmapped program along the seed axis: each device
  trains S / n_devices seeds, and no device talks to another (seeds are independent). S must be a
  multiple of the device count: :func:`padded_seed_count` gives the padded S; the extra seeds are
  trained and ignored. Multi-host (several GPUs/TPU hosts): call ``jax.distributed.initialize()``
  on every host first; ``jax.devices()`` then lists the devices of all hosts, :func:`seed_mesh`
  spans them, and every host runs the same script with the same data; arrays placed with
  :func:`shard_seeds` are global, and results are read back with
  ``jax.experimental.multihost_utils.process_allgather``.
- **Model selection.** A program with ``select_on`` (a probe metric, such as a validation
  accuracy) keeps, per seed, the parameters of its best epoch so far in ``TrainState.best``,
  updated on the device after each epoch's probe; the per-epoch metrics report ``best_epoch``.
  :func:`jaxdis.train.runner.train_sweep` can stop a sweep once no seed has improved for
  ``patience`` epochs.
- **A seed that diverges is frozen.** When a step's losses or gradients are not finite, that
  seed's parameters and optimizer state stop changing (`jnp.where` on its ``alive`` flag), its
  ``died_at_step`` is recorded, and the other seeds go on; the per-epoch metrics report ``alive``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxdis.train.optimizers import keep_roles, set_hyperparams

# (stage name, epochs per call, vmapped) -> how often it was traced; a sweep traces each once.
TRACE_COUNTS: collections.Counter = collections.Counter()


class TrainState(NamedTuple):
    """One seed's training state (stacked along a leading seed axis by :func:`init_states`)."""

    params: dict
    opt_state: Any
    constants: Any          # read by the model, never trained (see the module docstring)
    best: Any               # {"params", "score", "epoch"} of the best epoch ({} without select_on)
    key: jax.Array          # raw uint32[2] PRNG key, so checkpoints serialize it as an array
    alive: jax.Array        # bool: False once a step produced a non-finite loss or gradient
    step: jax.Array         # int32: optimizer steps taken, all stages together
    died_at_step: jax.Array  # int32: the step that froze the seed, -1 while alive


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training stage.

    Attributes:
      name: a name for metrics and checkpoints ("encoders", "decoders", "end_to_end").
      epochs: how many epochs it runs.
      trained: the roles it updates; the others keep their parameters and optimizer state.
      losses_and_grads: ``(params, constants, batch, key, epoch) -> (losses, grads)``:
        ``constants`` the seed's untrained constants (``{}`` if the model has none), ``losses``
        a dict of scalars (all are averaged per epoch and checked for NaN), ``grads`` a dict over (at
        least) the roles in ``trained``; ``epoch`` is the int32 index of the epoch in the stage
        (for schedules such as an annealed coefficient).
    """

    name: str
    epochs: int
    trained: tuple[str, ...]
    losses_and_grads: Callable

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"Stage {self.name!r}: epochs must be an int >= 0, got {self.epochs!r}")
        if not self.trained:
            raise ValueError(f"Stage {self.name!r}: trained must name at least one role")


@dataclasses.dataclass(frozen=True)
class Program:
    """Everything the engine needs to train a model (hashable: it keys the compiled functions).

    Attributes:
      stages: the training stages, run in order.
      optimizer: one optax transformation over ``{role: pytree}`` (:func:`make_optimizer`).
      init_params: ``key -> params``.
      probe_metrics: ``(params, constants, probe_x, key) -> {name: scalar}``, once per epoch on a
        fixed probe set (e.g. the KSG mutual information between the two codes).
      batch_size: examples per minibatch (thesis: 128).
      projection: ``(params, constants) -> params``, optional: applied to the parameters after
        every optimizer update, inside the compiled step (a max-norm constraint is one). Only
        the roles the stage trains keep its result; a projection must map every role it is
        given, and leave alone what it does not constrain.
      select_on: optional: a probe metric by which each seed's best epoch is chosen (the
        validation set's accuracy, say); its parameters are kept in ``TrainState.best``.
      select_mode: "max" (default) or "min": whether a larger or smaller ``select_on`` is better.
    """

    stages: tuple[Stage, ...]
    optimizer: optax.GradientTransformation
    init_params: Callable
    probe_metrics: Callable
    batch_size: int = 128
    projection: Callable | None = None
    select_on: str | None = None
    select_mode: str = "max"

    def __post_init__(self):
        if self.select_mode not in ("max", "min"):
            raise ValueError(f"select_mode: expected 'max' or 'min', got {self.select_mode!r}")

    def stage_index(self, name: str) -> int:
        names = [s.name for s in self.stages]
        if name not in names:
            raise ValueError(f"no stage {name!r}; stages are {names}")
        return names.index(name)


# ----------------------------------------------------------------------------- initial states

def seed_keys(seed: int, n_seeds: int) -> jax.Array:
    """Seed i's key is ``fold_in(PRNGKey(seed), i)``: it does not depend on how many seeds run
    together (or on padding), so a sweep's seed i equals a single run with that key."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds: expected >= 1, got {n_seeds}")
    base = jax.random.PRNGKey(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(n_seeds))


def init_state(program: Program, key: jax.Array, hyperparams: dict | None = None,
               constants=None) -> TrainState:
    """One seed's state: parameters from ``key``, fresh optimizer state, (optionally) per-role
    hyperparameters ``{role: {name: value}}`` written into the optimizer state, and the seed's
    ``constants`` (default ``{}``)."""
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError(f"key: expected a raw PRNG key uint32[2] (jax.random.PRNGKey), got "
                         f"{key.dtype}{list(key.shape)}")
    init_key, train_key = jax.random.split(key)
    params = program.init_params(init_key)
    opt_state = program.optimizer.init(params)
    for role, values in (hyperparams or {}).items():
        opt_state = set_hyperparams(opt_state, role, **values)
    constants = {} if constants is None else constants
    best = {}
    if program.select_on is not None:  # the untrained model, epoch 0, until an epoch scores
        best = {"params": params, "score": jnp.float32(-jnp.inf), "epoch": jnp.int32(0)}
    return TrainState(params, opt_state, constants, best, train_key, jnp.array(True),
                      jnp.array(0, jnp.int32), jnp.array(-1, jnp.int32))


def init_states(program: Program, keys: jax.Array, hyperparams: dict | None = None,
                constants=None) -> TrainState:
    """S seeds' states stacked along axis 0, from keys (S, 2). ``hyperparams`` is
    ``{role: {name: array (S,)}}``, e.g. a grid of learning rates, one per seed; ``constants``
    a pytree whose every leaf has a leading axis of S (seed i reads row i)."""
    if keys.ndim != 2 or keys.shape[1] != 2:
        raise ValueError(f"keys: expected (n_seeds, 2) raw PRNG keys, got shape {keys.shape}")
    for role, values in (hyperparams or {}).items():
        for name, value in values.items():
            if np.shape(value) != (keys.shape[0],):
                raise ValueError(f"hyperparams[{role!r}][{name!r}]: expected shape "
                                 f"({keys.shape[0]},), one value per seed, got {np.shape(value)}")
    for path, leaf in jax.tree_util.tree_leaves_with_path(constants or {}):
        if np.ndim(leaf) == 0 or np.shape(leaf)[0] != keys.shape[0]:
            raise ValueError(f"constants{jax.tree_util.keystr(path)}: expected a leading axis of "
                             f"{keys.shape[0]}, one row per seed, got shape {np.shape(leaf)}")
    return _compiled_init(program)(keys, hyperparams, constants)


@functools.lru_cache(maxsize=None)
def _compiled_init(program: Program):
    # Cached per program so repeated sweeps (and resumes) do not recompile the initialisation.
    return jax.jit(jax.vmap(functools.partial(init_state, program)))


# ----------------------------------------------------------------------------- one step, epochs

def _all_finite(tree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def train_step(program: Program, stage: Stage, state: TrainState, batch: jax.Array,
               key: jax.Array, epoch: jax.Array) -> tuple[TrainState, dict]:
    """One optimizer step of one seed on one minibatch; frozen if anything is not finite."""
    losses, grads = stage.losses_and_grads(state.params, state.constants, batch, key, epoch)
    # Roles outside the stage get zero gradients here; keep_roles then discards their updates.
    full_grads = {role: grads[role] if role in stage.trained else
                  jax.tree.map(jnp.zeros_like, p) for role, p in state.params.items()}
    updates, opt_state = program.optimizer.update(full_grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    if program.projection is not None:
        params = program.projection(params, state.constants)
    params, opt_state = keep_roles(stage.trained, params, state.params, opt_state, state.opt_state)
    finite = _all_finite(losses) & _all_finite({r: grads[r] for r in stage.trained})
    alive = state.alive & finite
    keep_if_dead = lambda new, old: jnp.where(alive, new, old)  # noqa: E731
    params = jax.tree.map(keep_if_dead, params, state.params)
    opt_state = jax.tree.map(keep_if_dead, opt_state, state.opt_state)
    died_at = jnp.where(state.alive & ~finite, state.step, state.died_at_step)
    return state._replace(params=params, opt_state=opt_state, alive=alive,
                          step=state.step + 1, died_at_step=died_at), losses


def _n_examples(x) -> int:
    """The number of examples in ``x``: an array, or a pytree of arrays (images and labels, say)
    sharing their leading axis; a minibatch is the same pytree cut along that axis."""
    sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(x)}
    if len(sizes) != 1 or None in sizes:
        shapes = [leaf.shape for leaf in jax.tree.leaves(x)]
        raise ValueError(f"x: expected an array or a pytree of arrays sharing a leading example "
                         f"axis, got leaves of shapes {shapes}")
    return sizes.pop()


def minibatch_indices(key: jax.Array, n_train: int, batch_size: int) -> jax.Array:
    """(n_train // batch_size, batch_size) indices of one epoch: a permutation, tail dropped."""
    n_batches = n_train // batch_size
    if n_batches < 1:
        raise ValueError(f"batch_size {batch_size} is larger than the training set ({n_train})")
    return jax.random.permutation(key, n_train)[: n_batches * batch_size].reshape(
        n_batches, batch_size)


def run_one_epoch(program: Program, stage: Stage, state: TrainState, x: jax.Array,
                  probe_x: jax.Array, epoch: jax.Array) -> tuple[TrainState, dict]:
    """One epoch of one seed: a `lax.scan` over minibatches, then the probe metrics."""
    key, perm_key, steps_key, probe_key = jax.random.split(state.key, 4)
    batches = minibatch_indices(perm_key, _n_examples(x), program.batch_size)
    step_keys = jax.random.split(steps_key, batches.shape[0])

    def body(carry, inputs):
        indices, step_key = inputs
        batch = jax.tree.map(lambda leaf: leaf[indices], x)
        carry, losses = train_step(program, stage, carry, batch, step_key, epoch)
        return carry, losses

    state, losses = jax.lax.scan(body, state._replace(key=key), (batches, step_keys))
    metrics = {name: jnp.mean(values) for name, values in losses.items()}
    metrics.update(program.probe_metrics(state.params, state.constants, probe_x, probe_key))
    metrics["alive"] = state.alive
    if program.select_on is not None:
        state = keep_best(program, state, metrics, batches.shape[0])
        metrics["best_epoch"] = state.best["epoch"]
    return state, metrics


def keep_best(program: Program, state: TrainState, metrics: dict, steps_per_epoch: int):
    """``state`` with its best epoch updated from this epoch's ``metrics[program.select_on]``:
    strictly better replaces (the earliest of equal scores stays; NaN never wins). The epoch is
    counted over all stages, 1-based (``state.step // steps_per_epoch``), as the metric records'
    ``global_epoch``."""
    if program.select_on not in metrics:
        raise ValueError(f"select_on: {program.select_on!r} is not a metric; the metrics are "
                         f"{sorted(metrics)}")
    value = metrics[program.select_on].astype(jnp.float32)
    score = value if program.select_mode == "max" else -value
    better = score > state.best["score"]
    pick = lambda new, old: jnp.where(better, new, old)  # noqa: E731
    best = {"params": jax.tree.map(pick, state.params, state.best["params"]),
            "score": pick(score, state.best["score"]),
            "epoch": pick((state.step // steps_per_epoch).astype(jnp.int32), state.best["epoch"])}
    return state._replace(best=best)


def run_epochs(program: Program, stage_index: int, n_epochs: int, state: TrainState,
               x: jax.Array, probe_x: jax.Array, first_epoch: jax.Array):
    """``n_epochs`` epochs of one seed, from epoch ``first_epoch`` of the stage: (state, metrics
    with a leading epoch axis)."""
    stage = program.stages[stage_index]

    def body(carry, epoch):
        return run_one_epoch(program, stage, carry, x, probe_x, epoch)

    epochs = first_epoch + jnp.arange(n_epochs, dtype=jnp.int32)
    return jax.lax.scan(body, state, epochs)


@functools.lru_cache(maxsize=None)
def compiled_epochs(program: Program, stage_index: int, n_epochs: int, vmapped: bool = True):
    """The jitted ``(states, x, probe_x, first_epoch) -> (states, metrics)`` of a stage chunk.

    ``vmapped``: over a leading seed axis of ``states`` (metrics come back (S, n_epochs));
    otherwise one seed (the baseline of the benchmarks and the twin of the tests)."""
    name = program.stages[stage_index].name

    def chunk(state, x, probe_x, first_epoch):
        TRACE_COUNTS[(name, n_epochs, vmapped)] += 1  # runs only while tracing
        one_seed = functools.partial(run_epochs, program, stage_index, n_epochs)
        if vmapped:
            return jax.vmap(one_seed, in_axes=(0, None, None, None))(state, x, probe_x, first_epoch)
        return one_seed(state, x, probe_x, first_epoch)

    return jax.jit(chunk)


@functools.lru_cache(maxsize=None)
def compiled_step(program: Program, stage_index: int):
    """The jitted single step of one seed, ``(state, batch, key, epoch) -> (state, losses)``:
    the per-step baseline of the benchmarks."""
    stage = program.stages[stage_index]
    return jax.jit(functools.partial(train_step, program, stage))


# ----------------------------------------------------------------------------- sharding

def seed_mesh(devices=None) -> Mesh:
    """A 1-D mesh named "seeds" over ``devices`` (default: all devices, of all hosts)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), ("seeds",))


def padded_seed_count(n_seeds: int, n_devices: int) -> int:
    """The smallest multiple of ``n_devices`` that is >= ``n_seeds``."""
    return math.ceil(n_seeds / n_devices) * n_devices


def shard_seeds(tree, mesh: Mesh):
    """Places every leaf of ``tree`` (leading axis = seeds) split over the mesh's seed axis."""
    n_devices = mesh.devices.size

    def place(leaf):
        if leaf.ndim == 0 or leaf.shape[0] % n_devices:
            raise ValueError(f"shard_seeds: a leaf of shape {leaf.shape} has a seed axis not "
                             f"divisible by the {n_devices} devices; pad the seeds "
                             "(padded_seed_count)")
        return jax.device_put(leaf, NamedSharding(mesh, PartitionSpec("seeds")))

    return jax.tree.map(place, tree)


def replicate(tree, mesh: Mesh):
    """Places ``tree`` (data, probe set) whole on every device of the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


# ----------------------------------------------------------------------------- the host loop

@dataclasses.dataclass(frozen=True)
class Position:
    """Where a run is: the next epoch to run is epoch ``epoch`` of stage ``stage``."""

    stage: int = 0
    epoch: int = 0


def run_program(program: Program, states: TrainState, x: jax.Array, probe_x: jax.Array, *,
                start: Position = Position(), epochs_per_call: int = 1,
                on_chunk: Callable | None = None) -> TrainState:
    """Trains stacked ``states`` through the program's stages from ``start``.

    After each jitted chunk of ``epochs_per_call`` epochs (fewer at the end of a stage) it calls
    ``on_chunk(stage, first_epoch, metrics, states, next_position)`` with the chunk's metrics as
    NumPy arrays of shape (S, n_epochs): the place to log, draw a progress bar and checkpoint.
    This is the only host synchronisation of a run. When ``on_chunk`` returns True, training
    stops there (early stopping) and the states are returned.
    """
    if epochs_per_call < 1:
        raise ValueError(f"epochs_per_call: expected >= 1, got {epochs_per_call}")
    _n_examples(x)  # checks that every leaf of x has the same leading (example) axis
    for stage_index in range(start.stage, len(program.stages)):
        stage = program.stages[stage_index]
        epoch = start.epoch if stage_index == start.stage else 0
        while epoch < stage.epochs:
            n = min(epochs_per_call, stage.epochs - epoch)
            states, metrics = compiled_epochs(program, stage_index, n)(
                states, x, probe_x, jnp.int32(epoch))
            epoch += n
            if on_chunk is not None:
                following = (Position(stage_index, epoch) if epoch < stage.epochs
                             else Position(stage_index + 1, 0))
                if on_chunk(stage, epoch - n, jax.device_get(metrics), states, following):
                    return states
    return states
