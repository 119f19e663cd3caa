"""jaxdis: learning disentangled representations in JAX.

Subpackages (import what you need; none imports another's heavy dependencies):

- ``jaxdis.losses``  pure loss functions of the source works (XCov, DeCov, Forced Apart, DDN, ...)
- ``jaxdis.metrics`` Kraskov mutual information, clustering scores, ground-truth scores
- ``jaxdis.energy``  Gaussian RBMs and Broadnets: samplers, CD, exact enumeration
- ``jaxdis.nets``    Flax modules
- ``jaxdis.train``   the scanned, vmapped training engine
- ``jaxdis.data``    loaders and composite datasets
- ``jaxdis.viz``     figures
"""

__version__ = "0.1.0"
