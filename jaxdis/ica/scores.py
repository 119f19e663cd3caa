"""Scoring a grouping of ICA components against the truth (what thesis ch. 6 judged by eye): each
component's true cause, the share of components grouped with it, and the chance level of that
share."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def cause_share_of_components(unmixing, cause_a, cause_b) -> np.ndarray:
    """Share of each component's variance that cause A drives, (C,) in [0, 1].

    ICA is linear, so for a composite x = a + b each source splits exactly into the part driven by
    each cause: ``s_c = w_c (a - mean_a) + w_c (b - mean_b)``. The share is
    ``var(w_c a) / (var(w_c a) + var(w_c b))``: near 1 the component tracks cause A's images, near
    0 cause B's; a component's true cause is the one with the larger share.
    """
    unmixing = np.asarray(unmixing, np.float64)
    flat_a = np.asarray(cause_a, np.float64).reshape(len(cause_a), -1)
    flat_b = np.asarray(cause_b, np.float64).reshape(len(cause_b), -1)
    if flat_a.shape != flat_b.shape or flat_a.shape[1] != unmixing.shape[1]:
        raise ValueError(
            f"cause_share_of_components: cause_a and cause_b must both be (N, D={unmixing.shape[1]}) "
            f"(or (N, H, W)), got {np.shape(cause_a)} and {np.shape(cause_b)}"
        )
    var_a = np.var(flat_a @ unmixing.T, axis=0)
    var_b = np.var(flat_b @ unmixing.T, axis=0)
    return var_a / (var_a + var_b)


def grouping_accuracy(mask, true_in_a) -> Array:
    """Share of components whose group matches the truth, up to swapping the two groups
    (membership labels are arbitrary): ``max(mean(m == t), mean(m != t))``, in [0.5, 1]."""
    mask = jnp.asarray(mask, bool)
    true_in_a = jnp.asarray(true_in_a, bool)
    if mask.shape[-1:] != true_in_a.shape[-1:]:
        raise ValueError(
            f"grouping_accuracy: mask (..., C) and true_in_a (..., C) differ: "
            f"{mask.shape} vs {true_in_a.shape}"
        )
    agree = jnp.mean(mask == true_in_a, axis=-1)
    return jnp.maximum(agree, 1.0 - agree)


def chance_grouping_accuracy(n_members: int, n_true_in_a: int, n_in_a: int) -> float:
    """The expected :func:`grouping_accuracy` of a grouping drawn at random with ``n_in_a`` of
    its ``n_members`` components in group A, against a truth with ``n_true_in_a`` in A.

    Because the score takes the better of the two labellings, chance is above 0.5: about
    0.5 + sqrt(1 / (2 pi C)) for balanced groups of C components (0.556 at C = 50). The overlap X
    of the two A groups is hypergeometric, and the agreement is (C - t - k + 2X) / C.
    """
    from scipy.stats import hypergeom

    c, t, k = n_members, n_true_in_a, n_in_a
    if not (c >= 1 and 0 <= t <= c and 0 <= k <= c):
        raise ValueError(
            f"chance_grouping_accuracy: need n_members >= 1 and 0 <= n_true_in_a, n_in_a <= "
            f"n_members, got n_members={c}, n_true_in_a={t}, n_in_a={k}"
        )
    overlap = np.arange(max(0, t + k - c), min(t, k) + 1)
    agree = (c - t - k + 2 * overlap) / c
    return float(np.sum(hypergeom.pmf(overlap, c, t, k) * np.maximum(agree, 1 - agree)))




def score_grouping(fit, mask, cause_a, cause_b, *, exchangeable: bool = False) -> dict:
    """How a grouping ``mask`` (C,) bool of the components of ``fit`` (:func:`fast_ica` of
    x = cause_a + cause_b, the causes (N, ...) each) matches the truth:

    - ``share_a`` (C,): the share of each component's variance that cause A drives
      (:func:`cause_share_of_components`); a component's true cause is A where it is above 0.5;
    - ``components_in_a``, ``true_components_in_a``: how many components ``mask`` and the truth
      put in group A;
    - ``accuracy``: :func:`grouping_accuracy` of ``mask`` against those true causes;
    - ``purity``: the mean over components of max(share, 1 - share), how cleanly ICA itself
      separated the causes (the premise of thesis section 6.1: "no component should contain
      contributions from both");
    - ``cause_recovery``: ``jaxdis.metrics.cause_recovery`` (centred: both reconstructions carry
      the data's mean image, and a constant image is not an error of grouping) of the
      single-cause reconstructions of thesis eq. 6.1 (:func:`reconstruct`) against the causes;
      ``exchangeable=False`` (causes told apart, e.g. upright from rotated digits) scores one
      assignment of reconstructions to causes for the whole set.
    """
    from jaxdis.ica.fastica import reconstruct
    from jaxdis.metrics import cause_recovery

    mask = np.asarray(mask, bool)
    n = len(cause_a)
    share_a = cause_share_of_components(fit.unmixing, np.reshape(cause_a, (n, -1)),
                                        np.reshape(cause_b, (n, -1)))
    recon_a, recon_b = (np.asarray(reconstruct(fit.sources, fit.mixing, fit.mean, m))
                        for m in (mask, ~mask))
    return {
        "share_a": share_a,
        "components_in_a": int(mask.sum()),
        "true_components_in_a": int(np.sum(share_a > 0.5)),
        "accuracy": float(grouping_accuracy(mask, share_a > 0.5)),
        "purity": float(np.mean(np.maximum(share_a, 1 - share_a))),
        "cause_recovery": float(cause_recovery(
            recon_a.reshape(np.shape(cause_a)), recon_b.reshape(np.shape(cause_b)), cause_a,
            cause_b, exchangeable=exchangeable, centred=True)),
    }


def truth_against_shuffles(sources, true_in_a, n_shuffles: int, seed: int, *, k: int = 3,
                           jitter: float = 1e-10, key=None) -> dict:
    """Does the cost of thesis eq. 6.2 single out the true grouping? Its MI on ``sources`` (N, C)
    (``costs.grouping_costs``, with the ``k``, ``jitter`` and ``key`` the annealer used) beside
    the MI of ``n_shuffles`` random shuffles of it (same group sizes, drawn with
    ``numpy.random.default_rng(seed)``):

    - ``true_grouping_mi``: the truth's MI (NaN when the truth is one-sided: no cost is defined);
    - ``shuffled_truth_mi``: each shuffle's MI (empty then);
    - ``truth_below_shuffles``: the share of shuffles whose MI is above the truth's (1: the cost
      prefers the truth to every shuffle; NaN without shuffles).
    """
    from jaxdis.ica.costs import grouping_costs

    true_in_a = np.asarray(true_in_a, bool)
    rng = np.random.default_rng(seed)
    shuffles = [rng.permutation(true_in_a) for _ in range(n_shuffles)]
    truth, shuffled = float("nan"), []
    if true_in_a.any() and (~true_in_a).any():
        truth, *shuffled = grouping_costs(sources, [true_in_a, *shuffles], k=k, jitter=jitter,
                                          key=key)
    return {"true_grouping_mi": truth, "shuffled_truth_mi": shuffled,
            "truth_below_shuffles": float(np.mean(np.less(truth, shuffled))) if shuffled
            else float("nan")}
