"""FloatMac's pipelines: ``mul_latency``/``out_latency`` and ``target_mhz`` planning (names,
latency, the plan, unreachable requests) and the CLI options. The pipelined RTL against the
golden model: ``rtl_tests/test_fmac.py::test_pipelined_fmac``."""

import pytest

from hwgen.cli import main
from hwgen.elaboratables import not_built
from hwgen.units.fmac import EXACT_READOUT_CUTS, FloatMac


def _unit(**kw):
    return not_built(FloatMac(**kw))


def test_fixed_latencies_and_names():
    base = _unit(mul_fmt="e4m3", acc_fmt="fp16")
    assert (base.latency, base.module_name) == (3, "fmac_e4m3_fp16_rounded_rne")
    u = _unit(mul_fmt="e4m3", acc_fmt="fp16", mul_latency=2)
    assert (u.latency, u.mul_latency, u.module_name) == (5, 2, "fmac_e4m3_fp16_rounded_rne_l2")
    x = _unit(mul_fmt="e4m3", out_fmt="fp16", accumulate="exact", mul_latency=1,
              out_latency=3)
    assert x.out_cuts == EXACT_READOUT_CUTS[3] and x.latency == 3 + 1 + 3
    assert x.module_name == "fmac_e4m3_exact_fp16_t1024_rne_l1_3"
    with pytest.raises(ValueError, match="Product-path latency of a exact MAC must be one of "
                                         "0, 1, not 2"):
        FloatMac("e4m3", accumulate="exact", mul_latency=2)
    with pytest.raises(ValueError, match="a fused MAC has none"):
        FloatMac("e4m3", accumulate="fused", out_latency=1)
    with pytest.raises(ValueError, match="Latency"):
        FloatMac("e4m3", mul_latency=7)


def test_planned_pipeline():
    u = _unit(mul_fmt="e4m3", out_fmt="fp16", accumulate="exact", target_mhz=60,
              device="ecp5-85f")
    plan = u.plan
    assert plan.target_mhz == 60 and plan.fmax_mhz >= 60
    assert plan.latency == u.latency == 3 + u.mul_latency + u.out_latency
    assert all(1000 / ns >= 60 for _, ns in plan.stages)
    assert "accumulation loop (Kulisch adder)" in plan.summary()
    # Fewer registers than planned would not fit: the planner takes the fewest.
    slower = _unit(mul_fmt="e4m3", out_fmt="fp16", accumulate="exact", target_mhz=30,
                   device="ecp5-85f")
    assert slower.latency < u.latency


def test_unreachable_requests_name_the_loop():
    with pytest.raises(ValueError, match=r"fmac_e4m3_fp16_rounded_rne cannot reach 40 MHz on "
                                         r"ecp5-85f: its accumulation loop \(rounded adder\) "
                                         r"is estimated at [\d.]+ MHz and is never pipelined"):
        FloatMac("e4m3", acc_fmt="fp16", target_mhz=40, device="ecp5-85f")
    with pytest.raises(ValueError, match="accumulation loop \\(FMA\\)"):
        FloatMac("e4m3", acc_fmt="fp16", accumulate="fused", target_mhz=40, device="ecp5-85f")
    with pytest.raises(ValueError, match="Give mul_latency/out_latency or target_mhz"):
        FloatMac("e4m3", mul_latency=1, target_mhz=20, device="up5k")
    with pytest.raises(ValueError, match="needs a device"):
        FloatMac("e4m3", target_mhz=20)


def test_cli(tmp_path, capsys):
    out = tmp_path / "f.v"
    assert main(["generate", "fmac", "--format", "e4m3", "--accumulate", "exact",
                 "--out-format", "fp16", "--target-mhz", "60", "--device", "ecp5-85f",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("pipeline: product path latency ")
    assert "for 60 MHz on ecp5-85f" in text
    assert "module fmac_e4m3_exact_fp16_t1024_rne_l" in out.read_text()
    assert main(["generate", "fmac", "--target-mhz", "40", "--device", "ecp5-85f",
                 "-o", str(out)]) == 2
    assert "cannot reach 40 MHz" in capsys.readouterr().err
    assert main(["generate", "fmac", "--mul-latency", "1", "--target-mhz", "40", "--device",
                 "ecp5-85f", "-o", str(out)]) == 2
    assert "--mul-latency 1 and --target-mhz 40: give one of them" in capsys.readouterr().err
    assert main(["generate", "fmac", "--target-mhz", "40", "-o", str(out)]) == 2
    assert "needs --device" in capsys.readouterr().err
