"""The analyses of thesis ch. 4: activity along an inference chain (thesis eq. 4.8) and its sweep
over noise and data scale (Fig. 4.7, 4.8), the sampler's state frequencies beside the exact
posterior (Fig. 4.5), unit configurations (thesis eq. 4.10, 4.11), the permutation-matched model
difference (thesis eq. 4.12), interpolation between a unit pair (thesis eq. 4.13); and three
measures of ours where the thesis judged by eye: the share of the reconstructions' variation each
cause carries ("one cause becomes a bias", thesis section 4.4, Fig. 4.9), how well each cause
reproduces a true cause of the data (disentangling, R^2), and the variance of the data the
reconstructions explain (the "mean optimum" of thesis section 3.5)."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from jaxdis.energy import _checks
from jaxdis.energy import broadnet as bn
from jaxdis.energy import cd, exact, sampling
from jaxdis.energy import train as train_lib


def activity(trace_a: jax.Array, trace_b: jax.Array) -> jax.Array:
    """activity_t = sum_j |h^a_j(t) - h^a_j(t-1)| + sum_j |h^b_j(t) - h^b_j(t-1)| (thesis eq. 4.8),
    on mean-field activations after each iteration t = 1..T, with every activation 0.5 at t = 0.

    trace_a (T, ..., Na), trace_b (T, ..., Nb) as returned by ``sampling.posterior_chain``;
    returns (T, ...)."""
    if trace_a.shape[:-1] != trace_b.shape[:-1]:
        raise ValueError(f"trace_a, trace_b: expected the same (steps, ...) leading shape, got "
                         f"{trace_a.shape} and {trace_b.shape}")

    def change(trace):
        previous = jnp.concatenate([jnp.full_like(trace[:1], 0.5), trace[:-1]])
        return jnp.sum(jnp.abs(trace - previous), -1)

    return change(trace_a) + change(trace_b)


def activity_sweep(key: jax.Array, cause_a: jax.Array, cause_b: jax.Array, sigmas, alphas, *,
                   num_units: int, epochs: int, hyper: cd.CDHyper, batch_size: int,
                   steps: int) -> jax.Array:
    """Mean activity (thesis eq. 4.8) along ``steps`` iterations of inference, (S, steps), of S
    GRBM-initialised Broadnets of ``num_units`` per cause (thesis Fig. 4.7: one per noise sigma;
    Fig. 4.8: one per data scale alpha): setting s has noise sigmas[s] and its causes multiplied
    by alphas[s]; its GRBMs are trained by CD on ``alphas[s] * cause_a`` and
    ``alphas[s] * cause_b`` (N, D), and it infers (Alg. 1, from one chain per example) on their sum.

    All settings train in one vmapped program at unit noise: a GRBM (W, b) at noise sigma on data
    v is the model (W / sigma, b) at noise 1 on v / sigma, and a CD step with weight learning rate
    r sigma^2 (bias rate r) is the step with rate r there (``tests/test_energy_cd.py``). So setting
    s trains on its causes times alpha_s / sigma_s with ``hyper`` (whose sigma must be 1) and is
    mapped back (W = sigma_s W') before inference at sigma_s on alpha_s x: its weights' rate is
    ``hyper.learning_rate * sigma_s^2``, the same step in units of sigma (the thesis's rates for
    these runs are not given; a fixed rate at sigma = 0.1 is a 100 times larger step)."""
    if hyper.sigma != 1.0:
        raise ValueError(f"hyper: expected sigma = 1 (each setting trains at unit noise and is "
                         f"mapped back), got sigma = {hyper.sigma}")
    if len(sigmas) != len(alphas) or len(sigmas) < 1:
        raise ValueError(f"sigmas, alphas: expected one of each per setting, got {len(sigmas)} "
                         f"and {len(alphas)}")
    sigmas, alphas = jnp.asarray(sigmas, jnp.float32), jnp.asarray(alphas, jnp.float32)
    count = len(sigmas)
    key_a, key_b, key_chain = jax.random.split(key, 3)

    def train(images, key):
        keys = jax.random.split(key, 2 * count)
        init = train_lib.init_grbms(keys[:count], num_units, images.shape[1])
        return train_lib.cd_epochs(init, keys[count:], images, epochs=epochs, hyper=hyper,
                                   batch_size=batch_size, scales=alphas / sigmas)

    grbm_a, grbm_b = train(cause_a, key_a), train(cause_b, key_b)
    params = bn.BroadnetParams(grbm_a.W * sigmas[:, None, None], grbm_b.W * sigmas[:, None, None],
                               grbm_a.b, grbm_b.b)

    @jax.jit
    @jax.vmap
    def mean_activity(params, sigma, alpha, key):
        chains = sampling.posterior_chain(params, alpha * (cause_a + cause_b), key, sigma, steps)
        return jnp.mean(activity(chains.trace_a, chains.trace_b), 1)

    return mean_activity(params, sigmas, alphas, jax.random.split(key_chain, count))


def posterior_vs_sampler(params: bn.BroadnetParams, x: jax.Array, key: jax.Array, sigma,
                         num_samples: int, num_steps: int):
    """The exact posterior of one image beside the frequencies of the Alg. 1 sampler (thesis
    Fig. 4.5): ``num_samples`` independent chains of ``num_steps`` iterations
    (``sampling.posterior_chain``) on the image x (1, D), and the exact posterior over all
    2^(Na+Nb) joint hidden states (``exact.log_posterior``).

    Returns (exact_probs, frequencies), each (2^(Na+Nb),) float64, both indexed as
    ``exact.log_posterior`` orders the states: i_a 2^Nb + i_b, where unit j of a cause sets bit j of
    its index (``exact.configurations``)."""
    _checks.check_batch(x, "x", params.num_visible)
    if x.shape[0] != 1:
        raise ValueError(f"x: expected one image, (1, {params.num_visible}), got {x.shape}")
    log_post = np.asarray(exact.log_posterior(params, x, sigma)[0], np.float64)
    chains = jax.jit(sampling.posterior_chain, static_argnums=(4,))(
        params, jnp.broadcast_to(x, (num_samples, x.shape[1])), key, sigma, num_steps)
    h_a, h_b = np.asarray(chains.h_a, np.int64), np.asarray(chains.h_b, np.int64)
    num_a, num_b = h_a.shape[1], h_b.shape[1]
    states = (h_a @ 2 ** np.arange(num_a)) * 2**num_b + h_b @ 2 ** np.arange(num_b)
    frequencies = np.bincount(states, minlength=2 ** (num_a + num_b)) / num_samples
    return np.exp(log_post).reshape(-1), frequencies


def matched_distance(rows_1, rows_2) -> float:
    """min over row permutations P of ||P rows_1 - rows_2||^2 (squared Frobenius, the thesis's
    default norm), solved as an assignment problem (scipy's linear_sum_assignment)."""
    rows_1, rows_2 = np.asarray(rows_1, np.float64), np.asarray(rows_2, np.float64)
    if rows_1.shape != rows_2.shape or rows_1.ndim != 2:
        raise ValueError(f"expected two weight matrices of the same (units, D) shape, got "
                         f"{rows_1.shape} and {rows_2.shape}")
    cost = np.sum((rows_1[:, None, :] - rows_2[None, :, :]) ** 2, -1)
    i, j = linear_sum_assignment(cost)
    return float(cost[i, j].sum())


def model_difference(params_1: bn.BroadnetParams, params_2: bn.BroadnetParams) -> float:
    """min_P ||P W1 - W2||^2 + min_Q ||Q V1 - V2||^2 over unit permutations P, Q within each cause
    (thesis eq. 4.12, the 'model difference'; biases are not compared, as in the thesis)."""
    bn.check_params(params_1, "params_1")
    bn.check_params(params_2, "params_2")
    return matched_distance(params_1.W, params_2.W) + matched_distance(params_1.V, params_2.V)


def unit_configurations(params: bn.BroadnetParams, drop_mirrors: bool = True):
    """Every way to split the Na + Nb units into a cause A of Na units and a cause B of Nb units
    (thesis eq. 4.10, 4.11): with U = [W; V], c = [a, b] and an index set I (|I| = Na), J its
    complement, the Broadnet (U_I, U_J, c_I, c_J).

    Returns (stacked BroadnetParams with a leading configuration axis, index sets (K, Na)); the
    first configuration is the original (I = 0..Na-1). When Na = Nb, I and J describe the same
    model with the causes' names swapped; ``drop_mirrors`` keeps one of each pair (sets holding
    unit 0): C(2N, N) / 2 configurations, 126 for 5 + 5 units (the thesis counts 120).
    """
    bn.check_params(params)
    num_a, num_b = params.W.shape[0], params.V.shape[0]
    units, biases = jnp.concatenate([params.W, params.V]), jnp.concatenate([params.a, params.b])
    index_sets = [I for I in itertools.combinations(range(num_a + num_b), num_a)
                  if not (drop_mirrors and num_a == num_b and 0 not in I)]
    index_sets = np.asarray(index_sets, np.int32).reshape(len(index_sets), num_a)
    complements = np.asarray([[u for u in range(num_a + num_b) if u not in I]
                              for I in index_sets], np.int32).reshape(len(index_sets), num_b)
    configs = bn.BroadnetParams(units[index_sets], units[complements], biases[index_sets],
                                biases[complements])
    return configs, index_sets


def interpolate_units(params: bn.BroadnetParams, j: int, k: int, alpha) -> bn.BroadnetParams:
    """Blend unit j of cause A with unit k of cause B (thesis eq. 4.13):

        W'_j = alpha W_j + (1 - alpha) V_k,    a'_j = alpha a_j + (1 - alpha) b_k,
        V'_k = (1 - alpha) W_j + alpha V_k,    b'_k = (1 - alpha) a_j + alpha b_k.

    alpha = 1 is the original model, alpha = 0 the two units swapped."""
    bn.check_params(params)
    if not (0 <= j < params.W.shape[0] and 0 <= k < params.V.shape[0]):
        raise ValueError(f"j, k: expected a unit of cause A (0..{params.W.shape[0] - 1}) and of "
                         f"cause B (0..{params.V.shape[0] - 1}), got {j}, {k}")
    W_j, V_k, a_j, b_k = params.W[j], params.V[k], params.a[j], params.b[k]
    return bn.BroadnetParams(
        params.W.at[j].set(alpha * W_j + (1 - alpha) * V_k),
        params.V.at[k].set((1 - alpha) * W_j + alpha * V_k),
        params.a.at[j].set(alpha * a_j + (1 - alpha) * b_k),
        params.b.at[k].set((1 - alpha) * a_j + alpha * b_k),
    )


def pairwise_model_differences(models: bn.BroadnetParams) -> np.ndarray:
    """The model difference (thesis eq. 4.12, :func:`model_difference`) between every two models
    of a stack, (K, K): symmetric, 0 on the diagonal."""
    count = jax.tree.leaves(models)[0].shape[0]
    take = [jax.tree.map(lambda t, i=i: t[i], models) for i in range(count)]
    pairwise = np.zeros((count, count))
    for i in range(count):
        for j in range(i + 1, count):
            pairwise[i, j] = pairwise[j, i] = model_difference(take[i], take[j])
    return pairwise


class RetrainedConfigurations(NamedTuple):
    """The output of :func:`retrain_configurations`; configuration 0 is the original model."""

    index_sets: np.ndarray  # (K, Na): the units of cause A (thesis eq. 4.10, 4.11)
    log_likelihood_before: np.ndarray  # (K,) exact mean log p(x) before retraining
    params: bn.BroadnetParams  # the retrained stack
    curves: np.ndarray  # (K, epochs + 1) exact mean log p(x) per epoch
    to_original: np.ndarray  # (K,) model difference (thesis eq. 4.12) to the retrained original
    nearest_other: np.ndarray  # (K,) model difference to the nearest other retrained model
    original_moved: float  # model difference of the original before and after retraining


def retrain_configurations(params: bn.BroadnetParams, key: jax.Array, x: jax.Array, *,
                           epochs: int, batch_size: int, sigma: float,
                           learning_rate: float) -> RetrainedConfigurations:
    """Every unit configuration of ``params`` (:func:`unit_configurations`, thesis eq. 4.10,
    4.11), each retrained by exact-gradient ascent on x (``train.train_exact``, one key of
    ``split(key, K)`` each), and how far apart the retrained models are (thesis eq. 4.12):
    thesis Fig. 4.12, 4.13, 4.14, 4.15, 4.16. Is the original the one optimum, or does each
    configuration find its own?"""
    configs, index_sets = unit_configurations(params)
    count = len(index_sets)
    before = jax.jit(jax.vmap(lambda p: exact.mean_log_evidence(p, x, sigma)))(configs)
    trained, curves = train_lib.train_exact(configs, jax.random.split(key, count), x,
                                            epochs=epochs, batch_size=batch_size, sigma=sigma,
                                            learning_rate=learning_rate)
    original = jax.tree.map(lambda t: t[0], trained)
    to_original = [model_difference(jax.tree.map(lambda t, i=i: t[i], trained), original)
                   for i in range(count)]
    pairwise = pairwise_model_differences(trained)
    return RetrainedConfigurations(
        index_sets=index_sets, log_likelihood_before=np.asarray(before), params=trained,
        curves=np.asarray(curves), to_original=np.array(to_original),
        nearest_other=np.where(np.eye(count, dtype=bool), np.inf, pairwise).min(1),
        original_moved=model_difference(jax.tree.map(lambda t: t[0], configs), original))


def retrain_interpolations(params: bn.BroadnetParams, pairs, alphas, key: jax.Array,
                           x: jax.Array, *, epochs: int, batch_size: int, sigma: float,
                           learning_rate: float):
    """Thesis Fig. 4.17: each unit pair (j, k) of ``pairs`` blended at each alpha of ``alphas``
    (:func:`interpolate_units`, thesis eq. 4.13), every blend retrained by exact-gradient ascent
    on x (``train.train_exact``, one key of ``split(key, P A)`` each), then compared
    (thesis eq. 4.12) with the original ``params`` and with the model whose pair is swapped
    (alpha = 0).

    Returns (to_original, to_swapped), each (P, A)."""
    starts = [interpolate_units(params, j, k, a) for j, k in pairs for a in alphas]
    trained, _ = train_lib.train_exact(jax.tree.map(lambda *t: jnp.stack(t), *starts),
                                       jax.random.split(key, len(starts)), x, epochs=epochs,
                                       batch_size=batch_size, sigma=sigma,
                                       learning_rate=learning_rate)
    to_original = np.zeros((len(pairs), len(alphas)))
    to_swapped = np.zeros_like(to_original)
    for p, (j, k) in enumerate(pairs):
        swapped = interpolate_units(params, j, k, 0.0)
        for q in range(len(alphas)):
            model = jax.tree.map(lambda t: t[p * len(alphas) + q], trained)
            to_original[p, q] = model_difference(model, params)
            to_swapped[p, q] = model_difference(model, swapped)
    return to_original, to_swapped


RECONSTRUCTION_METHODS = ("fast", "table")


def posterior_mean_reconstructions(params: bn.BroadnetParams, x: jax.Array, sigma,
                                   method: str = "fast"):
    """E[phi_a | x] and E[phi_b | x] under the exact posterior, each (B, D).

    ``method="table"`` tabulates the joint posterior over all 2^(Na+Nb) states
    (``exact.log_posterior``; Na + Nb <= 20). ``method="fast"`` enumerates only the smaller cause,
    say A, and sums B out in closed form, as ``exact``'s fast log-evidence does. Given h_a the
    posterior of h_b is factorial, p(h_b,k = 1 | x, h_a) = sigmoid(u_k), u = V (x - phi_a) / sigma^2
    + b, and summing exp J over h_b leaves the marginal posterior of h_a,

        log p(h_a | x) = h_a.(W x / sigma^2 + a) + sum_k softplus(u_k) + const,

    so E[phi_a | x] = sum_{h_a} p(h_a | x) h_a W and E[phi_b | x] = sum_{h_a} p(h_a | x)
    sigmoid(u) V: 2^min(Na, Nb) states of cost B * Na * Nb each, instead of 2^(Na+Nb)."""
    bn.check_params(params)
    _checks.check_sigma(sigma)
    _checks.check_batch(x, "x", params.num_visible)
    if method not in RECONSTRUCTION_METHODS:
        raise ValueError(f"method: expected one of {RECONSTRUCTION_METHODS}, got {method!r}")
    if method == "table":
        post = jnp.exp(exact.log_posterior(params, x, sigma))  # (B, Ka, Kb)
        h_a = exact.configurations(params.W.shape[0], x.dtype)
        h_b = exact.configurations(params.V.shape[0], x.dtype)
        return jnp.sum(post, 2) @ (h_a @ params.W), jnp.sum(post, 1) @ (h_b @ params.V)
    if params.W.shape[0] > params.V.shape[0]:  # enumerate the smaller cause
        mean_b, mean_a = posterior_mean_reconstructions(
            bn.BroadnetParams(params.V, params.W, params.b, params.a), x, sigma, method)
        return mean_a, mean_b
    h_a = exact.configurations(params.W.shape[0], x.dtype)  # (K, Na)
    phi_a = h_a @ params.W  # (K, D)
    u = ((x @ params.V.T)[:, None, :] - (phi_a @ params.V.T)[None]) / sigma**2 \
        + params.b  # (B, K, Nb)
    log_marginal = (x @ phi_a.T) / sigma**2 + (h_a @ params.a)[None] \
        + jnp.sum(jax.nn.softplus(u), -1)  # (B, K)
    post_a = jax.nn.softmax(log_marginal, axis=1)
    mean_h_b = jnp.einsum("bk,bkn->bn", post_a, jax.nn.sigmoid(u))
    return post_a @ phi_a, mean_h_b @ params.V


def cause_variance_shares(params: bn.BroadnetParams, x: jax.Array, sigma) -> jax.Array:
    """The share of the variation of the model's reconstructions that each cause carries, (2,).

    With the exact posterior means E[phi_a | x] and E[phi_b | x] over the examples of x (B, D),
    share_c = sum_i Var_x(E[phi_c,i | x]) / (the same summed over both causes). A cause whose
    share is near 0 reconstructs (almost) the same image for every input: it has become a bias
    (thesis section 4.4, Fig. 4.9; the thesis gives no formula, this is ours)."""
    mean_phi_a, mean_phi_b = posterior_mean_reconstructions(params, x, sigma)
    spread = jnp.stack([jnp.sum(jnp.var(mean_phi_a, 0)), jnp.sum(jnp.var(mean_phi_b, 0))])
    return spread / jnp.maximum(jnp.sum(spread), jnp.finfo(x.dtype).tiny)


def cause_recovery(params: bn.BroadnetParams, x: jax.Array, cause_a: jax.Array,
                   cause_b: jax.Array, sigma, centred: bool = False) -> jax.Array:
    """How well each model cause reproduces a true cause of the data, (2,): the R^2
    1 - ||E[phi | x] - c||^2 / ||c - mean(c)||^2 of the model's cause A against the true cause a
    and of B against b, or of A against b and B against a when that pairing has the larger sum
    (the model's causes have no names). 1 is a perfect disentangling; 0 or less, none.

    ``centred=True`` compares each reconstruction and cause less its mean over the examples: a
    constant image can move from one cause to the other without changing x (there is no visible
    bias to hold it), so the raw R^2 also scores where the data's mean went; the centred one scores
    only the variation."""
    mean_phi_a, mean_phi_b = posterior_mean_reconstructions(params, x, sigma)

    def r2(recon, truth):
        if centred:  # (recon - its mean) against (truth - its mean)
            recon = recon - recon.mean(0) + truth.mean(0)
        return 1 - jnp.sum((recon - truth) ** 2) / jnp.sum((truth - truth.mean(0)) ** 2)

    straight = jnp.stack([r2(mean_phi_a, cause_a), r2(mean_phi_b, cause_b)])
    crossed = jnp.stack([r2(mean_phi_a, cause_b), r2(mean_phi_b, cause_a)])
    return jnp.where(jnp.sum(straight) >= jnp.sum(crossed), straight, crossed)


def explained_variance(params: bn.BroadnetParams, x: jax.Array, sigma) -> jax.Array:
    """The share of the data's variance the model's reconstructions explain,
    1 - ||E[phi_a + phi_b | x] - x||^2 / ||x - mean x||^2 over the examples of x (B, D), with the
    exact posterior means. Near 0 (or below) when every unit carries a piece of the data's mean
    and none of its variation (the "mean optimum" of thesis section 3.5)."""
    mean_a, mean_b = posterior_mean_reconstructions(params, x, sigma)
    return 1 - jnp.sum((mean_a + mean_b - x) ** 2) / jnp.sum((x - x.mean(0)) ** 2)
