"""The host-link protocol: constants, CRC and frame (de)coding, shared by the gateware
(:mod:`hwgen.host_link.engine`) and the host driver (:mod:`hwgen.host`).

Plain Python (no Amaranth, no numpy): one place for every number of the protocol, so the two
sides cannot drift apart. The protocol itself is described in ``docs/protocol.md``.

Frames
------
Request (host → board)::

    0xA5 | cmd | len_lo | len_hi | payload[len] | crc_hi | crc_lo

Response (board → host)::

    0x5A | status | cmd | len_lo | len_hi | payload[len] | crc_hi | crc_lo

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no
final XOR; :data:`CRC_ALGORITHM`) over every byte after the sync byte up to the end of the
payload, sent most significant byte first; the CRC of a whole frame after its sync byte is
therefore 0, which is what the receiver checks. Multi-byte fields are little-endian.

Words
-----
A buffer word is one stream transfer of the array (:func:`buffer_word_bits`), sent in
``ceil(bits / 8)`` bytes, little-endian.
"""

import math
import struct
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..arrayspec import ArraySpec

__all__ = [
    "SYNC_REQUEST", "SYNC_RESPONSE", "PROTOCOL_VERSION", "IDENT_MAGIC",
    "CMD_IDENTIFY", "CMD_WRITE", "CMD_RUN", "CMD_READ", "CMD_STATUS", "COMMANDS",
    "ST_OK", "ST_BAD_CRC", "ST_TIMEOUT", "ST_UNKNOWN_CMD", "ST_BAD_LENGTH", "ST_OUT_OF_RANGE",
    "ST_RUN_TIMEOUT", "STATUS_NAMES",
    "BUF_WEIGHTS", "BUF_ACTS", "BUF_RESULTS", "BUFFER_NAMES",
    "RUN_ACCUMULATE", "RUN_LOW", "RUN_BITS_SHIFT", "RUN_BITS_MAX", "run_flags",
    "DATAFLOW_CODES", "HEADER_BYTES", "RESPONSE_HEADER_BYTES", "CRC_BYTES",
    "STATUS_PAYLOAD_BYTES", "RUN_PAYLOAD_BYTES",
    "CRC_ALGORITHM", "crc16", "crc16_update", "encode_request", "encode_response",
    "identify_payload", "parse_identify", "parse_status", "DeviceInfo",
    "MIN_DIVISOR", "check_divisor", "divisor_for", "buffer_word_bits", "word_bytes",
    "check_int",
]

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
PROTOCOL_VERSION = 1
IDENT_MAGIC = b"HWGN"

CMD_IDENTIFY = 0x01
CMD_WRITE = 0x02
CMD_RUN = 0x03
CMD_READ = 0x04
CMD_STATUS = 0x05
COMMANDS = {CMD_IDENTIFY: "identify", CMD_WRITE: "write", CMD_RUN: "run", CMD_READ: "read",
            CMD_STATUS: "status"}

ST_OK = 0x00
ST_BAD_CRC = 0x01          # the frame's CRC did not match; nothing was done
ST_TIMEOUT = 0x02          # the frame stopped mid-way (no byte for the timeout): truncated
ST_UNKNOWN_CMD = 0x03
ST_BAD_LENGTH = 0x04       # payload length wrong for the command, or above the maximum
ST_OUT_OF_RANGE = 0x05     # buffer id, address, count or run shape outside the buffers
ST_RUN_TIMEOUT = 0x06      # a run made no progress for the watchdog time and was aborted
STATUS_NAMES = {ST_OK: "ok", ST_BAD_CRC: "bad CRC", ST_TIMEOUT: "truncated frame (timeout)",
                ST_UNKNOWN_CMD: "unknown command", ST_BAD_LENGTH: "bad length",
                ST_OUT_OF_RANGE: "out of range", ST_RUN_TIMEOUT: "run watchdog timeout"}

BUF_WEIGHTS = 0
BUF_ACTS = 1
BUF_RESULTS = 2
BUFFER_NAMES = {BUF_WEIGHTS: "weights", BUF_ACTS: "acts", BUF_RESULTS: "results"}

#: RUN flag: weight-stationary, the first tile's partial sums come from the result buffer
#: (continuing an accumulation started by an earlier run) instead of zeros.
RUN_ACCUMULATE = 0x01
#: RUN flag: dual-precision PEs (``dpH``) run the whole RUN in low mode (two (H/2)-bit
#: products per PE per clock); any other PE answers ``ST_OUT_OF_RANGE``.
RUN_LOW = 0x02
#: RUN flags bits 4..7: bit-serial PEs (``bsWxA``) use the top ``bits`` weight planes,
#: 1..min(W, 15); 0 = all W (full precision). Non-zero for any other PE, or above W:
#: ``ST_OUT_OF_RANGE``.
RUN_BITS_SHIFT = 4
RUN_BITS_MAX = 15


def run_flags(accumulate: bool = False, bits: int | None = None, low: bool = False) -> int:
    """The RUN ``flags`` byte (no checking against the board's PE: the board does that)."""
    b = 0 if bits is None else int(bits)
    if not 0 <= b <= RUN_BITS_MAX:
        raise ValueError(f"Run-time bits must be 1..{RUN_BITS_MAX}, or 0 or None for all planes, "
                         f"not {bits!r}")
    return ((RUN_ACCUMULATE if accumulate else 0) | (RUN_LOW if low else 0)
            | (b << RUN_BITS_SHIFT))

DATAFLOW_CODES = {"ws": 0, "os": 1}

HEADER_BYTES = 4            # sync, cmd, len (2)
RESPONSE_HEADER_BYTES = 5   # sync, status, cmd, len (2)
CRC_BYTES = 2
STATUS_PAYLOAD_BYTES = 10   # frames_ok (2), errors (2), last_error, last_run_status, cycles (4)
RUN_PAYLOAD_BYTES = 4       # cycles (4)


#: The frame CRC, CRC-16/CCITT-FALSE, in the Williams model: the keyword arguments of
#: ``amaranth.lib.crc.Algorithm`` (the gateware builds its CRC from them;
#: ``tests/test_host_link_crc.py`` checks them against the catalog's ``CRC16_CCITT_FALSE``).
CRC_ALGORITHM = dict(crc_width=16, polynomial=0x1021, initial_crc=0xFFFF, reflect_input=False,
                     reflect_output=False, xor_output=0x0000)


def crc16_update(crc: int, byte: int) -> int:
    """One byte of :data:`CRC_ALGORITHM` (no reflection, no final XOR: the register is the
    CRC)."""
    width, poly = CRC_ALGORITHM["crc_width"], CRC_ALGORITHM["polynomial"]
    top, mask = 1 << (width - 1), (1 << width) - 1
    crc ^= (byte & 0xFF) << (width - 8)
    for _ in range(8):
        crc = ((crc << 1) ^ poly) if crc & top else (crc << 1)
        crc &= mask
    return crc


def crc16(data: Iterable[int], crc: int = CRC_ALGORITHM["initial_crc"]) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    for b in bytes(data):
        crc = crc16_update(crc, b)
    return crc


def encode_request(cmd: int, payload: Iterable[int] = b"") -> bytes:
    """The bytes of one request frame."""
    payload = bytes(payload)
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"Command must be a byte, not {cmd!r}")
    if len(payload) > 0xFFFF:
        raise ValueError(f"Payload must be at most 65535 bytes, not {len(payload)}")
    body = bytes([cmd]) + struct.pack("<H", len(payload)) + payload
    return bytes([SYNC_REQUEST]) + body + struct.pack(">H", crc16(body))


def encode_response(status: int, cmd: int, payload: Iterable[int] = b"") -> bytes:
    """The bytes of one response frame (what the board sends; used by tests)."""
    payload = bytes(payload)
    body = bytes([status, cmd]) + struct.pack("<H", len(payload)) + payload
    return bytes([SYNC_RESPONSE]) + body + struct.pack(">H", crc16(body))


class DeviceInfo:
    """What IDENTIFY returns: the hardware configuration of the board.

    Attributes
    ----------
    version : int
        Protocol version.
    rows, cols : int
        Array shape.
    dataflow : str
        ``"ws"`` or ``"os"``.
    pe : str
        PE spec string.
    word_bytes : dict
        Bytes per word of each buffer (``"weights"``, ``"acts"``, ``"results"``).
    depths : dict
        Words in each buffer.
    max_payload : int
        Largest request payload (and READ response) in bytes.
    clk_hz : int
        Clock frequency the gateware was built for.
    divisor : int
        UART clock divider (baud = clk_hz / divisor).
    timeout_cycles : int
        Inter-byte timeout of the receiver (clock cycles): a frame that stops for this long
        is answered with ``ST_TIMEOUT``.
    mul_latency, add_latency : int
        The array's PE pipeline (register stages in each PE's multiplier and adder; 0 and 0
        when unpipelined). Informational: results and the protocol do not depend on it.
    """

    def __init__(self, *, version: int, rows: int, cols: int, dataflow: str, pe: str,
                 word_bytes: Mapping[str, int], depths: Mapping[str, int], max_payload: int,
                 clk_hz: int, divisor: int, timeout_cycles: int, mul_latency: int = 0,
                 add_latency: int = 0) -> None:
        self.version, self.rows, self.cols, self.dataflow, self.pe = \
            version, rows, cols, dataflow, pe
        self.word_bytes, self.depths = dict(word_bytes), dict(depths)
        self.max_payload, self.clk_hz, self.divisor = max_payload, clk_hz, divisor
        self.timeout_cycles = timeout_cycles
        self.mul_latency, self.add_latency = mul_latency, add_latency

    @property
    def timeout_seconds(self) -> float:
        return self.timeout_cycles / self.clk_hz if self.clk_hz else 0.0

    @property
    def baud(self) -> float:
        return self.clk_hz / self.divisor if self.divisor else 0.0

    def to_dict(self) -> dict[str, int | str | dict[str, int]]:
        return dict(version=self.version, rows=self.rows, cols=self.cols,
                    dataflow=self.dataflow, pe=self.pe, word_bytes=self.word_bytes,
                    depths=self.depths, max_payload=self.max_payload, clk_hz=self.clk_hz,
                    divisor=self.divisor, timeout_cycles=self.timeout_cycles,
                    mul_latency=self.mul_latency, add_latency=self.add_latency)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceInfo) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        pipe = (f", PE pipeline {self.mul_latency}/{self.add_latency}"
                if self.mul_latency or self.add_latency else "")
        return (f"DeviceInfo({self.rows}x{self.cols} {self.pe!r} {self.dataflow}{pipe}, "
                f"buffers {self.depths}, {self.baud:.0f} baud)")


_IDENT_FMT = "<4sBBBBBBBHHHHIHIB"
#: Optional trailing IDENTIFY field (after the PE spec): the PE pipeline, multiplier and
#: adder latency (1 byte each). Sent only by pipelined arrays, so an unpipelined board's
#: IDENTIFY answer is the original version-1 payload; absent means 0 and 0.
_IDENT_PIPE_FMT = "<BB"


def identify_payload(info: DeviceInfo) -> bytes:
    """The IDENTIFY response payload for ``info`` (a :class:`DeviceInfo`)."""
    wb, d = info.word_bytes, info.depths
    pe = info.pe.encode("ascii")
    pipe = (struct.pack(_IDENT_PIPE_FMT, info.mul_latency, info.add_latency)
            if info.mul_latency or info.add_latency else b"")
    return struct.pack(_IDENT_FMT, IDENT_MAGIC, info.version, info.rows, info.cols,
                       DATAFLOW_CODES[info.dataflow], wb["weights"], wb["acts"], wb["results"],
                       d["weights"], d["acts"], d["results"], info.max_payload, info.clk_hz,
                       info.divisor, info.timeout_cycles, len(pe)) + pe + pipe


def parse_identify(payload: bytes) -> DeviceInfo:
    """The :class:`DeviceInfo` in an IDENTIFY response payload.

    Raises
    ------
    ValueError
        The payload is not an IDENTIFY payload.
    """
    n = struct.calcsize(_IDENT_FMT)
    if len(payload) < n:
        raise ValueError(f"IDENTIFY payload too short ({len(payload)} bytes)")
    (magic, version, rows, cols, df, wbw, wba, wbr, dw, da, dr, maxp, clk, div, tmo,
     pe_len) = struct.unpack(_IDENT_FMT, payload[:n])
    n_pipe = struct.calcsize(_IDENT_PIPE_FMT)
    if magic != IDENT_MAGIC or len(payload) not in (n + pe_len, n + pe_len + n_pipe):
        raise ValueError(f"Not an hwgen IDENTIFY payload: {bytes(payload)!r}")
    pipe = payload[n + pe_len:]
    mul_lat, add_lat = struct.unpack(_IDENT_PIPE_FMT, pipe) if pipe else (0, 0)
    dataflow = {v: k for k, v in DATAFLOW_CODES.items()}.get(df)
    if dataflow is None:
        raise ValueError(f"Unknown dataflow code {df}")
    return DeviceInfo(version=version, rows=rows, cols=cols, dataflow=dataflow,
                      pe=payload[n:n + pe_len].decode("ascii"),
                      word_bytes=dict(weights=wbw, acts=wba, results=wbr),
                      depths=dict(weights=dw, acts=da, results=dr), max_payload=maxp,
                      clk_hz=clk, divisor=div, timeout_cycles=tmo, mul_latency=mul_lat,
                      add_latency=add_lat)


def parse_status(payload: bytes) -> dict[str, int | str]:
    """The STATUS response payload as a dict."""
    if len(payload) != STATUS_PAYLOAD_BYTES:
        raise ValueError(f"STATUS payload must be {STATUS_PAYLOAD_BYTES} bytes, not "
                         f"{len(payload)}")
    ok, errors, last_error, last_run, cycles = struct.unpack("<HHBBI", payload)
    return dict(frames_ok=ok, errors=errors, last_error=last_error,
                last_error_name=STATUS_NAMES.get(last_error, f"0x{last_error:02x}"),
                last_run_status=last_run, last_run_cycles=cycles)


def check_int(what: str, v: object, lo: int = 1, hi: int | None = None) -> int:
    """``v`` if it is an integer in ``lo..hi`` (no upper bound: ``hi`` None), else
    ``ValueError`` naming ``what`` (the parameters of the link and its gateware)."""
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f"at least {lo}"
        raise ValueError(f"{what} must be an integer {rng}, not {v!r}")
    return v


# -- line ------------------------------------------------------------------------------------

#: The UART receiver needs a few cycles per bit (2 synchronizer stages + a mid-bit sample).
MIN_DIVISOR = 4
#: The largest: IDENTIFY reports the divider in 16 bits.
MAX_DIVISOR = 0xFFFF


def check_divisor(divisor: object) -> int:
    """``divisor`` if it is a UART clock divider the gateware can use, else ``ValueError``."""
    if (not isinstance(divisor, int) or isinstance(divisor, bool)
            or not MIN_DIVISOR <= divisor <= MAX_DIVISOR):
        raise ValueError(f"UART divisor must be an integer in {MIN_DIVISOR}..{MAX_DIVISOR}, "
                         f"not {divisor!r}")
    return divisor


def divisor_for(clk_hz: float, baud: float, *, tolerance: float = 0.02) -> int:
    """The clock divider for ``baud`` at ``clk_hz``.

    Raises
    ------
    ValueError
        The nearest divider misses ``baud`` by more than ``tolerance`` (2 %: a UART receiver
        sampling mid-bit tolerates about 4 % in total between both ends), or is below
        :data:`MIN_DIVISOR` or above :data:`MAX_DIVISOR`.
    """
    if not baud > 0 or not clk_hz > 0:
        raise ValueError(f"Baud rate and clock must be positive, not {baud!r} and {clk_hz!r}")
    div = int(round(clk_hz / baud))
    if div < MIN_DIVISOR:
        raise ValueError(f"Baud rate {baud:.0f} is too high for a {clk_hz / 1e6:g} MHz clock "
                         f"(at most {clk_hz / MIN_DIVISOR:.0f})")
    if div > MAX_DIVISOR:
        raise ValueError(f"Baud rate {baud:g} is too low for a {clk_hz / 1e6:g} MHz clock "
                         f"(at least {math.ceil(clk_hz / MAX_DIVISOR)})")
    err = abs(clk_hz / div - baud) / baud
    if err > tolerance:
        raise ValueError(f"Baud rate {baud:.0f} is {100 * err:.1f}% off with a "
                         f"{clk_hz / 1e6:g} MHz clock (divider {div}); choose another rate")
    return div


# -- buffer words --------------------------------------------------------------------------------

def buffer_word_bits(spec: "ArraySpec") -> dict[str, int]:
    """Bits per word of each buffer of a board whose array is ``spec`` (an
    :class:`~hwgen.arrayspec.ArraySpec`): a weight row, an activation row (the ``a`` field
    alone: ``psum``, ``last`` and the precision fields are made on chip), a result row."""
    return dict(weights=spec.weight_word_bits, acts=spec.act_fields["a"][1],
                results=spec.result_word_bits)


def word_bytes(word_bits: Mapping[str, int]) -> dict[str, int]:
    """Bytes per word on the wire for each entry of ``word_bits``: ``ceil(bits / 8)``."""
    return {k: (v + 7) // 8 for k, v in word_bits.items()}
