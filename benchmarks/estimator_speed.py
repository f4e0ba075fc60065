"""Milliseconds per estimator evaluation (run: python benchmarks/estimator_speed.py).

Times the calibrated serving estimate as ``planner estimate`` and the solver call it
(``Calibration.estimate``: the step-time model with the replica size searched, plus
the override check), with the replica size left to the estimator and fixed, and the
training estimate, on catalog accelerators. The target is under 1 ms per estimate.
"""

from __future__ import annotations

import timeit

from workloads.calibration import calibrate, catalog_hardware
from workloads.estimator import estimate_training
from workloads.models import load_models

CASES = [("qwen3-32b", "h20", "bf16"), ("deepseek-v3", "h20", "fp8"), ("deepseek-v3", "ascend-910c", "int8"),
         ("deepseek-v3", "h800", "fp8"), ("kimi-k2", "ascend-950dt", "fp8"), ("qwen3-235b-a22b", "mlu590", "int8")]


def main() -> None:
    models, hardware, cal = load_models(), catalog_hardware(), calibrate()
    worst = 0.0
    print(f"{'model':16s} {'accelerator':13s} {'prec':5s} {'auto replica':>13s} {'fixed replica':>14s} "
          f"{'training':>9s}")
    for model_id, accel, precision in CASES:
        model, hw = models[model_id], hardware[accel]
        n = 300
        auto_ms = timeit.timeit(lambda: cal.estimate(model, hw, precision), number=n) / n * 1e3
        chips = cal.estimate(model, hw, precision).chips_per_replica
        fixed_ms = timeit.timeit(lambda: cal.estimate(model, hw, precision, chips_per_replica=chips),
                                 number=n) / n * 1e3
        big = hw.replace(memory_gib=4096.0)
        train_ms = timeit.timeit(lambda: estimate_training(model, big, 1e12, 1024), number=n) / n * 1e3
        worst = max(worst, auto_ms, fixed_ms)
        print(f"{model_id:16s} {accel:13s} {precision:5s} {auto_ms:10.3f} ms {fixed_ms:11.3f} ms {train_ms:6.3f} ms")
    print(f"slowest serving estimate: {worst:.3f} ms (target < 1 ms)")


if __name__ == "__main__":
    main()
