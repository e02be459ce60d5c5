"""Floating-point adder/subtractor for any ExMy formats: ``y = a + b`` (or ``a - b``).

The golden model is :func:`hwgen.golden.add`; the cocotb test is ``rtl_tests/test_fadd.py``.
"""

from collections.abc import Iterable
from typing import Literal

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib.wiring import In

from ..formats import FloatFormat
from ..timing import Segment
from .floatop import FloatOpBase
from .floatraw import (RoundingMode, biased_field, exp_range, field_offset, range_shape,
                       sticky_shift_right, unpack)

__all__ = ["FloatAdder"]


class FloatAdder(FloatOpBase):
    """``y = a + b`` (or ``a - b``) rounded once into ``out_fmt``, with exception flags.

    Datapath (one path, no near/far split): the operand with the larger magnitude is ``x``; the
    other is shifted right by the exponent difference into a window of ``P + G + 1`` bits
    (``P`` the wider input precision, ``G = max(0, out precision + 2 - P)`` guard bits, and a
    jam bit at the bottom collecting what is shifted out), added or subtracted, and the
    sum, never negative, goes to the shared rounder. Whenever bits are jammed
    the exponent difference is at least ``G + 2``, so at most one bit cancels and the jam bit
    stays two places below the rounding guard, as the rounder requires. Massive cancellation
    only happens for differences of 0 or 1, where the window is exact.

    When the two input formats have different ``emin``, subnormal operands are normalized on
    unpacking so the larger exponent always belongs to the larger magnitude.

    Parameters
    ----------
    fmt : FloatFormat or str
        Format of ``a`` (and of ``b`` and ``y`` unless given).
    out_fmt, b_fmt : FloatFormat or str or None
        Formats of ``y`` and ``b``; ``None`` means ``fmt``.
    rounding : str
        ``rne``, ``rtz``, ``rdn``, ``rup``, ``rna`` or ``"dynamic"`` (adds the ``rm`` port).
    subtract : bool or "dynamic"
        ``False``: ``a + b``; ``True``: ``a - b`` (module name ``fsub_...``); ``"dynamic"``: an
        ``op`` input selects (0 add, 1 subtract; module name ``faddsub_...``).
    latency : int or None
        0 (default) to 3 pipeline stages: 1: after normalization (inside the rounder); 2:
        also after the alignment and add; 3: also on the outputs.
    target_mhz, device : float, str or None
        Instead of ``latency``: the clock to reach on ``device``; the planner of
        :mod:`hwgen.timing` chooses the cut points (as :class:`FloatMultiplier`).
    cuts : sequence of str or None
        Instead of ``latency``: the cut points that hold registers, from :attr:`cut_points`:
        ``"swap"`` (after the exponent compare and the operand swap), ``"align"`` (after the
        alignment shift), ``"raw"`` (after the add), the rounder's and ``"out"``.

    flags : bool
        ``False``: no exception flags (no ``flags`` port, none of the logic only they need;
        module name ``..._noflags``).

    Members
    -------
    a, b : In
        Operand encodings.
    op : In(1)
        Only with ``subtract="dynamic"``: 1 computes ``a - b``.
    rm : In(3)
        Only with ``rounding="dynamic"``: RISC-V ``frm`` (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna,
        5..7 as rne).
    in_valid, out_valid : In(1), Out(1)
        Only with ``latency > 0``.
    y : Out(out_fmt.width)
        The rounded sum.
    flags : Out(4)
        Bit 0 inexact, 1 underflow, 2 overflow, 3 invalid (absent with ``flags=False``).

    Raises
    ------
    TypeError, ValueError
        A parameter has the wrong type or value; the message names it and what is allowed.
    """

    _op = "fadd"

    def __init__(self, fmt: FloatFormat | str = "e4m3", *,
                 out_fmt: FloatFormat | str | None = None,
                 b_fmt: FloatFormat | str | None = None, rounding: str = "rne",
                 subtract: bool | Literal["dynamic"] = False, latency: int | None = None,
                 target_mhz: float | None = None, device: "str | None" = None,
                 cuts: Iterable[str] | None = None, flags: bool = True) -> None:
        if subtract not in (False, True, "dynamic") or (
                not isinstance(subtract, (bool, str))):
            raise ValueError(f"Subtract must be False, True or 'dynamic', not {subtract!r}")
        self._subtract = subtract
        extra = {"op": In(1)} if subtract == "dynamic" else {}
        super().__init__({"a": fmt, "b": b_fmt}, out_fmt, rounding, latency, extra,
                         target_mhz=target_mhz, device=device, cuts=cuts, flags=flags)

    subtract = property(lambda self: self._subtract)

    def _op_name(self):
        return {False: "fadd", True: "fsub", "dynamic": "faddsub"}[self._subtract]

    def _geometry(self):
        """``(P, G, same_emin, lo, hi)``: the common significand width, the guard bits, and
        the range of the aligned exponents (see :meth:`elaborate`)."""
        fa, fb, fo = self._in_fmts["a"], self._in_fmts["b"], self._out_fmt
        same_emin = fa.emin == fb.emin
        P = max(fa.precision, fb.precision)
        G = max(0, fo.precision + 2 - P)
        sha, shb = P - fa.precision, P - fb.precision
        alo, ahi = exp_range(fa, normalize=not same_emin)
        blo, bhi = exp_range(fb, normalize=not same_emin)
        alo, ahi, blo, bhi = alo - sha, ahi - sha, blo - shb, bhi - shb
        return P, G, same_emin, min(alo, blo), max(ahi, bhi)

    def _setup(self):
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        P, G = self._geometry()[:2]
        # Operands whose exponents differ from their biased fields by one constant: the
        # datapath works on the fields (1 for a subnormal) and the rounder folds the bias.
        offs = {field_offset(f) + P - f.precision for f in (fa, fb)}
        self._fields = fa.emin == fb.emin and len(offs) == 1
        if self._fields:
            self._exp_offset = -(offs.pop() + G + 1)

    def _rounder_params(self):
        P, G, _, lo, hi = self._geometry()
        return P + G + 2, (lo - (G + 1), hi - (G + 1)), None

    def _own_cut_points(self):
        return ("swap", "align", "raw")

    def _own_segments(self, model):
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        P, G, same_emin, lo, hi = self._geometry()
        ew = range_shape(lo, hi).width
        win = P + G + 1
        k = win.bit_length()
        dmax = hi - lo
        unpack_ns = model.lut_levels(1)
        if not same_emin:
            unpack_ns += model.normalizer(P, max(fa.man_bits, fb.man_bits))
        swap_cmp = fa.width - 1 if fa == fb else P + ew
        swap_ns = max(model.comparator(swap_cmp), model.comparator(ew)) + model.mux(2)
        dist = (1 << k) - 1 if dmax.bit_length() > k else dmax
        align_ns = model.shifter(win, dist) + (model.mux(2) if dmax.bit_length() > k else 0)
        add_ns = model.lut_levels(1) + model.adder(win + 1)
        return [Segment("swap", unpack_ns + swap_ns, "swap"),
                Segment("align", align_ns, "align"),
                Segment("add", add_ns, "raw")]

    def elaborate(self, platform):
        m = Module()
        fa, fb, fo = self._in_fmts["a"], self._in_fmts["b"], self._out_fmt
        same_emin = fa.emin == fb.emin
        ua = unpack(m, fa, self.a, normalize=not same_emin, name="ua")
        ub = unpack(m, fb, self.b, normalize=not same_emin, name="ub")
        if self._subtract == "dynamic":
            sb = ub.sign ^ self.op
        else:
            sb = ub.sign ^ int(self._subtract)
        sa = ua.sign
        P = max(fa.precision, fb.precision)
        G = max(0, fo.precision + 2 - P)
        # Bring both significands to P bits (same LSB weight offset).
        sha, shb = P - fa.precision, P - fb.precision
        alo, ahi = exp_range(fa, normalize=not same_emin)
        blo, bhi = exp_range(fb, normalize=not same_emin)
        alo, ahi, blo, bhi = alo - sha, ahi - sha, blo - shb, bhi - shb
        lo, hi = min(alo, blo), max(ahi, bhi)
        siga, sigb = Signal(P), Signal(P)
        m.d.comb += [siga.eq(ua.sig << sha), sigb.eq(ub.sig << shb)]
        if self._fields:
            # the biased fields (their common offset goes to the rounder)
            lo, hi = 1, (1 << max(fa.exp_bits, fb.exp_bits)) - 1
            ea, eb = biased_field(fa, self.a), biased_field(fb, self.b)
        else:
            ea = Signal(range_shape(lo, hi))
            eb = Signal(range_shape(lo, hi))
            m.d.comb += [ea.eq(ua.exp - sha), eb.eq(ub.exp - shb)]

        # x is the operand of larger magnitude, so the sum is never negative and needs no
        # negation. The exponent difference does not wait for that compare: when both operands
        # are nonzero the larger magnitude has the larger (or equal) exponent, and when one is
        # zero its significand is zero, so the shift amount does not matter.
        if fa == fb:
            # Sign-magnitude encodings order like their magnitudes (flushed subnormals are
            # zeros either way round).
            wm = fa.width - 1
            swap = self.b[:wm] > self.a[:wm]
            # Equal magnitudes, found without waiting for the sum.
            same = (self.a[:wm] == self.b[:wm]) | (ua.zero & ub.zero)
        else:
            # A zero's exponent says nothing: it must never be the larger operand.
            ka, kb = Cat(siga, ea - lo), Cat(sigb, eb - lo)
            swap = ua.zero | (~ub.zero & (kb > ka))
            same = None
        sx = Mux(swap, sb, sa)
        ex = Signal(range_shape(lo, hi))
        X, Y = Signal(P), Signal(P)
        dmax_possible = hi - lo
        diff = Signal(range(dmax_possible + 1))
        m.d.comb += [
            ex.eq(Mux(swap, eb, ea)),
            X.eq(Mux(swap, sigb, siga)),
            Y.eq(Mux(swap, siga, sigb)),
            diff.eq(Mux(eb > ea, eb - ea, ea - eb)),
        ]
        rm = self.rm if self._rounding == "dynamic" else None
        early = "swap" in self.cuts or "align" in self.cuts
        if early:
            # Cuts before the add: the special cases are settled here and ride along.
            eff_sub = sa ^ sb
            inf_minus_inf = ua.inf & ub.inf & eff_sub
            nan = ua.nan | ub.nan | inf_minus_inf
            inf = (ua.inf | ub.inf) & ~nan
            v = self._cut(m, "swap", dict(
                X=X, Y=Y, ex=ex, diff=diff, sx=sx, eff_sub=eff_sub, same=same, nan=nan,
                inf=inf, inf_sign=Mux(ua.inf, sa, sb),
                invalid=(ua.snan | ub.snan | inf_minus_inf) if self._flags else None, rm=rm))
            X, Y, ex, diff, sx, same, rm = (v["X"], v["Y"], v["ex"], v["diff"], v["sx"],
                                            v["same"], v["rm"])
        win = P + G + 1
        # Shift stages of 1, 2, 4, .. cover every amount below 2**k >= win; any higher bit of
        # the difference shifts everything into the jam bit (no clamping compare).
        k = win.bit_length()
        yin = Y << (G + 1)
        if len(diff) > k:
            low = sticky_shift_right(m, yin, win, diff[:k], (1 << k) - 1, name="align")
            yw = Signal(win)
            m.d.comb += yw.eq(Mux(diff[k:] != 0, Y != 0, low))
        else:
            yw = sticky_shift_right(m, yin, win, diff, dmax_possible, name="align")
        if early:
            v = self._cut(m, "align", dict(v, X=X, yw=yw, ex=ex, sx=sx, same=same, rm=rm,
                                           Y=None, diff=None))
            X, yw, ex, sx, same, rm = v["X"], v["yw"], v["ex"], v["sx"], v["same"], v["rm"]
            eff_sub = v["eff_sub"]
        else:
            eff_sub = sa ^ sb
        xw = X << (G + 1)
        # One adder: subtracting is adding the complement plus one; x >= y, so no negation.
        yx = Signal(win + 1)
        mag = Signal(win + 1)
        m.d.comb += [yx.eq(yw), mag.eq(xw + Mux(eff_sub, ~yx, yx) + eff_sub)]
        rmode = RoundingMode(self._rounding, rm)
        # Exact zero sum of nonzero operands: +0, or -0 when rounding down (IEEE 754 6.3).
        sign = Mux(eff_sub & ((mag == 0) if same is None else same), rmode.rdn, sx)

        if early:
            nan, inf, invalid = v["nan"], v["inf"], v["invalid"]
            r_sign = Mux(inf, v["inf_sign"], sign)
        else:
            inf_minus_inf = ua.inf & ub.inf & eff_sub
            nan = ua.nan | ub.nan | inf_minus_inf
            inf = (ua.inf | ub.inf) & ~nan
            invalid = ua.snan | ub.snan | inf_minus_inf
            r_sign = Mux(inf, Mux(ua.inf, sa, sb), sign)
        r = self._rounder(m)
        pairs = [
            (r.sign, r_sign),
            (r.exp, ex if self._fields else ex - (G + 1)),
            (r.sig, mag),
            (r.nan, nan),
            (r.inf, inf),
        ]
        if self._flags:
            pairs.append((r.invalid, invalid))
        if self._rounding == "dynamic":
            pairs.append((r.rm, rm))
        self._drive(m, "raw", pairs)
        self._finish(m, r)
        return m
