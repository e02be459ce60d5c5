"""Buffer copies alone (:class:`hwgen.host_link.access.BufferAccess`) on real memories: WRITE
copies staged little-endian words to the right buffer and addresses, nothing else; READ sends
them back as bytes under back-pressure; a buffer is never read in a cycle it is written (SPRAM);
each command is taken once, when done."""

import random

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from hwgen.host_link import protocol as P
from hwgen.host_link.access import BufferAccess
from stream_tb import run_sim

BITS = dict(weights=20, acts=16, results=70)      # 3, 2 and 9 bytes a word
D = dict(weights=8, acts=16, results=4)
MAXP = 64


def make(stage_bytes):
    m = Module()
    m.submodules.acc = acc = BufferAccess(word_bits=BITS, depths=D, max_payload=MAXP)
    m.submodules.stage = stage = Memory(shape=8, depth=MAXP,
                                        init=list(stage_bytes) + [0] * (MAXP - len(stage_bytes)))
    wiring.connect(m, acc.stage, stage.read_port())
    mems = {}
    for k in ("weights", "acts", "results"):
        init = [(0x5A5A5A5A5A5A5A5A5A * (i + 1)) & ((1 << BITS[k]) - 1) for i in range(D[k])]
        m.submodules[k] = mems[k] = Memory(shape=BITS[k], depth=D[k], init=init)
        wiring.connect(m, getattr(acc, f"{k}_rd"), mems[k].read_port())
        if k != "results":
            wiring.connect(m, getattr(acc, f"{k}_wr"), mems[k].write_port())
    return m, acc, mems


def words_bytes(words, nbytes):
    return b"".join(w.to_bytes(nbytes, "little") for w in words)


def test_write_then_read_back():
    rng = random.Random(1)
    w_words = [rng.randrange(1 << BITS["weights"]) for _ in range(5)]
    a_words = [rng.randrange(1 << BITS["acts"]) for _ in range(3)]
    wb = P.word_bytes(BITS)
    jobs = [  # (staged payload, command)
        (bytes(5) + words_bytes(w_words, wb["weights"]),
         {"write": 1, "buf": 0, "addr": 2, "count": 5}),
        (bytes(5) + words_bytes(a_words, wb["acts"]),
         {"write": 1, "buf": 1, "addr": 13, "count": 3}),
    ]
    # one staging buffer per run: write the weights, then (second run) the activations
    results = {}
    for n, (staged, cmd) in enumerate(jobs):
        m, acc, mems = make(staged)
        before = {k: [mems[k].init[i] for i in range(D[k])] for k in mems}
        reads, clashes, taken = {}, [], []

        async def tb(ctx):
            await write(ctx, acc, cmd, taken)
            for buf, name in enumerate(("weights", "acts", "results")):
                reads[name] = await read(ctx, acc, buf, 0, D[name], wb[name], rng)

        async def spram_rule(ctx):
            while True:
                for k in ("weights", "acts"):
                    if ctx.get(getattr(acc, f"{k}_wr").en) and ctx.get(getattr(acc, f"{k}_rd").en):
                        clashes.append(k)
                await ctx.tick()

        run_sim(m, tb, spram_rule, cycles=20_000)
        results[n] = (before, reads, clashes, taken)

    before, reads, clashes, taken = results[0]
    exp_w = list(before["weights"])
    exp_w[2:7] = w_words
    assert reads["weights"] == exp_w
    assert reads["acts"] == before["acts"] and reads["results"] == before["results"]
    assert taken == [1] and not clashes
    before, reads, clashes, taken = results[1]
    exp_a = list(before["acts"])
    exp_a[13:16] = a_words
    assert reads["acts"] == exp_a and reads["weights"] == before["weights"]
    assert taken == [1] and not clashes


async def write(ctx, acc, cmd, taken):
    ctx.set(acc.cmd.payload, cmd)
    ctx.set(acc.cmd.valid, 1)
    await ctx.tick().until(acc.cmd.ready)
    taken.append(1)
    ctx.set(acc.cmd.valid, 0)
    for _ in range(10):         # nothing more happens once the command is taken
        assert not ctx.get(acc.weights_wr.en) and not ctx.get(acc.acts_wr.en)
        await ctx.tick()


async def read(ctx, acc, buf, addr, count, nbytes, rng):
    ctx.set(acc.cmd.payload, {"write": 0, "buf": buf, "addr": addr, "count": count})
    ctx.set(acc.cmd.valid, 1)
    data = bytearray()
    while True:
        ready = rng.random() < 0.6
        ctx.set(acc.data.ready, ready)
        _, _, valid, byte, done = await ctx.tick().sample(acc.data.valid, acc.data.payload,
                                                          acc.cmd.ready)
        if valid and ready:
            data.append(byte)
        if done:
            break
    ctx.set(acc.cmd.valid, 0)
    ctx.set(acc.data.ready, 0)
    assert len(data) == count * nbytes
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]
