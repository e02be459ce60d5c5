"""Power-of-two MAC: weights ``0`` or ``±2**shift``, a shifter instead of a multiplier.

Golden model: :mod:`hwgen.golden.p2mac`. cocotb test: ``rtl_tests/test_p2mac.py``.
"""

from amaranth import Module, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .intcommon import (GUARD_BITS, MAX_ACC_BITS, MAX_ACT_BITS, MAX_LANES, accumulate_stream,
                        adder_tree, check_int, signed_width)

__all__ = ["Pow2Mac"]

MAX_SHIFT = 24


class Pow2Mac(wiring.Component):
    """Power-of-two dot-product MAC: each of ``lanes`` signed activations is shifted left by
    its weight's exponent, negated or skipped, and the lanes are summed.

    Weight code per lane (see :mod:`hwgen.golden.p2mac`), first field in the low bits:
    ``shift`` (``shift_bits`` bits; codes above ``max_shift`` saturate to ``max_shift``),
    ``neg``, ``zero`` (the weight is 0: the lane is skipped). The result is in units of the
    weight scale (the host multiplies, e.g. by the scale of
    :func:`hwgen.golden.p2mac.quantize_pow2`).

    Groups: the accumulator starts at zero, adds every operation, and on an operation with
    ``last = 1`` sends the group's sum on ``o`` and clears. It wraps modulo ``2**acc_bits``.
    One operation per cycle; the result is valid ``latency`` rising edges after the input
    transfer of the group's last operation. ``o`` is registered; ``i.ready`` depends
    combinationally on ``o.ready`` (a full output register stalls the unit only when a group
    result would overwrite it).

    Parameters
    ----------
    lanes : int
        Dot-product length per operation, 1 to 256.
    act_bits : int
        Signed activation width, 2 to 24.
    max_shift : int
        Largest exponent, 0 to 24 (weights up to ``±2**max_shift``).
    acc_bits : int or None
        Accumulator width, up to 62; default exact for one operation plus ``GUARD_BITS`` (8).

    Members
    -------
    i : ``In(stream.Signature(i_layout))``
        Fields, first in the low bits: ``w`` (``lanes`` codes of ``w_layout``, lane 0 lowest),
        ``a`` (``lanes`` signed activations, lane 0 lowest), ``last``.
    o : ``Out(stream.Signature(signed(acc_bits)))``
        Group results.

    Attributes
    ----------
    latency : int
        Rising edges from the input transfer of a group's last operation to its result being
        valid on ``o`` (1).
    shift_bits, acc_bits, module_name, i_layout, w_layout

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range (the message names the value and the allowed range).
    """

    def __init__(self, lanes: int = 8, act_bits: int = 8, max_shift: int = 7,
                 acc_bits: int | None = None) -> None:
        self._lanes = check_int("Lane count", lanes, 1, MAX_LANES)
        self._act_bits = check_int("Activation width", act_bits, 2, MAX_ACT_BITS)
        self._max_shift = check_int("Maximum shift", max_shift, 0, MAX_SHIFT)
        half = 1 << (act_bits - 1)
        exact = signed_width(-lanes * half << max_shift, lanes * half << max_shift)
        default_acc = min(exact + GUARD_BITS, MAX_ACC_BITS)
        if acc_bits is None:
            acc_bits = default_acc
        self._acc_bits = check_int("Accumulator width", acc_bits, 2, MAX_ACC_BITS)
        self._explicit_acc = acc_bits != default_acc
        self._shift_bits = max(1, max_shift.bit_length())
        self.w_layout = data.StructLayout({
            "shift": unsigned(self._shift_bits), "neg": unsigned(1), "zero": unsigned(1),
        })
        self.i_layout = data.StructLayout({
            "w": data.ArrayLayout(self.w_layout, lanes),
            "a": data.ArrayLayout(signed(act_bits), lanes),
            "last": unsigned(1),
        })
        super().__init__({
            "i": In(stream.Signature(self.i_layout)),
            "o": Out(stream.Signature(signed(self._acc_bits))),
        })

    lanes = property(lambda self: self._lanes)
    act_bits = property(lambda self: self._act_bits)
    max_shift = property(lambda self: self._max_shift)
    shift_bits = property(lambda self: self._shift_bits)
    acc_bits = property(lambda self: self._acc_bits)
    latency = 1
    clocked = True

    @property
    def module_name(self) -> str:
        name = f"p2mac_k{self._lanes}_a{self._act_bits}_s{self._max_shift}"
        return name + (f"_acc{self._acc_bits}" if self._explicit_acc else "")

    def elaborate(self, platform):
        m = Module()
        K, MS = self._lanes, self._max_shift
        p = self.i.payload

        terms = []
        for j in range(K):
            code, a = p.w[j], p.a[j]
            shift = code.shift
            if (1 << self._shift_bits) - 1 > MS:      # codes above max_shift saturate
                shift = Mux(code.shift > MS, MS, code.shift)
            mag = a << shift
            terms.append(Mux(code.zero, 0, Mux(code.neg, -mag, mag)))
        lane_sum = adder_tree(terms)

        bound = K << (self._act_bits + MS)
        accumulate_stream(m, self.i, self.o, p.last,
                          [(lane_sum, signed(signed_width(-bound, bound)),
                            signed(self._acc_bits))],
                          pack=lambda sums: sums[0])
        return m
