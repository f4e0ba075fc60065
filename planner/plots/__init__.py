"""Plots of a plan, one function per plot, each ``plot_x(result, fig=None) -> plotly Figure``.

Pass ``fig`` to draw into an existing figure; otherwise a new one is made.
Nothing is fetched at run time: the map draws the province outlines shipped in
``planner/data/geo`` itself instead of using plotly's CDN basemaps.
"""

from planner.plots.cost import plot_cost
from planner.plots.gantt import plot_gantt
from planner.plots.latency import plot_latency
from planner.plots.map import plot_map
from planner.plots.pareto import pareto_front, plot_pareto
from planner.plots.utilisation import plot_utilisation

__all__ = ["plot_cost", "plot_gantt", "plot_latency", "plot_map", "plot_pareto", "pareto_front", "plot_utilisation"]
