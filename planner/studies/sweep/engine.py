"""Run a sweep's runs on Ray: a local Ray started on demand, or an existing cluster.

Ray is imported here only, when a sweep starts, so other commands do not pay for it.

* ``connect(address)`` starts a local Ray (CPUs from the machine, no dashboard,
  quiet logs, no usage reporting; each worker process imports the planner before the
  first run is sent, so start-up is paid once, up front) or joins ``auto`` / ``HOST:PORT`` / ``ray://HOST:PORT``;
  an address that does not answer is bad input (``InputError``) after a short probe.
* ``run_all(specs, on_done=...)`` keeps every slot (CPUs ÷ ``cpus_per_run``) busy with one
  run queued behind it; a run still going ``kill_after_s`` after it started is killed (its
  worker process ends) and recorded as failed with that reason. Runs are never retried by Ray.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.studies.sweep.grid import RunSpec
from planner.studies.sweep.run import execute_run, new_record, warm_up

#: seconds to wait for a cluster address to answer before calling it unreachable
CONNECT_TIMEOUT_S = 3.0


@dataclass
class Cluster:
    """What the sweep runs on."""

    address: str  # "local" or what was given
    cpus: float
    started_here: bool

    def slots(self, cpus_per_run: float) -> int:
        return max(1, int(self.cpus // cpus_per_run))


def _quiet_env() -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network at run time
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


def _auth_env() -> None:
    """Send the cluster's token when one is at hand: Ray 2.59+ clusters started with `ray start` use
    token authentication, and a client without RAY_AUTH_MODE=token would wait out its timeout."""
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    if "RAY_AUTH_MODE" not in os.environ and (os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file()):
        os.environ["RAY_AUTH_MODE"] = "token"


def _probe(address: str) -> None:
    """Fail fast (one line) when HOST:PORT does not accept a connection."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InputError(f"cannot read address '{address}'", field="--address",
                         fix="use auto, HOST:PORT or ray://HOST:PORT (e.g. ray://10.0.0.5:10001)")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"no Ray cluster answers at {address} ({reason} within {CONNECT_TIMEOUT_S:g} s)",
                         field="--address", fix="start one with `ray start --head`, check the host and port, "
                         "or leave out --address to run on a local Ray") from None


def connect(address: str | None = None, num_cpus: int | None = None) -> Cluster:
    """Join a Ray cluster, or start a local one (``address=None``). Reuses an already running session."""
    _quiet_env()
    if address is not None:
        _auth_env()  # before Ray is imported: it reads the mode once
    import ray

    if address not in (None, "auto"):
        _probe(address)
    if ray.is_initialized():
        return Cluster("existing session", float(ray.cluster_resources().get("CPU", 1)), False)
    if address is None:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, configure_logging=True)
        cluster = Cluster("local", float(ray.cluster_resources().get("CPU", 1)), True)
        warm = ray.remote(num_cpus=1, max_retries=0)(warm_up)
        ray.get([warm.remote() for _ in range(cluster.slots(1.0))])  # each worker imports the planner once, now
        return cluster
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
    except Exception as exc:  # ConnectionError, RuntimeError, grpc errors … all one answer for the user
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"cannot join the Ray cluster at {address}: {text}", field="--address",
                         fix="start one with `ray start --head`, or leave out --address to run on a local Ray") \
            from None
    return Cluster(address, float(ray.cluster_resources().get("CPU", 1)), False)


def disconnect(cluster: Cluster) -> None:
    """Shut down what ``connect`` started or joined; a session that was already running stays."""
    import ray

    if cluster.address != "existing session":
        ray.shutdown()


def failed_run(spec: RunSpec, reason: str, wall_s: float | None = None) -> dict[str, Any]:
    """The record of a run that did not come back (killed, worker lost)."""
    out = new_record(spec.run_id)
    out.update(reason=reason, wall_s=wall_s)
    return out


def run_all(specs: Iterable[RunSpec], cluster: Cluster, *, cpus_per_run: float = 1.0,
            kill_after_s: float | None = None,
            on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every spec on the cluster; ``on_done`` sees each outcome as it arrives. Returns them all.

    One run per slot is queued behind the running ones, so a worker starts its next run as soon
    as it returns one. Runs are taken as started in submission order, the oldest ``slots`` of
    those in flight; a run's wall clock (for ``kill_after_s``) starts when it enters that window.
    """
    import ray

    remote = ray.remote(num_cpus=cpus_per_run, max_retries=0)(execute_run)
    queue = list(specs)
    slots = cluster.slots(cpus_per_run)
    in_flight: dict[Any, RunSpec] = {}  # submission order
    started: dict[Any, float] = {}
    outcomes: list[dict[str, Any]] = []

    def finish(ref: Any, outcome: dict[str, Any]) -> None:
        spec = in_flight.pop(ref)
        started.pop(ref, None)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(spec, outcome)

    while queue or in_flight:
        while queue and len(in_flight) < 2 * slots:
            spec = queue.pop(0)
            in_flight[remote.remote(spec)] = spec
        now = time.perf_counter()
        for ref in list(in_flight)[:slots]:
            started.setdefault(ref, now)
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.2)
        for ref in ready:
            try:
                outcome = ray.get(ref)
            except Exception as exc:  # the worker died or the task was cancelled
                outcome = failed_run(in_flight[ref], f"worker lost: {type(exc).__name__}: "
                                     + " ".join(str(exc).split())[:200], time.perf_counter() - started.get(ref, now))
            finish(ref, outcome)
        if kill_after_s is not None:
            now = time.perf_counter()
            for ref, t0 in list(started.items()):
                if now - t0 > kill_after_s:
                    ray.cancel(ref, force=True)
                    finish(ref, failed_run(in_flight[ref], f"killed after {now - t0:.1f} s: past the per-run wall "
                                           f"limit of {kill_after_s:g} s (--kill-after)", round(now - t0, 3)))
    return outcomes


def run_serial(specs: Iterable[RunSpec],
               on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """The same runs one after another in this process (the benchmark's baseline)."""
    outcomes = []
    for spec in specs:
        outcome = execute_run(spec)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(spec, outcome)
    return outcomes
