"""The request framer: bytes from the UART in, whole request frames out.

:class:`FrameReceiver` hunts for the sync byte, reads the command and the length, writes the
payload into the staging buffer (keeping its first bytes as the command's arguments), checks
the CRC and hands the frame on with a status: ok, bad CRC, truncated (no byte for
``timeout_cycles`` inside the frame) or bad length (above ``max_payload``: the rest of the
frame is dropped until the line has been idle for ``timeout_cycles``, so that it cannot be
taken for a new frame). It checks nothing about the command itself
(:class:`~.decoder.RequestDecoder` does).

A frame stays on :attr:`FrameReceiver.frame` until it is taken, and the link answers it
before taking it: bytes that arrive meanwhile (while the board executes or answers) are
dropped, as the protocol says.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .layouts import ARG_BYTES, Request, frame_crc

__all__ = ["FrameReceiver"]


class FrameReceiver(wiring.Component):
    """Request frames from a byte stream.

    Parameters
    ----------
    max_payload : int
        Largest payload (bytes); the staging buffer holds this many.
    timeout_cycles : int
        A frame that receives no byte for this many cycles ends (``ST_TIMEOUT``).

    Members
    -------
    rx : In(stream.Signature(8, always_ready=True))
        Bytes from the UART.
    stage : In(WritePort.Signature(...))
        Write port of the staging buffer (``max_payload`` bytes): payload byte i goes to
        address i as it arrives.
    frame : Out(stream.Signature(Request))
        The frame received (:class:`~.layouts.Request`); the next frame is received only
        once this one has been taken.
    """

    def __init__(self, max_payload, timeout_cycles):
        self._max_payload = P.check_int("Maximum payload", max_payload, 16, 0xFFFF)
        self._timeout = P.check_int("Timeout", timeout_cycles, 1, (1 << 32) - 1)
        super().__init__({
            "rx": In(stream.Signature(8, always_ready=True)),
            "stage": In(WritePort.Signature(addr_width=(max_payload - 1).bit_length(),
                                            shape=8)),
            "frame": Out(stream.Signature(Request)),
        })

    max_payload = property(lambda self: self._max_payload)
    timeout_cycles = property(lambda self: self._timeout)

    #: For formal checks (:mod:`hwgen.verify.hostlink`): ``{buffer: (addr, en)}`` of
    #: Signals set before elaboration, which the component then drives with each buffer
    #: write's full-width address and enable. ``None`` (the default): nothing is added.
    write_probe = None

    #: For formal checks (:mod:`hwgen.verify.hostlink`): a Signal set before elaboration, which the
    #: component then drives high while it hunts for a sync byte (no frame open). ``None`` (the
    #: default): nothing is added.
    idle_probe = None

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc_check = crc = frame_crc()
        byte, got = self.rx.payload, self.rx.valid
        req = Signal(Request)
        idx = Signal(range(self._max_payload + 1))
        m.d.comb += [self.frame.payload.eq(req), crc.data.eq(byte),
                     self.stage.addr.eq(idx), self.stage.data.eq(byte)]

        # Inter-byte timer: runs inside a frame, restarts with every byte.
        in_frame = Signal()
        timer = Signal(range(self._timeout + 1))
        with m.If(in_frame & ~got & (timer != self._timeout)):
            m.d.sync += timer.eq(timer + 1)
        with m.Elif(~in_frame | got):
            m.d.sync += timer.eq(0)
        timed_out = in_frame & ~got & (timer == self._timeout)

        with m.FSM(name="rx") as fsm:
            with m.State("HUNT"):
                with m.If(got & (byte == P.SYNC_REQUEST)):
                    m.d.comb += crc.start.eq(1)
                    m.d.sync += [req.cmd.eq(0), req.length.eq(0), idx.eq(0)]
                    m.next = "CMD"
            for state, nxt in (("CMD", "LEN0"), ("LEN0", "LEN1"), ("LEN1", None),
                               ("PAYLOAD", None), ("CRC0", "CRC1"), ("CRC1", "CHECK")):
                with m.State(state):
                    m.d.comb += in_frame.eq(1)
                    with m.If(timed_out):
                        m.d.sync += req.status.eq(P.ST_TIMEOUT)
                        m.next = "DONE"
                    with m.Elif(got):
                        m.d.comb += crc.valid.eq(1)
                        if nxt is not None:
                            m.next = nxt
                        if state == "CMD":
                            m.d.sync += req.cmd.eq(byte)
                        elif state == "LEN0":
                            m.d.sync += req.length[:8].eq(byte)
                        elif state == "LEN1":
                            length = Cat(req.length[:8], byte)
                            m.d.sync += req.length[8:].eq(byte)
                            with m.If(length > self._max_payload):
                                m.d.sync += req.status.eq(P.ST_BAD_LENGTH)
                                m.next = "DISCARD"
                            with m.Elif(length == 0):
                                m.next = "CRC0"
                            with m.Else():
                                m.next = "PAYLOAD"
                        elif state == "PAYLOAD":
                            m.d.comb += self.stage.en.eq(1)
                            with m.If(idx < ARG_BYTES):
                                m.d.sync += req.args.bytes[idx[:3]].eq(byte)
                            m.d.sync += idx.eq(idx + 1)
                            with m.If(idx + 1 == req.length):
                                m.next = "CRC0"
            with m.State("CHECK"):
                # The CRC register covers the whole frame, its own CRC included: the residue
                # (0) if it is good.
                m.d.sync += req.status.eq(Mux(crc.match_detected, P.ST_OK, P.ST_BAD_CRC))
                m.next = "DONE"
            with m.State("DISCARD"):
                # The rest of an oversized frame: dropped until the line has been idle.
                m.d.comb += in_frame.eq(1)
                with m.If(timed_out):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.frame.valid.eq(1)
                with m.If(self.frame.ready):
                    m.next = "HUNT"
        if self.write_probe is not None:
            addr, en = self.write_probe["stage"]
            m.d.comb += [addr.eq(idx), en.eq(self.stage.en)]
        if self.idle_probe is not None:
            m.d.comb += self.idle_probe.eq(fsm.ongoing("HUNT"))
        return m

