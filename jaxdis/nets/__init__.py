"""Flax networks: the dense MLP of thesis Part III, the split autoencoder (ch. 8), the DDN (ch. 9)."""

from jaxdis.nets.ddn import (DDNArchitecture, ROLE_OF_NETWORK, apply_network, decode, encode,
                             init_ddn)
from jaxdis.nets.mlp import MLP, dense_macs
from jaxdis.nets.split_autoencoder import ASAEArchitecture, asae_apply, init_asae

__all__ = ["MLP", "dense_macs", "DDNArchitecture", "ROLE_OF_NETWORK", "init_ddn", "apply_network",
           "encode", "decode", "ASAEArchitecture", "init_asae", "asae_apply"]
