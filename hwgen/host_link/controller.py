"""The link controller: one response for every request.

:class:`LinkController` takes a received request (:class:`~.receiver.FrameReceiver`) with its
check (:class:`~.decoder.RequestDecoder`), has it carried out — WRITE and READ by
:class:`~.access.BufferAccess`, RUN by :class:`~.sequencer.RunSequencer`, IDENTIFY and STATUS
itself — and answers it through :class:`~.transmitter.FrameTransmitter`, errors included. It
keeps the STATUS counters: ``frames_ok`` counts a request once its ok response has been sent,
``errors`` every error response, when it is decided. The request is released (and the
receiver listens again) once its response has been sent.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .layouts import ARG_BYTES, BufferCommand, Request, ResponseHeader, RunArgs, StatusPayload

__all__ = ["LinkController"]


class LinkController(wiring.Component):
    """Requests in, responses out.

    Parameters
    ----------
    ident : bytes
        The IDENTIFY response payload (kept in a ROM).

    Members
    -------
    request : In(stream.Signature(Request))
        From the receiver; taken when its response has been sent.
    check : In(8)
        The decoder's status of :attr:`request`.
    reply_length : In(16)
        The decoder's READ response length.
    access : Out(stream.Signature(BufferCommand))
        WRITE and READ, to :class:`~.access.BufferAccess`.
    read_data : In(stream.Signature(8))
        READ response bytes from :class:`~.access.BufferAccess`.
    run : Out(stream.Signature(RunArgs))
        RUN, to :class:`~.sequencer.RunSequencer`.
    run_status : In(8)
        How the run ended (valid while ``run.ready``).
    run_cycles : In(32)
        Cycles of the last run.
    header : Out(stream.Signature(ResponseHeader))
        The response, to :class:`~.transmitter.FrameTransmitter`.
    payload : Out(stream.Signature(8))
        Its payload bytes.

    With ``network`` (version 2, :class:`~.network.NetSequencer`):

    net_load : Out(stream.Signature(8))
        LOAD_NET with its layer count; ``net_load_status`` how it ended.
    net_infer : Out(stream.Signature(1))
        INFER, once the input is in place (a WRITE of ``net_k0`` activation words to row
        ``net_a_in0`` from staging byte 0: ``first_byte``); ``net_status`` how it ended,
        ``net_cycles`` its clock cycles. Its response is a READ of ``net_n_last`` result
        rows.
    """

    def __init__(self, ident, *, network=False):
        self._ident = bytes(ident)
        if not 1 <= len(self._ident) <= 0xFFFF:
            raise ValueError(f"IDENTIFY payload must be 1..65535 bytes, not "
                             f"{len(self._ident)}")
        self._network = bool(network)
        ports = {
            "request": In(stream.Signature(Request)),
            "check": In(8),
            "reply_length": In(16),
            "access": Out(stream.Signature(BufferCommand)),
            "read_data": In(stream.Signature(8)),
            "run": Out(stream.Signature(RunArgs)),
            "run_status": In(8),
            "run_cycles": In(32),
            "header": Out(stream.Signature(ResponseHeader)),
            "payload": Out(stream.Signature(8)),
        }
        if self._network:
            ports.update(net_load=Out(stream.Signature(8)), net_load_status=In(8),
                         net_infer=Out(stream.Signature(1)), net_status=In(8),
                         net_cycles=In(32), net_k0=In(16), net_a_in0=In(16),
                         net_n_last=In(16), first_byte=Out(8))
        super().__init__(ports)

    ident = property(lambda self: self._ident)

    #: For formal checks (:mod:`hwgen.verify.hostlink`): a Signal set before elaboration, which the
    #: component then drives high while it is idle (no request taken). ``None`` (the default):
    #: nothing is added.
    idle_probe = None

    def elaborate(self, platform):
        m = Module()
        req = self.request.payload
        m.submodules.rom = rom = Memory(shape=8, depth=len(self._ident),
                                        init=list(self._ident))
        rom_r = rom.read_port()

        status = Signal(8)
        rsp_len = Signal(16)
        SRC_NONE, SRC_ROM, SRC_SMALL, SRC_MEM = range(4)
        src = Signal(2)
        frames_ok, errors = Signal(16), Signal(16)
        last_error, last_run = Signal(8), Signal(8)
        counters = Signal(StatusPayload)          # what STATUS sends
        mem_pending = Signal()      # READ: the access is still streaming
        pidx = Signal(range(max(len(self._ident), P.STATUS_PAYLOAD_BYTES)))
        primed = Signal()           # ROM/STATUS bytes: the byte at pidx is ready

        if self._network:
            infer_cycles = Signal()     # the last run was an INFER: STATUS reports its cycles
            cycles = Mux(infer_cycles, self.net_cycles, self.run_cycles)
        else:
            cycles = self.run_cycles
        m.d.comb += [
            counters.frames_ok.eq(frames_ok), counters.errors.eq(errors),
            counters.last_error.eq(last_error), counters.last_run_status.eq(last_run),
            counters.last_run_cycles.eq(cycles),
            self.header.payload.status.eq(status),
            self.header.payload.cmd.eq(req.cmd),
            self.header.payload.length.eq(rsp_len),
            self.access.payload.buf.eq(req.args.buffer.buf),
            self.access.payload.addr.eq(req.args.buffer.addr),
            self.access.payload.count.eq(req.args.buffer.count),
            self.run.payload.eq(req.args.run),
            rom_r.addr.eq(pidx),
        ]
        if self._network:
            # INFER: the input (staged from byte 0) into the first layer's rows; the response
            # reads the scores
            w = self.access.payload.write
            with m.If(req.cmd == P.CMD_INFER):
                m.d.comb += [
                    self.access.payload.buf.eq(Mux(w, P.BUF_ACTS, P.BUF_RESULTS)),
                    self.access.payload.addr.eq(Mux(w, self.net_a_in0, 0)),
                    self.access.payload.count.eq(Mux(w, self.net_k0, self.net_n_last)),
                ]
            m.d.comb += [self.first_byte.eq(Mux(req.cmd == P.CMD_INFER, 0, ARG_BYTES)),
                         self.net_load.payload.eq(req.args.bytes[0])]

        def reply(code, n, source):
            m.d.sync += [status.eq(code), rsp_len.eq(n), src.eq(source), pidx.eq(0),
                         primed.eq(0), mem_pending.eq(source == SRC_MEM)]
            m.next = "RESPOND"

        def fail(code):
            m.d.sync += status.eq(code)
            m.next = "ERROR"

        with m.FSM(name="link") as fsm:
            with m.State("IDLE"):
                with m.If(self.request.valid):
                    with m.If(req.status != P.ST_OK):
                        fail(req.status)
                    with m.Elif(self.check != P.ST_OK):
                        fail(self.check)
                    with m.Else():
                        with m.Switch(req.cmd):
                            with m.Case(P.CMD_IDENTIFY):
                                reply(P.ST_OK, len(self._ident), SRC_ROM)
                            with m.Case(P.CMD_STATUS):
                                reply(P.ST_OK, P.STATUS_PAYLOAD_BYTES, SRC_SMALL)
                            with m.Case(P.CMD_READ):
                                reply(P.ST_OK, self.reply_length, SRC_MEM)
                            with m.Case(P.CMD_WRITE):
                                m.next = "WRITE"
                            with m.Case(P.CMD_RUN):
                                m.next = "RUN"
                            if self._network:
                                with m.Case(P.CMD_LOAD_NET):
                                    m.next = "LOAD_NET"
                                with m.Case(P.CMD_INFER):
                                    m.next = "INFER_INPUT"
            with m.State("WRITE"):
                m.d.comb += [self.access.valid.eq(1), self.access.payload.write.eq(1)]
                with m.If(self.access.ready):
                    reply(P.ST_OK, 0, SRC_NONE)
            with m.State("RUN"):
                m.d.comb += self.run.valid.eq(1)
                with m.If(self.run.ready):
                    with m.If(self.run_status == P.ST_OUT_OF_RANGE):
                        fail(P.ST_OUT_OF_RANGE)
                    with m.Else():
                        # ok or aborted (RUN_TIMEOUT): the payload is the cycle count
                        m.d.sync += last_run.eq(self.run_status)
                        if self._network:
                            m.d.sync += infer_cycles.eq(0)
                        with m.If(self.run_status != P.ST_OK):
                            m.d.sync += [errors.eq(errors + 1),
                                         last_error.eq(self.run_status)]
                        reply(self.run_status, P.RUN_PAYLOAD_BYTES, SRC_SMALL)
            if self._network:
                with m.State("LOAD_NET"):
                    m.d.comb += self.net_load.valid.eq(1)
                    with m.If(self.net_load.ready):
                        with m.If(self.net_load_status != P.ST_OK):
                            fail(self.net_load_status)
                        with m.Else():
                            reply(P.ST_OK, 0, SRC_NONE)
                with m.State("INFER_INPUT"):
                    m.d.comb += [self.access.valid.eq(1), self.access.payload.write.eq(1)]
                    with m.If(self.access.ready):
                        m.next = "INFER"
                with m.State("INFER"):
                    m.d.comb += self.net_infer.valid.eq(1)
                    with m.If(self.net_infer.ready):
                        m.d.sync += [last_run.eq(self.net_status), infer_cycles.eq(1)]
                        with m.If(self.net_status != P.ST_OK):
                            fail(self.net_status)
                        with m.Else():
                            reply(P.ST_OK, self.reply_length, SRC_MEM)
            with m.State("ERROR"):
                m.d.sync += [errors.eq(errors + 1), last_error.eq(status)]
                reply(status, 0, SRC_NONE)

            with m.State("RESPOND"):
                m.d.comb += self.header.valid.eq(1)
                # READ: BufferAccess streams the words while the header goes out.
                m.d.comb += self.access.valid.eq(mem_pending)
                with m.If(self.access.ready):
                    m.d.sync += mem_pending.eq(0)
                # ROM and counter bytes: one byte per pidx, ready the cycle after it is set
                # (the ROM's read takes a cycle). STATUS sends the counters as they were
                # before this frame; RUN the cycle count, the last field.
                small = data.View(data.ArrayLayout(8, P.STATUS_PAYLOAD_BYTES), counters)
                at = pidx + Mux(req.cmd == P.CMD_RUN,
                                P.STATUS_PAYLOAD_BYTES - P.RUN_PAYLOAD_BYTES, 0)
                with m.Switch(src):
                    with m.Case(SRC_ROM):
                        m.d.comb += [self.payload.valid.eq(primed),
                                     self.payload.payload.eq(rom_r.data)]
                    with m.Case(SRC_SMALL):
                        m.d.comb += [self.payload.valid.eq(primed),
                                     self.payload.payload.eq(small[at])]
                    with m.Case(SRC_MEM):
                        m.d.comb += [self.payload.valid.eq(self.read_data.valid),
                                     self.payload.payload.eq(self.read_data.payload),
                                     self.read_data.ready.eq(self.payload.ready)]
                with m.If(self.payload.valid & self.payload.ready):
                    m.d.sync += [pidx.eq(pidx + 1), primed.eq(0)]
                with m.Else():
                    m.d.sync += primed.eq(1)
                with m.If(self.header.ready):
                    with m.If(status == P.ST_OK):
                        m.d.sync += frames_ok.eq(frames_ok + 1)
                    m.d.comb += self.request.ready.eq(1)
                    m.next = "IDLE"
        if self.idle_probe is not None:
            m.d.comb += self.idle_probe.eq(fsm.ongoing("IDLE"))
        return m
