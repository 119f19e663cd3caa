"""Measures of disentangling: Kraskov mutual information, clustering scores, ground truth.

JAX functions (jit- and vmap-friendly):
  ksg_mi                  KSG estimate of I(x; y) between two codes (thesis section 6.2)
"""

from jaxdis.metrics.ksg import ksg_mi

__all__ = ["ksg_mi"]
