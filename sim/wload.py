# amaranth: UnusedElaboratable=no
"""Compressed weights on the systolic array: cocotb testbench of
:class:`hwgen.arrays.wload.CompressedSystolic` (sHAM or HAM decoder ->
:class:`~hwgen.arrays.wload.WeightLoader` -> weight-stationary
:class:`~hwgen.arrays.systolic.SystolicArray`) against :func:`hwgen.golden.matmul.matmul`
(``hwgen sim wload`` and ``rtl_tests/test_wload.py``).

For each GEMM a random sparse integer weight matrix ``B`` (densities 0 %, 10 %, 50 %, 100 %)
is put in stream layout (:func:`hwgen.golden.compress.stream_matrix`) and encoded by the golden
model; the hardware gets only the code table and the container's word sections. The
activations and the partial-sum feedback come from the host tiler exactly as in
:mod:`sim.systolic`. The expected result is the golden ``matmul`` of ``A`` with the weights
the golden loader model (:func:`~hwgen.golden.compress.weight_stream_rows`) says the array
receives, mapped back to ``K x N``; the test also checks that these are ``B`` (lossless
coding). Random idle cycles on every input and back-pressure on ``results``, then one run
without stalls.

Parameters: :func:`unit_params` of the unit (``rows``, ``cols``, ``pe``, ``fmt`` and the
loader's ``transfer_bits``, ``word_width``, ``max_len``, ``rank_bits``, ``count_width``),
``gemms`` (list of ``[M, K, N, density]``), ``idle``, ``backpressure``, ``seed``
(``hwgen sim wload``: ``vectors`` sets M).
"""

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hwgen.arrays.systolic import pack_acts, unpack_results
from hwgen.arrays.wload import CompressedSystolic
from hwgen.golden.compress import compress, stream_matrix, weight_stream_rows
from hwgen.golden.matmul import matmul
from hwgen.golden.rounding import encode
from hwgen.golden.tiling import Tiling

from .compressed import CompressedTB, Outcome
from .params import get_params
from .scoreboard import Scoreboard
from .streams import pack_struct, reset, start_clock

__all__ = ["TB", "compressed_gemms", "unit_params", "build_unit", "unstream", "operands",
           "LOADER_KEYS"]

LOADER_KEYS = ("transfer_bits", "word_width", "max_len", "rank_bits", "count_width")


def unit_params(comp):
    """The parameters of :class:`~hwgen.arrays.wload.CompressedSystolic` ``comp`` (they
    rebuild it)."""
    return {k: getattr(comp, k) for k in ("rows", "cols", "pe", "fmt") + LOADER_KEYS}


def build_unit(p):
    """The :class:`~hwgen.arrays.wload.CompressedSystolic` of the parameters ``p``."""
    return CompressedSystolic(p["rows"], p["cols"], p["pe"], p["fmt"],
                              **{k: p[k] for k in LOADER_KEYS})


def unstream(rows, k, n, R, C):
    """``K x N`` weights from the rows of C weights a WS array receives (the inverse of the
    tiler's stream order: tile by tile, N-panel outer, K inner)."""
    t = Tiling(1, k, n, R, C, "ws")
    out = np.zeros((t.k_padded, t.n_padded), dtype=rows.dtype)
    i = 0
    for tile in t.tiles:
        nt, kt = tile.outer, tile.inner
        out[kt * R:(kt + 1) * R, nt * C:(nt + 1) * C] = rows[i:i + R]
        i += R
    return out[:k, :n]


def operands(rng, pe, M, K, N, density):
    """Random ``A`` and a ``B`` with about ``density`` non-zeros: integers over the full range,
    ternary codes, or float encodings of N(0, 1) values (zero is the all-zero code)."""
    if pe.kind == "float":
        A = encode(pe.a_fmt, rng.normal(0.0, 1.0, (M, K))).astype(np.int64)
        B = encode(pe.w_fmt, rng.normal(0.0, 1.0, (K, N))).astype(np.int64)
    else:
        A = rng.integers(pe.a_fmt.min_value, pe.a_fmt.max_value + 1, (M, K))
        B = rng.integers(0, 4, (K, N)) if pe.kind == "ternary" else \
            rng.integers(pe.w_fmt.min_value, pe.w_fmt.max_value + 1, (K, N))
    B[rng.random((K, N)) >= density] = 0
    return A, B


class TB(CompressedTB):
    """The skeleton on the loader's streams (``cfg``, ``start``, ``words``; sHAM also
    ``row_words``, ``count_words``) and the array's ``acts``, with ``results`` the output."""

    def __init__(self, dut, comp, seed):
        self.comp = comp
        self.arr, self.ld = comp.array, comp.loader
        names = ["cfg", "start", "words", "acts"]
        if self.ld.fmt == "sham":
            names += ["row_words", "count_words"]
        super().__init__(dut, names, "results", seed)
        self.base = 0            # result rows of earlier GEMMs

    async def gemm(self, A, B):
        """Weights compressed through the loader, activations through the tiler; returns
        ``(result or None, expected, weights_ok)`` (None: the array timed out)."""
        R, C, pe = self.arr.rows, self.arr.cols, self.arr.pe
        M, K = A.shape
        N = B.shape[1]
        c = compress(stream_matrix(B.astype(np.float32), R, C), self.ld.fmt,
                     word_width=self.ld.decoder.word_width, max_len=self.ld.decoder.max_len)
        golden_rows = weight_stream_rows(c)
        b_dec = unstream(golden_rows, K, N, R, C).astype(B.dtype)
        expected = matmul(A, b_dec, pe, "ws", R, C)
        weights_ok = np.array_equal(b_dec, B)
        if c.code.n_symbols:
            await self.load(self.ld.table_writes(c.code, [int(v) for v in c.values]),
                            self.ld.cfg_layout)
        self.drivers["start"].append(pack_struct(self.ld.start_fields(c),
                                                 self.ld.start_layout))
        for name in ("words", "row_words", "count_words"):
            if name in self.drivers:
                self.send(name, getattr(c, name).tolist())
        t = Tiling(M, K, N, R, C, "ws")
        Ap, _ = t.pad(A, b_dec)
        base = self.base
        self.timed_out = False
        for row, last, src in t.act_transfers(Ap):
            psum = None
            if src is not None:   # partial sums come back from the array
                for _ in range(20_000):
                    if len(self.out.items) > base + src:
                        break
                    await RisingEdge(self.dut.clk)
                else:
                    self.timed_out = True
                    return None, expected, weights_ok
                psum = unpack_results(self.arr, self.out.items[base + src])[1]
            self.drivers["acts"].append(pack_acts(self.arr, [int(x) for x in row], last=last,
                                                  psum=psum))
        n = t.total_results
        got, _ = await self.collect(base, n, 200 * n + 20_000)
        if self.timed_out:
            return None, expected, weights_ok
        rows = [unpack_results(self.arr, w)[0] for w in got[:n]]
        self.base += n
        return t.assemble(np.array(rows, dtype=object)), expected, weights_ok


@cocotb.test()
async def compressed_gemms(dut):
    p = get_params()
    seed = int(p.get("seed", 1))
    comp = build_unit(p)
    rng = np.random.default_rng(seed)
    start_clock(dut)
    tb = TB(dut, comp, seed)
    await reset(dut)
    sb = Scoreboard()
    gemms = p.get("gemms")
    if not gemms:   # hwgen sim: --vectors sets M (results = M x N per GEMM)
        m = max(1, int(p.get("vectors") or 64) // 16)
        gemms = [[m, 13, 9, d] for d in (0.5, 0.0, 0.01, 1.0)]

    async def run_case(gemm, idle, bp):
        M, K, N, density = gemm
        name = f"{M}x{K}x{N} density {density:.0%}"
        A, B = operands(rng, comp.array.pe, M, K, N, density)
        got, exp, weights_ok = await tb.gemm(A, B)
        if not weights_ok:
            sb.add(mismatches=1, first_mismatches=[
                f"{name} (idle {idle}, back-pressure {bp}): golden loader rows do not give "
                f"back B"])
        exp_flat = [int(v) for v in exp.ravel()]
        got_flat = [] if got is None else \
            [int(v) for v in np.asarray(got).astype(exp.dtype).ravel()]
        return Outcome(name, exp_flat, got_flat, item=lambda i: f"C[{i // N},{i % N}]")

    runs = [(g, p.get("idle", 0.3), p.get("backpressure", 0.3)) for g in gemms]
    runs.append((gemms[0], 0.0, 0.0))
    await tb.sweep(sb, runs, run_case, what="GEMMs")
    extra = len(tb.out.items) - tb.base
    if extra and not tb.timed_out:
        sb.add(mismatches=extra,
               first_mismatches=[f"{extra} result rows after the last expected one"])
    sb.finish()
    assert sb.mismatches == 0, sb.lines
