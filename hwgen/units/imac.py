"""Integer multiply-accumulate unit with stream interfaces: int8 × int8 → int32 and any other
widths. Golden model: :func:`hwgen.golden.imac.int_mac`."""

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.imac import check_int_widths

__all__ = ["IntMac"]


class IntMac(wiring.Component):
    """Streaming integer MAC: ``o = Σ a·b`` over each dot product, one product per clock.

    Each input item ``(a, b, last)`` adds ``a * b`` to the accumulator. The item with ``last``
    set closes the dot product: its sum (that item included) goes out on ``o`` and the
    accumulator **restarts from zero** for the next item. Reset also starts from zero; there is
    no other clear. The accumulator wraps modulo ``2**acc_bits`` (two's complement when
    ``signed``).

    Timing: a new item can be accepted every clock while ``o`` is not stalled. The result of a
    dot product is valid ``latency`` (2) clocks after its ``last`` item was transferred. When a
    result waits on ``o`` (``o.ready`` low), items keep flowing in and accumulating; only an
    item with ``last`` that would produce the next result is held (``i.ready`` drops) until
    the waiting result is taken. No item is lost or counted twice under any stall pattern.
    ``i.ready`` depends combinationally on ``o.ready``; ``o.valid`` comes from a register.

    Parameters
    ----------
    a_bits, b_bits : int
        Operand widths, 1 to 32 (at least 2 when ``signed``).
    acc_bits : int
        Accumulator width, from ``a_bits + b_bits`` (one full product) to 64.
    signed : bool
        Two's-complement operands and accumulator, or unsigned ones.

    Members
    -------
    i : ``In(stream.Signature(StructLayout({"a", "b", "last"})))``
        Operand stream; in Verilog ``i__payload`` holds ``a`` in the low ``a_bits`` bits, then
        ``b``, then ``last`` in the top bit.
    o : ``Out(stream.Signature(signed(acc_bits)))``
        One result per dot product (``unsigned`` when not ``signed``).

    Attributes
    ----------
    latency : int
        Clocks from the transfer of a ``last`` item to its result being valid on ``o``.
    module_name : str
        ``imac_s8x8_a32`` (``u`` for unsigned).

    Raises
    ------
    TypeError
        A width is not an integer.
    ValueError
        A width is out of range.
    """

    LATENCY = 2

    def __init__(self, a_bits: int = 8, b_bits: int = 8, acc_bits: int = 32,
                 signed: bool = True) -> None:
        signed = bool(signed)
        a_bits, b_bits, acc_bits = check_int_widths(a_bits, b_bits, acc_bits, signed)
        if acc_bits < a_bits + b_bits:
            raise ValueError(f"Accumulator width must be at least a_bits + b_bits = "
                             f"{a_bits + b_bits} to hold one product, not {acc_bits}")
        self._a_bits, self._b_bits, self._acc_bits = a_bits, b_bits, acc_bits
        self._signed = signed
        op = (lambda n: Shape(n, signed=signed))
        self._in_layout = data.StructLayout({"a": op(a_bits), "b": op(b_bits), "last": 1})
        super().__init__({
            "i": In(stream.Signature(self._in_layout)),
            "o": Out(stream.Signature(op(acc_bits))),
        })

    a_bits = property(lambda self: self._a_bits)
    b_bits = property(lambda self: self._b_bits)
    acc_bits = property(lambda self: self._acc_bits)
    signed = property(lambda self: self._signed)
    latency = property(lambda self: self.LATENCY)
    input_layout = property(lambda self: self._in_layout)

    @property
    def product_bits(self) -> int:
        """Width of one exact product, ``a_bits + b_bits``."""
        return self._a_bits + self._b_bits

    @property
    def module_name(self) -> str:
        return (f"imac_{'s' if self._signed else 'u'}{self._a_bits}x{self._b_bits}"
                f"_a{self._acc_bits}")

    def __repr__(self) -> str:
        if not hasattr(self, "_signed"):  # __init__ raised
            return "IntMac(...)"
        return (f"IntMac(a_bits={self._a_bits}, b_bits={self._b_bits}, "
                f"acc_bits={self._acc_bits}, signed={self._signed})")

    def elaborate(self, platform):
        m = Module()
        shape = Shape(self._acc_bits, signed=self._signed)

        # Stage 1: the registered product (a DSP's output register).
        p_valid = Signal()
        p_last = Signal()
        product = Signal(Shape(self.product_bits, signed=self._signed))
        # Stage 2: the running sum of the current dot product, excluding `product`.
        acc = Signal(shape)
        total = Signal(shape)
        m.d.comb += total.eq(acc + product)  # wraps modulo 2**acc_bits

        # Only a `last` item whose result has nowhere to go stops the pipeline.
        stall = p_valid & p_last & self.o.valid & ~self.o.ready
        m.d.comb += self.i.ready.eq(~stall)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(~stall):
            m.d.sync += [
                p_valid.eq(self.i.valid),
                p_last.eq(self.i.payload.last),
                product.eq(self.i.payload.a * self.i.payload.b),
            ]
            with m.If(p_valid):
                with m.If(p_last):
                    m.d.sync += [
                        acc.eq(0),
                        self.o.payload.eq(total),
                        self.o.valid.eq(1),
                    ]
                with m.Else():
                    m.d.sync += acc.eq(total)
        return m
