"""Build step: the CP-SAT model of a ``Problem``.

Formulation (spatial, all work concurrent over the horizon H)::

  sets     C job classes (identical jobs counted together), P pools (site s, accelerator a),
           S services, K demand cities, Ks(s) sites within the SLO of city k
  vars     place[c,p]     ∈ 0..count_c     jobs of class c placed on pool p
           replicas[v,p]  ∈ 0..⌊inv_p / cpr_v,a⌋
           flow[v,k,s]    ∈ 0..demand_v,k   tokens/s of v from city k served at site s ∈ Ks
  min      Σ cost_c,p·place + Σ cost_v,p·replicas                      (power, CNY)
         + Σ lat_k,s·flow                                             (latency, CNY)
         + Σ pen_c·(count_c − Σ_p place) + Σ pen_v·(demand − Σ flow)   (unplaced work, CNY)
  s.t.     Σ_p place[c,p] ≤ count_c                                      (job_assignment)
           Σ_c chips_c·place[c,p] + Σ_v cpr_v·replicas[v,p] ≤ inv_p      (chip_capacity)
           Σ_(p at s) chips·kW_meter ≤ cap_s                            (site_power_cap)
           Σ_s flow[v,k,s] ≤ demand_v,k                                (demand_routing)
           Σ_k flow[v,k,s] ≤ Σ_a tps_v,a·cpr_v,a·replicas[v,s,a]        (serving_capacity)
           flow only to sites with RTT(k,s) ≤ SLO_v                    (latency_slo, by construction)

Integer scaling is done by ``planner.scaling`` only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from planner.core import scaling
from planner.core.greedy import Plan
from planner.problem.build import JobData, Pool, Problem


@dataclass
class JobClass:
    key: tuple
    job_ids: list[str]
    template: JobData


@dataclass
class BuiltModel:
    """The CP-SAT model with its named variables; inspect it or export it before solving."""

    problem: Problem
    model: cp_model.CpModel
    classes: list[JobClass]
    place: dict[tuple[int, Pool], cp_model.IntVar] = field(default_factory=dict)
    replicas: dict[tuple[str, str, str], cp_model.IntVar] = field(default_factory=dict)
    flow: dict[tuple[str, str, str], cp_model.IntVar] = field(default_factory=dict)
    objective_terms: dict[str, cp_model.LinearExpr] = field(default_factory=dict)
    upper: dict[int, int] = field(default_factory=dict)  # variable index → upper bound
    scale: scaling.CostScale = scaling.CostScale(1000.0)
    #: name prefix, e.g. the period in multi-period capacity planning
    prefix: str = ""
    #: chips on hand per pool; defaults to the problem's inventory
    base_inventory: dict[Pool, int] | None = None
    #: chips that purchases add per pool: (chips per unit, units variable)
    added_chips: dict[Pool, list[tuple[int, cp_model.IntVar]]] = field(default_factory=dict)
    #: tokens/s per unit of a flow variable (``scaling.flow_quantum``)
    flow_quantum: int = 1

    def int_var(self, ub: int, name: str) -> cp_model.IntVar:
        var = self.model.new_int_var(0, ub, f"{self.prefix}{name}")
        self.upper[var.index] = ub
        return var

    def stats(self) -> dict[str, int]:
        proto = self.model.Proto()
        return {"variables": len(proto.variables), "constraints": len(proto.constraints),
                "job_classes": len(self.classes), "jobs": sum(len(c.job_ids) for c in self.classes)}


def job_classes(problem: Problem) -> list[JobClass]:
    """Group interchangeable jobs so the model counts them with one integer per pool."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for job in problem.jobs.values():
        if job.pools:
            groups[job.class_key()].append(job.id)
    return [JobClass(k, sorted(ids), problem.jobs[min(ids)]) for k, ids in sorted(groups.items(), key=lambda x: min(x[1]))]


def build_model(problem: Problem, *, model: cp_model.CpModel | None = None, prefix: str = "",
                base_inventory: dict[Pool, int] | None = None,
                added_chips: dict[Pool, list[tuple[int, cp_model.IntVar]]] | None = None,
                objective: bool = True) -> BuiltModel:
    """Variables → constraints → objective, each family in its own function.

    Capacity planning builds one of these per period into a shared ``model``, with
    the chips on hand in ``base_inventory`` and purchases in ``added_chips``, and
    sets the objective itself (``objective=False``).
    """
    built = BuiltModel(problem, model or cp_model.CpModel(), job_classes(problem), prefix=prefix,
                       base_inventory=base_inventory, added_chips=dict(added_chips or {}),
                       flow_quantum=scaling.flow_quantum([s.replica_tokens_per_s(a) for s in problem.services.values()
                                                          for a in s.chips_per_replica]))
    add_placement_variables(built)
    add_job_assignment(built)
    add_latency_slo(built)
    add_chip_capacity(built)
    add_site_power_cap(built)
    add_demand_routing(built)
    add_serving_capacity(built)
    add_replica_rounding_cuts(built)
    if objective:
        set_objective(built)
    return built


def add_placement_variables(b: BuiltModel) -> None:
    """place[c,p] and replicas[v,p], bounded by what the pool could ever hold."""
    p = b.problem
    for ci, cls in enumerate(b.classes):
        chips = cls.template.chips
        for pool in cls.template.pools:
            ub = min(len(cls.job_ids), p.inventory[pool] // chips,
                     scaling.cap_w_down(p.sites[pool[0]].power_cap_kw)
                     // max(1, chips * scaling.power_w_up(p.meter_kw_per_chip(*pool))))
            if ub > 0:
                b.place[(ci, pool)] = b.int_var(ub, f"place[{cls.job_ids[0]}..,{pool[0]},{pool[1]}]")
    for svc in p.services.values():
        for site, accel in svc.pools:
            ub = p.inventory[(site, accel)] // svc.chips_per_replica[accel]
            if ub > 0:
                b.replicas[(svc.id, site, accel)] = b.int_var(ub, f"replicas[{svc.id},{site},{accel}]")


def add_job_assignment(b: BuiltModel) -> None:
    """Each job is placed whole on at most one pool: Σ_p place[c,p] ≤ count_c (the rest is unplaced)."""
    per_class: dict[int, list] = defaultdict(list)
    for (ci, _pool), var in b.place.items():
        per_class[ci].append(var)
    for ci, vars_ in per_class.items():
        b.model.add(sum(vars_) <= len(b.classes[ci].job_ids)).with_name(f"{b.prefix}job_assignment[{ci}]")


def add_latency_slo(b: BuiltModel) -> None:
    """flow[v,k,s] exists only where RTT(k,s) ≤ SLO_v and s has a pool of v: the SLO holds by construction."""
    p = b.problem
    for svc in p.services.values():
        served_sites = {site for (v, site, _a) in b.replicas if v == svc.id}
        for city, demand in svc.demand_tokens_per_s.items():
            cap = scaling.flow_units(demand, b.flow_quantum)
            for site in svc.city_sites[city]:
                if site in served_sites and cap > 0:
                    b.flow[(svc.id, city, site)] = b.int_var(cap, f"flow[{svc.id},{city},{site}]")


def add_chip_capacity(b: BuiltModel) -> None:
    """Σ_c chips_c·place[c,p] + Σ_v cpr_v,a·replicas[v,p] ≤ inventory_p (+ Σ chips·units bought) for each pool p=(s,a)."""
    p = b.problem
    on_hand = p.inventory if b.base_inventory is None else b.base_inventory
    use: dict[Pool, list] = defaultdict(list)
    for (ci, pool), var in b.place.items():
        use[pool].append(b.classes[ci].template.chips * var)
    for (sid, site, accel), var in b.replicas.items():
        use[(site, accel)].append(p.services[sid].chips_per_replica[accel] * var)
    for pool, terms in use.items():
        bought = [chips * var for chips, var in b.added_chips.get(pool, [])]
        b.model.add(sum(terms) <= on_hand.get(pool, 0) + sum(bought)).with_name(
            f"{b.prefix}chip_capacity[{pool[0]},{pool[1]}]")


def add_site_power_cap(b: BuiltModel) -> None:
    """Σ over pools at s of chips × chip_kW × PUE ≤ cap_s (watts, chip power rounded up)."""
    p = b.problem
    use: dict[str, list] = defaultdict(list)
    for (ci, pool), var in b.place.items():
        use[pool[0]].append(b.classes[ci].template.chips * scaling.power_w_up(p.meter_kw_per_chip(*pool)) * var)
    for (sid, site, accel), var in b.replicas.items():
        w = p.services[sid].chips_per_replica[accel] * scaling.power_w_up(p.meter_kw_per_chip(site, accel))
        use[site].append(w * var)
    for site, terms in use.items():
        b.model.add(sum(terms) <= scaling.cap_w_down(p.sites[site].power_cap_kw)).with_name(f"{b.prefix}site_power_cap[{site}]")


def add_demand_routing(b: BuiltModel) -> None:
    """Σ_s flow[v,k,s] ≤ demand_v,k: never serve more than a city asks for (the rest is unserved)."""
    p = b.problem
    per: dict[tuple[str, str], list] = defaultdict(list)
    for (sid, city, _site), var in b.flow.items():
        per[(sid, city)].append(var)
    for (sid, city), vars_ in per.items():
        demand = scaling.flow_units(p.services[sid].demand_tokens_per_s[city], b.flow_quantum)
        b.model.add(sum(vars_) <= demand).with_name(f"{b.prefix}demand_routing[{sid},{city}]")


def add_serving_capacity(b: BuiltModel) -> None:
    """Σ_k flow[v,k,s] ≤ Σ_a ⌊tps_v,a · cpr_v,a⌋ · replicas[v,s,a]: served tokens have replicas behind them."""
    p = b.problem
    inflow: dict[tuple[str, str], list] = defaultdict(list)
    for (sid, _city, site), var in b.flow.items():
        inflow[(sid, site)].append(var)
    capacity: dict[tuple[str, str], list] = defaultdict(list)
    for (sid, site, accel), var in b.replicas.items():
        capacity[(sid, site)].append(scaling.flow_units(p.services[sid].replica_tokens_per_s(accel), b.flow_quantum) * var)
    for key, flows in inflow.items():
        b.model.add(sum(flows) <= sum(capacity[key])).with_name(f"{b.prefix}serving_capacity[{key[0]},{key[1]}]")


def add_replica_rounding_cuts(b: BuiltModel) -> None:
    """Valid inequalities that make the LP relaxation see whole replicas (they cut no integer plan).

    With D the demand that can reach site s and R = Σ_a replicas[v,s,a] (integer):
      flow[v,k,s] ≤ D_v,k · R   and   Σ_k flow[v,k,s] ≤ D_v,s · R
    (any flow needs R ≥ 1, and flow never exceeds its demand). With one accelerator at s, replica
    capacity c and D_v,s = q·c + ρ (0 < ρ < c, q ≥ 1), the mixed-integer rounding cut
      Σ_k flow[v,k,s] ≤ ρ·R + q·(c − ρ)
    is the convex hull of {flow ≤ min(c·R, D)}. Without these the relaxation serves half a
    replica's demand with half a replica, and the proven bound trails the plan by the rounding.
    """
    p = b.problem
    by_site: dict[tuple[str, str], list[tuple[str, cp_model.IntVar]]] = defaultdict(list)
    for (sid, city, site), var in b.flow.items():
        by_site[(sid, site)].append((city, var))
    reps: dict[tuple[str, str], list[tuple[str, cp_model.IntVar]]] = defaultdict(list)
    for (sid, site, accel), var in b.replicas.items():
        reps[(sid, site)].append((accel, var))
    for (sid, site), flows in by_site.items():
        svc = p.services[sid]
        replicas = reps.get((sid, site), [])
        if not replicas:
            continue
        total_r = sum(v for _a, v in replicas)
        reach = 0
        for city, var in flows:
            d = scaling.flow_units(svc.demand_tokens_per_s[city], b.flow_quantum)
            reach += d
            b.model.add(var <= d * total_r).with_name(f"{b.prefix}replica_cut[{sid},{city},{site}]")
        inflow = sum(v for _c, v in flows)
        b.model.add(inflow <= reach * total_r).with_name(f"{b.prefix}replica_cut[{sid},{site}]")
        if len(replicas) == 1:
            accel, r = replicas[0]
            cap = scaling.flow_units(svc.replica_tokens_per_s(accel), b.flow_quantum)
            q, rho = divmod(reach, cap) if cap > 0 else (0, 0)
            if q >= 1 and rho > 0:
                b.model.add(inflow <= rho * r + q * (cap - rho)).with_name(f"{b.prefix}replica_mir[{sid},{site}]")


Terms = dict[str, list[tuple[float, cp_model.IntVar]]]


def objective_parts(b: BuiltModel) -> tuple[Terms, dict[str, float]]:
    """The objective in CNY, unscaled: linear terms (coefficient, variable) and constants, by name.

    power_cost = Σ cost·place + Σ cost·replicas; latency = Σ lat·flow;
    unplaced_penalty = Σ pen (everything unplaced) − Σ pen·place − Σ pen·flow.
    """
    p = b.problem
    q = b.flow_quantum
    terms: Terms = {
        "power_cost": [(p.job_cost_cny(b.classes[ci].template.id, pool), var) for (ci, pool), var in b.place.items()]
        + [(p.replica_cost_cny(sid, (site, accel)), var) for (sid, site, accel), var in b.replicas.items()],
        "latency": [(q * p.latency_cny_per_token_per_s(sid, city, site), var) for (sid, city, site), var in b.flow.items()],
        "unplaced_penalty": [(-b.classes[ci].template.penalty_cny, var) for (ci, _pool), var in b.place.items()]
        + [(-q * p.unserved_cny_per_token_per_s(sid), var) for (sid, _c, _s), var in b.flow.items()],
    }
    constants = {"unplaced_penalty": sum(job.penalty_cny for job in p.jobs.values())
                 + sum(p.unserved_cny_per_token_per_s(s.id) * scaling.demand_tokens(d)
                       for s in p.services.values() for d in s.demand_tokens_per_s.values())}
    return terms, constants


def minimize(model: cp_model.CpModel, terms: Terms, constants: dict[str, float], upper: dict[int, int]
             ) -> tuple[scaling.CostScale, dict[str, cp_model.LinearExpr]]:
    """Scale the CNY objective once (``CostScale``) and minimise its sum."""
    coefficients = [abs(c) for ts in terms.values() for c, _ in ts if abs(c) > 1e-9]
    worst = sum(abs(c) * upper[v.index] for ts in terms.values() for c, v in ts) + sum(map(abs, constants.values()))
    scale = scaling.CostScale.for_range(min(coefficients, default=0.0), worst)
    exprs = {name: cp_model.LinearExpr.weighted_sum([v for _, v in ts], [scale.units(c) for c, _ in ts])
             + scale.units(constants.get(name, 0.0)) for name, ts in terms.items()}
    model.minimize(sum(exprs.values()))
    return scale, exprs


def set_objective(b: BuiltModel) -> None:
    """min power cost + latency cost + unplaced penalties, all in CNY, scaled once by ``CostScale``."""
    terms, constants = objective_parts(b)
    b.scale, b.objective_terms = minimize(b.model, terms, constants, b.upper)


def add_hints(b: BuiltModel, plan: Plan) -> None:
    """Warm start from a greedy plan (every variable gets a hint, so CP-SAT can complete it at once)."""
    placed: dict[tuple[int, Pool], int] = defaultdict(int)
    class_of = {jid: ci for ci, cls in enumerate(b.classes) for jid in cls.job_ids}
    for jid, pool in plan.job_pool.items():
        if jid in class_of:
            placed[(class_of[jid], pool)] += 1
    for key, var in b.place.items():
        b.model.add_hint(var, min(placed.get(key, 0), b.upper[var.index]))
    for key, var in b.replicas.items():
        b.model.add_hint(var, min(plan.replicas.get(key, 0), b.upper[var.index]))
    for key, var in b.flow.items():
        b.model.add_hint(var, min(plan.flow.get(key, 0) // b.flow_quantum, b.upper[var.index]))
