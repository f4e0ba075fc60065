"""The roofline estimator: hand-computed cases, invariants and memory-fit edges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from workloads.calibration import compare_accelerators
from workloads.estimator import (HardwareSpec, cny_per_mtokens, estimate_inference, estimate_training,
                                 min_chips_per_replica)
from workloads.models import load_models

MODELS = load_models()

# H20 spec-sheet figures (148 TFLOPS BF16, 296 FP8, 96 GiB, 4.0 TB/s) with compute efficiency 1.0 so
# the hand arithmetic below is the bare roofline; memory bandwidth runs at the default 0.8 of peak
# (estimator_defaults.yaml), i.e. 3.2 TB/s.
H20 = HardwareSpec(id="h20", peak_tflops={"bf16": 148.0, "fp16": 148.0, "fp8": 296.0, "int8": 296.0},
                   memory_gib=96.0, memory_bandwidth_tb_per_s=4.0, chip_power_kw=0.5, tdp_w=400.0,
                   scale_up_domain_chips=8, training_mfu=0.4, inference_efficiency=1.0, software_stack="cuda")
H800 = HardwareSpec(id="h800", peak_tflops={"bf16": 989.0, "fp8": 1979.0}, memory_gib=80.0,
                    memory_bandwidth_tb_per_s=3.35, chip_power_kw=1.2, tdp_w=700.0, scale_up_domain_chips=8,
                    training_mfu=0.4, inference_efficiency=0.5, software_stack="cuda")


def test_dense_model_on_one_h20_is_capacity_bound():
    """Qwen3-32B, bf16, one H20, 1024 in / 1024 out, TPOT 50 ms.

    weights W = 32.8e9 x 2 B = 65.6e9 B; KV = 2 x 64 layers x 8 heads x 128 x 2 B = 262,144 B/token
    usable memory = 96 GiB x 0.9 = 92,771,293,593.6 B
    batch cap = floor((92.771e9 - 65.6e9) / (2048 tokens x 262,144 B)) = floor(50.61) = 50
    step(50): memory = (65.6e9 + 50 x 1536 x 262,144) / (0.8 x 4e12) = 26.79 ms
              compute = 50 x (2 x 32.8e9 + 2 x 64 x 64 x 1536 x 256) / 148e12 = 50 x 0.46500 ms = 23.25 ms
    step = 26.79 ms <= 50 ms, so the batch is the memory cap: 50 / 0.026791 s = 1,866.3 tokens/s.
    prefill: 1 / (0.44324 ms + 2 x 64 x 64 x 512 x 256 / 148e12) = 1 / 0.45050 ms = 2,219.8 tokens/s.
    """
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", tpot_ms=50, input_tokens=1024,
                             output_tokens=1024, chips_per_replica=1)
    assert est.batch_size == 50
    assert est.decode_bound == "memory-capacity"
    assert est.decode_tokens_per_s_per_chip == pytest.approx(1866.3, rel=1e-3)
    assert est.prefill_tokens_per_s_per_chip == pytest.approx(2219.8, rel=1e-3)
    assert est.weights_gib_per_chip == pytest.approx(65.6e9 / 2**30)
    # a chip doing both phases for 1024 in + 1024 out: 2048 / (1024/2219.8 + 1024/1866.3)
    assert est.tokens_per_s_per_chip == pytest.approx(2027.7, rel=1e-3)
    assert est.tokens_per_kwh == pytest.approx(est.tokens_per_s_per_chip * 3600 / 0.5)


def test_known_bandwidth_bound_decode():
    """Same setup at TPOT 25 ms: memory time 20.5 ms + B x 0.125829 ms <= 25 ms gives B = 35.

    step(35) = (65.6e9 + 35 x 1536 x 262,144) / 3.2e12 = 24.904 ms > compute 35 x 0.465 = 16.28 ms,
    so decode is bandwidth-bound at 35 / 0.024904 s = 1,405.4 tokens/s.
    """
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", tpot_ms=25, input_tokens=1024,
                             output_tokens=1024, chips_per_replica=1)
    assert est.batch_size == 35
    assert est.decode_bound == "bandwidth"
    assert est.decode_tokens_per_s_per_chip == pytest.approx(1405.4, rel=1e-3)


def test_tpot_below_one_sequence_step_is_flagged():
    """Reading 65.6 GB at 3.2 TB/s (0.8 x 4 TB/s) takes 20.5 ms, so a 10 ms TPOT cannot be met on one chip."""
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", tpot_ms=10, chips_per_replica=1)
    assert not est.meets_tpot and est.batch_size == 1 and est.decode_bound == "tpot-unmet"


def test_training_hand_computed():
    """Llama-3.1-70B, 1e12 tokens, 1024 chips at 148 TFLOPS and MFU 0.4, seq 4096.

    per token = 6 x 70.6e9 + 6 x 80 x 64 x 4096 x (128 + 128) = 423.6e9 + 32.212e9 = 455.81e9 FLOPs
    hours = 4.5581e23 / (1024 x 148e12 x 0.4) / 3600 = 2,088.6 h; chip-hours x 0.5 kW = energy
    """
    est = estimate_training(MODELS["llama-3.1-70b"], H20, tokens=1e12, chips=1024)
    assert est.flops == pytest.approx(4.55812e23, rel=1e-4)
    assert est.hours == pytest.approx(2088.6, rel=1e-3)
    assert est.chip_hours == pytest.approx(2088.6 * 1024, rel=1e-3)
    assert est.energy_kwh == pytest.approx(est.chip_hours * 0.5)
    assert estimate_training(MODELS["llama-3.1-70b"], H20, flops=est.flops, chips=1024).hours == \
        pytest.approx(est.hours)


def test_training_needs_room_for_optimizer_state():
    """70.6e9 params x 16 B = 1.13e12 B over 92.77e9 B usable per chip needs 13 chips."""
    with pytest.raises(InputError, match="at least 13"):
        estimate_training(MODELS["llama-3.1-70b"], H20, tokens=1e9, chips=12)


def test_cost_per_million_tokens():
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", chips_per_replica=1)
    cost = cny_per_mtokens(est, price_cny_per_kwh=0.4, pue=1.2)
    assert cost == pytest.approx(1e6 / est.tokens_per_kwh * 1.2 * 0.4)


# -- memory fit ----------------------------------------------------------------------------


def test_min_chips_is_a_power_of_two():
    """Llama-3.1-70B bf16 = 141.2e9 B of weights > 92.77e9 B usable on one H20, fits on two."""
    assert min_chips_per_replica(MODELS["llama-3.1-70b"], H20, "bf16", 4096) == 2
    assert min_chips_per_replica(MODELS["llama-3.1-70b"], H20, "fp8", 4096) == 1


def test_batch_of_exactly_one_fits_and_one_byte_less_does_not():
    model = MODELS["qwen3-32b"]
    need_gib = (model.total_params * 2 + 2048 * model.kv_bytes_per_token()) / 0.9 / 2**30
    exact = H20.replace(memory_gib=need_gib * (1 + 1e-12))
    assert estimate_inference(model, exact, "bf16", input_tokens=1024, output_tokens=1024,
                              chips_per_replica=1).batch_size == 1
    short = H20.replace(memory_gib=need_gib * (1 - 1e-9))
    with pytest.raises(InputError, match="does not fit on 1 h20"):
        estimate_inference(model, short, "bf16", input_tokens=1024, output_tokens=1024, chips_per_replica=1)


def test_moe_model_spans_scale_up_domains():
    """DeepSeek-V3 bf16 is 1,342 GB: 32 H800s (4 NVLink domains) with expert parallelism."""
    est = estimate_inference(MODELS["deepseek-v3"], H800, "bf16")
    assert est.chips_per_replica == 32 and est.scale_up_domains_per_replica == 4


def test_dense_model_must_fit_in_one_domain():
    small_domain = H20.replace(scale_up_domain_chips=1)
    with pytest.raises(InputError, match="one scale-up domain of 1 chips"):
        estimate_inference(MODELS["llama-3.1-70b"], small_domain, "bf16")


def test_context_beyond_model_limit_is_rejected():
    with pytest.raises(InputError, match="maximum context"):
        estimate_inference(MODELS["qwen3-32b"], H20, input_tokens=200_000, output_tokens=1)


def test_unsupported_precision_names_alternatives():
    no_fp8 = H20.replace(peak_tflops={"bf16": 148.0})
    with pytest.raises(InputError, match="no fp8 peak") as exc:
        estimate_inference(MODELS["qwen3-32b"], no_fp8, "fp8")
    assert "bf16" in str(exc.value)


def test_model_that_fits_nowhere_gives_a_clear_message():
    giant = load_models(extra={"giant-dense": {
        "name": "Giant", "source": "test", "retrieved": "2026-11-23",
        "total_params_b": {"value": 20000, "source": "test", "retrieved": "2026-11-23", "confidence": "estimate",
                           "method": "test fixture"},
        "active_params_b": {"value": 20000, "source": "test", "retrieved": "2026-11-23",
                            "confidence": "estimate", "method": "test fixture"},
        "layers": 200, "hidden_size": 32768, "attention": "gqa", "attention_heads": 256, "kv_heads": 16,
        "head_dim": 128, "max_context_tokens": 8192}})["giant-dense"]
    with pytest.raises(InputError, match="fits on no accelerator") as exc:
        compare_accelerators(giant, {"h20": H20, "h800": H800}, precision="bf16")
    assert "h20" in str(exc.value) and "h800" in str(exc.value) and "fix:" in str(exc.value)


# -- invariants ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(bw=st.floats(0.5, 8.0), extra=st.floats(1.0, 4.0), tpot=st.floats(5, 200),
       model_id=st.sampled_from(["qwen3-32b", "deepseek-v3", "minimax-m2"]), chips=st.sampled_from([16, 64]))
def test_more_bandwidth_never_lowers_decode_throughput(bw, extra, tpot, model_id, chips):
    """At a fixed replica size (the default replica may shrink when bandwidth lets it meet the TPOT)."""
    model = MODELS[model_id]
    slow = estimate_inference(model, H800.replace(memory_bandwidth_tb_per_s=bw), "fp8", tpot_ms=tpot,
                              chips_per_replica=chips)
    fast = estimate_inference(model, H800.replace(memory_bandwidth_tb_per_s=bw * extra), "fp8", tpot_ms=tpot,
                              chips_per_replica=chips)
    assert fast.decode_tokens_per_s_per_chip >= slow.decode_tokens_per_s_per_chip * (1 - 1e-12)


@settings(max_examples=60, deadline=None)
@given(chips=st.integers(16, 4096), more=st.integers(0, 4096), tokens=st.floats(1e9, 2e13),
       model_id=st.sampled_from(sorted(MODELS)))
def test_more_chips_never_lengthen_training(chips, more, tokens, model_id):
    model = MODELS[model_id]
    hw = H800.replace(memory_gib=4096.0)
    base = estimate_training(model, hw, tokens, chips)
    bigger = estimate_training(model, hw, tokens, chips + more)
    assert bigger.hours <= base.hours
    assert bigger.chip_hours == pytest.approx(base.chip_hours)


@settings(max_examples=40, deadline=None)
@given(tpot=st.floats(5, 100), looser=st.floats(1.0, 5.0))
def test_looser_tpot_never_lowers_decode_throughput(tpot, looser):
    model = MODELS["deepseek-v3"]
    strict = estimate_inference(model, H800, "fp8", tpot_ms=tpot)
    loose = estimate_inference(model, H800, "fp8", tpot_ms=tpot * looser)
    assert loose.decode_tokens_per_s_per_chip >= strict.decode_tokens_per_s_per_chip * (1 - 1e-12)
