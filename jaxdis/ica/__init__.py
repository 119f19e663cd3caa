"""Post-processed ICA (thesis Part II, ch. 6, Alg. 4): FastICA, then group its components into two
causes by simulated annealing over binary membership variables.

The pieces, in the order Alg. 4 uses them:

- ``fastica``: :func:`fast_ica` runs scikit-learn's FastICA (whitening and tolerance exposed:
  thesis section 6.4 found the outcome sensitive to how far ICA has converged) and returns the
  sources ``S`` (N, C), the mixing matrix ``A`` (D, C) and the mean, so that
  ``x ≈ mean + S @ A.T``; :func:`reconstruct` is the single-cause reconstruction of
  thesis eq. 6.1, ``x ≈ As + Br``: ``mean + (S * m) @ A.T`` keeps only the components of the
  group ``m``.
- ``costs``: :func:`group_mi_cost` is the cost of thesis eq. 6.2, ``l(m) = I(S m; S (1 - m))``,
  the Kraskov estimate between the two groups of sources, with the tiny jitter of thesis section
  6.2; :func:`kraskov_flip_cost` is the same cost, exactly, as a :class:`FlipCost`: a state
  carried from one single flip to the next makes a proposal cost O(N^2) instead of KSG's
  O(N^2 C); :func:`grouping_costs` scores given groupings on the host.
- ``annealing``: :func:`temperature` is the schedule of thesis eq. 6.4, started at 0.1;
  :func:`anneal` is the annealing loop of Alg. 4 (one ``lax.scan``) with the acceptance rule of
  thesis eq. 6.3 (= thesis eq. 5.9); ``jax.vmap`` it over PRNG keys for many chains, and over
  source matrices for many ICA restarts, as :func:`anneal_trials` does in one compiled call.
- ``scores``: what the thesis judged by eye, measured: each component's true cause
  (:func:`cause_share_of_components`), the share of components grouped with it
  (:func:`grouping_accuracy`) and its chance level (:func:`chance_grouping_accuracy`), all of
  them for one grouping (:func:`score_grouping`), and whether the cost of thesis eq. 6.2 prefers
  the true grouping to shuffles of it (:func:`truth_against_shuffles`).

The all-in-one-cause state (every ``m_j`` equal) is the error state of thesis section 6.3: the
mutual information between a group and nothing is undefined. The thesis ignores it; here it is
never reached: the initial state is two-sided, and only flips that leave both groups non-empty are
ever proposed, so the cost is never evaluated on a one-sided mask (``lax.cond`` would not guarantee
this: under ``vmap`` both of its branches run).
"""

from jaxdis.ica.annealing import (COSTS, PROPOSALS, AnnealResult, AnnealTrace, ChainState,
                               allowed_flips, anneal, anneal_trials, heat_bath_choice,
                               is_two_sided, metropolis_accept, propose_single_flip,
                               random_two_sided_mask, temperature)
from jaxdis.ica.costs import (CostFn, FlipCost, group_mi_cost, grouping_costs, jitter_sources,
                              kraskov_flip_cost)
from jaxdis.ica.fastica import ICAResult, fast_ica, reconstruct
from jaxdis.ica.scores import (cause_share_of_components, chance_grouping_accuracy,
                               grouping_accuracy, score_grouping, truth_against_shuffles)

__all__ = [
    "COSTS", "PROPOSALS", "AnnealResult", "AnnealTrace", "ChainState", "CostFn", "FlipCost",
    "ICAResult", "allowed_flips", "anneal", "anneal_trials", "cause_share_of_components",
    "chance_grouping_accuracy", "fast_ica", "group_mi_cost", "grouping_accuracy",
    "grouping_costs", "heat_bath_choice", "is_two_sided", "jitter_sources", "kraskov_flip_cost",
    "metropolis_accept", "propose_single_flip", "random_two_sided_mask", "reconstruct",
    "score_grouping", "temperature", "truth_against_shuffles",
]
