"""Which services run on estimated throughput, and on what basis.

A scenario may leave a service's ``tokens_per_s_per_chip`` out; the estimator then
fills it in (``workloads.resolve``) and the problem records the figure with its
basis. This module turns those records into the table that ``solve``, the plan
JSON (``meta.estimated_throughput``) and the HTML report show, so nobody reads an
estimated figure as a given one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

COLUMNS = ["service", "accelerator", "output_tokens_per_s_per_chip", "chips_per_replica", "basis"]


def estimated_throughput(figures: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per (service, accelerator) whose tokens/s per chip was not given in the scenario.

    ``output_tokens_per_s_per_chip`` is the figure the solver used: output tokens per
    second per chip, end to end (prefill chips included). ``basis`` is ``calibrated``
    (the calibrated step-time model) or names the measurement that replaced the model.
    """
    figures = list(figures)
    replicas = {(f["workload"], f["accelerator"]): f["value"] for f in figures if f["figure"] == "chips_per_replica"}
    return [{"service": f["workload"], "accelerator": f["accelerator"], "output_tokens_per_s_per_chip": f["value"],
             "chips_per_replica": replicas.get((f["workload"], f["accelerator"])), "basis": f["basis"]}
            for f in figures if f["figure"] == "tokens_per_s_per_chip" and f["basis"] != "given"]


def estimated_frame(meta: Mapping[str, Any]) -> pd.DataFrame:
    """The plan's estimated-throughput records as a table (read from older plans' ``figures`` too)."""
    records = meta.get("estimated_throughput")
    if records is None:
        records = estimated_throughput(meta.get("figures", ()))
    return pd.DataFrame.from_records(records, columns=COLUMNS)
