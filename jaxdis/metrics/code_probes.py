"""A ground-truth disentanglement score for two codes of composite data, whose causes are known.

The thesis judges a split of x into codes z_a and z_b by the Kraskov MI between them and by eye
(sections 8.2, 9.4). MI cannot tell a disentangled model from a broken one: two constant codes
are independent, and so is a code that holds both causes beside a code that holds neither. The
composites of :mod:`jaxdis.data` keep the two causes (the source images a composite was made
from), so we can ask directly how much of each cause each code carries.

**The probe matrix.** For each code i in (z_a, z_b) and each cause j in (cause_a, cause_b),
R[i, j] is the held-out R^2 of a ridge regression from the code to the cause image:

    fit on the first ``fit_fraction`` of the rows, score on the rest,
    R^2 = 1 - sum ||c - c_hat||^2 / sum ||c - mean(c)||^2   (pooled over pixels),

clipped to [0, 1]. Each code's columns are standardised (on the fitting rows) first, so the
score does not depend on a code's scale: a shrunken code that still carries its cause scores as
high as a large one, and a constant column (or a constant code: a collapsed encoder) contributes
nothing, so a collapsed code scores R = 0. The ridge penalty is ``ridge * n_fit`` on standardised
columns, small enough to be a numerical guard only. The regression is linear, so R measures
linearly readable information; the oracle below is linear too, so the two are comparable.

**The score.** For one assignment of codes to causes (z_a <-> cause_a, z_b <-> cause_b, or
swapped), four gaps:

    code gaps:  R[z_a, its cause] - R[z_a, the other cause], and the same for z_b
                (each code carries one cause)
    cause gaps: R[its code, cause_a] - R[the other code, cause_a], and the same for cause_b
                (each cause lives in one code)

    score = max over the two assignments of the smallest of the four gaps, clipped to [0, 1]

The smallest gap, not a mean: one failed separation (a code that also carries the other cause)
must sink the score however clean the other three are. So the score is in [0, 1]: 1 when each
code carries its cause fully and nothing of the other;
0 when both codes carry both causes equally, when one code carries everything (its code gap is
0), when both codes carry the same one cause, and when a code has collapsed. It is scaled by
how much of its cause a code carries (R on the diagonal), so a model whose codes each carry a
tenth of their cause scores at most 0.1: the ceiling below says what is reachable.

**Chance and ceiling.** ``chance`` is the score of the same codes with their rows permuted
(independent of the causes by construction): the score's noise floor on this many rows.
:func:`oracle_codes` gives the ceiling: each code replaced by its own cause compressed to the
code's size (the top principal components of the cause, fitted on the fitting rows), so a
2-unit code is compared with the best 2 linear numbers one can keep of a digit, not with 1.

**What it borrows, and how it differs.**

- From DCI (Eastwood and Williams 2018): a code-by-factor matrix of predictive strength from
  held-out regressors, read two ways: does each code carry one factor (their disentanglement)
  and does each factor live in one code (their completeness). We differ in three ways. The unit
  is a whole code (z_a, of any width), as the split architectures of the thesis define it, not
  one latent dimension. The entries are held-out R^2 of the code as a whole, not feature
  importances normalised per row, so informativeness is inside the score: DCI's normalised
  entropies give a collapsed code (all importances zero) no defined value and rate an
  uninformative but exclusive code as disentangled. And the views are combined by gaps, not
  entropies, which for two codes and two causes is the simpler reading.
- From MIG (Chen et al. 2018): the gap between what the best and the second-best code know of a
  factor. We use R^2 where MIG uses MI normalised by the factor's entropy (a cause here is an
  image, with no finite entropy to normalise by), and we add the code-side gap: MIG alone
  gives full marks when one code carries both causes and the other nothing.
- Neither work has the permutation chance level or the compressed-cause ceiling.

The source works judge by eye; this score is ours, and it is what the reports call
"disentangled" (a seed whose score reaches a stated fraction of the ceiling).

:func:`label_probe_matrix` is the same matrix with the digit labels as targets: the held-out
accuracy of a least-squares linear classifier, rescaled so that 0 is what a constant code gets
(the majority class of the fitting rows) and 1 is perfect.

Every function here but :func:`oracle_codes` (a host function, once per run) is a pure JAX
function: jit it, and vmap it over a seed axis of the codes with the causes shared
(``in_axes=(0, 0, None, None)``). A NaN or inf in a code makes that
seed's matrix and score NaN; other seeds are unaffected. The rows should be in random order
(the probe sets of the experiments are), since the split is first rows against last.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["UNHEALTHY_CODE_RULE", "disentanglement", "disentanglement_score",
           "label_probe_matrix", "oracle_codes", "probe_matrix", "probe_r2", "unhealthy_codes"]

# A column whose standard deviation is below this fraction of its magnitude is constant up to
# float32 rounding (a dead encoder's code is one bias vector, whose computed spread is rounding).
_CONSTANT_RELATIVE = 1e-5


def _split(n: int, fit_fraction: float) -> int:
    if not 0 < fit_fraction < 1:
        raise ValueError(f"fit_fraction: expected a number in (0, 1), got {fit_fraction}")
    n_fit = int(round(n * fit_fraction))
    if n_fit < 2 or n - n_fit < 2:
        raise ValueError(f"need at least 2 rows to fit and 2 to score; {n} rows with "
                         f"fit_fraction={fit_fraction} give {n_fit} and {n - n_fit}")
    return n_fit


def _check_rows(name: str, value, n: int | None = None):
    value = jnp.asarray(value)
    if value.ndim < 2:
        raise ValueError(f"{name} must have shape (N, ...) with a feature axis, got {value.shape}")
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating array, got dtype {value.dtype}")
    if n is not None and value.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows like code_a, got shape {value.shape}")
    return value


def _standardized_features(code, n_fit: int):
    """(N, d) code -> its columns centred and scaled by the fitting rows' statistics; constant
    columns become 0."""
    fit = code[:n_fit]
    mean = fit.mean(axis=0)
    std = fit.std(axis=0)
    varies = std > _CONSTANT_RELATIVE * (jnp.abs(mean) + jnp.finfo(code.dtype).tiny)
    return jnp.where(varies, (code - mean) / jnp.where(varies, std, 1), 0.0)


def _ridge_predictions(code, target, n_fit: int, ridge: float):
    """Held-out predictions of ``target`` (N, D) from ``code`` (N, d), rows n_fit: on."""
    features = _standardized_features(code, n_fit)
    fit_features, test_features = features[:n_fit], features[n_fit:]
    target_mean = target[:n_fit].mean(axis=0)
    gram = fit_features.T @ fit_features
    penalty = ridge * n_fit * jnp.eye(gram.shape[0], dtype=gram.dtype)
    weights = solve_positive_definite(gram + penalty,
                                      fit_features.T @ (target[:n_fit] - target_mean))
    return test_features @ weights + target_mean


def solve_positive_definite(matrix, right):
    """``matrix^-1 right`` for a small symmetric positive definite ``matrix`` (d, d), by
    Gauss-Jordan elimination without pivoting (safe for such matrices: every pivot is positive).

    Plain array operations in place of ``jnp.linalg.solve``: vmapped over 10 seeds with 10-unit
    codes, the compiled LAPACK call hung the CPU runtime (jax 0.10.2), every time."""

    def eliminate(i, system):
        matrix, right = system
        pivot = matrix[i, i]
        pivot_row, pivot_right = matrix[i] / pivot, right[i] / pivot
        factors = matrix[:, i].at[i].set(0)
        matrix = (matrix - factors[:, None] * pivot_row[None]).at[i].set(pivot_row)
        right = (right - factors[:, None] * pivot_right[None]).at[i].set(pivot_right)
        return matrix, right

    return jax.lax.fori_loop(0, matrix.shape[0], eliminate, (matrix, right))[1]


def probe_r2(code, target, *, fit_fraction: float = 0.5, ridge: float = 1e-3):
    """Held-out R^2 of a ridge regression from ``code`` (N, d) to ``target`` (N, ...).

    R^2 = 1 - SSE / SST on the rows after the first ``round(N * fit_fraction)``, pooled over
    the target's features, with SST around the held-out rows' own mean (as scikit-learn's
    ``r2_score`` with ``multioutput="variance_weighted"``). Not clipped: below 0 is worse than
    predicting the mean. See the module docstring for the standardisation.
    """
    code = _check_rows("code", code)
    target = _check_rows("target", target, code.shape[0])
    n_fit = _split(code.shape[0], fit_fraction)
    code = code.reshape(code.shape[0], -1)
    target = target.reshape(target.shape[0], -1).astype(code.dtype)
    predictions = _ridge_predictions(code, target, n_fit, ridge)
    held_out = target[n_fit:]
    sse = jnp.sum((held_out - predictions) ** 2)
    sst = jnp.sum((held_out - held_out.mean(axis=0)) ** 2)
    # A non-finite code would be read as a constant column by the standardisation: say NaN.
    return jnp.where(jnp.all(jnp.isfinite(code)), 1 - sse / sst, jnp.nan)


def _probe_accuracy(code, labels, n_classes: int, n_fit: int, ridge: float):
    """Held-out accuracy of a least-squares linear classifier, rescaled: 0 for a constant code
    (which predicts the fitting rows' majority class), 1 for perfect."""
    one_hot = jax.nn.one_hot(labels, n_classes, dtype=code.dtype)
    scores = _ridge_predictions(code, one_hot, n_fit, ridge)
    held_out = labels[n_fit:]
    accuracy = jnp.mean(jnp.argmax(scores, axis=1) == held_out)
    majority = jnp.argmax(one_hot[:n_fit].sum(axis=0))
    constant = jnp.mean(held_out == majority)
    rescaled = (accuracy - constant) / (1 - constant)
    return jnp.where(jnp.all(jnp.isfinite(code)), rescaled, jnp.nan)


def probe_matrix(code_a, code_b, cause_a, cause_b, *, fit_fraction: float = 0.5,
                 ridge: float = 1e-3):
    """The (2, 2) matrix R[code, cause] of held-out R^2, clipped to [0, 1] (module docstring).

    Args:
      code_a, code_b: (N, d_a), (N, d_b) floating codes of the same N examples.
      cause_a, cause_b: (N, ...) the true cause images of those examples.
    """
    code_a = _check_rows("code_a", code_a)
    code_b = _check_rows("code_b", code_b, code_a.shape[0])
    cause_a = _check_rows("cause_a", cause_a, code_a.shape[0])
    cause_b = _check_rows("cause_b", cause_b, code_a.shape[0])
    r2 = functools.partial(probe_r2, fit_fraction=fit_fraction, ridge=ridge)
    matrix = jnp.array([[r2(code_a, cause_a), r2(code_a, cause_b)],
                        [r2(code_b, cause_a), r2(code_b, cause_b)]])
    return jnp.clip(matrix, 0.0, 1.0)  # clip keeps NaN


def label_probe_matrix(code_a, code_b, labels_a, labels_b, *, n_classes: int = 10,
                       fit_fraction: float = 0.5, ridge: float = 1e-3):
    """The (2, 2) matrix of rescaled held-out label accuracies, clipped to [0, 1] (module
    docstring): row i is code i, column j is cause j's label."""
    code_a = _check_rows("code_a", code_a)
    code_b = _check_rows("code_b", code_b, code_a.shape[0])
    labels = []
    for name, value in (("labels_a", labels_a), ("labels_b", labels_b)):
        value = jnp.asarray(value)
        if value.shape != (code_a.shape[0],) or not jnp.issubdtype(value.dtype, jnp.integer):
            raise ValueError(f"{name} must be integer labels of shape ({code_a.shape[0]},), got "
                             f"{value.dtype} {value.shape}")
        labels.append(value)
    n_fit = _split(code_a.shape[0], fit_fraction)
    flat = [c.reshape(c.shape[0], -1) for c in (code_a, code_b)]
    matrix = jnp.array([[_probe_accuracy(c, y, n_classes, n_fit, ridge) for y in labels]
                        for c in flat])
    return jnp.clip(matrix, 0.0, 1.0)


def disentanglement_score(matrix):
    """One number in [0, 1] from a (2, 2) code-by-cause matrix (module docstring):

        score = max over the two assignments of min(2 code gaps, 2 cause gaps), clipped to [0, 1]

    NaN in the matrix gives NaN."""
    matrix = jnp.asarray(matrix)
    if matrix.shape != (2, 2):
        raise ValueError(f"matrix must have shape (2, 2) (codes x causes), got {matrix.shape}")

    def for_assignment(m):  # code i <-> cause i
        gaps = jnp.array([m[0, 0] - m[0, 1], m[1, 1] - m[1, 0],    # each code carries one cause
                          m[0, 0] - m[1, 0], m[1, 1] - m[0, 1]])   # each cause in one code
        return jnp.clip(jnp.min(gaps), 0.0, 1.0)

    direct, swapped = for_assignment(matrix), for_assignment(matrix[::-1])
    return jnp.where(jnp.isnan(direct) | jnp.isnan(swapped), jnp.nan,
                     jnp.maximum(direct, swapped))


def oracle_codes(cause_a, cause_b, n_code: int, *, fit_fraction: float = 0.5):
    """Each cause compressed to ``n_code`` numbers: its top ``n_code`` principal components,
    fitted on the first ``fit_fraction`` of the rows. ``disentanglement`` of these codes is the
    ceiling a model with codes of that size can reach under this score.

    A host function (NumPy's SVD, float64), called once per run rather than per seed: inside a
    compiled JAX program on the CPU, a large SVD (LAPACK through OpenBLAS's thread pool, beside
    XLA's own) deadlocked twice in our runs under heavy load.

    Returns:
      Two float32 arrays (N, n_code).
    """
    cause_a = np.asarray(_check_rows("cause_a", cause_a))
    cause_b = np.asarray(_check_rows("cause_b", cause_b, cause_a.shape[0]))
    if isinstance(n_code, bool) or not isinstance(n_code, int) or n_code < 1:
        raise ValueError(f"n_code must be a Python int >= 1, got {n_code!r}")
    n_fit = _split(cause_a.shape[0], fit_fraction)

    def components(cause):
        flat = cause.reshape(cause.shape[0], -1).astype(np.float64)
        mean = flat[:n_fit].mean(axis=0)
        _, _, rows = np.linalg.svd(flat[:n_fit] - mean, full_matrices=False)
        return ((flat - mean) @ rows[:n_code].T).astype(np.float32)

    return components(cause_a), components(cause_b)


def disentanglement(code_a, code_b, cause_a, cause_b, labels_a=None, labels_b=None, *,
                    fit_fraction: float = 0.5, ridge: float = 1e-3, key=None):
    """The ground-truth verdict on one model's codes (module docstring).

    Returns a dict of arrays: ``matrix`` (2, 2) held-out R^2, ``score`` in [0, 1], ``chance``
    (the score of the codes with rows permuted by ``key``, default ``PRNGKey(0)``) and, with
    labels, ``label_matrix`` and ``label_score``. Vmap over seeds with the causes and labels
    shared: ``jax.vmap(disentanglement, in_axes=(0, 0, None, None, None, None))``.
    """
    options = dict(fit_fraction=fit_fraction, ridge=ridge)
    matrix = probe_matrix(code_a, code_b, cause_a, cause_b, **options)
    key = jax.random.PRNGKey(0) if key is None else key
    order = jax.random.permutation(key, jnp.asarray(code_a).shape[0])
    shuffled = probe_matrix(jnp.asarray(code_a)[order], jnp.asarray(code_b)[order], cause_a,
                            cause_b, **options)
    result = {"matrix": matrix, "score": disentanglement_score(matrix),
              "chance": disentanglement_score(shuffled)}
    if labels_a is not None and labels_b is not None:
        label_matrix = label_probe_matrix(code_a, code_b, labels_a, labels_b, **options)
        result["label_matrix"] = label_matrix
        result["label_score"] = disentanglement_score(label_matrix)
    return result


SPREAD_FLOOR = 0.01   # about 0.3 at initialisation in the thesis's networks
SPREAD_RATIO = 10.0
UNHEALTHY_CODE_RULE = (f"a code's spread (mean over units of the standard deviation over probe "
                       f"examples) below {SPREAD_FLOOR}, or one code's spread more than "
                       f"{SPREAD_RATIO:g} times the other's")


def unhealthy_codes(spread_a, spread_b, *, floor: float = SPREAD_FLOOR,
                    ratio: float = SPREAD_RATIO):
    """True where a pair of codes makes an MI reading misleading (elementwise on any shape).

    A spread is a code's mean over units of the standard deviation over examples. Below
    ``floor`` a code is (nearly) constant: its probe points tie, and the raw KSG estimate reads
    its maximum, not information; a code ``ratio`` times smaller than the other is invisible to
    the raw estimate's max norm, which then reads independence. Either way the codes are
    broken, whatever MI says. NaN spreads are flagged too.
    """
    spread_a, spread_b = jnp.asarray(spread_a), jnp.asarray(spread_b)
    small, large = jnp.minimum(spread_a, spread_b), jnp.maximum(spread_a, spread_b)
    healthy = (small >= floor) & (large <= ratio * small)  # False for NaN
    return ~healthy
