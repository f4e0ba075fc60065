"""Shared helpers: tiny scenarios built from tests/data/core/base.yaml, solved and re-checked."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from planner import Result, Scenario, solve
from planner.problem.build import build_problem
from planner.inputs.scenario import scenario_from_dict
from planner.check.document import verify_document
from planner.check.verify import verify_plan

# Property tests explore a fixed sequence of examples, so a run on main is reproducible;
# HYPOTHESIS_PROFILE=explore searches afresh each run.
settings.register_profile("reproducible", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))

DATA = Path(__file__).parent / "data"
CORE = DATA / "core"
EXAMPLE = Path(__file__).parent.parent / "workloads" / "examples" / "east_west_small.yaml"


def key_paths(node: Any, prefix: tuple = (), items: int | None = None):
    """Every path of keys and list indexes in a parsed YAML or JSON document, parents first
    (``items``: only the first that many entries of each list)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from key_paths(v, prefix + (k,), items)
    elif isinstance(node, list):
        for i, v in enumerate(node[:items]):
            yield prefix + (i,)
            yield from key_paths(v, prefix + (i,), items)


def tiny(**changes: Any) -> Scenario:
    """The base tiny scenario with top-level keys replaced."""
    data = yaml.safe_load((CORE / "base.yaml").read_text())
    data.update(copy.deepcopy(changes))
    return scenario_from_dict(data, file=str(CORE / "base.yaml"))


def solve_checked(scenario: Scenario, **kwargs: Any) -> Result:
    """Solve and re-check the plan without the solver; every test plan goes through here."""
    result = solve(scenario, **kwargs)
    assert verify_plan(build_problem(scenario), result.to_dict()) == []
    # what ``planner verify`` checks on the written file, the solver block's objective included
    assert verify_document(scenario, json.loads(json.dumps(result.to_dict()))) == []
    return result


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE
