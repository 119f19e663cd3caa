"""Figures. Part III of the thesis: :mod:`jaxdis.viz.disentangling` (MI curves, cross plots,
reconstructions); Forced Apart: :mod:`jaxdis.viz.forced_apart`."""

from jaxdis.viz.disentangling import (cross_plot, final_mi_scatter, mi_curves,
                                      reconstruction_grid, tile)

__all__ = ["mi_curves", "cross_plot", "reconstruction_grid", "final_mi_scatter", "tile"]
