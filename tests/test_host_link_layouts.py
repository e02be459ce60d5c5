"""The host link's stream payloads are the wire format (against :mod:`struct` packing of the
documented fields), and its CRC is one definition: the protocol's parameters are
``amaranth.lib.crc``'s catalogue entry, and the host's plain-Python CRC, the catalogue's
software model and the gateware's processor agree."""

import binascii
import random
import struct

from amaranth.lib.crc import catalog

from hwgen.host_link import protocol as P
from hwgen.host_link.layouts import (Args, BufferArgs, Request, RunArgs, RunFlags,
                                     StatusPayload, frame_crc)
from stream_tb import run_sim


def test_crc_parameters_are_the_catalog_entry():
    ref = catalog.CRC16_CCITT_FALSE
    assert P.CRC_ALGORITHM == dict(
        crc_width=ref.crc_width, polynomial=ref.polynomial, initial_crc=ref.initial_crc,
        reflect_input=ref.reflect_input, reflect_output=ref.reflect_output,
        xor_output=ref.xor_output)


def test_host_crc_matches_the_catalog_and_binascii():
    model = catalog.CRC16_CCITT_FALSE(data_width=8)
    rng = random.Random(5)
    for n in (0, 1, 2, 9, 64, 300):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert P.crc16(data) == model.compute(data) == binascii.crc_hqx(data, 0xFFFF)
    assert P.crc16(b"123456789") == 0x29B1


def test_gateware_crc_and_residue():
    """The processor the receiver and transmitter use: its register is the CRC of the bytes
    so far, and it detects a whole frame (bytes + CRC, MSB first) by its residue."""
    crc = frame_crc()
    data = b"\x02\x07\x00hello!!"
    whole = data + struct.pack(">H", P.crc16(data))
    seen = []

    async def tb(ctx):
        ctx.set(crc.start, 1)
        await ctx.tick()
        ctx.set(crc.start, 0)
        for i, b in enumerate(whole):
            ctx.set(crc.data, b)
            ctx.set(crc.valid, 1)
            await ctx.tick()
            seen.append((i, ctx.get(crc.crc), ctx.get(crc.match_detected)))
        ctx.set(crc.valid, 0)

    run_sim(crc, tb, cycles=100)
    for i, value, match in seen:
        assert value == P.crc16(whole[:i + 1]), i
        assert match == (i == len(whole) - 1), i


def test_argument_layouts_are_the_wire_format():
    assert BufferArgs.const({"buf": 1, "addr": 0x1234, "count": 0xBEEF}).as_bits() == \
        int.from_bytes(struct.pack("<BHH", 1, 0x1234, 0xBEEF), "little")
    flags = P.run_flags(accumulate=True, bits=5, low=True)
    run = RunArgs.const({"tiles": 0x0102, "tile_len": 0x0A0B,
                         "flags": {"accumulate": 1, "low": 1, "bits": 5}})
    assert run.as_bits() == int.from_bytes(struct.pack("<HHB", 0x0102, 0x0A0B, flags),
                                           "little")
    for name, bit in (("accumulate", P.RUN_ACCUMULATE), ("low", P.RUN_LOW)):
        assert RunFlags.const({name: 1}).as_bits() == bit
    assert RunFlags.const({"bits": 15}).as_bits() == 15 << P.RUN_BITS_SHIFT
    raw = bytes([3, 0x34, 0x12, 0x02, 0x00])
    args = Args.from_bits(int.from_bytes(raw, "little"))
    assert list(args.bytes) == list(raw)
    assert (args.buffer.buf, args.buffer.addr, args.buffer.count) == (3, 0x1234, 2)
    assert (args.run.tiles, args.run.tile_len, args.run.flags.as_bits()) == (0x3403, 0x0212, 0)
    assert Request.as_shape().size == 8 + 8 + 16 + 40


def test_status_payload_is_the_documented_one():
    value = StatusPayload.const({"frames_ok": 7, "errors": 0x102, "last_error": 4,
                                 "last_run_status": 6, "last_run_cycles": 0xA0B0C0D})
    assert StatusPayload.as_shape().size == 8 * P.STATUS_PAYLOAD_BYTES
    payload = value.as_bits().to_bytes(P.STATUS_PAYLOAD_BYTES, "little")
    assert P.parse_status(payload) == dict(
        frames_ok=7, errors=0x102, last_error=4, last_error_name="bad length",
        last_run_status=6, last_run_cycles=0xA0B0C0D)
    # a RUN response payload is the last field
    assert payload[-P.RUN_PAYLOAD_BYTES:] == struct.pack("<I", 0xA0B0C0D)
