"""The epilogue between two chained layers: accumulator + bias → the next layer's input code.

:class:`Epilogue` is :func:`hwgen.golden.epilogue.layer_epilogue` in hardware, one element at
a time, for the network extension of the host link (:mod:`.network`)::

    x = acc + bias                                  exact (acc_bits + 1 bits)
    shift > 0:  q = round_half_even(x / 2**shift)   guard and sticky bits
    shift <= 0: q = x * 2**-shift                   an overflow only saturates
    code = saturate(q, bits), then max(code, 0) when relu

or, in ``raw`` mode (a network's last layer: its scores), ``x`` wrapped to ``acc_bits``.

The shift is serial, one bit per clock, so there is no barrel shifter (the unit is a few
dozen logic cells, which the UP5K needs): an element takes ``|shift| + 2`` clocks, which is
small beside a layer's run and nothing beside the UART. Right shifts keep the last bit
shifted out (guard) and the OR of the ones before it (sticky); left shifts note an overflow
of the sum's width, after which the code can only saturate.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as P

__all__ = ["Epilogue", "FloatEpilogue", "epilogue_input"]


def epilogue_input(acc_bits):
    """The layout of one element on :attr:`Epilogue.inp`."""
    return data.StructLayout({"acc": signed(acc_bits), "bias": signed(acc_bits),
                              "shift": signed(8), "relu": 1, "raw": 1})


class Epilogue(wiring.Component):
    """Element-serial layer epilogue (``|shift| + 2`` clocks per element).

    Parameters
    ----------
    acc_bits : int
        Width of the accumulators and biases (two's complement).
    bits : int
        Width of the output codes (the array's activations).

    Members
    -------
    inp : In(stream.Signature(epilogue_input(acc_bits)))
        An accumulator, its bias, the layer's shift (``NET_SHIFT_MIN .. acc_bits``), ReLU,
        and ``raw`` (the sum wrapped to ``acc_bits`` instead of a code).
    out : Out(stream.Signature(signed(acc_bits)))
        The code (sign-extended), or the raw sum; valid for one clock (``ready`` is not
        looked at).
    """

    def __init__(self, acc_bits, bits):
        self._acc_bits = P.check_int("Accumulator width", acc_bits, 2, 64)
        self._bits = P.check_int("Code width", bits, 2, acc_bits)
        super().__init__({
            "inp": In(stream.Signature(epilogue_input(acc_bits))),
            "out": Out(stream.Signature(signed(acc_bits))),
        })

    acc_bits = property(lambda self: self._acc_bits)
    bits = property(lambda self: self._bits)

    def elaborate(self, platform):
        m = Module()
        A, B = self._acc_bits, self._bits
        W = A + 1
        i = self.inp.payload

        x = Signal(signed(W))                  # the sum, shifting
        n = Signal(range(max(A, -P.NET_SHIFT_MIN) + 1))     # shift steps left
        left = Signal()                        # shifting left
        guard, sticky = Signal(), Signal()
        over = Signal()                        # a left shift overflowed the sum's width
        sign = Signal()                        # the sum's sign (where it overflowed)
        relu, raw = Signal(), Signal()

        # the result of a finished shift: round, saturate, ReLU
        r = Signal(signed(W + 1))
        m.d.comb += r.eq(x + (guard & (sticky | x[0])))
        fits = (r[B - 1:] == 0) | (r[B - 1:] == (1 << (W + 2 - B)) - 1)     # all sign bits
        lo, hi = Const(-(1 << (B - 1)), signed(B)), Const((1 << (B - 1)) - 1, signed(B))
        neg = Mux(over, sign, r[-1])
        code = Mux(fits & ~over, r[:B].as_signed(), Mux(neg, lo, hi))
        m.d.comb += self.out.payload.eq(Mux(raw, x[:A].as_signed(),
                                            Mux(relu & code[-1], 0, code)))

        total = Signal(signed(W))
        m.d.comb += total.eq(i.acc + i.bias)
        with m.FSM(name="epilogue"):
            with m.State("IDLE"):
                m.d.comb += self.inp.ready.eq(1)
                with m.If(self.inp.valid):
                    s = i.shift
                    m.d.sync += [x.eq(total), sign.eq(total[-1]), relu.eq(i.relu),
                                 raw.eq(i.raw),
                                 left.eq(s < 0), n.eq(Mux(i.raw, 0, Mux(s < 0, -s, s))),
                                 guard.eq(0), sticky.eq(0), over.eq(0)]
                    m.next = "SHIFT"
            with m.State("SHIFT"):
                with m.If(n == 0):
                    m.d.comb += self.out.valid.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += n.eq(n - 1)
                    with m.If(left):
                        m.d.sync += [x.eq(x << 1), over.eq(over | (x[-1] != x[-2]))]
                    with m.Else():
                        m.d.sync += [x.eq(x >> 1), guard.eq(x[0]), sticky.eq(sticky | guard)]
        return m


class FloatEpilogue(wiring.Component):
    """The epilogue of a float array (``F:F:rounded``/``F:F:fused``), as the explorer's
    float emulation has it (:func:`hwgen.explore.emulate.float_forward`): the bias added
    with one rounded add in ``F`` (:class:`~hwgen.units.fadd.FloatAdder`, round to nearest
    even), then, with ``relu``, every encoding whose sign bit is set made ``+0``. The sum is
    an ``F`` encoding, so it is the next layer's input as it is; ``raw`` (the last layer)
    only means no ReLU. One element per clock, latency 1; ``shift`` is not used (the table
    checker refuses a non-zero one on a float board).

    Members are those of :class:`Epilogue` with ``acc_bits`` = the width of ``F``: the
    ``acc`` and ``bias`` fields and ``out`` carry encodings.
    """

    def __init__(self, fmt):
        from ..formats import parse_format
        self._fmt = parse_format(fmt)
        W = self._fmt.width
        super().__init__({
            "inp": In(stream.Signature(epilogue_input(W))),
            "out": Out(stream.Signature(signed(W))),
        })

    fmt = property(lambda self: self._fmt)

    def elaborate(self, platform):
        from ..units.fadd import FloatAdder
        m = Module()
        W = self._fmt.width
        i = self.inp.payload
        m.submodules.add = add = FloatAdder(self._fmt, rounding="rne", flags=False)
        m.d.comb += [add.a.eq(i.acc.as_unsigned()), add.b.eq(i.bias.as_unsigned()),
                     self.inp.ready.eq(1)]
        y = add.y
        relu = i.relu & ~i.raw
        m.d.sync += [self.out.payload.eq(Mux(relu & y[W - 1], 0, y)),
                     self.out.valid.eq(self.inp.valid)]
        return m
