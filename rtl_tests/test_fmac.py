"""FloatMac against the golden model (:func:`hwgen.golden.fmac.mac_stream`), bit for bit: the
cocotb test ``fmac_random_streams`` of :mod:`sim.fmac` over a set of formats and accumulation
modes, and the fp16 accumulator's stall at 2048.
"""

import numpy as np
import pytest

from hwgen import golden
from hwgen.golden.fmac import mac_stream
from sim.fmac import unit_params
from sim.runner import run

MODULE = "sim.fmac"

CONFIGS = [
    # (mul_fmt, acc/out fmt, accumulate, rounding)
    ("e4m3", "fp16", "rounded", "rne"),
    ("e4m3", "fp16", "fused", "rtz"),
    ("e4m3", "fp16", "exact", "rne"),
    ("e5m2", "fp32", "rounded", "rne"),
    ("bf16", "fp32", "fused", "rne"),
    ("e2m1", "e4m3", "exact", "dynamic"),
    ("fp16", "fp16", "rounded", "rup"),
]


def _build(mul_fmt, acc, accumulate, rounding, max_terms=1024):
    from hwgen.units.fmac import FloatMac
    if accumulate == "exact":
        return FloatMac(mul_fmt, out_fmt=acc, accumulate="exact", rounding=rounding,
                        max_terms=max_terms)
    return FloatMac(mul_fmt, acc_fmt=acc, accumulate=accumulate, rounding=rounding)


@pytest.mark.parametrize("mul_fmt, acc, accumulate, rounding", CONFIGS)
def test_fmac(mul_fmt, acc, accumulate, rounding):
    unit = _build(mul_fmt, acc, accumulate, rounding)
    res = run(unit, test_module=MODULE,
              params=dict(unit_params(unit), pairs=3000 if rounding != "dynamic" else 1200))
    assert res.passed, res.report.get("first_mismatches")
    assert res.report["mismatches"] == 0 and res.report["results"] > 4


@pytest.mark.parametrize("kw", [
    dict(mul_fmt="e4m3", acc_fmt="fp16", accumulate="rounded", mul_latency=3,
         rounding="dynamic"),
    dict(mul_fmt="e4m3", out_fmt="fp16", accumulate="exact", mul_latency=1, out_latency=3),
    dict(mul_fmt="e4m3", out_fmt="fp16", accumulate="exact", target_mhz=60,
         device="ecp5-85f"),
], ids=["rounded-mul3", "exact-l1-3", "exact-planned-60"])
def test_pipelined_fmac(kw):
    """A pipelined product path and read-out change no result (random stalls on both sides
    of the stream)."""
    from hwgen.units.fmac import FloatMac
    unit = FloatMac(**kw)
    assert unit.latency > (3 if kw["accumulate"] != "fused" else 2)
    res = run(unit, test_module=MODULE, params=dict(unit_params(unit), pairs=1500))
    assert res.passed, res.report.get("first_mismatches")
    assert res.report["mismatches"] == 0 and res.report["results"] > 4


def test_fp16_narrow_accumulator_stalls_at_2048():
    # 3000 ones summed in an fp16 accumulator: the sum stops at 2048 (Hill et al.'s stall);
    # the RTL must reproduce the stall exactly, which the golden model predicts.
    unit = _build("fp16", "fp16", "rounded", "rne")
    res = run(unit, test_module=MODULE,
              params=dict(unit_params(unit), directed="ones", pairs=3000))
    assert res.passed and res.report["results"] == 1
    want, _ = mac_stream(*[golden.encode("fp16", np.ones(3000))] * 2, np.arange(3000) == 2999,
                         mul_fmt="fp16", acc_fmt="fp16", accumulate="rounded")
    assert golden.decode("fp16", want)[0] == 2048.0
