"""Optimizers by parameter role: one optax transformation per role, joined with `optax.partition`.

Parameters are a dict ``{role: pytree}`` (the DDN's roles are "encoders", "predictors" and
"decoders"). :func:`make_optimizer` takes ``{role: OptimizerSpec}`` and returns one optax
transformation whose state holds, per role, an `optax.inject_hyperparams` state: the learning
rate (and momentum, ...) of each role live in the optimizer state as arrays, so a seed axis can
carry a grid of them (:func:`set_hyperparams`, called inside `vmap`; the constructor itself is
built once, outside `vmap`, because vmapping it fails).

RMSprop with momentum, as optax defines it (``optax.rmsprop(lr, decay, eps, initial_scale,
eps_in_sqrt, momentum)``)::

    nu_t  = decay * nu_{t-1} + (1 - decay) * g_t**2          nu_0 = initial_scale (optax: 0)
    s_t   = g_t / sqrt(nu_t + eps)        if eps_in_sqrt (optax's default)
          = g_t / (sqrt(nu_t) + eps)      otherwise
    m_t   = momentum * m_{t-1} + lr * s_t                     m_0 = 0  (heavy ball, on the
    W_t   = W_{t-1} - m_t                                      learning-rate-scaled step)

The thesis's eq. 7.4 is RMSprop without momentum, ``v_t = g_t**2 + gamma v_{t-1}`` (the PDF
drops the (1 - gamma) factor of the decaying average it describes in the prose) and
``W_t = W_{t-1} - eta / (sqrt(v_t) + eps) g_t``: eps OUTSIDE the square root. Section 9.3 adds
momentum 0.9 to it for the DDN; eq. 7.3 defines momentum as a heavy-ball sum of past steps. So the
variant that reproduces the thesis as written is optax's RMSprop with ``eps_in_sqrt=False``,
``initial_scale=0`` (a decaying average of squares starts from nothing) and heavy-ball momentum
on the scaled step. With a constant learning rate the last choice is the same as PyTorch's
``RMSprop(momentum=...)`` (``buf = mu buf + g / (sqrt(v) + eps); W -= lr buf``); TensorFlow 1's
``RMSPropOptimizer`` differs in starting ``nu`` at 1 (tiny first steps) and putting eps inside the
root. The thesis names neither its framework nor its decay; we take decay 0.9 (Hinton's lecture,
Keras and TF1 defaults) and eps 1e-8, and expose both, with ``eps_in_sqrt`` and
``initial_scale``, on :class:`OptimizerSpec` so the other variants are one field away.
:func:`thesis_rmsprop` is this variant; ``tests/test_train_optimizers.py`` checks it step by step
against a float64 NumPy transcription of eq. 7.3-7.4.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp
import optax

OPTIMIZER_NAMES = ("rmsprop", "adam", "sgd", "adadelta")


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """One role's optimizer.

    Attributes:
      name: "rmsprop" (thesis eq. 7.4, with heavy-ball momentum when ``momentum`` > 0), "adam"
        (thesis eq. 7.5), "sgd" (with heavy-ball momentum, thesis eq. 7.3) or "adadelta".
      learning_rate: the step size eta.
      momentum: heavy-ball momentum (rmsprop, sgd); 0 means none.
      decay: RMSprop's decay gamma of the average of squared gradients; AdaDelta's rho.
      eps: the stabiliser of the denominator.
      eps_in_sqrt: RMSprop only: eps inside the root (optax's default) or outside (eq. 7.4).
      initial_scale: RMSprop only: the starting value of the average of squares.
    """

    name: str = "rmsprop"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    decay: float = 0.9
    eps: float = 1e-8
    eps_in_sqrt: bool = False
    initial_scale: float = 0.0

    def __post_init__(self):
        if self.name not in OPTIMIZER_NAMES:
            raise ValueError(f"OptimizerSpec.name: expected one of {OPTIMIZER_NAMES}, got {self.name!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"OptimizerSpec.learning_rate: expected > 0, got {self.learning_rate}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"OptimizerSpec.momentum: expected in [0, 1), got {self.momentum}")


def thesis_rmsprop(learning_rate: float, momentum: float = 0.9, decay: float = 0.9,
                   eps: float = 1e-8) -> OptimizerSpec:
    """RMSprop as the thesis writes it (eq. 7.4, eps outside the root, average from 0) with the
    heavy-ball momentum of section 9.3."""
    return OptimizerSpec("rmsprop", learning_rate, momentum, decay, eps, eps_in_sqrt=False,
                         initial_scale=0.0)


def _rmsprop(learning_rate, decay, eps, initial_scale, momentum, eps_in_sqrt):
    # momentum is a hyperparameter array here (it may differ per seed), so it is always applied:
    # optax.trace with decay 0 is exactly "no momentum".
    return optax.chain(
        optax.scale_by_rms(decay=decay, eps=eps, initial_scale=initial_scale,
                           eps_in_sqrt=eps_in_sqrt),
        optax.scale_by_learning_rate(learning_rate),
        optax.trace(decay=momentum, nesterov=False),
    )


def _sgd(learning_rate, momentum):
    return optax.chain(optax.scale_by_learning_rate(learning_rate), optax.trace(decay=momentum))


def one_optimizer(spec: OptimizerSpec) -> optax.GradientTransformation:
    """The transformation of one role, with its numeric settings injected as hyperparameters."""
    if spec.name == "rmsprop":
        return optax.inject_hyperparams(_rmsprop, static_args=("eps_in_sqrt",))(
            learning_rate=spec.learning_rate, decay=spec.decay, eps=spec.eps,
            initial_scale=spec.initial_scale, momentum=spec.momentum,
            eps_in_sqrt=spec.eps_in_sqrt)
    if spec.name == "adam":
        return optax.inject_hyperparams(optax.adam)(learning_rate=spec.learning_rate, eps=spec.eps)
    if spec.name == "sgd":
        return optax.inject_hyperparams(_sgd)(learning_rate=spec.learning_rate,
                                              momentum=spec.momentum)
    return optax.inject_hyperparams(optax.adadelta)(learning_rate=spec.learning_rate,
                                                    rho=spec.decay, eps=spec.eps)


def make_optimizer(specs: Mapping[str, OptimizerSpec]) -> optax.GradientTransformation:
    """One transformation for ``params = {role: pytree}``: role ``r`` is updated by ``specs[r]``.

    The state is an ``optax.PartitionState`` whose ``inner_states[r]`` belongs to role ``r``
    alone, so a training stage can keep the state of the roles it does not train
    (see :func:`keep_roles`)."""
    if not specs:
        raise ValueError("make_optimizer: specs is empty; expected {role: OptimizerSpec}")
    for role, spec in specs.items():
        if not isinstance(spec, OptimizerSpec):
            raise TypeError(f"make_optimizer: specs[{role!r}] is {type(spec).__name__}, "
                            "expected OptimizerSpec")
    roles = tuple(specs)

    def labels(params):
        if not isinstance(params, Mapping) or set(params) != set(roles):
            got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
            raise ValueError(f"params: expected a dict with the roles {sorted(roles)}, got {got}")
        return {role: jax.tree.map(lambda _: role, params[role]) for role in params}

    return optax.partition({role: one_optimizer(spec) for role, spec in specs.items()}, labels)


def _hyperparams_of(opt_state, role):
    try:
        return opt_state.inner_states[role].inner_state.hyperparams
    except (AttributeError, KeyError):
        raise ValueError(f"opt_state has no role {role!r}; expected a state of make_optimizer "
                         f"with roles {sorted(getattr(opt_state, 'inner_states', {}))}") from None


def get_hyperparams(opt_state, role: str) -> dict:
    """The injected hyperparameters (arrays) of ``role``."""
    return dict(_hyperparams_of(opt_state, role))


def set_hyperparams(opt_state, role: str, **values):
    """Returns ``opt_state`` with ``role``'s hyperparameters replaced (e.g. learning_rate=...).

    Works inside `jit` and `vmap`: under a vmap over seeds, ``values`` may be per-seed arrays,
    which is how a seed axis carries a grid of learning rates."""
    hyper = _hyperparams_of(opt_state, role)
    unknown = set(values) - set(hyper)
    if unknown:
        raise ValueError(f"set_hyperparams({role!r}): unknown {sorted(unknown)}; "
                         f"valid: {sorted(hyper)}")
    new_hyper = dict(hyper)
    for name, value in values.items():
        new_hyper[name] = jnp.asarray(value, dtype=hyper[name].dtype)
    masked = opt_state.inner_states[role]
    inner = masked.inner_state._replace(hyperparams=new_hyper)
    states = dict(opt_state.inner_states)
    states[role] = masked._replace(inner_state=inner)
    return opt_state._replace(inner_states=states)


def keep_roles(trained: tuple[str, ...], new_params, old_params, new_opt_state, old_opt_state):
    """(params, opt_state) with the roles outside ``trained`` restored to their old values.

    A stage that trains some roles leaves the others exactly as they were: their parameters AND
    their optimizer state (momentum would otherwise keep moving them on zero gradients)."""
    params = {r: (new_params[r] if r in trained else old_params[r]) for r in new_params}
    states = {r: (new_opt_state.inner_states[r] if r in trained else old_opt_state.inner_states[r])
              for r in new_opt_state.inner_states}
    return params, new_opt_state._replace(inner_states=states)
