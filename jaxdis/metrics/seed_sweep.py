"""Per-seed summaries of a seed sweep of models with two codes z_a and z_b (the ASAE of thesis
ch. 8, the DDN of ch. 9), from what the sweep logged per epoch and from its final codes.

Host functions (call them once per run, on arrays; the scores inside are compiled JAX):

- :func:`mi_summary`: the final KSG mutual information I(z_a; z_b) per seed, standardised (the
  headline) and raw (the thesis's estimate), with the final spread of each code and the seeds
  whose codes make that reading misleading (:func:`~jaxdis.metrics.unhealthy_codes`);
- :func:`ground_truth_scores`: the verdicts that need the true causes of a composite
  (:mod:`jaxdis.metrics.code_probes`, :mod:`jaxdis.metrics.ground_truth`);
- :func:`seed_distribution`: median, quartiles and range over the seeds of one number;
  :func:`mean_std`: its mean and standard deviation, as the papers' tables give them;
- :func:`sweep_verdicts`: how the seeds of a sweep came out, from its summary: the numbers above
  as distributions over seeds, and the seeds each rule counts as disentangled or collapsed.

The spread of a code z (n examples by d units) is the mean over units of the standard deviation
over examples, s(z) = (1/d) sum_j std_i z_ij, as the training programs log it per epoch
(``code_a_std``, ``code_b_std``).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from jaxdis.metrics.classifier import digit_classifier
from jaxdis.metrics.code_probes import (UNHEALTHY_CODE_RULE, disentanglement, oracle_codes,
                                        unhealthy_codes)
from jaxdis.metrics.ground_truth import cause_recovery, pair_recognition

__all__ = ["ground_truth_scores", "mi_summary", "seed_distribution", "sweep_verdicts"]


def mi_summary(mi, mi_raw, code_a_std, code_b_std, codes_a, codes_b) -> dict:
    """The MI fields of a sweep's summary, per seed.

    With the histories M[s, t] of seed s at epoch t (t = 0 untrained, the last column the end):

    - ``final_mi_per_seed``: M_mi[:, -1], the KSG estimate with every code unit standardised
      first (blind to a code's scale: the headline); ``final_mi_mean`` and ``final_mi_median``
      over the seeds (ignoring NaN), ``initial_mi_mean`` the mean of M_mi[:, 0];
    - ``final_mi_raw_per_seed``: M_mi_raw[:, -1], the thesis's estimate on the codes as they
      are, for its rule "MI < 0.1 is a full success" (Fig. 8.4's caption);
    - ``final_code_std_a_per_seed``, ``final_code_std_b_per_seed``: s(z_a), s(z_b) at the end,
      and ``final_code_std_per_seed`` = min(s(z_a), s(z_b)): near 0, a code has collapsed to a
      constant;
    - ``unhealthy_code_seeds``: the seeds whose last spreads break ``unhealthy_code_rule``
      (:func:`~jaxdis.metrics.unhealthy_codes`), so that their MI says nothing of independence;
    - ``nonfinite_seeds``: the seeds whose final codes hold NaN or inf (their scores are NaN).

    Args:
      mi, mi_raw, code_a_std, code_b_std: (n_seeds, n_epochs) histories as logged (NaN where a
        seed has no value).
      codes_a, codes_b: (n_seeds, n_probe, n_code) final codes of the probe set.
    """
    mi, mi_raw = np.asarray(mi), np.asarray(mi_raw)
    code_a_std, code_b_std = np.asarray(code_a_std), np.asarray(code_b_std)
    if mi.ndim != 2:
        raise ValueError(f"mi: expected (n_seeds, n_epochs), got shape {mi.shape}")
    for name, history in (("mi_raw", mi_raw), ("code_a_std", code_a_std),
                          ("code_b_std", code_b_std)):
        if history.shape != mi.shape:
            raise ValueError(f"{name}: expected the (n_seeds, n_epochs) shape of mi {mi.shape}, "
                             f"got {history.shape}")
    flags = np.asarray(unhealthy_codes(code_a_std, code_b_std))
    finite = np.all(np.isfinite(codes_a), axis=(1, 2)) & np.all(np.isfinite(codes_b), axis=(1, 2))
    return {
        "final_mi_per_seed": mi[:, -1], "final_mi_raw_per_seed": mi_raw[:, -1],
        "final_mi_mean": float(np.nanmean(mi[:, -1])),
        "final_mi_median": float(np.nanmedian(mi[:, -1])),
        "initial_mi_mean": float(np.nanmean(mi[:, 0])),
        "final_code_std_a_per_seed": code_a_std[:, -1],
        "final_code_std_b_per_seed": code_b_std[:, -1],
        "final_code_std_per_seed": np.minimum(code_a_std[:, -1], code_b_std[:, -1]),
        "unhealthy_code_rule": UNHEALTHY_CODE_RULE,
        "unhealthy_code_seeds": [int(s) for s in np.flatnonzero(flags[:, -1])],
        "nonfinite_seeds": [int(s) for s in np.flatnonzero(~finite)],
    }


def ground_truth_scores(composite, probe_index, codes_a, codes_b, recon_a, recon_b,
                        with_classifier: bool) -> dict:
    """Per seed, on the probe set of a composite, the verdicts that need the true causes:

    - ``disentanglement_per_seed``: :func:`~jaxdis.metrics.disentanglement`'s score (held-out
      ridge R^2 from each code to each cause image, the least of the code and cause gaps,
      :mod:`jaxdis.metrics.code_probes`), with ``disentanglement_matrix_per_seed`` (codes x
      causes), ``disentanglement_chance_per_seed`` (the codes' rows permuted) and
      ``disentanglement_oracle`` (the causes compressed to the code's size: the ceiling);
      ``label_disentanglement_per_seed`` and ``label_disentanglement_oracle`` read the digit
      labels instead;
    - ``cause_recovery_per_seed``: :func:`~jaxdis.metrics.cause_recovery` of the single-cause
      reconstructions, 1 - SSE / SST, centred (a single-cause decoder g_a(z_a) = E[x | z_a]
      carries the other cause's mean image, and an ASAE's halves can trade a constant image:
      neither is an error of disentangling), the uncentred score as
      ``cause_recovery_raw_per_seed``; the causes are exchangeable except on Simple MNIST, where
      left and right tell them apart;
    - with ``with_classifier``, ``pair_recognition_per_seed``: the share of examples whose two
      reconstructions the cached digit classifier reads as the two true digits (or, when no
      classifier can be had, ``pair_recognition`` saying why).

    A seed whose codes hold NaN or inf gets NaN scores; the other seeds' numbers stand.

    Args:
      composite: the training set's :class:`~jaxdis.data.composite.Composite`.
      probe_index: the probe set's rows in it.
      codes_a, codes_b: (n_seeds, n_probe, n_code) final codes of the probe set.
      recon_a, recon_b: (n_seeds, n_probe, H, W) reconstructions from z_a alone and z_b alone.
      with_classifier: score pair recognition too (trains the classifier once if not cached).
    """
    cause_a, cause_b = composite.cause_a[probe_index], composite.cause_b[probe_index]
    labels_a, labels_b = composite.label_a[probe_index], composite.label_b[probe_index]
    # Each score is one compiled call over the seeds; the oracle's SVD runs on the host.
    verdicts = jax.jit(jax.vmap(disentanglement, in_axes=(0, 0, None, None, None, None)))(
        codes_a, codes_b, cause_a, cause_b, labels_a, labels_b)
    oracle = jax.jit(disentanglement)(*oracle_codes(cause_a, cause_b, codes_a.shape[-1]),
                                      cause_a, cause_b, labels_a, labels_b)
    scores = {"disentanglement_per_seed": verdicts["score"],
              "disentanglement_chance_per_seed": verdicts["chance"],
              "disentanglement_matrix_per_seed": verdicts["matrix"],
              "label_disentanglement_per_seed": verdicts["label_score"],
              "disentanglement_oracle": float(oracle["score"]),
              "label_disentanglement_oracle": float(oracle["label_score"])}

    exchangeable = composite.kind != "simple"  # left/right tells the causes apart

    def recovery(centred):
        score = functools.partial(cause_recovery, centred=centred, exchangeable=exchangeable)
        return np.asarray(jax.jit(jax.vmap(score, in_axes=(0, 0, None, None)))(
            recon_a, recon_b, cause_a, cause_b))

    scores.update({"cause_recovery_per_seed": recovery(True),
                   "cause_recovery_raw_per_seed": recovery(False)})
    if with_classifier:
        try:
            classifier = digit_classifier()
        except (RuntimeError, FileNotFoundError) as error:  # e.g. only the 10k sample
            scores["pair_recognition"] = f"no digit classifier: {error}"
        else:
            scores["pair_recognition_per_seed"] = np.array([
                float(pair_recognition(a, b, labels_a, labels_b, classifier))
                for a, b in zip(recon_a, recon_b)])
    return scores


def mean_std(values) -> dict:
    """``{"mean", "std", "per_seed"}`` of ``values`` (population std, float64)."""
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "per_seed": values.tolist()}


def seed_distribution(values) -> dict:
    """``{"median", "q25", "q75", "min", "max"}`` of the finite ``values`` (one per seed), the
    25th and 75th percentiles by linear interpolation (NumPy's default); {} when none is finite
    (a NaN seed drops out rather than turning every statistic into NaN)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    return {"median": float(np.median(values)), "q25": float(np.percentile(values, 25)),
            "q75": float(np.percentile(values, 75)), "min": float(values.min()),
            "max": float(values.max())}


def sweep_verdicts(summary: dict, *, mi_threshold: float, score_fraction: float,
                   collapse_threshold: float, code_std=None, stage1_code_std=None,
                   stage1_active_units=None) -> dict:
    """How the seeds of one sweep came out, from its summary (the fields of :func:`mi_summary`
    and :func:`ground_truth_scores`, with ``probe_reconstruction_per_seed``): every per-seed
    number as its :func:`seed_distribution`, and the seeds each rule counts.

    - ``seeds_disentangled`` (ours, the verdict; composites only): the seeds whose ground-truth
      score (:mod:`jaxdis.metrics.code_probes`: how much of each cause each code carries, held
      out; 1 when each cause lives in one code only, 0 when a code carries both or has
      collapsed) reaches ``score_fraction`` of the ceiling (the score of the causes compressed to
      the code's size), score_s >= score_fraction * score_oracle;
    - ``seeds_below_mi_threshold`` (the thesis's rule, for comparison): the seeds whose raw final
      MI is below ``mi_threshold`` ("a final value of less than 0.1 is a full success", Fig.
      8.4's caption). Raw as the thesis estimated it: the headline MI standardises each code
      unit first, as the raw estimate reads a code that has shrunk as independent of the other;
    - ``unhealthy_code_seeds``: how many seeds end with codes that make MI misleading;
    - ``seeds_collapsed``, ``seeds_collapsed_in_stage1``: with ``code_std``,
      ``stage1_code_std`` (per seed, the smaller code's spread at the end of training and of the
      DDN's stage 1), the seeds whose spread is below ``collapse_threshold``: a collapsed code
      ties on every probe point, and the KSG estimate reads its maximum, not its information.

    ``stage1_active_units`` (per seed, the encoders' share of live first-layer units at the end
    of stage 1) is shown as its distribution. A seed with NaN drops out of the distributions and
    counts under no rule.
    """
    final_mi_raw = np.asarray(summary["final_mi_raw_per_seed"], float)
    verdicts = {"final_mi": seed_distribution(summary["final_mi_per_seed"]),
                "final_mi_raw": seed_distribution(final_mi_raw),
                "seeds_below_mi_threshold": int(np.sum(final_mi_raw < mi_threshold)),
                "unhealthy_code_seeds": len(summary["unhealthy_code_seeds"]),
                "nonfinite_seeds": summary["nonfinite_seeds"],
                "probe_reconstruction": seed_distribution(
                    summary["probe_reconstruction_per_seed"])}
    if code_std is not None:
        verdicts["final_code_std"] = seed_distribution(code_std)
        verdicts["seeds_collapsed"] = int(np.sum(code_std < collapse_threshold))
    if stage1_active_units is not None:
        verdicts["stage1_active_units"] = seed_distribution(stage1_active_units)
    if stage1_code_std is not None:
        verdicts["stage1_code_std"] = seed_distribution(stage1_code_std)
        verdicts["seeds_collapsed_in_stage1"] = int(np.sum(stage1_code_std < collapse_threshold))
    if "disentanglement_per_seed" in summary:
        scores = np.asarray(summary["disentanglement_per_seed"], float)
        oracle = summary["disentanglement_oracle"]
        verdicts["disentanglement"] = seed_distribution(scores)
        verdicts["disentanglement_chance"] = seed_distribution(
            summary["disentanglement_chance_per_seed"])
        verdicts["disentanglement_oracle"] = oracle
        verdicts["label_disentanglement"] = seed_distribution(
            summary["label_disentanglement_per_seed"])
        verdicts["seeds_disentangled"] = int(np.sum(scores >= score_fraction * oracle))
    for name in ("cause_recovery", "pair_recognition"):
        if f"{name}_per_seed" in summary:
            verdicts[name] = seed_distribution(summary[f"{name}_per_seed"])
    return verdicts
