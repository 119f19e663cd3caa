"""Training the Additive Split Autoencoder (thesis ch. 8) on the engine.

One stage, "autoencoders": both halves minimise the reconstruction error of their sum,
``|y_a + y_b - x|^2`` (section 8.3, y = f_A(x) + f_B(x)), with RMSprop at learning rate 1e-3 on
minibatches of 128 (section 8.4; the chapter names no momentum, so none is used). Per epoch the
probe set gives the KSG mutual information between the codes z_a and z_b (Fig. 8.4, 8.8, 8.9).
``optimizer`` swaps RMSprop for Adam or SGD (section 8.6: "both SGD and Adam are consistently
less successful than RMSprop"); SGD takes ``momentum`` as heavy-ball momentum.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from jaxdis.config import check_fields
from jaxdis.losses import split_autoencoder_loss
from jaxdis.metrics import ksg
from jaxdis.nets.split_autoencoder import ASAEArchitecture, asae_apply, init_asae
from jaxdis.train.engine import Program, Stage
from jaxdis.train.optimizers import OptimizerSpec, make_optimizer, thesis_rmsprop


OPTIMIZERS = ("rmsprop", "adam", "sgd")


@dataclasses.dataclass(frozen=True)
class ASAESchedule:
    """How an ASAE is trained (section 8.4; ``optimizer`` and ``momentum`` for section 8.6).

    The fields carry the names of the experiment's config (``experiments/asae.py``, which builds
    the schedule from its config with :func:`jaxdis.config.from_fields`), and a value the schedule
    cannot train with is refused here, naming the field."""

    epochs: int = 50
    learning_rate: float = 1e-3
    momentum: float = 0.0
    batch_size: int = 128
    mi_k: int = 3
    optimizer: str = "rmsprop"  # or "adam", "sgd"

    def __post_init__(self):
        check_fields(self, ("batch_size", "mi_k"), lambda v: v >= 1, "an int >= 1")
        check_fields(self, ("epochs",), lambda v: v >= 0, "an int >= 0")
        check_fields(self, ("learning_rate",), lambda v: v > 0, "> 0")
        check_fields(self, ("momentum",), lambda v: 0 <= v < 1, "in [0, 1)")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected 'rmsprop', 'adam' or 'sgd', got "
                             f"{self.optimizer!r}")


def losses_and_grads(arch: ASAEArchitecture, params, constants, x, key, epoch):
    del constants, key, epoch  # no per-seed constants, deterministic loss, no schedule

    def loss(p):
        _, _, y_a, y_b = asae_apply(arch, p, x)
        return split_autoencoder_loss(x, y_a, y_b)

    value, grads = jax.value_and_grad(loss)(params)
    return {"reconstruction": value}, grads


def probe_metrics(arch: ASAEArchitecture, k: int, params, constants, probe_x, key):
    del constants, key  # no per-seed constants; linear codes: no exact ties
    z_a, z_b, y_a, y_b = asae_apply(arch, params, probe_x)
    return {"mi": ksg.ksg_mi(z_a, z_b, k=k),  # each unit standardised: blind to a code's scale
            "mi_raw": ksg.ksg_mi(z_a, z_b, k=k, standardize=False),  # the thesis's estimate
            "probe_reconstruction": split_autoencoder_loss(probe_x, y_a, y_b),
            "code_a_std": jnp.mean(jnp.std(z_a, axis=0)),
            "code_b_std": jnp.mean(jnp.std(z_b, axis=0))}


@functools.lru_cache(maxsize=None)
def asae_program(arch: ASAEArchitecture, schedule: ASAESchedule) -> Program:
    stage = Stage("autoencoders", schedule.epochs, ("autoencoders",),
                  functools.partial(losses_and_grads, arch))
    if schedule.optimizer == "rmsprop":
        spec = thesis_rmsprop(schedule.learning_rate, schedule.momentum)
    else:  # "adam" or "sgd" (the schedule refuses any other)
        spec = OptimizerSpec(schedule.optimizer, schedule.learning_rate, schedule.momentum)
    optimizer = make_optimizer({"autoencoders": spec})
    return Program(stages=(stage,), optimizer=optimizer,
                   init_params=functools.partial(init_asae, arch=arch),
                   probe_metrics=functools.partial(probe_metrics, arch, schedule.mi_k),
                   batch_size=schedule.batch_size)
