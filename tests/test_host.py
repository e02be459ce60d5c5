"""The host driver's framing and error handling against a scripted transport, and the
protocol helpers (pure Python; the gateware side is ``rtl_tests/test_board.py``)."""

import builtins
import struct

import pytest

from hwgen.host import Accelerator, DeviceError, ProtocolError, TimeoutError
from hwgen.host_link import divisor_for
from hwgen.host_link import protocol as P


class Scripted:
    """A transport that answers with bytes queued in advance and records what was sent."""

    def __init__(self, *responses):
        self.rx = bytearray(b"".join(responses))
        self.sent = bytearray()

    def write(self, data):
        self.sent += data

    def read(self, n, timeout):
        out, self.rx = bytes(self.rx[:n]), self.rx[n:]
        return out

    def discard_input(self):
        self.rx.clear()


INFO = P.DeviceInfo(version=1, rows=2, cols=3, dataflow="ws", pe="int8",
                    word_bytes=dict(weights=3, acts=2, results=12),
                    depths=dict(weights=512, acts=512, results=256), max_payload=512,
                    clk_hz=12_000_000, divisor=12, timeout_cycles=600_000)


def test_crc16_check_value():
    assert P.crc16(b"123456789") == 0x29B1
    frame = P.encode_request(P.CMD_STATUS)
    assert P.crc16(frame[1:]) == 0           # the receiver's check


def test_run_flags_byte():
    # docs/protocol.md: bit 0 accumulate, bit 1 dual-precision low mode, bits 4..7 the
    # bit-serial weight planes (0: all of them).
    assert P.run_flags() == 0 and P.run_flags(bits=0) == 0
    assert P.run_flags(accumulate=True) == 0x01 and P.run_flags(low=True) == 0x02
    assert P.run_flags(True, 5, True) == 0x53 and P.run_flags(bits=15) == 0xF0
    for bad in (16, -1):
        with pytest.raises(ValueError, match=rf"^Run-time bits must be 1\.\.15, or 0 or None "
                           rf"for all planes, not {bad}$"):
            P.run_flags(bits=bad)


def test_identify_round_trip():
    acc = Accelerator(Scripted(P.encode_response(P.ST_OK, P.CMD_IDENTIFY,
                                                 P.identify_payload(INFO))))
    info = acc.info()
    assert info == INFO and info.baud == 1_000_000 and info.timeout_seconds == 0.05
    assert bytes(acc.transport.sent) == P.encode_request(P.CMD_IDENTIFY)


def test_garbage_before_response_is_skipped():
    acc = Accelerator(Scripted(b"\x00\xff", P.encode_response(P.ST_OK, P.CMD_STATUS,
                                                              bytes(10))))
    assert acc.status()["errors"] == 0


def test_error_status_raises_device_error():
    acc = Accelerator(Scripted(P.encode_response(P.ST_OUT_OF_RANGE, P.CMD_WRITE)))
    with pytest.raises(DeviceError) as e:
        acc.request(P.CMD_WRITE, b"")
    assert e.value.status == P.ST_OUT_OF_RANGE
    assert str(e.value) == "Board answered write with error: out of range (0x05)"


def test_bad_response_crc_raises_protocol_error():
    good = P.encode_response(P.ST_OK, P.CMD_STATUS, bytes(10))
    acc = Accelerator(Scripted(good[:-1] + bytes([good[-1] ^ 1])))
    with pytest.raises(ProtocolError, match="Response CRC mismatch"):
        acc.status()


def test_wrong_command_raises_protocol_error():
    acc = Accelerator(Scripted(P.encode_response(P.ST_OK, P.CMD_READ)))
    with pytest.raises(ProtocolError, match="Response is for command 0x04, expected 0x05"):
        acc.request(P.CMD_STATUS)


def test_truncated_response_times_out():
    acc = Accelerator(Scripted(P.encode_response(P.ST_OK, P.CMD_STATUS, bytes(10))[:8]))
    with pytest.raises(TimeoutError, match="got 3 of 12 bytes"):
        acc.status()
    assert issubclass(TimeoutError, builtins.TimeoutError)


def test_no_response_times_out():
    with pytest.raises(builtins.TimeoutError, match="a response"):
        Accelerator(Scripted()).status()


def test_write_buffer_frames():
    ok = P.encode_response(P.ST_OK, P.CMD_WRITE)
    ident = P.encode_response(P.ST_OK, P.CMD_IDENTIFY, P.identify_payload(INFO))
    per = (512 - 5) // 3
    t = Scripted(ident, ok, ok)
    acc = Accelerator(t)
    acc.write_buffer("weights", 7, list(range(per + 1)))
    sent = bytes(t.sent)[len(P.encode_request(P.CMD_IDENTIFY)):]
    first = P.encode_request(P.CMD_WRITE, struct.pack("<BHH", 0, 7, per) +
                             b"".join(i.to_bytes(3, "little") for i in range(per)))
    assert sent.startswith(first)
    assert sent[len(first):] == P.encode_request(
        P.CMD_WRITE, struct.pack("<BHH", 0, 7 + per, 1) + per.to_bytes(3, "little"))


def test_divisor_for():
    assert divisor_for(12e6, 1_000_000) == 12
    assert divisor_for(25e6, 1_000_000) == 25
    assert divisor_for(12e6, 115200) == 104
    with pytest.raises(ValueError, match=r"^Baud rate 5000000 is too high for a 12 MHz clock"):
        divisor_for(12e6, 5_000_000)
    with pytest.raises(ValueError, match=r"^Baud rate 1750000 is 2.0% off with a 12 MHz clock "
                                         r"\(divider 7\)"):
        divisor_for(12e6, 1_750_000)


def test_identify_pe_pipeline_field():
    # A pipelined array appends its two latencies after the PE spec; an unpipelined one
    # sends the original version-1 payload (30 fixed bytes + the spec), which still parses.
    plain = P.identify_payload(INFO)
    assert len(plain) == 30 + len("int8")
    d = INFO.to_dict()
    assert (d["mul_latency"], d["add_latency"]) == (0, 0)
    piped = P.DeviceInfo(**dict(d, pe="e4m3:fp16:rounded", mul_latency=2, add_latency=3))
    payload = P.identify_payload(piped)
    assert payload[:-2] == P.identify_payload(P.DeviceInfo(**dict(d, pe="e4m3:fp16:rounded")))
    assert payload[-2:] == bytes([2, 3])
    info = P.parse_identify(payload)
    assert info == piped and info.pe == "e4m3:fp16:rounded"
    assert (info.mul_latency, info.add_latency) == (2, 3)
    assert P.parse_identify(plain) == INFO
    with pytest.raises(ValueError, match="Not an hwgen IDENTIFY payload"):
        P.parse_identify(payload[:-1])          # half an extension
    # The driver's array description follows the board's pipeline.
    acc = Accelerator(Scripted(P.encode_response(P.ST_OK, P.CMD_IDENTIFY, payload)))
    assert (acc.array.mul_latency, acc.array.add_latency) == (2, 3)
