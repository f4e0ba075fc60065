"""Plot functions return figures with the expected traces and values for the example plan."""

from __future__ import annotations

import json
import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from planner.errors import InputError
from planner.viz.plots import plot_cost, plot_gantt, plot_latency, plot_map, plot_pareto, plot_utilisation, pareto_front
from planner.viz.plots._geo import PROVINCES, province_rings
from planner.viz.plots.map import MAX_FLOW_PX, MAX_MARKER_PX, MIN_MARKER_PX
from plan_fixtures import HOSTILE_SITE, example, hostile


def _by_name(fig: go.Figure) -> dict[str, go.BaseTraceType]:
    return {t.name: t for t in fig.data}


def test_outline_file_is_small_and_covers_china() -> None:
    assert PROVINCES.stat().st_size < 300_000
    data = json.loads(PROVINCES.read_text())
    names = {f["properties"]["name"] for f in data["features"]}
    assert {"Guizhou", "Inner Mongol", "Ningxia", "Shanghai", "Guangdong", "Xinjiang", "Hainan", "Taiwan"} <= names
    lons = [x for _, ring in province_rings() for x, _ in ring]
    lats = [y for _, ring in province_rings() for _, y in ring]
    assert 73 < min(lons) < 74 and 134 < max(lons) < 136  # Xinjiang's west tip, Heilongjiang's east
    assert 18 < min(lats) < 19 and 53 < max(lats) < 54  # Hainan's south, Mohe in the north


def test_map_traces_for_the_example() -> None:
    r = example()
    fig = plot_map(r)
    traces = _by_name(fig)
    pairs = r.routing.groupby(["service", "city", "site"])["tokens_per_s"].sum()
    flows = [t for t in fig.data if t.name.startswith("flow ")]
    assert len(flows) == len(pairs)
    services = sorted(r.routing["service"].unique())
    assert list(traces) == ["provinces", *[t.name for t in flows], *[f"{s} (width ∝ tokens/s)" for s in services],
                            "demand cities", "size: chips used", "sites (price)", "sites (carbon)"]
    assert all(isinstance(t, go.Scatter) for t in fig.data)  # no geo traces: nothing fetched from a CDN
    # flows are coloured by service, one colour each, and their hover names the service and tokens/s
    colour_of = {}
    for t in flows:
        service = t.name.removeprefix("flow ").split(":")[0]
        colour_of.setdefault(service, set()).add(t.line.color)
        assert service in t.hovertext[0] and "tokens/s" in t.hovertext[0]
    assert all(len(c) == 1 for c in colour_of.values()) and len({next(iter(c)) for c in colour_of.values()}) == len(
        services)
    # the busiest flow is drawn widest, at its city and site
    (service, city, site), _ = max(pairs.items(), key=lambda kv: kv[1])
    widest = max(flows, key=lambda t: t.line.width)
    assert widest.name == f"flow {service}: {city} → {site}" and widest.line.width == pytest.approx(MAX_FLOW_PX)
    c = r.cities.set_index("city").loc[city]
    s = r.sites.set_index("site").loc[site]
    assert list(widest.x) == [c.lon, s.lon] and list(widest.y) == [c.lat, s.lat]
    # sites: sized by chips used, coloured by tariff (visible) or carbon (hidden)
    price, carbon = traces["sites (price)"], traces["sites (carbon)"]
    assert price.visible is True and carbon.visible is False
    assert list(price.marker.color) == pytest.approx(r.sites["price_cny_per_kwh"].tolist())
    assert list(carbon.marker.color) == pytest.approx(r.sites["carbon_kg_per_kwh"].tolist())
    used = r.inventory.groupby("site")["chips_used"].sum().reindex(r.sites["site"]).fillna(0).tolist()
    sizes = list(price.marker.size)
    assert sizes[used.index(max(used))] == pytest.approx(MAX_MARKER_PX)
    assert all(size == pytest.approx(MIN_MARKER_PX) for size, n in zip(sizes, used) if n == 0)
    assert list(price.customdata) == used
    assert list(traces["demand cities"].text) == r.cities["city"].tolist()
    # the buttons switch which site trace is visible
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["colour: tariff", "colour: carbon"]
    carbon_visible = buttons[1].args[0]["visible"]
    assert carbon_visible[-1] is True and carbon_visible[-2] is False and all(carbon_visible[:-2])


def test_map_size_legend_uses_the_sites_size_rule() -> None:
    r = example()
    fig = plot_map(r)
    legend = _by_name(fig)["size: chips used"]
    biggest = int(r.inventory.groupby("site")["chips_used"].sum().max())
    for text, size in zip(legend.text, legend.marker.size):
        n = int(text.split()[0].replace(",", ""))
        assert size == pytest.approx(MIN_MARKER_PX + (MAX_MARKER_PX - MIN_MARKER_PX) * (min(n, biggest) / biggest) ** 0.5)
    assert legend.text[0] == f"{1000:,} chips"  # 1,216 chips used at the busiest site: the round 1,000 below it


def test_map_labels_do_not_overlap() -> None:
    """Each label's box (from the placement rule) clears every other label's box."""
    from planner.viz.plots.map import CHAR_DEG, LINE_DEG, PX_PER_DEG, _box, _overlap, place_labels

    r = example()
    fig = plot_map(r)
    sizes = list(_by_name(fig)["sites (price)"].marker.size)
    sites, cities = place_labels(r, sizes)
    assert list(_by_name(fig)["demand cities"].textposition) == cities
    assert list(_by_name(fig)["sites (price)"].textposition) == sites
    boxes = [_box(x, y, CHAR_DEG * len(t), LINE_DEG, rad, pos) for (x, y, t, rad), pos in zip(
        [(row.lon, row.lat, row.site, size / 2 / PX_PER_DEG) for row, size in zip(r.sites.itertuples(), sizes)]
        + [(row.lon, row.lat, row.city, 0.4) for row in r.cities.itertuples()], sites + cities)]
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_map_colour_switch_and_bad_colour() -> None:
    fig = plot_map(example(), color="carbon")
    assert _by_name(fig)["sites (carbon)"].visible is True
    assert fig.layout.updatemenus[0].active == 1
    with pytest.raises(InputError, match="unknown map colour"):
        plot_map(example(), color="water")


def test_cost_bars_stack_by_kind_and_add_up() -> None:
    r = example()
    fig = plot_cost(r)
    assert sorted(t.name for t in fig.data) == ["inference", "training"]
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(r.kpis["power_cost_cny"])
    per_site = r.placements.groupby("site")["power_cost_cny"].sum().sort_values(ascending=False)
    assert list(fig.data[0].x) == per_site.index.tolist()
    totals = [sum(v) for v in zip(*(t.y for t in fig.data))]
    assert totals == pytest.approx(per_site.tolist())
    by_accel = plot_cost(r, by="accelerator", stack="site")
    assert {t.name for t in by_accel.data} == set(r.placements["site"])


def test_utilisation_heatmap_cells() -> None:
    r = example()
    fig = plot_utilisation(r)
    (heat,) = fig.data
    assert heat.name == "utilisation" and list(heat.y) == r.sites["site"].tolist()
    accels = sorted(r.inventory["accelerator"].unique())
    assert list(heat.x) == [*accels, "site power"]
    for row in r.inventory.itertuples():
        z = heat.z[list(heat.y).index(row.site)][accels.index(row.accelerator)]
        assert z == pytest.approx(row.chips_used / row.chips)
    pools = set(zip(r.inventory["site"], r.inventory["accelerator"]))
    for i, site in enumerate(heat.y):
        for j, accel in enumerate(accels):
            if (site, accel) not in pools:
                assert math.isnan(heat.z[i][j])
    power = r.sites.set_index("site")
    assert [row[-1] for row in heat.z] == pytest.approx((power["power_used_mw"] / power["power_cap_mw"]).tolist())


def test_latency_bars_add_up_to_served_tokens() -> None:
    r = example()
    fig = plot_latency(r)
    assert [t.name for t in fig.data] == ["tokens/s"]
    assert sum(fig.data[0].y) == pytest.approx(r.kpis["served_tokens_per_s"])
    assert "p50" in fig.layout.title.text


def test_gantt_bars_start_at_zero_and_run_their_hours() -> None:
    r = example()
    fig = plot_gantt(r)
    training = r.placements[r.placements["kind"] == "training"]
    assert sorted(t.name for t in fig.data) == sorted(training["site"].unique())
    bars = {(y, t.name): (b, x) for t in fig.data for y, b, x in zip(t.y, t.base, t.x)}
    assert len(bars) == len(training)
    for row in training.itertuples():
        assert bars[(row.workload, row.site)] == (0.0, pytest.approx(row.hours))
    assert fig.layout.xaxis.range == (0, r.meta["horizon_h"])
    assert len(fig.layout.shapes) == 0


def test_gantt_shades_tariff_bands_and_uses_a_timeline() -> None:
    r = example()
    r.timeline = pd.DataFrame([("sft-chat", "training", "guian", "ascend-910b2", 256, 1.0, 37.0)],
                              columns=["workload", "kind", "site", "accelerator", "chips", "start_h", "end_h"])
    bands = pd.DataFrame([("valley", 0, 8), ("peak", 8, 11), ("valley", 24, 32)], columns=["band", "start_h", "end_h"])
    fig = plot_gantt(r, bands=bands)
    assert [(s.x0, s.x1) for s in fig.layout.shapes] == [(0, 8), (8, 11), (24, 32)]
    assert [t.name for t in fig.data] == ["guian", "peak tariff", "valley tariff"]
    assert (fig.data[0].base[0], fig.data[0].x[0]) == (1.0, 36.0)
    with pytest.raises(ValueError, match="start_h"):
        plot_gantt(r, bands=pd.DataFrame({"band": ["peak"]}))


def test_pareto_frontier_keeps_non_dominated_points() -> None:
    pts = pd.DataFrame({"cost_cny": [10, 12, 9, 15, 11], "rtt_ms": [5.0, 3.0, 8.0, 1.0, 6.0],
                        "plan": ["a", "b", "c", "d", "e"]})
    assert pareto_front(pts, "cost_cny", "rtt_ms")["plan"].tolist() == ["c", "a", "b", "d"]  # e is beaten by a
    fig = plot_pareto(pts, x="cost_cny", y="rtt_ms", text="plan")
    assert [t.name for t in fig.data] == ["plans", "frontier"]
    assert list(fig.data[1].x) == [9, 10, 12, 15]
    with pytest.raises(InputError, match="did you mean 'rtt_ms'"):
        pareto_front(pts, "cost_cny", "rtt")


def test_plots_draw_into_a_given_figure_and_escape_names() -> None:
    fig = go.Figure()
    assert plot_cost(hostile(), fig=fig) is fig
    assert len(fig.data) == 2
    m = plot_map(hostile())
    text = json.dumps(m.to_plotly_json()["data"], default=str)
    assert HOSTILE_SITE not in text and "&lt;script&gt;" in text


def test_pareto_plot_of_a_traced_frontier() -> None:
    from planner.studies.pareto import pareto_frontier
    from plan_fixtures import hostile_problem

    table, _ = pareto_frontier(hostile_problem(), 3, time_limit_s=5, workers=1)
    fig = plot_pareto(table, x="power_cost_cny", y="latency_cny", text="point")
    frontier = _by_name(fig)["frontier"]
    assert list(frontier.x) == sorted(table["power_cost_cny"])  # every traced point is non-dominated
    assert list(frontier.y) == sorted(table["latency_cny"], reverse=True)
