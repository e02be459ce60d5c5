"""Dual-precision MAC (Park et al.): one H×H product or two (H/2)×(H/2) products per cycle.

Golden model: :mod:`hwgen.golden.dpmac`. cocotb test: ``rtl_tests/test_dpmac.py``.
"""

from collections.abc import Sequence

from amaranth import Module, Mux, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..timing import DelayModel
from ..timing.fixed import FixedPipeline

from .intcommon import MAX_ACC_BITS, accumulate_stream, check_int

__all__ = ["DualPrecisionMac", "MULTIPLIERS", "dual_operands", "dual_partials", "dual_combine",
           "dual_products", "dual_sum"]

MAX_HIGH_BITS = 24

#: The two multiplier structures: ``"packed"``, one signed ``(3L+2)×(3L+2)`` multiplier (one
#: DSP block for ``H`` up to 8 on iCE40, 10 on ECP5); ``"split"``, four signed ``(L+1)×(L+1)``
#: sub-multipliers (fewer LUTs when multipliers are built from logic).
MULTIPLIERS = ("packed", "split")


def _weight_halves(L, low, nested, w0, w1):
    # The two L-bit weight fields of an operation: w0's halves, or in nested low mode the MSB
    # halves of w0 and w1 (in high mode the pair is w0's low and high half).
    sel = low & nested
    return Mux(sel, w0[L:], w0[:L]), Mux(sel, w1[L:], w0[L:])


def dual_operands(L: int, low: Value, nested: Value, w0: Value, w1: Value,
                  a: Value) -> tuple[Value, Value, Value, Value]:
    """The four signed (L+1)-bit sub-multiplier operands ``(A_lo, A_hi, B_lo, B_hi)`` of
    :class:`DualPrecisionMac` (see its docstring): weight halves (``A``) and activation halves
    (``B``); the lower halves are sign-extended in low mode, zero-extended in high mode."""

    def half(x, sign_extend):
        # an L-bit half widened to a signed (L+1)-bit sub-multiplier operand
        return Mux(sign_extend, x.as_signed(), x.as_unsigned())

    a_lo_bits, a_hi_bits = _weight_halves(L, low, nested, w0, w1)
    return (half(a_lo_bits, low), a_hi_bits.as_signed(), half(a[:L], low),
            a[L:].as_signed())


def dual_partials(A_lo: Value, A_hi: Value, B_lo: Value,
                  B_hi: Value) -> tuple[Value, Value, Value, Value]:
    """The four partial products ``(p_hh, p_ll, p_hl, p_lh)``."""
    return A_hi * B_hi, A_lo * B_lo, A_hi * B_lo, A_lo * B_hi


def dual_combine(L: int, low: Value, nested: Value, p_hh: Value, p_ll: Value, p_hl: Value,
                 p_lh: Value) -> Value:
    """The contribution of one operation from its partial products: all four, shifted, in
    high mode; the two diagonal ones in low mode (scaled by ``2**L`` when nested)."""
    diag = p_hh + p_ll
    full = (p_hh << (2 * L)) + ((p_hl + p_lh) << L) + p_ll
    return Mux(low, Mux(nested, diag << L, diag), full)


def _packed_operands(L, low, nested, w0, w1, a):
    # low mode: A = w_hi·2^k + w_lo, B = a_lo·2^k + a_hi with k = 2L+1, so that
    # A·B = w_hi·a_lo·2^2k + (w_hi·a_hi + w_lo·a_lo)·2^k + w_lo·a_hi; high mode: w0, a.
    k = 2 * L + 1
    w_lo, w_hi = (x.as_signed() for x in _weight_halves(L, low, nested, w0, w1))
    A = Mux(low, w_hi.shift_left(k) + w_lo, w0.as_signed())
    B = Mux(low, a[:L].as_signed().shift_left(k) + a[L:].as_signed(), a.as_signed())
    return A, B


def dual_products(L: int, low: Value, nested: Value, w0: Value, w1: Value, a: Value,
                  multiplier: str = "packed") -> tuple[Value, ...]:
    """The products the multiplier hardware computes for one operation (a tuple of
    expressions, registered by :class:`DualPrecisionMac`, summed by :func:`dual_sum`)."""
    if multiplier == "split":
        return dual_partials(*dual_operands(L, low, nested, w0, w1, a))
    A, B = _packed_operands(L, low, nested, w0, w1, a)
    return (A * B,)


def dual_sum(L: int, low: Value, nested: Value, products: Sequence[Value],
             multiplier: str = "packed") -> Value:
    """The contribution of one operation from its :func:`dual_products`.

    Packed, low mode: the wanted sum ``D`` is the middle field of the product ``P``. The low
    term ``|w_lo·a_hi| ≤ 2^(2L-2) < 2^(k-1)``, so ``(P + 2^(k-1)) >> k`` removes it exactly
    (the ``+ 2^(k-1)`` is the carry ``P[k-1]``); ``|D| ≤ 2^(2L-1)`` fits the ``2L+1``-bit
    field read as two's complement, and the top term, a multiple of ``2^k``, lies above it.
    """
    if multiplier == "split":
        return dual_combine(L, low, nested, *products)
    (P,) = products
    k = 2 * L + 1
    D = P[k:k + 2 * L + 1].as_signed() + P[k - 1]
    return Mux(low, Mux(nested, D.shift_left(L), D), P[:4 * L].as_signed())


class DualPrecisionMac(FixedPipeline, wiring.Component):
    """Multiply-accumulate with a run-time precision mode: one signed ``H×H`` product per
    operation (high mode) or two signed ``L×L`` products (low mode, ``L = H/2``), both from
    the same multiplier hardware, built one of two ways (``multiplier``):

    ``"packed"`` (default; for devices with DSP blocks)
        One signed ``(3L+2)×(3L+2)`` multiplier. High mode multiplies the H-bit operands.
        Low mode packs both pairs into it with a guard gap, ``A = w_hi·2^k + w_lo`` and
        ``B = a_lo·2^k + a_hi`` with ``k = 2L+1``: the middle field of ``A·B`` is the wanted
        ``w_hi·a_hi + w_lo·a_lo`` (see :func:`dual_sum` for why it is exact). One DSP block
        (``SB_MAC16`` up to H = 8, ``MULT18X18D`` up to H = 10) does both modes.
    ``"split"`` (for multipliers built from LUTs)
        Four ``(L+1)×(L+1)`` sub-multipliers. Each operand is split into halves,
        ``A = A_hi·2^L + A_lo`` and likewise ``B``. High mode sign-extends the upper halves
        and zero-extends the lower ones and adds all four partial products,
        ``A_hi·B_hi·2^2L + (A_hi·B_lo + A_lo·B_hi)·2^L + A_lo·B_lo``. Low mode sign-extends
        every half and adds only the two diagonal products ``A_hi·B_hi + A_lo·B_lo``.

    Either way low mode does two MACs per cycle, twice the throughput of high mode, and the
    results are the same bit for bit.

    Modes, per operation (fields of ``i.payload``), contribution added to the accumulator:

    ``low=0`` (high)
        ``w0 * a`` (signed H-bit values; ``w1`` and ``nested`` ignored).
    ``low=1, nested=0`` (low, independent operands)
        ``w0`` holds two signed L-bit weights, ``a`` two signed L-bit activations, element 0
        in the low half: ``w0.lo * a.lo + w0.hi * a.hi``.
    ``low=1, nested=1`` (low, nested quantization)
        ``w0`` and ``w1`` are two weights of the *high-precision* model; the unit uses their
        MSB halves (``w >> L``, so the weight memory keeps one copy of the weights for both
        modes) and keeps their scale: ``((w0 >> L) * a.lo + (w1 >> L) * a.hi) << L``.
        ``a`` holds two signed L-bit activations as above.

    The mode may change between any two operations, also within a group
    (:func:`hwgen.golden.dpmac.dualprec_contrib` is the reference).

    Groups: the accumulator starts at zero, adds every operation, and on an operation with
    ``last = 1`` sends the group's sum on ``o`` and clears. It wraps modulo ``2**acc_bits``.
    One operation is accepted per cycle; the result is valid ``latency`` rising edges after
    the input transfer of the group's last operation. ``o`` is registered; ``i.ready`` depends
    combinationally on ``o.ready`` (a full output register stalls the unit only when a group
    result would overwrite it).

    Parameters
    ----------
    high_bits : int
        H, an even width from 4 to 24.
    acc_bits : int or None
        Accumulator and result width, up to 62; default ``4 * high_bits`` (int8 → int32).
    multiplier : str
        ``"packed"`` (default) or ``"split"``, see above; the module name ends in
        ``_split`` for the latter.

    Members
    -------
    i : ``In(stream.Signature(i_layout))``
        Operations; fields, first in the low bits: ``w0``, ``w1``, ``a`` (H-bit patterns,
        declared unsigned because they hold one signed value or two packed signed halves
        depending on the mode), ``low``, ``nested``, ``last`` (1 bit each).
    o : ``Out(stream.Signature(signed(acc_bits)))``
        Group results.

    Attributes
    ----------
    latency : int
        Rising edges from the input transfer of a group's last operation to its result being
        valid on ``o`` (1).
    low_bits, acc_bits, multiplier, module_name, i_layout

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range (the message names the value and the allowed range).
    """

    def __init__(self, high_bits: int = 8, acc_bits: int | None = None,
                 multiplier: str = "packed", *, target_mhz: float | None = None,
                 device: "str | None" = None) -> None:
        if not isinstance(high_bits, int) or isinstance(high_bits, bool):
            raise TypeError(f"High precision width must be an integer, not {high_bits!r}")
        if high_bits < 4 or high_bits > MAX_HIGH_BITS or high_bits % 2:
            raise ValueError(f"High precision width must be an even integer between 4 and "
                             f"{MAX_HIGH_BITS}, not {high_bits!r}")
        if multiplier not in MULTIPLIERS:
            raise ValueError(f"Multiplier structure must be one of {', '.join(MULTIPLIERS)}, "
                             f"not {multiplier!r}")
        self._multiplier = multiplier
        self._high_bits = high_bits
        default_acc = min(4 * high_bits, MAX_ACC_BITS)
        if acc_bits is None:
            acc_bits = default_acc
        self._acc_bits = check_int("Accumulator width", acc_bits, 2 * high_bits, MAX_ACC_BITS)
        self._explicit_acc = acc_bits != default_acc
        self.i_layout = data.StructLayout({
            "w0": unsigned(high_bits), "w1": unsigned(high_bits), "a": unsigned(high_bits),
            "low": unsigned(1), "nested": unsigned(1), "last": unsigned(1),
        })
        super().__init__({
            "i": In(stream.Signature(self.i_layout)),
            "o": Out(stream.Signature(signed(self._acc_bits))),
        })
        self._request(target_mhz, device)

    def stage_logic(self, model: DelayModel) -> list[tuple[str, float]]:
        """Its two stages for the delay model (``target_mhz=``, :mod:`hwgen.timing.fixed`):
        the products (one packed (3L+2)-bit square product, or four (L+1)-bit ones) and the
        loop (the contribution formed from them, added into the accumulator)."""
        L = self._high_bits // 2
        prod = (model.multiplier(3 * L + 2, 3 * L + 2) if self._multiplier == "packed"
                else model.multiplier(L + 1, L + 1))
        return [("product", model.lut_levels(1) + prod),
                ("accumulation loop", model.adder(4 * L) + model.mux(3) +
                 model.adder(self._acc_bits) + model.mux(2))]

    high_bits = property(lambda self: self._high_bits)
    low_bits = property(lambda self: self._high_bits // 2)
    acc_bits = property(lambda self: self._acc_bits)
    multiplier = property(lambda self: self._multiplier)
    latency = 1
    clocked = True

    @property
    def module_name(self) -> str:
        name = f"dpmac_h{self._high_bits}_l{self._high_bits // 2}"
        name += f"_acc{self._acc_bits}" if self._explicit_acc else ""
        return name + ("_split" if self._multiplier == "split" else "")

    def elaborate(self, platform):
        m = Module()
        L = self._high_bits // 2
        p = self.i.payload
        mult = self._multiplier
        # product stage: the multiplier outputs and the mode, registered; then the
        # contribution is formed from them and accumulated
        prods = dual_products(L, p.low, p.nested, p.w0, p.w1, p.a, mult)
        terms = [(e, e.shape(), None) for e in prods]
        terms += [(p.low, 1, None), (p.nested, 1, None)]

        def combine(regs):
            *p_regs, p_low, p_nested = regs
            return [(dual_sum(L, p_low, p_nested, p_regs, mult), signed(self._acc_bits))]

        accumulate_stream(m, self.i, self.o, p.last, terms, pack=lambda sums: sums[0],
                          combine=combine)
        return m
