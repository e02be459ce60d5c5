"""The command decoder alone (:class:`hwgen.host_link.decoder.RequestDecoder`): every request
checked against a reference written from the error table of ``docs/protocol.md``, over edge
cases and random requests, for three arrays (RUN precision flags differ)."""

import random
import struct

import pytest

from hwgen.arrayspec import ArraySpec
from hwgen.host_link import protocol as P
from hwgen.host_link.decoder import RequestDecoder
from stream_tb import run_comb

WB = dict(weights=3, acts=2, results=12)
D = dict(weights=8, acts=16, results=8)
MAXP = 64


def reference(spec, cmd, length, args):
    """(status, READ response length) per docs/protocol.md (WRITE and READ: buf, addr, count;
    RUN: tiles, tile_len, flags)."""
    buf, addr, count = struct.unpack("<BHH", args)
    tiles, tlen, flags = struct.unpack("<HHB", args)
    names = {0: "weights", 1: "acts", 2: "results"}
    if cmd in (P.CMD_IDENTIFY, P.CMD_STATUS):
        return (P.ST_OK if length == 0 else P.ST_BAD_LENGTH), None
    if cmd == P.CMD_WRITE:
        if length < 5:
            return P.ST_BAD_LENGTH, None
        if buf not in (0, 1):
            return P.ST_OUT_OF_RANGE, None
        if length != 5 + count * WB[names[buf]]:
            return P.ST_BAD_LENGTH, None
        if count == 0 or addr + count > D[names[buf]]:
            return P.ST_OUT_OF_RANGE, None
        return P.ST_OK, None
    if cmd == P.CMD_READ:
        if length != 5:
            return P.ST_BAD_LENGTH, None
        if buf not in names:
            return P.ST_OUT_OF_RANGE, None
        n = count * WB[names[buf]]
        if count == 0 or addr + count > D[names[buf]] or n > MAXP:
            return P.ST_OUT_OF_RANGE, None
        return P.ST_OK, n
    if cmd == P.CMD_RUN:
        if length != 5:
            return P.ST_BAD_LENGTH, None
        bits, low = flags >> 4, bool(flags & P.RUN_LOW)
        bad_bits = bits > spec.weight_bits if spec.serial else bits != 0
        bad_low = low and spec.pe.kind != "dualprec"
        if tiles == 0 or tlen == 0 or bad_bits or bad_low or (
                spec.dataflow == "ws" and tlen > D["results"]):
            return P.ST_OUT_OF_RANGE, None
        return P.ST_OK, None
    return P.ST_UNKNOWN_CMD, None


def cases(rng):
    out = []
    for cmd in (P.CMD_IDENTIFY, P.CMD_STATUS):
        out += [(cmd, 0, bytes(5)), (cmd, 1, bytes(5)), (cmd, 300, bytes(5))]
    for buf in range(4):
        for addr, count in ((0, 1), (0, 0), (7, 1), (7, 2), (15, 1), (16, 1), (0, 8), (0, 9),
                            (0xFFFF, 1), (0xFFFF, 2), (0, 0xFFFF), (2, 32), (0, 21), (0, 22)):
            args = struct.pack("<BHH", buf, addr, count)
            for wb in (WB["weights"], WB["acts"]):
                out.append((P.CMD_WRITE, 5 + count * wb, args))
            out += [(P.CMD_WRITE, 4, args), (P.CMD_READ, 5, args), (P.CMD_READ, 6, args),
                    (P.CMD_WRITE, 5 + 3 * count + 1, args)]
    for tiles, tlen in ((1, 1), (0, 1), (1, 0), (5, 8), (5, 9), (0xFFFF, 0xFFFF)):
        for flags in (0, P.RUN_ACCUMULATE, P.RUN_LOW, 1 << 4, 8 << 4, 9 << 4, 15 << 4):
            out.append((P.CMD_RUN, 5, struct.pack("<HHB", tiles, tlen, flags)))
    out += [(P.CMD_RUN, 4, bytes(5)), (0x00, 0, bytes(5)), (0x06, 5, bytes(5)),
            (0x7E, 0, bytes(5)), (0xFF, 0, bytes(5))]
    for _ in range(300):
        cmd = rng.choice([1, 2, 3, 4, 5, 6])
        args = bytes([rng.randrange(4)]) + bytes(rng.randrange(256) for _ in range(4))
        if rng.random() < 0.5:
            args = args[:1] + struct.pack("<HH", rng.randrange(20), rng.randrange(20))
        length = rng.choice([0, 4, 5, 5 + 3 * (args[3] | args[4] << 8), rng.randrange(80)])
        out.append((cmd, length, args))
    return [(cmd, length & 0xFFFF, args) for cmd, length, args in out]   # a 16-bit field


@pytest.mark.parametrize("pe, dataflow", [("int8", "ws"), ("bs8x8", "ws"), ("dp8", "os")])
def test_against_the_documented_checks(pe, dataflow):
    spec = ArraySpec(2, 2, pe, dataflow)
    dut = RequestDecoder(spec, word_bytes=WB, depths=D, max_payload=MAXP)
    todo = cases(random.Random(pe))
    bad = []

    async def tb(ctx):
        for cmd, length, args in todo:
            ctx.set(dut.request, {"status": 0, "cmd": cmd, "length": length,
                                  "args": {"bytes": list(args)}})
            await ctx.delay(1e-9)
            got = ctx.get(dut.status)
            exp, n = reference(spec, cmd, length, args)
            if got != exp or (n is not None and ctx.get(dut.reply_length) != n):
                bad.append((cmd, length, args.hex(), got, exp, ctx.get(dut.reply_length), n))

    run_comb(dut, tb)
    assert not bad, bad[:5]
    # every status occurs in the cases
    seen = {reference(spec, *c)[0] for c in todo}
    assert seen == {P.ST_OK, P.ST_BAD_LENGTH, P.ST_OUT_OF_RANGE, P.ST_UNKNOWN_CMD}
