"""Gaussian RBMs and Broadnets (thesis Part I, ch. 2-4), as pure functions of plain pytrees.

- ``grbm``      GRBMParams, the GRBM's energy and conditionals (thesis eq. 2.15, 2.16, 2.17, 2.18)
- ``broadnet``  BroadnetParams, the Broadnet's log unnormalised joint and conditionals
                (thesis eq. 3.8, 3.12); the sigma convention of the whole package is stated there
- ``exact``     partition function, log-evidence, posterior by enumeration (thesis eq. 4.2, 4.3,
                4.4, 4.5, 4.6, 4.9)
- ``sampling``  block Gibbs for a GRBM, Broadnet posterior and joint inference (Alg. 1, 2)
- ``cd``        contrastive divergence for GRBMs and Broadnets (thesis eq. 3.15, Alg. 3, section
                3.5)
- ``train``     many runs trained in one vmapped program: CD epochs, GRBM-initialised Broadnets
                (thesis section 4.3.1), exact-gradient ascent (thesis section 4.4), CD with the
                exact log-likelihood per epoch
- ``analysis``  activity (thesis eq. 4.8) and its sweeps (Fig. 4.7, 4.8), unit configurations
                (thesis eq. 4.10, 4.11), model difference (thesis eq. 4.12), interpolation between
                units (thesis eq. 4.13), cause recovery and explained variance
"""

from jaxdis.energy.broadnet import BroadnetParams
from jaxdis.energy.grbm import GRBMParams
from jaxdis.energy.train import (cd_epochs, grbm_initialised, init_grbms, mean_log_likelihood,
                                 train_cd, train_exact, train_grbms, tweaked_cd_schedule)

__all__ = ["BroadnetParams", "GRBMParams", "cd_epochs", "grbm_initialised", "init_grbms",
           "mean_log_likelihood", "train_cd", "train_exact", "train_grbms", "tweaked_cd_schedule"]
