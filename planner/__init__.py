"""East-West compute planner: place AI training and inference across China's compute hubs.

    from planner import load_scenario, solve
    result = solve(load_scenario("workloads/examples/east_west_small.yaml"))
    print(result.summary()); result.placements; result.routing
"""

from planner.result import Result, Status
from planner.scenario import Scenario, load_scenario
from planner.solve import solve

__all__ = ["Result", "Scenario", "Status", "load_scenario", "solve", "verify"]


def verify(scenario: Scenario, result: Result) -> list[str]:
    """Re-check a result against its scenario without the solver; returns the violations."""
    from planner.problem import build_problem
    from planner.verify import verify_plan

    return verify_plan(build_problem(scenario), result.to_dict(), scenario)
