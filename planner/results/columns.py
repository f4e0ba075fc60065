"""The plan schema's tables: one list of columns per table, used by every writer and checker."""

PLAN_FORMAT_VERSION = 1

# ---- every plan -----------------------------------------------------------------------------------
#: ``hours`` are the hours billed inside the horizon; ``run_share`` is that part of the job's whole run
#: (below 1 only for a job longer than the horizon, which the plan does not finish; 1 for serving)
PLACEMENT_COLUMNS = ["workload", "kind", "site", "accelerator", "chips", "replicas", "hours",
                     "energy_mwh", "power_cost_cny", "run_share"]
ROUTING_COLUMNS = ["service", "city", "site", "accelerator", "tokens_per_s", "rtt_ms"]
UNPLACED_COLUMNS = ["workload", "kind", "city", "tokens_per_s", "reason"]
SITE_COLUMNS = ["site", "role", "lat", "lon", "pue", "price_cny_per_kwh", "subsidy_fraction",
                "carbon_kg_per_kwh", "power_cap_mw", "power_used_mw"]
INVENTORY_COLUMNS = ["site", "accelerator", "chips", "chips_used", "domestic", "chip_power_kw"]
CITY_COLUMNS = ["city", "lat", "lon"]
#: when each placement (job segment, block of replicas) runs, in hours from the horizon start
TIMELINE_COLUMNS = ["workload", "kind", "site", "accelerator", "chips", "start_h", "end_h"]

# ---- time-of-use plans ----------------------------------------------------------------------------
HOURLY_COLUMNS = ["hour", "site", "accelerator", "band", "price_cny_per_kwh", "training_chips",
                  "inference_chips", "idle_chips", "meter_kw", "energy_kwh", "power_cost_cny"]
SCHEDULE_COLUMNS = ["workload", "site", "accelerator", "chips", "segment", "start_h", "end_h",
                    "energy_mwh", "power_cost_cny"]
REPLICA_COLUMNS = ["start_h", "end_h", "service", "site", "accelerator", "replicas"]
SERVING_COLUMNS = ["start_h", "end_h", "service", "city", "site", "accelerator", "tokens_per_s", "rtt_ms"]
TRANSFER_COLUMNS = ["workload", "origin", "site", "dataset_gb", "bandwidth_gbps", "share", "transfer_h",
                    "cost_cny", "path"]
