"""Cost breakdown bars: power cost by site (or any placement column), stacked by kind."""

from __future__ import annotations

import plotly.graph_objects as go

from planner.results.result import Result
from planner.results.statistics import Statistics
from planner.viz.plots._style import KIND_COLOURS, colour_map, label, new_figure


def plot_cost(result: Result, fig: go.Figure | None = None, by: str = "site", stack: str = "kind") -> go.Figure:
    """Power cost (CNY) per ``by`` value, one stacked bar trace per ``stack`` value.

    Bars are ordered by total cost, largest first. Both arguments take any
    column of the placements table (``site``, ``accelerator``, ``kind``, and a
    tariff ``band`` once plans carry one).
    """
    fig = new_figure(fig, f"Power cost by {by} — {label(result.scenario)}")
    table = Statistics(result).cost(by=[by, stack])
    order = (table.groupby(by)["power_cost_cny"].sum().sort_values(ascending=False).index.tolist()
             if len(table) else [])
    colours = KIND_COLOURS if stack == "kind" else colour_map(table[stack])
    for value in sorted(table[stack].unique(), key=str):
        part = table[table[stack] == value].set_index(by).reindex(order)
        fig.add_trace(go.Bar(
            x=[label(v) for v in order], y=part["power_cost_cny"].fillna(0.0), name=label(value),
            marker_color=colours.get(str(value)),
            customdata=part[["energy_mwh", "carbon_t"]].fillna(0.0).to_numpy(),
            hovertemplate=f"{label(value)}<br>%{{x}}: %{{y:,.0f}} CNY<br>%{{customdata[0]:,.1f}} MWh, "
                          "%{customdata[1]:,.1f} t CO2<extra></extra>"))
    fig.update_layout(barmode="stack", yaxis_title="power cost (CNY)", xaxis_title=by, legend_title_text=stack)
    return fig
