"""Gradient routing: each network trains on its own loss and nothing else (thesis eq. 9.7).

In an adversarial model such as the DDN, one forward pass feeds several losses, and each loss must
update one network only: the encoder f_a trains on the encoding loss l^E_a although that loss also
depends on f_b and q_ba, and q_ba trains on the predictive loss l^P_ba although that loss also
depends on f_a and f_b. Differentiating a sum of losses with respect to all parameters would mix
them. `grad_by_role` differentiates each role's loss with respect to that role's parameters only,
holding every other role fixed, so training a network on the wrong loss cannot happen by accident.
"""

import jax
import jax.numpy as jnp


def grad_by_role(loss_by_role, params):
    """Each role's loss and its gradient with respect to that role's parameters only.

        losses[r] = loss_by_role[r](params)
        grads[r]  = d loss_by_role[r](params) / d params[r]   (all params[s], s != r, held fixed)

    For the DDN (thesis eq. 9.7), with roles "encoder_a", "encoder_b", "predictor_ab",
    "predictor_ba", loss_by_role["encoder_a"] computes `ddn_encoding_loss(z_a, q_ba(z_b))`,
    loss_by_role["predictor_ba"] computes `ddn_predictive_loss(q_ba(z_b), z_a)`, and so on.

    Pure and traceable: use it inside `jit`, `vmap` and `lax.scan`. Each role's loss is traced
    separately, so a forward pass shared by several losses is computed once per role (XLA removes
    some of the duplication under `jit`).

    Args:
      loss_by_role: dict {role: fn(params) -> scalar}; each fn receives the whole params dict.
        Its roles must be a subset of params' roles; roles of params without a loss (e.g. frozen
        encoders while decoders train) are only read.
      params: dict {role: pytree of parameters}.
    Returns:
      (losses, grads): dicts keyed by the roles of loss_by_role; grads[r] has the structure of
      params[r].
    """
    if not isinstance(loss_by_role, dict) or not isinstance(params, dict):
        raise TypeError("loss_by_role and params must both be dicts keyed by role")
    unknown = sorted(set(loss_by_role) - set(params))
    if unknown:
        raise ValueError(
            f"loss_by_role has roles {unknown} that params lacks (params has {sorted(params)})"
        )

    losses, grads = {}, {}
    for role, loss_fn in loss_by_role.items():

        def loss_of_own_params(own_params, role=role, loss_fn=loss_fn):
            loss = loss_fn({**params, role: own_params})
            if jnp.ndim(loss) != 0:
                raise ValueError(
                    f"loss_by_role[{role!r}] must return a scalar, got shape {jnp.shape(loss)}"
                )
            return loss

        losses[role], grads[role] = jax.value_and_grad(loss_of_own_params)(params[role])
    return losses, grads
