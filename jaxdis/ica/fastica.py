"""FastICA (thesis section 5.2.3) and the single-cause reconstruction of thesis eq. 6.1."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.ica._checks import check_mask, check_sources

Array = jax.Array


class ICAResult(NamedTuple):
    """The output of :func:`fast_ica`; ``x ≈ mean + sources @ mixing.T`` and
    ``sources = (x - mean) @ unmixing.T``."""

    sources: np.ndarray  # (N, C)
    mixing: np.ndarray  # (D, C): column c is component c's image
    unmixing: np.ndarray  # (C, D)
    mean: np.ndarray  # (D,)
    n_iter: int  # FastICA iterations run (== max_iter: it stopped before reaching tol)


def fast_ica(
    x,
    n_components: int,
    *,
    tol: float = 1e-4,
    max_iter: int = 200,
    whiten: str | bool = "unit-variance",
    whiten_solver: str = "svd",
    algorithm: str = "parallel",
    fun: str = "logcosh",
    fit_dtype=None,
    seed: int = 0,
) -> ICAResult:
    """FastICA (thesis section 5.2.3) through ``sklearn.decomposition.FastICA``.

    Args:
      x: data, (N, D) float.
      n_components: the number of sources C, 1 <= C <= min(N, D).
      tol: FastICA's stopping tolerance (scikit-learn's: the largest change of an unmixing row,
        ``max |1 - |<w_new, w_old>||``). The thesis stopped at an entropy value minus a tolerance,
        which scikit-learn does not expose; this is the nearest knob (section 6.4's sweep).
      max_iter, whiten, whiten_solver, algorithm, fun: passed to scikit-learn unchanged.
      fit_dtype: the dtype scikit-learn fits in (default: x's). scikit-learn keeps float32, in
        which its "exp" and "cube" contrasts overflow on MNIST composites; float64 fits them.
        The results are returned in x's dtype either way.
      seed: scikit-learn's ``random_state`` (the ICA restart).
    """
    from sklearn.decomposition import FastICA

    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"fast_ica: x must be (N, D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"fast_ica: x must be floating point, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("fast_ica: x contains NaN or inf")
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(
            f"fast_ica: n_components must be in [1, min(N, D)] = [1, {min(x.shape)}], "
            f"got {n_components}"
        )
    if not tol > 0:
        raise ValueError(f"fast_ica: tol must be positive, got {tol}")
    fit_dtype = x.dtype if fit_dtype is None else np.dtype(fit_dtype)
    if not np.issubdtype(fit_dtype, np.floating):
        raise ValueError(f"fast_ica: fit_dtype must be a floating dtype, got {fit_dtype}")
    # Constant features (MNIST's border pixels) are left out of the fit and given zero mixing and
    # unmixing weights: they carry nothing, and scikit-learn's sign convention for the whitening
    # (``u *= np.sign(u[0])``) zeroes every whitening direction when the first feature is
    # constant, which turns all sources to NaN.
    varying = np.ptp(x, axis=0) > 0
    if n_components > varying.sum():
        raise ValueError(
            f"fast_ica: n_components = {n_components} exceeds the {varying.sum()} non-constant "
            f"features of x"
        )
    ica = FastICA(
        n_components=n_components,
        algorithm=algorithm,
        whiten=whiten,
        fun=fun,
        max_iter=max_iter,
        tol=tol,
        whiten_solver=whiten_solver,
        random_state=seed,
    )
    import warnings

    with warnings.catch_warnings():
        # Not converging within max_iter is reported through n_iter, the caller decides.
        warnings.filterwarnings("ignore", message="FastICA did not converge")
        try:
            sources = ica.fit_transform(x[:, varying].astype(fit_dtype))
        except ValueError as error:  # scipy's linear algebra refuses the NaNs of a diverged fit
            if "NaN" not in str(error):
                raise
            sources = None
    if sources is None or not np.all(np.isfinite(sources)):
        raise FloatingPointError(
            f"fast_ica: scikit-learn's FastICA diverged (fun={fun!r} in "
            f"{fit_dtype.name}); fit_dtype=np.float64 may help"
        )
    mixing = np.zeros((x.shape[1], n_components), x.dtype)
    mixing[varying] = ica.mixing_
    unmixing = np.zeros((n_components, x.shape[1]), x.dtype)
    unmixing[:, varying] = ica.components_
    return ICAResult(
        sources=sources.astype(x.dtype),
        mixing=mixing,
        unmixing=unmixing,
        mean=x.mean(axis=0).astype(x.dtype),
        n_iter=int(ica.n_iter_),
    )


def reconstruct(sources: Array, mixing: Array, mean: Array, mask: Array) -> Array:
    """The reconstruction from the components in ``mask`` only (thesis eq. 6.1, x ≈ As + Br):
    ``mean + (sources * mask) @ mixing.T``.

    ``mask`` is (C,) bool or 0/1; ``reconstruct(.., m) + reconstruct(.., ~m) - mean`` is the full
    ICA reconstruction. The mean is kept in each single-cause reconstruction, as in Fig. 6.3.
    """
    sources, mixing, mean, mask = map(jnp.asarray, (sources, mixing, mean, mask))
    check_sources(sources, "reconstruct")
    n_components = sources.shape[1]
    if mixing.ndim != 2 or mixing.shape[1] != n_components:
        raise ValueError(
            f"reconstruct: mixing must be (D, C={n_components}), got shape {mixing.shape}"
        )
    if mean.shape != (mixing.shape[0],):
        raise ValueError(f"reconstruct: mean must be (D={mixing.shape[0]},), got {mean.shape}")
    check_mask(mask, n_components, "reconstruct")
    return mean + (sources * mask.astype(sources.dtype)) @ mixing.T


