"""MX dot-product unit (OCP Microscaling v1.0): ``lanes`` element pairs per clock, exact block
sums, one FP32 accumulation per block.

The golden model is :func:`hwgen.golden.mx.mx_dot`; the unit matches it bit for bit, flags
included (``tests/test_mxdot_amaranth.py``).
"""


from dataclasses import dataclass
from collections.abc import Sequence

from amaranth.hdl import Const, EnableInserter, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..elaboratables import refused_quietly
from ..formats import FloatFormat, parse_format
from ..golden.mx import E8M0_BIAS, E8M0_NAN, check_mx_element, mx_block_sum_bits
from .floatraw import (RoundingMode, biased_field, check_rounding, exp_range, field_offset,
                       greater_than, range_shape, sticky_shift_right, unpack)
from ..timing import (DelayModel, Segment, check_device, check_target_mhz, delay_model,
                      plan_cuts, plan_latency, plan_pipeline)
from ..timing.fixed import StagePlan
from .ffma import aligned_add, fma_window
from .intcommon import adder_tree
from .rounder import FloatRounder, RounderGeometry

__all__ = ["MxDot", "MxPlan", "MXDOT_LANES", "MXDOT_REFERENCE_DEVICE", "mx_element",
           "mx_product", "mx_acc_geometry", "mx_align_max", "mx_accumulate", "mx_term_exp",
           "mx_term_exp_shape", "mx_acc_exp_offset"]

#: Lane counts: divisors of the 32-element block, so a block is a whole number of beats.
MXDOT_LANES = (8, 16, 32)
_BLOCK = 32
_FP32 = parse_format("fp32")

#: The delay model that places the registers of an explicit ``sum_latency``/``acc_latency``
#: (so a latency means the same netlist on every device; ``target_mhz=`` plans on its own
#: device and names a different placement with a ``_c`` mask).
MXDOT_REFERENCE_DEVICE = "ecp5-85f"


@dataclass(frozen=True)
class MxPlan(StagePlan):
    """What ``MxDot(target_mhz=F, device=D)`` chose and estimated (a
    :class:`~hwgen.timing.fixed.StagePlan`; ``latency`` is the unit's).

    Attributes
    ----------
    sum_latency : int
        Registers added to the block-sum path (element products and adder tree).
    acc_latency : int
        Clock cycles of the FP32 accumulation loop.
    block_clocks : int
        Clocks per block at full rate (``32 // lanes``, or ``acc_latency`` when that is
        longer: 32 lanes with a 2-cycle loop take one block per 2 clocks).
    """
    sum_latency: int
    acc_latency: int
    block_clocks: int

    def summary(self) -> str:
        return (f"block-sum latency {self.sum_latency}, accumulation latency "
                f"{self.acc_latency} (unit latency {self.latency}, one block per "
                f"{self.block_clocks} clock{'s' if self.block_clocks > 1 else ''}) for "
                f"{self.target_mhz:g} MHz on {self.device}; stages {self.stage_text()} ns, "
                f"estimated {self.fmax_mhz:.1f} MHz")


def _product(a, b):
    """``a * b`` of unsigned values; as shift-and-add when one side has at most 4 bits (the
    FP significands), so synthesis does not spend a DSP block on a 2x2 multiply (yosys maps
    every ``$mul`` to one on ECP5); INT8 x INT8 stays a ``*``."""
    if len(b) > len(a):
        a, b = b, a
    if len(b) > 4:
        return a * b
    return adder_tree([Mux(b[k], a << k, 0) for k in range(len(b))])


def mx_element(m, el, bits, name):
    """One element code → ``(sign, sig, shift, nan, snan, inf, zero)``: the magnitude is
    ``sig << shift`` units of ``2**el.lsb`` (``shift`` is ``None`` for int8)."""
    no = Const(0, 1)
    if el.is_int:
        sign = bits[7]
        mag = Signal(8, name=f"{name}_mag")       # |-128| = 128 fits in 8 unsigned bits
        m.d.comb += mag.eq(Mux(sign, -bits.as_signed(), bits))
        return sign, mag, None, no, no, no, mag == 0
    raw = unpack(m, el.fmt, bits, name=name)
    lo, hi = exp_range(el.fmt)
    assert lo == el.lsb
    shift = Signal(range(hi - lo + 1), name=f"{name}_sh")
    m.d.comb += shift.eq(raw.exp - lo)
    return raw.sign, raw.sig, shift, raw.nan, raw.snan, raw.inf, raw.zero


def mx_product(m, ea, eb, a, b, k):
    """The exact product of element codes ``a`` (format ``ea``) and ``b`` (``eb``), in units
    of ``2**(ea.lsb + eb.lsb)``: ``(term, nan, pos_inf, neg_inf, invalid)``, ``term`` signed.
    Signals are named for lane ``k`` (``a<k>``, ``b<k>``, ``p<k>``)."""
    top_units = ea.max_units * eb.max_units
    Wp = top_units.bit_length()
    sa, ma, sha, na, sna, ia, za = mx_element(m, ea, a, f"a{k}")
    sb, mb, shb, nb, snb, ib, zb = mx_element(m, eb, b, f"b{k}")
    # A small significand multiply, then the exponents as one left shift.
    mag = Signal(Wp, name=f"p{k}_mag")
    shifts = [sh for sh in (sha, shb) if sh is not None]
    shift = sum(shifts[1:], shifts[0]) if shifts else 0
    m.d.comb += mag.eq(_product(ma, mb) << shift)
    neg = sa ^ sb
    # A NaN/Inf element's significand is garbage, but it is never seen: its block's
    # result is NaN or Inf whatever the sum.
    term = Signal(signed(Wp + 1), name=f"p{k}")
    m.d.comb += term.eq(Mux(neg, -mag, mag))
    inf_x_zero = (ia & zb) | (ib & za)
    p_nan = na | nb | inf_x_zero
    p_inf = (ia | ib) & ~p_nan
    return term, p_nan, p_inf & ~neg, p_inf & neg, sna | snb | inf_x_zero


def mx_acc_geometry(sum_bits, lsb):
    """The FMA layout of an MX accumulation of a ``sum_bits`` block sum counting units of
    ``2**lsb`` (before scaling): ``(Pp, L, K, top, (e_lo, e_hi))``, ``top`` the rounder's
    significand width, ``(e_lo, e_hi)`` its exponent range (see :func:`mx_accumulate`).

    :func:`~hwgen.units.ffma.fma_window` with the block sum's magnitude (``sum_bits - 1``
    bits) as the product and the FP32 accumulator as the addend: the addend in the result's
    own format, so ``K = Pp + 2``."""
    plo, phi = lsb - 2 * E8M0_BIAS, lsb + 2 * 255 - 2 * E8M0_BIAS
    return fma_window(sum_bits - 1, (plo, phi), _FP32, _FP32)


def _term_const(sum_bits, lsb):
    """The constant of :func:`mx_term_exp` (what it adds to the two scale codes): the
    exponent of the block sum's LSB less the scales' biases, plus the alignment's ``K`` and
    FP32's :func:`~.floatraw.field_offset`."""
    return lsb - 2 * E8M0_BIAS + mx_acc_geometry(sum_bits, lsb)[2] + field_offset(_FP32)


def mx_term_exp(sa, sb, sum_bits, lsb):
    """A block term's exponent for :func:`mx_accumulate` from the E8M0 scale codes ``sa``
    and ``sb``: the exponent of the block sum's LSB, scales included, plus a constant
    (:func:`mx_term_exp_shape`) that makes its distance to the accumulator one subtraction
    of the accumulator's biased exponent field. The constant joins the scales' add, before
    the accumulation loop."""
    return sa + sb + _term_const(sum_bits, lsb)


def mx_term_exp_shape(sum_bits, lsb):
    """The shape of :func:`mx_term_exp`."""
    c = _term_const(sum_bits, lsb)
    return range_shape(c, c + 2 * 255)


def mx_acc_exp_offset(sum_bits, lsb):
    """The rounder's ``exp_offset`` after :func:`mx_accumulate`: it hands over the term's
    exponent (:func:`mx_term_exp`) or the accumulator's biased field as they are."""
    Pp, L, K, top, _ = mx_acc_geometry(sum_bits, lsb)
    return -(field_offset(_FP32) + L + K)


def mx_align_max(sum_bits, lsb):
    """The alignment shift's largest distance in :func:`mx_accumulate`."""
    Pp, L, K, top, _ = mx_acc_geometry(sum_bits, lsb)
    clo = exp_range(_FP32)[0]
    phi = lsb + 2 * 255 - 2 * E8M0_BIAS
    return max(min(top - 1, K - (clo - phi)), 0)


def cut_registers(m, cuts, kept, en=None):
    """``loop_cut(name, vals)`` for :func:`mx_accumulate`: at a cut point ``name`` in
    ``cuts``, each value of the dict ``vals`` (None passes through) through a register named
    ``<name>_<key>`` (reset only for the keys in ``kept``; loaded when ``en`` is high, if
    given); elsewhere ``vals`` as they are."""
    def loop_cut(name, vals):
        if name not in cuts:
            return vals
        out = {}
        for k, v in vals.items():
            if v is None:
                out[k] = v
                continue
            r_ = Signal(v.shape(), name=f"{name}_{k}", reset_less=k not in kept)
            if en is None:
                m.d.sync += r_.eq(v)
            else:
                with m.If(en):
                    m.d.sync += r_.eq(v)
            out[k] = r_
        return out
    return loop_cut


def mx_accumulate(m, sum_bits, lsb, rounding, t, acc, side, loop_cut):
    """``acc + 2**t_exp * t_sum`` exactly, for the shared rounder: what :class:`MxDot` and the
    ``mx:`` array PEs do once per block (logic in ``m.d.comb``).

    ``t``: dict of the block's ``sum`` (signed ``sum_bits``), ``exp`` (:func:`mx_term_exp`:
    of the sum's LSB, scales included, plus a constant), and its ``nan``/``pinf``/``ninf``/
    ``inv`` flags; ``acc``: the FP32
    accumulator; ``side``: values that ride along through the cuts (the caller's; ``rm``
    among them for dynamic rounding, else None); ``loop_cut(name, vals)``: registers a dict
    of values at the cut point ``name`` or returns it as is. Returns ``(raw, side)``:
    the rounder's inputs ``[sign, exp, sig, nan, inf, invalid]`` (``exp_range`` and width
    from :func:`mx_acc_geometry`, ``exp_offset`` :func:`mx_acc_exp_offset`) and the riding
    values after the cuts.

    The FMA layout of :class:`~hwgen.units.ffma.FloatFMA`: the block sum's magnitude (Pp bits)
    at a fixed place, L bits above the window's jam bit; the accumulator (24 bits) shifted
    right from K places above it, what falls off jammed into bit 0; when the accumulator lies
    more than K places above (or the block sum is zero) it stays leftmost and a nonzero block
    sum becomes the jam bit.

    The exponents are compared as the term's (:func:`mx_term_exp`, its constant added
    before the loop) less the accumulator's biased field, one subtraction; the rounder takes
    either as it is (its ``exp_offset`` folds the constants)."""
    uc = unpack(m, _FP32, acc, name="uacc")
    Pp, L, K, top, (e_lo, e_hi) = mx_acc_geometry(sum_bits, lsb)
    off = mx_acc_exp_offset(sum_bits, lsb)
    plo, phi = lsb - 2 * E8M0_BIAS, lsb + 2 * 255 - 2 * E8M0_BIAS
    clo, chi = exp_range(_FP32)
    t_sum, ek = t["sum"], t["exp"]
    sp = t_sum < 0
    pmag = Signal(Pp, name="t_mag")
    m.d.comb += pmag.eq(Mux(sp, -t_sum, t_sum))
    p_zero = t_sum == 0
    cf = Signal(8, name="acc_field")           # the biased field, 1 for a subnormal
    m.d.comb += cf.eq(biased_field(_FP32, acc))
    # dist = K - (accumulator exponent - block exponent), as in FloatFMA
    dist = Signal(range_shape(K - (chi - plo), K - (clo - phi)))
    m.d.comb += dist.eq(ek - cf)
    above = dist[-1] if dist.shape().signed else Const(0, 1)
    c_dom = Signal()
    m.d.comb += c_dom.eq(p_zero | (~uc.zero & above))
    amax = top - 1
    dist_hi = K - (clo - phi)
    amt = Signal(range(max(min(amax, max(dist_hi, 0)), 0) + 1))
    if dist_hi > 0:
        m.d.comb += amt.eq(Mux(c_dom | above, 0, Mux(greater_than(dist, amax - 1), amax,
                                                     dist[:len(amt)])))

    # What the add and the rounder need besides the aligned accumulator; it rides through
    # the loop's registers before the add ("dist", "align<k>", "aligned").
    side = dict(c_dom=c_dom, c_field=cf, t_exp=ek, p_zero=p_zero, pmag=pmag, sp=sp,
                c_sign=uc.sign, c_inf=uc.inf, c_nan=uc.nan, t_nan=t["nan"], t_pinf=t["pinf"],
                t_ninf=t["ninf"], t_inv=t["inv"], **side)

    v = loop_cut("dist", dict(side, c_sig=uc.sig, amt=amt))
    c_sig, amt = v.pop("c_sig"), v.pop("amt")
    side = v

    def between(k, cur, amount):
        v = loop_cut(f"align{k}", dict(side, cur=cur, amount=amount))
        cur, amount = v.pop("cur"), v.pop("amount")
        side.clear()
        side.update(v)
        return cur, amount
    cw = sticky_shift_right(m, c_sig << (L + K), top, amt, mx_align_max(sum_bits, lsb),
                            name="align", between=between)
    v = loop_cut("aligned", dict(side, cw=cw))
    cw = v.pop("cw")
    side = v
    c_dom, ek, p_zero, pmag, sp = (side[k] for k in ("c_dom", "t_exp", "p_zero", "pmag",
                                                     "sp"))
    t_nan, t_pinf, t_ninf, t_inv = (side[k] for k in ("t_nan", "t_pinf", "t_ninf",
                                                      "t_inv"))
    rmode = RoundingMode(rounding, side["rm"])
    e_lsb = Signal(range_shape(e_lo - off, e_hi - off))
    m.d.comb += e_lsb.eq(Mux(c_dom, side["c_field"], ek))
    pw = Mux(c_dom, ~p_zero, pmag << L)
    eff_sub = sp ^ side["c_sign"]
    # As in FloatFMA. An exact zero: zeros of one sign keep it (the zero block sum is +0);
    # else +0, -0 in rdn.
    sign, mag = aligned_add(m, cw, pw, eff_sub, top, sp, rmode.rdn)

    tn = t_nan | (t_pinf & t_ninf)
    t_inf = (t_pinf | t_ninf) & ~tn
    clash = t_inf & side["c_inf"] & (t_ninf ^ side["c_sign"])
    nan = tn | side["c_nan"] | clash
    inv = t_inv | (t_pinf & t_ninf) | clash
    inf = (t_inf | side["c_inf"]) & ~nan
    inf_sign = Mux(t_inf, t_ninf, side["c_sign"])
    return [Mux(inf, inf_sign, sign), e_lsb, mag, nan, inf, inv], side


class MxDot(wiring.Component):
    """Streaming MX dot products: ``y = sum over blocks of X_A * X_B * sum_i P_A,i * P_B,i``.

    Every block of 32 element pairs arrives as ``32 // lanes`` beats on ``i``; the element
    products are exact, an adder tree and a block register sum them exactly in fixed point
    (:func:`~hwgen.golden.mx.mx_block_sum_bits` bits), the two E8M0 scales become an exponent
    add, and the block is added to an FP32 accumulator with one rounding (the shared
    :class:`FloatRounder`, after an FMA-style alignment of the accumulator against the block
    sum). The semantics, to the bit, are those of :func:`hwgen.golden.mx.mx_dot`.

    Pipeline. The block-sum path (element products, adder tree) has no loop: ``sum_latency=N``
    puts ``N`` registers on its cut points (:attr:`sum_cut_points`: ``"products"`` after the
    element products, ``"tree<k>"`` after level ``k`` of the adder tree); a fixed-point sum, so
    results never change. The FP32 accumulation is a loop, but it is closed only once per
    block: with ``lanes`` < 32 a block takes ``32 // lanes`` clocks, so the loop may take as
    many (``acc_latency``, 1 to ``32 // lanes``; its registers on :attr:`acc_cut_points`:
    ``"raw"`` at the rounder's input, then the rounder's own) and the unit still takes one beat
    per clock. With 32 lanes ``acc_latency=2`` halves the rate instead: one block per 2 clocks
    (``i.ready`` drops for a clock after each beat). Explicit latencies place their registers
    by the delay model of :data:`MXDOT_REFERENCE_DEVICE`; ``target_mhz=F`` with ``device=D``
    plans both paths on ``D``'s model instead: the fewest registers whose every stage fits,
    preferring a full-rate loop (:attr:`plan`, an :class:`MxPlan`); an unreachable request
    raises ``ValueError`` naming it and the highest estimate. Defaults: ``sum_latency`` 0,
    ``acc_latency`` 2 for 8/16 lanes (the register at ``"raw"``) and 1 for 32.

    Parameters
    ----------
    elem : str
        Element format of ``a``: ``e4m3 e5m2 e3m2 e2m3 e2m1 int8``.
    b_elem : str or None
        Element format of ``b`` (default ``elem``).
    lanes : int
        Element pairs per beat: 8, 16 or 32 (one block every ``32 // lanes`` beats).
    rounding : str
        ``rne rtz rdn rup rna`` or ``"dynamic"`` (adds ``rm``).
    sum_latency, acc_latency : int or None
        Registers of the block-sum path; clock cycles of the accumulation loop (above).
    sum_cuts, acc_cuts : sequence of str or None
        The cut points themselves, instead of the latencies (what a plan chose; rebuilds it).
    target_mhz, device : float, str or None
        A clock request and its device (:data:`hwgen.timing.DEVICE_NAMES`).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a", "b", "a_scale", "b_scale", "last"})))
        ``a``/``b``: ``lanes`` element codes each (``ArrayLayout``, lane 0 in the low bits);
        ``a_scale``/``b_scale``: the blocks' E8M0 codes; ``last``: this block closes the dot
        product. In Verilog ``i__payload`` is ``{last, b_scale, a_scale, b, a}`` (``a`` in the
        low bits). The scales and ``last`` are sampled with each block's final beat (hold them
        for the whole block); on the other beats they are ignored. Beat ``k`` of a block
        carries elements ``k*lanes .. k*lanes + lanes - 1``.
    o : Out(stream.Signature(StructLayout({"y": 32, "flags": 4})))
        One FP32 result per dot product: ``o__payload`` is ``{flags, y}``; flags bit 0 inexact,
        1 underflow, 2 overflow, 3 invalid, ORed over the dot product's blocks.
    rm : In(3)
        Only with ``rounding="dynamic"``: RISC-V ``frm`` (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna,
        5..7 as rne), sampled with each block's final beat.

    The accumulator starts at ``+0`` after reset and returns to ``+0`` after every dot product
    (there is no other clear). Back-pressure: while a result waits on ``o`` with ``o.ready``
    low the whole unit stalls (``i.ready`` low); no beat is lost or counted twice under any
    stall or idle pattern.

    Raises
    ------
    ValueError
        Unknown element format, lane count, rounding mode, latency or cut point, an
        unreachable target; the message names the value and what is allowed.
    """

    def __init__(self, elem: str | FloatFormat = "e4m3", *,
                 b_elem: str | FloatFormat | None = None, lanes: int = 8, rounding: str = "rne",
                 sum_latency: int | None = None, acc_latency: int | None = None,
                 sum_cuts: "Sequence[str] | None" = None,
                 acc_cuts: "Sequence[str] | None" = None,
                 target_mhz: float | None = None, device: "str | None" = None) -> None:
        self._ea = check_mx_element(elem)
        self._eb = self._ea if b_elem is None else check_mx_element(b_elem, "B element format")
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes not in MXDOT_LANES:
            raise ValueError(f"Lanes must be one of {', '.join(map(str, MXDOT_LANES))} (a "
                             f"divisor of the block size {_BLOCK}), not {lanes!r}")
        self._lanes = lanes
        self._rounding = check_rounding(rounding)
        self._sum_bits, self._lsb = mx_block_sum_bits(self._ea.name, self._eb.name, _BLOCK)
        self._plan = None
        self._target_mhz = None
        self._sum_cuts, self._acc_cuts = self._choose_pipeline(
            sum_latency, acc_latency, sum_cuts, acc_cuts, target_mhz, device)
        self._in_layout = data.StructLayout({
            "a": data.ArrayLayout(unsigned(self._ea.width), lanes),
            "b": data.ArrayLayout(unsigned(self._eb.width), lanes),
            "a_scale": 8, "b_scale": 8, "last": 1,
        })
        out_layout = data.StructLayout({"y": 32, "flags": 4})
        ports = {"i": In(stream.Signature(self._in_layout)),
                 "o": Out(stream.Signature(out_layout))}
        if self._rounding == "dynamic":
            ports["rm"] = In(3)
        super().__init__(ports)

    # -- pipeline ----------------------------------------------------------------------------

    def _acc_geometry(self):
        """:func:`mx_acc_geometry` of this unit's block sum."""
        return mx_acc_geometry(self._sum_bits, self._lsb)

    def _rounder_geometry(self):
        _, _, _, top, exps = self._acc_geometry()
        return RounderGeometry(_FP32, top, exps)

    @property
    def _tree_levels(self):
        return (self._lanes - 1).bit_length()

    @property
    def sum_cut_points(self) -> tuple[str, ...]:
        """The block-sum path's candidate cut points, in datapath order."""
        return ("products",) + tuple(f"tree{k}" for k in range(1, self._tree_levels + 1))

    @property
    def acc_cut_points(self) -> tuple[str, ...]:
        """The accumulation loop's candidate cut points, in datapath order: ``"dist"`` (after
        the exponent distance), ``"align<k>"`` (after ``k`` stages of the accumulator's
        alignment shift), ``"aligned"`` (after it), ``"raw"`` (after the add: the rounder's
        input), then the rounder's (:class:`~hwgen.units.rounder.RounderGeometry`)."""
        n = self._align_max().bit_length()
        return (("dist",) + tuple(f"align{k}" for k in range(1, n)) + ("aligned", "raw")
                + self._rounder_geometry().cut_points)

    def _align_max(self):
        """The alignment shift's largest distance."""
        return mx_align_max(self._sum_bits, self._lsb)

    def sum_segments(self, model: DelayModel) -> list[Segment]:
        """The block-sum path as :class:`~hwgen.timing.Segment` objects on ``model``: decode
        and the exact element product, each adder-tree level, then the block register's add
        (with one beat per block only the scales' exponent add, beside the tree)."""
        wa, wb = self._ea.width, self._eb.width
        segs = [Segment("products", model.multiplier(wa, wb), "products")]
        for lv in range(self._tree_levels):
            segs.append(Segment(f"tree{lv + 1}", model.adder(wa + wb + lv), f"tree{lv + 1}"))
        last = model.adder(self._sum_bits) if self.beats > 1 else model.adder(10)
        segs.append(Segment("block add", last))
        return segs

    def acc_segments(self, model: DelayModel) -> list[Segment]:
        """The accumulation loop (block register and accumulator to accumulator) as
        :class:`~hwgen.timing.Segment` objects on ``model``: the alignment of the accumulator
        against the block sum and the add, then the rounder."""
        top = self._acc_geometry()[3]
        amax = self._align_max()
        n = amax.bit_length()
        per = model.shifter(top, amax) / n
        segs = [Segment("dist", model.adder(10) + model.comparator(10) + model.mux(2), "dist")]
        segs += [Segment(f"align{k}", per, f"align{k}" if k < n else "aligned")
                 for k in range(1, n + 1)]
        return (segs + [Segment("add", model.adder(top) + model.mux(2), "raw")]
                + self._rounder_geometry().segments(model))

    def _max_acc_latency(self):
        return self.beats if self.beats > 1 else 2

    def _sum_table(self, n):
        if n == 0:
            return ()
        return plan_latency(self.sum_segments(delay_model(MXDOT_REFERENCE_DEVICE)), n,
                            MXDOT_REFERENCE_DEVICE).cuts

    def _acc_table(self, n):
        if n <= 2:                  # the default loops (1 cycle; 2: the register at "raw")
            return ("raw",) * (n - 1)
        return plan_latency(self.acc_segments(delay_model(MXDOT_REFERENCE_DEVICE)), n - 1,
                            MXDOT_REFERENCE_DEVICE).cuts

    def acc_cuts_for(self, registers: int) -> tuple[str, ...]:
        """The cut points of ``registers`` registers on the accumulation path, as an explicit
        ``acc_latency = registers + 1`` places them (on the delay model of
        :data:`MXDOT_REFERENCE_DEVICE`), whatever this unit's own lanes allow."""
        return self._acc_table(registers + 1)

    def _choose_pipeline(self, sum_latency, acc_latency, sum_cuts, acc_cuts, target_mhz,
                         device):
        """``(sum cut points, accumulation cut points)`` from the latencies, the cuts or a
        plan (the checks of each)."""
        with refused_quietly(self):
            given = [n for n, v in (("sum_latency", sum_latency), ("acc_latency", acc_latency),
                                    ("sum_cuts", sum_cuts), ("acc_cuts", acc_cuts))
                     if v is not None]
            if target_mhz is not None and given:
                raise ValueError(f"Give {given[0]} or target_mhz, not both")
            lat = [g for g in given if g.endswith("latency")]
            cut = [g for g in given if g.endswith("cuts")]
            if lat and cut:
                raise ValueError(f"Give {lat[0]} or {cut[0]}, not both")
            if device is not None and target_mhz is None:
                raise ValueError(f"Device is only used with target_mhz, not alone "
                                 f"(device={device!r})")
            if target_mhz is not None:
                target_mhz = check_target_mhz(target_mhz)
                if device is None:
                    raise ValueError(f"A target of {target_mhz:g} MHz needs a device "
                                     f"(device=...)")
                self._target_mhz = target_mhz
                return self._plan_for(target_mhz, check_device(device))
            hi = self._max_acc_latency()
            if cut:
                sc = self._check_cuts(sum_cuts, self.sum_cut_points)
                ac = (self._check_cuts(acc_cuts, self.acc_cut_points) if acc_cuts is not None
                      else tuple(self._acc_table(self.default_acc_latency)))
                if len(ac) + 1 > hi:
                    raise ValueError(f"Accumulation latency with {self._lanes} lanes must be "
                                     f"an integer from 1 to {hi}, not {len(ac) + 1} (acc_cuts "
                                     f"{', '.join(ac)})")
                return sc, ac
            n_sum = len(self.sum_cut_points)
            s = 0 if sum_latency is None else sum_latency
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= n_sum:
                raise ValueError(f"Block-sum latency must be an integer from 0 to {n_sum}, "
                                 f"not {s!r}")
            a = self.default_acc_latency if acc_latency is None else acc_latency
            if isinstance(a, bool) or not isinstance(a, int) or not 1 <= a <= hi:
                raise ValueError(f"Accumulation latency with {self._lanes} lanes must be an "
                                 f"integer from 1 to {hi}, not {a!r}")
            return tuple(self._sum_table(s)), tuple(self._acc_table(a))

    @staticmethod
    def _check_cuts(cuts, points):
        if cuts is None:
            return ()
        if isinstance(cuts, str) or not hasattr(cuts, "__iter__"):
            raise TypeError(f"Cuts must be a sequence of cut point names, not {cuts!r}")
        cuts = set(cuts)
        for c in sorted(cuts):
            if c not in points:
                raise ValueError(f"Cut point must be one of {', '.join(points)}, not {c!r}")
        return tuple(c for c in points if c in cuts)

    def _plan_for(self, target, device):
        model = delay_model(device)
        sum_segs, acc_segs = self.sum_segments(model), self.acc_segments(model)
        hi = self._max_acc_latency()
        n_sum = len(self.sum_cut_points)
        best_sum = plan_latency(sum_segs, n_sum, device, model=model)
        best_acc = plan_latency(acc_segs, hi - 1, device, model=model)
        best = min(best_sum.fmax_mhz, best_acc.fmax_mhz)
        if best < target:
            raise ValueError(f"Target of {target:g} MHz is not reachable for "
                             f"{self._base_name()} on {device}: the highest estimate is "
                             f"{best:.1f} MHz (block-sum latency {n_sum}, accumulation "
                             f"latency {hi})")
        sp = plan_pipeline(sum_segs, target, device, model=model)
        ap = plan_pipeline(acc_segs, target, device, model=model)
        stages = ([(f"sum {n}", ns) for n, ns in zip(sp.stage_names, sp.stage_ns)] +
                  [(f"loop {n}", ns) for n, ns in zip(ap.stage_names, ap.stage_ns)])
        s, a = len(sp.cuts), len(ap.cuts) + 1
        self._plan = MxPlan(device, target, 2 + s + a, tuple(stages), s, a,
                            max(self.beats, a))
        return tuple(sp.cuts), tuple(ap.cuts)

    def estimate(self, device: str) -> list[tuple[str, float]]:
        """The delay model's estimate of this unit's own pipeline on ``device``:
        ``[(stage, period ns), ...]`` of the block-sum path, then of the loop."""
        model = delay_model(check_device(device))
        sp = plan_cuts(self.sum_segments(model), self._sum_cuts, device, model=model)
        ap = plan_cuts(self.acc_segments(model), self._acc_cuts, device, model=model)
        return ([(f"sum {n}", ns) for n, ns in zip(sp.stage_names, sp.stage_ns)] +
                [(f"loop {n}", ns) for n, ns in zip(ap.stage_names, ap.stage_ns)])

    elem = property(lambda self: self._ea.name)
    b_elem = property(lambda self: self._eb.name)
    lanes = property(lambda self: self._lanes)
    rounding = property(lambda self: self._rounding)
    block = _BLOCK
    input_layout = property(lambda self: self._in_layout)
    clocked = True
    sum_cuts = property(lambda self: self._sum_cuts,
                        doc="The block-sum path's cut points in use, in datapath order.")
    acc_cuts = property(lambda self: self._acc_cuts,
                        doc="The accumulation loop's cut points in use, in datapath order.")
    sum_latency = property(lambda self: len(self._sum_cuts),
                           doc="Registers on the block-sum path.")
    acc_latency = property(lambda self: len(self._acc_cuts) + 1,
                           doc="Clock cycles of the FP32 accumulation loop.")
    target_mhz = property(lambda self: self._target_mhz)

    @property
    def plan(self) -> MxPlan | None:
        """The :class:`MxPlan` of a ``target_mhz=`` request, else ``None``."""
        return self._plan

    @property
    def beats(self) -> int:
        """Beats per block, ``32 // lanes``."""
        return _BLOCK // self._lanes

    @property
    def block_clocks(self) -> int:
        """Clocks per block at full rate: :attr:`beats`, or :attr:`acc_latency` when that is
        longer (32 lanes with a 2-cycle loop)."""
        return max(self.beats, self.acc_latency)

    @property
    def sum_bits(self) -> int:
        """Width of the exact two's-complement block sum (units of ``2**sum_lsb_exp``)."""
        return self._sum_bits

    @property
    def sum_lsb_exp(self) -> int:
        return self._lsb

    @property
    def default_acc_latency(self) -> int:
        """The loop's cycles without options: 2 when blocks come at most every other cycle
        (lanes 8 or 16: a register between the alignment/add and the rounder), else 1."""
        return 2 if self.beats >= 2 else 1

    @property
    def acc_stages(self) -> int:
        """Clock cycles of the FP32 accumulation loop (:attr:`acc_latency`)."""
        return self.acc_latency

    @property
    def latency(self) -> int:
        """Clock edges from the transfer of a dot product's final beat (that edge included)
        to its result being valid on ``o``, without stalls: input register,
        :attr:`sum_latency` block-sum registers, block register, :attr:`acc_latency`
        accumulator stages (the last one the accumulator/output register)."""
        return 2 + self.sum_latency + self.acc_latency

    @property
    def module_name(self) -> str:
        """``mxdot_<elem>[_<b_elem>]_l<lanes>_<rounding>`` (``dyn`` for dynamic), e.g.
        ``mxdot_e4m3_e2m1_l8_rne``; ``b_elem`` is left out when it equals ``elem``. A pipeline
        other than the default adds ``_s<sum latency>_a<acc latency>``, and ``_c<sum
        mask>_<acc mask>`` (bit ``k``: the ``k``-th of :attr:`sum_cut_points` /
        :attr:`acc_cut_points`) when the cuts are not those the latencies place."""
        name = self._base_name()
        s, a = self.sum_latency, self.acc_latency
        if s == 0 and self._acc_cuts == self._acc_table(self.default_acc_latency):
            return name
        name += f"_s{s}_a{a}"
        if self._sum_cuts != tuple(self._sum_table(s)) or \
                self._acc_cuts != tuple(self._acc_table(a)):
            sp, ap = self.sum_cut_points, self.acc_cut_points
            sm = sum(1 << sp.index(c) for c in self._sum_cuts)
            am = sum(1 << ap.index(c) for c in self._acc_cuts)
            name += f"_c{sm:x}_{am:x}"
        return name

    def _base_name(self):
        parts = ["mxdot", self._ea.name]
        if self._eb.name != self._ea.name:
            parts.append(self._eb.name)
        parts.append(f"l{self._lanes}")
        parts.append("dyn" if self._rounding == "dynamic" else self._rounding)
        return "_".join(parts)

    def __repr__(self) -> str:
        if not hasattr(self, "_acc_cuts"):  # __init__ raised
            return "MxDot(...)"
        pipe = ""
        if self.module_name != self._base_name():
            pipe = f", sum_cuts={self._sum_cuts!r}, acc_cuts={self._acc_cuts!r}"
        return (f"MxDot({self._ea.name!r}, b_elem={self._eb.name!r}, lanes={self._lanes}, "
                f"rounding={self._rounding!r}{pipe})")

    # -- datapath pieces ---------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        ea, eb = self._ea, self._eb
        lanes, beats = self._lanes, self.beats
        W, lsb = self._sum_bits, self._lsb
        dynamic = self._rounding == "dynamic"

        en = Signal()            # the whole pipeline advances together
        # With a loop longer than a block's beats (32 lanes, acc_latency 2) the input rests
        # for a clock after each block, so blocks reach the loop acc_latency clocks apart.
        rest = self.acc_latency - beats
        assert rest <= 1
        if rest > 0:
            cool = Signal()
            take = Signal()
            m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en & ~cool),
                         take.eq(self.i.valid & ~cool)]
            with m.If(en):
                m.d.sync += cool.eq(take)
        else:
            m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
            take = self.i.valid

        # -- stage 1: input register --------------------------------------------------------
        s1 = Signal(self._in_layout, name="s1")
        s1_valid = Signal()
        s1_rm = Signal(3) if dynamic else None
        with m.If(en):
            m.d.sync += [s1.eq(self.i.payload), s1_valid.eq(take)]
            if dynamic:
                m.d.sync += s1_rm.eq(self.rm)

        # Exact products of the beat's lanes, in units of 2**lsb, and their special classes.
        terms = []
        any_nan, pos_inf, neg_inf, invalid = [], [], [], []
        for k in range(lanes):
            term, p_nan, p_pinf, p_ninf, p_inv = mx_product(m, ea, eb, s1.a[k], s1.b[k], k)
            terms.append(term)
            any_nan.append(p_nan)
            pos_inf.append(p_pinf)
            neg_inf.append(p_ninf)
            invalid.append(p_inv)
        def any_of(bits):
            out = Signal()
            v = Const(0, 1)
            for b in bits:
                v = v | b
            m.d.comb += out.eq(v)
            return out
        # What the block register needs of a beat besides its sum (delayed with it).
        p_valid, p_a_scale, p_b_scale, p_last, p_rm = (s1_valid, s1.a_scale, s1.b_scale,
                                                       s1.last, s1_rm)
        if not self._sum_cuts:
            beat_sum = Signal(signed(W), name="beat_sum")
            m.d.comb += beat_sum.eq(adder_tree(terms))
            b_nan, b_pinf, b_ninf, b_inv = (any_of(x) for x in (any_nan, pos_inf, neg_inf,
                                                                invalid))
        else:
            # The block-sum path's registers: a fixed-point sum, so they change no result.
            b_nan, b_pinf, b_ninf, b_inv = (any_of(x) for x in (any_nan, pos_inf, neg_inf,
                                                                invalid))
            rest_vals = [b_nan, b_pinf, b_ninf, b_inv, p_valid, p_a_scale, p_b_scale, p_last]
            if dynamic:
                rest_vals.append(p_rm)

            def cut(name, level, rest_vals):
                if name not in self._sum_cuts:
                    return level, rest_vals
                regs = []
                for k, v in enumerate(level + rest_vals):
                    is_valid = k == len(level) + 4
                    r_ = Signal(v.shape(), name=f"{name}_q{k}", reset_less=not is_valid)
                    with m.If(en):
                        m.d.sync += r_.eq(v)
                    regs.append(r_)
                return regs[:len(level)], regs[len(level):]
            level = list(terms)
            level, rest_vals = cut("products", level, rest_vals)
            for lv in range(self._tree_levels):
                nxt = [level[j] + level[j + 1] for j in range(0, len(level) - 1, 2)]
                if len(level) % 2:
                    nxt.append(level[-1])
                level = []
                for j, v in enumerate(nxt):
                    t_ = Signal(v.shape(), name=f"tree{lv + 1}_{j}")
                    m.d.comb += t_.eq(v)
                    level.append(t_)
                level, rest_vals = cut(f"tree{lv + 1}", level, rest_vals)
            beat_sum = Signal(signed(W), name="beat_sum")
            m.d.comb += beat_sum.eq(level[0])
            b_nan, b_pinf, b_ninf, b_inv, p_valid, p_a_scale, p_b_scale, p_last = rest_vals[:8]
            if dynamic:
                p_rm = rest_vals[8]

        # -- stage 2: the block's exact sum, completed on its final beat --------------------
        t_sum = Signal(signed(W), name="t_sum")
        t_nan, t_pinf, t_ninf, t_inv = Signal(), Signal(), Signal(), Signal()
        t_exp = Signal(mx_term_exp_shape(W, lsb), name="t_exp")
        t_last = Signal()
        t_valid = Signal()
        t_rm = Signal(3) if dynamic else None
        if beats == 1:
            total, c_nan, c_pinf, c_ninf, c_inv = beat_sum, b_nan, b_pinf, b_ninf, b_inv
            final = Const(1, 1)
        else:
            beat = Signal(range(beats))
            blk = Signal(signed(W), name="blk")
            k_nan, k_pinf, k_ninf, k_inv = Signal(), Signal(), Signal(), Signal()
            first = beat == 0
            total = Signal(signed(W), name="blk_total")
            m.d.comb += total.eq(Mux(first, 0, blk) + beat_sum)
            c_nan = b_nan | (~first & k_nan)
            c_pinf = b_pinf | (~first & k_pinf)
            c_ninf = b_ninf | (~first & k_ninf)
            c_inv = b_inv | (~first & k_inv)
            final = beat == beats - 1
            with m.If(en & p_valid):
                m.d.sync += [blk.eq(total), k_nan.eq(c_nan), k_pinf.eq(c_pinf),
                             k_ninf.eq(c_ninf), k_inv.eq(c_inv),
                             beat.eq(Mux(final, 0, beat + 1))]
        scale_nan = (p_a_scale == E8M0_NAN) | (p_b_scale == E8M0_NAN)
        with m.If(en):
            m.d.sync += t_valid.eq(p_valid & final)
            with m.If(p_valid & final):
                m.d.sync += [
                    t_sum.eq(total), t_nan.eq(c_nan | scale_nan), t_pinf.eq(c_pinf),
                    t_ninf.eq(c_ninf), t_inv.eq(c_inv), t_last.eq(p_last),
                    # The scales are an exponent add onto the sum's LSB exponent.
                    t_exp.eq(mx_term_exp(p_a_scale, p_b_scale, W, lsb)),
                ]
                if dynamic:
                    m.d.sync += t_rm.eq(p_rm)

        # -- stage 3: acc + X_A X_B S, exactly, rounded once into FP32 -----------------------
        acc = Signal(32, name="acc")             # +0 after reset
        acc_flags = Signal(4)

        loop_cut = cut_registers(m, self._acc_cuts, ("valid",), en)

        raw, side = mx_accumulate(
            m, W, lsb, self._rounding,
            dict(sum=t_sum, exp=t_exp, nan=t_nan, pinf=t_pinf, ninf=t_ninf, inv=t_inv), acc,
            dict(valid=t_valid, last=t_last, rm=t_rm), loop_cut)
        e_lo, e_hi = self._acc_geometry()[4]
        top = self._acc_geometry()[3]
        v_valid, v_last, v_rm = side["valid"], side["last"], side["rm"]

        # The loop's registers: those above, the rounder's input ("raw") and the rounder's own
        # cuts (under `en`, like the rest of the unit). This is safe because the next block's
        # term reaches the alignment at least max(beats, acc_latency) enabled cycles later,
        # after this block has updated the accumulator.
        raw = raw + [v_valid, v_last]
        if dynamic:
            raw.append(v_rm)
        if "raw" in self._acc_cuts:
            regs = [Signal.like(v, name=f"raw_{i}") if isinstance(v, Signal) else
                    Signal(v.shape(), name=f"raw_{i}") for i, v in enumerate(raw)]
            with m.If(en):
                m.d.sync += [r_.eq(v) for r_, v in zip(regs, raw)]
            raw = regs
        r_sign, r_exp, r_sig, r_nan, r_inf, r_inv, r_valid, r_last = raw[:8]

        rcuts = [c for c in self._acc_cuts if c in self._rounder_geometry().cut_points]
        r = FloatRounder(_FP32, sig_width=top, exp_range=(e_lo, e_hi), rounding=self._rounding,
                         cuts=rcuts, exp_offset=mx_acc_exp_offset(W, lsb))
        if rcuts:
            m.submodules.rounder = EnableInserter(en)(r)
            for k in range(len(rcuts)):       # valid and last ride beside the rounder's cuts
                v_q, l_q = Signal(name=f"rnd_valid_q{k}"), Signal(name=f"rnd_last_q{k}")
                with m.If(en):
                    m.d.sync += [v_q.eq(r_valid), l_q.eq(r_last)]
                r_valid, r_last = v_q, l_q
        else:
            m.submodules.rounder = r
        m.d.comb += [r.sign.eq(r_sign), r.exp.eq(r_exp), r.sig.eq(r_sig),
                     r.nan.eq(r_nan), r.inf.eq(r_inf), r.invalid.eq(r_inv)]
        if dynamic:
            m.d.comb += r.rm.eq(raw[8])

        flags_now = acc_flags | r.flags
        emit = r_valid & r_last
        with m.If(en & r_valid):
            m.d.sync += [acc.eq(Mux(r_last, 0, r.y)), acc_flags.eq(Mux(r_last, 0, flags_now))]
        with m.If(en):
            m.d.sync += self.o.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [self.o.payload.y.eq(r.y), self.o.payload.flags.eq(flags_now)]
        return m
