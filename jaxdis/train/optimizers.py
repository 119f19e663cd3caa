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
``W_t = W_{t-1} - eta / (sqrt(v_t) + eps) g_t``: eps OUTSIDE the square root. Section 9.3 trains
the DDN with "RMSprop ... learning rate 1e-4 and momentum 0.9" and names neither its framework nor
RMSprop's decay. That sentence has several readings; :data:`RMSPROP_READINGS` names five, all with
decay gamma = 0.9 (Hinton's lecture and the default of every framework of the time), learning
rate eta, heavy-ball coefficient mu (the caller's ``momentum``)::

    heavy-ball  v_t = 0.9 v_{t-1} + 0.1 g_t**2                          v_0 = 0
                m_t = mu m_{t-1} + eta g_t / (sqrt(v_t) + 1e-8)         m_0 = 0
                W_t = W_{t-1} - m_t
                (thesis eq. 7.4 with thesis eq. 7.3's heavy ball on the scaled step; PyTorch's
                RMSprop(alpha=0.9, eps=1e-8, momentum=0.9) at a constant learning rate)
    decay       v_t = 0.9 v_{t-1} + 0.1 g_t**2                          v_0 = 0
                W_t = W_{t-1} - eta g_t / (sqrt(v_t) + 1e-8)
                (the 0.9 is RMSprop's decay, Keras's and Lasagne's rho; no momentum term;
                Keras 1's RMSprop(lr, rho=0.9, epsilon=1e-8))
    printed     v_t = g_t**2 + 0.9 v_{t-1}                              v_0 = 0
                W_t = W_{t-1} - eta g_t / (sqrt(v_t) + 1e-8)
                (thesis eq. 7.4 exactly as printed: a leaky SUM of squares, which settles near
                10 g**2 rather than g**2, so steps are sqrt(10) times smaller; no momentum term)
    tf1         ms_t  = 0.9 ms_{t-1} + 0.1 g_t**2                       ms_0 = 1
                mom_t = mu mom_{t-1} + eta g_t / sqrt(ms_t + 1e-10)     mom_0 = 0
                W_t   = W_{t-1} - mom_t
                (tf.train.RMSPropOptimizer(eta, decay=0.9, momentum=0.9, epsilon=1e-10))
    lasagne     v_t = 0.9 v_{t-1} + 0.1 g_t**2                          v_0 = 0
                W_t = W_{t-1} - eta g_t / sqrt(v_t + 1e-6)
                (lasagne.updates.rmsprop(loss, params, eta, rho=0.9, epsilon=1e-6); no
                momentum term)

``tf1`` reads "momentum 0.9" as TF1's own ``momentum`` argument (its decay is 0.9 by default):
a TF1 user writing "RMSprop with momentum 0.9" passed ``momentum=0.9``, and TF1's momentum is
the heavy ball above on the learning-rate-scaled step. Keras and Lasagne have no momentum
argument, so there "momentum 0.9" can only have been the decay rho (``decay``, ``lasagne``).

**The momentum rule.** ``momentum`` is the coefficient mu of a reading's momentum term, so it
applies to ``heavy-ball`` and ``tf1`` only. The other three read the thesis's 0.9 as RMSprop's
decay and have no momentum term: for them ``momentum`` must be 0.9 (the thesis's value, already
spent as the decay) or 0 (no momentum, said outright); any other value is refused rather than
silently ignored (:func:`rmsprop_reading`).

``printed`` is a transformation of its own (:func:`scale_by_printed_rms`). It also equals optax's
RMSprop with both the learning rate and eps rescaled: with u_t = (1 - gamma) v_t (the decaying
average, from u_0 = (1 - gamma) v_0), sqrt(v_t) = sqrt(u_t) / sqrt(1 - gamma), so

    eta g_t / (sqrt(v_t) + eps) = eta' g_t / (sqrt(u_t) + eps'),
    eta' = sqrt(1 - gamma) eta,   eps' = sqrt(1 - gamma) eps,

an identity ``tests/test_train_optimizers.py`` checks (rescaling eta alone would leave eps
1 / sqrt(1 - gamma), about 3.2, times larger than thesis eq. 7.4's). Every reading is checked
there step by step against a float64 NumPy transcription of the formulas above.
:func:`thesis_rmsprop` is the ``heavy-ball`` reading with a free momentum (the ASAE's RMSprop,
with momentum 0).
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
      eps_in_sqrt: RMSprop only: eps inside the root (optax's default) or outside
        (thesis eq. 7.4).
      initial_scale: RMSprop only: the starting value of the average of squares.
      one_minus_decay: RMSprop only: True, the new squared gradient enters the average with
        weight (1 - decay) (the decaying average of the thesis's prose and of every framework);
        False, with weight 1 (thesis eq. 7.4 as printed, :func:`scale_by_printed_rms`).
    """

    name: str = "rmsprop"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    decay: float = 0.9
    eps: float = 1e-8
    eps_in_sqrt: bool = False
    initial_scale: float = 0.0
    one_minus_decay: bool = True

    def __post_init__(self):
        if self.name not in OPTIMIZER_NAMES:
            raise ValueError(f"OptimizerSpec.name: expected one of {OPTIMIZER_NAMES}, got {self.name!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"OptimizerSpec.learning_rate: expected > 0, got {self.learning_rate}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"OptimizerSpec.momentum: expected in [0, 1), got {self.momentum}")


def thesis_rmsprop(learning_rate: float, momentum: float = 0.9, decay: float = 0.9,
                   eps: float = 1e-8) -> OptimizerSpec:
    """RMSprop as the thesis writes it (thesis eq. 7.4, eps outside the root, average from 0)
    with the heavy-ball momentum of section 9.3."""
    return OptimizerSpec("rmsprop", learning_rate, momentum, decay, eps, eps_in_sqrt=False,
                         initial_scale=0.0)


@dataclasses.dataclass(frozen=True)
class RMSpropReading:
    """One reading of section 9.3's "RMSprop ... momentum 0.9" (see the module docstring)."""

    eps: float
    eps_in_sqrt: bool
    initial_scale: float
    one_minus_decay: bool   # False: thesis eq. 7.4 as printed, v_t = g_t**2 + decay v_{t-1}
    has_momentum: bool      # a heavy-ball term whose coefficient is the caller's ``momentum``
    source: str


RMSPROP_DECAY = 0.9      # gamma of every reading
THESIS_MOMENTUM = 0.9    # section 9.3's "momentum 0.9"
RMSPROP_READINGS = {
    "heavy-ball": RMSpropReading(1e-8, False, 0.0, True, True,
                                 "eq. 7.4 plus eq. 7.3's heavy ball (PyTorch's RMSprop)"),
    "decay": RMSpropReading(1e-8, False, 0.0, True, False,
                            "the 0.9 as RMSprop's decay, eq. 7.4's eps (Keras 1's RMSprop)"),
    "printed": RMSpropReading(1e-8, False, 0.0, False, False, "eq. 7.4 exactly as printed"),
    "tf1": RMSpropReading(1e-10, True, 1.0, True, True,
                          "tf.train.RMSPropOptimizer(lr, decay=0.9, momentum=0.9)"),
    "lasagne": RMSpropReading(1e-6, True, 0.0, True, False,
                              "lasagne.updates.rmsprop(lr, rho=0.9, epsilon=1e-6)"),
}
# Old names: "thesis" was the heavy-ball reading. ("lasagne" kept its name but not its meaning:
# it used to carry the heavy ball as well; "tf1" is unchanged.)
RMSPROP_ALIASES = {"thesis": "heavy-ball"}


def rmsprop_reading(name: str, momentum: float = THESIS_MOMENTUM) -> RMSpropReading:
    """The reading ``name`` (an old name mapped), after checking ``momentum`` against it.

    Raises ValueError naming the valid readings for an unknown name, and for a ``momentum`` the
    reading would ignore: one other than 0.9 or 0 for a reading without a momentum term."""
    canonical = RMSPROP_ALIASES.get(name, name)
    if canonical not in RMSPROP_READINGS:
        raise ValueError(f"rmsprop: expected one of {', '.join(RMSPROP_READINGS)} (old name: "
                         f"'thesis' = 'heavy-ball'), got {name!r}")
    reading = RMSPROP_READINGS[canonical]
    if not reading.has_momentum and momentum not in (0.0, THESIS_MOMENTUM):
        with_momentum = ", ".join(n for n, r in RMSPROP_READINGS.items() if r.has_momentum)
        raise ValueError(f"momentum={momentum} with rmsprop={name!r}: this reading has no "
                         f"momentum term (it reads the thesis's 0.9 as RMSprop's decay), so "
                         f"momentum must be {THESIS_MOMENTUM} or 0; momentum applies to "
                         f"{with_momentum}")
    return reading


def rmsprop_spec(name: str, learning_rate: float,
                 momentum: float = THESIS_MOMENTUM) -> OptimizerSpec:
    """The :class:`OptimizerSpec` of reading ``name`` (see :data:`RMSPROP_READINGS`): decay 0.9,
    and heavy-ball ``momentum`` if the reading has a momentum term (none otherwise)."""
    reading = rmsprop_reading(name, momentum)
    return OptimizerSpec("rmsprop", learning_rate,
                         momentum if reading.has_momentum else 0.0, RMSPROP_DECAY, reading.eps,
                         reading.eps_in_sqrt, reading.initial_scale, reading.one_minus_decay)


def scale_by_printed_rms(decay, eps, initial_scale=0.0,
                         eps_in_sqrt: bool = False) -> optax.GradientTransformation:
    """Thesis eq. 7.4 exactly as printed: ``v_t = g_t**2 + decay * v_{t-1}`` (no (1 - decay)
    factor), ``v_0 = initial_scale``, and the update ``g_t / (sqrt(v_t) + eps)``
    (``/ sqrt(v_t + eps)`` with ``eps_in_sqrt``). Its state is optax's ``ScaleByRmsState``."""

    def init(params):
        return optax.ScaleByRmsState(nu=optax.tree.full_like(params, initial_scale))

    def update(updates, state, params=None):
        del params
        nu = jax.tree.map(lambda g, n: g * g + decay * n, updates, state.nu)
        if eps_in_sqrt:
            scaled = jax.tree.map(lambda g, n: g * jax.lax.rsqrt(n + eps), updates, nu)
        else:
            scaled = jax.tree.map(lambda g, n: g / (jnp.sqrt(n) + eps), updates, nu)
        return scaled, optax.ScaleByRmsState(nu=nu)

    return optax.GradientTransformation(init, update)


def _rmsprop(learning_rate, decay, eps, initial_scale, momentum, eps_in_sqrt, one_minus_decay):
    # momentum is a hyperparameter array here (it may differ per seed), so it is always applied:
    # optax.trace with decay 0 is exactly "no momentum".
    scale = optax.scale_by_rms if one_minus_decay else scale_by_printed_rms
    return optax.chain(
        scale(decay=decay, eps=eps, initial_scale=initial_scale, eps_in_sqrt=eps_in_sqrt),
        optax.scale_by_learning_rate(learning_rate),
        optax.trace(decay=momentum, nesterov=False),
    )


def _sgd(learning_rate, momentum):
    return optax.chain(optax.scale_by_learning_rate(learning_rate), optax.trace(decay=momentum))


def one_optimizer(spec: OptimizerSpec) -> optax.GradientTransformation:
    """The transformation of one role, with its numeric settings injected as hyperparameters."""
    if spec.name == "rmsprop":
        return optax.inject_hyperparams(_rmsprop,
                                        static_args=("eps_in_sqrt", "one_minus_decay"))(
            learning_rate=spec.learning_rate, decay=spec.decay, eps=spec.eps,
            initial_scale=spec.initial_scale, momentum=spec.momentum,
            eps_in_sqrt=spec.eps_in_sqrt, one_minus_decay=spec.one_minus_decay)
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
