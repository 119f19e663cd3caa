"""The training engine: optimizers by role, one compiled program per stage, seeds as an axis.

- :mod:`jaxdis.train.optimizers`: one optax transformation per parameter role (RMSprop of
  thesis eq. 7.4 with momentum, Adam, SGD, AdaDelta), hyperparameters in the state.
- :mod:`jaxdis.train.engine`: epochs as `lax.scan`, stages as jitted calls, `vmap` over seeds,
  sharding of the seed axis, frozen diverged seeds.
- :mod:`jaxdis.train.checkpoint`: atomic checkpoints and resume.
- :mod:`jaxdis.train.ddn`, :mod:`jaxdis.train.asae`: the thesis's two neural models on it.
- :mod:`jaxdis.train.two_code_sweep`: the steps their seed sweeps share (config checks, training,
  the summary of the final codes and its figures).
- :mod:`jaxdis.train.forced_apart`: the Forced Apart classifiers and autoencoders, a table of
  them (losses x seeds, per-model constants) as one program.
"""

from jaxdis.train.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from jaxdis.train.engine import (TRACE_COUNTS, Position, Program, Stage, TrainState,
                                 compiled_epochs, compiled_step, init_state, init_states,
                                 padded_seed_count, replicate, run_program, seed_keys, seed_mesh,
                                 shard_seeds)
from jaxdis.train.optimizers import (OptimizerSpec, get_hyperparams, make_optimizer,
                                     set_hyperparams, thesis_rmsprop)

__all__ = ["OptimizerSpec", "make_optimizer", "thesis_rmsprop", "get_hyperparams",
           "set_hyperparams", "Program", "Stage", "TrainState", "Position", "TRACE_COUNTS",
           "init_state", "init_states", "seed_keys", "run_program", "compiled_epochs",
           "compiled_step", "seed_mesh", "shard_seeds", "replicate", "padded_seed_count",
           "save_checkpoint", "load_checkpoint", "has_checkpoint"]
