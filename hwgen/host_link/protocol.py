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
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..arrayspec import ArraySpec
    from ..pespec import PESpec

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
    "check_int", "addr_width", "float_chain_pe",
    "NET_PROTOCOL_VERSION", "CMD_LOAD_NET", "CMD_INFER", "BUF_BIAS", "LAYER_RECORD_BYTES",
    "NET_SHIFT_MIN", "LAYER_RELU", "LAYER_GATHER", "gather_lane_bits", "gather_entry_bits",
    "LayerRecord", "load_net_payload", "check_layer_table",
]

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
PROTOCOL_VERSION = 1
#: The protocol version of a board built with the network extension (LOAD_NET / INFER,
#: ``docs/protocol.md``, "Version 2"); every version-1 command is unchanged on it.
NET_PROTOCOL_VERSION = 2
IDENT_MAGIC = b"HWGN"

CMD_IDENTIFY = 0x01
CMD_WRITE = 0x02
CMD_RUN = 0x03
CMD_READ = 0x04
CMD_STATUS = 0x05
CMD_LOAD_NET = 0x06        # version 2: load a layer table
CMD_INFER = 0x07           # version 2: one inference through the loaded table
COMMANDS = {CMD_IDENTIFY: "identify", CMD_WRITE: "write", CMD_RUN: "run", CMD_READ: "read",
            CMD_STATUS: "status", CMD_LOAD_NET: "load_net", CMD_INFER: "infer"}

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
BUF_BIAS = 3               # version 2: result-format words, ``DeviceInfo.bias_depth`` deep
BUFFER_NAMES = {BUF_WEIGHTS: "weights", BUF_ACTS: "acts", BUF_RESULTS: "results",
                BUF_BIAS: "bias"}

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
    bias_depth : int
        Version 2 (networks chained on chip): words in the bias buffer (:data:`BUF_BIAS`);
        0 on a board without the network extension.
    max_layers : int
        Version 2: the most layers a LOAD_NET table may hold; 0 = no network extension
        (LOAD_NET and INFER are then unknown commands).
    """

    def __init__(self, *, version: int, rows: int, cols: int, dataflow: str, pe: str,
                 word_bytes: Mapping[str, int], depths: Mapping[str, int], max_payload: int,
                 clk_hz: int, divisor: int, timeout_cycles: int, mul_latency: int = 0,
                 add_latency: int = 0, bias_depth: int = 0, max_layers: int = 0) -> None:
        self.version, self.rows, self.cols, self.dataflow, self.pe = \
            version, rows, cols, dataflow, pe
        self.word_bytes, self.depths = dict(word_bytes), dict(depths)
        self.max_payload, self.clk_hz, self.divisor = max_payload, clk_hz, divisor
        self.timeout_cycles = timeout_cycles
        self.mul_latency, self.add_latency = mul_latency, add_latency
        self.bias_depth, self.max_layers = bias_depth, max_layers

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
                    mul_latency=self.mul_latency, add_latency=self.add_latency,
                    bias_depth=self.bias_depth, max_layers=self.max_layers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceInfo) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        pipe = (f", PE pipeline {self.mul_latency}/{self.add_latency}"
                if self.mul_latency or self.add_latency else "")
        net = (f", network: {self.max_layers} layers, bias {self.bias_depth}"
               if self.max_layers else "")
        return (f"DeviceInfo({self.rows}x{self.cols} {self.pe!r} {self.dataflow}{pipe}, "
                f"buffers {self.depths}{net}, {self.baud:.0f} baud)")


_IDENT_FMT = "<4sBBBBBBBHHHHIHIB"
#: Optional trailing IDENTIFY field (after the PE spec): the PE pipeline, multiplier and
#: adder latency (1 byte each). Sent only by pipelined arrays, so an unpipelined board's
#: IDENTIFY answer is the original version-1 payload; absent means 0 and 0.
_IDENT_PIPE_FMT = "<BB"
#: Version 2 (the network extension, ``max_layers > 0``): after the PE spec ALWAYS the
#: pipeline bytes, then ``bias_depth`` (2) and ``max_layers`` (1).
_IDENT_NET_FMT = "<BBHB"


def identify_payload(info: DeviceInfo) -> bytes:
    """The IDENTIFY response payload for ``info`` (a :class:`DeviceInfo`): the version-1
    payload (with the pipeline bytes when the array is pipelined), or, when
    ``info.max_layers > 0`` (a board with the network extension, version 2), the payload with
    the pipeline bytes, ``bias_depth`` and ``max_layers`` after the PE spec."""
    wb, d = info.word_bytes, info.depths
    pe = info.pe.encode("ascii")
    if info.max_layers > 0:
        tail = struct.pack(_IDENT_NET_FMT, info.mul_latency, info.add_latency,
                           info.bias_depth, info.max_layers)
    elif info.mul_latency or info.add_latency:
        tail = struct.pack(_IDENT_PIPE_FMT, info.mul_latency, info.add_latency)
    else:
        tail = b""
    return struct.pack(_IDENT_FMT, IDENT_MAGIC, info.version, info.rows, info.cols,
                       DATAFLOW_CODES[info.dataflow], wb["weights"], wb["acts"], wb["results"],
                       d["weights"], d["acts"], d["results"], info.max_payload, info.clk_hz,
                       info.divisor, info.timeout_cycles, len(pe)) + pe + tail


def parse_identify(payload: bytes) -> DeviceInfo:
    """The :class:`DeviceInfo` in an IDENTIFY response payload: version 1 (with or without
    the two pipeline bytes after the PE spec) or version 2 (the pipeline bytes,
    ``bias_depth`` and ``max_layers``), told apart by length.

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
    n_pipe, n_net = struct.calcsize(_IDENT_PIPE_FMT), struct.calcsize(_IDENT_NET_FMT)
    if magic != IDENT_MAGIC or len(payload) not in (n + pe_len, n + pe_len + n_pipe,
                                                    n + pe_len + n_net):
        raise ValueError(f"Not an hwgen IDENTIFY payload: {bytes(payload)!r}")
    tail = bytes(payload[n + pe_len:])
    mul_lat, add_lat, bias_depth, max_layers = 0, 0, 0, 0
    if len(tail) == n_net:
        mul_lat, add_lat, bias_depth, max_layers = struct.unpack(_IDENT_NET_FMT, tail)
    elif tail:
        mul_lat, add_lat = struct.unpack(_IDENT_PIPE_FMT, tail)
    dataflow = {v: k for k, v in DATAFLOW_CODES.items()}.get(df)
    if dataflow is None:
        raise ValueError(f"Unknown dataflow code {df}")
    return DeviceInfo(version=version, rows=rows, cols=cols, dataflow=dataflow,
                      pe=payload[n:n + pe_len].decode("ascii"),
                      word_bytes=dict(weights=wbw, acts=wba, results=wbr),
                      depths=dict(weights=dw, acts=da, results=dr), max_payload=maxp,
                      clk_hz=clk, divisor=div, timeout_cycles=tmo, mul_latency=mul_lat,
                      add_latency=add_lat, bias_depth=bias_depth, max_layers=max_layers)


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


def addr_width(depth: int) -> int:
    """Address bits of a buffer of ``depth`` words, as ``amaranth.lib.memory.Memory``'s ports
    have them."""
    return (depth - 1).bit_length()


def word_bytes(word_bits: Mapping[str, int]) -> dict[str, int]:
    """Bytes per word on the wire for each entry of ``word_bits``: ``ceil(bits / 8)``."""
    return {k: (v + 7) // 8 for k, v in word_bits.items()}


# -- version 2: networks chained on chip ---------------------------------------------------------

#: Bytes of one LOAD_NET layer record.
LAYER_RECORD_BYTES = 24
#: The smallest layer shift (a saturating left shift by 8); the largest is the accumulator
#: width ``acc_bits``.
NET_SHIFT_MIN = -8
#: Layer record ``flags`` bit 0: ReLU after the re-quantization.
LAYER_RELU = 0x01
#: Layer record ``flags`` bit 1: a gather layer (a convolution: its input rows gathered
#: element by element into im2col rows, its outputs max-pooled; bits 2..7 must be zero).
LAYER_GATHER = 0x02
#: Bytes of a record that must be zero, and the byte of its flags (bits 2..7 must be zero).
LAYER_RESERVED_BYTES = (14, 15, 22, 23)
LAYER_FLAGS_BYTE = 13
#: The record, little-endian: w_base, k_tiles, n_tiles, a_in, a_out, b_base (2 bytes each),
#: shift (int8), flags (1), two zero bytes, g_tiles, pixels, pool (2 bytes each), two zero
#: bytes.
_LAYER_FMT = "<HHHHHHbBHHHHH"


@dataclass(frozen=True)
class LayerRecord:
    """One layer of a LOAD_NET table (``docs/protocol.md``, "Version 2").

    Attributes
    ----------
    w_base : int
        Weight-buffer row of the layer's first weight row; the layer's weights are rows
        ``w_base + (n·T + t)·R + r`` (output tile n, input tile t, array row r; T is
        ``k_tiles``, or ``g_tiles`` for a gather layer).
    k_tiles : int
        Input rows: K / R rounded up (a gather layer: the rows of its input tensor).
    n_tiles : int
        Output tiles: N / C rounded up (a dense layer's output rows).
    a_in : int
        Activation-buffer row of the layer's input (``k_tiles`` rows).
    a_out : int
        Activation-buffer row of its output (``n_tiles`` rows; a gather layer:
        ``n_tiles·pixels`` rows, then its ``g_tiles·pixels·pool`` im2col rows); 0 on the last
        layer.
    b_base : int
        Bias-buffer row of the first output tile's biases (``n_tiles`` rows; a gather layer:
        then its gather entries, ``g_tiles·pixels·pool`` rows).
    shift : int
        ``f_acc - f_out``: > 0 a right shift rounding half to even, < 0 a saturating left
        shift (:func:`hwgen.golden.epilogue.requantize_pow2`); 0 on the last layer.
    relu : bool
        ReLU after the re-quantization (False on the last layer).
    g_tiles : int
        A gather layer's im2col tiles (its K / R rounded up); 0 for a dense layer. A record
        with ``g_tiles``, ``pixels`` or ``pool`` not 0 has the gather flag.
    pixels : int
        A gather layer's output pixels (after pooling); 0 for a dense layer.
    pool : int
        A gather layer's pooling window: ``pool`` consecutive result rows (im2col rows) give
        one output pixel, their lane-wise maximum; 1: no pooling; 0 for a dense layer.

    :meth:`pack` refuses values its field cannot hold; values the board refuses (a shift
    beyond ``acc_bits``, overlapping rows, ...) pack, so tests can send them:
    :func:`check_layer_table` is the board's check.
    """
    w_base: int
    k_tiles: int
    n_tiles: int
    a_in: int
    a_out: int
    b_base: int
    shift: int = 0
    relu: bool = False
    g_tiles: int = 0
    pixels: int = 0
    pool: int = 0

    @property
    def gather(self) -> bool:
        """A gather layer (a convolution; ``flags`` bit 1)."""
        return bool(self.g_tiles or self.pixels or self.pool)

    @property
    def tiles(self) -> int:
        """Weight tiles per output tile: ``g_tiles`` (gather layer) or ``k_tiles``."""
        return self.g_tiles if self.gather else self.k_tiles

    @property
    def result_rows(self) -> int:
        """Result rows of one output tile's run: ``pixels·pool`` (gather layer) or 1."""
        return self.pixels * self.pool if self.gather else 1

    @property
    def im2col_rows(self) -> int:
        """A gather layer's im2col rows, one per gather-entry row: ``g_tiles·pixels·pool``
        (0 for a dense layer)."""
        return self.g_tiles * self.result_rows if self.gather else 0

    @property
    def outputs(self) -> int:
        """Output rows: ``n_tiles·pixels`` (gather layer) or ``n_tiles``."""
        return self.n_tiles * self.pixels if self.gather else self.n_tiles

    @property
    def out_rows(self) -> int:
        """Activation rows written from ``a_out``: the outputs, then the im2col rows."""
        return self.outputs + self.im2col_rows

    @property
    def bias_rows(self) -> int:
        """Bias rows from ``b_base``: the ``n_tiles`` biases, then the gather entries."""
        return self.n_tiles + self.im2col_rows

    def pack(self) -> bytes:
        """The 24-byte record.

        Raises
        ------
        ValueError
            A field outside what its bytes hold (0..65535; shift -128..127).
        """
        for name in ("w_base", "k_tiles", "n_tiles", "a_in", "a_out", "b_base", "g_tiles",
                     "pixels", "pool"):
            check_int(f"Layer record {name}", getattr(self, name), 0, 0xFFFF)
        check_int("Layer record shift", self.shift, -128, 127)
        flags = (LAYER_RELU if self.relu else 0) | (LAYER_GATHER if self.gather else 0)
        return struct.pack(_LAYER_FMT, self.w_base, self.k_tiles, self.n_tiles, self.a_in,
                           self.a_out, self.b_base, self.shift, flags, 0, self.g_tiles,
                           self.pixels, self.pool, 0)

    @classmethod
    def unpack(cls, data: bytes) -> "LayerRecord":
        """The record in 24 bytes ``data``.

        Raises
        ------
        ValueError
            Not 24 bytes, reserved bits (flags bits 2..7, bytes 14-15, 22-23) set, or gather
            fields that disagree with the gather flag.
        """
        data = bytes(data)
        if len(data) != LAYER_RECORD_BYTES:
            raise ValueError(f"A layer record is {LAYER_RECORD_BYTES} bytes, not {len(data)}")
        (w_base, k, n, a_in, a_out, b_base, shift, flags, zero, g_tiles, pixels, pool,
         zero2) = struct.unpack(_LAYER_FMT, data)
        if flags & ~(LAYER_RELU | LAYER_GATHER) or zero or zero2:
            raise ValueError(f"Layer record has reserved bits set (flags 0x{flags:02x}, "
                             f"bytes 14-15 0x{zero:04x}, bytes 22-23 0x{zero2:04x})")
        rec = cls(w_base, k, n, a_in, a_out, b_base, shift, bool(flags & LAYER_RELU),
                  g_tiles, pixels, pool)
        if rec.gather != bool(flags & LAYER_GATHER):
            raise ValueError(f"Layer record's gather flag (flags 0x{flags:02x}) disagrees "
                             f"with g_tiles {g_tiles}, pixels {pixels}, pool {pool}")
        return rec


def gather_entry_bits(acc_bits: int) -> int:
    """Bits of a gather entry: an entry (a lane of a bias word, ``acc_bits`` wide) names an
    element when it is in ``0 .. 2**b - 1`` with ``b = min(16, acc_bits - 1)``; any other
    value (negative ones included) gives the code 0."""
    return min(16, acc_bits - 1)


def gather_lane_bits(rows: int) -> int:
    """Bits of the lane field of a gather entry on an array of ``rows`` rows (R): an entry
    ``e >= 0`` names input row ``a_in + (e >> b)``, lane ``e & (2**b - 1)``."""
    return (rows - 1).bit_length()


def load_net_payload(records: Iterable[LayerRecord]) -> bytes:
    """The LOAD_NET request payload: the layer count (1 byte), then each record.

    Raises
    ------
    ValueError
        No records, more than 255, or a record field its bytes cannot hold.
    """
    records = list(records)
    check_int("Layer count", len(records), 1, 0xFF)
    return bytes([len(records)]) + b"".join(r.pack() for r in records)


def float_chain_pe(pe: "PESpec") -> bool:
    """Networks chain in floats on arrays of PE ``pe`` (a :class:`~hwgen.pespec.PESpec`):
    ``F:F:rounded`` or ``F:F:fused``, whose results are ``F`` encodings, the next layer's
    inputs as they are (the gateware's epilogue and the chain compiler both ask this)."""
    return bool(pe.kind == "float" and pe.accumulate in ("rounded", "fused") and
                pe.a_fmt == pe.w_fmt == pe.acc_fmt)


def check_layer_table(payload: bytes, info: DeviceInfo, acc_bits: int, *,
                      float_pe: bool = False) -> int:
    """The status a version-2 board answers the LOAD_NET request ``payload`` with: the golden
    model of the board's table checker (``docs/protocol.md``, "LOAD_NET").

    ``info`` gives the array (``rows``), the buffer depths, ``bias_depth``, ``max_layers``,
    ``max_payload`` and the result word's bytes; ``acc_bits`` is the PE's accumulator width
    (the largest shift). ``float_pe``: a float board (``F:F:rounded``/``F:F:fused``), whose
    epilogue has no shift and no pooling: any shift but 0, or a gather layer, is out of range.

    Returns
    -------
    int
        :data:`ST_BAD_LENGTH` when the payload is empty, longer than ``max_payload``, its
        layer count is 0 or above ``max_layers``, or its length is not ``1 + 24·n_layers``;
        else :data:`ST_OUT_OF_RANGE` when any layer breaks a rule of the spec (shapes over
        a buffer, overlapping input and output rows, chained shapes that disagree, a shift
        outside :data:`NET_SHIFT_MIN` .. ``acc_bits``, reserved bits set, a last layer with a
        shift, ReLU, ``a_out`` or the gather flag, or scores over the result buffer or
        ``max_payload``; a gather layer's result rows (``pixels·pool``) over the result
        buffer, its outputs and im2col rows over the activation buffer or overlapping its
        input, its biases and gather entries over the bias buffer); else :data:`ST_OK`.
    """
    payload = bytes(payload)
    if not payload or len(payload) > info.max_payload:
        return ST_BAD_LENGTH
    n = payload[0]
    if n == 0 or n > info.max_layers or len(payload) != 1 + LAYER_RECORD_BYTES * n:
        return ST_BAD_LENGTH
    recs = [struct.unpack(_LAYER_FMT, payload[1 + LAYER_RECORD_BYTES * i:
                                              1 + LAYER_RECORD_BYTES * (i + 1)])
            for i in range(n)]
    R = info.rows
    d_w, d_a, d_r = info.depths["weights"], info.depths["acts"], info.depths["results"]
    prev_out = None
    for i, (w_base, k, nt, a_in, a_out, b_base, shift, flags, zero, g_tiles, pixels, pool,
            zero2) in enumerate(recs):
        relu, gather, last = flags & LAYER_RELU, flags & LAYER_GATHER, i == n - 1
        bad = (k == 0 or nt == 0
               or a_in + k > d_a
               or (shift != 0 if float_pe else not NET_SHIFT_MIN <= shift <= acc_bits)
               or flags & ~(LAYER_RELU | LAYER_GATHER) or zero or zero2
               or (prev_out is not None and k != prev_out))
        if gather:
            # (the sizes matter only when g_tiles, pixels and pool are all set)
            rec = LayerRecord(w_base, k, nt, a_in, a_out, b_base, shift, bool(relu), g_tiles,
                              pixels, pool)
            out = rec.outputs
            bad = bad or (float_pe or last or g_tiles == 0 or pixels == 0 or pool == 0
                          or w_base + nt * g_tiles * R > d_w
                          or rec.result_rows > d_r
                          or b_base + rec.bias_rows > info.bias_depth
                          or a_out + rec.out_rows > d_a
                          or (a_out < a_in + k and a_in < a_out + rec.out_rows))
        else:
            out = nt
            bad = bad or (g_tiles or pixels or pool
                          or w_base + nt * k * R > d_w
                          or b_base + nt > info.bias_depth)
            if not last:
                bad = bad or (a_out + nt > d_a
                              or (a_out < a_in + k and a_in < a_out + nt))
            else:
                bad = bad or (a_out != 0 or shift != 0 or relu or nt > d_r
                              or nt * info.word_bytes["results"] > info.max_payload)
        if bad:
            return ST_OUT_OF_RANGE
        prev_out = out
    return ST_OK
