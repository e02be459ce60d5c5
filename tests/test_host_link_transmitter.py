"""The response framer alone (:class:`hwgen.host_link.transmitter.FrameTransmitter`): a header
and payload bytes in, the response frame out (checked against the host's decoder), under an
idle payload source and a slow byte sink; the header is taken with the frame's last byte."""

import random

import pytest

from hwgen.host_link import protocol as P
from hwgen.host_link.transmitter import FrameTransmitter
from stream_tb import run_sim


@pytest.mark.parametrize("status, cmd, payload", [
    (P.ST_OK, P.CMD_IDENTIFY, bytes(range(40))),
    (P.ST_OK, P.CMD_WRITE, b""),
    (P.ST_BAD_CRC, P.CMD_READ, b""),
    (P.ST_RUN_TIMEOUT, P.CMD_RUN, b"\x01\x02\x03\x04"),
    (P.ST_OK, P.CMD_READ, bytes(range(255, -1, -1)) + bytes(44)),
], ids=["identify", "write", "bad_crc", "run_timeout", "read_300"])
def test_frames(status, cmd, payload):
    dut = FrameTransmitter()
    rng = random.Random(len(payload))
    out, done_at = bytearray(), []

    async def source(ctx):
        ctx.set(dut.header.payload, {"status": status, "cmd": cmd, "length": len(payload)})
        ctx.set(dut.header.valid, 1)
        for b in payload:
            while rng.random() < 0.3:
                await ctx.tick()
            ctx.set(dut.payload.payload, b)
            ctx.set(dut.payload.valid, 1)
            await ctx.tick().until(dut.payload.ready)
            ctx.set(dut.payload.valid, 0)
        await ctx.tick().until(dut.header.ready)
        ctx.set(dut.header.valid, 0)
        for _ in range(20):         # nothing more comes out
            await ctx.tick()

    async def sink(ctx):
        while True:
            ready = rng.random() < 0.5
            ctx.set(dut.tx.ready, ready)
            _, _, valid, byte, taken = await ctx.tick().sample(dut.tx.valid, dut.tx.payload,
                                                               dut.header.ready)
            if valid and ready:
                out.append(byte)
            if taken:
                done_at.append(len(out))

    run_sim(dut, source, sink, cycles=20_000)
    assert bytes(out) == P.encode_response(status, cmd, payload)
    assert done_at == [len(out)]        # taken with the last byte, once
