"""A two-phase start for any core model, solved with the HiGHS that OR-Tools bundles.

Whole replicas cost the gap, whole jobs do not: keeping only the jobs integer moves the
LP relaxation of the national week by 0.004 %, keeping only the replicas integer by
about 0.9 %. So the start splits the model along that line. ``integer`` names the
variables whose integrality matters (replicas, purchases); every other variable (job
counts, flows) is relaxed in phase 1::

  phase 1   choose the ``integer`` variables:
            (a) relax and round (``relax_and_round``): the LP relaxation, then each integer
                variable rounded up, the most fractional first, while every row still fits
                with the relaxed variables at zero, else down; seconds at national scale;
                the runner then has CP-SAT repack the relaxed variables around those values
                at once (rounding job counts down leaves whole jobs out of full pools), and
                stops there if that plan meets the requested gap against the LP's bound;
            (b) the MILP with only ``integer`` integer (``milp_phase``), solved by HiGHS for
                its dual bound: it is a relaxation of the model, so the bound is proven for
                the model, usually far above CP-SAT's own at 60 s; beside it, in a second
                thread and only when the solve is to prove optimality (no gap to meet),
                HiGHS on the whole MILP (``whole=True``), whose heuristics find plans
                sooner. Either plan replaces (a)'s when it is cheaper.
  phase 2   the ``integer`` variables fixed (those of the phase whose relaxed point,
            ``Phase.point_units``, was cheapest): the LP of the rest, rounded down and filled
            greedily (``round_and_fill``), and then CP-SAT on the model with the ``integer``
            variables fixed (``planner.core.runner.solve_model``), a small packing problem
            it closes in seconds.

Phase 2's plan is a complete hint for CP-SAT on the full model. The model is read back
from the CP-SAT proto (linear rows only, which is every row the core writes), so the
spatial, time-of-use and capacity models share this start without a second formulation.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ortools.math_opt import (
    model_parameters_pb2,
    model_pb2,
    parameters_pb2,
    result_pb2,
    solution_pb2,
    sparse_containers_pb2,
)
from ortools.math_opt.core.python import solver
from ortools.math_opt.python import callback, mathopt
from ortools.sat import cp_model_pb2
from ortools.sat.python import cp_model

_INT_LIMIT = 2**62


@dataclass
class Phase:
    """One phase's outcome, in the CP-SAT model's objective units."""

    values: list[int] | None  # a plan of the full model, one value per CP-SAT variable (None: none)
    objective_units: float | None  # its objective (incl. offset)
    bound_units: float | None  # a proven lower bound on the model
    seconds: float
    status: str
    #: the objective of the relaxed point the plan was rounded from (its ``integer`` variables as in the
    #: plan): what repacking the rest around those integer values may come down to
    point_units: float | None = None


def _bound(v: int) -> float:
    return -math.inf if v <= -_INT_LIMIT else (math.inf if v >= _INT_LIMIT else float(v))


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


#: a node line of HiGHS's MIP log: … Expl.% BestBound BestSol Gap Cuts InLp Confl. LpIters Time
_NODE_LINE = re.compile(r"^\s*[A-Za-z]?\s+\d+\s+\d+\s+\d+\s+[\d.]+%\s+(\S+)\s+(\S+)\s+\S+\s+\d+\s+\d+\s+\d+"
                        r"\s+\d+\s+[\d.]+s\s*$")


class LinearView:
    """The CP-SAT model's rows, read once: domains, rows, objective (every row the core writes is linear)."""

    def __init__(self, model: cp_model.CpModel) -> None:
        proto = _read_proto(model)
        self.n = len(proto.variables)
        domains = [list(v.domain) for v in proto.variables]
        self.lb = [d[0] for d in domains]
        self.ub = [d[-1] for d in domains]
        self.rows: list[dict[int, int]] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.linear = True
        for ct in proto.constraints:
            if not ct.HasField("linear") or len(ct.enforcement_literal):
                self.linear = False
                continue
            lin = ct.linear
            d = list(lin.domain)
            vs, cs = list(lin.vars), list(lin.coeffs)
            if len(set(vs)) == len(vs):
                terms = dict(zip(vs, cs))
            else:
                terms = {}
                for v, c in zip(vs, cs):
                    terms[v] = terms.get(v, 0) + c
            self.rows.append(terms)
            self.lo.append(_bound(d[0]))
            self.hi.append(_bound(d[-1]))
        obj = proto.objective
        self.cost: dict[int, int] = {}
        for v, c in zip(obj.vars, obj.coeffs):
            self.cost[v] = self.cost.get(v, 0) + c
        self.offset = float(obj.offset)
        self.cols: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        for r, terms in enumerate(self.rows):
            for v, c in terms.items():
                self.cols[v].append((r, c))

    def mip(self, integer: set[int] | None, fixed: dict[int, int] | None = None) -> model_pb2.ModelProto:
        """The model as a MathOpt MILP: ``integer`` stay integer (None: all), ``fixed`` are fixed."""
        mip = model_pb2.ModelProto(name="core")
        fixed = fixed or {}
        mip.variables.ids.extend(range(self.n))
        mip.variables.lower_bounds.extend(_bound(fixed.get(i, self.lb[i])) for i in range(self.n))
        mip.variables.upper_bounds.extend(_bound(fixed.get(i, self.ub[i])) for i in range(self.n))
        mip.variables.integers.extend(integer is None or i in integer for i in range(self.n))
        rows, cols, coefs = [], [], []
        for r, terms in enumerate(self.rows):
            for v in sorted(terms):
                rows.append(r)
                cols.append(v)
                coefs.append(float(terms[v]))
        mip.linear_constraints.ids.extend(range(len(self.rows)))
        mip.linear_constraints.lower_bounds.extend(self.lo)
        mip.linear_constraints.upper_bounds.extend(self.hi)
        mip.linear_constraint_matrix.row_ids.extend(rows)
        mip.linear_constraint_matrix.column_ids.extend(cols)
        mip.linear_constraint_matrix.coefficients.extend(coefs)
        mip.objective.offset = self.offset
        ids = sorted(self.cost)
        mip.objective.linear_coefficients.ids.extend(ids)
        mip.objective.linear_coefficients.values.extend(float(self.cost[v]) for v in ids)
        return mip

    def objective(self, values: list[int]) -> float | None:
        """The objective (units) of ``values`` if it meets every domain and row, else None."""
        for i in range(self.n):
            if not self.lb[i] <= values[i] <= self.ub[i]:
                return None
        for r, terms in enumerate(self.rows):
            act = sum(c * values[v] for v, c in terms.items())
            if not self.lo[r] <= act <= self.hi[r]:
                return None
        return float(sum(c * values[v] for v, c in self.cost.items()) + self.offset)


def _read_proto(model: cp_model.CpModel) -> cp_model_pb2.CpModelProto:
    """The model as a plain protobuf message: reading 100,000 rows from it takes a tenth of the time
    the solver's own wrapper takes, so the model goes through a file once."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pb"
        model.export_to_file(str(path))
        return cp_model_pb2.CpModelProto.FromString(path.read_bytes())


@contextmanager
def native_output_silenced() -> Iterator[None]:
    """Send what native code writes to standard output (HiGHS prints some debug lines there, not to
    its log) to the null device meanwhile, so ``--format json`` output stays JSON."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no file descriptor 1: nothing to protect
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass
class Solved:
    """What a HiGHS solve ended with: its termination reason (e.g. ``OPTIMAL``, or ``ERROR (…)`` when
    the solver failed) and its dual bound, in the model's own objective units."""

    reason: str
    dual_bound: float


#: HiGHS's dual simplex can fail on objective coefficients of 10^11 and more (CP-SAT's cost units):
#: "dual simplex ratio test failed due to excessive dual values", which MathOpt raises as an error.
#: Measured on a 168 h week of 150 jobs and 10 services (costs up to 8.4e11): its LP of the rest
#: failed, and solved at once with the objective divided by 2^10. After such a failure the solve is
#: tried again with the objective divided by the power of two that brings its largest coefficient to
#: at most this (the division is exact; the bound is multiplied back)
RETRY_MAX_COST = 2.0**20


def _solve(mip: model_pb2.ModelProto, time_limit_s: float, gap: float,
           log: Callable[[str], None] | None = None, hint: list[int] | None = None
           ) -> tuple[Solved, list[float] | None]:
    """HiGHS on ``mip``; returns how it ended and its point (one value per variable), if it has one.

    Goes through MathOpt's proto interface and reads only the primal point: parsing the whole
    result (basis, duals, reduced costs) into Python objects took 0.2-0.3 s per LP on the
    national week of distinct shapes, longer than HiGHS's own solve of that LP.

    A solve that fails (MathOpt raises the solver's status) is tried again, in the time left, with
    the objective scaled down (``RETRY_MAX_COST``) and without ``log`` (its figures would be
    scaled); if that fails too, the reason says why and there is no point."""
    t0 = time.perf_counter()
    model_params = model_parameters_pb2.ModelSolveParametersProto()
    if hint is not None:
        model_params.solution_hints.append(model_parameters_pb2.SolutionHintProto(
            variable_values=sparse_containers_pb2.SparseDoubleVectorProto(
                ids=list(mip.variables.ids), values=[float(hint[i]) for i in mip.variables.ids])))
    factor = 1.0
    try:
        out = _highs(mip, time_limit_s, gap, log, model_params)
    except Exception as exc:  # noqa: BLE001 -- MathOpt raises a failed solve's status; the caller gets no point
        factor = _cost_divisor(mip)
        left = time_limit_s - (time.perf_counter() - t0)
        if factor == 1.0 or left <= 0:
            return Solved(f"ERROR ({exc})", math.nan), None
        try:
            with _objective_divided(mip, factor):
                out = _highs(mip, left, gap, None, model_params)
        except Exception as again:  # noqa: BLE001 -- as above
            return Solved(f"ERROR ({again}; first {exc})", math.nan), None
    reason = result_pb2.TerminationReasonProto.Name(out.termination.reason).removeprefix("TERMINATION_REASON_")
    solved = Solved(reason, out.termination.objective_bounds.dual_bound * factor)
    for sol in out.solutions:
        primal = sol.primal_solution
        if sol.HasField("primal_solution") and primal.feasibility_status == solution_pb2.SOLUTION_STATUS_FEASIBLE:
            point = [0.0] * len(mip.variables.ids)
            for i, x in zip(primal.variable_values.ids, primal.variable_values.values):
                point[i] = x
            return solved, point
    return solved, None


def _highs(mip: model_pb2.ModelProto, time_limit_s: float, gap: float, log: Callable[[str], None] | None,
           model_params: model_parameters_pb2.ModelSolveParametersProto) -> result_pb2.SolveResultProto:
    """The call OR-Tools' own mathopt.solve makes, without its parse of the whole result."""
    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=max(0.05, time_limit_s)),
                                     relative_gap_tolerance=gap, random_seed=0, enable_output=log is not None)
    return solver.solve(mip, mathopt.SolverType.HIGHS.value, parameters_pb2.SolverInitializerProto(), params.to_proto(),
                        model_params, (lambda lines: [log(x) for x in lines]) if log else None,
                        callback.CallbackRegistration().to_proto(), None, None)


def _cost_divisor(mip: model_pb2.ModelProto) -> float:
    """The power of two that brings ``mip``'s largest objective coefficient to ``RETRY_MAX_COST`` or
    below (1.0 if it is there already)."""
    top = max((abs(c) for c in mip.objective.linear_coefficients.values), default=0.0)
    if not math.isfinite(top) or top <= RETRY_MAX_COST:
        return 1.0
    return 2.0 ** math.ceil(math.log2(top / RETRY_MAX_COST))


@contextmanager
def _objective_divided(mip: model_pb2.ModelProto, factor: float) -> Iterator[None]:
    """``mip``'s objective divided by ``factor`` while the block runs, then put back as it was."""
    coefficients, offset = list(mip.objective.linear_coefficients.values), mip.objective.offset
    del mip.objective.linear_coefficients.values[:]
    mip.objective.linear_coefficients.values.extend(c / factor for c in coefficients)
    mip.objective.offset = offset / factor
    try:
        yield
    finally:
        del mip.objective.linear_coefficients.values[:]
        mip.objective.linear_coefficients.values.extend(coefficients)
        mip.objective.offset = offset


def solve_or_none(model: mathopt.Model, solver_type: mathopt.SolverType, params: mathopt.SolveParameters
                  ) -> mathopt.SolveResult | None:
    """``mathopt.solve``, or None where the solver failed (MathOpt raises its status): a bound or a
    guide that could not be computed is left out, never the whole solve."""
    try:
        return mathopt.solve(model, solver_type, params=params)
    except Exception:  # noqa: BLE001 -- the callers fall back as for a solve that did not finish
        return None


def solve_proto(mip: model_pb2.ModelProto, time_limit_s: float, gap: float) -> tuple[Solved, list[float] | None]:
    """HiGHS on a MathOpt model proto its caller built from arrays (``_solve``): a model of a few
    hundred thousand nonzeros is built in a tenth of the time ``mathopt.Model`` takes."""
    return _solve(mip, time_limit_s, gap)


#: share of relax and round's time the LP relaxation may use; the LP of the rest gets what is left and,
#: if it runs out, the relaxation's own point is filled instead. On the 20,000-job week of distinct shapes
#: the relaxation took 11 s at load 3 and up to 20 s at load 5, the LP of the rest 4-23 s
RELAXATION_SHARE = 0.75


def relax_and_round(view: LinearView, integer: set[int], time_limit_s: float) -> Phase:
    """Phase 1 (a) and phase 2's LP: LP relaxation, fit-rounding of ``integer``, LP of the rest, fill."""
    t0 = time.perf_counter()
    res, point = _solve(view.mip(set()), time_limit_s * RELAXATION_SHARE, 1e-9)
    if point is None:
        return Phase(None, None, None, time.perf_counter() - t0, f"LP {res.reason}")
    lp_bound = _finite(res.dual_bound) if view.linear else None
    chosen = fit_round(view, point, integer)
    return _complete(view, integer, chosen, lp_bound, time_limit_s - (time.perf_counter() - t0), t0, "relax and round",
                     fallback=point)


def milp_phase(view: LinearView, integer: set[int], time_limit_s: float, relative_gap: float = 0.002,
               log: Callable[[str], None] | None = None, hint: list[int] | None = None,
               whole: bool = False, progress: Callable[[float | None, float | None], None] | None = None) -> Phase:
    """Phase 1 (b): HiGHS on the MILP with only ``integer`` integer; its dual bound holds for the model.

    ``hint`` (a plan, e.g. relax and round's) gives HiGHS an incumbent to improve from. ``whole``
    keeps every variable integer instead: the plain MILP of the model, whose plans need no
    rounding (HiGHS's heuristics find good ones there sooner) and whose bound is weaker.
    ``progress(plan, bound)`` hears HiGHS's incumbents (whole MILP only: the other's are not
    plans of the model) and bounds as its log reports them (objective units)."""
    t0 = time.perf_counter()

    def lines(text: str) -> None:
        if log is not None:
            log(text)
        m = _NODE_LINE.match(text)
        if progress is not None and m:
            bound, plan = _finite(_number(m.group(1))), _finite(_number(m.group(2)))
            progress(plan if whole else None, bound)

    res, point = _solve(view.mip(None if whole else integer), time_limit_s, relative_gap,
                        lines if (log or progress) else None, hint)
    bound = _finite(res.dual_bound) if view.linear else None
    name = ("whole MILP " if whole else "MILP ") + res.reason
    if point is None:
        return Phase(None, None, bound, time.perf_counter() - t0, f"{name}, no plan")
    chosen = {i: int(round(point[i])) for i in integer}
    values = round_and_fill(view, point, integer, chosen)
    objective = view.objective(values)
    if objective is None:
        return Phase(None, None, bound, time.perf_counter() - t0, f"{name}, rounded plan infeasible")
    return Phase(values, objective, bound, time.perf_counter() - t0, name, _point_objective(view, point))


def _complete(view: LinearView, integer: set[int], chosen: dict[int, int], bound: float | None,
              time_limit_s: float, t0: float, what: str, fallback: list[float] | None = None) -> Phase:
    """With ``integer`` fixed at ``chosen``: the LP of the rest, rounded down and filled.

    If that LP finds no point in time, ``fallback`` (the relaxation's point) is rounded down and
    filled instead: the fill keeps every row, so it is still a plan, only a less tight one."""
    res, point = _solve(view.mip(set(), chosen), time_limit_s, 1e-9)
    if point is None and fallback is not None:
        point, what = fallback, f"{what} (the relaxation's point: LP of the rest {res.reason})"
    if point is None:
        return Phase(None, None, bound, time.perf_counter() - t0, f"{what}: LP {res.reason}")
    values = round_and_fill(view, point, integer, chosen)
    objective = view.objective(values)
    if objective is None:
        return Phase(None, None, bound, time.perf_counter() - t0, f"{what}: rounded plan infeasible")
    return Phase(values, objective, bound, time.perf_counter() - t0, what, _point_objective(view, point))


def _point_objective(view: LinearView, point: list[float]) -> float:
    return float(sum(c * point[v] for v, c in view.cost.items()) + view.offset)


def fit_round(view: LinearView, point: list[float], integer: set[int]) -> dict[int, int]:
    """Round ``integer`` down, then up again, the largest fraction first, where every row still fits
    with every other variable at zero (so the rest of the model can always shrink to make room)."""
    chosen = {i: int(math.floor(point[i] + 1e-6)) for i in integer}
    act = [0.0] * len(view.rows)
    for i, x in chosen.items():
        for r, c in view.cols[i]:
            act[r] += c * x
    order = sorted(((point[i] - chosen[i], i) for i in integer), reverse=True)
    for f, i in order:
        if f <= 1e-6:
            break
        if chosen[i] + 1 > view.ub[i]:
            continue
        if all((c <= 0 or act[r] + c <= view.hi[r]) and (c >= 0 or act[r] + c >= view.lo[r])
               for r, c in view.cols[i]):
            chosen[i] += 1
            for r, c in view.cols[i]:
                act[r] += c
    return chosen


def round_and_fill(view: LinearView, point: list[float], integer: set[int], chosen: dict[int, int]) -> list[int]:
    """``integer`` at ``chosen``, every other variable rounded down, then raised greedily.

    The raise goes first to the variables the relaxation had closest to their next whole
    unit, then, most profitable first, to every variable whose objective coefficient is
    negative (a placed job or a served token saves its penalty), each as far as every row
    allows, so what rounding left unplaced goes wherever chips, power and replicas remain.
    Each step keeps every row within its bounds. Every row the core writes is ``≤`` with
    non-negative coefficients on the relaxed job and flow variables, so rounding those down
    keeps a plan; a preemptible job's rows are not, so its variables are set to zero (the
    job left out, which meets them) and CP-SAT places it later."""
    values = [chosen[i] if i in chosen else int(math.floor(x + 1e-6)) for i, x in enumerate(point)]
    # relaxed variables tied by a homogeneous equality (a preemptible job's run steps and its
    # on/off, Σ run = steps·on) cannot be rounded one by one: that job is left out, all zero
    for r, terms in enumerate(view.rows):
        if view.lo[r] == view.hi[r] == 0 and any(v not in integer for v in terms):
            for v in terms:
                if v not in integer and view.lb[v] <= 0:
                    values[v] = 0
    act = [float(sum(c * values[v] for v, c in terms.items())) for terms in view.rows]

    def raise_by(v: int, most: int) -> None:
        room = min(most, view.ub[v] - values[v])
        for r, c in view.cols[v]:
            if room <= 0:
                return
            if c > 0:
                room = min(room, int((view.hi[r] - act[r]) // c))
            elif c < 0:
                room = min(room, int((act[r] - view.lo[r]) // (-c)))
        if room > 0:
            values[v] += room
            for r, c in view.cols[v]:
                act[r] += c * room

    free = [v for v in range(view.n) if v not in integer and view.cost.get(v, 0) < 0]
    for f, v in sorted(((point[v] - values[v], v) for v in free), reverse=True):
        if f > 1e-6:
            raise_by(v, 1)
    for _c, v in sorted((view.cost[v], v) for v in free):
        raise_by(v, view.ub[v])
    return values


def add_solution_hint(model: cp_model.CpModel, values: list[int]) -> None:
    """Replace the model's hint with a complete plan (one value per variable)."""
    model.clear_hints()
    hint = model.Proto().solution_hint
    hint.vars.extend(range(len(values)))
    hint.values.extend(values)


def hint_objective(view: LinearView, model: cp_model.CpModel) -> float:
    """The objective (units) of the model's hint if it is a complete plan, else +inf."""
    proto = model.Proto()
    hint = dict(zip(proto.solution_hint.vars, proto.solution_hint.values))
    if len(hint) < view.n:
        return math.inf
    objective = view.objective([hint[i] for i in range(view.n)])
    return math.inf if objective is None else objective
