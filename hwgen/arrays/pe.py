"""Processing elements (PEs) of the systolic arrays: the spec, and the combinational datapaths.

A PE is named by a short spec string, parsed by :func:`parse_pe` into a :class:`PESpec` (both
from :mod:`hwgen.golden.matmul`, where the grammar is documented, so the golden model and the
hardware read the same string the same way):

``int8`` (``intN``, ``uintN``), ``e4m3:fp16:rounded``, ``bf16:fp32:fused``, ``e4m3:exact``
(``e4m3:exact:fp32``), ``bs8x8`` (``bsWxA``), ``dp8`` (``dp8:split``),
``ternary``.

The array does not use the stream-level MAC units (``IntMac``, ``FloatMac``...): it needs one
step of their arithmetic per PE and per clock, with the registers placed by the array. That step
is :class:`PEDatapath` (``acc_out = acc_in ⊕ a ⊗ w``, combinational), built from the shared
float operators (:class:`~hwgen.units.fmul.FloatMultiplier`,
:class:`~hwgen.units.fadd.FloatAdder`, :class:`~hwgen.units.ffma.FloatFMA`,
:class:`~hwgen.units.rounder.FloatRounder`) for float PEs, and :class:`ReadOut` turns a running
sum into a result (identity except for exact PEs, where it is the one rounding).
"""

from amaranth.hdl import Cat, Module, Mux, Shape, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..arrayspec import SUPPORTED_KINDS, check_array_pe, check_pe_latency
from ..pespec import PE_GRAMMAR, PESpec, parse_pe
from ..units.floatraw import exp_range, unpack

__all__ = ["PESpec", "parse_pe", "PE_GRAMMAR", "PEDatapath", "ReadOut", "SUPPORTED_KINDS",
           "check_array_pe", "check_pe_latency", "operand_shapes", "acc_shape", "out_shape"]


def _int_shape(fmt):
    return signed(fmt.bits) if fmt.signed else unsigned(fmt.bits)


def operand_shapes(pe):
    """``(a_shape, w_shape)``: shapes of one activation and one weight."""
    pe = parse_pe(pe)
    if pe.kind == "float":
        return unsigned(pe.a_fmt.width), unsigned(pe.w_fmt.width)
    if pe.kind == "ternary":
        return _int_shape(pe.a_fmt), unsigned(2)
    return _int_shape(pe.a_fmt), _int_shape(pe.w_fmt)


def acc_shape(pe):
    """Shape of a running sum: an integer, a float encoding, or for exact PEs the layout
    ``fixed`` (signed Kulisch integer, ``acc_bits``), ``nan``, ``pinf``, ``ninf``."""
    pe = parse_pe(pe)
    if pe.accumulate == "exact":
        return data.StructLayout({"fixed": signed(pe.acc_bits), "nan": 1, "pinf": 1, "ninf": 1})
    if pe.kind == "float":
        return unsigned(pe.acc_fmt.width)
    return _int_shape(pe.acc_fmt)


def out_shape(pe):
    """Shape of one result."""
    pe = parse_pe(pe)
    if pe.kind == "float":
        return unsigned(pe.out_fmt.width)
    return _int_shape(pe.out_fmt)


class PEDatapath(wiring.Component):
    """One PE step, combinational: ``acc_out = acc_in ⊕ (a ⊗ w)``.

    Bit-serial PEs (``bsWxA``) do one bit-plane of that product per step: with ``plane`` = x
    (0 = the MSB, the sign plane) and ``active`` set, ``acc_out = acc_in + bit(w, W-1-x) ·
    a · s_x`` with ``s_x = 2**(W-1-x)``, negated for x = 0 (two's complement), as
    :func:`hwgen.golden.bsmac.bitserial_dot`; ``active`` low adds nothing. Summing planes
    0..bits-1 gives ``a × truncate(w, W, bits)``. The shift is ``(a << (W-1)) >> x``: one
    barrel shifter of A+W-1 bits, no multiplier.

    Dual-precision PEs (``dpH``) share one multiplier between the modes, as
    :class:`~hwgen.units.dpmac.DualPrecisionMac` (whose ``dual_products``/``dual_sum`` they
    reuse): the packed (3H/2+2)-bit one (one DSP block), or with ``dpH:split`` four
    (H/2+1)-bit sub-multipliers. High mode adds ``a × w`` (signed H-bit words), low mode
    ``a.lo × w.lo + a.hi × w.hi`` (signed H/2-bit halves).

    Integer PEs add the exact product and wrap modulo ``2**acc_bits``; ternary PEs add,
    subtract or skip ``a``; rounded float PEs round the product into the accumulator format
    and then round the sum; fused PEs use one FMA; exact PEs add the exact product to a
    Kulisch register (NaN/Inf tracked by sticky bits). All rounding is to nearest even.

    Parameters
    ----------
    pe : str or PESpec
        The PE spec.

    Members
    -------
    a : In(a_shape)
        Activation.
    w : In(w_shape)
        Weight.
    acc_in : In(acc_shape(pe))
        Running sum in.
    acc_out : Out(acc_shape(pe))
        Running sum out.
    plane : In(range(W)), active : In(1)
        Bit-serial PEs only: the weight bit-plane of this step (MSB first) and whether it
        counts.
    low : In(1)
        Dual-precision PEs only: low mode (two (H/2)-bit products) instead of one H×H.

    Pipelined float PEs (``mul_latency``, ``add_latency`` > 0, see
    :class:`~hwgen.arrays.systolic.SystolicArray`) are not combinational: the product is
    ready ``mul_latency`` cycles after ``a`` and ``w``, ``acc_in`` is taken then (by the
    adder) and ``acc_out`` follows ``add_latency`` cycles later. Fused PEs take ``acc_in``
    with ``a`` and ``w``.
    """

    def __init__(self, pe, *, mul_latency=0, add_latency=0):
        self._pe = check_array_pe(pe)
        self._lat = check_pe_latency(self._pe, "ws", mul_latency, add_latency)
        a_shp, w_shp = operand_shapes(self._pe)
        ports = {"a": In(a_shp), "w": In(w_shp), "acc_in": In(acc_shape(self._pe)),
                 "acc_out": Out(acc_shape(self._pe))}
        if self._pe.kind == "bitserial":
            ports.update(plane=In(range(self._pe.w_fmt.bits)), active=In(1))
        if self._pe.kind == "dualprec":
            ports.update(low=In(1))
        super().__init__(ports)

    pe = property(lambda self: self._pe)

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        if pe.kind == "int":
            m.d.comb += self.acc_out.eq(self.acc_in + self.a * self.w)
        elif pe.kind == "ternary":
            term = Mux(self.w[0], Mux(self.w[1], -self.a, self.a), 0)
            m.d.comb += self.acc_out.eq(self.acc_in + term)
        elif pe.kind == "dualprec":
            from ..units.dpmac import dual_products, dual_sum
            half = pe.w_fmt.bits // 2
            mult = "split" if pe.spec.endswith(":split") else "packed"
            prods = dual_products(half, self.low, 0, self.w, self.w, self.a, mult)
            m.d.comb += self.acc_out.eq(self.acc_in + dual_sum(half, self.low, 0, prods, mult))
        elif pe.kind == "bitserial":
            wb = pe.w_fmt.bits
            # bit W-1-x of w: bit x of w reversed (the planes, MSB first)
            bit = Cat(*(self.w[wb - 1 - x] for x in range(wb))).bit_select(self.plane, 1)
            mag = (self.a << (wb - 1)) >> self.plane          # exact: the low bits are 0
            term = Mux(self.plane == 0, -mag, mag)
            m.d.comb += self.acc_out.eq(self.acc_in + Mux(self.active & bit, term, 0))
        elif pe.accumulate == "rounded":
            from ..units.fadd import FloatAdder
            from ..units.fmul import FloatMultiplier
            l_mul, l_add = self._lat
            m.submodules.mul = mul = FloatMultiplier(pe.a_fmt, out_fmt=pe.acc_fmt,
                                                     b_fmt=pe.w_fmt, latency=l_mul)
            m.submodules.add = add = FloatAdder(pe.acc_fmt, latency=l_add)
            for unit, lat in ((mul, l_mul), (add, l_add)):
                if lat:
                    m.d.comb += unit.in_valid.eq(1)
            m.d.comb += [mul.a.eq(self.a), mul.b.eq(self.w),
                         add.a.eq(self.acc_in), add.b.eq(mul.y),
                         self.acc_out.eq(add.y)]
        elif pe.accumulate == "fused":
            from ..units.ffma import FloatFMA
            m.submodules.fma = fma = FloatFMA(pe.a_fmt, b_fmt=pe.w_fmt, c_fmt=pe.acc_fmt,
                                              out_fmt=pe.acc_fmt, latency=self._lat[1])
            if self._lat[1]:
                m.d.comb += fma.in_valid.eq(1)
            m.d.comb += [fma.a.eq(self.a), fma.b.eq(self.w), fma.c.eq(self.acc_in),
                         self.acc_out.eq(fma.y)]
        else:
            self._exact(m)
        return m

    def _exact(self, m):
        pe = self._pe
        lsb = pe.exact_lsb
        ua = unpack(m, pe.a_fmt, self.a, name="ua")
        uw = unpack(m, pe.w_fmt, self.w, name="uw")
        (alo, ahi), (wlo, whi) = exp_range(pe.a_fmt), exp_range(pe.w_fmt)
        assert alo + wlo == lsb
        max_shift = ahi + whi - lsb
        shift = Shape.cast(range(max_shift + 1))
        amount = (ua.exp + uw.exp - lsb).as_unsigned()[:shift.width]
        nan = ua.nan | uw.nan | (ua.inf & uw.zero) | (uw.inf & ua.zero)
        inf = (ua.inf | uw.inf) & ~nan
        sign = ua.sign ^ uw.sign
        finite = ~(ua.nan | uw.nan | ua.inf | uw.inf)
        mag = Mux(finite, (ua.sig * uw.sig) << amount, 0)
        # The Kulisch width holds every product, so the shift never loses a bit.
        fixed = self.acc_in.fixed + Mux(sign, -mag, mag)
        m.d.comb += [
            self.acc_out.fixed.eq(fixed),
            self.acc_out.nan.eq(self.acc_in.nan | nan),
            self.acc_out.pinf.eq(self.acc_in.pinf | (inf & ~sign)),
            self.acc_out.ninf.eq(self.acc_in.ninf | (inf & sign)),
        ]


class ReadOut(wiring.Component):
    """Running sum → result, combinational: the identity, except for exact PEs, whose Kulisch
    register is rounded once (to nearest even) into the output format by the shared
    :class:`~hwgen.units.rounder.FloatRounder`. An exactly-zero sum reads out as ``+0``; NaN
    when a product was NaN or invalid or both infinities occurred; else ±Inf if an infinite
    product occurred (as :func:`hwgen.golden.fmac.mac`).

    Members
    -------
    acc : In(acc_shape(pe))
    y : Out(out_shape(pe))
    """

    def __init__(self, pe):
        self._pe = check_array_pe(pe)
        super().__init__({"acc": In(acc_shape(self._pe)), "y": Out(out_shape(self._pe))})

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        if pe.accumulate != "exact":
            m.d.comb += self.y.eq(self.acc)
            return m
        from ..units.rounder import FloatRounder
        lsb = pe.exact_lsb
        m.submodules.rnd = rnd = FloatRounder(pe.out_fmt, sig_width=pe.acc_bits,
                                              exp_range=(lsb, lsb))
        acc = self.acc
        res_nan = acc.nan | (acc.pinf & acc.ninf)
        res_inf = (acc.pinf | acc.ninf) & ~res_nan
        neg = acc.fixed < 0
        m.d.comb += [
            rnd.sign.eq(Mux(res_inf, acc.ninf, neg)),
            rnd.exp.eq(lsb),
            rnd.sig.eq(Mux(neg, -acc.fixed, acc.fixed)),
            rnd.nan.eq(res_nan),
            rnd.inf.eq(res_inf),
            rnd.invalid.eq(0),
            self.y.eq(rnd.y),
        ]
        return m
