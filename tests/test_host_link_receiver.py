"""The request framer alone (:class:`hwgen.host_link.receiver.FrameReceiver`): frames from a
byte stream into a request and the staging buffer, with every receive-side error of
``docs/protocol.md``."""

import gc

import pytest
from amaranth.hdl import Module
from amaranth.lib.memory import Memory

from hwgen.host_link import protocol as P
from hwgen.host_link.receiver import FrameReceiver
from stream_tb import run_sim

MAXP, TIMEOUT = 16, 30


def make():
    m = Module()
    m.submodules.rx = rx = FrameReceiver(MAXP, TIMEOUT)
    m.submodules.stage = stage = Memory(shape=8, depth=MAXP, init=[])
    wp = stage.write_port()
    m.d.comb += [wp.addr.eq(rx.stage.addr), wp.data.eq(rx.stage.data), wp.en.eq(rx.stage.en)]
    return m, rx, stage


async def send(ctx, rx, data, gap=2):
    """Bytes as the UART delivers them: one-cycle pulses, ``gap`` idle cycles apart."""
    for b in data:
        ctx.set(rx.rx.payload, b)
        ctx.set(rx.rx.valid, 1)
        await ctx.tick()
        ctx.set(rx.rx.valid, 0)
        for _ in range(gap):
            await ctx.tick()


async def take(ctx, rx, wait=0):
    """Wait for a frame, hold it ``wait`` cycles, take it; return it and the cycles waited."""
    n = 0
    while not ctx.get(rx.frame.valid):
        await ctx.tick()
        n += 1
    frame = ctx.get(rx.frame.payload)
    for _ in range(wait):
        await ctx.tick()
    assert ctx.get(rx.frame.valid) and ctx.get(rx.frame.payload) == frame   # held
    ctx.set(rx.frame.ready, 1)
    await ctx.tick()
    ctx.set(rx.frame.ready, 0)
    return frame, n


def test_good_frame_and_staging():
    m, rx, stage = make()
    payload = bytes([1, 0x34, 0x12, 3, 0, 0xAA, 0xBB, 0xCC, 0xDD])
    got = {}

    async def tb(ctx):
        await send(ctx, rx, b"\x00\x13" + P.encode_request(P.CMD_WRITE, payload))  # noise first
        f, _ = await take(ctx, rx, wait=5)
        got["frame"] = f
        got["stage"] = [ctx.get(stage.data[i]) for i in range(len(payload))]
        await send(ctx, rx, P.encode_request(P.CMD_STATUS))     # no payload
        got["status"], _ = await take(ctx, rx)

    run_sim(m, tb, cycles=2000)
    f = got["frame"]
    assert (f.status, f.cmd, f.length) == (P.ST_OK, P.CMD_WRITE, len(payload))
    assert list(f.args.bytes) == list(payload[:5])
    assert (f.args.buffer.buf, f.args.buffer.addr, f.args.buffer.count) == (1, 0x1234, 3)
    assert got["stage"] == list(payload)
    s = got["status"]
    assert (s.status, s.cmd, s.length) == (P.ST_OK, P.CMD_STATUS, 0)


def test_bytes_while_a_frame_waits_are_dropped():
    m, rx, _ = make()
    got = []

    async def tb(ctx):
        await send(ctx, rx, P.encode_request(P.CMD_IDENTIFY))
        while not ctx.get(rx.frame.valid):
            await ctx.tick()
        await send(ctx, rx, P.encode_request(P.CMD_STATUS))     # while the first waits
        f, _ = await take(ctx, rx)
        got.append(f.cmd)
        await ctx.tick().repeat(3 * TIMEOUT)
        got.append(ctx.get(rx.frame.valid))
        await send(ctx, rx, P.encode_request(P.CMD_READ, bytes(5)))
        f, _ = await take(ctx, rx)
        got.append(f.cmd)

    run_sim(m, tb, cycles=2000)
    assert got == [P.CMD_IDENTIFY, 0, P.CMD_READ]


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 8, 9, 10])
def test_truncated_frame_times_out(cut):
    """A frame that stops (after its sync byte, in the length, the payload or the CRC) ends
    with ST_TIMEOUT (and the command if it came) after ``timeout_cycles`` idle cycles: it is
    handed on in the cycle after those."""
    m, rx, _ = make()
    frame = P.encode_request(P.CMD_WRITE, bytes(range(5)))
    got = {}

    async def tb(ctx):
        await send(ctx, rx, frame[:cut], gap=0)
        got["frame"], got["waited"] = await take(ctx, rx)

    run_sim(m, tb, cycles=500)
    f = got["frame"]
    assert f.status == P.ST_TIMEOUT and f.cmd == (P.CMD_WRITE if cut > 1 else 0)
    assert got["waited"] == TIMEOUT + 1


def test_bad_crc():
    m, rx, _ = make()
    frame = P.encode_request(P.CMD_READ, bytes(5))
    got = []

    async def tb(ctx):
        for bad in (frame[:-1] + bytes([frame[-1] ^ 0x40]),
                    frame[:5] + bytes([frame[5] ^ 1]) + frame[6:]):
            await send(ctx, rx, bad)
            f, _ = await take(ctx, rx)
            got.append((f.status, f.cmd))

    run_sim(m, tb, cycles=1000)
    assert got == [(P.ST_BAD_CRC, P.CMD_READ)] * 2


def test_oversized_length_waits_for_an_idle_line():
    """Length above the maximum: the rest of the frame (here with gaps shorter than the
    timeout, and a sync byte inside) is dropped; BAD_LENGTH comes once the line has been idle
    for the timeout, and the next frame is received normally."""
    m, rx, _ = make()
    got = {}

    async def tb(ctx):
        await send(ctx, rx, bytes([P.SYNC_REQUEST, P.CMD_WRITE, MAXP + 1, 0]))
        await send(ctx, rx, bytes([P.SYNC_REQUEST]) + bytes(range(30)), gap=TIMEOUT - 5)
        assert not ctx.get(rx.frame.valid)
        got["frame"], got["waited"] = await take(ctx, rx)
        await send(ctx, rx, P.encode_request(P.CMD_STATUS))
        got["next"], _ = await take(ctx, rx)

    run_sim(m, tb, cycles=3000)
    f = got["frame"]
    assert (f.status, f.cmd, f.length) == (P.ST_BAD_LENGTH, P.CMD_WRITE, MAXP + 1)
    assert got["waited"] == TIMEOUT + 1 - (TIMEOUT - 5)    # counted from the last byte
    assert (got["next"].status, got["next"].cmd) == (P.ST_OK, P.CMD_STATUS)


# a constructor that raises leaves its half-made component unused: no warning wanted here
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_parameters_are_checked():
    with pytest.raises(ValueError, match=r"^Maximum payload must be an integer 16\.\.65535, "
                                         r"not 8$"):
        FrameReceiver(8, 100)
    with pytest.raises(ValueError, match=r"^Timeout must be an integer 1\.\.4294967295, "
                                         r"not 0$"):
        FrameReceiver(16, 0)
    gc.collect()        # (while the warning filter holds)
