"""The cheapest steps of a checkpointable job, its resumes counted (``planner.problem.costs.cheapest_steps``).

Hand-worked: steps cost 1, 5, 1, 5, 1 CNY and the job needs 3 of them.
- No resume cost: the three 1s, 3 CNY.
- 1 CNY per resume: the three 1s in three runs, 3 + 2 × 1 = 5 CNY (a run 0-2 costs 7).
- 10 CNY per resume: one run, 0-2 or 2-4, 1 + 5 + 1 = 7 CNY (the three 1s would cost 23).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.problem.costs import cheapest_steps

COSTS = [1.0, 5.0, 1.0, 5.0, 1.0]


def runs(steps: list[int]) -> int:
    return 1 + sum(1 for a, b in itertools.pairwise(steps) if b != a + 1)


def priced(costs: list[float], steps: list[int], resume: float) -> float:
    return sum(costs[u] for u in steps) + resume * (runs(steps) - 1)


@pytest.mark.parametrize(("resume", "least", "chosen"), [
    (0.0, 3.0, [[0, 2, 4]]),
    (1.0, 5.0, [[0, 2, 4]]),
    (10.0, 7.0, [[0, 1, 2], [2, 3, 4]]),
])
def test_the_resume_cost_decides_between_cheap_steps_apart_and_one_run(resume, least, chosen):
    choice = cheapest_steps(np.array([COSTS]), [3], resume, choose=True)
    assert choice.cny[0] == pytest.approx(least)
    assert choice.steps_of(0) in chosen


def test_rows_are_pools_each_with_its_own_steps_and_a_row_that_cannot_run_is_infinite():
    """Row 0 as above at 10 CNY a resume (7); row 1 needs 2 of its steps, the two 2s apart (2 + 2 + 10 =
    14) or a run 2-3 (2 + 4 = 6) or 3-4 (4 + 2 = 6); row 2 has only two usable steps and needs 3."""
    costs = np.array([COSTS, [9.0, 9.0, 2.0, 4.0, 2.0], [1.0, math.inf, math.inf, math.inf, 1.0]])
    choice = cheapest_steps(costs, [3, 2, 3], 10.0, choose=True)
    assert choice.cny[:2] == pytest.approx([7.0, 6.0])
    assert math.isinf(choice.cny[2])
    assert choice.steps_of(1) in ([2, 3], [3, 4])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_least_cost_is_the_least_over_every_set_of_steps(data):
    """Against every subset of a short window: the least is exact, and the steps it names cost it."""
    width = data.draw(st.integers(1, 8))
    rows = data.draw(st.integers(1, 3))
    resume = data.draw(st.sampled_from([0.0, 0.5, 2.0, 10.0]))
    cost = st.sampled_from([1.0, 2.0, 3.5, 7.0, math.inf])
    costs = [data.draw(st.lists(cost, min_size=width, max_size=width)) for _ in range(rows)]
    need = [data.draw(st.integers(1, width)) for _ in range(rows)]
    choice = cheapest_steps(np.array(costs), need, resume, choose=True)
    for r in range(rows):
        best = min((priced(costs[r], list(c), resume) for c in itertools.combinations(range(width), need[r])),
                   default=math.inf)
        if math.isinf(best):
            assert math.isinf(choice.cny[r])
            continue
        assert choice.cny[r] == pytest.approx(best)
        steps = choice.steps_of(r)
        assert len(steps) == need[r] and steps == sorted(set(steps))
        assert priced(costs[r], steps, resume) == pytest.approx(best)
