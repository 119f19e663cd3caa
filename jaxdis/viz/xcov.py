"""The figures of Cheung et al. (2015): the z histogram (Fig. 4a), traversal grids (Fig. 4b, c),
decoder Jacobians and their singular value spectra (Fig. 5), style transfer and y scaling
(Fig. 6, 7; MNIST analogues), the gamma = 0 ablation side by side, accuracy against the number of
labelled examples, validation curves.

Each function takes NumPy arrays and returns a matplotlib Figure (save it with
``RunDir.save_figure``). The images come from :mod:`jaxdis.nets.cheung`'s analyses;
:func:`analysis_figures` runs them on trained models and draws Fig. 4b, c to 7 in one call.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def mosaic(images, pad: int = 1, value: float = 1.0) -> np.ndarray:
    """(rows, cols, H, W) images as one (rows*(H+pad)-pad, cols*(W+pad)-pad) array, separated by
    ``pad`` pixels of ``value``."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images: expected (rows, cols, H, W), got shape {images.shape}")
    rows, cols, h, w = images.shape
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), value, np.float32)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[r, c]
    return out


def _show(ax, images, title="", symmetric=False, row_labels=None, col_labels=None):
    images = np.asarray(images)
    if symmetric:  # Jacobians: signed, white at zero
        limit = float(np.abs(images).max()) or 1.0
        normalised = images / limit
        ax.imshow(mosaic(normalised, value=0.0), cmap="RdBu_r", vmin=-1, vmax=1)
    else:
        ax.imshow(mosaic(np.clip(images, 0.0, 1.0)), cmap="gray", vmin=0, vmax=1)
    rows, cols, h, w = images.shape
    ax.set_xticks([(w + 1) * c + w / 2 for c in range(cols)] if col_labels is not None else [])
    ax.set_yticks([(h + 1) * r + h / 2 for r in range(rows)] if row_labels is not None else [])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=7)
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=7)
    ax.set_title(title, fontsize=9)


def z_histogram(z, title: str = ""):
    """Cheung et al. Fig. 4a: the histogram of each latent unit on the test set, with its std."""
    z = np.asarray(z)
    fig, ax = _figure(figsize=(4.5, 3.2))
    for j in range(z.shape[1]):
        ax.hist(z[:, j], bins=60, histtype="step", density=True,
                label=f"z{j + 1}: std {z[:, j].std():.3f}")
    ax.set_xlabel("z")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title(title or "test-set z (Cheung et al. Fig. 4a: std about 0.35)", fontsize=9)
    return fig


def traversal_figure(grids: Mapping[str, np.ndarray]):
    """Cheung et al. Fig. 4b, c: one panel per latent unit; rows are classes, columns sweep that
    unit over [-2 sigma, 2 sigma] with the others at zero. ``grids`` {title: (classes, steps, H, W)}
    (put each unit's sigma in its title)."""
    fig, axes = _figure(1, len(grids), figsize=(3.2 * len(grids), 3.6), squeeze=False)
    for ax, (title, grid) in zip(axes[0], grids.items()):
        steps = grid.shape[1]
        labels = [""] * steps
        labels[0], labels[-1] = "-2σ", "+2σ"
        _show(ax, grid, title, row_labels=list(range(grid.shape[0])),
              col_labels=labels)
    return fig


def jacobian_figure(images, spectra: Mapping[str, np.ndarray], title: str = ""):
    """Cheung et al. Fig. 5b and 5e. ``images`` (classes, latent, H, W): ∂x̂/∂z_j as images (red
    positive, blue negative); ``spectra`` {layer: (classes, units)} normalised singular values,
    one line per class (Fig. 5e: red {y, z}, blue h_-3, green h_-2)."""
    fig, axes = _figure(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.5, 1]})
    images = np.asarray(images)
    _show(axes[0], np.swapaxes(images, 0, 1), "∂x̂/∂z (rows z1, z2; columns classes)",
          symmetric=True, row_labels=[f"z{j + 1}" for j in range(images.shape[1])],
          col_labels=list(range(images.shape[0])))
    colours = ("tab:red", "tab:blue", "tab:green", "tab:purple")
    for (name, values), colour in zip(spectra.items(), colours):
        values = np.asarray(values)
        shown = min(values.shape[1], 30)
        for c, row in enumerate(values):
            axes[1].plot(np.arange(1, shown + 1), row[:shown], color=colour, alpha=0.5,
                         label=name if c == 0 else None)
    axes[1].set_xlabel("singular value index")
    axes[1].set_ylabel("normalised singular value")
    axes[1].legend(fontsize=8)
    axes[1].set_title("Jacobian spectra, one line per class (Fig. 5e)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


def style_transfer_figure(panels: Mapping[str, tuple[np.ndarray, np.ndarray]], class_names=None):
    """Cheung et al. Fig. 6 (MNIST analogue), one panel per model: the test digit, then the decoder
    output with its z kept and y set to each class. ``panels`` {title: (originals (N, H, W),
    swapped (N, classes, H, W))}."""
    fig, axes = _figure(1, len(panels), figsize=(4.3 * len(panels), 3.6), squeeze=False)
    for ax, (title, (originals, swapped)) in zip(axes[0], panels.items()):
        originals, swapped = np.asarray(originals), np.asarray(swapped)
        rows = np.concatenate([originals[:, None], swapped], axis=1)
        names = list(class_names or range(swapped.shape[1]))
        _show(ax, rows, title, col_labels=["input"] + [str(n) for n in names])
    return fig


def scaled_label_figure(panels: Mapping[str, np.ndarray], scales):
    """Cheung et al. Fig. 7 (MNIST analogue): rows scale the one-hot y from +5 to -5, columns are
    classes, z kept from one test digit. ``panels`` {title: (scales, classes, H, W)}."""
    fig, axes = _figure(1, len(panels), figsize=(4.3 * len(panels), 3.8), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels.items()):
        _show(ax, images, title, row_labels=[f"{s:+.1f}" for s in np.asarray(scales)],
              col_labels=list(range(np.asarray(images).shape[1])))
    return fig


def accuracy_vs_labels_plot(counts: Sequence[int], curves: Mapping[str, np.ndarray],
                            full: float | None = None):
    """Test accuracy against the number of labelled examples; ``curves`` {name: (len(counts),) or
    (len(counts), seeds)}; ``full``: the accuracy with every label."""
    fig, ax = _figure(figsize=(4.8, 3.4))
    for name, values in curves.items():
        values = np.asarray(values, np.float64).reshape(len(counts), -1)
        ax.errorbar(counts, 100 * values.mean(1), yerr=100 * values.std(1), marker="o",
                    capsize=3, label=name)
    if full is not None:
        ax.axhline(100 * full, color="gray", linestyle="--", label="all labels")
    ax.set_xscale("log")
    ax.set_xlabel("labelled training examples")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    return fig


def validation_curves(accuracy, reconstruction, names: Sequence[str],
                      dashed: Sequence[bool] | None = None):
    """Validation accuracy (%, left) and reconstruction error U (Cheung et al. eq. 4, right)
    against the epoch, one line per model: ``accuracy`` and ``reconstruction`` (models, epochs),
    epoch 1 first; ``names`` label the lines; ``dashed`` marks the lines drawn dashed (an
    ablation beside the main row)."""
    accuracy, reconstruction = np.asarray(accuracy), np.asarray(reconstruction)
    dashed = [False] * len(names) if dashed is None else dashed
    fig, axes = _figure(1, 2, figsize=(8, 3.2))
    epochs = np.arange(1, accuracy.shape[1] + 1)
    for i, (name, is_dashed) in enumerate(zip(names, dashed)):
        style = "--" if is_dashed else "-"
        axes[0].plot(epochs, 100 * accuracy[i], style, label=name)
        axes[1].plot(epochs, reconstruction[i], style)
    axes[0].set_ylabel("validation accuracy (%)")
    axes[1].set_ylabel("validation U (eq. 4)")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=7)
    return fig


def analysis_figures(model, params: Mapping[str, object], images, z_test: Mapping[str, np.ndarray],
                     scales, caption: str = ""):
    """Cheung et al. Fig. 4b, c, 5, 6 and 7 (MNIST analogues) for trained models side by side,
    from :mod:`jaxdis.nets.cheung`'s analyses.

    ``params`` {title: one model's variables}; ``z_test`` {title: that model's test-set z (N,
    latent)}: each latent unit is swept over +-2 of its own std (Fig. 4), and the first
    example's z is kept while y is scaled by ``scales`` (Fig. 7); ``images`` (N, H, W) are the
    digits of the style transfer (Fig. 6); ``caption`` is added to each model's title ("seed 0").

    Returns ({file name: Figure}: "xcov_traversal_<title>" and "xcov_jacobian_<title>" per
    model ("=" dropped from the title), "xcov_style_transfer", "xcov_scaled_y"), and
    {title: the normalised singular values {level: (classes, units)}} of Fig. 5e.
    """
    import jax.numpy as jnp

    from jaxdis.nets import cheung

    images, scales = np.asarray(images), np.asarray(scales)
    figures, spectra, style_panels, scale_panels = {}, {}, {}, {}
    for title, one in params.items():
        z, name, label = np.asarray(z_test[title]), title.replace("=", ""), f"{title}{caption}"
        swapped = cheung.swap_labels(model, one, jnp.asarray(images))
        style_panels[title] = (images, np.asarray(swapped))
        scale_panels[title] = np.asarray(cheung.scaled_labels(model, one, jnp.asarray(z[0]),
                                                              jnp.asarray(scales)))
        sigma = z.std(axis=0)
        grids = {f"z{j + 1} swept, σ = {sigma[j]:.3f}": np.asarray(cheung.traversal_grid(
            model, one, j, float(sigma[j]), steps=9)) for j in range(model.latent_dim)}
        figures[f"xcov_traversal_{name}"] = fig = traversal_figure(grids)
        fig.suptitle(f"{label} (Cheung et al. Fig. 4b, c)", fontsize=10)
        jacobian_images, levels = cheung.jacobian_analysis(model, one)
        # A dict comprehension, not jax.tree.map, which would sort the levels (Fig. 5e's order).
        spectra[title] = {level: np.asarray(values) for level, values in levels.items()}
        figures[f"xcov_jacobian_{name}"] = jacobian_figure(
            np.asarray(jacobian_images), spectra[title], f"{label} (Fig. 5)")
    figures["xcov_style_transfer"] = style_transfer_figure(style_panels)
    figures["xcov_scaled_y"] = scaled_label_figure(scale_panels, scales)
    return figures, spectra


def label_swap_figures(model, params, images, title: str) -> dict:
    """Cheung et al. Fig. 6, 8 and 9 for a trained model, one figure per label set: each image
    of ``images`` (N, H, W) decoded with its z (and the other label sets' ŷ) kept and this set's
    ŷ set to each class in turn. Returns {"xcov_npz_swap_<label set>": Figure}."""
    import jax.numpy as jnp

    from jaxdis.nets import cheung

    images = np.asarray(images)
    swapped = {name: np.asarray(cheung.swap_labels(model, params, jnp.asarray(images),
                                                   label_set=name))
               for name, _ in model.label_sets}
    return {f"xcov_npz_swap_{name}": style_transfer_figure(
        {f"{title}: {name} set to each class": (images, swapped[name])}) for name in swapped}
