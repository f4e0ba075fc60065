"""The East-West topology: sourced data, RTT graph, prices, overlays, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_catalog.provenance import Confidence, Figure
from planner.inputs import topology
from planner.cli import main
from planner.errors import InputError, UnknownNameError
from planner.inputs import checks

DATA = Path(__file__).parent / "data" / "topology"
SITES = ["zhangjiakou", "yrd", "wuhu", "shaoguan", "tianfu", "chongqing", "helinger", "guian", "qingyang",
         "zhongwei"]
CITIES = ["beijing", "tianjin", "shanghai", "hangzhou", "nanjing", "hefei", "guangzhou", "shenzhen", "chengdu",
          "chongqing", "wuhan", "xian"]

TOPO = topology.load()
NODES = [f"site:{s}" for s in SITES] + [f"city:{c}" for c in CITIES]


# --------------------------------------------------------------------------- contents

def test_ids_and_version():
    assert TOPO.version == "2026.11"
    assert list(TOPO.sites) == SITES
    assert list(TOPO.cities) == CITIES
    assert {s.role for s in TOPO.sites.values() if s.id in ("helinger", "guian", "qingyang", "zhongwei")} == {"west"}
    assert TOPO.site("yrd").province == "Shanghai"


def test_every_figure_has_provenance():
    count = 0
    for where, fig in TOPO.figures():
        if fig is None:
            continue
        count += 1
        assert isinstance(fig, Figure), where
        assert fig.source.strip(), where
        assert fig.retrieved is not None, where
        if fig.confidence is Confidence.estimate:
            assert fig.method, where
        assert "user file" not in fig.source, where
    assert count > 500


def test_bare_numbers_only_in_user_files(tmp_path):
    with pytest.raises(InputError, match="full Figure"):
        topology._Reader("sites.yaml", strict=True).figure(1.2, "sites[x].pue")  # the shipped data's rule
    src = (topology.DATA_DIR / "sites.yaml").read_text(encoding="utf-8")
    bad = src.replace("    pue: *pue_typical_west\n", "    pue: 1.2\n", 1)
    for name in ("tariffs.yaml", "cities.yaml", "links.yaml"):
        (tmp_path / name).write_text((topology.DATA_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "sites.yaml").write_text(bad, encoding="utf-8")
    user = topology.load(tmp_path)  # a user directory may use plain numbers...
    assert user.site("helinger").pue.source.startswith("user file")


def test_demand_shares_sum_to_one_and_follow_gdp():
    shares = {c.id: c.demand_share.value for c in TOPO.cities.values()}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(shares, key=shares.get) == "shanghai"
    assert shares["shanghai"] == pytest.approx(53926.7 / 333625.1, abs=1e-5)


def test_carbon_and_subsidy_figures():
    assert TOPO.site("tianfu").carbon_kg_per_kwh.value == pytest.approx(0.1404)
    assert TOPO.site("zhangjiakou").carbon_kg_per_kwh.value == pytest.approx(0.7252)
    subsidised = {s.id for s in TOPO.sites.values() if s.domestic_subsidy_fraction.value > 0}
    assert subsidised == {"helinger", "guian", "qingyang"}
    assert all(s.pue_cap.value in (1.2, 1.25) for s in TOPO.sites.values())


# --------------------------------------------------------------------------- RTT invariants

def test_rtt_matrix_shape_and_symmetry():
    m = TOPO.rtt_matrix()
    assert list(m.index) == CITIES and list(m.columns) == SITES
    s = TOPO.site_rtt_matrix()
    assert (s.values == s.values.T).all()
    assert (s.values.diagonal() == 0).all()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(NODES), st.sampled_from(NODES), st.sampled_from(NODES))
def test_rtt_is_a_metric(a, b, c):
    ab, ba = TOPO.rtt_ms(a, b), TOPO.rtt_ms(b, a)
    assert ab == pytest.approx(ba)
    assert ab >= 0
    assert ab <= TOPO.rtt_ms(a, c) + TOPO.rtt_ms(c, b) + 1e-9


def test_estimated_link_follows_formula():
    link = next(l for l in TOPO.links if {l.a, l.b} == {"site:yrd", "city:shanghai"})
    km = topology.great_circle_km(31.03, 120.90, 31.230, 121.474)
    assert link.rtt_ms.value == pytest.approx(2 * km * 1.7 / 200000 * 1000 + 1.0, abs=1e-3)


def test_chongqing_is_both_and_bare_name_means_site():
    assert TOPO.node("chongqing") == "site:chongqing"
    assert TOPO.rtt_ms("guian", "city:chongqing") == pytest.approx(6.28, abs=0.01)  # 6 ms raised to its floor
    assert TOPO.rtt_ms("guian", "chongqing") == TOPO.rtt_ms("guian", "site:chongqing")


# --------------------------------------------------------------------------- reported latencies

def floor_ms(a: str, b: str) -> float:
    """Fibre floor by hand: 2 x km x 1.5 / 200,000 km/s x 1000 + 1 ms equipment."""
    na, nb = TOPO.graph.nodes[TOPO.node(a)], TOPO.graph.nodes[TOPO.node(b)]
    return 2 * topology.great_circle_km(na["lat"], na["lon"], nb["lat"], nb["lon"]) * 1.5 / 200000 * 1000 + 1.0


def test_unstated_claims_are_bounds_no_stronger_than_physics():
    """Gui'an's 20/15/10/6 ms (China Daily) say neither one-way nor round trip.

    Read as round trips they need near-straight routes: Gui'an-Beijing is 1,764 km, so the
    floor at route factor 1.5 is 2 x 1,764 x 1.5 / 200 + 1 = 27.5 ms, and that is what is used.
    """
    for city, claim in (("beijing", 20), ("guangzhou", 10), ("city:chongqing", 6)):
        assert TOPO.rtt_ms("guian", city) == pytest.approx(max(claim, floor_ms("guian", city)), abs=0.01)
    assert TOPO.rtt_ms("guian", "beijing") == pytest.approx(27.46, abs=0.01)
    assert TOPO.rtt_ms("guian", "wuhu") == pytest.approx(20.39, abs=0.01)
    link = next(l for l in TOPO.links if {l.a, l.b} == {"site:guian", "city:beijing"})
    assert link.reported_kind == "unspecified" and "fibre floor" in link.reading
    assert link.reported_ms.value == 20 and link.reported_ms.published.isoformat() == "2023-08-23"


def test_reading_of_a_reported_figure():
    fig = Figure(value=10, source="https://example.org/a", retrieved="2026-12-01", confidence="press")
    assert topology.read_reported_ms(fig, "one_way", None)[0] == 20
    assert topology.read_reported_ms(fig, "round_trip", 30.0)[0] == 10
    assert topology.read_reported_ms(fig, "unspecified", 7.5)[0] == 10
    assert topology.read_reported_ms(fig, "unspecified", 12.5)[0] == 12.5
    assert topology.read_reported_ms(fig, "unspecified", 12.5, "one_way")[0] == 20
    with pytest.raises(ValueError, match="latency_model"):
        topology.read_reported_ms(fig, "unspecified", None)


def test_zhongwei_one_way_figures_doubled_and_no_path_beats_them():
    # Measured one-way 8-10 ms to Beijing -> 18 ms RTT; within 15 ms one-way to Shanghai -> <= 30 ms RTT.
    assert TOPO.rtt_ms("zhongwei", "beijing") == pytest.approx(18)  # was 17.15 through Helinger's 5 ms link
    assert TOPO.rtt_ms("zhongwei", "shanghai") <= 30
    link = next(l for l in TOPO.links if {l.a, l.b} == {"site:zhongwei", "city:beijing"})
    assert link.reported_kind == "one_way" and link.rtt_ms.value == 18
    assert checks.paths_faster_than_measured(TOPO) == []


def test_ulanqab_claim_is_not_moved_silently():
    link = next(l for l in TOPO.links if {l.a, l.b} == {"site:helinger", "city:beijing"})
    assert "Ulanqab" in link.claimed_for and "Ulanqab" in link.reading
    # 5 ms was said of Ulanqab (303 km); at Helinger (393 km) the floor is 2 x 393 x 1.5 / 200 + 1 = 6.9 ms.
    assert TOPO.rtt_ms("helinger", "beijing") == pytest.approx(floor_ms("helinger", "beijing"), abs=0.01)
    assert TOPO.rtt_ms("helinger", "beijing") == pytest.approx(6.90, abs=0.01)
    assert TOPO.rtt_ms("qingyang", "beijing") == pytest.approx(15)  # 15 ms is above its 14.5 ms floor


def test_policy_latency_circles_under_each_reading():
    checks_df = TOPO.latency_checks()
    hub = checks_df[checks_df.check == "hub_to_hub"]
    assert len(hub) == 45 and set(hub.limit_kind) == {"unspecified"}
    assert hub.holds_as_one_way.all()          # 20 ms read one-way: every hub pair holds
    assert not hub.holds_as_rtt.all()          # read as a round trip it does not
    assert (hub.holds == hub.holds_as_rtt).all()  # the one reading: round trip, no stricter than the floor
    near = checks_df[checks_df.check == "cluster_to_city"].set_index(["a", "b"])
    assert near.holds_as_one_way.all()
    assert near.loc[("site:zhangjiakou", "city:beijing"), "holds_as_rtt"]
    assert near.loc[("site:yrd", "city:shanghai"), "holds_as_rtt"]
    assert near.loc[("site:shaoguan", "city:guangzhou"), "holds_as_rtt"]
    qingyang = checks_df[checks_df.check.str.startswith("Qingyang")].set_index("b")
    assert qingyang.loc["city:beijing", "holds"] and not qingyang.loc["city:guangzhou", "holds"]
    summary = TOPO.claims_summary()
    assert summary[0] == ("hub_to_hub (20 ms, unstated: round trip, no stricter than the fibre floor): "
                          f"{int(hub.holds.sum())}/45 hold; as round trip {int(hub.holds_as_rtt.sum())}/45, "
                          "as one-way 45/45")


def test_consistency_findings():
    findings = checks.topology_findings(TOPO)
    assert not [f for f in findings if f.severity == "impossible"]
    pue = {f.where for f in findings if f.check == "pue_above_cap"}
    assert pue == {"site yrd", "site wuhu", "site shaoguan", "site tianfu", "site chongqing"}


def test_checks_flag_impossible_links_and_tariffs():
    fast = topology.load(overlay={"add_links": [{"a": "zhongwei", "b": "shanghai", "rtt_ms": 5}]})
    found = {f.check for f in checks.topology_findings(fast) if f.severity == "impossible"}
    assert {"link_faster_than_light", "path_faster_than_measured"} <= found or "link_faster_than_light" in found
    shortcut = topology.load(overlay={"add_links": [{"a": "zhongwei", "b": "helinger", "rtt_ms": 6},
                                                    {"a": "helinger", "b": "beijing", "rtt_ms": 7}]})
    assert {f.check for f in checks.topology_findings(shortcut)} >= {"path_faster_than_measured"}
    out = CliRunner().invoke(main, ["topology", "checks"])
    assert out.exit_code == 0, out.output
    assert out.output.strip().splitlines()[-1].startswith("topology checks: ")
    assert "0 impossible" in out.output.strip().splitlines()[-1]


# --------------------------------------------------------------------------- prices

def test_eastern_night_valley_guangdong():
    day = TOPO.hourly_price_cny_per_kwh("shaoguan", hours=24)
    assert day[0:8] == [pytest.approx(0.72 * 0.38)] * 8
    assert day[10] == day[15] == pytest.approx(0.72 * 1.7)
    assert day[9] == day[20] == pytest.approx(0.72)
    assert min(day) == day[3]


def test_western_midday_valley_gansu():
    day = TOPO.hourly_price_cny_per_kwh("qingyang", hours=24)
    assert [h for h, p in enumerate(day) if p == min(day)] == list(range(10, 16))
    assert [h for h, p in enumerate(day) if p == max(day)] == [6, 7, 18, 19, 20, 21, 22]


def test_week_repeats_from_monday_and_month_overrides():
    week = TOPO.hourly_price_cny_per_kwh("guian")
    assert len(week) == 168 and week[:24] == week[144:168]
    summer = TOPO.hourly_price_cny_per_kwh("shaoguan", hours=24, month=8)
    assert summer[11] == pytest.approx(0.72 * 1.7 * 1.25)
    assert TOPO.mean_price_cny_per_kwh("guian") == pytest.approx(
        (8 * 0.562 * 1.6 + 8 * 0.562 + 8 * 0.562 * 0.4) / 24, abs=1e-3)


def test_sites_frame_columns():
    df = TOPO.sites_frame()
    for col in ("tariff_mean_cny_per_kwh", "tariff_peak_cny_per_kwh", "tariff_valley_cny_per_kwh", "pue",
                "carbon_kg_per_kwh", "domestic_subsidy_fraction", "power_envelope_mw"):
        assert col in df.columns
    west = df[df.role == "west"].tariff_mean_cny_per_kwh.mean()
    east = df[df.role == "east"].tariff_mean_cny_per_kwh.mean()
    assert west < east


# --------------------------------------------------------------------------- overlays

def test_cut_link_raises_rtt():
    cut = topology.load(overlay={"cut_links": [["guian", "beijing"]]})
    assert cut.rtt_ms("guian", "beijing") > TOPO.rtt_ms("guian", "beijing") + 1
    assert TOPO.rtt_ms("guian", "beijing") == pytest.approx(27.46, abs=0.01)  # the base is not touched


def test_add_and_remove_sites_and_links():
    ov = {"remove_sites": ["qingyang"],
          "add_sites": [{"id": "hami", "name": "Hami", "province": "Xinjiang", "role": "west", "lat": 42.8,
                         "lon": 93.5, "pue": 1.2, "price_cny_per_kwh": 0.3}],
          "add_links": [{"a": "hami", "b": "beijing", "rtt_ms": 25, "bandwidth_gbps": 100}]}
    t = topology.load(overlay=ov)
    assert "qingyang" not in t.sites and "hami" in t.sites
    assert t.rtt_ms("hami", "beijing") == 25  # the new direct link beats every estimated path
    assert t.rtt_ms("hami", "shanghai") > 25  # an added site also joins the estimated meshes
    assert t.bottleneck_gbps("hami", "beijing") == 100
    assert t.site("hami").pue.source == "overlay"
    assert "hami" in t.rtt_matrix().columns


def test_tariff_overlay_by_site_and_by_province():
    t = topology.load(overlay={"tariffs": {"guian": {"flat_price_cny_per_kwh": 0.30}}})
    assert t.hourly_price_cny_per_kwh("guian", 24)[12] == pytest.approx(0.30 * 1.6)
    assert t.hourly_price_cny_per_kwh("guian", 24)[3] == pytest.approx(0.30 * 0.4)
    t2 = topology.load(overlay={"tariffs": {"Guangdong": {"price_cny_per_kwh": 0.5}}})
    assert set(t2.hourly_price_cny_per_kwh("shaoguan", 24)) == {0.5}


def test_overlay_errors():
    with pytest.raises(UnknownNameError, match="did you mean 'guian'"):
        topology.load(overlay={"remove_sites": ["guain"]})
    with pytest.raises(InputError, match="no direct link"):
        topology.load(overlay={"cut_links": [["guian", "beijing"], ["guian", "beijing"]]})
    with pytest.raises(InputError, match="did you mean 'cut_links'"):  # the typed overlay schema
        topology.load(overlay={"cut_link": []})


# --------------------------------------------------------------------------- names and user files

def test_unknown_ids_suggest():
    with pytest.raises(UnknownNameError, match="did you mean 'zhongwei'"):
        TOPO.site("zhongwai")
    with pytest.raises(UnknownNameError, match="did you mean 'shenzhen'"):
        TOPO.city("shenzen")
    with pytest.raises(UnknownNameError, match="did you mean 'helinger'"):
        TOPO.rtt_ms("helingr", "beijing")


def test_tiny_user_file():
    t = topology.load(DATA / "tiny.yaml")
    assert t.version == "test-1"
    assert t.rtt_ms("metro", "west1") == 27  # via east1: 2 + 25 beats the direct 30
    assert t.bottleneck_gbps("metro", "west1") == 200
    assert t.hourly_price_cny_per_kwh("west1", 24)[12] == 0.2
    assert t.mean_price_cny_per_kwh("east1") == pytest.approx(0.8)
    assert t.site("east1").pue.source.startswith("user file")
    assert t.city("metro").demand_share.value == 0.5
    assert t.site("east1").power_envelope_mw.value is None


@pytest.mark.parametrize("name, field", [("broken_role.yaml", "sites[0].role"), ("broken_hours.yaml", "sites[s1].tariff")])
def test_broken_files_name_file_and_field(name, field):
    with pytest.raises(InputError) as exc:
        topology.load(DATA / name)
    assert exc.value.file.endswith(name) and exc.value.field == field and exc.value.fix


def test_unreachable_is_infinite():
    t = topology.load(DATA / "tiny.yaml", overlay={"cut_links": [["town", "east1"]]})
    assert math.isinf(t.rtt_ms("town", "west1"))
    assert math.isnan(t.bottleneck_gbps("town", "west1"))


# --------------------------------------------------------------------------- CLI

def test_cli_show_and_rtt():
    runner = CliRunner()
    res = runner.invoke(main, ["topology", "show", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert {r["site"] for r in rows if r["kind"] == "site"} == set(SITES)
    res = runner.invoke(main, ["topology", "rtt", "--format", "csv"])
    assert res.exit_code == 0 and res.output.splitlines()[0].startswith("city,zhangjiakou")
    res = runner.invoke(main, ["topology", "show", "--path", str(DATA / "broken_role.yaml")])
    assert res.exit_code == 2 and "broken_role.yaml" in res.output


# --------------------------------------------------------------------------- the schema is the one shape check

def _user_site(**fields):
    site = {"id": "s1", "name": "S1", "province": "P", "role": "west", "lat": 30, "lon": 100, "pue": 1.2,
            "price_cny_per_kwh": 0.4}
    return {**site, **fields}


@pytest.mark.parametrize("fields, field, text", [
    ({"pue": {"value": 0.8, "source": "s", "retrieved": "2026-01-01", "confidence": "paper"}},
     "add_sites[0].pue", "greater than or equal to 1"),
    ({"domestic_subsidy_fraction": {"value": 1.5, "source": "s", "retrieved": "2026-01-01", "confidence": "paper"}},
     "add_sites[0].domestic_subsidy_fraction", "less than or equal to 1"),
    ({"lat": 95}, "add_sites[0].lat", "less than or equal to 90"),
])
def test_figure_records_are_bounded_like_plain_numbers(fields, field, text):
    """The schema bounds a Figure record's value as it bounds a plain number, so the loader has no range checks."""
    with pytest.raises(InputError, match=text) as exc:
        topology.load(overlay={"add_sites": [_user_site(**fields)]})
    assert exc.value.file == "overlay" and exc.value.field == field and exc.value.fix


def test_added_link_record_with_zero_bandwidth_is_a_schema_error():
    rec = {"value": 0, "source": "s", "retrieved": "2026-01-01", "confidence": "paper"}
    with pytest.raises(InputError, match="greater than 0") as exc:
        topology.load(overlay={"add_links": [{"a": "guian", "b": "beijing", "rtt_ms": 30, "bandwidth_gbps": rec}]})
    assert exc.value.field == "add_links[0].bandwidth_gbps" and exc.value.fix == "use a positive number"


def test_overlay_site_and_tariff_patch_build_from_the_schema():
    """An added site with a plain price gets a one-band flat tariff; a flat-price patch re-derives band prices
    from the stored ratios (guian peak ratio 1.6: 0.25 x 1.6 = 0.40)."""
    t = topology.load(overlay={"add_sites": [_user_site()], "tariffs": {"guian": {"flat_price_cny_per_kwh": 0.25}}})
    assert t.site("s1").tariff.day_prices() == [0.4] * 24
    assert t.site("s1").pue.source == "overlay"
    assert t.hourly_price_cny_per_kwh("guian", 24)[12] == pytest.approx(0.40)


@pytest.mark.parametrize("extra, field, text", [
    ("latency_model: {fibre_speed_km_per_s: 200000, route_factor: 0.5, equipment_delay_ms: 1}\n",
     "latency_model.route_factor", "greater than or equal to 1"),
    ("latency_model: {fibre_speed_km_per_s: 200000, route_factr: 1.7, equipment_delay_ms: 1}\n",
     "latency_model.route_factor", "Field required"),
    ("checks: {claims: [{name: c, site: west1, cities: [metro], limit_ms: 10, kind: oneway}]}\n",
     "checks.claims[0].kind", "one_way"),
])
def test_latency_model_and_checks_are_typed(tmp_path, extra, field, text):
    """latency_model and checks go through the topology schema like every other section."""
    path = tmp_path / "t.yaml"
    path.write_text((DATA / "tiny.yaml").read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(InputError, match=text) as exc:
        topology.load(path)
    assert exc.value.file == str(path) and exc.value.field == field and exc.value.fix
