"""Fused multiply-add for any ExMy formats: ``y = a * b + c`` with a single rounding.

The golden model is :func:`hwgen.golden.fma`; the cocotb test is ``rtl_tests/test_ffma.py``.
"""

from amaranth.hdl import Module, Mux, Signal, signed

from .floatop import FMA_CUTS, FloatOpBase
from .floatraw import (RoundingMode, exp_range, range_shape,
                       sticky_shift_right, unpack)

__all__ = ["FloatFMA"]


class FloatFMA(FloatOpBase):
    """``y = a * b + c``, exact product and sum, rounded once into ``out_fmt``.

    Datapath (the classic fixed-product, shifted-addend layout): the exact product (``Pp =
    pa + pb`` bits, subnormals unnormalized) sits at a fixed place in a window, ``L = max(out
    precision + 3, c precision + 2)`` bits above the window's jam bit. The addend is shifted
    right from its leftmost place, ``K = Pp + out precision + 2`` bits above the product, by
    ``K - (exp_c - exp_product)``; what falls off the bottom is jammed into bit 0. When the
    addend lies more than ``K`` places above the product (or the product is zero) the addend
    sits at its leftmost place and a nonzero product becomes the jam bit. The sum's magnitude
    (``c - p`` from a second subtractor when ``p - c`` is negative) goes to the shared
    rounder, which normalizes it (cancellation included).

    Parameters
    ----------
    fmt : FloatFormat or str
        Format of ``a`` (and of ``b``, ``c``, ``y`` unless given).
    out_fmt, b_fmt, c_fmt : FloatFormat or str or None
        Formats of ``y``, ``b`` and ``c``; ``None`` means ``fmt``.
    rounding : str
        ``rne``, ``rtz``, ``rdn``, ``rup``, ``rna`` or ``"dynamic"`` (adds the ``rm`` port).
    latency : int
        0 to 4 pipeline stages: 1: after normalization (inside the rounder); 2: also before it
        (after the add); 3: also after the multiplier and addend alignment; 4: also on the
        outputs.

    Members
    -------
    a, b, c : In
        Operand encodings.
    rm : In(3)
        Only with ``rounding="dynamic"``: RISC-V ``frm`` (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna,
        5..7 as rne).
    in_valid, out_valid : In(1), Out(1)
        Only with ``latency > 0``.
    y : Out(out_fmt.width)
        The rounded result.
    flags : Out(4)
        Bit 0 inexact, 1 underflow, 2 overflow, 3 invalid (signaling NaN, ``Inf * 0`` even
        with a quiet-NaN addend, ``Inf - Inf``).

    Raises
    ------
    TypeError, ValueError
        A parameter has the wrong type or value; the message names it and what is allowed.
    """

    _op = "ffma"
    _inputs = ("a", "b", "c")
    _cuts = FMA_CUTS

    def __init__(self, fmt="e4m3", *, out_fmt=None, b_fmt=None, c_fmt=None, rounding="rne",
                 latency=0):
        super().__init__({"a": fmt, "b": b_fmt, "c": c_fmt}, out_fmt, rounding, latency)

    def elaborate(self, platform):
        m = Module()
        fa, fb, fc = self._in_fmts["a"], self._in_fmts["b"], self._in_fmts["c"]
        fo = self._out_fmt
        ua = unpack(m, fa, self.a, name="ua")
        ub = unpack(m, fb, self.b, name="ub")
        uc = unpack(m, fc, self.c, name="uc")
        Pp, Pc, po = fa.precision + fb.precision, fc.precision, fo.precision
        L = max(po + 3, Pc + 2)
        K = Pp + po + 2
        top = L + K + Pc                       # window bits (jam bit included)

        (alo, ahi), (blo, bhi), (clo, chi) = exp_range(fa), exp_range(fb), exp_range(fc)
        plo, phi = alo + blo, ahi + bhi
        ep = Signal(range_shape(plo, phi))
        prod = Signal(Pp)
        m.d.comb += [ep.eq(ua.exp + ub.exp), prod.eq(ua.sig * ub.sig)]
        sp = ua.sign ^ ub.sign
        p_zero = ua.zero | ub.zero
        inf_x_zero = (ua.inf & ub.zero) | (ub.inf & ua.zero)
        p_nan = ua.nan | ub.nan | inf_x_zero
        p_inf = (ua.inf | ub.inf) & ~p_nan
        # Addend placement: k = exp_c - exp_product, shifted right from place K by K - k.
        ep_k = Signal(range_shape(plo + K, phi + K))   # where the addend's LSB starts
        m.d.comb += ep_k.eq(ep + K)
        dist = Signal(range_shape(K - (chi - plo), K - (clo - phi)))
        m.d.comb += dist.eq(ep_k - uc.exp)
        above = dist < 0                       # the addend lies more than K places up
        c_dom = Signal()
        m.d.comb += c_dom.eq(p_zero | (~uc.zero & above))
        amax = L + K + Pc - 1
        dist_hi = K - (clo - phi)              # largest K - k
        amt = Signal(range(max(min(amax, max(dist_hi, 0)), 0) + 1))
        if dist_hi > 0:
            m.d.comb += amt.eq(Mux(c_dom | above, 0, Mux(dist >= amax, amax, dist)))
        cw = sticky_shift_right(m, uc.sig << (L + K), top, amt, max(min(amax, dist_hi), 0),
                                name="align")
        e_lsb = Signal(range_shape(min(plo - L, clo - L - K), max(phi - L, chi - L - K)))
        m.d.comb += e_lsb.eq(Mux(c_dom, uc.exp, ep_k) - (L + K))
        pw = Mux(c_dom, ~p_zero, prod << L)

        nan = p_nan | uc.nan | (p_inf & uc.inf & (sp ^ uc.sign))
        invalid = (ua.snan | ub.snan | uc.snan | inf_x_zero |
                   (p_inf & uc.inf & (sp ^ uc.sign)))
        inf = (p_inf | uc.inf) & ~nan
        inf_sign = Mux(p_inf, sp, uc.sign)
        stage = [pw, cw, e_lsb, sp, uc.sign, nan, inf, inf_sign, invalid]
        if self._rounding == "dynamic":
            stage.append(self.rm)
        stage = self._staged(m, "prod", stage, "prod")
        pw, cw, e_lsb, sp, sc, nan, inf, inf_sign, invalid = stage[:9]
        rm = stage[9] if self._rounding == "dynamic" else None

        eff_sub = sp ^ sc
        # Subtracting is adding the complement plus one. |sum| < 2**top (the addend's top
        # bit is at most bit top - 1, the product's far below), so top magnitude bits and a
        # sign bit hold it. The reversed difference c - p is formed beside the sum (rather
        # than negating the sum), so only one carry chain lies on each path.
        cx = Signal(signed(top + 1))
        z = Signal(signed(top + 1))
        zr = Signal(top)
        m.d.comb += [cx.eq(cw), z.eq(pw + Mux(eff_sub, ~cx, cx) + eff_sub), zr.eq(cx - pw)]
        neg = z < 0
        mag = Signal(top)
        m.d.comb += mag.eq(Mux(neg, zr, z))
        rmode = RoundingMode(self._rounding, rm)
        # An exact zero: both zero with one sign keeps it; otherwise +0 (-0 rounding down).
        sign = Mux(eff_sub & (z == 0), rmode.rdn, sp ^ neg)

        r = self._rounder(m, sig_width=top,
                          exp_range=(min(plo - L, clo - L - K), max(phi - L, chi - L - K)))
        pairs = [
            (r.sign, Mux(inf, inf_sign, sign)),
            (r.exp, e_lsb),
            (r.sig, mag),
            (r.nan, nan),
            (r.inf, inf),
            (r.invalid, invalid),
        ]
        if self._rounding == "dynamic":
            pairs.append((r.rm, rm))
        self._drive(m, "raw", pairs)
        self._finish(m, r)
        return m
