# amaranth: UnusedElaboratable=no
"""cocotb testbench of :class:`hwgen.arrays.systolic.SystolicArray` against
:func:`hwgen.golden.matmul.matmul`, bit for bit (``hwgen sim array``; the array tests in
``rtl_tests/test_systolic.py``, the explorer's :mod:`sim.explore_rtl` and ``bench/systolic.py``
use the same :class:`TB`).

The host side is :class:`hwgen.golden.tiling.Tiling`: it gives every ``weights`` and ``acts``
transfer in stream order; weight-stationary partial sums are fed back from the results the
array returned (the row-m psum of K-tile kt+1 is result row m of K-tile kt), exactly as a
board host would. Random idle cycles on both inputs and random back-pressure on ``results``;
every result row is counted exactly once (as many rows as the tiling expects, none after).

Parameters (``sim.params.get_params()``): :func:`unit_params` of the array (``rows``,
``cols``, ``pe``, ``dataflow``, ``fifo_depth``, ``mul_latency``, ``add_latency``, ``flow``),
``gemms`` (list of ``[M, K, N]``), ``idle``, ``backpressure``, ``seed``, ``specials`` (also run
GEMMs of raw random encodings: NaN, Inf, subnormals: the first GEMM's shape, or the
``[M, K, N]`` given instead of ``True``), ``mode`` (``"cli"``: ``m``, ``k``, ``n``
give the one GEMM). Bit-serial PEs get a random ``bits`` field per tile (0..2**bits_width-1: 0 and
values above W exercise the clamping), dual-precision PEs a random ``low`` flag per tile, the
same for every ``acts`` transfer of the tile; at least one change between consecutive tiles
when there are several (the report counts the changes, ``prec_changes``).
"""

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hwgen.arrays.systolic import SystolicArray, pack_acts, pack_weights, unpack_results
from hwgen.golden.matmul import matmul, tile_bits, tile_modes
from hwgen.golden.rounding import decode, encode
from hwgen.golden.tiling import Tiling

from .params import get_params
from .scoreboard import Scoreboard
from .streams import StreamDriver, StreamMonitor, reset, start_clock

__all__ = ["TB", "random_gemms", "build_unit", "unit_params", "random_matrix",
           "random_precision", "check", "scoreboard", "REPORT_KEYS"]

#: Report keys beyond the scoreboard's own, with their start values.
REPORT_KEYS = dict(results=0, cycles=[], float_matmul_differs=0)


def unit_params(array):
    """The parameters of :class:`~hwgen.arrays.systolic.SystolicArray` ``array`` (they
    rebuild it)."""
    return dict(rows=array.rows, cols=array.cols, pe=array.pe.spec, dataflow=array.dataflow,
                fifo_depth=array.fifo_depth, mul_latency=array.mul_latency,
                add_latency=array.add_latency, flow=array.flow)


def build_unit(p):
    """The :class:`~hwgen.arrays.systolic.SystolicArray` of the parameters ``p`` (defaults: a
    2x2 int8 weight-stationary array)."""
    return SystolicArray(p.get("rows", 2), p.get("cols", 2), p.get("pe", "int8"),
                         p.get("dataflow", "ws"), fifo_depth=p.get("fifo_depth"),
                         mul_latency=p.get("mul_latency", 0),
                         add_latency=p.get("add_latency", 0), flow=p.get("flow", "stall"))


def scoreboard():
    """A :class:`~sim.scoreboard.Scoreboard` with this testbench's report keys."""
    return Scoreboard(**REPORT_KEYS)


def random_matrix(rng, pe, fmt, shape, *, specials=False, weights=False):
    """Random operands of PE ``pe``: integers over the full range (ternary weights: random
    codes), or float encodings of N(0, 1) values (``specials``: raw random encodings). MX
    PEs: operand words (K rounded up to whole blocks of 32) of N(0, 1) values times a random
    power of two per row of A / column of B, quantized per block; ``specials``: random words
    (every element code, NaN scales, and a different scale on every word: a block's scale
    is its last word's)."""
    if pe.kind == "mx":
        from hwgen.golden.mx import mx_quantize_words
        axis = 0 if weights else 1
        shape = list(shape)
        shape[axis] = -(-shape[axis] // 32) * 32
        if specials:
            return rng.integers(0, 1 << (fmt.width + 8), shape)
        lead = [1, 1]
        lead[1 - axis] = shape[1 - axis]
        vals = rng.normal(0.0, 1.0, shape) * np.exp2(rng.integers(-20, 21, lead))
        return mx_quantize_words(vals, fmt.name, axis)
    if pe.kind == "ternary" and weights:
        return rng.integers(0, 4, shape)
    if pe.kind != "float":
        return rng.integers(fmt.min_value, fmt.max_value + 1, shape)
    if specials:
        return rng.integers(0, 1 << fmt.width, shape, dtype=np.uint64)
    return encode(fmt, rng.normal(0.0, 1.0, shape))


class TB:
    """Drivers for ``weights`` and ``acts``, a monitor on ``results``, and the host tiler.

    Parameters
    ----------
    dut : cocotb handle
    array : SystolicArray
        The array under test (its parameters; it is not elaborated here).
    idle, backpressure : float
        Probabilities of an idle input cycle and of a stalled ``results`` cycle.
    seed : int
    """

    def __init__(self, dut, array, *, idle=0.3, backpressure=0.3, seed=1):
        self.dut = dut
        self.array = array
        self.rows, self.cols = array.rows, array.cols
        self.pe, self.dataflow = array.pe, array.dataflow
        start_clock(dut)
        self.w_src = StreamDriver(dut, "weights", idle_prob=idle, seed=seed + 1)
        self.a_src = StreamDriver(dut, "acts", idle_prob=idle, seed=seed + 2)
        self.snk = StreamMonitor(dut, "results", backpressure=backpressure, seed=seed + 3)
        self.base = 0            # result rows of earlier GEMMs in this test

    def tiling(self, M, K, N):
        return Tiling(M, K, N, self.rows, self.cols, self.dataflow)

    async def gemm(self, A, B, prec=None):
        """Stream one GEMM through the array; return ``(C, cycles)``: the result matrix and
        the clock cycles from the first input offered to the last result taken. ``prec``:
        ``{"bits": ...}`` (bit-serial PEs) or ``{"low": ...}`` (dual-precision PEs), one per
        tile (see :func:`random_precision`; None: full precision, high mode)."""
        arr, pe = self.array, self.pe
        t = self.tiling(A.shape[0], A.shape[1], B.shape[1])
        Ap, Bp = t.pad(A, B)
        prec = prec or {}
        bits = tile_bits(pe, t, prec.get("bits")) if arr.serial else [None] * len(t.tiles)
        low = tile_modes(pe, t, prec.get("low")) if pe.kind == "dualprec" else \
            [None] * len(t.tiles)
        per_tile = t.result_count() if self.dataflow == "ws" else t.K
        start = self.snk.cycle
        for row in t.weight_transfers(Bp):
            self.w_src.append(pack_weights(arr, [int(x) for x in row]))
        base = self.base
        for n, (row, last, src) in enumerate(t.act_transfers(Ap)):
            psum = None
            if src is not None:
                # Partial sums come back from the array: wait for result row `src`.
                while len(self.snk.items) <= base + src:
                    await RisingEdge(self.dut.clk)
                psum = unpack_results(arr, self.snk.items[base + src])[1]
            self.a_src.append(pack_acts(arr, [int(x) for x in row], last=last, psum=psum,
                                        bits=bits[n // per_tile], low=low[n // per_tile]))
        n = t.total_results
        await self.snk.wait_for(base + n, timeout_cycles=100 * (n + len(t.tiles) * 64) + 10_000)
        await self.w_src.wait_idle()
        await self.a_src.wait_idle()
        cycles = self.snk.transfers[base + n - 1][0] - start
        rows = [unpack_results(arr, w)[0] for w in self.snk.items[base:base + n]]
        self.base += n
        return t.assemble(np.array(rows, dtype=object)), cycles

    async def expect_silence(self, cycles=None):
        """Nothing more may come out: every result exactly once."""
        before = len(self.snk.items)
        for _ in range(cycles or self.array.latency + 4 * (self.rows + self.cols) + 20):
            await RisingEdge(self.dut.clk)
        return len(self.snk.items) - before


def random_precision(rng, array, M, K, N, sb):
    """Run-time precision per tile: ``{"bits": [...]}`` for bit-serial PEs (random fields),
    ``{"low": [...]}`` for dual-precision PEs (random modes), ``{}`` for others. The changes
    between consecutive tiles are counted in ``sb`` (``prec_changes``)."""
    n = len(Tiling(M, K, N, array.rows, array.cols, array.dataflow).tiles)
    if array.serial:
        key, vals = "bits", [int(b) for b in rng.integers(0, 1 << array.bits_width, n)]
        eff = [array.cycles_per_row(b) for b in vals]
    elif array.pe.kind == "dualprec":
        key, vals = "low", [int(b) for b in rng.integers(0, 2, n)]
        eff = list(vals)
    else:
        return {}
    if n > 1 and len(set(eff)) == 1:
        # at least one change of precision between consecutive tiles
        vals[-1] = eff[-1] % array.weight_bits + 1 if array.serial else 1 - vals[-1]
        eff[-1] = array.cycles_per_row(vals[-1]) if array.serial else vals[-1]
    sb.add(prec_changes=sum(x != y for x, y in zip(eff, eff[1:])))
    return {key: vals}


def check(sb, array, A, B, got, label, prec=None):
    """Compare ``got`` with the golden ``matmul`` of ``A`` and ``B``, count it in ``sb``;
    return the mismatches."""
    pe = array.pe
    exp = matmul(A, B, pe, array.dataflow, array.rows, array.cols, **(prec or {}))
    got = np.asarray(got).astype(exp.dtype)
    bad_idx = np.argwhere(got != exp)
    lines = [f"{label}: C[{m},{n}] got {int(got[m, n])}, expected {int(exp[m, n])}"
             for m, n in bad_idx[:10]]
    sb.add(vectors=exp.size, mismatches=len(bad_idx), first_mismatches=lines)
    if pe.accumulate == "rounded":
        # numpy's float matmul of the same values, rounded once into the accumulator format.
        ref = decode(pe.a_fmt, A.astype(np.uint64)) @ decode(pe.w_fmt, B.astype(np.uint64))
        with np.errstate(all="ignore"):
            differs = int(np.sum(encode(pe.out_fmt, ref) != exp))
        sb.add(float_matmul_differs=differs)
    return len(bad_idx)


def _gemms(p, array):
    if p.get("mode") == "cli":
        return [[p.get("m") or 16, p.get("k") or 16, p.get("n") or 16]]
    return p.get("gemms", [[5, 7, 3], [array.rows, array.rows, array.cols], [1, 1, 1]])


@cocotb.test()
async def random_gemms(dut):
    """Random GEMMs, random idle cycles on both inputs, random back-pressure on results."""
    p = get_params()
    sb = scoreboard()
    array = build_unit(p)
    pe = array.pe
    seed = p.get("seed") or 1
    rng = np.random.default_rng(seed)
    tb = TB(dut, array, idle=p.get("idle", 0.3), backpressure=p.get("backpressure", 0.3),
            seed=seed)
    await reset(dut)
    bad = 0
    gemms = _gemms(p, array)
    cases = [(g, False) for g in gemms]
    raw = p.get("specials")            # True: the first GEMM's shape, or [M, K, N]
    if raw and p.get("mode") != "cli":
        cases += [(raw if isinstance(raw, list) else gemms[0], True)]
    for (M, K, N), specials in cases:
        A = random_matrix(rng, pe, pe.a_fmt, (M, K), specials=specials)
        B = random_matrix(rng, pe, pe.w_fmt, (K, N), specials=specials, weights=True)
        prec = random_precision(rng, array, M, K, N, sb)
        got, cycles = await tb.gemm(A, B, prec)
        sb.add(cycles=[[M, K, N, cycles]], results=M * N)
        bad += check(sb, array, A, B, got, f"{M}x{K}x{N}{' specials' if specials else ''}",
                     prec)
    extra = await tb.expect_silence()
    sb.finish()
    assert extra == 0, f"{extra} result rows after the last expected one"
    assert bad == 0, sb.lines
