"""Plans for the statistics, plot, report and notebook tests: the built-in example solved once,
and a small hand-built plan whose names try to inject HTML."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from planner.problem.build import AccelData, JobData, Problem, ServiceData, SiteData
from planner.results.result import Result
from planner.inputs.scenario import load_scenario
from planner.core.solve import solve

EXAMPLE = Path(__file__).parent.parent / "workloads" / "examples" / "east_west_small.yaml"
HOSTILE_SITE = "<script>alert('site')</script>"
HOSTILE_NAME = '<script>alert("scenario")</script> & <b>bold</b>'


@lru_cache(maxsize=1)
def example_result() -> Result:
    """The built-in East-West example, solved once per test session (a copy per caller)."""
    return solve(load_scenario(EXAMPLE), time_limit_s=10)


def example() -> Result:
    return Result.from_dict(example_result().to_dict())


def hostile_problem() -> Problem:
    """Two real sites (Gui'an, Helinger; one renamed to a script tag), Shanghai and Beijing demand.

    Energy per GPU-hour at Gui'an: 1 kW × 1.2 PUE = 1.2 kWh at 0.5 CNY = 0.6 CNY.
    """
    sites = {
        HOSTILE_SITE: SiteData(HOSTILE_SITE, "west", 1.2, 500.0, 0.5, 0.0, 0.5, lat=26.4, lon=106.6),
        "helinger": SiteData("helinger", "west", 1.2, 500.0, 0.4, 0.0, 0.7, lat=40.4, lon=111.8),
    }
    accels = {"gpu<i>": AccelData("gpu<i>", 1.0, False)}
    inventory = {(HOSTILE_SITE, "gpu<i>"): 64, ("helinger", "gpu<i>"): 32}
    jobs = {"job<img src=x onerror=alert(1)>": JobData("job<img src=x onerror=alert(1)>", 48, {"gpu<i>": 10.0},
                                                       ((HOSTILE_SITE, "gpu<i>"), ("helinger", "gpu<i>")), 1e6)}
    rtt = {("shanghai", HOSTILE_SITE): 20.0, ("shanghai", "helinger"): 25.0,
           ("beijing", HOSTILE_SITE): 30.0, ("beijing", "helinger"): 6.0}
    city_sites = {"shanghai": (HOSTILE_SITE, "helinger"), "beijing": (HOSTILE_SITE, "helinger")}
    services = {"chat</script>": ServiceData("chat</script>", {"shanghai": 800.0, "beijing": 400.0}, 40.0,
                                             {"gpu<i>": 100.0}, {"gpu<i>": 4},
                                             ((HOSTILE_SITE, "gpu<i>"), ("helinger", "gpu<i>")), city_sites, 50.0)}
    return Problem(HOSTILE_NAME, 24.0, sites, accels, inventory, jobs, services, rtt, 1.0, 0.01,
                   city_coords={"shanghai": (31.23, 121.47), "beijing": (39.9, 116.4)})


@lru_cache(maxsize=1)
def _hostile() -> Result:
    return solve(hostile_problem(), time_limit_s=5, workers=1)


def hostile() -> Result:
    return Result.from_dict(_hostile().to_dict())
