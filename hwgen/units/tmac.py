"""Ternary MAC: weights in {-1, 0, +1}, add / subtract / skip, no multiplier.

Golden model: :mod:`hwgen.golden.tmac`. cocotb test: ``rtl_tests/test_tmac.py``.
"""

from amaranth import Cat, Module, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .intcommon import (GUARD_BITS, MAX_ACC_BITS, MAX_ACT_BITS, MAX_LANES, accumulate_stream,
                        adder_tree, check_int, signed_width)

__all__ = ["TernaryMac"]


class TernaryMac(wiring.Component):
    """Ternary dot-product MAC: each of ``lanes`` signed activations is added, subtracted or
    skipped according to a 2-bit weight code, and the skipped (zero) weights are counted.

    Weight codes (see :mod:`hwgen.golden.tmac`): bit 0 = nonzero, bit 1 = negative, so
    ``01`` = +1, ``11`` = -1, ``00`` and ``10`` = 0 (skipped). The result is in units of the
    weight scale (the host multiplies, e.g. by the scale of
    :func:`hwgen.golden.tmac.quantize_ternary`).

    Groups: the accumulator starts at zero, adds every operation, and on an operation with
    ``last = 1`` sends the group's sum and zero count on ``o`` and clears. ``acc`` wraps
    modulo ``2**acc_bits``, ``zeros`` modulo ``2**count_bits``. One operation per cycle; the
    result is valid ``latency`` rising edges after the input transfer of the group's last
    operation. ``o`` is registered; ``i.ready`` depends combinationally on ``o.ready`` (a full
    output register stalls the unit only when a group result would overwrite it).

    Parameters
    ----------
    lanes : int
        Dot-product length per operation, 1 to 256.
    act_bits : int
        Signed activation width, 2 to 24.
    acc_bits : int or None
        Accumulator width, up to 62; default exact for one operation plus ``GUARD_BITS`` (8).

    Members
    -------
    i : ``In(stream.Signature(i_layout))``
        Fields, first in the low bits: ``w`` (``lanes`` 2-bit codes, lane 0 lowest), ``a``
        (``lanes`` signed activations, lane 0 lowest), ``last``.
    o : ``Out(stream.Signature(o_layout))``
        Fields: ``acc`` (``signed(acc_bits)``), ``zeros`` (``unsigned(count_bits)``, the zero
        weights skipped in the group).

    Attributes
    ----------
    latency : int
        Rising edges from the input transfer of a group's last operation to its result being
        valid on ``o`` (1).
    acc_bits, count_bits, module_name, i_layout, o_layout

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range (the message names the value and the allowed range).
    """

    def __init__(self, lanes: int = 8, act_bits: int = 8, acc_bits: int | None = None) -> None:
        self._lanes = check_int("Lane count", lanes, 1, MAX_LANES)
        self._act_bits = check_int("Activation width", act_bits, 2, MAX_ACT_BITS)
        half = 1 << (act_bits - 1)
        exact = signed_width(-lanes * half, lanes * half)
        default_acc = min(exact + GUARD_BITS, MAX_ACC_BITS)
        if acc_bits is None:
            acc_bits = default_acc
        self._acc_bits = check_int("Accumulator width", acc_bits, 2, MAX_ACC_BITS)
        self._explicit_acc = acc_bits != default_acc
        self._count_bits = (lanes << GUARD_BITS).bit_length()
        self.i_layout = data.StructLayout({
            "w": data.ArrayLayout(unsigned(2), lanes),
            "a": data.ArrayLayout(signed(act_bits), lanes),
            "last": unsigned(1),
        })
        self.o_layout = data.StructLayout({
            "acc": signed(self._acc_bits),
            "zeros": unsigned(self._count_bits),
        })
        super().__init__({
            "i": In(stream.Signature(self.i_layout)),
            "o": Out(stream.Signature(self.o_layout)),
        })

    lanes = property(lambda self: self._lanes)
    act_bits = property(lambda self: self._act_bits)
    acc_bits = property(lambda self: self._acc_bits)
    count_bits = property(lambda self: self._count_bits)
    latency = 1
    clocked = True

    @property
    def module_name(self) -> str:
        name = f"tmac_k{self._lanes}_a{self._act_bits}"
        return name + (f"_acc{self._acc_bits}" if self._explicit_acc else "")

    def elaborate(self, platform):
        m = Module()
        K = self._lanes
        p = self.i.payload

        # add / subtract / skip per lane, no multiplier
        terms = []
        for j in range(K):
            code, a = p.w[j], p.a[j]
            terms.append(Mux(code[0], Mux(code[1], -a, a), 0))
        lane_sum = adder_tree(terms)
        zero_count = adder_tree([~p.w[j][0] for j in range(K)])

        accumulate_stream(m, self.i, self.o, p.last,
                          [(lane_sum, signed(signed_width(-K << self._act_bits,
                                                          K << self._act_bits)),
                            signed(self._acc_bits)),
                           (zero_count, range(K + 1), unsigned(self._count_bits))],
                          pack=lambda sums: Cat(*sums))
        return m
