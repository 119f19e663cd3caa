"""Figures of thesis Part III: MI curves of all seeds with their mean (Fig. 8.4, 9.5, 9.9), cross
plots (Fig. 9.6), single-cause / joint reconstructions (Fig. 8.3, 9.7) and final MI against
reconstruction error (Fig. 8.5).

Each function takes NumPy arrays and returns a matplotlib Figure (save it with
``RunDir.save_figure``), or a dict of them by file name (:func:`mi_readings`,
:func:`seed_reconstructions`); the grids are assembled by :func:`tile` so tests can check them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def mi_curves(mi, boundaries: Sequence[tuple[int, str]] = (), title: str = "",
              ylabel: str = "estimated MI between causes (nats)", flags=None,
              flag_label: str = "flagged"):
    """One thin blue line per seed and their mean in red (the style of Fig. 9.9).

    Args:
      mi: (n_seeds, n_epochs) array; NaN where a seed has no value.
      boundaries: (epoch, label) pairs drawn as dashed vertical lines (stage changes).
      flags: optional (n_seeds, n_epochs) booleans: points where the reading is not to be
        trusted (e.g. collapsed codes). Each is marked with a black cross, a seed flagged at its
        last epoch is drawn dashed, and ``flag_label`` with the count is written under the plot.
    """
    mi = np.asarray(mi, dtype=float)
    if mi.ndim != 2:
        raise ValueError(f"mi: expected (n_seeds, n_epochs), got shape {mi.shape}")
    if flags is not None:
        flags = np.asarray(flags, dtype=bool)
        if flags.shape != mi.shape:
            raise ValueError(f"flags: expected the shape of mi {mi.shape}, got {flags.shape}")
    fig, ax = _figure(figsize=(7, 4))
    epochs = np.arange(mi.shape[1])
    for seed, curve in enumerate(mi):
        dashed = flags is not None and flags[seed, -1]
        ax.plot(epochs, curve, color="tab:blue", alpha=0.5, linewidth=0.8,
                linestyle="--" if dashed else "-")
    if flags is not None and flags.any():
        seeds, points = np.nonzero(flags)
        ax.plot(points, mi[seeds, points], "x", color="black", markersize=4,
                label="unreliable reading")
    if flags is not None:
        at_end, n_flagged = int(flags[:, -1].sum()), int(flags.any(axis=1).sum())
        fig.text(0.01, -0.02, f"x = {flag_label}\n{n_flagged} of {mi.shape[0]} seeds flagged at "
                 f"some epoch, {at_end} at the last (drawn dashed)", fontsize=7, va="top",
                 wrap=True)
    with np.errstate(all="ignore"):
        ax.plot(epochs, np.nanmean(mi, axis=0), color="red", linewidth=2, label="mean")
    for epoch, label in boundaries:
        ax.axvline(epoch, color="grey", linestyle="--", linewidth=0.8)
        ax.text(epoch, ax.get_ylim()[1], f" {label}", va="top", fontsize=8, color="grey")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{mi.shape[0]} seeds")
    ax.legend(loc="upper right")
    return fig


def mi_readings(mi, mi_raw, code_a_std, code_b_std, boundaries: Sequence[tuple[int, str]] = (),
                title: str = "") -> dict:
    """``{"mi_curves": ..., "mi_raw_curves": ...}``: the :func:`mi_curves` of a seed sweep on
    standardised code units and on the raw codes as the thesis estimated them, each marking the
    epochs whose codes are unhealthy (collapsed, or one far smaller than the other:
    :func:`jaxdis.metrics.unhealthy_codes` of the two spreads), where an MI reading misleads.

    Args:
      mi, mi_raw: (n_seeds, n_epochs) KSG estimates per seed and epoch.
      code_a_std, code_b_std: (n_seeds, n_epochs) spreads of the two codes (mean over units of
        the standard deviation over examples), as logged beside them.
      boundaries: (epoch, label) pairs drawn as dashed vertical lines (stage changes).
      title: the first line of both titles; the second says which estimate.
    """
    from jaxdis.metrics import UNHEALTHY_CODE_RULE, unhealthy_codes

    flags = np.asarray(unhealthy_codes(np.asarray(code_a_std), np.asarray(code_b_std)))
    flag_label = f"unhealthy codes: {UNHEALTHY_CODE_RULE}"
    return {"mi_curves": mi_curves(mi, boundaries, f"{title}\nKSG MI on standardised code units",
                                   flags=flags, flag_label=flag_label),
            "mi_raw_curves": mi_curves(mi_raw, boundaries,
                                       f"{title}\nKSG MI on raw codes, as the thesis",
                                       flags=flags, flag_label=flag_label)}


def tile(images, pad: int = 1, value: float = 1.0) -> np.ndarray:
    """(rows, cols, H, W) images -> one (rows (H + pad) - pad, cols (W + pad) - pad) picture."""
    images = np.asarray(images, dtype=float)
    if images.ndim != 4:
        raise ValueError(f"images: expected (rows, cols, H, W), got shape {images.shape}")
    rows, cols, h, w = images.shape
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), value)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = images[r, c]
    return out


def cross_plot(top, left, grid, title: str = ""):
    """Fig. 9.6: ``grid[i, j]`` decodes z_a of ``top[j]`` with z_b of ``left[i]``.

    Args:
      top: (n, H, W) the images whose z_a each column uses.
      left: (m, H, W) the images whose z_b each row uses.
      grid: (m, n, H, W) the joint decodings.
    """
    top, left, grid = (np.asarray(a, dtype=float) for a in (top, left, grid))
    if grid.shape != (left.shape[0], top.shape[0], *top.shape[1:]):
        raise ValueError(f"grid: expected shape {(left.shape[0], top.shape[0], *top.shape[1:])}, "
                         f"got {grid.shape}")
    blank = np.zeros_like(top[0])
    first_row = np.concatenate([blank[None], top])[None]
    rows = np.concatenate([left[:, None], grid], axis=1)
    picture = tile(np.concatenate([first_row, rows]), value=0.5)
    fig, ax = _figure(figsize=(6, 6 * picture.shape[0] / picture.shape[1]))
    ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title or "cross plot: columns share z_a (top), rows share z_b (left)", fontsize=9)
    return fig


def reconstruction_grid(columns: Sequence[np.ndarray], labels: Sequence[str], title: str = "",
                        scale: Sequence[float] | None = None):
    """Fig. 9.7: one row per example; columns such as input, y_a, y_b, y_ab.

    Args:
      columns: each (n, H, W).
      labels: one per column.
      scale: optional factor per column for display (Fig. 8.10 doubles the single causes).
    """
    if len(columns) != len(labels):
        raise ValueError(f"labels: expected {len(columns)} (one per column), got {len(labels)}")
    scale = [1.0] * len(columns) if scale is None else list(scale)
    stacked = np.stack([np.clip(np.asarray(c, dtype=float) * s, 0, 1)
                        for c, s in zip(columns, scale)], axis=1)
    picture = tile(stacked, value=0.5)
    fig, ax = _figure(figsize=(1.2 * len(columns) + 1, 1.2 * stacked.shape[0] * stacked.shape[2]
                               / stacked.shape[3] + 0.5))
    ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
    width = picture.shape[1] / len(columns)
    ax.set_xticks([(i + 0.5) * width for i in range(len(columns))], labels, fontsize=8)
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return fig


def seed_reconstructions(inputs, outputs: Sequence[np.ndarray], labels: Sequence[str], *,
                         n_seeds: int = 3, n_examples: int = 8,
                         scale: Sequence[float] | None = None) -> dict:
    """``{"reconstructions_seed{s}": reconstruction_grid}`` for the first ``n_seeds`` seeds of a
    sweep: one row per example (the first ``n_examples``), the input and then each output.

    Args:
      inputs: (n, H, W) the examples.
      outputs: each (n_seeds_run, n, H * W) or (n_seeds_run, n, H, W): a seed's outputs of them.
      labels: one per column, the input's first.
      scale: optional factor per column for display (Fig. 8.10 doubles the single causes).
    """
    inputs = np.asarray(inputs)
    k = min(n_examples, len(inputs))
    seeds = min([n_seeds] + [len(output) for output in outputs])
    return {f"reconstructions_seed{seed}": reconstruction_grid(
                [inputs[:k]] + [np.asarray(output)[seed, :k].reshape(k, *inputs.shape[1:])
                                for output in outputs],
                labels, title=f"seed {seed}", scale=scale)
            for seed in range(seeds)}


def final_mi_scatter(mi, reconstruction, title: str = ""):
    """Fig. 8.5: final MI against reconstruction error, one point per seed, with a fitted line."""
    mi, reconstruction = np.asarray(mi, float), np.asarray(reconstruction, float)
    fig, ax = _figure(figsize=(5, 4))
    ax.scatter(reconstruction, mi, color="tab:blue")
    ok = np.isfinite(mi) & np.isfinite(reconstruction)
    if ok.sum() >= 2 and np.ptp(reconstruction[ok]) > 0:
        slope, intercept = np.polyfit(reconstruction[ok], mi[ok], 1)
        xs = np.linspace(reconstruction[ok].min(), reconstruction[ok].max(), 10)
        ax.plot(xs, slope * xs + intercept, color="red")
    ax.set_xlabel("reconstruction error (probe set)")
    ax.set_ylabel("final estimated MI (nats)")
    ax.set_title(title)
    return fig
