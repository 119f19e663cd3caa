"""Pure losses of the source works: functions of arrays (and PRNG keys) returning scalars.

Every loss takes the batch on axis 0, works under `jit`, `vmap` and `grad`, checks the static
shapes and dtypes of its inputs (errors name the argument), and cites its equation. An empty
batch (N = 0) is an error while tracing, not a silent NaN; a Forced Apart margin given as a
concrete negative number is an error too. Values are not checked: NaN in an input gives NaN in
the loss (each docstring says where a masked input is the exception). Each is wrapped in
`jax.jit` (string options such as `divergence` are static), so an eager call runs one compiled
program; inside a caller's `jit` it is simply inlined.

- Cheung et al. (2015): `xcov` (Cheung et al. eq. 6), `semi_supervised_objective`
  (Cheung et al. eq. 3, 4, 5, 6); `decov` (Cogswell et al. 2015, a Forced Apart baseline).
- Forced Apart (ICLR 2018 submission): `forced_apart_single` (Forced Apart eq. 5, 6, 7),
  `forced_apart_multi` (Forced Apart eq. 8, 9), `forced_apart_multi_unsupervised`
  (Forced Apart eq. 10), `forced_apart_autoencoder` (Forced Apart eq. 11).
- Thesis ch. 9, the DDN: `ddn_predictive_loss` (thesis eq. 9.5), `ddn_encoding_loss`
  (thesis eq. 9.6), `ddn_finetune_encoding_loss` (thesis eq. 9.11), `ddn_denoise`
  (thesis eq. 9.12), and `grad_by_role`, the gradient routing of thesis eq. 9.7.
- Thesis ch. 8: `split_autoencoder_loss` (the Additive Split Autoencoder).
- Thesis section 9.1, rejected alternatives: `cda_penalty` (thesis eq. 9.1), `mmd`
  (thesis eq. 9.2), `meannn_mi` (thesis eq. 9.3, 9.4).
"""

from jaxdis.losses.alternatives import cda_penalty, meannn_mi, mmd
from jaxdis.losses.ddn import (
    ddn_denoise,
    ddn_encoding_loss,
    ddn_finetune_encoding_loss,
    ddn_predictive_loss,
)
from jaxdis.losses.forced_apart import (
    forced_apart_autoencoder,
    forced_apart_multi,
    forced_apart_multi_unsupervised,
    forced_apart_single,
)
from jaxdis.losses.routing import grad_by_role
from jaxdis.losses.split_autoencoder import split_autoencoder_loss
from jaxdis.losses.xcov import decov, semi_supervised_objective, xcov

__all__ = [
    "cda_penalty",
    "ddn_denoise",
    "ddn_encoding_loss",
    "ddn_finetune_encoding_loss",
    "ddn_predictive_loss",
    "decov",
    "forced_apart_autoencoder",
    "forced_apart_multi",
    "forced_apart_multi_unsupervised",
    "forced_apart_single",
    "grad_by_role",
    "meannn_mi",
    "mmd",
    "semi_supervised_objective",
    "split_autoencoder_loss",
    "xcov",
]
