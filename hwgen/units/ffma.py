"""Fused multiply-add for any ExMy formats: ``y = a * b + c`` with a single rounding.

The golden model is :func:`hwgen.golden.fma`; the cocotb test is ``rtl_tests/test_ffma.py``.
"""

from collections.abc import Iterable
from typing import NamedTuple

from amaranth.hdl import Const, Module, Mux, Signal, signed

from ..formats import FloatFormat
from ..timing import Segment
from .floatop import FMA_CUTS, FloatOpBase
from .floatraw import (RoundingMode, biased_field, exp_range, field_offset, greater_than,
                       range_shape, shift_stages, sticky_shift_right, unpack)

__all__ = ["FloatFMA", "FmaWindow", "fma_window"]


def aligned_add(m, cw, pw, eff_sub, top, sp, rdn):
    """``p ± c`` of an FMA-style layout, the addend ``cw`` and the product ``pw`` (signed
    ``sp``) in one window: ``(sign, mag)``, the sum's sign and its magnitude (``top`` bits;
    ``|sum| < 2**top``). An exact zero sum of opposite signs is ``-0`` only when ``rdn`` is
    set. The difference is formed as ``c - p`` beside the reversed ``p - c`` (one carry chain
    on each path, no negation after the sum), with the product as the inverted operand: its
    window is mostly constant zeros (below its LSB and above its MSB), whose inversion is
    the subtract signal itself, where the addend's would need a LUT per bit (on the HX8K,
    bf16 FMA window: 135 -> 107 LUT4, 59 -> 50 carry). Logic in ``m.d.comb``."""
    px = Signal(signed(top + 1))
    z = Signal(signed(top + 1))            # c + p, or c - p
    zr = Signal(top)                       # p - c
    m.d.comb += [px.eq(pw), z.eq(cw + Mux(eff_sub, ~px, px) + eff_sub), zr.eq(pw - cw)]
    neg = z < 0
    mag = Signal(top)
    m.d.comb += mag.eq(Mux(neg, zr, z))
    # p - c > 0 (c - p < 0) keeps the product's sign; an exact zero takes rdn's.
    sign = Mux(eff_sub & (z == 0), rdn, sp ^ (eff_sub & ~neg))
    return sign, mag


class FmaWindow(NamedTuple):
    """The window of an FMA-style addition (:func:`fma_window`)."""
    #: Width of the product's magnitude.
    Pp: int
    #: The product's LSB, bits above the window's jam bit (bit 0).
    L: int
    #: The addend's leftmost place: its LSB at most this many bits above the product's LSB.
    K: int
    #: The window's width, jam bit included: the rounder's significand width.
    top: int
    #: ``(lo, hi)``: the rounder's exponent range (of the window's bit 0, before
    #: ``exp_offset``), over every product and addend exponent.
    exp_range: tuple[int, int]


def fma_window(Pp: int, p_range: tuple[int, int], c_fmt: FloatFormat,
               out_fmt: FloatFormat, lead: int = 0) -> FmaWindow:
    """The fixed-product, shifted-addend layout of ``p + c`` rounded once into ``out_fmt``:
    :class:`FloatFMA`'s, and the MX accumulation's (:func:`~hwgen.units.mxdot.mx_accumulate`,
    the block sum as the product, the FP32 accumulator as the addend).

    The product's magnitude (``Pp`` bits, unnormalized) sits ``L = max(out precision + 3 -
    lead, c precision + 2 - lead, 1)`` bits above the window's jam bit, where a nonzero
    product's leading one lies at least ``lead`` places above its LSB. Only the addend's bits
    that fall below the window's bit 1 are jammed, and only when they do must the jam lie two
    places below the sum's guard bit (the rounder's contract). With ``P >= 2**lead`` (units of
    the product's LSB): an addend below ``2**(lead - 1)`` leaves the sum above ``P / 2``, so
    its guard bit is at least ``lead - 1 - out precision`` and the jam bit, ``-L``, is low
    enough; a larger addend's LSB is at least ``lead - c precision``, inside the window, so
    nothing of it is jammed. ``lead = 0`` (the default) holds for any product. The addend is
    shifted right from its
    leftmost place, ``K`` bits above the product's LSB; when it lies more than ``K`` places
    above, it stays there and a nonzero product becomes the jam bit. That is exact for
    rounding when the product then lies below the result's guard bit:

    - ``c_fmt`` is ``out_fmt`` (same precision, exponent range and subnormals): ``K = Pp +
      2``. Placed more than ``Pp + 1`` bits above the product, the addend's LSB is at or
      above the result's (a normal ``c``: the sum's leading one lies at most one place below
      ``c``'s; a subnormal ``c``: its last bit is the format's, so the result's), and the
      product is below the guard bit. ``Pp + 1`` would do; ``Pp`` fails the exhaustive
      e3m2 FMA check (``rtl_tests/test_ffma.py::test_ffma_narrow``).
    - otherwise ``K = Pp + out precision + 2`` (a subnormal addend's leading one, or the
      result's LSB, may lie far below the addend's LSB).

    Parameters
    ----------
    Pp : int
        Width of the product's magnitude: it is below ``2**Pp`` units of its LSB.
    p_range : tuple of int
        ``(lo, hi)``: the range of the product's LSB exponent.
    c_fmt, out_fmt : FloatFormat
        Formats of the addend and of the result.
    lead : int
        The lowest place of a nonzero product's leading one (above its LSB) wherever the
        addend can be jammed; 0 (any product) by default.

    Returns
    -------
    FmaWindow
        ``(Pp, L, K, top, exp_range)``; ``top = L + K + c precision``.
    """
    Pc, po = c_fmt.precision, out_fmt.precision
    (plo, phi), (clo, chi) = p_range, exp_range(c_fmt)
    if not isinstance(lead, int) or not 0 <= lead < Pp:
        raise ValueError(f"Product lead must be an integer in 0..{Pp - 1}, not {lead!r}")
    L = max(po + 3 - lead, Pc + 2 - lead, 1)
    if (Pc, (clo, chi), c_fmt.subnormals) == (po, exp_range(out_fmt), out_fmt.subnormals):
        K = Pp + 2
    else:
        K = Pp + po + 2
    return FmaWindow(Pp, L, K, L + K + Pc, (min(plo - L, clo - L - K),
                                            max(phi - L, chi - L - K)))


class FloatFMA(FloatOpBase):
    """``y = a * b + c``, exact product and sum, rounded once into ``out_fmt``.

    Datapath (the classic fixed-product, shifted-addend layout): the exact product (``Pp =
    pa + pb`` bits, subnormals unnormalized) sits at a fixed place in a window, ``L = max(out
    precision + 3 - lead, c precision + 2 - lead, 1)`` bits above the window's jam bit, where
    ``lead`` is the lowest place of a nonzero product's leading one (:meth:`_product_lead`;
    bf16: 7, so ``L`` is 4 where ``lead = 0`` would give 11). The addend is shifted
    right from its leftmost place, ``K`` bits above the product, by ``K - (exp_c -
    exp_product)``; what falls off the bottom is jammed into bit 0. When the addend lies more
    than ``K`` places above the product (or the product is zero) the addend sits at its
    leftmost place and a nonzero product becomes the jam bit: ``K = Pp + 2`` when ``c`` is in
    the output's format, else ``K = Pp + out precision + 2`` (:func:`fma_window`, shared
    with the MX accumulation, argues both). The sum's magnitude
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
    latency : int or None
        0 (default) to 4 pipeline stages: 1: after normalization (inside the rounder); 2:
        also before it (after the add); 3: also after the multiplier and addend alignment;
        4: also on the outputs.
    target_mhz, device : float, str or None
        Instead of ``latency``: the clock to reach on ``device``; the planner of
        :mod:`hwgen.timing` chooses the cut points (as :class:`FloatMultiplier`).
    cuts : sequence of str or None
        Instead of ``latency``: the cut points that hold registers, from :attr:`cut_points`:
        ``"dist"`` (after the addend's alignment distance, before the product), ``"pp"``
        (after two half products: the product is split along ``b``'s bits), ``"align_h"``
        (after half the alignment shift's stages, the product complete), ``"prod"`` (after
        the product and the alignment),
        ``"raw"`` (after the add), the rounder's and ``"out"``.

    flags : bool
        ``False``: no exception flags (no ``flags`` port, none of the logic only they need;
        module name ``..._noflags``).
    product : str
        ``"auto"`` (default) or ``"booth"``: how the significand product is built, as
        :class:`~hwgen.units.fmul.FloatMultiplier`'s.

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
        with a quiet-NaN addend, ``Inf - Inf``); absent with ``flags=False``.

    Raises
    ------
    TypeError, ValueError
        A parameter has the wrong type or value; the message names it and what is allowed.
    """

    _op = "ffma"
    _inputs = ("a", "b", "c")
    _cuts = FMA_CUTS

    def __init__(self, fmt: FloatFormat | str = "e4m3", *,
                 out_fmt: FloatFormat | str | None = None,
                 b_fmt: FloatFormat | str | None = None,
                 c_fmt: FloatFormat | str | None = None, rounding: str = "rne",
                 latency: int | None = None, target_mhz: float | None = None,
                 device: "str | None" = None, cuts: Iterable[str] | None = None,
                 flags: bool = True, product: str = "auto") -> None:
        super().__init__({"a": fmt, "b": b_fmt, "c": c_fmt}, out_fmt, rounding, latency,
                         target_mhz=target_mhz, device=device, cuts=cuts, flags=flags,
                         product=product)

    def _product_range(self):
        """``(plo, phi)``: the range of the product's LSB exponent."""
        (alo, ahi), (blo, bhi) = exp_range(self._in_fmts["a"]), exp_range(self._in_fmts["b"])
        return alo + blo, ahi + bhi

    def _product_lead(self):
        """The lowest place of a nonzero product's leading one (above its LSB) where the
        addend can be jammed (:func:`fma_window`'s ``lead``): each significand is at least
        ``2**(p - 1 - z)``, ``z`` the most leading zeros of a subnormal (``p - 1``; 0
        without subnormals), so ``Pp - 2 - za - zb``. Where both operands may be subnormal,
        such a product has its LSB at the lowest product exponent ``alo + blo``; when no
        nonzero addend's LSB lies below it (``clo >= alo + blo``), the addend is never
        jammed beside such a product (its bits stay at or above the product's LSB, inside
        the window): then only one operand's zeros count."""
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        za, zb = ((f.precision - 1) if f.subnormals else 0 for f in (fa, fb))
        plo = self._product_range()[0]
        if za and zb and exp_range(self._in_fmts["c"])[0] >= plo:
            za, zb = max(za, zb), 0
        return max(fa.precision + fb.precision - 2 - za - zb, 0)

    def _window(self):
        """:func:`fma_window` of this unit's formats."""
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        return fma_window(fa.precision + fb.precision, self._product_range(),
                          self._in_fmts["c"], self._out_fmt, self._product_lead())

    def _geometry(self):
        """``(Pp, L, K, top, (plo, phi), (clo, chi))`` (see :func:`fma_window`): the
        window, the product's and the addend's LSB exponent ranges."""
        Pp, L, K, top, _ = self._window()
        return Pp, L, K, top, self._product_range(), exp_range(self._in_fmts["c"])

    def _offsets(self):
        """``(Ka, Kb, Kc)``: each operand's :func:`~.floatraw.field_offset`."""
        return tuple(field_offset(self._in_fmts[p]) for p in "abc")

    def _setup(self):
        # The exponent handed to the rounder is the sum of a's and b's biased fields (or the
        # addend's field plus a constant): the rounder folds the biases into its constants.
        Ka, Kb, _ = self._offsets()
        self._exp_offset = -(Ka + Kb) - self._geometry()[1]

    def _rounder_params(self):
        w = self._window()
        return w.top, w.exp_range, None

    def _own_cut_points(self):
        return ("dist", "pp", "align_h", "prod", "raw")

    def _align_stages(self):
        Pp, L, K, top, (plo, phi), (clo, chi) = self._geometry()
        return shift_stages(max(min(top - 1, K - (clo - phi)), 0))

    def _own_segments(self, model):
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        pa, pb = fa.precision, fb.precision
        Pp, L, K, top, (plo, phi), (clo, chi) = self._geometry()
        ew = range_shape(K - (chi - plo), K - (clo - phi)).width
        # Exponent path: product exponent, distance to the addend, clamp. The product runs
        # beside it and beside the alignment; the segments put it after the distance, so
        # an unpipelined estimate counts part of it twice (a little pessimistic).
        dist_ns = model.lut_levels(1) + model.adder(ew) * 2 + model.comparator(ew) + \
            model.mux(3)
        amax = max(min(top - 1, K - (clo - phi)), 0)
        n = self._align_stages()
        first = max(1, n // 2)
        align1 = model.shifter(top, amax, stages=first)
        align2 = model.shifter(top, amax, stages=n - first)
        add_ns = model.adder(top + 1) + model.mux(2)
        if self._product == "auto" and model.dsp_blocks(pa, pb):
            # A DSP product is not split: no cut inside it.
            return [Segment("dist", dist_ns, "dist"),
                    Segment("mul", max(model.multiplier(pa, pb), align1), "align_h"),
                    Segment("align", align2 + model.mux(2), "prod"),
                    Segment("add", add_ns, "raw")]
        h = pb // 2
        return [Segment("dist", dist_ns, "dist"),
                Segment("pp", model.multiplier(pa, pb - h, dsp=self._in_dsp), "pp"),
                Segment("pp_add", max(model.adder(pa + pb - h), align1), "align_h"),
                Segment("align", align2 + model.mux(2), "prod"),
                Segment("add", add_ns, "raw")]

    def elaborate(self, platform):
        m = Module()
        fa, fb, fc = self._in_fmts["a"], self._in_fmts["b"], self._in_fmts["c"]
        ua = unpack(m, fa, self.a, name="ua")
        ub = unpack(m, fb, self.b, name="ub")
        uc = unpack(m, fc, self.c, name="uc")
        Pp, L, K, top, _, _ = self._geometry()   # top: window bits (jam bit included)
        Pc = fc.precision
        early = bool({"dist", "pp", "align_h"} & set(self.cuts))

        (alo, ahi), (blo, bhi), (clo, chi) = exp_range(fa), exp_range(fb), exp_range(fc)
        plo, phi = alo + blo, ahi + bhi
        Ka, Kb, Kc = self._offsets()
        # The exponents as biased fields: the product's field sum, the addend's field.
        ef = Signal(range_shape(plo + Ka + Kb, phi + Ka + Kb))
        cf = biased_field(fc, self.c)
        prod = Signal(Pp)
        m.d.comb += ef.eq(biased_field(fa, self.a) + biased_field(fb, self.b))
        if not early:
            m.d.comb += prod.eq(self._mul(m, ua.sig, ub.sig))
        sp = ua.sign ^ ub.sign
        p_zero = ua.zero | ub.zero
        inf_x_zero = (ua.inf & ub.zero) | (ub.inf & ua.zero)
        p_nan = ua.nan | ub.nan | inf_x_zero
        p_inf = (ua.inf | ub.inf) & ~p_nan
        # Addend placement: k = exp_c - exp_product, shifted right from place K by K - k:
        # dist = K - k = (ef - cf) + D, its bounds compared on ef - cf.
        D = K - Ka - Kb + Kc
        draw = Signal(range_shape(K - (chi - plo) - D, K - (clo - phi) - D))
        m.d.comb += draw.eq(ef - cf)
        above = ~greater_than(draw, -D - 1)    # the addend lies more than K places up
        c_dom = Signal()
        m.d.comb += c_dom.eq(p_zero | (~uc.zero & above))
        amax = L + K + Pc - 1
        dist_hi = K - (clo - phi)              # largest K - k
        amt = Signal(range(max(min(amax, max(dist_hi, 0)), 0) + 1))
        if dist_hi > 0:
            m.d.comb += amt.eq(Mux(c_dom | above, 0,
                                   Mux(greater_than(draw, amax - D - 1), amax,
                                       (draw + D)[:len(amt)])))
        # The rounder's exponent (the LSB's, less the offset of _setup): the product's field
        # sum, or the addend's field moved to the same offset.
        e_lsb = Signal(range_shape(min(plo - L, clo - L - K) - self._exp_offset,
                                   max(phi - L, chi - L - K) - self._exp_offset))
        m.d.comb += e_lsb.eq(Mux(c_dom, cf + (Ka + Kb - Kc - K), ef))
        if early:
            stage = self._early(m, ua, ub, uc, prod, amt, c_dom, p_zero, e_lsb, sp, p_inf,
                                p_nan, inf_x_zero, L, K, top, clo, phi)
        else:
            cw = sticky_shift_right(m, uc.sig << (L + K), top, amt,
                                    max(min(amax, dist_hi), 0), name="align")
            pw = Mux(c_dom, ~p_zero, prod << L)

            nan = p_nan | uc.nan | (p_inf & uc.inf & (sp ^ uc.sign))
            invalid = (ua.snan | ub.snan | uc.snan | inf_x_zero |
                       (p_inf & uc.inf & (sp ^ uc.sign)))
            inf = (p_inf | uc.inf) & ~nan
            inf_sign = Mux(p_inf, sp, uc.sign)
            stage = [pw, cw, e_lsb, sp, uc.sign, nan, inf, inf_sign,
                     invalid if self._flags else Const(0, 1)]
            if self._rounding == "dynamic":
                stage.append(self.rm)
        stage = self._staged(m, "prod", stage, "prod")
        pw, cw, e_lsb, sp, sc, nan, inf, inf_sign, invalid = stage[:9]
        rm = stage[9] if self._rounding == "dynamic" else None

        eff_sub = sp ^ sc
        # |sum| < 2**top (the addend's top bit is at most bit top - 1, the product's far
        # below), so top magnitude bits hold it. An exact zero: both zero with one sign
        # keeps it; otherwise +0 (-0 rounding down).
        rmode = RoundingMode(self._rounding, rm)
        sign, mag = aligned_add(m, cw, pw, eff_sub, top, sp, rmode.rdn)

        r = self._rounder(m)
        pairs = [
            (r.sign, Mux(inf, inf_sign, sign)),
            (r.exp, e_lsb),
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

    def _early(self, m, ua, ub, uc, prod, amt, c_dom, p_zero, e_lsb, sp, p_inf, p_nan,
               inf_x_zero, L, K, top, clo, phi):
        """The product and the alignment with the cut points before ``"prod"`` (``"dist"``,
        ``"pp"``, ``"align_h"``); returns the values of the ``"prod"`` cut."""
        fb = self._in_fmts["b"]
        nan = p_nan | uc.nan | (p_inf & uc.inf & (sp ^ uc.sign))
        invalid = (ua.snan | ub.snan | uc.snan | inf_x_zero |
                   (p_inf & uc.inf & (sp ^ uc.sign)))
        inf = (p_inf | uc.inf) & ~nan
        # What rides along every cut up to "prod".
        v = dict(c_dom=c_dom, p_zero=p_zero, e_lsb=e_lsb, sp=sp, sc=uc.sign, nan=nan, inf=inf,
                 inf_sign=Mux(p_inf, sp, uc.sign),
                 invalid=invalid if self._flags else Const(0, 1),
                 rm=self.rm if self._rounding == "dynamic" else None)
        v = self._cut(m, "dist", dict(v, a=ua.sig, b=ub.sig, c_sig=uc.sig, amt=amt))
        a, b = v.pop("a"), v.pop("b")
        if "pp" in self.cuts:
            # Two half products (b's low and high bits) meet after the cut.
            h = fb.precision // 2
            v = self._cut(m, "pp", dict(v, lo=self._mul(m, a, b[:h]), hi=self._mul(m, a, b[h:])))
            m.d.comb += prod.eq(v.pop("lo") + (v.pop("hi") << h))
        else:
            m.d.comb += prod.eq(self._mul(m, a, b))
        n = self._align_stages()
        half = max(1, n // 2)
        c_sig, c_amt = v.pop("c_sig"), v.pop("amt")
        state = {"v": v}

        def between(i, cur, amount):
            if i != half or "align_h" not in self.cuts:
                return cur, amount
            w = self._cut(m, "align_h", dict(state["v"], cur=cur, amt=amount, prod=prod))
            state["prod"] = w.pop("prod")
            cur, amount = w.pop("cur"), w.pop("amt")
            state["v"] = w
            return cur, amount

        amax = top - 1
        cw = sticky_shift_right(m, c_sig << (L + K), top, c_amt,
                                max(min(amax, K - (clo - phi)), 0), name="align",
                                between=between)
        if n <= 1 and "align_h" in self.cuts:
            # A one-stage alignment: the cut sits after it.
            w = self._cut(m, "align_h", dict(state["v"], cur=cw, prod=prod))
            cw, state["prod"], state["v"] = w.pop("cur"), w.pop("prod"), w
        v = state["v"]
        p = state.get("prod", prod)
        pw = Mux(v["c_dom"], ~v["p_zero"], p << L)
        stage = [pw, cw, v["e_lsb"], v["sp"], v["sc"], v["nan"], v["inf"], v["inf_sign"],
                 v["invalid"]]
        if self._rounding == "dynamic":
            stage.append(v["rm"])
        return stage
