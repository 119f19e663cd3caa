"""Figures. Part III of the thesis: :mod:`jaxdis.viz.disentangling` (MI curves, cross plots,
reconstructions); Forced Apart: :mod:`jaxdis.viz.forced_apart`; the Broadnet studies (thesis ch. 3,
4): :mod:`jaxdis.viz.energy`; post-processed ICA (thesis ch. 6): :mod:`jaxdis.viz.ica`; markdown
tables for reports: :mod:`jaxdis.viz.tables`."""

from jaxdis.viz.disentangling import (cross_plot, final_mi_scatter, mi_curves, mi_readings,
                                      reconstruction_grid, seed_reconstructions, tile)

__all__ = ["mi_curves", "mi_readings", "cross_plot", "reconstruction_grid",
           "seed_reconstructions", "final_mi_scatter", "tile"]
