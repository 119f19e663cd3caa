"""Measures of disentangling: Kraskov mutual information, clustering scores, ground truth.

JAX functions (jit- and vmap-friendly):
  ksg_mi                  KSG estimate of I(x; y) between two codes (thesis section 6.2)
  parzen_log_likelihood   Parzen-window log-likelihood of generated samples (Cheung et al. Table 5)
  parzen_log_densities    the same, per point
  select_parzen_bandwidth sigma chosen on validation data

Host functions (scikit-learn; call them on arrays, not inside jit):
  cluster_scores          KMeans AMI_max and NMI_sqrt (Forced Apart Table 1)
  ami_vs_clusters         AMI_max against the number of clusters (Forced Apart Fig. 6)
"""

from jaxdis.metrics.clustering import ami_vs_clusters, cluster_scores
from jaxdis.metrics.ksg import ksg_mi
from jaxdis.metrics.parzen import (
    parzen_log_densities,
    parzen_log_likelihood,
    select_parzen_bandwidth,
)

__all__ = [
    "ami_vs_clusters",
    "cluster_scores",
    "ksg_mi",
    "parzen_log_densities",
    "parzen_log_likelihood",
    "select_parzen_bandwidth",
]
