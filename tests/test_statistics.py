"""Statistics tables: hand-checked on a two-site plan, consistent with the KPIs on the example,
and every table exported as CSV and Parquet reads back equal."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.results.result import Result
from planner.results.statistics import Statistics, export, tables
from plan_fixtures import HOSTILE_SITE, example, hostile


def _with_routing(rows: list[tuple[float, float]]) -> Result:
    """The hand-built plan with its routing replaced by (rtt_ms, tokens_per_s) rows."""
    r = hostile()
    r.routing = pd.DataFrame([("svc", "beijing", "helinger", "gpu", t, rtt) for rtt, t in rows],
                             columns=r.routing.columns)
    return r


def test_cost_energy_carbon_by_site_by_hand() -> None:
    # job: 48 chips × 10 h × 1 kW × PUE 1.2 = 576 kWh at 0.5 CNY = 288 CNY, 0.5 kg/kWh → 0.288 t
    # chat: 12 chips × 24 h × 1.2 kW = 345.6 kWh at 0.4 CNY = 138.24 CNY, 0.7 kg/kWh → 0.24192 t
    cost = Statistics(hostile()).cost("site").set_index("site")
    assert cost.loc[HOSTILE_SITE, "power_cost_cny"] == pytest.approx(288.0)
    assert cost.loc["helinger", "power_cost_cny"] == pytest.approx(138.24)
    assert cost.loc[HOSTILE_SITE, "energy_mwh"] == pytest.approx(0.576)
    assert cost.loc["helinger", "carbon_t"] == pytest.approx(0.24192)
    assert cost["share"].sum() == pytest.approx(1.0)
    assert list(cost.index) == [HOSTILE_SITE, "helinger"]  # largest cost first


def test_utilisation_by_hand() -> None:
    stats = Statistics(hostile())
    chips = stats.utilisation_chips().set_index("site")["utilisation"]
    assert chips[HOSTILE_SITE] == pytest.approx(48 / 64)
    assert chips["helinger"] == pytest.approx(12 / 32)
    power = stats.utilisation_power().set_index("site")
    assert power.loc[HOSTILE_SITE, "power_used_mw"] == pytest.approx(0.0576)  # 48 chips × 1.2 kW
    assert power.loc["helinger", "utilisation"] == pytest.approx(0.0144 / 0.5)


def test_cny_per_mtokens_by_hand() -> None:
    # 1,200 tokens/s for 24 h = 103.68 M tokens for 138.24 CNY → 1.3333 CNY per million
    row = Statistics(hostile()).cny_per_mtokens().iloc[0]
    assert row.served_mtokens == pytest.approx(103.68)
    assert row.cny_per_mtokens == pytest.approx(138.24 / 103.68)
    assert row.chips == 12


def test_latency_buckets_and_token_weighted_percentiles() -> None:
    stats = Statistics(_with_routing([(1.0, 10), (4.0, 40), (3.0, 30), (2.0, 20)]))
    pct = stats.latency_percentiles([30, 50, 90, 99]).set_index("percentile")["rtt_ms"]
    # cumulative token share by RTT: 1 ms 10 %, 2 ms 30 %, 3 ms 60 %, 4 ms 100 %
    assert pct.to_dict() == {"p30": 2.0, "p50": 3.0, "p90": 4.0, "p99": 4.0}
    buckets = stats.latency(edges_ms=[0, 2, 5]).set_index("rtt_bucket")["tokens_per_s"]
    assert buckets.to_dict() == {"0–2 ms": 10.0, "2–5 ms": 90.0, "≥ 5 ms": 0.0}


def test_empty_routing_gives_nan_percentiles() -> None:
    stats = Statistics(_with_routing([]))
    assert stats.latency_percentiles()["rtt_ms"].isna().all()
    assert stats.latency()["tokens_per_s"].sum() == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 80), st.floats(1, 1e5)), min_size=1, max_size=12))
def test_percentiles_are_monotone_and_within_the_rtts(rows: list[tuple[float, float]]) -> None:
    stats = Statistics(_with_routing(rows))
    pct = stats.latency_percentiles([10, 50, 90, 99, 100])["rtt_ms"].tolist()
    assert pct == sorted(pct)
    assert min(r for r, _ in rows) <= pct[0] and pct[-1] == max(r for r, _ in rows)
    assert stats.latency()["tokens_per_s"].sum() == pytest.approx(sum(t for _, t in rows))


def test_cost_groups_by_any_placement_column_and_rejects_others() -> None:
    r = example()
    r.placements["band"] = ["peak" if i % 2 else "valley" for i in range(len(r.placements))]
    stats = Statistics(r)
    total = r.placements["power_cost_cny"].sum()
    for by in ("site", "accelerator", "kind", "band", ["site", "band"]):
        assert stats.cost(by)["power_cost_cny"].sum() == pytest.approx(total)
    assert "cost_by_band" in stats.tables()
    with pytest.raises(InputError, match="did you mean 'site'"):
        stats.cost("sites")


def test_example_tables_agree_with_the_kpis() -> None:
    r = example()
    stats = Statistics(r)
    assert stats.cost("site")["power_cost_cny"].sum() == pytest.approx(r.kpis["power_cost_cny"])
    assert stats.energy()["carbon_t"].sum() == pytest.approx(r.kpis["carbon_t"])
    assert stats.energy()["energy_mwh"].sum() == pytest.approx(r.kpis["energy_mwh"])
    assert set(stats.energy()["site"]) == set(r.sites["site"])  # idle sites listed with zeros
    svc = stats.cny_per_mtokens()
    overall = svc["power_cost_cny"].sum() / svc["served_mtokens"].sum()
    assert overall == pytest.approx(r.kpis["inference_cny_per_mtokens"])
    assert svc["served_tokens_per_s"].sum() == pytest.approx(r.kpis["served_tokens_per_s"])
    assert stats.utilisation_chips()["chips_used"].sum() == r.kpis["chips_used"]
    assert stats.utilisation_power()["power_used_mw"].max() == pytest.approx(r.kpis["peak_site_power_mw"])
    assert stats.latency_percentiles()["rtt_ms"].iloc[-1] <= r.kpis["max_rtt_ms"]
    assert stats.objective().set_index("term")["cost_cny"]["total"] == pytest.approx(r.objective["total_cny"])
    timeline = stats.timeline()
    assert (timeline["start_h"] == 0).all() and (timeline["end_h"] == r.placements["hours"]).all()


def test_export_round_trips_csv_and_parquet(tmp_path) -> None:
    r = example()
    written = export(r, tmp_path / "out")
    expected = tables(r)
    assert set(written) == set(expected) and len(expected) >= 15
    for name, df in expected.items():
        parquet = pd.read_parquet(tmp_path / "out" / f"{name}.parquet")
        pd.testing.assert_frame_equal(parquet, df, check_dtype=False, check_column_type=False)
        csv = pd.read_csv(tmp_path / "out" / f"{name}.csv")
        assert list(csv.columns) == list(df.columns)
        assert len(csv) == len(df)
        for col in df.columns:
            if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
                assert csv[col].astype(float).tolist() == pytest.approx(df[col].astype(float).tolist(), nan_ok=True)
            else:
                assert csv[col].fillna("").astype(str).tolist() == df[col].fillna("").astype(str).tolist()


def test_export_into_a_file_path_is_an_input_error(tmp_path) -> None:
    f = tmp_path / "plan.csv"
    f.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        export(hostile(), f)


def test_summary_lists_status_objective_and_solver() -> None:
    s = Statistics(example()).summary().set_index("metric")
    assert s.loc["status", "value"] == "optimal"
    assert math.isclose(float(s.loc["total_cny", "value"]), example().objective["total_cny"])
    assert "best_bound" in s.index and "gap" in s.index
