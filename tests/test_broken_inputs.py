"""Broken scenarios, generated: any mutation of a good scenario either still loads or fails with
one InputError that names the file and a field — never another exception."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLE, key_paths
from planner.errors import InputError
from planner.problem.build import build_problem
from planner.inputs.scenario import scenario_from_dict

BASE = yaml.safe_load(Path(EXAMPLE).read_text())


PATHS = list(key_paths(BASE))
JUNK = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=12), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                        st.integers(), max_size=2))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), JUNK)
def test_a_mutated_scenario_loads_or_says_what_is_wrong(path, junk):
    data = copy.deepcopy(BASE)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = junk
    try:
        build_problem(scenario_from_dict(data, file=str(EXAMPLE)))
    except InputError as exc:
        message = str(exc)
        assert str(EXAMPLE) in message and len(message.splitlines()) == 1
