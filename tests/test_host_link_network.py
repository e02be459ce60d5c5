"""The network sequencer alone (:class:`hwgen.host_link.network.NetSequencer`): what the
simulated boards cannot show. A run that ends in ``ST_RUN_TIMEOUT`` (the watchdog, on a
board) ends the inference with that status at once, with no further run and no write of a
layer's output; the sequencer then takes the next request. The runs are answered here by the
testbench in place of the run sequencer (their arguments are checked against the table)."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from hwgen.arrayspec import ArraySpec
from hwgen.host_link import protocol as P
from hwgen.host_link.network import NetSequencer
from stream_tb import run_sim

R = C = 2
D = dict(weights=64, acts=32, results=8, bias=8)
RECORDS = [P.LayerRecord(0, 3, 2, 0, 8, 0, shift=4, relu=True),
           P.LayerRecord(12, 2, 1, 8, 0, 2)]


def make():
    spec = ArraySpec(R, C, "int8", "ws", 0, 0)
    bits = P.buffer_word_bits(spec)
    m = Module()
    m.submodules.net = net = NetSequencer(spec, depths=D, max_payload=64, max_layers=4)
    payload = P.load_net_payload(RECORDS)
    m.submodules.stage = stage = Memory(shape=8, depth=64, init=list(payload))
    m.submodules.rmem = rmem = Memory(shape=bits["results"], depth=D["results"], init=[])
    m.submodules.bmem = bmem = Memory(shape=bits["results"], depth=D["bias"], init=[])
    m.submodules.amem = amem = Memory(shape=bits["acts"], depth=D["acts"], init=[])
    wiring.connect(m, net.stage_rd, stage.read_port())
    wiring.connect(m, net.results_rd, rmem.read_port())
    wiring.connect(m, net.results_wr, rmem.write_port())
    wiring.connect(m, net.bias_rd, bmem.read_port())
    wiring.connect(m, net.acts_wr, amem.write_port())
    return m, net


def test_a_run_timeout_ends_the_inference():
    m, net = make()
    seen = dict(runs=[], act_writes=0)

    async def bench(ctx):
        # LOAD_NET
        ctx.set(net.load.payload, len(RECORDS))
        ctx.set(net.load.valid, 1)
        status, = await ctx.tick().sample(net.load_status).until(net.load.ready)
        ctx.set(net.load.valid, 0)
        assert status == P.ST_OK and ctx.get(net.loaded)
        assert (ctx.get(net.k0), ctx.get(net.a_in0), ctx.get(net.n_last)) == (3, 0, 1)
        for timeout_at in (1, 2):         # the first run of the first layer, then the second
            seen["runs"].clear()
            ctx.set(net.infer.valid, 1)
            while True:
                await ctx.tick()
                if ctx.get(net.acts_wr.en):
                    seen["act_writes"] += 1
                if ctx.get(net.run.valid):
                    seen["runs"].append((ctx.get(net.run.payload.tiles),
                                         ctx.get(net.w_base), ctx.get(net.a_base)))
                    for _ in range(3):                       # a run of a few cycles
                        await ctx.tick()
                    bad = len(seen["runs"]) == timeout_at
                    ctx.set(net.run_status, P.ST_RUN_TIMEOUT if bad else P.ST_OK)
                    ctx.set(net.run.ready, 1)
                    _, _, done, status = await ctx.tick().sample(net.infer.ready, net.status)
                    ctx.set(net.run.ready, 0)
                    if bad:
                        # the inference ends in the cycle after the failed run
                        while not done:
                            _, _, done, status = await ctx.tick().sample(net.infer.ready,
                                                                         net.status)
                        assert status == P.ST_RUN_TIMEOUT
                        break
            ctx.set(net.infer.valid, 0)
            await ctx.tick()
            assert not ctx.get(net.busy)
            # the runs asked for: layer 0, output tiles 0 and 1 (3 input tiles, 3·R rows each)
            assert seen["runs"] == [(3, 0, 0), (3, 6, 0)][:timeout_at]
        # one layer output row was written (after the first tile of the second inference)
        assert seen["act_writes"] == 1

    run_sim(m, bench, cycles=5000)
