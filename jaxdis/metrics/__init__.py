"""Measures of disentangling: Kraskov mutual information, clustering scores, ground truth.

JAX functions (jit- and vmap-friendly):
  ksg_mi                  KSG estimate of I(x; y) between two codes (thesis section 6.2)
  parzen_log_likelihood   Parzen-window log-likelihood of generated samples (Cheung et al. Table 5)
  parzen_log_densities    the same, per point
  select_parzen_bandwidth sigma chosen on validation data
  pair_recognition        do single-cause reconstructions show the two true digits?
  cause_recovery          share of the causes' variance the reconstructions explain
  read_digits             how reconstructions are turned into 28x28 digits for the classifier
  disentanglement         the ground-truth verdict on two codes: code-by-cause held-out R^2,
                          one score in [0, 1], its chance level (with oracle_codes: its ceiling)
  unhealthy_codes         code spreads that make an MI reading misleading (collapsed, unequal)
  digit_classifier        the cached MNIST classifier (> 98% test accuracy) that reads them

Host functions (scikit-learn or NumPy around compiled scores; call them on arrays, not in jit):
  cluster_scores          KMeans AMI_max and NMI_sqrt (Forced Apart Table 1)
  ami_vs_clusters         AMI_max against the number of clusters (Forced Apart Fig. 6)
  label_probe             held-out accuracy of a linear probe from a code to each cause's label
  mi_summary              a seed sweep's final MI and code spreads per seed, unhealthy seeds
  ground_truth_scores     a seed sweep's ground-truth verdicts per seed (the scores above)
  seed_distribution       median, quartiles and range over seeds
  sweep_verdicts          a sweep's numbers over seeds, and the seeds each rule counts
  parzen_evaluation       Table 5's procedure: bandwidth chosen on validation data, the test
                          log-likelihood and its standard error
"""

from jaxdis.metrics.classifier import DigitClassifier, digit_classifier
from jaxdis.metrics.clustering import ami_vs_clusters, cluster_scores
from jaxdis.metrics.code_probes import (
    UNHEALTHY_CODE_RULE,
    disentanglement,
    disentanglement_score,
    label_probe_matrix,
    oracle_codes,
    probe_matrix,
    unhealthy_codes,
)
from jaxdis.metrics.ground_truth import cause_recovery, label_probe, pair_recognition, read_digits
from jaxdis.metrics.ksg import ksg_mi
from jaxdis.metrics.parzen import (
    parzen_evaluation,
    parzen_log_densities,
    parzen_log_likelihood,
    select_parzen_bandwidth,
)
from jaxdis.metrics.seed_sweep import (ground_truth_scores, mi_summary, seed_distribution,
                                       sweep_verdicts)

__all__ = [
    "DigitClassifier",
    "ami_vs_clusters",
    "cause_recovery",
    "cluster_scores",
    "digit_classifier",
    "disentanglement",
    "disentanglement_score",
    "label_probe_matrix",
    "oracle_codes",
    "probe_matrix",
    "unhealthy_codes",
    "UNHEALTHY_CODE_RULE",
    "label_probe",
    "ground_truth_scores",
    "mi_summary",
    "seed_distribution",
    "sweep_verdicts",
    "pair_recognition",
    "read_digits",
    "ksg_mi",
    "parzen_evaluation",
    "parzen_log_densities",
    "parzen_log_likelihood",
    "select_parzen_bandwidth",
]
