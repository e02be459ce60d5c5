"""The link controller alone (:class:`hwgen.host_link.controller.LinkController`), the test
playing receiver, decoder, buffer access, sequencer and transmitter: one response per request
with the right status, command, length and payload; WRITE/READ/RUN handed on with their
arguments; the STATUS counters as ``docs/protocol.md`` defines them; a request released only
once its response has been sent."""

import struct

from hwgen.host_link import protocol as P
from hwgen.host_link.controller import LinkController
from stream_tb import run_sim, tick_until, ticks

IDENT = b"HWGN-test-ident"
CYCLES = 0x01020304


def test_requests_and_counters():
    dut = LinkController(IDENT)
    log = []            # (what, details) in order
    run_status = {}

    async def access(ctx):          # BufferAccess: a WRITE takes 3 cycles; READ sends bytes
        while True:
            await tick_until(ctx, dut.access.valid)
            cmd = ctx.get(dut.access.payload)
            log.append(("access", (cmd.write, cmd.buf, cmd.addr, cmd.count)))
            if cmd.write:
                await ticks(ctx, 3)
                ctx.set(dut.access.ready, 1)
                await ctx.tick()
                ctx.set(dut.access.ready, 0)
            else:
                for i in range(cmd.count):
                    ctx.set(dut.read_data.payload, 0xA0 + i)
                    ctx.set(dut.read_data.valid, 1)
                    if i == cmd.count - 1:
                        ctx.set(dut.access.ready, 1)    # taken with the last byte
                    await tick_until(ctx, dut.read_data.ready)
                    ctx.set(dut.access.ready, 0)
                ctx.set(dut.read_data.valid, 0)
            await ctx.tick()
            assert not ctx.get(dut.access.valid), "a command carried out twice"

    async def sequencer(ctx):
        ctx.set(dut.run_cycles, CYCLES)
        while True:
            await tick_until(ctx, dut.run.valid)
            args = ctx.get(dut.run.payload)
            log.append(("run", (args.tiles, args.tile_len, args.flags.as_bits())))
            await ticks(ctx, 4)
            ctx.set(dut.run_status, run_status["next"])
            ctx.set(dut.run.ready, 1)
            await ctx.tick()
            ctx.set(dut.run.ready, 0)

    async def host(ctx):
        async def request(cmd, args=b"\0" * 5, length=5, status=P.ST_OK, check=P.ST_OK,
                          reply_length=0, run=P.ST_OK):
            run_status["next"] = run
            ctx.set(dut.request.payload, {"status": status, "cmd": cmd, "length": length,
                                          "args": {"bytes": list(args)}})
            ctx.set(dut.check, check)
            ctx.set(dut.reply_length, reply_length)
            ctx.set(dut.request.valid, 1)
            # the transmitter: wait for the header, take its payload, then the frame is sent
            while not ctx.get(dut.header.valid):
                assert not ctx.get(dut.request.ready)
                await ctx.tick()
            head = ctx.get(dut.header.payload)
            ctx.set(dut.payload.ready, 1)
            data = bytearray()
            while len(data) < head.length:
                assert not ctx.get(dut.request.ready)
                _, _, valid, byte = await ctx.tick().sample(dut.payload.valid,
                                                            dut.payload.payload)
                if valid:
                    data.append(byte)
            ctx.set(dut.payload.ready, 0)
            assert not ctx.get(dut.request.ready)
            ctx.set(dut.header.ready, 1)
            _, _, released = await ctx.tick().sample(dut.request.ready)
            ctx.set(dut.header.ready, 0)
            ctx.set(dut.request.valid, 0)
            assert released, "request not released with the end of its response"
            await ctx.tick()
            log.append(("response", (head.status, head.cmd, bytes(data))))

        await request(P.CMD_STATUS, length=0)
        await request(P.CMD_IDENTIFY, length=0)
        await request(P.CMD_WRITE, status=P.ST_BAD_CRC)                 # from the receiver
        await request(P.CMD_READ, check=P.ST_OUT_OF_RANGE)              # from the decoder
        await request(P.CMD_WRITE, struct.pack("<BHH", 1, 0x0203, 4), length=5 + 8)
        await request(P.CMD_READ, struct.pack("<BHH", 2, 0x0001, 3), reply_length=3)
        await request(P.CMD_RUN, struct.pack("<HHB", 7, 9, 0x31))
        await request(P.CMD_RUN, struct.pack("<HHB", 1, 2, 0), run=P.ST_RUN_TIMEOUT)
        await request(P.CMD_RUN, struct.pack("<HHB", 99, 2, 0), run=P.ST_OUT_OF_RANGE)
        await request(P.CMD_STATUS, length=0)

    run_sim(dut, host, access, sequencer, cycles=5000)
    cyc = struct.pack("<I", CYCLES)
    assert log == [
        ("response", (P.ST_OK, P.CMD_STATUS, bytes(6) + cyc)),
        ("response", (P.ST_OK, P.CMD_IDENTIFY, IDENT)),
        ("response", (P.ST_BAD_CRC, P.CMD_WRITE, b"")),
        ("response", (P.ST_OUT_OF_RANGE, P.CMD_READ, b"")),
        ("access", (1, 1, 0x0203, 4)),
        ("response", (P.ST_OK, P.CMD_WRITE, b"")),
        ("access", (0, 2, 0x0001, 3)),
        ("response", (P.ST_OK, P.CMD_READ, bytes([0xA0, 0xA1, 0xA2]))),
        ("run", (7, 9, 0x31)),
        ("response", (P.ST_OK, P.CMD_RUN, cyc)),
        ("run", (1, 2, 0)),
        ("response", (P.ST_RUN_TIMEOUT, P.CMD_RUN, cyc)),
        ("run", (99, 2, 0)),
        ("response", (P.ST_OUT_OF_RANGE, P.CMD_RUN, b"")),
        # frames_ok 5 (STATUS, IDENTIFY, WRITE, READ, RUN), errors 4, the last OUT_OF_RANGE,
        # last run RUN_TIMEOUT (the refused one did not run)
        ("response", (P.ST_OK, P.CMD_STATUS,
                      struct.pack("<HHBB", 5, 4, P.ST_OUT_OF_RANGE, P.ST_RUN_TIMEOUT) + cyc)),
    ]
