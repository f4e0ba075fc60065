"""Plots of a plan, one function per plot, each ``plot_x(result, fig=None) -> plotly Figure``.

Pass ``fig`` to draw into an existing figure; otherwise a new one is made.
Nothing is fetched at run time: the map draws the province outlines shipped in
``planner/data/geo`` itself instead of using plotly's CDN basemaps.
"""

from planner.viz.plots.cost import plot_cost
from planner.viz.plots.gantt import plot_gantt
from planner.viz.plots.latency import plot_latency
from planner.viz.plots.map import plot_map
from planner.viz.plots.pareto import pareto_front, plot_pareto
from planner.viz.plots.sweep import plot_spread, plot_tornado
from planner.viz.plots.utilisation import plot_utilisation

__all__ = ["plot_cost", "plot_gantt", "plot_latency", "plot_map", "plot_pareto", "pareto_front", "plot_utilisation",
           "plot_spread", "plot_tornado"]
