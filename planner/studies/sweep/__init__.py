"""What-if studies: many solves of one scenario on Ray, a DuckDB run store, sensitivity and marginal values.

    grid.py         --param grids, Latin-hypercube samples, tornado points, resolved scenarios and run ids
    run.py          one run: solve, verify, plain data back (what a Ray worker executes)
    engine.py       Ray: start or join a cluster, keep the slots busy, kill runs past their wall limit
    study.py        a sweep from start to end: plan the runs, skip what the store holds, a tidy table
    store.py        the DuckDB run store (runs, sweeps, placements, routing, purchases, unplaced)
    diff.py         what changed between two stored runs
    sensitivity.py  tornado tables, marginal values (paired re-solves), KPI spread
    tables.py       sweep tables as CSV, Parquet, JSON, or rebuilt from the store
    report.py       the sweep's HTML report

Ray is imported by ``engine`` alone, when a sweep runs.
"""
