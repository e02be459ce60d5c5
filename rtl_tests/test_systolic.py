# amaranth: UnusedElaboratable=no
"""cocotb testbench of :class:`hwgen.arrays.systolic.SystolicArray` against
:func:`hwgen.golden.matmul.matmul`, bit for bit.

The host side is :class:`hwgen.golden.tiling.Tiling`: it gives every ``weights`` and ``acts``
transfer in stream order; weight-stationary partial sums are fed back from the results the
array returned (the row-m psum of K-tile kt+1 is result row m of K-tile kt), exactly as a
board host would. Random idle cycles on both inputs and random back-pressure on ``results``;
every result row is counted exactly once (as many rows as the tiling expects, none after).

CI runs a representative matrix (the pytest functions at the end): int8 64×64×64 on 4×4 in
both dataflows, int8 on 2×2 (OS) and 8×8 (WS), ternary on 2×2, bit-serial on 2×2 (bs8x8 WS,
bs4x4 OS; random ``bits`` per tile), dual-precision dp8 on 2×2 (WS, random ``low`` per tile),
e4m3→fp16 rounded and e4m3 exact in both dataflows, e4m3→fp16 rounded pipelined (WS,
``mul_latency`` = ``add_latency`` = 1), bf16→fp32 fused (WS). Nearly all of its time is
Verilator compiling the float arrays (the bf16 FMA array alone ~100 s of CPU). The full sweep of sizes, PEs and
dataflows is available through the CLI, e.g.::

    hwgen sim array --rows 8 --cols 8 --pe e4m3:fp16:rounded --dataflow os --m 64 --k 64 --n 64
    hwgen sim array --rows 2 --cols 2 --pe bf16:fp32:fused --dataflow os --m 64 --k 64 --n 64
    hwgen sim array --rows 8 --cols 8 --pe int8 --dataflow os --m 64 --k 64 --n 64

Parameters (``sim.params.get_params()``): ``rows``, ``cols``, ``pe``, ``dataflow``,
``fifo_depth``, ``mul_latency``, ``add_latency``, ``gemms`` (list of ``[M, K, N]``),
``idle``, ``backpressure``, ``seed``,
``specials`` (also run GEMMs of raw random encodings: NaN, Inf, subnormals), ``throughput``
(run the no-stall timing test), ``mode`` (``"cli"``: ``m``, ``k``, ``n`` give the one GEMM).
Bit-serial PEs get a random ``bits`` field per tile (0..2**bits_width-1: 0 and values above W
exercise the clamping), dual-precision PEs a random ``low`` flag per tile, the same for every
``acts`` transfer of the tile; at least one change between consecutive tiles when there are
several (the report counts the changes, ``prec_changes``).
"""

import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hwgen.arrays.systolic import SystolicArray, pack_acts, pack_weights, unpack_results
from hwgen.golden.matmul import matmul, tile_bits, tile_modes
from hwgen.pespec import parse_pe
from hwgen.golden.rounding import decode, encode
from hwgen.golden.tiling import Tiling
from sim.params import get_params, write_report
from sim.streams import StreamDriver, StreamMonitor, reset, start_clock

P = get_params()
CLI = P.get("mode") == "cli"
ROWS = P.get("rows", 2)
COLS = P.get("cols", 2)
PE = parse_pe(P.get("pe", "int8"))
DATAFLOW = P.get("dataflow", "ws")
ARRAY = SystolicArray(ROWS, COLS, PE, DATAFLOW, fifo_depth=P.get("fifo_depth", 4),
                      mul_latency=P.get("mul_latency", 0), add_latency=P.get("add_latency", 0))
IDLE = P.get("idle", 0.3)
BACKPRESSURE = P.get("backpressure", 0.3)
SEED = P.get("seed") or 1
if CLI:
    GEMMS = [[P.get("m") or 16, P.get("k") or 16, P.get("n") or 16]]
else:
    GEMMS = P.get("gemms", [[5, 7, 3], [ROWS, ROWS, COLS], [1, 1, 1]])

_totals = {"vectors": 0, "results": 0, "mismatches": 0, "first_mismatches": [], "seconds": 0.0,
           "cycles": [], "float_matmul_differs": 0}


def random_matrix(rng, fmt, shape, *, specials=False, weights=False):
    """Random operands: integers over the full range (ternary weights: random codes), or
    float encodings of N(0, 1) values (``specials``: raw random encodings)."""
    if PE.kind == "ternary" and weights:
        return rng.integers(0, 4, shape)
    if PE.kind != "float":
        return rng.integers(fmt.min_value, fmt.max_value + 1, shape)
    if specials:
        return rng.integers(0, 1 << fmt.width, shape, dtype=np.uint64)
    return encode(fmt, rng.normal(0.0, 1.0, shape))


class TB:
    """Drivers for ``weights`` and ``acts``, a monitor on ``results``, and the host tiler."""

    def __init__(self, dut, *, idle=IDLE, backpressure=BACKPRESSURE, seed=SEED):
        self.dut = dut
        start_clock(dut)
        self.w_src = StreamDriver(dut, "weights", idle_prob=idle, seed=seed + 1)
        self.a_src = StreamDriver(dut, "acts", idle_prob=idle, seed=seed + 2)
        self.snk = StreamMonitor(dut, "results", backpressure=backpressure, seed=seed + 3)
        self.base = 0            # result rows of earlier GEMMs in this test

    async def gemm(self, A, B, prec=None):
        """Stream one GEMM through the array; return ``(C, cycles)``: the result matrix and
        the clock cycles from the first input offered to the last result taken. ``prec``:
        ``{"bits": ...}`` (bit-serial PEs) or ``{"low": ...}`` (dual-precision PEs), one per
        tile (see :func:`random_precision`; None: full precision, high mode)."""
        t = Tiling(A.shape[0], A.shape[1], B.shape[1], ROWS, COLS, DATAFLOW)
        Ap, Bp = t.pad(A, B)
        prec = prec or {}
        bits = tile_bits(PE, t, prec.get("bits")) if ARRAY.serial else [None] * len(t.tiles)
        low = tile_modes(PE, t, prec.get("low")) if PE.kind == "dualprec" else \
            [None] * len(t.tiles)
        per_tile = t.result_count() if DATAFLOW == "ws" else t.K
        start = self.snk.cycle
        for row in t.weight_transfers(Bp):
            self.w_src.append(pack_weights(ARRAY, [int(x) for x in row]))
        base = self.base
        for n, (row, last, src) in enumerate(t.act_transfers(Ap)):
            psum = None
            if src is not None:
                # Partial sums come back from the array: wait for result row `src`.
                while len(self.snk.items) <= base + src:
                    await RisingEdge(self.dut.clk)
                psum = unpack_results(ARRAY, self.snk.items[base + src])[1]
            self.a_src.append(pack_acts(ARRAY, [int(x) for x in row], last=last, psum=psum,
                                        bits=bits[n // per_tile], low=low[n // per_tile]))
        n = t.total_results
        await self.snk.wait_for(base + n, timeout_cycles=100 * (n + len(t.tiles) * 64) + 10_000)
        await self.w_src.wait_idle()
        await self.a_src.wait_idle()
        cycles = self.snk.transfers[base + n - 1][0] - start
        rows = [unpack_results(ARRAY, w)[0] for w in self.snk.items[base:base + n]]
        self.base += n
        return t.assemble(np.array(rows, dtype=object)), cycles

    async def expect_silence(self, cycles=None):
        """Nothing more may come out: every result exactly once."""
        before = len(self.snk.items)
        for _ in range(cycles or ARRAY.latency + 4 * (ROWS + COLS) + 20):
            await RisingEdge(self.dut.clk)
        return len(self.snk.items) - before


def random_precision(rng, M, K, N):
    """Run-time precision per tile: ``{"bits": [...]}`` for bit-serial PEs (random fields),
    ``{"low": [...]}`` for dual-precision PEs (random modes), ``{}`` for others."""
    n = len(Tiling(M, K, N, ROWS, COLS, DATAFLOW).tiles)
    if ARRAY.serial:
        key, vals = "bits", [int(b) for b in rng.integers(0, 1 << ARRAY.bits_width, n)]
        eff = [ARRAY.cycles_per_row(b) for b in vals]
    elif PE.kind == "dualprec":
        key, vals = "low", [int(b) for b in rng.integers(0, 2, n)]
        eff = list(vals)
    else:
        return {}
    if n > 1 and len(set(eff)) == 1:
        # at least one change of precision between consecutive tiles
        vals[-1] = eff[-1] % ARRAY.weight_bits + 1 if ARRAY.serial else 1 - vals[-1]
        eff[-1] = ARRAY.cycles_per_row(vals[-1]) if ARRAY.serial else vals[-1]
    _totals["prec_changes"] = _totals.get("prec_changes", 0) + sum(
        x != y for x, y in zip(eff, eff[1:]))
    return {key: vals}


def check(A, B, got, label, prec=None):
    exp = matmul(A, B, PE, DATAFLOW, ROWS, COLS, **(prec or {}))
    got = np.asarray(got).astype(exp.dtype)
    lines = []
    bad_idx = np.argwhere(got != exp)
    for m, n in bad_idx[:10]:
        lines.append(f"{label}: C[{m},{n}] got {int(got[m, n])}, expected {int(exp[m, n])}")
    _totals["vectors"] += exp.size
    _totals["mismatches"] += len(bad_idx)
    _totals["first_mismatches"] = (_totals["first_mismatches"] + lines)[:20]
    if PE.accumulate == "rounded":
        # numpy's float matmul of the same values, rounded once into the accumulator format.
        ref = decode(PE.a_fmt, A.astype(np.uint64)) @ decode(PE.w_fmt, B.astype(np.uint64))
        with np.errstate(all="ignore"):
            differs = int(np.sum(encode(PE.out_fmt, ref) != exp))
        _totals["float_matmul_differs"] += differs
    return len(bad_idx)


def _finish(t0):
    _totals["seconds"] += time.monotonic() - t0
    write_report(dict(_totals))


@cocotb.test()
async def random_gemms(dut):
    """Random GEMMs, random idle cycles on both inputs, random back-pressure on results."""
    t0 = time.monotonic()
    rng = np.random.default_rng(SEED)
    tb = TB(dut)
    await reset(dut)
    bad = 0
    cases = [(g, False) for g in GEMMS]
    if P.get("specials") and not CLI:
        cases += [(GEMMS[0], True)]
    for (M, K, N), specials in cases:
        A = random_matrix(rng, PE.a_fmt, (M, K), specials=specials)
        B = random_matrix(rng, PE.w_fmt, (K, N), specials=specials, weights=True)
        prec = random_precision(rng, M, K, N)
        got, cycles = await tb.gemm(A, B, prec)
        _totals["cycles"].append([M, K, N, cycles])
        _totals["results"] += M * N
        bad += check(A, B, got, f"{M}x{K}x{N}{' specials' if specials else ''}", prec)
    extra = await tb.expect_silence()
    _finish(t0)
    assert extra == 0, f"{extra} result rows after the last expected one"
    assert bad == 0, _totals["first_mismatches"]


@cocotb.test(skip=CLI)
async def every_result_once_heavy_stalls(dut):
    """Heavy back-pressure and idle inputs: results wait in the FIFO while the array is
    stalled; the count of result rows is exact and nothing is duplicated or lost."""
    t0 = time.monotonic()
    rng = np.random.default_rng(SEED + 7)
    tb = TB(dut, idle=0.5, backpressure=0.85, seed=SEED + 7)
    await reset(dut)
    M, K, N = 2 * ROWS + 1, 2 * ROWS + 1, COLS + 1
    A = random_matrix(rng, PE.a_fmt, (M, K))
    B = random_matrix(rng, PE.w_fmt, (K, N), weights=True)
    prec = random_precision(rng, M, K, N)
    got, _ = await tb.gemm(A, B, prec)
    t = Tiling(M, K, N, ROWS, COLS, DATAFLOW)
    extra = await tb.expect_silence()
    bad = check(A, B, got, "heavy stalls", prec)
    _finish(t0)
    assert len(tb.snk.items) == t.total_results
    assert tb.w_src.sent == len(t.weight_transfers(t.pad(A, B)[1]))
    assert extra == 0 and bad == 0, _totals["first_mismatches"]


@cocotb.test(skip=CLI or not P.get("throughput"))
async def full_throughput(dut):
    """No idle, no back-pressure: a long GEMM runs at the rate ``cycles_per_tile`` promises
    (the array does one tile row per clock once tiles are long enough)."""
    t0 = time.monotonic()
    rng = np.random.default_rng(SEED + 11)
    tb = TB(dut, idle=0.0, backpressure=0.0)
    await reset(dut)
    M, K, N = P["throughput"]
    A = random_matrix(rng, PE.a_fmt, (M, K))
    B = random_matrix(rng, PE.w_fmt, (K, N), weights=True)
    got, cycles = await tb.gemm(A, B)
    bad = check(A, B, got, "throughput")
    t = Tiling(M, K, N, ROWS, COLS, DATAFLOW)
    per_tile = (M if DATAFLOW == "ws" else K) * ARRAY.cycles_per_row()
    bound = len(t.tiles) * max(per_tile, ARRAY.cycles_per_tile) + 2 * ARRAY.latency + ROWS
    _totals["cycles"].append([M, K, N, cycles])
    _totals["throughput_bound"] = bound
    _finish(t0)
    assert bad == 0, _totals["first_mismatches"]
    assert cycles <= bound, f"{M}x{K}x{N}: {cycles} cycles > {bound}"


# -- pytest ----------------------------------------------------------------------------------

def _run(rows, cols, pe, dataflow, gemms, **extra):
    from sim.runner import run
    dut = SystolicArray(rows, cols, pe, dataflow, mul_latency=extra.get("mul_latency", 0),
                        add_latency=extra.get("add_latency", 0))
    params = dict(rows=rows, cols=cols, pe=pe, dataflow=dataflow, gemms=gemms, **extra)
    res = run(dut, test_module="rtl_tests.test_systolic", params=params)
    assert res.passed, (res.failed, res.tests, res.report)
    assert res.report["mismatches"] == 0 and res.report["vectors"] > 0, res.report
    return res


def test_int8_4x4_ws_64x64x64():
    _run(4, 4, "int8", "ws", [[64, 64, 64], [5, 9, 3], [1, 1, 1]], throughput=[64, 64, 16])


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
    _run(4, 4, "e4m3:exact", "ws", [[12, 24, 8], [3, 5, 3]], specials=True)
    _run(2, 2, "e4m3:exact:fp16", "os", [[7, 40, 5]], specials=True)


def test_bf16_fp32_fused():
    # One build only: a bf16 x bf16 + fp32 FMA per PE makes the largest Verilator build here
    # (~100 s); the output-stationary fused array is in the CLI sweep.
    _run(2, 2, "bf16:fp32:fused", "ws", [[10, 33, 5], [2, 2, 2]], specials=True)
