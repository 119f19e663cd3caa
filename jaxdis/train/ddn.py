"""Training the Discriminative Disentangling Network (thesis ch. 9, Alg. 5 and 6) on the engine.

Three stages, each one :class:`~jaxdis.train.engine.Stage`:

1. "encoders" (Alg. 5, stage 1): the encoders and predictors play two games (thesis eq. 9.7).
   Each of the four networks descends the gradient of ITS OWN loss only (`grad_by_role` routes
   them)::

       f_a:  l^E_a = z_a . q_ba(z_b)          (thesis eq. 9.6)
       f_b:  l^E_b = z_b . q_ab(z_a)
       q_ba: l^P_ba = |q_ba(z_b) - z_a|^2     (thesis eq. 9.5; thesis eq. 9.7 as printed swaps the
       q_ab: l^P_ab = |q_ab(z_a) - z_b|^2      subscripts of the predictors' lines; each predictor
                                               obviously trains on the error of its own prediction)

   A sum such as l^E_a + l^E_b would be wrong for f_a: l^E_b depends on f_a through q_ab(z_a).
2. "decoders" (Alg. 5, stage 2): g_a, g_b, g_ab learn to reconstruct x from z_a, z_b and both
   (thesis eq. 9.10); encoders and predictors are frozen.
3. "end_to_end" (Alg. 6, stage 3): everything trains; each encoder adds
   alpha |g_ab(z_a, z_b) - x|^2 to its encoding loss (thesis eq. 9.11), the predictors see codes
   with Gaussian noise of standard deviation sigma (denoising, thesis eq. 9.12), the decoders keep
   thesis eq. 9.10. alpha moves linearly from ``alpha`` to ``alpha_end`` over the stage's epochs:
   constant 0.1 for the synthetic datasets, annealed upward for plain MNIST (section 9.4.4, which
   gives no schedule; ours is a linear ramp, a choice recorded in the experiment's config).

Section 9.3 is ambiguous on whether the denoising of thesis eq. 9.12 is used in stage 1 too (Alg.
6 lists it in stage 3 only; the prose says it speeds up disentangling). ``denoise_stage1``
chooses; the default follows Alg. 6.

Three ablations the thesis describes in words (measured by ``experiments/part3.py``):

- ``reconstruction_in_stage1`` (section 9.2.2): stage 1 already uses the losses of stage 3
  (thesis eq. 9.11 for the encoders, with the decoders trained beside them). The thesis: "mostly
  results in failed training".
- a shared encoder (``DDNArchitecture(shared_encoder=True)``, section 9.5.1): one network f_ab
  emits both codes and descends the sum of both encoding losses (and one reconstruction term in
  stage 3). The thesis: "highly unstable learning".
- ``encoding="xcov"`` (section 9.1's rejected covariance penalty): no predictors. The encoders
  and the joint decoder minimise ``|g_ab(z_a, z_b) - x|^2 + xcov_weight * XCov(z_a, z_b)`` (the
  penalty of :func:`jaxdis.losses.xcov`) in stages 1 and 3, g_a and g_b learn thesis eq. 9.10
  beside them and alone in stage 2. The thesis: "having zero covariance is not sufficient for
  disentangling".

The optimizers are those of section 9.3: "RMSprop ... momentum 0.9" for every role, learning rate
1e-4 for the encoders and 1e-3 for the predictors and decoders (the predictor must learn faster
than the encoder it chases, section 9.2.2 and Fig. 9.4). Each role's optimizer state lives through
all three stages (a stage leaves the state of the roles it does not train untouched).
``DDNSchedule.rmsprop`` names the reading of that sentence (:data:`RMSPROP_VARIANTS`, the update
formulas in :mod:`jaxdis.train.optimizers`): ``decay`` (the default), ``heavy-ball`` (the old
name "thesis" still means it), ``printed``, ``tf1``, ``lasagne``. ``momentum`` is the coefficient of
the readings with a momentum term (heavy-ball, tf1); the others refuse any value but 0.9 or 0.

The evidence, from runs at the thesis's scale, 2 to 4 seeds each
(experiments/results/ddn_readings.md): the two readings with a heavy-ball term kill the encoders
in stage 1 (at its end 0% of their first-layer ReLUs fire with ``heavy-ball``, 1% with ``tf1``);
with ``decay`` about 42% still fire, with ``printed`` all of them. No reading disentangles Simple
MNIST (the ground-truth score is at most 0.09 against a ceiling of 0.48); ``decay`` with
``code_norm="batch"`` gives codes that each carry mostly one digit there (0.09-0.21), and on
Additive and Occlusive MNIST codes that are independent but each carry both digits (score 0).
So the readings without a heavy-ball term are the better ones, and the default is ``decay``. Of
the two, it is the one the best setting was measured with (``code_norm="batch"``, above), and it
is what Keras and Lasagne, the common RMSprop of 2016-17, call RMSprop with rho 0.9; alone,
``printed`` scored slightly higher on Simple (at most 0.09 against 0) and has not been tried with
batch-standardised codes. The default was ``heavy-ball`` before: the thesis rows of
experiments/results/part3.md and part3_thesis.md were run with it, and their commands name
``rmsprop=heavy-ball``.

``code_norm="batch"`` (:class:`~jaxdis.nets.ddn.DDNArchitecture`, not in the thesis) standardises
each code over the minibatch inside the encoders, so every loss here sees standardised codes.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from jaxdis.config import check_fields
from jaxdis.losses import (ddn_denoise, ddn_encoding_loss, ddn_finetune_encoding_loss,
                           ddn_predictive_loss, grad_by_role, xcov)
from jaxdis.metrics import ksg
from jaxdis.nets.ddn import ROLE_OF_NETWORK, DDNArchitecture, apply_network, init_ddn
from jaxdis.train.engine import Program, Stage
from jaxdis.train.optimizers import (RMSPROP_READINGS, make_optimizer, rmsprop_reading,
                                     rmsprop_spec)

STAGE_NAMES = ("encoders", "decoders", "end_to_end")
ENCODINGS = ("predictors", "xcov")
# The readings of section 9.3's "RMSprop ... momentum 0.9" by name (the formulas are in
# jaxdis.train.optimizers); the thesis names no framework. The floor under the root decides how
# steps shrink with the gradient, which matters when the codes shrink (see
# experiments/results/part3.md). Old names: "thesis" is "heavy-ball"; "lasagne" used to carry
# heavy-ball momentum 0.9 on top and now is Lasagne's rmsprop as it is, without.
RMSPROP_VARIANTS = RMSPROP_READINGS


@dataclasses.dataclass(frozen=True)
class DDNSchedule:
    """How a DDN is trained: epochs per stage (Alg. 5, 6) and the hyperparameters of section 9.3.

    The fields carry the names of the experiment's config (``experiments/ddn.py``, which builds
    the schedule from its config with :func:`jaxdis.config.from_fields`), and a value the schedule
    cannot train with is refused here, naming the field."""

    encoder_epochs: int = 35
    decoder_epochs: int = 10
    end_to_end_epochs: int = 5
    encoder_lr: float = 1e-4
    predictor_lr: float = 1e-3
    decoder_lr: float = 1e-3
    momentum: float = 0.9
    sigma: float = 0.1
    alpha: float = 0.1
    alpha_end: float = 0.1
    denoise_stage1: bool = False
    batch_size: int = 128
    mi_k: int = 3
    reconstruction_in_stage1: bool = False  # ablation of section 9.2.2
    encoding: str = "predictors"            # or "xcov": the baseline of section 9.1
    xcov_weight: float = 10.0               # the XCov coefficient of the baseline
    rmsprop: str = "decay"                  # which RMSprop: see RMSPROP_VARIANTS

    def __post_init__(self):
        check_fields(self, ("batch_size", "mi_k"), lambda v: v >= 1, "an int >= 1")
        check_fields(self, ("encoder_epochs", "decoder_epochs", "end_to_end_epochs"),
                     lambda v: v >= 0, "an int >= 0")
        check_fields(self, ("encoder_lr", "predictor_lr", "decoder_lr"), lambda v: v > 0, "> 0")
        check_fields(self, ("momentum",), lambda v: 0 <= v < 1, "in [0, 1)")
        check_fields(self, ("sigma", "alpha", "alpha_end", "xcov_weight"), lambda v: v >= 0,
                     ">= 0")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding: expected one of {ENCODINGS}, got {self.encoding!r}")
        rmsprop_reading(self.rmsprop, self.momentum)  # a bad name or momentum raises

    def alpha_at(self, epoch):
        """alpha of thesis eq. 9.11 in epoch ``epoch`` of stage 3: linear from alpha to
        alpha_end."""
        span = max(self.end_to_end_epochs - 1, 1)
        fraction = jnp.clip(jnp.asarray(epoch, jnp.float32) / span, 0.0, 1.0)
        return self.alpha + (self.alpha_end - self.alpha) * fraction


def _by_network(params: dict) -> dict:
    return {name: nets[name] for nets in params.values() for name in nets}


def _by_role(grads_by_network: dict) -> dict:
    grouped: dict = {}
    for name, grad in grads_by_network.items():
        grouped.setdefault(ROLE_OF_NETWORK[name], {})[name] = grad
    return grouped


def _net(arch, name, nets, inputs):
    """Network ``name`` applied with the per-network dict ``nets``."""
    return apply_network(arch, {ROLE_OF_NETWORK[name]: {name: nets[name]}}, name, inputs)


def _codes(arch, nets, x):
    if arch.shared_encoder:
        z = _net(arch, "f_ab", nets, x)
        return z[:, :arch.n_code], z[:, arch.n_code:]
    return _net(arch, "f_a", nets, x), _net(arch, "f_b", nets, x)


# Each loss below is a function of the networks' parameters, as grad_by_role wants; a network's
# loss recomputes only what depends on that network: everything else (the other code, the
# prediction an encoder must fool, the codes a predictor or decoder reads) is computed once from
# the same parameters and enters as a constant. The gradient w.r.t. the network's own parameters
# is unchanged, and the compiled step does each forward pass once.

def encoder_predictor_losses(arch: DDNArchitecture, nets: dict, x, noise_key, sigma,
                             alpha=None):
    """``{network: loss(nets)}`` for f_a, f_b, q_ab, q_ba (thesis eq. 9.5, 9.6, 9.7; with
    ``alpha``, the encoders' losses are thesis eq. 9.11; with ``sigma`` > 0 the predictors' are
    thesis eq. 9.12)."""
    z_a, z_b = _codes(arch, nets, x)
    pred_a, pred_b = _net(arch, "q_ba", nets, z_b), _net(arch, "q_ab", nets, z_a)
    key_a, key_b = jax.random.split(noise_key)

    def noisy(key, code):
        return ddn_denoise(key, code, sigma) if sigma > 0 else code

    def encoding(encoder, prediction, other_code):
        def loss(trained):
            z = _net(arch, encoder, trained, x)
            if alpha is None:
                return ddn_encoding_loss(z, prediction)
            both = (z, other_code) if encoder == "f_a" else (other_code, z)
            reconstruction = _net(arch, "g_ab", nets, jnp.concatenate(both, axis=-1))
            return ddn_finetune_encoding_loss(z, prediction, x, reconstruction, alpha)
        return loss

    def predictive(predictor, given, target):
        return lambda trained: ddn_predictive_loss(_net(arch, predictor, trained, given), target)

    def shared_encoding(trained):  # section 9.5.1's ablation: one network, both losses
        z_a_own, z_b_own = _codes(arch, trained, x)
        loss = ddn_encoding_loss(z_a_own, pred_a) + ddn_encoding_loss(z_b_own, pred_b)
        if alpha is not None:
            reconstruction = _net(arch, "g_ab", nets, jnp.concatenate([z_a_own, z_b_own], -1))
            loss = loss + alpha * ddn_predictive_loss(reconstruction, x)
        return loss

    encoders = ({"f_ab": shared_encoding} if arch.shared_encoder else
                {"f_a": encoding("f_a", pred_a, z_b), "f_b": encoding("f_b", pred_b, z_a)})
    return {**encoders, "q_ab": predictive("q_ab", noisy(key_a, z_a), z_b),
            "q_ba": predictive("q_ba", noisy(key_b, z_b), z_a)}


def xcov_encoder_losses(arch: DDNArchitecture, nets: dict, x, weight):
    """``{network: loss(nets)}`` for the encoders of the XCov baseline (section 9.1): each
    minimises ``|g_ab(z_a, z_b) - x|^2 + weight * XCov(z_a, z_b)`` (the other code constant, so
    the gradient is that of the joint objective)."""
    z_a, z_b = _codes(arch, nets, x)

    def objective(code_a, code_b):
        reconstruction = _net(arch, "g_ab", nets, jnp.concatenate([code_a, code_b], axis=-1))
        return ddn_predictive_loss(reconstruction, x) + weight * xcov(code_a, code_b)

    if arch.shared_encoder:
        return {"f_ab": lambda trained: objective(*_codes(arch, trained, x))}
    return {"f_a": lambda trained: objective(_net(arch, "f_a", trained, x), z_b),
            "f_b": lambda trained: objective(z_a, _net(arch, "f_b", trained, x))}


def decoder_losses(arch: DDNArchitecture, nets: dict, x):
    """``{network: loss(nets)}`` for g_a, g_b, g_ab: squared reconstruction errors
    (thesis eq. 9.10)."""
    z_a, z_b = _codes(arch, nets, x)
    inputs = {"g_a": z_a, "g_b": z_b, "g_ab": jnp.concatenate([z_a, z_b], axis=-1)}

    def reconstruction(decoder):
        return lambda trained: ddn_predictive_loss(_net(arch, decoder, trained, inputs[decoder]), x)

    return {name: reconstruction(name) for name in ("g_a", "g_b", "g_ab")}


LOSS_NAMES = {"f_a": "encoding_a", "f_b": "encoding_b", "f_ab": "encoding",
              "q_ab": "predictive_ab", "q_ba": "predictive_ba", "g_a": "reconstruction_a",
              "g_b": "reconstruction_b", "g_ab": "reconstruction_ab"}


def _routed(loss_by_network: dict, nets: dict):
    losses, grads = grad_by_role(loss_by_network, {n: nets[n] for n in loss_by_network})
    return {LOSS_NAMES[n]: v for n, v in losses.items()}, _by_role(grads)


def stage_losses_and_grads(arch: DDNArchitecture, schedule: DDNSchedule, stage: str,
                           params, constants, x, key, epoch):
    """(losses, grads by role) of one minibatch ``x`` (batch, input_dim) in ``stage``; a DDN has
    no per-seed constants."""
    del constants
    nets = _by_network(params)
    if stage not in STAGE_NAMES:
        raise ValueError(f"DDN stage: expected one of {STAGE_NAMES}, got {stage!r}")
    if stage == "decoders":
        return _routed(decoder_losses(arch, nets, x), nets)
    if schedule.encoding == "xcov":  # stages 1 and 3 of the baseline: one objective
        losses = xcov_encoder_losses(arch, nets, x, schedule.xcov_weight)
        losses.update(decoder_losses(arch, nets, x))
        return _routed(losses, nets)
    if stage == "encoders" and not schedule.reconstruction_in_stage1:
        sigma = schedule.sigma if schedule.denoise_stage1 else 0.0
        return _routed(encoder_predictor_losses(arch, nets, x, key, sigma), nets)
    if stage == "encoders":  # the ablation: stage 3's losses from the start, alpha constant
        alpha = jnp.float32(schedule.alpha)
        sigma = schedule.sigma if schedule.denoise_stage1 else 0.0
    else:
        alpha, sigma = schedule.alpha_at(epoch), schedule.sigma
    losses = encoder_predictor_losses(arch, nets, x, key, sigma, alpha)
    losses.update(decoder_losses(arch, nets, x))
    result, grads = _routed(losses, nets)
    result["alpha"] = alpha
    return result, grads


def probe_metrics(arch: DDNArchitecture, k: int, params, constants, probe_x, key):
    """Per epoch on the probe set: the KSG mutual information I(z_a; z_b) in nats (the thesis's
    measure of entanglement, section 8.2) on standardised code units (``mi``) and on the raw
    codes as the thesis computed it (``mi_raw``: with the max norm the larger code picks every
    neighbour, so a code that shrinks reads as independent), the joint reconstruction error, and
    the spread of each code (mean over units of the standard deviation over examples).

    The spread tells a collapsed code from an entangled one: when every hidden ReLU of an encoder
    dies, its code is one constant for all examples, all probe points tie, and the KSG estimate
    reads its maximum (about psi(k) + psi(n) - 2 psi(1), near 9 nats for n = 1000), although a
    constant carries no information. Codes are linear outputs, so short of such a collapse they
    have no exact ties, and no jitter is added (the key is unused).

    ``encoder_active_units`` tells how a code collapsed: the share of an encoder's first hidden
    layer whose ReLU is active on at least one probe example (the smaller share of the two
    encoders; 1 for linear encoders). Units that are never active get no gradient again."""
    del constants, key
    nets = _by_network(params)
    z_a, z_b = _codes(arch, nets, probe_x)
    joint = _net(arch, "g_ab", nets, jnp.concatenate([z_a, z_b], axis=-1))
    return {"mi": ksg.ksg_mi(z_a, z_b, k=k),  # each unit standardised: blind to a code's scale
            "mi_raw": ksg.ksg_mi(z_a, z_b, k=k, standardize=False),  # the thesis's estimate
            "probe_reconstruction": ddn_predictive_loss(joint, probe_x),
            "code_a_std": jnp.mean(jnp.std(z_a, axis=0)),
            "code_b_std": jnp.mean(jnp.std(z_b, axis=0)),
            "encoder_active_units": encoder_active_units(arch, nets, probe_x)}


def encoder_active_units(arch: DDNArchitecture, nets: dict, x):
    """The smaller, over the encoders, share of first-hidden-layer ReLUs active on some row of
    ``x`` (1.0 for linear encoders)."""
    if arch.encoder_layers == 0:
        return jnp.float32(1.0)
    encoders = ("f_ab",) if arch.shared_encoder else ("f_a", "f_b")
    shares = []
    for name in encoders:
        first = nets[name]["Dense_0"]
        pre_activation = x @ first["kernel"] + first["bias"]
        shares.append(jnp.mean(jnp.any(pre_activation > 0, axis=0)))
    return jnp.min(jnp.stack(shares))


def ddn_optimizer(schedule: DDNSchedule):
    """Section 9.3: the RMSprop reading ``schedule.rmsprop`` for each role (with
    ``schedule.momentum`` if the reading has a momentum term); encoders slower than predictors."""
    def rmsprop(learning_rate):
        return rmsprop_spec(schedule.rmsprop, learning_rate, schedule.momentum)

    return make_optimizer({"encoders": rmsprop(schedule.encoder_lr),
                           "predictors": rmsprop(schedule.predictor_lr),
                           "decoders": rmsprop(schedule.decoder_lr)})


@functools.lru_cache(maxsize=None)
def ddn_program(arch: DDNArchitecture, schedule: DDNSchedule) -> Program:
    """The engine's :class:`Program` for a DDN (cached: equal arguments give the same program,
    so its compiled stages are reused)."""
    every_role = ("encoders", "predictors", "decoders")
    trained = {"encoders": ("encoders", "predictors"), "decoders": ("decoders",),
               "end_to_end": every_role}
    if schedule.reconstruction_in_stage1:
        trained["encoders"] = every_role
    if schedule.encoding == "xcov":  # no predictors to train
        trained["encoders"] = trained["end_to_end"] = ("encoders", "decoders")
    epochs = {"encoders": schedule.encoder_epochs, "decoders": schedule.decoder_epochs,
              "end_to_end": schedule.end_to_end_epochs}
    stages = tuple(
        Stage(name, epochs[name], trained[name],
              functools.partial(stage_losses_and_grads, arch, schedule, name))
        for name in STAGE_NAMES)
    return Program(stages=stages, optimizer=ddn_optimizer(schedule),
                   init_params=functools.partial(init_ddn, arch=arch),
                   probe_metrics=functools.partial(probe_metrics, arch, schedule.mi_k),
                   batch_size=schedule.batch_size)


def ddn_example_flops(arch: DDNArchitecture, stage: str) -> int:
    """Counted FLOPs of one example in one training step of ``stage``: 2 per multiply-accumulate,
    the forward pass of every network the stage's losses use (each once) plus, for the networks
    it trains, the backward pass (about twice the forward: gradients of activations and weights).
    The first layer's unneeded input gradient and the elementwise work are not subtracted or
    added; it is the count the benchmarks divide by."""
    m = {name: arch.macs(name) for name in arch.network_names}
    encoders = sum(v for name, v in m.items() if name.startswith("f"))
    predictors = m["q_ab"] + m["q_ba"]
    decoders = m["g_a"] + m["g_b"] + m["g_ab"]
    forward, trained = {
        "encoders": (encoders + predictors, encoders + predictors),
        "decoders": (encoders + decoders, decoders),
        "end_to_end": (encoders + predictors + decoders, encoders + predictors + decoders),
    }[stage]
    return 2 * (forward + 2 * trained)
