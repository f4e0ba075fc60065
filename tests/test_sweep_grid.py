"""Sweep parameters without solving: grids, Latin-hypercube strata, run ids."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import EXAMPLE
from planner.errors import InputError
from planner.studies.sweep.grid import (Param, Settings, grid, latin_hypercube, parse_param, resolve_point, run_key,
                                        tornado_points)


def test_start_stop_n_is_evenly_spaced_and_lists_are_yaml():
    assert parse_param("sites.guian.power_cap_mw=10:30:3").values == (10, 20, 30)
    assert parse_param("x=0.1:0.3:3").values == (0.1, 0.2, 0.3)
    assert parse_param("x=1,2.5,abc,[a, b]").values == (1, 2.5, "abc", ["a", "b"])
    assert parse_param("x=5:5:1").values == (5,)
    r = parse_param("x=10:30", "--tornado")
    assert (r.low, r.high, r.values) == (10.0, 30.0, ())


def test_the_grid_is_the_product_in_order():
    points = grid([parse_param("a=1,2"), parse_param("b=x,y,z")])
    assert points == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
                      {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]


@pytest.mark.parametrize("item", ["x=", "x=1,,2", "x=3:1:0", "x=1:1", "x=a:b:3", "x", "=1,2"])
def test_bad_parameters_are_input_errors(item):
    with pytest.raises(InputError):
        tornado_points([parse_param(item)]) if item == "x=1:1" else parse_param(item)


@given(n=st.integers(1, 40), low=st.floats(-1e3, 1e3), width=st.floats(1e-3, 1e3), seed=st.integers(0, 2**16),
       k=st.integers(1, 7))
def test_latin_hypercube_uses_every_stratum_once(n, low, width, seed, k):
    """Each of the n equal strata of a range holds exactly one sample; a list of k items is drawn
    ⌊n/k⌋ or ⌈n/k⌉ times each."""
    values = tuple(f"v{i}" for i in range(k))
    points = latin_hypercube([Param("r", low=low, high=low + width), Param("c", values=values)], n, seed)
    assert len(points) == n
    strata = {min(int((p["r"] - low) / width * n), n - 1) for p in points}
    assert strata == set(range(n))
    counts = Counter(p["c"] for p in points)
    assert all(math.floor(n / k) <= counts[v] <= math.ceil(n / k) for v in values)


def test_run_ids_follow_the_resolved_scenario_not_how_it_was_written():
    """demand_scale=1 and an explicit override to the file's own value resolve to the example itself."""
    base = resolve_point(str(EXAMPLE), {})
    same = resolve_point(str(EXAMPLE), {"demand_scale": 1, "sites.guian.power_cap_mw": 30})
    other = resolve_point(str(EXAMPLE), {"demand_scale": 2})
    s = Settings(time_limit_s=20)
    assert run_key(base, s) == run_key(same, s) != run_key(other, s)
    assert run_key(base, s) != run_key(base, Settings(time_limit_s=5))
    assert other.inference_services[0].demand_tokens_per_s["shanghai"] == 2 * \
        base.inference_services[0].demand_tokens_per_s["shanghai"]


def test_editing_a_file_the_scenario_names_makes_a_new_run(tmp_path):
    """The run id covers the catalog and topology files a scenario points to, not only the scenario."""
    import shutil

    from conftest import CORE

    for name in ("base.yaml", "catalog.yaml", "topology.yaml"):
        shutil.copy(CORE / name, tmp_path / name)
    before = run_key(resolve_point(str(tmp_path / "base.yaml"), {}), Settings())
    assert run_key(resolve_point(str(tmp_path / "base.yaml"), {}), Settings()) == before
    with (tmp_path / "topology.yaml").open("a") as fh:
        fh.write("# re-read\n")
    assert run_key(resolve_point(str(tmp_path / "base.yaml"), {}), Settings()) != before


def test_a_latin_hypercube_sweep_plans_one_run_per_sample():
    from planner.studies.sweep.study import plan_runs

    plan = plan_runs(str(EXAMPLE), params=[parse_param("demand_scale=0.5:2"), parse_param("sites.yrd.power_cap_mw=5,15")],
                     samples=6, seed=3)
    assert len(plan.specs) == 6 and {s.study for s in plan.specs} == {"sample"}
    scales = sorted(s.params["demand_scale"] for s in plan.specs)
    assert all(0.5 + i * 0.25 <= x < 0.5 + (i + 1) * 0.25 for i, x in enumerate(scales))
    assert sorted(s.params["sites.yrd.power_cap_mw"] for s in plan.specs) == [5, 5, 5, 15, 15, 15]
    assert plan_runs(str(EXAMPLE), params=[parse_param("demand_scale=0.5:2")], samples=6, seed=3).sweep_id != \
        plan_runs(str(EXAMPLE), params=[parse_param("demand_scale=0.5:2")], samples=6, seed=4).sweep_id
