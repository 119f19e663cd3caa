"""Measures of disentangling: Kraskov mutual information, clustering scores, ground truth.

JAX functions (jit- and vmap-friendly):
  ksg_mi                  KSG estimate of I(x; y) between two codes (thesis section 6.2)

Host functions (scikit-learn; call them on arrays, not inside jit):
  cluster_scores          KMeans AMI_max and NMI_sqrt (Forced Apart Table 1)
  ami_vs_clusters         AMI_max against the number of clusters (Forced Apart Fig. 6)
"""

from jaxdis.metrics.clustering import ami_vs_clusters, cluster_scores
from jaxdis.metrics.ksg import ksg_mi

__all__ = ["ami_vs_clusters", "cluster_scores", "ksg_mi"]
