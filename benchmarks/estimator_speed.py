"""Microseconds per estimator evaluation (run: python benchmarks/estimator_speed.py)."""

from __future__ import annotations

import timeit

from workloads.estimator import HardwareSpec, estimate_inference, estimate_training
from workloads.models import load_models

HW = HardwareSpec(id="h20", peak_tflops={"bf16": 148.0, "fp8": 296.0}, memory_gib=96.0,
                  memory_bandwidth_tb_per_s=4.0, chip_power_kw=0.5, tdp_w=400.0, scale_up_domain_chips=8,
                  training_mfu=0.4, inference_efficiency=0.5)


def main() -> None:
    models = load_models()
    for model_id in ("qwen3-32b", "deepseek-v3", "kimi-k2"):
        model = models[model_id]
        n = 2000
        inf = timeit.timeit(lambda: estimate_inference(model, HW, "fp8"), number=n) / n * 1e6
        tr = timeit.timeit(lambda: estimate_training(model, HW.replace(memory_gib=4096.0), 1e12, 1024),
                           number=n) / n * 1e6
        print(f"{model_id:16s} inference {inf:7.1f} µs   training {tr:6.1f} µs")


if __name__ == "__main__":
    main()
