"""The cycle collector is paused only inside ``planner.collector.paused`` and restored after."""

from __future__ import annotations

import gc

import pytest

from planner import collector, load_scenario, solve


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_restored_after(collector_on):
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():  # nested: still paused, and the inner end does not resume it
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_after_an_error(collector_on):
    with pytest.raises(ValueError), collector.paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_left_off_if_it_was_off(collector_on):
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_import_frozen_returns_the_module_and_freezes(collector_on):
    module = collector.import_frozen("planner.core.solve")
    assert module.solve.__name__ == "solve"
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    gc.unfreeze()


def test_load_and_solve_leave_the_collector_on(collector_on):
    scenario = load_scenario("workloads/examples/east_west_small.yaml")
    assert gc.isenabled()
    result = solve(scenario, time_limit_s=5, workers=1)
    assert gc.isenabled()
    assert result.status.value == "optimal"
    assert result.objective["total_cny"] == pytest.approx(201_902.72, abs=0.01)  # the README's figure
