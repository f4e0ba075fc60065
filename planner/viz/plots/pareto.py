"""The Pareto frontier of a set of plans, e.g. cost against latency from capacity-planning runs."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from planner.errors import UnknownNameError
from planner.viz.plots._style import label, new_figure


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The rows no other row beats on both ``x`` and ``y`` (both minimised), sorted by ``x``."""
    for col in (x, y):
        if col not in points.columns:
            raise UnknownNameError("column", col, list(points.columns), field="points")
    ordered = points.sort_values([x, y], kind="stable")
    keep, best_y = [], float("inf")
    for idx, value in zip(ordered.index, ordered[y]):
        if value < best_y:
            keep.append(idx)
            best_y = value
    return ordered.loc[keep]


def plot_pareto(points: pd.DataFrame, fig: go.Figure | None = None, x: str = "x", y: str = "y",
                text: str | None = None, title: str = "Pareto frontier") -> go.Figure:
    """All points (trace ``plans``) and the non-dominated ones joined as a line (trace ``frontier``).

    ``points`` is a DataFrame with one row per plan; ``x`` and ``y`` name the
    two objectives to minimise (units belong in the column names) and ``text``
    an optional label column.
    """
    front = pareto_front(points, x, y)
    fig = new_figure(fig, title)
    labels = [label(t) for t in points[text]] if text else None
    fig.add_trace(go.Scatter(x=points[x], y=points[y], mode="markers", name="plans", text=labels,
                             marker=dict(size=8, color="#9ecae1", line=dict(color="#3182bd", width=1))))
    fig.add_trace(go.Scatter(x=front[x], y=front[y], mode="lines+markers", name="frontier",
                             text=[label(t) for t in front[text]] if text else None,
                             line=dict(color="#d62728", width=2, shape="hv"), marker=dict(size=9)))
    fig.update_layout(xaxis_title=x, yaxis_title=y)
    return fig
