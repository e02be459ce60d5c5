"""Host driver of a board built by ``hwgen build``: numpy in, UART frames out, numpy back.

::

    from hwgen.host import Accelerator
    with Accelerator.open("/dev/ttyUSB1") as acc:   # iCEBreaker; ULX3S: /dev/ttyUSB0
        print(acc.info())                               # array shape, PE, buffers, version
        C = acc.matmul(A, B)                            # bit-exact with hwgen.golden.matmul

The protocol is :mod:`hwgen.host_link.protocol` (``docs/protocol.md``). GEMMs larger than the
on-chip buffers are split with the same tiler the simulation and the golden model use
(:class:`hwgen.golden.tiling.Tiling`); weight-stationary K-tile partial sums stay on chip (the
board feeds the result buffer back as the next K-tile's ``psum``), so the host does no
arithmetic and the result is bit-exact for every PE.

The transport is pluggable: anything with ``write(data)``, ``read(n, timeout)`` (up to ``n``
bytes, fewer when ``timeout`` seconds pass) and ``discard_input()``. :class:`SerialTransport`
uses pyserial; :meth:`Accelerator.simulate` gives a simulated board (the board's gateware under
Verilator in a subprocess, :class:`hwgen.flow.simulated_board.SimulatedBoard`) and
``sim.uart.BridgedTransport`` runs the very same driver against the simulated board in cocotb;
both count timeouts in simulated seconds.

Errors: a response the board marks as failed raises :class:`DeviceError` (a
:class:`ProtocolError`) naming the board's status; a response that is garbled raises
:class:`ProtocolError`; no (complete) response in time raises :class:`TimeoutError` (a
subclass of the built-in one). After a :class:`TimeoutError` call :meth:`Accelerator.resync`.
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from typing import TYPE_CHECKING, SupportsInt, cast

import numpy as np

from .host_link import protocol as P
from .host_link.transport import CountingTransport

if TYPE_CHECKING:
    from typing import TypedDict

    from numpy.typing import ArrayLike
    from typing_extensions import Self

    from boards import Board

    from .arrayspec import ArraySpec
    from .explore.chain import ChainedNetwork
    from .explore.graph import Model
    from .explore.netrun import LoadedNetwork
    from .golden.tiling import Tiling
    from .host_link.protocol import LayerRecord
    from .host_link.transport import Transport
    from .pespec import PESpec

    class _Precision(TypedDict):
        """The run-time precision keywords of :meth:`Accelerator.run` (one per GEMM)."""
        bits: int | np.integer | None
        low: bool

__all__ = ["Accelerator", "SerialTransport", "CountingTransport", "ProtocolError",
           "DeviceError", "TimeoutError", "DEFAULT_BAUD"]

#: Default baud rate: 1 Mbaud, an exact divider of both board clocks (12 MHz, 25 MHz).
DEFAULT_BAUD = 1_000_000

_MAX_GARBAGE = 256      # bytes skipped while looking for a response's sync byte


def _word_bytes_of(words: Iterable[int], nbytes: int) -> bytes:
    """Buffer words on the wire: ``nbytes`` bytes each, little-endian (high bits dropped)."""
    mask = (1 << (8 * nbytes)) - 1
    return b"".join((int(w) & mask).to_bytes(nbytes, "little") for w in words)


def _words_of(data: bytes, nbytes: int) -> list[int]:
    """The ``nbytes``-byte little-endian words of ``data`` (whole words)."""
    return [int.from_bytes(data[k:k + nbytes], "little") for k in range(0, len(data), nbytes)]


class ProtocolError(RuntimeError):
    """The board's answer is not a valid response (garbled, wrong command, bad CRC)."""


class DeviceError(ProtocolError):
    """The board answered with an error status.

    Attributes
    ----------
    status : int
        The status code (``hwgen.host_link.protocol.ST_*``).
    cmd : int
        The command the board was answering.
    payload : bytes
        The response payload (RUN: the cycle count).
    """

    def __init__(self, status: int, cmd: int, payload: Iterable[int] = b"") -> None:
        self.status, self.cmd, self.payload = status, cmd, bytes(payload)
        name = P.STATUS_NAMES.get(status, f"status 0x{status:02x}")
        what = P.COMMANDS.get(cmd, f"command 0x{cmd:02x}")
        super().__init__(f"Board answered {what} with error: {name} (0x{status:02x})")


class TimeoutError(builtins.TimeoutError):
    """No complete response arrived in time."""


class SerialTransport:
    """A serial port through pyserial (8N1, no flow control)."""

    def __init__(self, port: str, baud: float = DEFAULT_BAUD) -> None:
        from .extras import require
        serial = require("serial", "host")
        self.port = serial.Serial(port, baudrate=baud, timeout=0)
        self.baud = baud

    def write(self, data: Iterable[int]) -> None:
        self.port.write(bytes(data))
        self.port.flush()

    def read(self, n: int, timeout: float) -> bytes:
        self.port.timeout = timeout
        return self.port.read(n)

    def discard_input(self) -> None:
        self.port.reset_input_buffer()

    def close(self) -> None:
        self.port.close()


class Accelerator:
    """The board's accelerator, seen from the host.

    Parameters
    ----------
    transport :
        See the module docstring.
    baud : float or None
        Line rate, for timeouts (default: what IDENTIFY reports, else :data:`DEFAULT_BAUD`).
    timeout : float
        Seconds allowed beyond the bytes' transmission time for each response (covers a
        RUN's compute time too).
    """

    def __init__(self, transport: Transport, *, baud: float | None = None,
                 timeout: float = 1.0) -> None:
        self.transport = transport
        self._baud = baud
        self.timeout = float(timeout)
        self._info: P.DeviceInfo | None = None
        self._array: ArraySpec | None = None
        self._network: LoadedNetwork | ChainedNetwork | None = None
        self._resident: ChainedNetwork | None = None   # the network the board's buffers hold

    @classmethod
    def open(cls, port: str, baud: float = DEFAULT_BAUD, *, timeout: float = 1.0) -> Self:
        """Open serial ``port`` at ``baud`` (pyserial)."""
        return cls(SerialTransport(port, baud), baud=baud, timeout=timeout)

    @classmethod
    def simulate(cls, board: str | Board = "icebreaker", rows: int = 2, cols: int = 2,
                 pe: str | PESpec = "int8", dataflow: str = "ws", *, mul_latency: int = 0,
                 add_latency: int = 0, clock_mhz: float | None = None,
                 baud: float | None = None, depths: Mapping[str, int] | None = None,
                 timeout: float = 0.1, progress: Callable[[str], object] | None = None,
                 network: bool = False, flow: str = "stall") -> Self:
        """A simulated board instead of a serial port: the accelerator ``hwgen build`` would
        put on ``board`` (the same :class:`~hwgen.host_link.HostLinkCore`, clock, UART
        divisor and buffer depths; without the PLL and I/O buffers) running under Verilator
        in a subprocess (:class:`hwgen.flow.simulated_board.SimulatedBoard`, built once per design
        and cached). Timeouts are in simulated seconds at the board's clock; the transport's
        ``stats()`` gives the clock cycles and bytes so far. ``network``: the board with the
        network extension (``hwgen build --network``: :meth:`load_network` then chains the
        layers on chip). ``flow``: the array's flow control (``hwgen build --flow``).

        Raises
        ------
        ValueError
            A bad board or array parameter (before anything is built).
        RuntimeError
            Verilator or the C++ compiler failed.
        """
        from boards.top import BoardTop
        from .flow.simulated_board import SimulatedBoard

        from .elaboratables import not_built
        top = BoardTop(board, rows, cols, pe, dataflow, baud=baud, depths=depths,
                       mul_latency=mul_latency, add_latency=add_latency, clock_mhz=clock_mhz,
                       network=network, flow=flow)
        not_built(top)                      # only its core is simulated
        return cls(SimulatedBoard(top.core, progress=progress), baud=top.baud,
                   timeout=timeout)

    # -- networks ---------------------------------------------------------------------------
    def load_network(self, model: Model | str | PathLike[str], *,
                     data: str | PathLike[str] | dict[str, ArrayLike] | None = None,
                     chain: bool | None = None) -> LoadedNetwork | ChainedNetwork:
        """Make ``model`` (a :class:`~hwgen.explore.graph.Model`, a built-in model's name or
        a model file, with optional ``data``) ready for :meth:`infer` on this board, with the
        explorer candidate of the board's PE (``intN`` -> ``fxN``, ``F:F:rounded`` -> ``F``,
        ...) and its fixed-point scales; :meth:`infer` then gives the emulation's scores bit
        for bit.

        Two paths (the returned object's ``path``):

        ``"chained"``
            A board with the network extension (IDENTIFY ``max_layers > 0``, protocol
            version 2) and a model that compiles for it
            (:func:`hwgen.explore.chain.compile_network`: dense and ``conv2d`` layers with
            ReLUs, max pools after convolutions, ``intN`` PEs): the weights, biases and
            gather entries are written once (WRITE to the weight and bias buffers) and the
            layer table loaded (:meth:`load_net`); each inference is one INFER
            (:meth:`infer_words`). Returns the
            :class:`~hwgen.explore.chain.ChainedNetwork`.
        ``"layer-by-layer"``
            Otherwise: each ``dense``/``conv2d`` layer's GEMM on the board (its weights sent
            with it), bias, re-quantization and activations on the host (``hwgen run``).
            Returns the :class:`~hwgen.explore.netrun.LoadedNetwork`; its ``not_chained``
            says why the chained path was not taken.

        ``chain``: None (default) takes the chained path when it can; True requires it
        (ValueError saying why not); False takes the layer-by-layer path.

        Raises
        ------
        ValueError
            No explorer candidate for the board's PE, a bad model or data; ``chain=True``
            and the model does not chain on this board.
        """
        from .explore.graph import Model
        from .explore.models import get_model
        from .explore.netrun import LoadedNetwork
        m = model if isinstance(model, Model) else get_model(model, data)
        pe = cast("PESpec", self.array.pe).spec
        self._network = None
        reason = "not asked for (chain=False)"
        if chain is None or chain:
            info = self.info()
            if info.max_layers > 0:
                from .explore.chain import compile_network
                try:
                    net = compile_network(m, pe, info.rows, info.cols, depths=info.depths,
                                          bias_depth=info.bias_depth,
                                          max_layers=info.max_layers,
                                          max_payload=info.max_payload)
                except ValueError as e:
                    if chain:
                        raise
                    reason = str(e)
                else:
                    self._upload_network(net)
                    self._network = net
                    return net
            else:
                reason = (f"the board has no network extension (IDENTIFY version "
                          f"{info.version}, max_layers 0)")
                if chain:
                    raise ValueError(f"Cannot chain {m.name!r} on chip: {reason}")
        loaded = LoadedNetwork(m, pe)
        loaded.not_chained = reason
        self._network = loaded
        return loaded

    def _upload_network(self, net: ChainedNetwork) -> None:
        """Write ``net``'s weights and biases, then load its layer table."""
        self._resident = None
        self.write_buffer(P.BUF_WEIGHTS, 0, net.weight_words)
        self.write_buffer(P.BUF_BIAS, 0, net.bias_words)
        self.load_net(net.records)
        self._resident = net

    def infer(self, x: ArrayLike, *, raw: bool = True) -> np.ndarray:
        """Scores of input(s) ``x`` of the network of :meth:`load_network` (raw inputs, as
        the model file takes them, one or a batch): a float64 array, one row per input,
        equal bit for bit to the explorer's emulation of the same candidate. On the chained
        path one INFER per input (the weights, biases and table are written again first
        when a WRITE to the weight or bias buffer or a LOAD_NET came in between).

        Raises
        ------
        ValueError
            No network loaded, or ``x`` of the wrong shape.
        """
        net = self._network
        if net is None:
            raise ValueError("No network loaded: call load_network(model) first")
        if net.path == "chained" and self._resident is not net:
            self._upload_network(cast("ChainedNetwork", net))
        return net.infer(self, x, raw=raw)

    def load_net(self, records: Iterable[LayerRecord]) -> None:
        """LOAD_NET: load a layer table (one :class:`~hwgen.host_link.protocol.LayerRecord`
        per layer) on a version-2 board. The board checks the whole table first
        (:func:`~hwgen.host_link.protocol.check_layer_table`): a bad one raises
        :class:`DeviceError` and leaves the previous table loaded.

        Raises
        ------
        ValueError
            No records, or a record field its bytes cannot hold.
        DeviceError
            The board refused the table (``OUT_OF_RANGE``, ``BAD_LENGTH``; ``UNKNOWN_CMD``
            on a board without the network extension).
        """
        payload = P.load_net_payload(records)
        self._resident = None
        self.request(P.CMD_LOAD_NET, payload)

    def infer_words(self, words: Iterable[int]) -> list[int]:
        """INFER: one inference through the loaded layer table. ``words`` are the first
        layer's input, ``k_tiles`` activation words; returns the last layer's result words
        (accumulators plus bias: :meth:`hwgen.explore.chain.ChainedNetwork.scores` makes
        them scores).

        Raises
        ------
        DeviceError
            No table loaded (``OUT_OF_RANGE``), the wrong number of words
            (``BAD_LENGTH``), a stalled inference (``RUN_TIMEOUT``).
        ProtocolError
            A response that is not whole result words.
        """
        info = self.info()
        wa, wr = info.word_bytes["acts"], info.word_bytes["results"]
        data = self.request(P.CMD_INFER, _word_bytes_of(words, wa))
        if len(data) % wr:
            raise ProtocolError(f"INFER returned {len(data)} bytes, not whole {wr}-byte "
                                f"result words")
        return _words_of(data, wr)

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ---------------------------------------------------------------------------------
    @property
    def baud(self) -> float:
        if self._baud:
            return self._baud
        if self._info is not None and self._info.baud:
            return self._info.baud
        return DEFAULT_BAUD

    def _wire_seconds(self, n: int) -> float:
        return n * 10.0 / self.baud

    def send_raw(self, data: Iterable[int]) -> None:
        """Send raw bytes (for tests of the board's error handling)."""
        self.transport.write(bytes(data))

    def _read_exact(self, n: int, timeout: float, what: str) -> bytes:
        data = self.transport.read(n, timeout + self._wire_seconds(n))
        if len(data) != n:
            raise TimeoutError(f"Timed out waiting for {what}: got {len(data)} of {n} bytes")
        return bytes(data)

    def receive(self, cmd: int | None = None, *, timeout: float | None = None) -> bytes:
        """Read one response frame; return its payload.

        Raises
        ------
        DeviceError
            The response carries an error status.
        ProtocolError
            Garbled response (bad CRC, unexpected command).
        TimeoutError
            No complete response within ``timeout`` (default :attr:`timeout`).
        """
        timeout = self.timeout if timeout is None else timeout
        for _ in range(_MAX_GARBAGE):
            b = self._read_exact(1, timeout, "a response")
            if b[0] == P.SYNC_RESPONSE:
                break
        else:
            raise ProtocolError(f"No response sync byte (0x{P.SYNC_RESPONSE:02x}) in "
                                f"{_MAX_GARBAGE} bytes")
        head = self._read_exact(4, timeout, "the response header")
        status, rcmd, n = head[0], head[1], struct.unpack("<H", head[2:4])[0]
        rest = self._read_exact(n + P.CRC_BYTES, timeout, f"a {n}-byte response payload")
        payload = rest[:n]
        if P.crc16(head + rest) != 0:
            raise ProtocolError(f"Response CRC mismatch (status 0x{status:02x}, "
                                f"command 0x{rcmd:02x}, {n} bytes)")
        if status != P.ST_OK:
            raise DeviceError(status, rcmd, payload)
        if cmd is not None and rcmd != cmd:
            raise ProtocolError(f"Response is for command 0x{rcmd:02x}, expected 0x{cmd:02x}")
        return payload

    def request(self, cmd: int, payload: Iterable[int] = b"", *,
                timeout: float | None = None) -> bytes:
        """Send one request and return the payload of its response."""
        self.transport.write(P.encode_request(cmd, payload))
        return self.receive(cmd, timeout=timeout)

    def resync(self) -> None:
        """After a timeout: let the board's frame timeout expire, drop stale input."""
        wait = self._info.timeout_seconds if self._info is not None else 0.1
        self.transport.read(1 << 16, 2 * wait + self._wire_seconds(64))
        self.transport.discard_input()

    # -- commands -------------------------------------------------------------------------------
    def info(self, *, refresh: bool = False) -> P.DeviceInfo:
        """The board's :class:`~hwgen.host_link.protocol.DeviceInfo` (IDENTIFY), cached."""
        if self._info is None or refresh:
            payload = self.request(P.CMD_IDENTIFY)
            try:
                self._info = P.parse_identify(payload)
            except ValueError as e:
                raise ProtocolError(str(e)) from None
            self._array = None
        return self._info

    def status(self) -> dict[str, int | str]:
        """Counters of the link: ``frames_ok``, ``errors``, ``last_error``, last run."""
        return P.parse_status(self.request(P.CMD_STATUS))

    def _buf(self, buf: str | int) -> tuple[int, str]:
        if isinstance(buf, str):
            names = {v: k for k, v in P.BUFFER_NAMES.items()}
            if buf not in names:
                raise ValueError(f"Buffer must be one of {', '.join(names)}, not {buf!r}")
            return names[buf], buf
        return buf, P.BUFFER_NAMES.get(buf, str(buf))

    def _word_bytes(self, name: str) -> int:
        """Bytes per word of buffer ``name`` (the bias buffer holds result words)."""
        return self.info().word_bytes.get("results" if name == "bias" else name, 1)

    def write_buffer(self, buf: str | int, addr: int, words: Iterable[int]) -> None:
        """Write ``words`` (ints) to buffer ``buf`` (``"weights"``/``"acts"``/``"bias"`` or
        its id) from word address ``addr``, in as many frames as the payload limit needs."""
        info = self.info()
        bid, name = self._buf(buf)
        wb = self._word_bytes(name)
        if bid in (P.BUF_WEIGHTS, P.BUF_BIAS):
            self._resident = None         # a chained network's weights or biases are gone
        per = max(1, (info.max_payload - 5) // wb)
        words = [int(w) for w in words]
        for i in range(0, len(words), per):
            chunk = words[i:i + per]
            self.request(P.CMD_WRITE, struct.pack("<BHH", bid, addr + i, len(chunk)) +
                         _word_bytes_of(chunk, wb))

    def read_buffer(self, buf: str | int, addr: int, count: int) -> list[int]:
        """Read ``count`` words (ints) of buffer ``buf`` from word address ``addr``."""
        info = self.info()
        bid, name = self._buf(buf)
        wb = self._word_bytes(name)
        per = max(1, info.max_payload // wb)
        out = []
        for i in range(0, count, per):
            n = min(per, count - i)
            data = self.request(P.CMD_READ, struct.pack("<BHH", bid, addr + i, n))
            if len(data) != n * wb:
                raise ProtocolError(f"READ returned {len(data)} bytes, expected {n * wb}")
            out += _words_of(data, wb)
        return out

    def run(self, tiles: int, tile_len: int, *, accumulate: bool = False,
            bits: int | np.integer | None = None, low: bool = False) -> int:
        """Start a RUN (see :mod:`hwgen.host_link.sequencer`) and wait for it; return the clock
        cycles it took. ``bits``: bit-serial PEs, weight planes to use (None: all);
        ``low``: dual-precision PEs, low mode (see :meth:`matmul`)."""
        flags = P.run_flags(accumulate, self._wire_bits(bits), self._check_low(low))
        payload = self.request(P.CMD_RUN, struct.pack("<HHB", tiles, tile_len, flags))
        return struct.unpack("<I", payload)[0]

    # -- GEMM -----------------------------------------------------------------------------------
    @property
    def array(self) -> ArraySpec:
        """The :class:`~hwgen.arrayspec.ArraySpec` of the board's array (from IDENTIFY): the
        plain description the driver packs words with (no gateware is built or imported)."""
        if self._array is None:
            from .arrayspec import ArraySpec
            i = self.info()
            self._array = ArraySpec(i.rows, i.cols, i.pe, i.dataflow, i.mul_latency,
                                    i.add_latency)
        return self._array

    def _act_word(self, row: Iterable[SupportsInt]) -> int:
        # the ``a`` field alone (the low bits of the array's acts word): see
        # hwgen.host_link.protocol.buffer_word_bits
        spec = self.array
        return spec.pack_acts([int(x) for x in row]) & ((1 << spec.act_fields["a"][1]) - 1)

    def _weight_word(self, row: Iterable[SupportsInt]) -> int:
        return self.array.pack_weights([int(x) for x in row])

    def _result_rows(self, words: Iterable[int]) -> list[list[int]]:
        return [self.array.unpack_results(w)[0] for w in words]

    def _wire_bits(self, bits: int | np.integer | None) -> int | None:
        """The RUN flags' plane count for run-time ``bits`` (0 = all planes)."""
        if bits is None:
            return None
        arr = self.array
        if not arr.serial:
            raise ValueError(f"Run-time bits apply to bit-serial PEs (bsWxA) only, not "
                             f"{cast('PESpec', arr.pe).spec!r}")
        W = cast(int, arr.weight_bits)
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or \
                not 1 <= bits <= W:
            raise ValueError(f"Bits must be an integer 1..{W}, not {bits!r}")
        return None if bits == W else int(bits)

    def _check_low(self, low: bool | None) -> bool:
        if low and cast("PESpec", self.array.pe).kind != "dualprec":
            raise ValueError(f"Low mode applies to dual-precision PEs (dpH) only, not "
                             f"{cast('PESpec', self.array.pe).spec!r}")
        return bool(low)

    def matmul(self, A: ArrayLike, B: ArrayLike, *, bits: int | np.integer | None = None,
               low: bool | None = None) -> np.ndarray:
        """``A @ B`` on the board, exactly as :func:`hwgen.golden.matmul.matmul` computes it
        for the board's array (integers, or encodings for float PEs), with the same run-time
        precision: ``bits`` (bit-serial PEs: the top ``bits`` weight planes, 1..W; None: all)
        and ``low`` (dual-precision PEs: low mode, ``A`` and ``B`` holding two (H/2)-bit
        values per word as :func:`hwgen.golden.matmul.dualprec_pack` packs them), one value
        for the whole GEMM. MX PEs (``mx:E[:EB]``): ``A`` and ``B`` as float matrices
        (quantized per 32-element block along K by :func:`hwgen.golden.mx.mx_quantize`, the
        spec's floor scale rule), as pre-quantized ``(scales, codes)`` pairs, or as operand
        words (:func:`hwgen.golden.matmul.mx_operands`); K is padded with zero elements to
        whole blocks. The result is FP32 encodings (uint64; ``.astype(np.uint32).view(
        np.float32)`` gives the values)."""
        from .golden.tiling import Tiling
        self._wire_bits(bits), self._check_low(low)      # bad values fail before any I/O
        prec: _Precision = dict(bits=bits, low=bool(low))
        info = self.info()
        if cast("PESpec", self.array.pe).kind == "mx":
            from .golden.matmul import mx_operands
            A, B = mx_operands(A, B, self.array.pe)
        A, B = np.asarray(A), np.asarray(B)
        if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
            raise ValueError(f"Matrices must be M×K and K×N, not {A.shape} and {B.shape}")
        M, K = A.shape
        N = B.shape[1]
        t = Tiling(M, K, N, info.rows, info.cols, info.dataflow)
        Ap, Bp = t.pad(A, B)
        dtype = np.uint64 if cast("PESpec", self.array.pe).kind in ("float", "mx") else np.int64
        out = np.zeros((t.m_padded, t.n_padded), dtype=dtype)
        if info.dataflow == "ws":
            self._matmul_ws(t, Ap, Bp, out, prec)
        else:
            self._matmul_os(t, Ap, Bp, out, prec)
        return t.crop(out)

    def _matmul_ws(self, t: Tiling, Ap: np.ndarray, Bp: np.ndarray, out: np.ndarray,
                   prec: _Precision) -> None:
        R, C = t.rows, t.cols
        d = self.info().depths
        KT = t.k_tiles
        NT = t.n_padded // C
        per_run = min(KT, d["weights"] // R)
        if per_run < 1:
            raise ValueError(f"Weight buffer ({d['weights']} rows) holds no {R}-row tile")
        mc = min(t.M, d["results"], d["acts"] // per_run)
        k_chunks = [list(range(k0, min(KT, k0 + per_run))) for k0 in range(0, KT, per_run)]
        for m0 in range(0, t.M, mc):
            rows = slice(m0, min(t.M, m0 + mc))
            L = rows.stop - rows.start

            def write_acts(kts: list[int], rows: slice = rows) -> None:
                words = [self._act_word(r) for kt in kts
                         for r in t.act_rows(Ap, t.tiles[kt])[rows]]
                self.write_buffer(P.BUF_ACTS, 0, words)

            if len(k_chunks) == 1:
                write_acts(k_chunks[0])      # the same activations serve every N-tile
            for nt in range(NT):
                for ci, kts in enumerate(k_chunks):
                    if len(k_chunks) > 1:
                        write_acts(kts)
                    words = [self._weight_word(r) for kt in kts
                             for r in t.weight_rows(Bp, t.tiles[nt * KT + kt])]
                    self.write_buffer(P.BUF_WEIGHTS, 0, words)
                    self.run(len(kts), L, accumulate=ci > 0, **prec)
                res = self._result_rows(self.read_buffer(P.BUF_RESULTS, 0, L))
                out[rows, nt * C:(nt + 1) * C] = np.array(res, dtype=object).astype(out.dtype)

    def _matmul_os(self, t: Tiling, Ap: np.ndarray, Bp: np.ndarray, out: np.ndarray,
                   prec: _Precision) -> None:
        R, K = t.rows, t.k_padded
        d = self.info().depths
        per_run = min(d["weights"] // K, d["acts"] // K, d["results"] // R)
        if per_run < 1:
            raise ValueError(f"K = {K} does not fit the board's buffers (weights "
                             f"{d['weights']}, acts {d['acts']} rows); output-stationary "
                             f"needs K rows of each per tile")
        for i in range(0, len(t.tiles), per_run):
            tiles = t.tiles[i:i + per_run]
            self.write_buffer(P.BUF_ACTS, 0, [self._act_word(r) for tile in tiles
                                              for r in t.act_rows(Ap, tile)])
            self.write_buffer(P.BUF_WEIGHTS, 0, [self._weight_word(r) for tile in tiles
                                                 for r in t.weight_rows(Bp, tile)])
            self.run(len(tiles), K, **prec)
            res = self._result_rows(self.read_buffer(P.BUF_RESULTS, 0, len(tiles) * R))
            for j, tile in enumerate(tiles):
                block = np.array(res[j * R:(j + 1) * R], dtype=object).astype(out.dtype)
                t.place(out, tile, block)
