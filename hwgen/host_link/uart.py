"""UART receiver and transmitter: 8 data bits, no parity, 1 stop bit (8N1), LSB first.

The bit time is ``divisor`` clock cycles (baud = clock / divisor). The receiver synchronizes
the line with two flip-flops, waits half a bit after the falling edge of the start bit,
checks the start bit is still low, then samples every bit in its middle; a low stop bit is a
framing error (the byte is dropped, :attr:`UARTRx.error` pulses, and the receiver waits for
the line to go high again, so a stuck-low line or a break never yields bytes).

Good defaults: 1 Mbaud divides both board clocks exactly (12 MHz / 12 on the iCEBreaker,
25 MHz / 25 on the ULX3S); see :func:`~hwgen.host_link.protocol.divisor_for` (plain Python, with
the protocol: the host side uses it too).
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .protocol import MIN_DIVISOR, check_divisor, divisor_for

__all__ = ["UARTRx", "UARTTx", "divisor_for", "MIN_DIVISOR"]


class UARTRx(wiring.Component):
    """UART receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (at least :data:`MIN_DIVISOR`).

    Members
    -------
    rx : In(1)
        The serial line (idle high).
    data : Out(stream.Signature(8, always_ready=True))
        The bytes received, each ``valid`` for one cycle (no back-pressure: a UART cannot
        wait).
    error : Out(1)
        One-cycle pulse on a framing error.
    """

    rx: In(1, init=1)
    data: Out(stream.Signature(8, always_ready=True))
    error: Out(1)

    def __init__(self, divisor):
        self._divisor = check_divisor(divisor)
        super().__init__()

    divisor = property(lambda self: self._divisor)

    def elaborate(self, platform):
        m = Module()
        div = self._divisor
        s0 = Signal(init=1)
        line = Signal(init=1)
        m.d.sync += [s0.eq(self.rx), line.eq(s0)]
        count = Signal(range(div))
        bit = Signal(range(8))
        shreg = Signal(8)
        m.d.comb += self.data.payload.eq(shreg)
        with m.If(count != 0):
            m.d.sync += count.eq(count - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += count.eq(div // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(count == 0):
                    with m.If(~line):
                        m.d.sync += [count.eq(div - 1), bit.eq(0)]
                        m.next = "DATA"
                    with m.Else():  # a glitch, not a start bit
                        m.next = "IDLE"
            with m.State("DATA"):
                with m.If(count == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), count.eq(div - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(count == 0):
                    with m.If(line):
                        m.d.comb += self.data.valid.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """UART transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit.

    Members
    -------
    data : In(stream.Signature(8))
        Bytes to send; ``ready`` is high while the transmitter is idle.
    tx : Out(1)
        The serial line (idle high).
    """

    def __init__(self, divisor):
        self._divisor = check_divisor(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    divisor = property(lambda self: self._divisor)

    def elaborate(self, platform):
        m = Module()
        div = self._divisor
        count = Signal(range(div))
        bits = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        m.d.comb += [self.tx.eq(shreg[0]), self.data.ready.eq(bits == 0)]
        with m.If(self.data.valid & self.data.ready):
            # start bit (0), 8 data bits LSB first, stop bit (1)
            m.d.sync += [shreg.eq(Cat(0, self.data.payload, 1)), bits.eq(10),
                         count.eq(div - 1)]
        with m.Elif(bits != 0):
            with m.If(count == 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], 1)), bits.eq(bits - 1),
                             count.eq(div - 1)]
            with m.Else():
                m.d.sync += count.eq(count - 1)
        return m
