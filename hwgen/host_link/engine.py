"""The board-side accelerator: UART, framed-protocol engine, on-chip buffers and the array.

:class:`HostLinkCore` is everything a board top needs except pins and clock: two serial
lines in and out, one clock domain (``sync``). The protocol is :mod:`hwgen.host_link.protocol`
(documented in ``docs/protocol.md``); this module puts its hardware together from parts
joined by streams, each in its own module and tested alone::

    rx → UARTRx → FrameReceiver ──→ LinkController ──→ FrameTransmitter → UARTTx → tx
                  (payload into the   ├ RequestDecoder: is the request well-formed?
                   staging buffer)    ├ BufferAccess: WRITE (staging → buffer), READ
                                      └ RunSequencer: RUN, buffers → SystolicArray →
                                        result buffer; Watchdog: stops a stalled run

How a frame is handled
----------------------
1. Receive (:class:`~.receiver.FrameReceiver`): bytes go into a staging buffer
   (``max_payload`` bytes), the CRC is computed on the way, the first five payload bytes
   (the command's arguments) are also kept in registers. A gap of ``timeout_cycles`` inside
   a frame ends it with ``ST_TIMEOUT``; a length above ``max_payload`` is answered with
   ``ST_BAD_LENGTH`` once the line has been idle for ``timeout_cycles``.
2. Check (:class:`~.decoder.RequestDecoder`; the RUN shape in
   :class:`~.sequencer.RunSequencer`): CRC, then length and ranges, *before* anything is
   changed. A frame that fails a check changes nothing but the error counters.
3. Execute (:class:`~.controller.LinkController`): WRITE copies whole words from the
   staging buffer into the weight or activation buffer and READ streams words of any buffer
   back (:class:`~.access.BufferAccess`, addresses checked: never outside a buffer); RUN
   streams the buffers through the array and captures its results
   (:class:`~.sequencer.RunSequencer`); IDENTIFY and STATUS return constants and counters.
4. Respond (:class:`~.transmitter.FrameTransmitter`): one response frame per request,
   always (errors included).

A RUN cannot hang the link: every run is preceded by a reset of the array, and a watchdog
(:class:`~.watchdog.Watchdog`, watching the array's three streams) aborts a run that makes no
stream transfer for ``watchdog_cycles`` (``ST_RUN_TIMEOUT``). RUN's dataflows are described
in :mod:`.sequencer`.
"""

from amaranth.hdl import Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..arrayspec import ArraySpec
from . import protocol as P
from .access import BufferAccess
from .controller import LinkController
from .decoder import RequestDecoder
from .receiver import FrameReceiver
from .network import (DEFAULT_BIAS_DEPTH, DEFAULT_MAX_LAYERS, NetSequencer,
                      check_network_array)
from .sequencer import RunSequencer
from .transmitter import FrameTransmitter
from .uart import UARTRx, UARTTx
from .watchdog import Watchdog

__all__ = ["HostLinkCore", "DEFAULT_DEPTHS", "DEFAULT_MAX_PAYLOAD", "VERSION",
           "SPRAM_BUFFERS"]

#: Gateware version reported by IDENTIFY (the protocol version of :mod:`.protocol`).
VERSION = P.PROTOCOL_VERSION

DEFAULT_DEPTHS = dict(weights=512, acts=512, results=256)
DEFAULT_MAX_PAYLOAD = 512

#: The buffers that may be built in single-port RAM (read and written at one address):
#: buffer name → the name of its memory in :class:`HostLinkCore`.
SPRAM_BUFFERS = dict(weights="wmem", acts="amem")


class HostLinkCore(wiring.Component):
    """A systolic array behind a UART and the hwgen host-link protocol.

    Parameters
    ----------
    rows, cols, pe, dataflow :
        The :class:`~hwgen.arrays.systolic.SystolicArray`.
    divisor : int
        UART clock cycles per bit.
    clk_hz : int
        Clock frequency (reported by IDENTIFY; the host derives timeouts from it).
    depths : dict
        Words in the ``weights``, ``acts`` and ``results`` buffers (1..65535 each).
    max_payload : int
        Largest request payload in bytes (the staging buffer), 16..65535.
    timeout_cycles : int
        Inter-byte timeout inside a frame (default: 64 byte times).
    watchdog_cycles : int
        A run making no transfer for this long is aborted (default 65536).
    mul_latency, add_latency : int
        The array's PE pipeline (weight-stationary float PEs; see
        :class:`~hwgen.arrays.systolic.SystolicArray`). The engine needs no change for it:
        the K-chain feedback waits for result rows by count, not by a fixed latency.
    network : bool
        Add the version-2 network extension (LOAD_NET, INFER, the bias buffer:
        :class:`~.network.NetSequencer`): a square weight-stationary array of ``intN`` or
        ``F:F:rounded``/``F:F:fused`` PEs only (a PE pipeline is fine).
    bias_depth, max_layers : int
        With ``network``: words of the bias buffer, records of the layer table.
    fifo_depth : int
        The array's result FIFO (rows).
    flow : str
        The array's flow control, ``"stall"`` or ``"credit"`` (no array-wide enable; its
        result FIFO then at least :func:`~hwgen.arrays.systolic.full_rate_depth` rows).

    Members
    -------
    rx : In(1)
        Serial line from the host.
    tx : Out(1)
        Serial line to the host.
    busy : Out(1)
        High while a RUN executes (for an LED).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, rows=2, cols=2, pe="int8", dataflow="ws", *, divisor, clk_hz,
                 depths=None, max_payload=DEFAULT_MAX_PAYLOAD, timeout_cycles=None,
                 watchdog_cycles=1 << 16, fifo_depth=4, mul_latency=0, add_latency=0,
                 network=False, bias_depth=DEFAULT_BIAS_DEPTH, max_layers=DEFAULT_MAX_LAYERS,
                 flow="stall"):
        # Every parameter is checked before any component is built.
        self._spec = ArraySpec(rows, cols, pe, dataflow, mul_latency, add_latency)
        self._divisor = P.check_divisor(divisor)
        self._clk_hz = P.check_int("Clock frequency", int(clk_hz), 1, (1 << 32) - 1)
        depths = dict(DEFAULT_DEPTHS, **(depths or {}))
        for k in depths:
            if k not in DEFAULT_DEPTHS:
                raise ValueError(f"Buffer must be one of weights, acts, results, not {k!r}")
            P.check_int(f"Depth of the {k} buffer", depths[k], 1, 0xFFFF)
        self._depths = depths
        self._max_payload = P.check_int("Maximum payload", max_payload, 16, 0xFFFF)
        if timeout_cycles is None:
            timeout_cycles = 64 * 10 * divisor
        self._timeout = P.check_int("Timeout", timeout_cycles, 20 * divisor, (1 << 32) - 1)
        self._watchdog = P.check_int("Watchdog", watchdog_cycles, 64, (1 << 32) - 1)
        self._network = bool(network)
        if self._network:
            P.check_int("Depth of the bias buffer", bias_depth, 1, 0xFFFF)
            P.check_int("Layers", max_layers, 1, 0xFF)
            check_network_array(self._spec)
        self._bias_depth = bias_depth if self._network else 0
        self._max_layers = max_layers if self._network else 0
        from ..arrays.systolic import SystolicArray, full_rate_depth
        # credit: at least what keeps the array's full rate (SystolicArray refuses a bad flow)
        if flow == "credit":
            fifo_depth = max(fifo_depth, full_rate_depth(self._spec))
        self._array = SystolicArray(rows, cols, pe, dataflow, fifo_depth=fifo_depth,
                                    mul_latency=mul_latency, add_latency=add_latency,
                                    flow=flow)
        super().__init__()

    # -- facts -------------------------------------------------------------------------------
    array = property(lambda self: self._array)
    spec = property(lambda self: self._spec,
                    doc="The array's :class:`~hwgen.arrayspec.ArraySpec`.")
    divisor = property(lambda self: self._divisor)
    clk_hz = property(lambda self: self._clk_hz)
    depths = property(lambda self: dict(self._depths))
    max_payload = property(lambda self: self._max_payload)
    timeout_cycles = property(lambda self: self._timeout)
    watchdog_cycles = property(lambda self: self._watchdog)
    network = property(lambda self: self._network)
    bias_depth = property(lambda self: self._bias_depth,
                          doc="Words of the bias buffer (0 without the network extension).")
    max_layers = property(lambda self: self._max_layers,
                          doc="Records of the layer table (0 without the network extension).")

    @property
    def word_bits(self):
        """Bits per word of each buffer (:func:`~.protocol.buffer_word_bits`)."""
        return P.buffer_word_bits(self._spec)

    @property
    def word_bytes(self):
        return P.word_bytes(self.word_bits)

    @property
    def spram_memories(self):
        """Names of the memories that may be single-port RAM (the weight and activation
        buffers), as ``(path, name)``: the path of the module holding it below this core
        (empty: the core itself) and the memory's name there. Board builds use them to
        address the memories in yosys scripts."""
        return tuple(((), name) for name in SPRAM_BUFFERS.values())

    @property
    def info(self):
        """The :class:`~hwgen.host_link.protocol.DeviceInfo` IDENTIFY returns."""
        s = self._spec
        return P.DeviceInfo(version=P.NET_PROTOCOL_VERSION if self._network else VERSION,
                            rows=s.rows, cols=s.cols, dataflow=s.dataflow,
                            pe=s.pe.spec, word_bytes=self.word_bytes, depths=self.depths,
                            max_payload=self._max_payload, clk_hz=self._clk_hz,
                            divisor=self._divisor, timeout_cycles=self._timeout,
                            mul_latency=s.mul_latency, add_latency=s.add_latency,
                            bias_depth=self._bias_depth, max_layers=self._max_layers)

    @property
    def module_name(self):
        net = f"_net{self._max_layers}b{self._bias_depth}" if self._network else ""
        return f"hostlink_{self._array.module_name}_d{self._divisor}{net}"

    # -- hardware ------------------------------------------------------------------------------
    def _byte_ends(self, m):
        """The byte streams the protocol engine reads and writes, ``(rx, tx)``: the UARTs on
        the serial lines. (The host link's formal check, :mod:`hwgen.verify.hostlink`, puts
        free byte streams here instead.)"""
        m.submodules.uart_rx = urx = UARTRx(self._divisor)
        m.submodules.uart_tx = utx = UARTTx(self._divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        return urx.data, utx.data

    def elaborate(self, platform):
        m = Module()
        spec, D, WBITS = self._spec, self._depths, self.word_bits
        arr = self._array
        net = self._network
        if net:
            D = dict(D, bias=self._bias_depth)
            WBITS = dict(WBITS, bias=WBITS["results"])

        byte_rx, byte_tx = self._byte_ends(m)
        m.submodules.receiver = rcv = FrameReceiver(self._max_payload, self._timeout)
        m.submodules.decoder = dec = RequestDecoder(spec, word_bytes=P.word_bytes(WBITS),
                                                    depths=D, max_payload=self._max_payload,
                                                    max_layers=self._max_layers)
        ident = P.identify_payload(self.info)
        m.submodules.controller = ctl = LinkController(ident, network=net)
        m.submodules.access = acc = BufferAccess(word_bits=WBITS, depths=D,
                                                 max_payload=self._max_payload)
        m.submodules.sequencer = seq = RunSequencer(spec, depths=D, bases=net)
        m.submodules.transmitter = xmt = FrameTransmitter(
            max(self._max_payload, len(ident), P.STATUS_PAYLOAD_BYTES))
        m.submodules.watchdog = wdg = Watchdog(self._watchdog)
        # the array, reset before every run and after an aborted one
        m.submodules.array = ResetInserter({"sync": seq.array_reset})(arr)

        # -- memories (the weight and activation buffers by the names in SPRAM_BUFFERS) -------
        m.submodules.stage = stage = Memory(shape=8, depth=self._max_payload, init=[])
        m.submodules.wmem = wmem = Memory(shape=WBITS["weights"], depth=D["weights"], init=[])
        m.submodules.amem = amem = Memory(shape=WBITS["acts"], depth=D["acts"], init=[])
        m.submodules.rmem = rmem = Memory(shape=WBITS["results"], depth=D["results"], init=[])
        if net:
            m.submodules.network = nsq = NetSequencer(spec, depths=D,
                                                      max_payload=self._max_payload,
                                                      max_layers=self._max_layers)
            m.submodules.bmem = bmem = Memory(shape=WBITS["bias"], depth=D["bias"], init=[])

        # -- byte path: UART → receiver → controller → transmitter → UART ----------------------
        m.d.comb += self.busy.eq(seq.busy)
        wiring.connect(m, byte_rx, rcv.rx)
        wiring.connect(m, rcv.stage, stage.write_port())
        wiring.connect(m, rcv.frame, ctl.request)
        m.d.comb += [dec.request.eq(rcv.frame.payload), ctl.check.eq(dec.status),
                     ctl.reply_length.eq(dec.reply_length)]
        wiring.connect(m, ctl.header, xmt.header)
        wiring.connect(m, ctl.payload, xmt.payload)
        wiring.connect(m, xmt.tx, byte_tx)

        # -- WRITE/READ and RUN ----------------------------------------------------------------
        wiring.connect(m, ctl.access, acc.cmd)
        wiring.connect(m, acc.data, ctl.read_data)
        if net:
            self._connect_network(m, ctl, dec, acc, seq, nsq, stage, rmem, bmem)
        else:
            wiring.connect(m, acc.stage, stage.read_port())
            wiring.connect(m, ctl.run, seq.cmd)
        m.d.comb += [ctl.run_status.eq(seq.status), ctl.run_cycles.eq(seq.cycles)]
        wiring.connect(m, seq.w_feed, arr.weights)
        wiring.connect(m, seq.a_feed, arr.acts)
        wiring.connect(m, arr.results, seq.r_capture)
        if not net:
            wiring.connect(m, seq.results_wr, rmem.write_port())
        # The watchdog sees the transfers at the array's ports.
        progress = ((arr.weights.valid & arr.weights.ready) |
                    (arr.acts.valid & arr.acts.ready) | (arr.results.valid & seq.busy))
        m.d.comb += [wdg.enable.eq(seq.busy), wdg.progress.eq(progress),
                     seq.abort.eq(wdg.expired)]

        # -- buffer read ports: the sequencer's while a run streams, else BufferAccess'. The
        # weight and activation buffers are written (WRITE) and read at one address, so they
        # map to single-port RAM (the UP5K's SPRAM) as well as to block RAM.
        # With the network extension its sequencer owns the result buffer's read port and the
        # activation buffer's write port while it is busy and no run streams.
        for name, mem in (("weights", wmem), ("acts", amem), ("results", rmem)):
            rd = mem.read_port()
            seq_rd, acc_rd = getattr(seq, f"{name}_rd"), getattr(acc, f"{name}_rd")
            addr = Signal(range(D[name]), name=f"{name}_addr")     # one address: see above
            other_addr, other_en = acc_rd.addr, acc_rd.en
            if net and name == "results":
                other_addr = Mux(nsq.busy, nsq.results_rd.addr, acc_rd.addr)
                other_en = Mux(nsq.busy, nsq.results_rd.en, acc_rd.en)
                m.d.comb += nsq.results_rd.data.eq(rd.data)
            if net and name == "acts":
                # one address for the sequencer's reads (gather) and writes (outputs)
                other_addr = Mux(nsq.busy, nsq.acts_wr.addr, acc_rd.addr)
                other_en = Mux(nsq.busy, nsq.acts_rd.en, acc_rd.en)
                m.d.comb += nsq.acts_rd.data.eq(rd.data)
            rd_en = Mux(seq.busy, seq_rd.en, other_en)
            m.d.comb += [addr.eq(Mux(seq.busy, seq_rd.addr, other_addr)), rd.addr.eq(addr),
                         seq_rd.data.eq(rd.data), acc_rd.data.eq(rd.data)]
            if name in SPRAM_BUFFERS:
                wr, acc_wr = mem.write_port(), getattr(acc, f"{name}_wr")
                data_in, wr_en = acc_wr.data, acc_wr.en
                if net and name == "acts":
                    data_in = Mux(nsq.busy, nsq.acts_wr.data, acc_wr.data)
                    wr_en = acc_wr.en | nsq.acts_wr.en
                m.d.comb += [wr.addr.eq(addr), wr.data.eq(data_in), wr.en.eq(wr_en)]
                # Never read while writing, visibly: SPRAM's read-during-write is undefined,
                # and block RAM then needs no bypass logic for it.
                rd_en = rd_en & ~wr_en
            m.d.comb += rd.en.eq(rd_en)
        return m

    def _connect_network(self, m, ctl, dec, acc, seq, nsq, stage, rmem, bmem):
        """The version-2 parts: LOAD_NET and INFER from the controller to the network
        sequencer, its runs through the run sequencer, the staging, result and bias
        buffers shared with the buffer access."""
        # LOAD_NET / INFER, and what the decoder and controller need to know of the table
        wiring.connect(m, ctl.net_load, nsq.load)
        wiring.connect(m, ctl.net_infer, nsq.infer)
        m.d.comb += [ctl.net_load_status.eq(nsq.load_status), ctl.net_status.eq(nsq.status),
                     ctl.net_cycles.eq(nsq.cycles), acc.first_byte.eq(ctl.first_byte)]
        for k in ("k0", "a_in0", "n_last"):
            m.d.comb += getattr(ctl, f"net_{k}").eq(getattr(nsq, k))
        m.d.comb += [dec.net_loaded.eq(nsq.loaded), dec.net_k0.eq(nsq.k0),
                     dec.net_n_last.eq(nsq.n_last)]
        # the run sequencer takes RUN from the controller or a layer's run from the network
        # sequencer (never both at once), with the network's first rows
        from_net = nsq.run.valid
        m.d.comb += [
            seq.cmd.valid.eq(ctl.run.valid | nsq.run.valid),
            seq.cmd.payload.eq(Mux(from_net, nsq.run.payload, ctl.run.payload)),
            ctl.run.ready.eq(seq.cmd.ready), nsq.run.ready.eq(seq.cmd.ready),
            nsq.run_status.eq(seq.status),
            seq.w_base.eq(Mux(from_net, nsq.w_base, 0)),
            seq.a_base.eq(Mux(from_net, nsq.a_base, 0)),
            seq.r_base.eq(Mux(from_net, nsq.r_base, 0)),
        ]
        # staging buffer reads: the table checks and copy, else WRITE's copy
        st = stage.read_port()
        m.d.comb += [st.addr.eq(Mux(nsq.busy, nsq.stage_rd.addr, acc.stage.addr)),
                     st.en.eq(Mux(nsq.busy, nsq.stage_rd.en, acc.stage.en)),
                     acc.stage.data.eq(st.data), nsq.stage_rd.data.eq(st.data)]
        # result buffer writes: the array's rows while a run streams, else the scores
        rw = rmem.write_port()
        m.d.comb += [rw.addr.eq(Mux(seq.busy, seq.results_wr.addr, nsq.results_wr.addr)),
                     rw.data.eq(Mux(seq.busy, seq.results_wr.data, nsq.results_wr.data)),
                     rw.en.eq(Mux(seq.busy, seq.results_wr.en, nsq.results_wr.en))]
        # bias buffer: WRITE/READ, and the epilogue's reads
        brd, bwr = bmem.read_port(), bmem.write_port()
        m.d.comb += [brd.addr.eq(Mux(nsq.busy, nsq.bias_rd.addr, acc.bias_rd.addr)),
                     brd.en.eq(Mux(nsq.busy, nsq.bias_rd.en, acc.bias_rd.en)),
                     acc.bias_rd.data.eq(brd.data), nsq.bias_rd.data.eq(brd.data),
                     bwr.addr.eq(acc.bias_wr.addr), bwr.data.eq(acc.bias_wr.data),
                     bwr.en.eq(acc.bias_wr.en)]
