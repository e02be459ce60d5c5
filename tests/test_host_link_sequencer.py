"""The RUN sequencer alone (:class:`hwgen.host_link.sequencer.RunSequencer`) with a real 2×2
``int8`` systolic array and real buffers: weight-stationary K-chains (with and without
``RUN_ACCUMULATE``) and output-stationary tiles give ``A @ B`` exactly; a shape over the
buffers is refused before anything runs; ``abort`` stops a run and resets the array."""

import struct

import numpy as np
import pytest
from amaranth.hdl import Module, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from hwgen.arrays.systolic import SystolicArray
from hwgen.arrayspec import ArraySpec
from hwgen.host_link import protocol as P
from hwgen.host_link.sequencer import RunSequencer
from stream_tb import run_sim

R = C = 2
D = dict(weights=8, acts=16, results=8)


def make(dataflow, weights, acts, results=None):
    """Sequencer, array and buffers (filled with the given words)."""
    arr = SystolicArray(R, C, "int8", dataflow)
    spec = arr.spec
    bits = P.buffer_word_bits(spec)
    m = Module()
    m.submodules.seq = seq = RunSequencer(spec, depths=D)
    m.submodules.arr = ResetInserter({"sync": seq.array_reset})(arr)
    wiring.connect(m, seq.w_feed, arr.weights)
    wiring.connect(m, seq.a_feed, arr.acts)
    wiring.connect(m, arr.results, seq.r_capture)
    mems = {}
    for k, init in (("weights", weights), ("acts", acts), ("results", results)):
        init = list(init or []) + [0] * (D[k] - len(init or []))
        m.submodules[k] = mems[k] = Memory(shape=bits[k], depth=D[k], init=init)
        wiring.connect(m, getattr(seq, f"{k}_rd"), mems[k].read_port())
    wiring.connect(m, seq.results_wr, mems["results"].write_port())
    return m, seq, spec, mems


async def run(ctx, seq, tiles, tile_len, flags=0, abort_after=None):
    """One RUN; returns (status, cycles, cycles busy, array resets seen)."""
    ctx.set(seq.cmd.payload.as_value(),     # the arguments as on the wire
            int.from_bytes(struct.pack("<HHB", tiles, tile_len, flags), "little"))
    ctx.set(seq.cmd.valid, 1)
    busy = resets = 0
    while True:
        if abort_after is not None and busy >= abort_after:
            ctx.set(seq.abort, 1)
        _, _, done, status, b, rst = await ctx.tick().sample(seq.cmd.ready, seq.status,
                                                             seq.busy, seq.array_reset)
        busy += b
        resets += rst
        if done:
            break
    ctx.set(seq.cmd.valid, 0)
    ctx.set(seq.abort, 0)
    await ctx.tick()
    return status, ctx.get(seq.cycles), busy, resets


def ws_words(spec, A, B, tiles, L):
    """Weight rows of ``tiles`` K-tiles of B, activation rows of A (tile t's rows at t·L)."""
    w = [spec.pack_weights(B[t * R + k]) for t in range(tiles) for k in range(R)]
    a = [spec.pack_acts(A[i, t * R:(t + 1) * R]) & 0xFFFF for t in range(tiles)
         for i in range(L)]
    return w, a


def results(spec, mem, n):
    return [spec.unpack_results(mem.data[i])[0] for i in range(n)]


def test_weight_stationary_k_chain_and_accumulate():
    rng = np.random.default_rng(3)
    A, B = rng.integers(-128, 128, (3, 4)), rng.integers(-128, 128, (4, 2))
    A2, B2 = rng.integers(-128, 128, (3, 2)), rng.integers(-128, 128, (2, 2))
    spec = ArraySpec(R, C, "int8", "ws")
    spec_w, spec_a = ws_words(spec, A, B, 2, 3)
    m, seq, spec, mems = make("ws", spec_w, spec_a)
    got = {}

    async def tb(ctx):
        got["first"] = await run(ctx, seq, 2, 3)
        got["c1"] = [[int(x) for x in row] for row in (
            [spec.unpack_results(ctx.get(mems["results"].data[i]))[0] for i in range(3)])]
        # second run, one K-tile, continuing the sums (RUN_ACCUMULATE)
        w2, a2 = ws_words(spec, A2, B2, 1, 3)
        for i, word in enumerate(w2):
            ctx.set(mems["weights"].data[i], word)
        for i, word in enumerate(a2):
            ctx.set(mems["acts"].data[i], word)
        got["second"] = await run(ctx, seq, 1, 3, P.RUN_ACCUMULATE)
        got["c2"] = [spec.unpack_results(ctx.get(mems["results"].data[i]))[0]
                     for i in range(3)]

    run_sim(m, tb, cycles=5000)
    status, cycles, busy, resets = got["first"]
    assert status == P.ST_OK and resets == 1 and 0 < cycles <= busy
    assert got["c1"] == (A @ B).tolist()
    assert got["second"][0] == P.ST_OK
    assert got["c2"] == (A @ B + A2 @ B2).tolist()


def test_output_stationary_tiles():
    rng = np.random.default_rng(4)
    K, T = 3, 2
    tiles = [(rng.integers(-128, 128, (R, K)), rng.integers(-128, 128, (K, C)))
             for _ in range(T)]
    spec = ArraySpec(R, C, "int8", "os")
    w = [spec.pack_weights(Bt[k]) for At, Bt in tiles for k in range(K)]
    a = [spec.pack_acts(At[:, k]) & 0xFFFF for At, Bt in tiles for k in range(K)]
    m, seq, spec, mems = make("os", w, a)
    got = {}

    async def tb(ctx):
        got["run"] = await run(ctx, seq, T, K)
        got["c"] = [spec.unpack_results(ctx.get(mems["results"].data[i]))[0]
                    for i in range(T * R)]

    run_sim(m, tb, cycles=5000)
    assert got["run"][0] == P.ST_OK
    assert got["c"] == [row for At, Bt in tiles for row in (At @ Bt).tolist()]


@pytest.mark.parametrize("dataflow, tiles, tile_len", [
    ("ws", 5, 1),    # 5 tiles · 2 rows > 8 weight rows
    ("ws", 2, 9),    # 2 · 9 > 16 activation rows
    ("os", 3, 3),    # 3 tiles · 2 result rows = 6 ≤ 8, but 3 · 3 > 8 weight rows
    ("os", 5, 1),    # 5 · 2 > 8 result rows
])
def test_shape_over_the_buffers_is_refused(dataflow, tiles, tile_len):
    m, seq, spec, mems = make(dataflow, [1] * 8, [1] * 16, list(range(8)))
    got = {}

    async def tb(ctx):
        got["run"] = await run(ctx, seq, tiles, tile_len)
        got["res"] = [ctx.get(mems["results"].data[i]) for i in range(8)]

    run_sim(m, tb, cycles=1000)
    status, cycles, busy, resets = got["run"]
    assert status == P.ST_OUT_OF_RANGE and busy == 0 and resets == 0 and cycles == 0
    assert got["res"] == list(range(8))


def test_abort_stops_the_run_and_resets_the_array():
    spec = ArraySpec(R, C, "int8", "ws")
    m, seq, spec, mems = make("ws", [0] * 8, [0] * 16)
    got = {}

    async def tb(ctx):
        got["aborted"] = await run(ctx, seq, 4, 4, abort_after=5)
        got["again"] = await run(ctx, seq, 1, 2)

    run_sim(m, tb, cycles=2000)
    status, cycles, busy, resets = got["aborted"]
    assert status == P.ST_RUN_TIMEOUT and resets == 2 and busy == 6 and cycles == 5
    assert got["again"][0] == P.ST_OK
