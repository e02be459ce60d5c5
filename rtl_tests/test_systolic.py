# amaranth: UnusedElaboratable=no
"""cocotb tests of :class:`hwgen.arrays.systolic.SystolicArray` against
:func:`hwgen.golden.matmul.matmul`, bit for bit: the random GEMMs of :mod:`sim.systolic` (what
``hwgen sim array`` runs), every result exactly once under heavy stalls, and (parameter
``throughput``) the no-stall rate.

CI runs a representative matrix (the pytest functions at the end): int8 64×64×64 on 4×4 in
both dataflows, int8 on 2×2 (OS) and 8×8 (WS), ternary on 2×2, bit-serial on 2×2 (bs8x8 WS,
bs4x4 OS; random ``bits`` per tile), dual-precision dp8 on 2×2 (WS, random ``low`` per tile),
e4m3→fp16 rounded and e4m3 exact in both dataflows, MX PEs (4×4 MXFP8 on 64×128×64, mixed
elements, MXINT8), e4m3→fp16 rounded pipelined (WS,
``mul_latency`` = ``add_latency`` = 1), e4m3 exact and windowed PEs pipelined in both
dataflows, bf16→fp32 fused (WS), and credit flow control (``flow="credit"``: exact WS
pipelined). Nearly all of its time is
Verilator compiling the float arrays (the bf16 FMA array alone ~100 s of CPU). The full sweep
of sizes, PEs and dataflows is available through the CLI, e.g.::

    hwgen sim array --rows 8 --cols 8 --pe e4m3:fp16:rounded --dataflow os --m 64 --k 64 --n 64
    hwgen sim array --rows 2 --cols 2 --pe bf16:fp32:fused --dataflow os --m 64 --k 64 --n 64
    hwgen sim array --rows 8 --cols 8 --pe int8 --dataflow os --m 64 --k 64 --n 64
"""

import cocotb
import numpy as np

from hwgen.arrays.systolic import SystolicArray
from sim.params import get_params
from sim.streams import reset
from sim.systolic import (TB, build_unit, check, random_gemms,  # noqa: F401 (a cocotb test)
                          random_matrix, random_precision, scoreboard)

MODULE = "rtl_tests.test_systolic"


@cocotb.test()
async def every_result_once_heavy_stalls(dut):
    """Heavy back-pressure and idle inputs: results wait in the FIFO while the array is
    stalled; the count of result rows is exact and nothing is duplicated or lost."""
    p = get_params()
    sb = scoreboard()
    array = build_unit(p)
    pe, R, C = array.pe, array.rows, array.cols
    seed = (p.get("seed") or 1) + 7
    rng = np.random.default_rng(seed)
    tb = TB(dut, array, idle=0.5, backpressure=0.85, seed=seed)
    await reset(dut)
    M, K, N = 2 * R + 1, 2 * R + 1, C + 1
    A = random_matrix(rng, pe, pe.a_fmt, (M, K))
    B = random_matrix(rng, pe, pe.w_fmt, (K, N), weights=True)
    prec = random_precision(rng, array, M, K, N, sb)
    got, _ = await tb.gemm(A, B, prec)
    t = tb.tiling(M, A.shape[1], N)          # MX operands come padded to whole blocks
    extra = await tb.expect_silence()
    bad = check(sb, array, A, B, got, "heavy stalls", prec)
    sb.finish()
    assert len(tb.snk.items) == t.total_results
    assert tb.w_src.sent == len(t.weight_transfers(t.pad(A, B)[1]))
    assert extra == 0 and bad == 0, sb.lines


@cocotb.test(skip=not get_params().get("throughput"))
async def full_throughput(dut):
    """No idle, no back-pressure: a long GEMM runs at the rate ``cycles_per_tile`` promises
    (the array does one tile row per clock once tiles are long enough)."""
    p = get_params()
    sb = scoreboard()
    array = build_unit(p)
    pe = array.pe
    rng = np.random.default_rng((p.get("seed") or 1) + 11)
    tb = TB(dut, array, idle=0.0, backpressure=0.0, seed=p.get("seed") or 1)
    await reset(dut)
    M, K, N = p["throughput"]
    A = random_matrix(rng, pe, pe.a_fmt, (M, K))
    B = random_matrix(rng, pe, pe.w_fmt, (K, N), weights=True)
    got, cycles = await tb.gemm(A, B)
    bad = check(sb, array, A, B, got, "throughput")
    t = tb.tiling(M, K, N)
    per_tile = (M if array.dataflow == "ws" else K) * array.cycles_per_row()
    bound = (len(t.tiles) * max(per_tile, array.cycles_per_tile) + 2 * array.latency
             + array.rows)
    sb.add(cycles=[[M, K, N, cycles]])
    sb.set(throughput_bound=bound)
    sb.finish()
    assert bad == 0, sb.lines
    assert cycles <= bound, f"{M}x{K}x{N}: {cycles} cycles > {bound}"


# -- pytest ----------------------------------------------------------------------------------

def _run(rows, cols, pe, dataflow, gemms, **extra):
    from sim.runner import run
    dut = SystolicArray(rows, cols, pe, dataflow, mul_latency=extra.get("mul_latency", 0),
                        add_latency=extra.get("add_latency", 0),
                        flow=extra.get("flow", "stall"))
    params = dict(rows=rows, cols=cols, pe=pe, dataflow=dataflow, gemms=gemms, **extra)
    res = run(dut, test_module=MODULE, params=params)
    assert res.passed, (res.failed, res.tests, res.report)
    assert res.report["mismatches"] == 0 and res.report["vectors"] > 0, res.report
    return res


def test_int8_4x4_ws_64x64x64():
    res = _run(4, 4, "int8", "ws", [[64, 64, 64], [5, 9, 3], [1, 1, 1]],
               throughput=[64, 64, 16])
    assert res.tests == 3        # sim.systolic's test and the two above, each once


def test_int8_4x4_os_64x64x64():
    _run(4, 4, "int8", "os", [[64, 64, 64], [5, 9, 3], [1, 1, 1]], throughput=[16, 64, 16])


def test_int8_2x2_os_and_8x8_ws():
    _run(2, 2, "int8", "os", [[13, 21, 9], [2, 1, 2]], idle=0.5, backpressure=0.6)
    _run(8, 8, "int8", "ws", [[24, 20, 17], [8, 8, 8]], throughput=[64, 16, 16])


def test_ternary_2x2_ws():
    _run(2, 2, "ternary", "ws", [[9, 13, 5]], idle=0.4, backpressure=0.5)


def test_bitserial_2x2_ws():
    """bs8x8: random bits per tile, random idles and back-pressure, bit-exact."""
    _run(2, 2, "bs8x8", "ws", [[7, 9, 5], [1, 1, 1]], idle=0.4, backpressure=0.5)


def test_bitserial_2x2_os():
    """bs4x4 output-stationary: random bits per tile (changing between tiles; K < rows
    included), random idles and back-pressure, bit-exact."""
    res = _run(2, 2, "bs4x4", "os", [[7, 9, 5], [5, 1, 3]], idle=0.4, backpressure=0.5)
    assert res.report["prec_changes"] > 0, res.report


def test_dualprec_2x2_ws():
    """dp8: a random ``low`` flag per tile (at least one change between consecutive tiles,
    so tiles of both modes follow each other through the array), random idles and
    back-pressure, bit-exact."""
    res = _run(2, 2, "dp8", "ws", [[6, 9, 5], [1, 1, 1]], idle=0.4, backpressure=0.5)
    assert res.report["prec_changes"] > 0, res.report


def test_pipelined_rounded_2x2_ws():
    """e4m3:fp16:rounded with a register inside the multiplier and one inside the adder:
    the same bits as the unpipelined golden model under idles and back-pressure."""
    res = _run(2, 2, "e4m3:fp16:rounded", "ws", [[7, 9, 5], [1, 1, 1]], idle=0.4,
               backpressure=0.5, specials=True, mul_latency=1, add_latency=1)
    assert res.report["float_matmul_differs"] > 0, res.report


def test_e4m3_fp16_rounded_differs_from_float_matmul():
    """The narrow accumulator rounds at every step: the RTL matches the golden model and
    differs from numpy's float matmul (rounded once)."""
    res = _run(2, 2, "e4m3:fp16:rounded", "ws", [[16, 64, 6], [3, 5, 3]], specials=True)
    assert res.report["float_matmul_differs"] > 0, res.report
    res = _run(2, 2, "e4m3:fp16:rounded", "os", [[9, 64, 8]])
    assert res.report["float_matmul_differs"] > 0, res.report


def test_e4m3_exact():
    # WS with every register of the exact pipeline (product path 2, read-out 3; each latency
    # alone is checked in tests/test_exact_pe.py), OS unpipelined and with every register.
    _run(4, 4, "e4m3:exact", "ws", [[12, 24, 8], [3, 5, 3]], specials=True, mul_latency=2,
         add_latency=3)
    _run(2, 2, "e4m3:exact:fp16", "os", [[7, 40, 5]], specials=True)
    _run(3, 3, "e4m3:exact", "os", [[7, 40, 5], [2, 2, 4], [9, 3, 9]], specials=True,
         mul_latency=2, add_latency=3, throughput=[9, 12, 9])


def test_windowed_pes():
    # A narrow window (units of 2**-8, magnitudes below 4) so that products truncate and
    # sums saturate: the product path and read-out pipelined in WS and in OS, OS unpipelined.
    _run(2, 2, "bf16:window-8..2:bf16", "ws", [[6, 9, 5], [2, 2, 2]], specials=True,
         mul_latency=2, add_latency=2)
    _run(2, 2, "e5m2:window-12..3:fp16", "os", [[5, 7, 3]], specials=True)
    _run(2, 2, "e5m2:window-12..3:fp16", "os", [[5, 7, 3], [3, 1, 2]], specials=True,
         mul_latency=1, add_latency=2)


def test_bf16_fp32_fused():
    # One build only: a bf16 x bf16 + fp32 FMA per PE makes the largest Verilator build here
    # (~100 s); the output-stationary fused array is in the CLI sweep.
    _run(2, 2, "bf16:fp32:fused", "ws", [[10, 33, 5], [2, 2, 2]], specials=True)


def test_mx_array_4x4_64x128x64():
    """``mx:`` PEs (output-stationary): a 4×4 MXFP8 array on a 64×128×64 GEMM of random words
    (every element code, NaN scales, a different scale on every word: a block's is its last
    word's) and on quantized GEMMs (four blocks per output) with idles, back-pressure and the
    no-stall rate; GEMMs whose K is not a whole number of blocks (padded with zero elements
    by the host)."""
    _run(4, 4, "mx:e4m3", "os", [[16, 128, 12], [5, 40, 3], [1, 1, 1]],
         specials=[64, 128, 64], throughput=[8, 96, 8])


def test_mx_arrays_mixed_and_pipelined():
    """Mixed element formats, MXINT8 and a pipelined accumulation (4 registers: the same
    bits, the same rate) on smaller MX arrays."""
    _run(3, 2, "mx:e2m1:e5m2", "os", [[7, 70, 5], [2, 1, 2]], specials=True, idle=0.5,
         backpressure=0.6)
    _run(3, 2, "mx:e2m3:e4m3", "os", [[7, 70, 5]], specials=True, add_latency=4,
         throughput=[6, 64, 4])


def test_mx_int8_array():
    _run(2, 3, "mx:int8:e2m3", "os", [[5, 64, 4]], specials=True)


def test_credit_flow():
    """``flow="credit"`` (the array never stalls; inputs wait for room in the result FIFO,
    sized for full rate): heavy stalls lose and duplicate nothing, bit-exact, and the no-stall
    rate, with pipelined exact PEs (output-stationary and bit-serial arrays: the Amaranth
    simulations of tests/test_systolic.py)."""
    _run(3, 3, "e4m3:exact", "ws", [[12, 24, 8], [3, 5, 3]], specials=True, mul_latency=2,
         add_latency=3, flow="credit", throughput=[24, 12, 9])
