"""The response framer: a header and a payload byte stream in, response frame bytes out.

:class:`FrameTransmitter` sends the sync byte, the status, the command answered, the length,
``length`` bytes taken from its payload stream, and the CRC (most significant byte first),
computed on the way.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .layouts import ResponseHeader, frame_crc

__all__ = ["FrameTransmitter"]


class FrameTransmitter(wiring.Component):
    """Response frames onto a byte stream.

    Parameters
    ----------
    max_length : int
        Longest payload it will be asked to send (sizes its byte counter; default 65535).

    Members
    -------
    header : In(stream.Signature(ResponseHeader))
        The response to send (:class:`~.layouts.ResponseHeader`). It is taken (``ready``)
        when the frame's last byte has gone to :attr:`tx`: its transfer marks the end of the
        frame.
    payload : In(stream.Signature(8))
        The ``length`` payload bytes of the response.
    tx : Out(stream.Signature(8))
        Frame bytes, to the UART.
    """

    header: In(stream.Signature(ResponseHeader))
    payload: In(stream.Signature(8))
    tx: Out(stream.Signature(8))

    def __init__(self, max_length=0xFFFF):
        self._max_length = P.check_int("Maximum length", max_length, 1, 0xFFFF)
        super().__init__()

    max_length = property(lambda self: self._max_length)

    #: For formal checks (:mod:`hwgen.verify.hostlink`): a Signal set before elaboration, which the
    #: component then drives high while it is idle (no frame being sent). ``None`` (the default):
    #: nothing is added.
    idle_probe = None

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc_gen = crc = frame_crc()
        head = self.header.payload
        tx, done = self.tx, self.tx.valid & self.tx.ready
        pos = Signal(range(5))       # byte of the header (sync first), of the CRC
        sent = Signal(range(self._max_length + 1))      # payload bytes sent
        m.d.comb += crc.data.eq(tx.payload)

        with m.FSM(name="tx") as fsm:
            with m.State("IDLE"):
                m.d.sync += [pos.eq(0), sent.eq(0)]
                with m.If(self.header.valid):
                    m.next = "HEAD"
            with m.State("HEAD"):
                # the sync byte starts the CRC, the others go into it
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(Array([
                    Const(P.SYNC_RESPONSE, 8), head.status, head.cmd, head.length[:8],
                    head.length[8:]])[pos])]
                with m.If(tx.ready):
                    m.d.comb += [crc.start.eq(pos == 0), crc.valid.eq(pos != 0)]
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == 4):
                        m.d.sync += pos.eq(0)
                        m.next = "PAYLOAD"
                        with m.If(head.length == 0):
                            m.next = "CRC"
            with m.State("PAYLOAD"):
                m.d.comb += [tx.valid.eq(self.payload.valid), tx.payload.eq(self.payload.payload),
                             self.payload.ready.eq(tx.ready)]
                with m.If(done):
                    m.d.comb += crc.valid.eq(1)
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent + 1 == head.length):
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(Mux(pos[0], crc.crc[:8], crc.crc[8:]))]
                with m.If(tx.ready):
                    m.d.sync += pos.eq(1)
                    with m.If(pos[0]):
                        m.d.comb += self.header.ready.eq(1)
                        m.next = "IDLE"
        if self.idle_probe is not None:
            m.d.comb += self.idle_probe.eq(fsm.ongoing("IDLE"))
        return m
