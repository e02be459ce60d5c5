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
from hwgen.golden.mac import mac
from hwgen.golden.matmul import PE_GRAMMAR, matmul
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
    from hwgen.golden.ternary import ternary_decode
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
    ((4, 4, "bs8x8"), ValueError, r"^PE 'bs8x8' is not supported by SystolicArray yet"),
    ((4, 4, "int9x"), ValueError, r"^Invalid PE spec 'int9x'"),
])
def test_array_errors(args, exc, msg):
    with pytest.raises(exc, match=msg):
        SystolicArray(*args)


def _simulate(dut, A, B, *, idle, backpressure, seed=1):
    """Run one GEMM through ``dut`` in the Amaranth simulator; return (C, events)."""
    R, C, df = dut.rows, dut.cols, dut.dataflow
    t = Tiling(A.shape[0], A.shape[1], B.shape[1], R, C, df)
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
        for row, last, src in acts:
            while rng.random() < idle or (src is not None and len(psums) <= src):
                await ctx.tick()
            psum = psums[src] if src is not None else None
            await put(ctx, dut.acts, pack_acts(dut, [int(x) for x in row], last=last,
                                               psum=psum), "acts")

    async def results_tb(ctx):
        while len(results) < t.total_results + 1 and cycle[0] < 20_000:
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


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_amaranth_sim_2x2_int8(dataflow):
    dut = SystolicArray(2, 2, "int8", dataflow)
    rng = np.random.default_rng(8)
    for shape in [(5, 7, 3), (1, 1, 1), (4, 2, 2)]:
        A = rng.integers(-128, 128, shape[:2])
        B = rng.integers(-128, 128, shape[1:])
        got, _ = _simulate(dut, A, B, idle=0.3, backpressure=0.4)
        assert np.array_equal(got, matmul(A, B, "int8", dataflow, 2, 2))
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
