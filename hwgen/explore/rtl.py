"""Run a model's layers through the simulated systolic array and check them against the
emulation, bit for bit (``hwgen explore --verify-rtl N``).

The explorer's numbers come from a numpy emulation (:mod:`hwgen.explore.emulate`). This module
shows that the hardware computes the same thing: the first ``N`` test inputs go through the
emulation with a trace (every ``dense``/``conv2d`` layer as one GEMM ``A @ B``: ``A`` the
layer's input — a convolution's im2col rows —, ``B`` its weights, in the candidate's
encodings), and each layer's GEMM is streamed through the real
:class:`~hwgen.arrays.systolic.SystolicArray` RTL (cocotb under Verilator, the host tiler
:class:`~hwgen.golden.tiling.Tiling`, the testbench of :mod:`sim.systolic`; cocotb module
:mod:`sim.explore_rtl`). The array's results are compared, element
for element, with the emulation's dot products *before the bias*: the bias, ReLU, pooling and
re-quantization stay on the host in both, done by the same emulation code, so when every
layer's GEMM matches on its own inputs the whole network's scores match too.

Candidate → processing element (:func:`rtl_pe`)
------------------------------------------------
``fxN`` → ``intN``
    The emulation multiplies N-bit integers exactly and sums them exactly; the array's
    ``intN`` PE accumulates in a (2N+16)-bit register that wraps, which cannot happen for
    fewer than 2**17 terms (each product is at most 2**(2N-2) in magnitude), so the two are
    the same integers. Longer layers are refused.
float ``F``, ``--accumulate rounded`` → ``F:F:rounded``
    Product rounded into F, running sum rounded into F, from +0 in k order: the emulation's
    :func:`hwgen.golden.fmac.mac` and the array (:func:`hwgen.golden.matmul.matmul`) use the
    same order. The weight-stationary array pads K to a multiple of ``rows`` with ``+0 x +0``
    terms at the end, which never change a round-to-nearest-even sum (the running sum is
    never -0), so the padded array result is the emulation's unpadded one.
``--accumulate fused`` → ``F:F:fused``
    One FMA per step into F, same order.
``--accumulate exact`` → ``F:exact:F``
    A Kulisch accumulator rounded once into F; exact sums do not depend on the order. The
    array's register holds 4096 terms; longer layers are refused.
``bsW[xA][@B]`` (bit-serial) → ``bsWxA``, run-time ``bits`` = B on every tile
    The array's bit-serial PE (weight-stationary only) takes the stored W-bit weights and adds
    their top B bit-planes (:func:`hwgen.golden.bsmac.bitserial_dot`), the emulation
    multiplies by the weights truncated to their top B bits (scale kept): the same integers.
    Its (W+A+16)-bit accumulator cannot wrap for fewer than 2**15 terms.

:func:`golden_check` compares the same trace with :func:`hwgen.golden.matmul.matmul` (the
array's golden model) without simulating: it is the fast half of the argument and what the
unit tests run on every model.
"""

import json
import math
import tempfile
from pathlib import Path

import numpy as np

from ..golden.matmul import matmul
from ..pespec import EXACT_MAX_TERMS, parse_pe
from .emulate import MX, BitSerial, FixedPoint, forward, parse_candidate, tensor_ranges

__all__ = ["rtl_pe", "check_rtl", "layer_trace", "golden_check", "simulate_gemms", "verify_rtl",
           "parse_array", "MAX_RTL_INPUTS", "TEST_MODULE"]

#: Inputs one ``--verify-rtl`` run may simulate (the simulation runs ~10^4 cycles/s).
MAX_RTL_INPUTS = 64
TEST_MODULE = "sim.explore_rtl"
_INT_MAX_TERMS = {"int": 1 << 17, "bitserial": 1 << 15}


def rtl_pe(candidate, accumulate="rounded"):
    """The systolic-array PE spec that computes ``candidate``'s MACs (see the module
    docstring).

    Raises
    ------
    ValueError
        An unknown accumulation.
    """
    c = parse_candidate(candidate)
    if isinstance(c, FixedPoint):
        return f"int{c.bits}"
    if isinstance(c, BitSerial):
        return f"bs{c.weight_bits}x{c.act_bits}"
    if isinstance(c, MX):
        return f"mx:{c.elem}"
    if accumulate in ("rounded", "fused"):
        return f"{c.name}:{c.name}:{accumulate}"
    if accumulate == "exact":
        return f"{c.name}:exact:{c.name}"
    raise ValueError(f"Accumulation must be rounded, fused or exact, not {accumulate!r}")


def check_rtl(candidate, accumulate="rounded", dataflow="ws"):
    """The PE spec for ``candidate`` on a ``dataflow`` array (:func:`rtl_pe`).

    Raises
    ------
    ValueError
        No such PE, or a bit-serial candidate on an output-stationary array.
    """
    pe = rtl_pe(candidate, accumulate)
    if isinstance(parse_candidate(candidate), BitSerial) and dataflow != "ws":
        raise ValueError(f"{parse_candidate(candidate).name}: bit-serial PEs need a "
                         f"weight-stationary array (ws), not {dataflow!r}")
    if isinstance(parse_candidate(candidate), MX) and dataflow != "os":
        raise ValueError(f"{parse_candidate(candidate).name}: MX PEs need an "
                         f"output-stationary array (--rtl-dataflow os), not {dataflow!r}")
    return pe


def parse_array(text):
    """``"4x4"`` → ``(4, 4)``.

    Raises
    ------
    ValueError
        Not ``RxC`` with R, C in 1..64.
    """
    from ..arrays.systolic import MAX_DIM
    parts = str(text).lower().split("x")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        r, c = int(parts[0]), int(parts[1])
        if 1 <= r <= MAX_DIM and 1 <= c <= MAX_DIM:
            return r, c
    raise ValueError(f"Array shape must be RxC with R and C in 1..{MAX_DIM} (e.g. 4x4), "
                     f"not {text!r}")


def layer_trace(model, candidate, n, *, accumulate="rounded", scales=None):
    """The emulation of the first ``n`` test inputs with every MAC layer's GEMM recorded
    (:func:`hwgen.explore.emulate.float_forward`'s ``trace``): ``(scores, trace)``."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or \
            not 1 <= n <= MAX_RTL_INPUTS:
        raise ValueError(f"--verify-rtl takes 1..{MAX_RTL_INPUTS} inputs, not {n!r}")
    n = min(int(n), len(model.x_test))
    trace = []
    scores = forward(model, candidate, model.x_test[:n], accumulate=accumulate,
                     scales=tensor_ranges(model) if scales is None else scales, trace=trace)
    return scores, trace


def _check_terms(candidate, pe, trace):
    k = max(t["A"].shape[1] for t in trace)
    limit = _INT_MAX_TERMS.get(pe.kind, EXACT_MAX_TERMS if pe.accumulate == "exact"
                               else math.inf)
    if k >= limit:
        raise ValueError(f"{candidate}: a layer sums {k} terms; the {pe.spec} PE holds "
                         f"fewer than {limit}")


def _compare(expected, got):
    """``(mismatches, first)``: element counts of ``got != expected`` and the first few."""
    exp = np.asarray(expected).astype(object)
    got = np.asarray(got).astype(object)
    if got.shape != exp.shape:
        return exp.size, [f"shape {got.shape}, expected {exp.shape}"]
    bad = np.argwhere(got != exp)
    first = [f"[{m},{o}] got {got[m, o]}, expected {exp[m, o]}" for m, o in bad[:5]]
    return len(bad), first


def golden_check(trace, pe, dataflow="ws", rows=4, cols=4, bits=None):
    """Each traced layer's ``acc`` against :func:`hwgen.golden.matmul.matmul` of its operands
    (bit-serial PEs: the stored weights with run-time ``bits``): a list of
    ``dict(layer, shape, mismatches, first)``."""
    pe = parse_pe(pe)
    out = []
    for t in trace:
        if pe.kind == "bitserial":
            exp = matmul(t["A"], t["B_stored"], pe, dataflow, rows, cols, bits=bits)
        else:
            exp = matmul(t["A"], t["B"], pe, dataflow, rows, cols)
        if pe.kind not in ("float", "mx"):
            exp = exp.astype(object)
        bad, first = _compare(t["acc"], exp)
        out.append(dict(layer=t["layer"], shape=[*t["A"].shape, t["B"].shape[1]],
                        mismatches=bad, first=first))
    return out


def simulate_gemms(array, gemms, *, bits=None, low=None, idle=0.1, backpressure=0.1,
                   seed=None, sim=None):
    """Stream the GEMMs ``[(A, B), ...]`` (operand codes as the PE takes them, ``B`` as
    stored) through ``array`` (a :class:`~hwgen.arrays.systolic.SystolicArray`) under the
    cocotb module :data:`TEST_MODULE`, with ``idle``/``backpressure`` stalls; bit-serial
    PEs run ``bits`` bit-planes, dual-precision PEs every tile in mode ``low``. Returns the
    :class:`~hwgen.flow.simulate.SimResult`; ``report["results"]`` holds each GEMM's result
    matrix.

    Raises
    ------
    RuntimeError
        The simulation did not run (no simulator, a build error); one line.
    """
    from ..flow.simulate import run
    with tempfile.TemporaryDirectory(prefix="hwgen-explore-rtl-") as tmp:
        path = Path(tmp) / "gemms.json"
        path.write_text(json.dumps([dict(A=np.asarray(A).astype(object).tolist(),
                                         B=np.asarray(B).astype(object).tolist())
                                    for A, B in gemms]))
        # the array's parameters (the testbench rebuilds it from them), then the run's
        params = dict(rows=array.rows, cols=array.cols, pe=array.pe.spec,
                      dataflow=array.dataflow, fifo_depth=array.fifo_depth,
                      mul_latency=array.mul_latency, add_latency=array.add_latency,
                      gemm_file=str(path), idle=idle,
                      backpressure=backpressure, bits=bits, low=low, seed=seed)
        try:
            return run(array, test_module=TEST_MODULE, params=params, sim=sim)
        except Exception as e:   # a missing simulator, a failed build: one line
            raise RuntimeError(f"simulation of {array.module_name} failed: "
                               f"{str(e).splitlines()[0] if str(e) else e!r}") from None


def verify_rtl(model, candidate, n, *, accumulate="rounded", rows=4, cols=4, dataflow="ws",
               sim=None, scales=None):
    """Simulate the first ``n`` test inputs' layers on a ``rows`` x ``cols`` systolic array
    with ``candidate``'s PE and compare with the emulation.

    Returns ``dict(candidate, pe, array, dataflow, inputs, layers, mismatches, golden_mismatches,
    passed, seconds, toplevel)`` with one entry per MAC layer in ``layers`` (``shape`` [M, K,
    N], ``mismatches`` RTL vs emulation, ``golden_mismatches`` golden.matmul vs emulation,
    ``first``: the first differing elements).

    Raises
    ------
    ValueError
        No PE for the candidate, a bad ``n``/shape/dataflow, or a layer too long for the PE.
    RuntimeError
        The simulation did not run (no simulator, a build error).
    """
    from ..arrays.systolic import SystolicArray
    c = parse_candidate(candidate)
    pe = parse_pe(rtl_pe(c, accumulate))
    check_rtl(c, accumulate, dataflow)
    bits = c.bits if isinstance(c, BitSerial) else None
    _, trace = layer_trace(model, c, n, accumulate=accumulate, scales=scales)
    _check_terms(c.name, pe, trace)
    array = SystolicArray(rows, cols, pe, dataflow)
    gold = golden_check(trace, pe, dataflow, rows, cols, bits)
    res = simulate_gemms(array, [(t["A"], t["B_stored"]) for t in trace], bits=bits, sim=sim)
    results = res.report.get("results")
    layers = []
    for i, (t, g) in enumerate(zip(trace, gold)):
        got = results[i] if results is not None and i < len(results) else None
        if got is None:
            bad, first = t["acc"].size, ["no result from the simulation"]
        else:
            bad, first = _compare(t["acc"], np.array(got, dtype=object))
        layers.append(dict(layer=t["layer"], shape=g["shape"], mismatches=bad,
                           golden_mismatches=g["mismatches"], first=first + g["first"]))
    total = sum(x["mismatches"] for x in layers)
    return dict(candidate=c.name, pe=pe.spec, array=f"{rows}x{cols}", dataflow=dataflow,
                inputs=min(int(n), len(model.x_test)),
                layers=layers, mismatches=total,
                golden_mismatches=sum(x["golden_mismatches"] for x in layers),
                passed=res.passed and total == 0, sim_passed=res.passed,
                toplevel=res.toplevel, seconds=round(res.seconds, 1))
