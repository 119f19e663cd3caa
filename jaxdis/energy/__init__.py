"""Gaussian RBMs and Broadnets (thesis Part I, ch. 2-4), as pure functions of plain pytrees.

- ``grbm``      GRBMParams, the GRBM's energy and conditionals (eq. 2.15-2.18)
- ``broadnet``  BroadnetParams, the Broadnet's log unnormalised joint and conditionals (eq. 3.8,
                3.12); the sigma convention of the whole package is stated there
- ``exact``     partition function, log-evidence, posterior by enumeration (eq. 4.2-4.6, 4.9)
- ``sampling``  block Gibbs for a GRBM, Broadnet posterior and joint inference (Alg. 1, 2)
- ``cd``        contrastive divergence for GRBMs and Broadnets (eq. 3.15, Alg. 3, section 3.5)
- ``analysis``  activity (eq. 4.8), unit configurations (eq. 4.10, 4.11), model difference
                (eq. 4.12), interpolation between units (eq. 4.13)
"""

from jaxdis.energy.broadnet import BroadnetParams
from jaxdis.energy.grbm import GRBMParams

__all__ = ["BroadnetParams", "GRBMParams"]
