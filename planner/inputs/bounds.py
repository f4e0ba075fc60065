"""Finite, realistic bounds for every number a scenario gives.

A number outside these bounds is a typo or an attack, never a plan: ``count: 10000000`` or
``horizon_h: 1e300`` would make the model run away, ``duration_h: 1e-300`` rounds to nothing,
``chips: true`` is not a count. Each bound is wide enough for any real cluster (the largest
single training clusters announced by 2025 are of the order of 10^5 chips) and is stated in
the error a scenario gets when it crosses it.

The bounds are one place, so the schema (``planner schema``) shows them and the size guard
(``planner.problem.size``) can rely on them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

#: hours in a leap year: the longest horizon a plan covers
MAX_HORIZON_H = 8784.0
#: the shortest duration a job or step may have: one minute
MIN_DURATION_H = 1 / 60
#: chips in one gang or one pool (10× the largest single clusters announced by 2025)
MAX_CHIPS = 1_000_000
#: identical copies of one job
MAX_COUNT = 100_000
#: MW at one site's meter (the largest campuses announced by 2025 are a few GW)
MAX_POWER_MW = 20_000.0
#: tokens/s of demand from one city for one service
MAX_TOKENS_PER_S = 1e10
#: a penalty or price per unit (CNY per chip-hour, per million tokens, per kWh …)
MAX_UNIT_PRICE_CNY = 1e6
#: any CNY amount (budgets, prices of systems, checkpoint costs)
MAX_CNY = 1e15
#: default ceiling on the estimated variables of one model (``planner.problem.size``)
MAX_MODEL_VARIABLES = 4_000_000
#: CP-SAT worker threads
MAX_WORKERS = 256
#: CP-SAT's random seed is a 32-bit integer
MAX_SEED = 2**31 - 1
#: the longest solver time limit: one week
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number; write a number")
    return value


def _number(*, integer: bool = False, gt: float | None = None, ge: float | None = None, le: float | None = None,
            ) -> Any:
    base = int if integer else float
    field = Field(gt=gt, ge=ge, le=le) if integer else Field(gt=gt, ge=ge, le=le, allow_inf_nan=False)
    return Annotated[base, BeforeValidator(_no_bool), field]


Count = _number(integer=True, ge=1, le=MAX_COUNT)
Chips = _number(integer=True, ge=1, le=MAX_CHIPS)
ChipsOrZero = _number(integer=True, ge=0, le=MAX_CHIPS)
Hours = _number(ge=MIN_DURATION_H, le=MAX_HORIZON_H * 100)  # a job may be longer than the horizon
HorizonHours = _number(ge=1.0, le=MAX_HORIZON_H)
HourOfHorizon = _number(ge=0.0, le=MAX_HORIZON_H * 100)
StepHours = _number(integer=True, ge=1, le=168)
PowerMW = _number(gt=0.0, le=MAX_POWER_MW)
TokensPerS = _number(gt=0.0, le=MAX_TOKENS_PER_S)
UnitPrice = _number(gt=0.0, le=MAX_UNIT_PRICE_CNY)
UnitPriceOrZero = _number(ge=0.0, le=MAX_UNIT_PRICE_CNY)
Cny = _number(gt=0.0, le=MAX_CNY)
CnyOrZero = _number(ge=0.0, le=MAX_CNY)
Fraction = _number(ge=0.0, le=1.0)
Multiplier = _number(gt=0.0, le=1000.0)
Weight = _number(ge=0.0, le=1000.0)
Milliseconds = _number(gt=0.0, le=100_000.0)
TokenCount = _number(integer=True, ge=1, le=10_000_000)
Tokens = _number(gt=0.0, le=1e16)
Flops = _number(gt=0.0, le=1e30)
ChipHours = _number(gt=0.0, le=1e12)
Gigabytes = _number(ge=0.0, le=1e9)
Workers = _number(integer=True, ge=1, le=MAX_WORKERS)
Seed = _number(integer=True, ge=0, le=MAX_SEED)
TimeLimit = _number(gt=0.0, le=MAX_TIME_LIMIT_S)
Units = _number(integer=True, ge=0, le=1_000_000)
Racks = _number(ge=0.0, le=1_000_000.0)
Years = _number(ge=0.5, le=50.0)
ExchangeRate = _number(gt=0.0, le=100.0)
ModelVariables = _number(integer=True, ge=1000, le=1_000_000_000)
MemoryGB = _number(ge=0.25, le=4096.0)  # resident memory a search may reach
SmallCount = _number(integer=True, ge=1, le=10_000)
Month = _number(integer=True, ge=1, le=12)
