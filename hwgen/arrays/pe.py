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

from typing import TYPE_CHECKING, cast

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..arrayspec import SUPPORTED_KINDS, check_array_pe, check_pe_latency
from ..pespec import PE_GRAMMAR, PESpec, parse_pe
from ..units.carry import signed_add
from ..units.dsp import DSP_WIDTH, registered_product
from ..units.floatraw import (biased_field, exp_range, field_offset, greater_than,
                              pipeline_register, range_shape, unpack)
from ..units.rounder import clamp_distance

if TYPE_CHECKING:
    from ..formats import FloatFormat, IntFormat

__all__ = ["PESpec", "parse_pe", "PE_GRAMMAR", "PEDatapath", "ReadOut", "SUPPORTED_KINDS",
           "check_array_pe", "check_pe_latency", "operand_shapes", "acc_shape", "out_shape",
           "EXACT_DSP_WIDTH", "exact_aligned_width", "readout_cuts", "prealigned",
           "aligned_layout", "align_operand", "PE_ADDER_CUTS"]

#: Widest operand an exact PE aligns before its multiplier (a DSP block's 18-bit port on
#: ECP5): formats whose aligned significand fits (e4m3, e3m4, e2m3, e3m2, e2m1...) multiply
#: the aligned operands; wider ones (e5m2, fp16, bf16...) multiply the significands and
#: shift the product.
EXACT_DSP_WIDTH = DSP_WIDTH

#: The adder's cut points in an ``F:ACC:rounded`` PE, per ``add_latency``: those of the
#: stand-alone operator's table (:data:`~hwgen.units.floatop.CUTS`) except latency 3, whose
#: third register goes after the exponent compare and the alignment shift instead of on the
#: result (which goes into the array's partial-sum register anyway): in routed arrays the
#: stage from the multiplier's result through the compare, the shift and the significand add
#: is the longest (docs/fast_pes.md).
PE_ADDER_CUTS = {0: (), 1: ("norm",), 2: ("raw", "norm"), 3: ("align", "raw", "norm")}


def readout_cuts(pe: PESpec | str, latency: int) -> tuple[str, ...]:
    """Pipeline registers of an exact PE's read-out for ``latency`` 0..3, at
    :class:`~hwgen.units.rounder.FloatRounder` cut points: 1 halfway through its normalizing
    shift; 2 after the shift's first stage and two thirds of the way; 3 also after the
    rounding increment. (For e4m3, 49 bits: ``norm3``; ``norm1, norm4``;
    ``norm1, norm4, round``.) No register sits between the sum's magnitude and the shift:
    there yosys maps the two together into fewer LUTs. Chosen by measurement (ECP5 85F, the
    read-out alone, e4m3): one register 69 MHz, 407 LUT4 + carry; two 100 MHz, 345; three
    104 MHz, 353; the earlier cuts after the magnitude (``abs, norm3, norm``) 628."""
    from ..units.rounder import RounderGeometry
    pe = cast(PESpec, parse_pe(pe))
    geom = RounderGeometry(cast("FloatFormat", pe.out_fmt), pe.acc_bits,
                           (cast(int, pe.fixed_lsb), cast(int, pe.fixed_lsb)))
    stages = [c for c in geom.cut_points if c.startswith("norm") and c != "norm"] or ["norm"]
    half = stages[(len(stages) + 1) // 2 - 1]
    first, later = stages[0], stages[(2 * len(stages)) // 3]
    if later == first:
        later = "norm"
    cuts = {0: (), 1: (half,), 2: (first, later), 3: (first, later, "round")}[latency]
    if len(set(cuts)) != latency:
        raise ValueError(f"The read-out of {pe.spec} has too short a shift for {latency} "
                         f"registers")
    return cuts


def exact_aligned_width(fmt: "FloatFormat") -> int:
    """Width of a significand of ``fmt`` shifted to its place (``sig << (exp - lo)``)."""
    lo, hi = exp_range(fmt)
    return fmt.precision + hi - lo


def prealigned(pe: PESpec | str) -> bool:
    """Whether an array aligns ``pe``'s operands once, where they enter it: exact PEs whose
    aligned significands both fit :data:`EXACT_DSP_WIDTH` bits. Their activations and
    weights then travel (and weights are stored) as :func:`aligned_layout`, and the PEs do
    no unpacking or shifting of their own (:class:`PEDatapath` with ``aligned=True``)."""
    pe = cast(PESpec, parse_pe(pe))
    return pe.accumulate == "exact" and \
        exact_aligned_width(cast("FloatFormat", pe.a_fmt)) <= EXACT_DSP_WIDTH and \
        exact_aligned_width(cast("FloatFormat", pe.w_fmt)) <= EXACT_DSP_WIDTH


def aligned_layout(fmt: "FloatFormat") -> data.StructLayout:
    """An operand of an exact PE at its place in the Kulisch register: ``mag`` (its
    significand shifted by ``exp - lo``, 0 for NaN and infinities), ``sign``, and the
    ``nan``/``inf``/``zero`` flags of :func:`~hwgen.units.floatraw.unpack`."""
    return data.StructLayout({"mag": unsigned(exact_aligned_width(fmt)), "sign": 1,
                              "nan": 1, "inf": 1, "zero": 1})


def align_operand(m: Module, fmt: "FloatFormat", enc: Value, name: str) -> data.View:
    """The :func:`aligned_layout` of the encoding ``enc`` of ``fmt`` (logic in ``m.d.comb``).

    ``sig << (max(field, 1) - 1)`` without the subtraction: the significand with a zero
    below it for subnormals (``{mant, 0}``) or with its hidden one for normal numbers
    (``{1, mant}``), shifted by the exponent field, then down by one; NaN and infinities
    enter as 0 (their flags carry them)."""
    u = unpack(m, fmt, enc, name=f"{name}_raw")
    out = Signal(aligned_layout(fmt), name=name)
    mb, eb = fmt.man_bits, fmt.exp_bits
    field = enc[mb:mb + eb]
    mant = enc[:mb] if mb else Const(0, 0)
    if fmt.subnormals:
        low = Cat(Const(0, 1), mant)
    else:
        low = Const(0, mb + 1)
    sig = Signal(mb + 1, name=f"{name}_sig")
    m.d.comb += sig.eq(Mux(u.nan | u.inf, 0, Mux(field != 0, Cat(mant, Const(1, 1)), low)))
    width = exact_aligned_width(fmt)
    m.d.comb += [out.mag.eq((sig << field)[1:width + 1]),
                 out.sign.eq(u.sign), out.nan.eq(u.nan), out.inf.eq(u.inf),
                 out.zero.eq(u.zero)]
    return out


def _stage(m, name, values):
    """``values`` (a dict) through pipeline registers named ``<name>_<key>_q``: a cut of a
    fixed-point PE's product path (``"align"``, ``"product"``)."""
    return {k: pipeline_register(m, v, f"{name}_{k}_q") for k, v in values.items()}


def _int_shape(fmt):
    return signed(fmt.bits) if fmt.signed else unsigned(fmt.bits)


def operand_shapes(pe: PESpec | str, *, aligned: bool = False
                   ) -> tuple[Shape | data.StructLayout, Shape | data.StructLayout]:
    """``(a_shape, w_shape)``: shapes of one activation and one weight (``aligned``: as they
    travel inside an array that aligns them where they enter, :func:`prealigned`)."""
    pe = cast(PESpec, parse_pe(pe))
    if aligned:
        return (aligned_layout(cast("FloatFormat", pe.a_fmt)),
                aligned_layout(cast("FloatFormat", pe.w_fmt)))
    if pe.kind == "float":
        return (unsigned(cast("FloatFormat", pe.a_fmt).width),
                unsigned(cast("FloatFormat", pe.w_fmt).width))
    if pe.kind == "mx":              # element code, the block's E8M0 code above it
        return unsigned(pe.a_fmt.width + 8), unsigned(pe.w_fmt.width + 8)
    if pe.kind == "ternary":
        return _int_shape(pe.a_fmt), unsigned(2)
    return _int_shape(pe.a_fmt), _int_shape(pe.w_fmt)


def acc_shape(pe: PESpec | str) -> Shape | data.StructLayout:
    """Shape of a running sum: an integer, a float encoding, or for exact PEs the layout
    ``fixed`` (signed Kulisch integer, ``acc_bits``), ``nan``, ``pinf``, ``ninf``."""
    pe = cast(PESpec, parse_pe(pe))
    if pe.fixed_point:
        return data.StructLayout({"fixed": signed(pe.acc_bits), "nan": 1, "pinf": 1, "ninf": 1})
    if pe.kind in ("float", "mx"):
        return unsigned(cast("FloatFormat", pe.acc_fmt).width)
    return _int_shape(pe.acc_fmt)


def out_shape(pe: PESpec | str) -> Shape:
    """Shape of one result."""
    pe = cast(PESpec, parse_pe(pe))
    if pe.kind in ("float", "mx"):
        return unsigned(cast("FloatFormat", pe.out_fmt).width)
    return _int_shape(pe.out_fmt)



#: The narrowest product yosys puts in an iCE40 SB_MAC16 (synth_ice40's DSP_Y_MINWIDTH).
ICE40_DSP_MIN_PRODUCT = 11


def float_pe_product(pe: PESpec) -> str:
    """The significand product (:data:`hwgen.units.booth.PRODUCTS`) of a rounded or fused
    float PE's operator: ``"logic"`` when it is narrower than
    :data:`ICE40_DSP_MIN_PRODUCT` bits (the 8-bit formats' products), ``"auto"`` otherwise.
    synth_ice40 already builds such products in logic; synth_ecp5 would give each one a
    ``MULT18X18D``, and in an array the routes out to the DSP blocks and back cost more than
    the product itself (ECP5 85F, ``e4m3:fp16:rounded`` WS 8×8, mul 3 / add 2, router2,
    median of seeds 1-3: 59.5 MHz with 25,137 LUT4 + 3,141 CCU2C and no DSP block, against
    57.9 MHz with 25,231 + 4,613 and 64 DSP blocks in the previous run; docs/arrays.md)."""
    a, w = (cast("FloatFormat", f) for f in (pe.a_fmt, pe.w_fmt))
    width = a.precision + w.precision
    return "logic" if width < ICE40_DSP_MIN_PRODUCT else "auto"


def for_ice40(platform: object) -> bool:
    """Whether the design is elaborated for an iCE40 (``platform.family``; "iCE40" in
    amaranth's platforms)."""
    return str(getattr(platform, "family", "")).lower() == "ice40"


def ice40_product(m: Module, a: Value, w: Value, platform: object) -> Value:
    """``a * w`` (signed operands), built so that yosys maps it to an iCE40 DSP block when the
    design is elaborated for an iCE40 (``platform.family``; "iCE40" in amaranth's platforms).
    synth_ice40 builds products narrower than :data:`ICE40_DSP_MIN_PRODUCT` bits in logic
    cells (about 100 LUT4 for 5 × 5 bits), and its width reduction strips sign-extended or
    constant operand bits, so a narrow ``a`` becomes ``a' = a·2**s + 1`` (s bits wider, none
    of them constant): ``(a'·w - w) >> s`` is ``a·w`` exactly, one SB_MAC16 and an adder."""
    short = ICE40_DSP_MIN_PRODUCT - len(a) - len(w)
    if not for_ice40(platform) or short <= 0:
        return a * w
    wide = Signal(signed(len(a) + short), name="a_dsp")
    prod = Signal(signed(len(wide) + len(w)), name="p_dsp")
    m.d.comb += [wide.eq(Cat(Const(1, short), a) if short == 1 else
                         Cat(Const(1, 1), Const(0, short - 1), a)),
                 prod.eq(wide * w - w)]
    return (prod >> short).as_signed()


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
    dsp_enable : Value or None
        :func:`prealigned` exact PEs with ``mul_latency`` ≥ 1, elaborated for an ECP5: the
        enable of the PE's registers (the array's), which the product's registers then
        take inside the DSP block (:func:`~hwgen.units.dsp.registered_product`: its output
        register, and its input registers with ``mul_latency`` 2) instead of the fabric.
        Results are the same cycle for cycle; ``None`` keeps every register in the fabric.

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
    with ``a`` and ``w``. Exact PEs (``mul_latency`` 0..2, ``add_latency`` 0): the product
    is ready ``mul_latency`` cycles after ``a`` and ``w`` and ``acc_out`` follows ``acc_in``
    in the same cycle; formats whose aligned significand fits :data:`EXACT_DSP_WIDTH` bits
    align both operands before one multiplier (the product lands at its place), others
    shift the significands' product. With ``aligned=True`` (:func:`prealigned` PEs) ``a``
    and ``w`` are already aligned (:func:`aligned_layout`, made once per row and column by
    :func:`align_operand` where they enter the array): the PE is the multiplier, the signed
    add and the special-value flags.
    """

    def __init__(self, pe: PESpec | str, *, mul_latency: int = 0, add_latency: int = 0,
                 aligned: bool = False, dsp_enable: Value | None = None) -> None:
        self._pe = check_array_pe(pe)
        self._lat = check_pe_latency(self._pe, "ws", mul_latency, add_latency)
        if aligned and not prealigned(self._pe):
            raise ValueError(f"PE {self._pe.spec} does not take aligned operands (only exact "
                             f"PEs whose aligned significands fit {EXACT_DSP_WIDTH} bits)")
        self._aligned = aligned
        self._dsp_enable = dsp_enable
        a_shp, w_shp = operand_shapes(self._pe, aligned=aligned)
        ports = {"a": In(a_shp), "w": In(w_shp), "acc_in": In(acc_shape(self._pe)),
                 "acc_out": Out(acc_shape(self._pe))}
        if self._pe.kind == "bitserial":
            ports.update(plane=In(range(cast("IntFormat", self._pe.w_fmt).bits)), active=In(1))
        if self._pe.kind == "dualprec":
            ports.update(low=In(1))
        super().__init__(ports)

    pe = property(lambda self: self._pe)

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        if pe.kind == "int":
            m.d.comb += self.acc_out.eq(self.acc_in + ice40_product(m, self.a, self.w, platform))
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
                                                     b_fmt=pe.w_fmt, latency=l_mul,
                                                     product=float_pe_product(pe))
            m.submodules.add = add = FloatAdder(pe.acc_fmt, cuts=PE_ADDER_CUTS[l_add])
            for unit, lat in ((mul, l_mul), (add, l_add)):
                if lat:
                    m.d.comb += unit.in_valid.eq(1)
            m.d.comb += [mul.a.eq(self.a), mul.b.eq(self.w),
                         add.a.eq(self.acc_in), add.b.eq(mul.y),
                         self.acc_out.eq(add.y)]
        elif pe.accumulate == "fused":
            from ..units.ffma import FloatFMA
            m.submodules.fma = fma = FloatFMA(pe.a_fmt, b_fmt=pe.w_fmt, c_fmt=pe.acc_fmt,
                                              out_fmt=pe.acc_fmt, latency=self._lat[1],
                                              product=float_pe_product(pe))
            if self._lat[1]:
                m.d.comb += fma.in_valid.eq(1)
            m.d.comb += [fma.a.eq(self.a), fma.b.eq(self.w), fma.c.eq(self.acc_in),
                         self.acc_out.eq(fma.y)]
        elif pe.accumulate == "window":
            self._window(m, platform)
        else:
            self._exact(m, platform)
        return m

    def _window(self, m, platform):
        """``F:window``: the significands' product shifted to its place in the window
        (truncated below its LSB, capped at its top), then a saturating signed add."""
        pe = self._pe
        l_mul = self._lat[0]
        lsb, msb = pe.window
        width = msb - lsb                               # magnitude bits
        ua = unpack(m, pe.a_fmt, self.a, name="ua")
        uw = unpack(m, pe.w_fmt, self.w, name="uw")
        (alo, ahi), (wlo, whi) = exp_range(pe.a_fmt), exp_range(pe.w_fmt)
        pw = pe.a_fmt.precision + pe.w_fmt.precision   # product bits
        special = ua.nan | ua.inf | uw.nan | uw.inf
        # position of the product's LSB in the window: pos = ea + eb - lsb = q - off, q the
        # sum of the biased exponent fields (compared with constants: LUT trees, and only
        # the shift amount's low bits formed); the frame
        # (prod << clamp(pos + pw, 0, width + pw)) >> pw is floor(prod * 2**pos) while
        # pos <= width, and 0 when pos < -pw (every bit below the LSB)
        off = lsb + field_offset(pe.a_fmt) + field_offset(pe.w_fmt)
        q = Signal(range_shape(alo + wlo + off - lsb, ahi + whi + off - lsb), name="q")
        m.d.comb += q.eq(biased_field(pe.a_fmt, self.a) + biased_field(pe.w_fmt, self.w))
        vals = dict(self._exact_flags(ua, uw), q=q, prod=Mux(special, 0, ua.sig * uw.sig))
        if l_mul >= 2:
            vals = _stage(m, "align", vals)
        q, prod = vals.pop("q"), vals.pop("prod")
        top = width + pw
        amount = clamp_distance(m, q, off - pw, top, "amount")
        frame = Signal(top + pw, name="frame")
        m.d.comb += frame.eq(prod << amount)
        over = (frame[top:] != 0) | (greater_than(q, width + off) & (prod != 0))
        mag = Mux(over, (1 << width) - 1, frame[pw:top])
        if l_mul >= 1:
            vals = _stage(m, "product", dict(vals, mag=mag))
            mag = vals.pop("mag")
        # acc ± mag in width + 2 bits (|acc| <= 2**width, mag < 2**width), then saturate
        total = Signal(signed(width + 2), name="total")
        m.d.comb += total.eq(signed_add(m, self.acc_in.fixed, mag, vals["sign"], width + 2,
                                        platform))
        lo, hi = -(1 << width), (1 << width) - 1
        self._fixed_out(m, Mux(greater_than(total, hi), hi,
                               Mux(~greater_than(total, lo - 1), lo, total)), vals)

    def _exact(self, m, platform):
        pe = self._pe
        l_mul = self._lat[0]
        if prealigned(pe):
            # Each operand at its place in the Kulisch register (sig << (exp - lo)): one
            # multiplier (a DSP block) then yields the product already aligned, with no
            # shifter after it. In an array the operands come aligned (``aligned``).
            if self._aligned:
                ua, uw = self.a, self.w
            else:
                ua = align_operand(m, pe.a_fmt, self.a, "ua")
                uw = align_operand(m, pe.w_fmt, self.w, "uw")
            vals = self._exact_flags(ua, uw)
            in_dsp = l_mul >= 1 and self._dsp_enable is not None and \
                getattr(platform, "family", None) == "ecp5"
            if in_dsp:
                # the product's registers inside the DSP block on an ECP5 (the flags'
                # registers in the fabric beside it)
                mag = registered_product(m, ua.mag, uw.mag, self._dsp_enable,
                                         inputs=l_mul >= 2)
                if l_mul >= 2:
                    vals = _stage(m, "align", vals)
            else:
                vals = dict(vals, a=ua.mag, w=uw.mag)
                if l_mul >= 2:
                    vals = _stage(m, "align", vals)
                mag = vals.pop("a") * vals.pop("w")
        else:
            ua = unpack(m, pe.a_fmt, self.a, name="ua")
            uw = unpack(m, pe.w_fmt, self.w, name="uw")
            (alo, ahi), (wlo, whi) = exp_range(pe.a_fmt), exp_range(pe.w_fmt)
            assert alo + wlo == pe.exact_lsb
            shift = Shape.cast(range(ahi + whi - alo - wlo + 1))
            special = ua.nan | ua.inf | uw.nan | uw.inf
            vals = dict(self._exact_flags(ua, uw),
                        amount=(ua.exp + uw.exp - alo - wlo).as_unsigned()[:shift.width],
                        prod=Mux(special, 0, ua.sig * uw.sig))
            if l_mul >= 2:
                vals = _stage(m, "align", vals)
            mag = vals.pop("prod") << vals.pop("amount")
            in_dsp = False
        if l_mul >= 1:
            # the product's register (the DSP block's own with ``in_dsp``: the flags' only)
            vals = _stage(m, "product", vals if in_dsp else dict(vals, mag=mag))
            mag = mag if in_dsp else vals.pop("mag")
        # The Kulisch width holds every product, so no bit is lost.
        self._fixed_out(m, signed_add(m, self.acc_in.fixed, mag, vals["sign"], pe.acc_bits,
                                      platform), vals)

    def _fixed_out(self, m, fixed, vals):
        """``acc_out`` of a fixed-point PE: the register ``fixed``, and ``acc_in``'s sticky
        flags ORed with this product's (``vals``: its ``sign``, ``nan``, ``inf``)."""
        sign = vals["sign"]
        m.d.comb += [
            self.acc_out.fixed.eq(fixed),
            self.acc_out.nan.eq(self.acc_in.nan | vals["nan"]),
            self.acc_out.pinf.eq(self.acc_in.pinf | (vals["inf"] & ~sign)),
            self.acc_out.ninf.eq(self.acc_in.ninf | (vals["inf"] & sign)),
        ]

    @staticmethod
    def _exact_flags(ua, uw):
        """Sign, NaN and infinity of one exact product (``ua``, ``uw``: raw or aligned)."""
        nan = ua.nan | uw.nan | (ua.inf & uw.zero) | (uw.inf & ua.zero)
        return {"sign": ua.sign ^ uw.sign, "nan": nan, "inf": (ua.inf | uw.inf) & ~nan}


class ReadOut(wiring.Component):
    """Running sum → result: the identity, except for exact PEs, whose Kulisch register is
    rounded once (to nearest even) into the output format by the shared
    :class:`~hwgen.units.rounder.FloatRounder`. An exactly-zero sum reads out as ``+0``; NaN
    when a product was NaN or invalid or both infinities occurred; else ±Inf if an infinite
    product occurred (as :func:`hwgen.golden.fmac.mac`).

    Parameters
    ----------
    pe : str or PESpec
    latency : int
        Exact PEs: register stages (0..3, at :func:`readout_cuts`); ``y`` follows ``acc``
        that many cycles later. Others: 0 (combinational).

    Members
    -------
    acc : In(acc_shape(pe))
    y : Out(out_shape(pe))
    """

    def __init__(self, pe: PESpec | str, *, latency: int = 0) -> None:
        self._pe = check_array_pe(pe)
        if latency:
            check_pe_latency(self._pe, "ws", 0, latency)
            if not self._pe.fixed_point:
                raise ValueError(f"Only exact and windowed PEs have a read-out pipeline, not "
                                 f"{self._pe.spec}")
        self._latency = latency
        super().__init__({"acc": In(acc_shape(self._pe)), "y": Out(out_shape(self._pe))})

    latency = property(lambda self: self._latency)

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        if not pe.fixed_point:
            m.d.comb += self.y.eq(self.acc)
            return m
        from ..units.rounder import FloatRounder
        lsb = pe.fixed_lsb
        cuts = set(readout_cuts(pe, self._latency))
        m.submodules.rnd = rnd = FloatRounder(pe.out_fmt, sig_width=pe.acc_bits,
                                              exp_range=(lsb, lsb), cuts=cuts)
        acc = self.acc
        res_nan = acc.nan | (acc.pinf & acc.ninf)
        res_inf = (acc.pinf | acc.ninf) & ~res_nan
        neg = acc.fixed < 0
        # |fixed| as 0 ± fixed: one carry chain (on an ECP5 without a LUT per bit)
        mag = signed_add(m, Const(0, 1), acc.fixed.as_unsigned(), neg, pe.acc_bits, platform)
        vals = dict(sign=Mux(res_inf, acc.ninf, neg), sig=mag, nan=res_nan, inf=res_inf)
        m.d.comb += [
            rnd.sign.eq(vals["sign"]),
            rnd.exp.eq(lsb),
            rnd.sig.eq(vals["sig"]),
            rnd.nan.eq(vals["nan"]),
            rnd.inf.eq(vals["inf"]),
            rnd.invalid.eq(0),
            self.y.eq(rnd.y),
        ]
        return m
