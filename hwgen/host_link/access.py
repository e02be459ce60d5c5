"""Buffer copies: WRITE's staged bytes into buffer words, buffer words into READ's bytes.

:class:`BufferAccess` carries out a checked WRITE or READ (a
:class:`~.layouts.BufferCommand`): it copies ``count`` words from the staging buffer (payload
bytes 5 onwards, ``ceil(bits / 8)`` bytes a word, little-endian) into the weight or activation
buffer from word ``addr``, or streams ``count`` words of any buffer from ``addr`` as bytes.
It drives each buffer's read and write port with one address, so that the buffers may be
single-port RAM (the UP5K's SPRAM), and never reads a buffer in a cycle it writes it
(SPRAM's read-during-write is undefined).
"""

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .layouts import ARG_BYTES, BufferCommand

__all__ = ["BufferAccess", "WRITABLE", "BUFFERS"]

#: The buffers, in the order of their ids (a version-2 board adds ``bias``, id 3).
BUFFERS = ("weights", "acts", "results")
#: The buffers WRITE can change.
WRITABLE = ("weights", "acts")



class BufferAccess(wiring.Component):
    """WRITE and READ on the on-chip buffers.

    Parameters
    ----------
    word_bits : dict
        Bits per word of the ``weights``, ``acts`` and ``results`` buffers (and ``bias``).
    depths : dict
        Words in each buffer. A ``bias`` entry adds the bias buffer (version 2: id 3,
        writable, words as wide as the results') and the :attr:`first_byte` input.
    max_payload : int
        Bytes in the staging buffer.

    Members
    -------
    cmd : In(stream.Signature(BufferCommand))
        The command, already checked (:class:`~.decoder.RequestDecoder`); it is taken
        (``ready``) in the cycle its last word is written or its last byte is taken from
        :attr:`data`.
    stage : In(ReadPort.Signature(...))
        Read port of the staging buffer.
    weights_rd, acts_rd, results_rd : In(ReadPort.Signature(...))
        Read ports of the buffers.
    weights_wr, acts_wr : In(WritePort.Signature(...))
        Write ports of the writable buffers; their address is always that of the read port.
    data : Out(stream.Signature(8))
        READ: the words' bytes.
    first_byte : In(8)
        With a bias buffer: the staging-buffer byte WRITE copies from (0 for INFER, whose
        payload is all words; :data:`~.layouts.ARG_BYTES` for WRITE).
    """

    def __init__(self, *, word_bits, depths, max_payload):
        self._buffers = BUFFERS + (("bias",) if "bias" in depths else ())
        self._writable = WRITABLE + (("bias",) if "bias" in depths else ())
        self._word_bits = {k: P.check_int(f"Word width of the {k} buffer", word_bits[k])
                           for k in self._buffers}
        self._depths = {k: P.check_int(f"Depth of the {k} buffer", depths[k], 1, 0xFFFF)
                        for k in self._buffers}
        self._max_payload = P.check_int("Maximum payload", max_payload, 16, 0xFFFF)
        ports = {
            "cmd": In(stream.Signature(BufferCommand)),
            "stage": In(ReadPort.Signature(addr_width=P.addr_width(max_payload), shape=8)),
            "data": Out(stream.Signature(8)),
        }
        for k in self._buffers:
            sig = dict(addr_width=P.addr_width(self._depths[k]), shape=self._word_bits[k])
            ports[f"{k}_rd"] = In(ReadPort.Signature(**sig))
            if k in self._writable:
                ports[f"{k}_wr"] = In(WritePort.Signature(**sig))
        if "bias" in self._buffers:
            ports["first_byte"] = In(8)
        super().__init__(ports)

    word_bits = property(lambda self: dict(self._word_bits))
    depths = property(lambda self: dict(self._depths))

    #: For formal checks (:mod:`hwgen.verify.hostlink`): ``{buffer: (addr, en)}`` of
    #: Signals set before elaboration, which the component then drives with each buffer
    #: write's full-width address and enable. ``None`` (the default): nothing is added.
    write_probe = None

    #: For formal checks (:mod:`hwgen.verify.hostlink`): a Signal set before elaboration, which the
    #: component then drives high while it is idle (no WRITE or READ under way). ``None`` (the
    #: default): nothing is added.
    idle_probe = None

    @property
    def word_bytes(self):
        return P.word_bytes(self._word_bits)

    def elaborate(self, platform):
        m = Module()
        WB, WBITS = self.word_bytes, self._word_bits
        BUFS, WRITES = self._buffers, self._writable
        c = self.cmd.payload
        bi = Signal(range(max(WB.values())))        # byte within the word
        wcnt = Signal(16)                            # words done
        idx = Signal(range(self._max_payload + 1))   # staging buffer address
        word = Signal(8 * max(WB[k] for k in WRITES))
        out = Signal(8)                              # READ: the byte to send
        held = Signal(max(WBITS.values()))           # READ: the word read
        last_bi = Array([Const(WB[k] - 1, bi.shape()) for k in BUFS] +
                        [Const(0, bi.shape())] * (4 - len(BUFS)))[c.buf]
        last_byte = bi == last_bi
        last_word = wcnt + 1 == c.count
        addr = Signal(17)
        m.d.comb += [addr.eq(c.addr + wcnt), self.stage.addr.eq(idx),
                     self.data.payload.eq(out)]
        we = {k: Signal(name=f"{k}_we") for k in WRITES}
        for k in BUFS:
            rd = getattr(self, f"{k}_rd")
            m.d.comb += rd.addr.eq(addr)
            if k in WRITES:
                wr = getattr(self, f"{k}_wr")
                m.d.comb += [wr.addr.eq(addr), wr.data.eq(word), wr.en.eq(we[k]),
                             rd.en.eq(~we[k])]   # never read while writing
            else:
                m.d.comb += rd.en.eq(1)
        if self.write_probe is not None:
            for k in WRITABLE:
                p_addr, p_en = self.write_probe[k]
                m.d.comb += [p_addr.eq(addr), p_en.eq(we[k])]

        with m.FSM(name="access") as fsm:
            with m.State("IDLE"):
                first = self.first_byte if "bias" in BUFS else ARG_BYTES
                m.d.sync += [wcnt.eq(0), bi.eq(0), idx.eq(first)]
                with m.If(self.cmd.valid):
                    with m.If(c.write):
                        m.next = "COPY_A"
                    with m.Else():
                        m.next = "FETCH"

            # WRITE: staging buffer → word register → weight/activation buffer.
            with m.State("COPY_A"):
                m.next = "COPY_B"          # the staging buffer's read takes one cycle
            with m.State("COPY_B"):
                m.d.sync += [word.word_select(bi, 8).eq(self.stage.data), idx.eq(idx + 1)]
                with m.If(last_byte):
                    m.next = "COPY_W"
                with m.Else():
                    m.d.sync += bi.eq(bi + 1)
                    m.next = "COPY_A"
            with m.State("COPY_W"):
                for k in WRITES:
                    m.d.comb += we[k].eq(c.buf == BUFS.index(k))
                m.d.sync += [bi.eq(0), wcnt.eq(wcnt + 1)]
                with m.If(last_word):
                    m.d.comb += self.cmd.ready.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.next = "COPY_A"

            # READ: buffer word → its bytes, one at a time (the address holds still for a
            # whole word). The word read goes into a register before its byte is picked: a
            # block RAM's read data come late in the cycle (ECP5 DP16KD: 5.8 ns after the
            # clock), and the byte select behind them held a board top's clock near 59 MHz.
            with m.State("FETCH"):
                m.next = "LOAD"            # the buffer's read takes one cycle
            with m.State("LOAD"):
                m.d.sync += held.eq(Array(getattr(self, f"{k}_rd").data for k in BUFS)
                                    [c.buf[:2]])
                m.next = "PICK"
            with m.State("PICK"):
                byte = [Array(Cat(held[:WBITS[k]], Const(0, 8 * WB[k] - WBITS[k]))
                              .word_select(i, 8) for i in range(WB[k]))[bi]
                        for k in BUFS]
                m.d.sync += out.eq(Array(byte)[c.buf[:2]])
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += self.data.valid.eq(1)
                with m.If(self.data.ready):
                    with m.If(last_byte):
                        m.d.sync += [bi.eq(0), wcnt.eq(wcnt + 1)]
                    with m.Else():
                        m.d.sync += bi.eq(bi + 1)
                    with m.If(last_byte & last_word):
                        m.d.comb += self.cmd.ready.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "FETCH"
        if self.idle_probe is not None:
            m.d.comb += self.idle_probe.eq(fsm.ongoing("IDLE"))
        return m
