"""Input checks shared by the losses.

Every check looks only at static facts (shape, rank, dtype), so it runs while a function is being
traced and costs nothing under `jit`; none of them inspects traced values, which would force a host
sync. The one value check, :func:`concrete_nonnegative`, looks only at a concrete Python or NumPy
number and lets a traced one pass. Each error names the argument and says what was expected.
"""

import jax
import jax.numpy as jnp
import numpy as np


def floating(name, x, ndim=None, min_ndim=None):
    """Returns `x` as a JAX array after checking that it is floating point and of the right rank."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have rank {ndim} (batch on axis 0), got shape {x.shape}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have rank at least {min_ndim} (batch on axis 0), got shape {x.shape}"
        )
    return x


def scalar(name, value):
    """Returns a hyperparameter (a Python number or a traced 0-d array) after checking it is 0-d."""
    value = jnp.asarray(value)
    if value.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {value.shape}")
    if not (jnp.issubdtype(value.dtype, jnp.floating) or jnp.issubdtype(value.dtype, jnp.integer)):
        raise TypeError(f"{name} must be a real number, got dtype {value.dtype}")
    return value


def same_shape(name_a, a, name_b, b):
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the shape of {name_a} {a.shape}, got {b.shape}")


def same_batch(*named_arrays):
    """Checks that all (name, array) pairs share the batch size on axis 0."""
    (first_name, first), *rest = named_arrays
    for name, array in rest:
        if array.shape[0] != first.shape[0]:
            raise ValueError(
                f"{name} has batch size {array.shape[0]} on axis 0 but {first_name} has "
                f"{first.shape[0]}; they must match"
            )


def labels_of_length(name, labels, n):
    """Returns integer labels of shape (n,) as a JAX array."""
    labels = jnp.asarray(labels)
    if not (jnp.issubdtype(labels.dtype, jnp.integer) or labels.dtype == jnp.bool_):
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},), one label per example, got {labels.shape}"
        )
    return labels


def divergence_name(divergence):
    if divergence not in ("kl", "js"):
        raise ValueError(f"divergence must be 'kl' or 'js', got {divergence!r}")
    return divergence


def nonempty(name, x):
    """Refuses an empty batch: a loss averaged (or normalised) over 0 examples is 0 / 0 = NaN.
    The batch size is a shape, so this fires while tracing, before anything runs."""
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {x.shape}): the loss of 0 examples is "
                         "undefined; pass at least one example on axis 0")


def concrete_nonnegative(name, value):
    """Refuses a negative ``value`` when it is a concrete number (a Python or NumPy scalar, or a
    concrete array). A traced value (inside the caller's `jit`, `vmap` or `grad`) is not checked:
    reading it would need the value, which tracing does not have."""
    if isinstance(value, jax.core.Tracer):
        return
    try:
        concrete = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return  # not a number: the shape and dtype checks report it
    if concrete.ndim == 0 and concrete < 0:
        raise ValueError(f"{name} must be >= 0, got {float(concrete)}")
