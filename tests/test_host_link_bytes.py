"""The protocol pinned to bytes: request frames written out from the tables of
``docs/protocol.md`` (literal bytes, not built with ``encode_request``) go into a simulated
:class:`~hwgen.host_link.HostLinkCore` through its serial line, and every response must be
the literal bytes the document prescribes, errors included.

The board: a 2×2 ``int8`` weight-stationary array, buffers of 8/16/8 words, 64-byte payloads,
4 MHz clock, UART divider 4 (1 Mbaud), frame timeout 200 cycles. The CRC bytes below were
worked out with :func:`binascii.crc_hqx` (CRC-CCITT, polynomial 0x1021, here from 0xFFFF: the
document's CRC-16/CCITT-FALSE), an implementation independent of hwgen; the test recomputes
them with it, so a typo in a literal fails as such.
"""

import binascii

from amaranth.sim import Simulator

from hwgen.host_link import HostLinkCore

DIVISOR = 4
TIMEOUT = 200


def frame(text):
    return bytes.fromhex(text)


# -- requests (host → board): A5 | cmd | len (LE) | payload | CRC (MSB first) ------------------
STATUS = frame("A5 05 00 00 27 6C")
IDENTIFY = frame("A5 01 00 00 FB AC")
# WRITE buf 0 (weights), addr 0, count 2: rows (1, 2) and (3, 4), one byte per int8
WRITE_W = frame("A5 02 09 00  00 00 00 02 00  01 02 03 04  7E 97")
# the same with other weights (0x5C): a bad CRC, and cut short in the payload
WRITE_W_BAD_CRC = frame("A5 02 09 00  00 00 00 02 00  5C 5C 5C 5C  7E 97")
WRITE_W_TRUNCATED = frame("A5 02 09 00  00 00 00 02 00  5C 5C")
# WRITE buf 1 (activations), addr 0, count 1: the row (1, 1)
WRITE_A = frame("A5 02 07 00  01 00 00 01 00  01 01  63 DD")
READ_W = frame("A5 04 05 00  00 00 00 02 00  21 96")          # buf 0, addr 0, count 2
READ_R = frame("A5 04 05 00  02 00 00 01 00  30 46")          # buf 2 (results), count 1
READ_BUF3 = frame("A5 04 05 00  03 00 00 01 00  9A 17")       # no buffer 3
RUN = frame("A5 03 05 00  01 00 01 00 00  1D 8D")             # tiles 1, tile_len 1, flags 0
RUN_TOO_MANY = frame("A5 03 05 00  05 00 01 00 00  94 8B")    # 5 tiles · 2 rows > 8 words
UNKNOWN = frame("A5 7E 00 00 0F 95")
IDENTIFY_WITH_PAYLOAD = frame("A5 01 01 00 00 C5 44")

# -- responses (board → host): 5A | status | cmd | len (LE) | payload | CRC ---------------------
STATUS_FRESH = frame("5A 00 05 0A 00  00 00 00 00 00 00 00 00 00 00  F4 E6")
IDENTIFY_OK = frame(
    "5A 00 01 22 00"
    " 48 57 47 4E"      # "HWGN"
    " 01 02 02 00"      # version 1, 2 rows, 2 cols, ws
    " 02 02 08"         # bytes per word: weights (2 × int8), acts (2 × int8), results (2 × int32)
    " 08 00 10 00 08 00"   # depths 8, 16, 8
    " 40 00"            # max_payload 64
    " 00 09 3D 00"      # clock 4 000 000 Hz
    " 04 00"            # UART divider 4
    " C8 00 00 00"      # frame timeout 200 cycles
    " 04 69 6E 74 38"   # "int8"
    " C8 62")
WRITE_OK = frame("5A 00 02 00 00 EA A0")
READ_W_OK = frame("5A 00 04 04 00  01 02 03 04  FB 5A")
# (1, 1) @ [[1, 2], [3, 4]] = (4, 6), two int32 results
READ_R_OK = frame("5A 00 04 08 00  04 00 00 00 06 00 00 00  B7 01")
RUN_OK_HEAD = frame("5A 00 03 04 00")                         # + cycles (4) + CRC
BAD_CRC = frame("5A 01 02 00 00 9C 14")
TIMEOUT_ERR = frame("5A 02 02 00 00 07 C8")
UNKNOWN_CMD = frame("5A 03 7E 00 00 DC 15")
BAD_LENGTH = frame("5A 04 01 00 00 79 01")
OUT_OF_RANGE_READ = frame("5A 05 04 00 00 E4 45")
OUT_OF_RANGE_RUN = frame("5A 05 03 00 00 61 D5")


def crc_ok(f):
    """The CRC of a frame after its sync byte is 0 (docs/protocol.md)."""
    return binascii.crc_hqx(f[1:], 0xFFFF) == 0


def test_literals_carry_their_crc():
    for f in (STATUS, IDENTIFY, WRITE_W, WRITE_A, READ_W, READ_R, READ_BUF3, RUN, RUN_TOO_MANY,
              UNKNOWN, IDENTIFY_WITH_PAYLOAD, STATUS_FRESH, IDENTIFY_OK, WRITE_OK, READ_W_OK,
              READ_R_OK, BAD_CRC, TIMEOUT_ERR, UNKNOWN_CMD, BAD_LENGTH, OUT_OF_RANGE_READ,
              OUT_OF_RANGE_RUN):
        assert crc_ok(f), f.hex(" ")
    assert not crc_ok(WRITE_W_BAD_CRC)


class Line:
    """The host's end of the serial line, bit by bit in the simulator (8N1, LSB first)."""

    def __init__(self, dut, divisor):
        self.dut, self.div = dut, divisor

    async def send(self, ctx, data):
        for byte in data:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                ctx.set(self.dut.rx, bit)
                await ctx.tick().repeat(self.div)

    async def recv_byte(self, ctx, budget):
        waited = 0
        while ctx.get(self.dut.tx):
            await ctx.tick()
            waited += 1
            assert waited < budget, "no response"
        await ctx.tick().repeat(self.div // 2)         # middle of the start bit
        assert ctx.get(self.dut.tx) == 0
        byte = 0
        for i in range(8):
            await ctx.tick().repeat(self.div)
            byte |= ctx.get(self.dut.tx) << i
        await ctx.tick().repeat(self.div)
        assert ctx.get(self.dut.tx) == 1, "stop bit"
        return byte

    async def recv_frame(self, ctx, budget=20_000):
        head = bytes([await self.recv_byte(ctx, budget) for _ in range(5)])
        n = head[3] | head[4] << 8
        return head + bytes([await self.recv_byte(ctx, 4 * self.div * 10)
                             for _ in range(n + 2)])

    async def exchange(self, ctx, request):
        await self.send(ctx, request)
        return await self.recv_frame(ctx)


def test_engine_answers_the_documented_bytes():
    dut = HostLinkCore(2, 2, "int8", "ws", divisor=DIVISOR, clk_hz=4_000_000,
                       depths=dict(weights=8, acts=16, results=8), max_payload=64,
                       timeout_cycles=TIMEOUT)
    line = Line(dut, DIVISOR)
    got = {}

    async def host(ctx):
        await ctx.tick().repeat(8)
        await line.send(ctx, bytes([0x00, 0x13, 0x37]))   # noise outside a frame: ignored
        got["status0"] = await line.exchange(ctx, STATUS)
        got["identify"] = await line.exchange(ctx, IDENTIFY)
        got["write_w"] = await line.exchange(ctx, WRITE_W)
        got["write_a"] = await line.exchange(ctx, WRITE_A)
        got["read_w"] = await line.exchange(ctx, READ_W)
        got["run"] = await line.exchange(ctx, RUN)
        got["read_r"] = await line.exchange(ctx, READ_R)
        # errors: each answered, none changes the weights
        got["bad_crc"] = await line.exchange(ctx, WRITE_W_BAD_CRC)
        got["read_w2"] = await line.exchange(ctx, READ_W)
        got["unknown"] = await line.exchange(ctx, UNKNOWN)
        got["bad_length"] = await line.exchange(ctx, IDENTIFY_WITH_PAYLOAD)
        got["read_buf3"] = await line.exchange(ctx, READ_BUF3)
        got["run_too_many"] = await line.exchange(ctx, RUN_TOO_MANY)
        got["truncated"] = await line.exchange(ctx, WRITE_W_TRUNCATED)
        got["read_w3"] = await line.exchange(ctx, READ_W)
        got["status"] = await line.exchange(ctx, STATUS)

    sim = Simulator(dut)
    sim.add_clock(1 / 4e6)
    sim.add_testbench(host)
    sim.run()

    assert got["status0"] == STATUS_FRESH
    assert got["identify"] == IDENTIFY_OK
    assert got["write_w"] == WRITE_OK and got["write_a"] == WRITE_OK
    assert got["read_w"] == READ_W_OK
    run = got["run"]
    assert run[:5] == RUN_OK_HEAD and len(run) == 5 + 4 + 2 and crc_ok(run), run.hex(" ")
    cycles = run[5:9]
    assert int.from_bytes(cycles, "little") > 0
    assert got["read_r"] == READ_R_OK
    assert got["bad_crc"] == BAD_CRC
    assert got["unknown"] == UNKNOWN_CMD
    assert got["bad_length"] == BAD_LENGTH
    assert got["read_buf3"] == OUT_OF_RANGE_READ
    assert got["run_too_many"] == OUT_OF_RANGE_RUN
    assert got["truncated"] == TIMEOUT_ERR
    assert got["read_w2"] == READ_W_OK and got["read_w3"] == READ_W_OK
    # STATUS: 9 frames ok before it, 6 errors, the last a TIMEOUT (0x02), last run ok (0x00)
    # and its cycle count, the one RUN answered.
    st = got["status"]
    assert st[:11] == frame("5A 00 05 0A 00  09 00 06 00 02 00"), st.hex(" ")
    assert st[11:15] == cycles and len(st) == 17 and crc_ok(st), st.hex(" ")
