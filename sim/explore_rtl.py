# amaranth: UnusedElaboratable=no
"""A model's layers through the systolic array RTL: the cocotb side of
:func:`hwgen.explore.rtl.verify_rtl` (``hwgen explore --verify-rtl N``).

The cocotb test streams the GEMMs listed in the JSON file ``gemm_file`` (one ``{A, B}`` per
layer, the emulation's operands) through the array with the testbench of :mod:`sim.systolic`
(host tiler, partial-sum feedback, idle cycles, back-pressure) and reports the result
matrices; the Python side compares them with the emulation's dot products.

Parameters: the array's (:func:`sim.systolic.unit_params`), ``gemm_file``, ``bits``
(bit-serial PEs: the run-time bits of every tile), ``low`` (dual-precision PEs: 1 runs every
tile in low mode), ``idle``, ``backpressure``, ``seed``.
"""

import json

import cocotb
import numpy as np

from .params import get_params, write_report
from .streams import reset
from .systolic import TB, build_unit

__all__ = ["model_layers"]


@cocotb.test()
async def model_layers(dut):
    """Every GEMM of ``gemm_file``, in order; the results go to the report."""
    P = get_params()
    with open(P["gemm_file"]) as f:
        gemms = json.load(f)
    tb = TB(dut, build_unit(P), idle=P.get("idle", 0.0),
            backpressure=P.get("backpressure", 0.0), seed=P.get("seed") or 1)
    await reset(dut)
    results = []
    for g in gemms:
        A = np.array(g["A"], dtype=object)
        B = np.array(g["B"], dtype=object)
        # Bit-serial PEs: the candidate's run-time bits on every tile; dual-precision PEs:
        # every tile in the mode asked.
        prec = {"bits": P["bits"]} if P.get("bits") else \
            {"low": int(P["low"])} if P.get("low") is not None else None
        got, _ = await tb.gemm(A, B, prec)
        results.append([[int(v) for v in row] for row in got])
    extra = await tb.expect_silence()
    write_report({"results": results, "extra_rows": extra})
    assert extra == 0, f"{extra} result rows after the last expected one"
