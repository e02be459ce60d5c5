# amaranth: UnusedElaboratable=no
"""Compressed weights on the systolic array: :class:`hwgen.arrays.wload.CompressedSystolic`
(sHAM or HAM decoder -> :class:`~hwgen.arrays.wload.WeightLoader` -> weight-stationary
:class:`~hwgen.arrays.systolic.SystolicArray`) against :func:`hwgen.golden.matmul.matmul`.

For each GEMM a random sparse integer weight matrix ``B`` (densities 0 %, 10 %, 50 %, 100 %)
is put in stream layout (:func:`hwgen.golden.compress.stream_matrix`) and encoded by the golden
model; the hardware gets only the code table and the container's word sections. The
activations and the partial-sum feedback come from the host tiler exactly as in
``rtl_tests/test_systolic.py``. The expected result is the golden ``matmul`` of ``A`` with the
weights the golden loader model (:func:`~hwgen.golden.compress.weight_stream_rows`) says the
array receives, mapped back to ``K x N``; the test also checks that these are ``B`` (lossless
coding). Random idle cycles on every input and back-pressure on ``results``, then one run
without stalls.

Parameters: ``rows``, ``cols``, ``pe``, ``fmt``, ``gemms`` (list of ``[M, K, N, density]``),
``idle``, ``backpressure``, ``seed`` (``hwgen sim wload``: ``vectors`` sets M), and the
loader's ``transfer_bits``, ``word_width``, ``max_len``, ``rank_bits``, ``count_width``.
"""

import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hwgen.arrays.systolic import pack_acts, unpack_results
from hwgen.arrays.wload import CompressedSystolic
from hwgen.golden.compress import compress, stream_matrix, weight_stream_rows
from hwgen.golden.matmul import matmul
from hwgen.golden.rounding import encode
from hwgen.golden.tiling import Tiling
from sim.params import get_params, write_report
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, settle, start_clock

LOADER_KEYS = ("transfer_bits", "word_width", "max_len", "rank_bits", "count_width")


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


class TB:
    def __init__(self, dut, comp, seed):
        self.dut, self.comp = dut, comp
        self.arr, self.ld = comp.array, comp.loader
        names = ["cfg", "start", "words", "acts"]
        if self.ld.fmt == "sham":
            names += ["row_words", "count_words"]
        self.src = {n: StreamDriver(dut, n, seed=seed + i) for i, n in enumerate(names)}
        self.snk = StreamMonitor(dut, "results", seed=seed + 9)
        self.base = 0

    def stalls(self, idle, bp):
        for d in self.src.values():
            d.idle_prob = idle
        self.snk.backpressure = bp

    async def gemm(self, A, B):
        """Weights compressed through the loader, activations through the tiler; returns
        ``(result, expected, weights_ok)`` or None on a timeout."""
        R, C, pe = self.arr.rows, self.arr.cols, self.arr.pe
        M, K = A.shape
        N = B.shape[1]
        c = compress(stream_matrix(B.astype(np.float32), R, C), self.ld.fmt,
                     word_width=self.ld.decoder.word_width, max_len=self.ld.decoder.max_len)
        golden_rows = weight_stream_rows(c)
        b_dec = unstream(golden_rows, K, N, R, C).astype(B.dtype)
        expected = matmul(A, b_dec, pe, "ws", R, C)
        s = self.src
        if c.code.n_symbols:
            for tw in self.ld.table_writes(c.code, [int(v) for v in c.values]):
                s["cfg"].append(pack_struct(tw, self.ld.cfg_layout))
            await s["cfg"].wait_idle()
        s["start"].append(pack_struct(self.ld.start_fields(c), self.ld.start_layout))
        for name in ("words", "row_words", "count_words"):
            if name in s:
                for x in getattr(c, name).tolist():
                    s[name].append(int(x))
        t = Tiling(M, K, N, R, C, "ws")
        Ap, _ = t.pad(A, b_dec)
        base = self.base
        for row, last, src in t.act_transfers(Ap):
            psum = None
            if src is not None:   # partial sums come back from the array
                for _ in range(20_000):
                    if len(self.snk.items) > base + src:
                        break
                    await RisingEdge(self.dut.clk)
                else:
                    return None
                psum = unpack_results(self.arr, self.snk.items[base + src])[1]
            s["acts"].append(pack_acts(self.arr, [int(x) for x in row], last=last, psum=psum))
        n = t.total_results
        try:
            await self.snk.wait_for(base + n, timeout_cycles=200 * n + 20_000)
        except TimeoutError:
            return None
        if not await settle(self.dut, list(s.values()), 20_000):
            return None
        rows = [unpack_results(self.arr, w)[0] for w in self.snk.items[base:base + n]]
        self.base += n
        return t.assemble(np.array(rows, dtype=object)), expected, np.array_equal(b_dec, B)


@cocotb.test()
async def compressed_gemms(dut):
    p = get_params()
    seed = int(p.get("seed", 1))
    comp = CompressedSystolic(p["rows"], p["cols"], p["pe"], p["fmt"],
                              **{k: p[k] for k in LOADER_KEYS})
    rng = np.random.default_rng(seed)
    start_clock(dut)
    tb = TB(dut, comp, seed)
    await reset(dut)
    t0 = time.monotonic()
    gemms = p.get("gemms")
    if not gemms:   # hwgen sim: --vectors sets M (results = M x N per GEMM)
        m = max(1, int(p.get("vectors") or 64) // 16)
        gemms = [[m, 13, 9, d] for d in (0.5, 0.0, 0.01, 1.0)]
    vectors = mismatches = 0
    first = []
    runs = [(g, p.get("idle", 0.3), p.get("backpressure", 0.3)) for g in gemms]
    runs.append((gemms[0], 0.0, 0.0))
    for (M, K, N, density), idle, bp in runs:
        tb.stalls(idle, bp)
        A, B = operands(rng, comp.array.pe, M, K, N, density)
        label = f"{M}x{K}x{N} density {density:.0%} idle {idle} bp {bp}"
        r = await tb.gemm(A, B)
        if r is None:
            mismatches += 1
            first.append(f"{label}: timed out; later GEMMs not run")
            break
        got, exp, weights_ok = r
        got = np.asarray(got).astype(exp.dtype)
        vectors += exp.size
        if not weights_ok:
            mismatches += 1
            first.append(f"{label}: golden loader rows do not give back B")
        bad = np.argwhere(got != exp)
        mismatches += len(bad)
        first += [f"{label}: C[{m},{n}] got {int(got[m, n])}, expected {int(exp[m, n])}"
                  for m, n in bad[:3]]
    extra = len(tb.snk.items) - tb.base
    if extra:
        mismatches += extra
        first.append(f"{extra} result rows after the last expected one")
    write_report({"vectors": vectors, "mismatches": mismatches, "first_mismatches": first[:10],
                  "seconds": time.monotonic() - t0})
    assert mismatches == 0, first


def test_wload_sham_2x2_int8():
    from sim.runner import run
    loader = dict(transfer_bits=8, word_width=16, max_len=12, rank_bits=8, count_width=16)
    comp = CompressedSystolic(2, 2, "int8", "sham", **loader)
    gemms = [[6, 7, 5, 0.5], [3, 9, 3, 0.0], [5, 8, 6, 1.0], [4, 20, 4, 0.1]]
    r = run(comp, test_module="rtl_tests.test_wload",
            params=dict(rows=2, cols=2, pe="int8", fmt="sham", gemms=gemms, seed=3, **loader))
    assert r.passed, r.report.get("first_mismatches")
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
