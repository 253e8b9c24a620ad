"""Visualisation: reads model outputs and returns arrays / writes pictures; never trains."""

from vaekit.viz.grid import make_grid, save_grid, save_png

__all__ = ["make_grid", "save_grid", "save_png"]
